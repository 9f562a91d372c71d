"""Start a fresh, lean python process running one of pypod's modules.

`python -I -S`: no site (no .pth files, no sitecustomize), no PYTHON* variables; pypod's own
parent directory is put on sys.path explicitly, so this works for a source checkout (PYTHONPATH)
and for a non-editable install alike. Such a process imports the standard library and pypod
modules only — that is what keeps the supervisor small and quick to start.
"""

from __future__ import annotations

import os
import sys


def pypod_parent() -> str:
    import pypod

    return os.path.dirname(os.path.dirname(os.path.abspath(pypod.__file__)))


def lean_python_argv(module: str, args: list[str], *, site: bool = False) -> list[str]:
    """argv for `main(argv)` of `module` in a fresh interpreter; site=True keeps site-packages
    (for a module that needs pypod's dependencies, e.g. pyroute2)."""
    boot = (f"import sys;sys.path.insert(0,{pypod_parent()!r});"
            f"from {module} import main;main(sys.argv[1:])")
    return [sys.executable, *(() if site else ("-I", "-S")), "-c", boot, *args]
