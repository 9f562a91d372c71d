"""The PypodError family: each error knows its exit code (podman's) and HTTP status (for the API)."""

from __future__ import annotations


class PypodError(Exception):
    """An error pypod reports as one line: `Error: <message>`."""

    exit_code = 125
    http_status = 500

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        # An optional second line with the command that fixes it.
        self.hint = hint


class InvalidArgument(PypodError):
    http_status = 400


class NotFound(PypodError):
    """A named object does not exist (images: `X: image not known`)."""

    http_status = 404


class ImageNotFound(NotFound):
    pass


class ContainerNotFound(NotFound):
    pass


class RemoveMissing(NotFound):
    """`rm`/`rmi`/`volume rm` of a missing name: podman exits 1."""

    exit_code = 1


class Conflict(PypodError):
    http_status = 409


class ContainerStateImproper(Conflict):
    """E.g. `rm` of a running container without -f: podman exits 2."""

    exit_code = 2


class ImageInUse(Conflict):
    """`rmi` of an image that a container uses: podman exits 2."""

    exit_code = 2


class RegistryError(PypodError):
    http_status = 500


class AuthError(RegistryError):
    http_status = 401


class DigestMismatch(RegistryError):
    pass


class CommandNotFound(PypodError):
    """The container command does not exist."""

    exit_code = 127


class CommandCannotInvoke(PypodError):
    """The container command exists but cannot be run."""

    exit_code = 126


def describe(exc: BaseException) -> str:
    """One line in pypod's words for any exception — never a Python class name (what the error
    boundary and the helper processes print)."""
    if isinstance(exc, PypodError):
        return " ".join(exc.message.split("\n"))
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror + (f": {exc.filename}" if exc.filename else "")
    if isinstance(exc, OverflowError):  # e.g. a uid or limit no system call takes
        return f"a number is out of range ({exc})"
    if isinstance(exc, MemoryError):
        return "out of memory"
    return " ".join(str(exc).split()) or "unexpected failure"


class ExitCode(Exception):
    """Not an error: end the command with this exit code and no message (e.g. `exists`)."""

    def __init__(self, code: int):
        super().__init__(code)
        self.code = code
