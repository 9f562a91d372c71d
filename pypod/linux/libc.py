"""ctypes wrappers for the syscalls Python 3.11's os module lacks; a failure raises OSError.

Every wrapper accepts str or bytes paths. The error message names the call and, where there is
one, the path: `OSError(errno, "mount: Operation not permitted", "/x")`.
"""

from __future__ import annotations

import ctypes
import os

# --- namespaces (clone flags) ---
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

NS_FLAGS = {  # /proc/PID/ns/<name> → clone flag
    "user": CLONE_NEWUSER, "mnt": CLONE_NEWNS, "pid": CLONE_NEWPID, "uts": CLONE_NEWUTS,
    "ipc": CLONE_NEWIPC, "net": CLONE_NEWNET, "cgroup": CLONE_NEWCGROUP,
}

# --- mount flags ---
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_SYNCHRONOUS = 16
MS_REMOUNT = 32
MS_MANDLOCK = 64
MS_DIRSYNC = 128
MS_NOSYMFOLLOW = 256
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_SILENT = 32768
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24

MNT_FORCE = 1
MNT_DETACH = 2

# statvfs f_flag bits → the mount flags a bind remount must repeat (locked in a user namespace)
_ST_TO_MS = ((1, MS_RDONLY), (2, MS_NOSUID), (4, MS_NODEV), (8, MS_NOEXEC), (1024, MS_NOATIME),
             (2048, MS_NODIRATIME), (4096, MS_RELATIME))

# --- prctl ---
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_SET_NAME = 15
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4

_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "ppc64": 203,
                   "s390x": 217, "i686": 217, "i386": 217, "armv7l": 218, "armv6l": 218}

_libc = ctypes.CDLL(None, use_errno=True)
_c_char_p = ctypes.c_char_p
_c_ulong = ctypes.c_ulong
_c_int = ctypes.c_int


def _b(s: str | bytes | None) -> bytes | None:
    if s is None or isinstance(s, bytes):
        return s
    return os.fsencode(s)


def _fail(name: str, path: str | bytes | None = None) -> OSError:
    e = ctypes.get_errno()
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    return OSError(e, f"{name}: {os.strerror(e)}", path)


def _fn(name: str, argtypes: list, restype=ctypes.c_int):
    f = getattr(_libc, name)
    f.argtypes = argtypes
    f.restype = restype
    return f


_mount = _fn("mount", [_c_char_p, _c_char_p, _c_char_p, _c_ulong, _c_char_p])
_umount2 = _fn("umount2", [_c_char_p, _c_int])
_unshare = _fn("unshare", [_c_int])
_setns = _fn("setns", [_c_int, _c_int])
_sethostname = _fn("sethostname", [_c_char_p, ctypes.c_size_t])
_prctl = _fn("prctl", [_c_int, _c_ulong, _c_ulong, _c_ulong, _c_ulong])
_chroot = _fn("chroot", [_c_char_p])
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long


def mount(source: str | bytes | None, target: str | bytes, fstype: str | bytes | None = None,
          flags: int = 0, data: str | bytes | None = None) -> None:
    if _mount(_b(source), _b(target), _b(fstype), flags, _b(data)) != 0:
        raise _fail("mount", target)


def umount2(target: str | bytes, flags: int = 0) -> None:
    if _umount2(_b(target), flags) != 0:
        raise _fail("umount2", target)


def unshare(flags: int) -> None:
    if _unshare(flags) != 0:
        raise _fail("unshare")


def setns(fd: int, nstype: int = 0) -> None:
    if _setns(fd, nstype) != 0:
        raise _fail("setns")


def sethostname(name: str) -> None:
    b = name.encode()
    if _sethostname(b, len(b)) != 0:
        raise _fail("sethostname")


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    r = _prctl(option, arg2, arg3, arg4, arg5)
    if r < 0:
        raise _fail("prctl")
    return r


def chroot(path: str | bytes) -> None:
    if _chroot(_b(path)) != 0:
        raise _fail("chroot", path)


def pivot_root(new_root: str | bytes, put_old: str | bytes) -> None:
    nr = _SYS_PIVOT_ROOT.get(os.uname().machine)
    if nr is None:
        raise OSError(38, f"pivot_root: unsupported architecture {os.uname().machine}")
    if _syscall(ctypes.c_long(nr), _c_char_p(_b(new_root)), _c_char_p(_b(put_old))) != 0:
        raise _fail("pivot_root", new_root)


def statvfs_mount_flags(path: str | bytes) -> int:
    """The MS_* flags of the mount holding `path` that a bind remount must keep."""
    st = os.statvfs(path).f_flag
    return sum(ms for stf, ms in _ST_TO_MS if st & stf)


# --- capabilities ---
class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


_LINUX_CAPABILITY_VERSION_3 = 0x20080522
_capget = _fn("capget", [ctypes.POINTER(_CapHeader), ctypes.POINTER(_CapData)])
_capset = _fn("capset", [ctypes.POINTER(_CapHeader), ctypes.POINTER(_CapData)])


def capget() -> tuple[int, int, int]:
    """(effective, permitted, inheritable) of the calling thread as 64-bit masks."""
    hdr = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    if _capget(ctypes.byref(hdr), data) != 0:
        raise _fail("capget")
    return tuple(data[0].__getattribute__(f) | (data[1].__getattribute__(f) << 32)
                 for f in ("effective", "permitted", "inheritable"))  # type: ignore[return-value]


def capset(effective: int, permitted: int, inheritable: int) -> None:
    hdr = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    for i in range(2):
        sh = 32 * i
        data[i].effective = (effective >> sh) & 0xFFFFFFFF
        data[i].permitted = (permitted >> sh) & 0xFFFFFFFF
        data[i].inheritable = (inheritable >> sh) & 0xFFFFFFFF
    if _capset(ctypes.byref(hdr), data) != 0:
        raise _fail("capset")
