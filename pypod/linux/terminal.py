"""Pseudo-terminals for `-t`: allocated on the container's own devpts instance, so that inside
the container `tty` names a /dev/pts/N that exists there (what runc/crun do)."""

from __future__ import annotations

import _struct
import fcntl
import os

TIOCSCTTY = 0x540E
TIOCGWINSZ = 0x5413
TIOCSWINSZ = 0x5414
TIOCGPTN = 0x80045430
TIOCSPTLCK = 0x40045431


def open_master(ptmx_path: str) -> tuple[int, int]:
    """Open a new pty master through `ptmx_path` (e.g. /proc/PID/root/dev/pts/ptmx); returns
    (master fd, slave number), the slave unlocked."""
    master = os.open(ptmx_path, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        fcntl.ioctl(master, TIOCSPTLCK, _struct.pack("i", 0))
        n = _struct.unpack("I", fcntl.ioctl(master, TIOCGPTN, b"\0\0\0\0"))[0]
    except OSError:
        os.close(master)
        raise
    return master, n


def get_winsize(fd: int) -> tuple[int, int] | None:
    try:
        rows, cols = _struct.unpack("HHHH", fcntl.ioctl(fd, TIOCGWINSZ, b"\0" * 8))[:2]
    except OSError:
        return None
    return rows, cols


def set_winsize(fd: int, rows: int, cols: int) -> None:
    try:
        fcntl.ioctl(fd, TIOCSWINSZ, _struct.pack("HHHH", rows, cols, 0, 0))
    except OSError:
        pass


def copy_winsize(src_fds: tuple[int, ...], dst: int) -> None:
    """Give the pty `dst` the size of the first terminal among src_fds."""
    for fd in src_fds:
        if os.isatty(fd):
            ws = get_winsize(fd)
            if ws and ws[0] and ws[1]:
                set_winsize(dst, *ws)
                return


def make_controlling(slave_path: str) -> int:
    """In a session leader: open the slave, make it the controlling terminal and stdio."""
    return make_controlling_fd(os.open(slave_path, os.O_RDWR))


def make_controlling_fd(fd: int) -> int:
    fcntl.ioctl(fd, TIOCSCTTY, 0)
    for i in (0, 1, 2):
        os.dup2(fd, i)
    if fd > 2:
        os.close(fd)
    return 0
