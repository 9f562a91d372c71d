"""A tiny driver for the runtime integration tests: one JSON request in argv[1], one JSON result
on stderr as the last line, prefixed with "@@RESULT ". Run it as any user:

    python runtime_driver.py '{"op": "run", "cdir": "...", "spec": {...}}'

ops: run (foreground start + wait; the container's stdio is the driver's), start (detached),
stop, kill, wait, state, exec. Needs pypod importable (PYTHONPATH or an installed pypod).
"""

from __future__ import annotations

import json
import os
import sys
import time


def result(obj: dict, code: int = 0) -> None:
    sys.stdout.flush()
    sys.stderr.write("@@RESULT " + json.dumps(obj) + "\n")
    sys.stderr.flush()
    sys.exit(code)


def main() -> None:
    req = json.loads(sys.argv[1])
    from pypod.runtime import launch, spec as specmod
    from pypod.runtime import state as statemod
    from pypod.runtime.exec import exec_in

    op = req["op"]
    cdir = req.get("cdir", "")
    try:
        if op in ("run", "start"):
            spec = specmod.ContainerSpec.from_dict(req["spec"])
            # (the engine writes spec.json where it derives a spec; launch.start only reads it)
            os.makedirs(cdir, exist_ok=True)
            with open(os.path.join(cdir, "spec.json"), "w") as f:
                json.dump(spec.to_dict(), f)
            t0 = time.monotonic()
            started = launch.start(spec, cdir, foreground=(op == "run"))
            t1 = time.monotonic()
            out = {"pid": started.pid, "supervisor_pid": started.supervisor_pid,
                   "start_ms": (t1 - t0) * 1000, "warnings": started.warnings}
            if op == "run":
                code = started.wait()
                out.update(exit=code, total_ms=(time.monotonic() - t0) * 1000)
                result(out, code)
            result(out)
        elif op == "stop":
            killed = launch.stop(cdir, req.get("timeout", 10), req.get("signal", 15))
            result({"killed": killed})
        elif op == "kill":
            launch.kill(cdir, req.get("signal", 15))
            result({})
        elif op == "wait":
            code = launch.wait(cdir, tuple(req.get("conditions", ("stopped", "exited"))),
                               timeout=req.get("timeout"))
            result({"exit": code})
        elif op == "state":
            result(statemod.read_state(cdir))
        elif op == "exec":
            proc = specmod.ProcessSpec(**req["process"])
            code = exec_in(cdir, proc, detach=req.get("detach", False))
            result({"exit": code}, code)
        else:
            result({"error": f"unknown op {op}", "code": 2}, 2)
    except launch.LaunchError as e:
        print(f"Error: {e.message}", file=sys.stderr)
        result({"error": e.message, "code": e.exit_code}, e.exit_code)


if __name__ == "__main__":
    main()
