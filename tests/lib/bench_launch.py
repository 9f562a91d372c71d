"""How to start the supervisor (the DESIGN note in pypod/runtime/launch.py): the critical path
from "the CLI is ready to launch" to "the supervisor's code is loaded", three ways, medians. Run as
the test user by `scripts/bench launch` (bench.py passes this source to the venv's python)."""

import os
import statistics
import sys
import time

from pypod.linux.spawn import lean_python_argv

READY = "import pypod.runtime.supervisor, os; os.write(3, b'r')"


def spawn() -> float:
    """posix_spawn a fresh lean python that imports the supervisor."""
    r, w = os.pipe()
    argv = lean_python_argv("pypod.runtime.supervisor", [])
    i = argv.index("-c")
    argv[i + 1] = argv[i + 1].split("from pypod")[0] + READY
    t = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, dict(os.environ), file_actions=[(os.POSIX_SPAWN_DUP2, w, 3)])
    return _ready(t, pid, r, w)


def _ready(t: float, pid: int, r: int, w: int) -> float:
    """Seconds from t until the child wrote to r; the child reaped."""
    os.close(w)
    os.read(r, 1)
    dt = time.perf_counter() - t
    os.close(r)
    os.waitpid(pid, 0)
    return dt


def late_fork() -> float:
    """fork the CLI as it is at launch time; the child imports the supervisor."""
    r, w = os.pipe()
    t = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        import pypod.runtime.supervisor  # noqa: F401

        os.write(w, b"r")
        os._exit(0)
    return _ready(t, pid, r, w)


def zygote() -> float:
    """launch.prefork(): forked first, importing while the parent does the CLI's create work
    (here 60 ms of CPU), then told to go."""
    r, w = os.pipe()
    cr, cw = os.pipe()
    pid = os.fork()
    if pid == 0:
        import pypod.runtime.supervisor  # noqa: F401

        os.read(cr, 1)
        os.write(w, b"r")
        os._exit(0)
    os.close(w)
    os.close(cr)
    end = time.process_time() + 0.06
    while time.process_time() < end:
        pass
    t = time.perf_counter()
    os.write(cw, b"g")
    os.read(r, 1)
    dt = time.perf_counter() - t
    os.close(r)
    os.close(cw)
    os.waitpid(pid, 0)
    return dt


def main(n: int) -> None:
    # the modules the CLI holds when `run -d` launches
    import pypod.cli.container  # noqa: F401
    import pypod.engine.containers  # noqa: F401
    import pypod.engine.images  # noqa: F401
    import pypod.runtime.launch  # noqa: F401
    import pypod.runtime.spec  # noqa: F401

    res: dict = {f.__name__: [] for f in (spawn, late_fork, zygote)}
    for _ in range(n):
        for f in (spawn, late_fork, zygote):
            res[f.__name__].append(f())
    for name, v in res.items():
        print(f"{'launch: ' + name:<44} {statistics.median(v) * 1000:9.1f} ms   (min {min(v) * 1000:.1f})",
              flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 25)
