"""Start a fresh, lean python process running one of pypod's modules.

`python -I -S`: no site (no .pth files, no sitecustomize), no PYTHON* variables; pypod's own
parent directory is put on sys.path explicitly, so this works for a source checkout (PYTHONPATH)
and for a non-editable install alike. Such a process imports the standard library and pypod
modules only — that is what keeps the supervisor small and quick to start.
reset_signals() is what every forked child does before it execs (runtime/ and network/ alike).
"""

from __future__ import annotations

import _signal
import os
import sys


def pypod_parent() -> str:
    # this file is PARENT/pypod/linux/spawn.py (found without importing pypod: linux/ imports
    # nothing of pypod above it)
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def lean_python_argv(module: str, args: list[str], *, site: bool = False) -> list[str]:
    """argv for `main(argv)` of `module` in a fresh interpreter; site=True keeps site-packages
    (for a module that needs pypod's dependencies, e.g. pyroute2)."""
    boot = (f"import sys;sys.path.insert(0,{pypod_parent()!r});"
            f"from {module} import main;main(sys.argv[1:])")
    return [sys.executable, *(() if site else ("-I", "-S")), "-c", boot, *args]


_RESET_SIGNALS = ("SIGPIPE", "SIGXFSZ", "SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGCHLD",
                  "SIGUSR1", "SIGUSR2", "SIGWINCH", "SIGTTOU", "SIGTTIN", "SIGTSTP")


def reset_signals() -> None:
    """Python ignores SIGPIPE/SIGXFSZ and the supervisor handles others; an ignored signal
    stays ignored across execve, so restore the defaults in every child before it execs."""
    try:
        _signal.set_wakeup_fd(-1)
    except ValueError:
        pass
    for name in _RESET_SIGNALS:
        n = getattr(_signal, name, None)
        if n is not None:
            try:
                _signal.signal(n, _signal.SIG_DFL)
            except (OSError, ValueError):
                pass
    try:
        _signal.pthread_sigmask(_signal.SIG_SETMASK, [])
    except (OSError, ValueError):
        pass
