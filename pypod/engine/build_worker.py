"""Builds for the API, each in a worker process of its own: `pypod.engine.build_worker JSON` with
the context tar on stdin (spawn() starts one). It calls the same engine function as `pypod build`; running it
apart gives the build's output (its steps and RUN's processes) a pipe of its own, which the
service turns into Docker's JSON stream, and keeps the threaded service out of the build's forks.
The image id is the last line, after a marker.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile

MARK = "\x00pypod-image-id "


def spawn(ctx, options: dict):
    """A worker building with `options` (BuildOptions' fields): write the context tar to its
    stdin; its stdout carries the build's output, then MARK and the image id; stderr the error."""
    import subprocess

    from pypod.linux.spawn import lean_python_argv

    argv = lean_python_argv("pypod.engine.build_worker", [json.dumps(
        {"graph": ctx.graph_dir, "run": ctx.run_dir, "driver": ctx.driver, "options": options})],
        site=True)  # a FROM may pull: the registry client needs requests
    return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def main(argv: list[str]) -> None:
    raise SystemExit(_build(argv))


def _build(argv: list[str]) -> int:
    from pypod.engine.build import BuildOptions, _extract_context_tar, build
    from pypod.engine.context import Context
    from pypod.errors import PypodError

    req = json.loads(argv[0])
    ctx = Context(req["graph"], req["run"], req.get("driver") or "overlay")
    tmp = tempfile.mkdtemp(prefix="pypod-apibuild-")
    try:
        _extract_context_tar(sys.stdin.buffer, tmp)  # streamed: the context never sits in memory
        opts = BuildOptions(context=tmp, **req["options"])
        iid = build(ctx, opts, out=sys.stdout)
    except PypodError as e:
        sys.stdout.flush()
        sys.stderr.write(f"{e.message}\n")
        return e.exit_code or 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    sys.stdout.write(f"{MARK}{iid}\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    main(sys.argv[1:])
