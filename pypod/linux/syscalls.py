"""The seam between the container set-up sequence and the kernel.

`Syscalls` performs the privileged calls for real; `RecordingSyscalls` records them (and still
does the harmless file-system preparation — mkdir, symlink, creating mount-point files — for real,
under a temporary directory), so a unit test can check the exact mount sequence without
privileges.
"""

from __future__ import annotations

import os

from pypod.linux import libc


class Syscalls:
    recording = False

    # --- privileged ---
    def mount(self, source: str | None, target: str, fstype: str | None = None, flags: int = 0,
              data: str | None = None) -> None:
        libc.mount(source, target, fstype, flags, data)

    def umount2(self, target: str, flags: int = 0) -> None:
        libc.umount2(target, flags)

    def pivot_root(self, new_root: str, put_old: str) -> None:
        libc.pivot_root(new_root, put_old)

    def chroot(self, path: str) -> None:
        libc.chroot(path)

    def chdir(self, path: str) -> None:
        os.chdir(path)

    def sethostname(self, name: str) -> None:
        libc.sethostname(name)

    def unshare(self, flags: int) -> None:
        libc.unshare(flags)

    def setns(self, fd: int, nstype: int) -> None:
        libc.setns(fd, nstype)

    def loopback_up(self) -> None:
        """Bring `lo` up in the current network namespace (ioctl SIOCSIFFLAGS)."""
        import _socket
        import fcntl
        import struct

        s = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM, 0)
        try:
            ifr = struct.pack("16sH14x", b"lo", 0)
            flags = struct.unpack("16sH14x", fcntl.ioctl(s.fileno(), 0x8913, ifr))[1]
            fcntl.ioctl(s.fileno(), 0x8914, struct.pack("16sH14x", b"lo", flags | 0x1 | 0x40))
        finally:
            s.close()

    def mount_flags(self, path: str) -> int:
        """Flags of the mount at path that a bind remount must keep."""
        return libc.statvfs_mount_flags(path)

    # --- file system preparation (real in both) ---
    def makedirs(self, path: str, mode: int = 0o755) -> None:
        os.makedirs(path, mode, exist_ok=True)

    def mkdir(self, path: str, mode: int = 0o755) -> None:
        os.mkdir(path, mode)

    def symlink(self, target: str, path: str) -> None:
        os.symlink(target, path)

    def create_file(self, path: str, mode: int = 0o644) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, mode)
        os.close(fd)

    def write_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)


class RecordingSyscalls(Syscalls):
    """Records privileged calls as tuples in `.calls`; file-system preparation stays real."""

    recording = True

    def __init__(self, fail: dict | None = None, mount_flags: int = 0):
        self.calls: list[tuple] = []
        # {("mount", fstype-or-target): errno} to simulate a refusal
        self.fail = fail or {}
        self._mount_flags = mount_flags

    def _maybe_fail(self, key: tuple) -> None:
        e = self.fail.get(key)
        if e:
            raise OSError(e, f"{key[0]}: {os.strerror(e)}")

    def mount(self, source, target, fstype=None, flags=0, data=None) -> None:
        self.calls.append(("mount", source, target, fstype, flags, data))
        self._maybe_fail(("mount", fstype))
        self._maybe_fail(("mount", target))

    def umount2(self, target, flags=0) -> None:
        self.calls.append(("umount2", target, flags))

    def pivot_root(self, new_root, put_old) -> None:
        self.calls.append(("pivot_root", new_root, put_old))

    def chroot(self, path) -> None:
        self.calls.append(("chroot", path))

    def chdir(self, path) -> None:
        self.calls.append(("chdir", path))

    def sethostname(self, name) -> None:
        self.calls.append(("sethostname", name))

    def unshare(self, flags) -> None:
        self.calls.append(("unshare", flags))

    def setns(self, fd, nstype) -> None:
        self.calls.append(("setns", fd, nstype))

    def loopback_up(self) -> None:
        self.calls.append(("loopback_up",))

    def mount_flags(self, path) -> int:
        return self._mount_flags

    def mounts(self) -> list[tuple]:
        return [c for c in self.calls if c[0] == "mount"]
