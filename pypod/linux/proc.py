"""Reading /proc: process identity (pid + start time), boot id, namespace ids. No ctypes."""

from __future__ import annotations

import os


def starttime(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat (clock ticks after boot): tells a pid from its reuse."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    try:
        return int(data[data.rindex(b")") + 2:].split()[19])
    except (ValueError, IndexError):
        return None


def alive(pid: int | None, start: int | None = None) -> bool:
    """Is `pid` a live process (and the same one, when its start time is given)?
    A zombie counts as dead."""
    if not pid or pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return False
    try:
        rest = data[data.rindex(b")") + 2:].split()
        if rest[0] in (b"Z", b"X"):
            return False
        return start is None or int(rest[19]) == start
    except (ValueError, IndexError):
        return False


_boot_id: str | None = None


def boot_id() -> str:
    global _boot_id
    if _boot_id is None:
        try:
            with open("/proc/sys/kernel/random/boot_id") as f:
                _boot_id = f.read().strip()
        except OSError:
            _boot_id = ""
    return _boot_id


def ns_id(pid: int | str, ns: str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/{ns}")
    except OSError:
        return None
