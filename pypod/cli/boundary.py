"""The one error boundary: PypodError → `Error: <message>` on stderr and podman's exit code."""

from __future__ import annotations

import sys


def report(exc: BaseException, debug: bool) -> int:
    import traceback

    from pypod.errors import ExitCode, PypodError

    if isinstance(exc, ExitCode):
        return exc.code
    if isinstance(exc, PypodError):
        if debug:
            traceback.print_exc()
        msg = " ".join(str(exc.message).split("\n")) if "\n" in exc.message else exc.message
        sys.stderr.write(f"Error: {msg}\n")
        if exc.hint:
            sys.stderr.write(f"{exc.hint}\n")
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        return 130
    if isinstance(exc, BrokenPipeError):
        return 0
    if isinstance(exc, OSError):
        if debug:
            traceback.print_exc()
        where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
        sys.stderr.write(f"Error: {exc.strerror or exc}{where}\n")
        return 125
    if debug:
        traceback.print_exc()
    sys.stderr.write(f"Error: internal error: {type(exc).__name__}: {exc} (run with --log-level=debug for details)\n")
    return 125
