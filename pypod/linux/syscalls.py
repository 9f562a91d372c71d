"""The seam between the container set-up sequence and the kernel.

`Syscalls` performs the privileged calls for real; `RecordingSyscalls` records them (and still
does the harmless file-system preparation — mkdir, symlink, creating mount-point files — for real,
under a temporary directory), so a unit test can check the exact mount sequence without
privileges.
"""

from __future__ import annotations

# Imported up front (builtin modules): code after pivot_root cannot import from the host.
import _socket
import _struct
import fcntl
import os
import stat
import time

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
        s = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM, 0)
        try:
            ifr = _struct.pack("16sH14x", b"lo", 0)
            flags = _struct.unpack("16sH14x", fcntl.ioctl(s.fileno(), 0x8913, ifr))[1]
            fcntl.ioctl(s.fileno(), 0x8914, _struct.pack("16sH14x", b"lo", flags | 0x1 | 0x40))
        finally:
            s.close()

    def mount_flags(self, path: str) -> int:
        """Flags of the mount at path that a bind remount must keep."""
        return libc.statvfs_mount_flags(path)

    def readonly_recursive(self, target: str) -> None:
        """Make a mount tree read-only, submounts included (mount_setattr)."""
        libc.mount_setattr_readonly(target, recursive=True)

    def fuse_overlayfs(self, binary: str, data: str, target: str) -> int:
        """Mount with `fuse-overlayfs -f` (kept in the foreground, so its pid is known and the
        supervisor can end it with the container); returns its pid once the mount is there.
        Its stdio is /dev/null: it holds none of our pipes or the user's terminal."""
        null = [(os.POSIX_SPAWN_OPEN, fd, "/dev/null", os.O_RDWR, 0) for fd in (0, 1, 2)]
        pid = os.posix_spawn(binary, [binary, "-f", "-o", data, target], dict(os.environ),
                             file_actions=null)
        needle = f" {target} ".encode()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with open("/proc/self/mountinfo", "rb") as f:
                if any(needle in line and b" - fuse" in line for line in f):
                    return pid
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                raise OSError(5, f"fuse-overlayfs exited with status "
                                 f"{os.waitstatus_to_exitcode(status)}", target)
            time.sleep(0.002)
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        raise OSError(110, "fuse-overlayfs did not mount in time", target)

    # --- file system preparation (real in both) ---
    def copy_up(self, below_fd: int, target: str) -> None:
        """podman's tmpcopyup: the entries of the directory a tmpfs now covers (held open as
        `below_fd`) copied into it with their owners and modes, symlinks as symlinks."""
        import shutil

        def copy(src: str, dst: str) -> None:
            st = os.lstat(src)
            if stat.S_ISDIR(st.st_mode):
                os.mkdir(dst, stat.S_IMODE(st.st_mode))
                for name in os.listdir(src):
                    copy(os.path.join(src, name), os.path.join(dst, name))
            else:
                shutil.copy2(src, dst, follow_symlinks=False)
            os.lchown(dst, st.st_uid, st.st_gid)
            if not stat.S_ISLNK(st.st_mode):
                os.chmod(dst, stat.S_IMODE(st.st_mode))

        below = f"/proc/self/fd/{below_fd}"
        for name in os.listdir(below_fd):
            copy(os.path.join(below, name), os.path.join(target, name))

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

    def readonly_recursive(self, target) -> None:
        self.calls.append(("readonly_recursive", target))
        self._maybe_fail(("readonly_recursive", None))

    def fuse_overlayfs(self, binary, data, target) -> int:
        self.calls.append(("fuse_overlayfs", binary, data, target))
        return 0

    def copy_up(self, below_fd, target) -> None:
        self.calls.append(("copy_up", target))

    def mounts(self) -> list[tuple]:
        return [c for c in self.calls if c[0] == "mount"]
