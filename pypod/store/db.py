"""Atomic JSON records and fcntl locks: a crash at any point leaves the old or the new record."""

from __future__ import annotations

import fcntl
import os

from pypod import faults, jsonlite

TYPE_CHECKING = False  # typing costs start-up time; the names below are for annotations only
if TYPE_CHECKING:
    from typing import Any


def write_atomic(path: str | os.PathLike, data: bytes, mode: int = 0o644,
                 sync_dir: bool = False, fsync: bool = True) -> None:
    """Write to a temp file beside `path` (exactly `mode`, whatever the umask), fsync, rename over
    it; the temp file never outlives a failure. sync_dir: fsync the directory too (the rename
    itself survives a crash). fsync=False: runtime state a reboot makes stale anyway (still
    atomic: readers see the old or the new file)."""
    path = os.fspath(path)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW, mode)
        try:
            os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            faults.point("db.write")
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if sync_dir:
        fsync_dir(os.path.dirname(path) or ".")


def write_json(path: str | os.PathLike, obj: Any, mode: int = 0o644, fsync: bool = True) -> None:
    import json

    write_atomic(path, json.dumps(obj, indent=1, sort_keys=False).encode(), mode, fsync=fsync)


def read_json(path: str | os.PathLike, default: Any = None) -> Any:
    try:
        with open(path, "rb") as f:
            return jsonlite.loads(f.read())
    except FileNotFoundError:
        return default
    except ValueError:
        # A record we did not write completely cannot exist (atomic rename); a corrupt one is
        # treated as missing rather than crashing every command.
        return default


class Damaged(ValueError):
    """A record that exists but cannot be read (truncated, not JSON, not a JSON object)."""

    def __init__(self, path: str | os.PathLike):
        super().__init__(f"{os.fspath(path)}: unreadable record")
        self.path = os.fspath(path)


# Damaged records this process came across: (kind, id, name or "", path) → said once each by the
# CLI (cli/app.py), so a broken record is always named, never silently skipped.
damaged: dict[tuple, None] = {}


def note_damaged(kind: str, ident: str, name: str, path: str | os.PathLike) -> None:
    damaged[(kind, ident, name or "", os.fspath(path))] = None


def forget_damaged(kind: str, ident: str) -> None:
    """The record is removed now: nothing to warn about."""
    for key in [k for k in damaged if k[0] == kind and k[1] == ident]:
        del damaged[key]


def read_record(path: str | os.PathLike) -> dict | None:
    """A JSON object record: None if there is none, Damaged if it is there but unreadable."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return None
    try:
        d = jsonlite.loads(raw)
    except ValueError:
        raise Damaged(path) from None
    if not isinstance(d, dict):
        raise Damaged(path)
    return d


def fsync_dir(path: str | os.PathLike) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class locked:
    """`with locked(path):` holds an fcntl lock on `path` (created if missing) for the block.
    (A class, not contextlib.contextmanager: contextlib costs the read-only commands start-up.)"""

    def __init__(self, path: str | os.PathLike, shared: bool = False):
        self.path, self.shared, self.fd = path, shared, -1

    def __enter__(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd

    def __exit__(self, *exc) -> None:
        os.close(self.fd)
        self.fd = -1


def ensure_dir(path: str | os.PathLike, mode: int = 0o700) -> None:
    os.makedirs(path, mode=mode, exist_ok=True)


def dead_temps(directory: str | os.PathLike) -> list[str]:
    """write_atomic's temp files (NAME.tmp-PID) in `directory` whose writer is gone (killed
    between write and rename): what prune may delete."""
    out = []
    try:
        names = os.listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return out
    for n in names:
        _, sep, pid = n.rpartition(".tmp-")
        if not sep or not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            out.append(os.path.join(directory, n))
        except (PermissionError, OverflowError):
            pass  # alive (someone else's) or not a pid at all
    return out
