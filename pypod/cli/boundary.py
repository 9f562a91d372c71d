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
    from pypod.errors import describe
    from pypod.template import TemplateError  # (a --format parsed outside the command's try)

    if debug:
        traceback.print_exc()
    if isinstance(exc, (OSError, OverflowError, MemoryError, TemplateError)):
        sys.stderr.write(f"Error: {describe(exc)}\n")
        return 125
    sys.stderr.write(f"Error: internal error: {describe(exc)} (run with --log-level=debug for details)\n")
    return 125
