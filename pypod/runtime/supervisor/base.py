"""What the supervisor's parts share: the start failure, signals it forwards, small helpers."""

from __future__ import annotations

import os

FORWARDED = ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH")


class StartFailed(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def devnull() -> int:
    return os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)


def wait_code(status: int) -> int:
    """A wait status as the container's exit code (a signal N: 128+N)."""
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code
