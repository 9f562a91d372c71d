"""ctypes wrappers for the syscalls Python 3.11's os module lacks; a failure raises OSError.

Every wrapper accepts str or bytes paths. The error message names the call and, where there is
one, the path: `OSError(errno, "mount: Operation not permitted", "/x")`.
"""

from __future__ import annotations

import os

import _ctypes

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

# A minimal ctypes on top of _ctypes: `import ctypes` costs ~5 ms in a fresh interpreter here
# (it builds dozens of classes), and the supervisor's start-up time is the container's.


class c_int(_ctypes._SimpleCData):
    _type_ = "i"


class c_long(_ctypes._SimpleCData):
    _type_ = "l"


class c_ulong(_ctypes._SimpleCData):
    _type_ = "L"


class c_uint32(_ctypes._SimpleCData):
    _type_ = "I"


class c_char_p(_ctypes._SimpleCData):
    _type_ = "z"


class c_uint64(_ctypes._SimpleCData):
    _type_ = "Q"


class c_void_p(_ctypes._SimpleCData):
    _type_ = "P"


class _Lib:
    _handle = _ctypes.dlopen(None, 0)


class _Func(_ctypes.CFuncPtr):
    _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
    _restype_ = c_int


def _get_errno() -> int:
    return _ctypes.get_errno()


_c_char_p = c_char_p
_c_ulong = c_ulong
_c_int = c_int


def _b(s: str | bytes | None) -> bytes | None:
    if s is None or isinstance(s, bytes):
        return s
    return os.fsencode(s)


def _fail(name: str, path: str | bytes | None = None) -> OSError:
    e = _get_errno()
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    return OSError(e, f"{name}: {os.strerror(e)}", path)


def _fn(name: str, argtypes: list, restype=c_int):
    f = _Func((name, _Lib))
    f.argtypes = argtypes
    f.restype = restype
    return f


_mount = _fn("mount", [_c_char_p, _c_char_p, _c_char_p, _c_ulong, _c_char_p])
_umount2 = _fn("umount2", [_c_char_p, _c_int])
_unshare = _fn("unshare", [_c_int])
_setns = _fn("setns", [_c_int, _c_int])
_sethostname = _fn("sethostname", [_c_char_p, c_ulong])
_prctl = _fn("prctl", [_c_int, _c_ulong, _c_ulong, _c_ulong, _c_ulong])
_prctl_str = _fn("prctl", [_c_int, _c_char_p, _c_ulong, _c_ulong, _c_ulong])
_chroot = _fn("chroot", [_c_char_p])
_syscall3 = _fn("syscall", [c_long, _c_char_p, _c_char_p], c_long)
_mount_setattr = _fn("syscall", [c_long, c_int, _c_char_p, c_ulong, c_void_p, c_ulong], c_long)


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


def set_process_name(name: str) -> None:
    """PR_SET_NAME: the comm shown by ps (15 bytes at most)."""
    if _prctl_str(PR_SET_NAME, name.encode()[:15], 0, 0, 0) < 0:
        raise _fail("prctl")


def chroot(path: str | bytes) -> None:
    if _chroot(_b(path)) != 0:
        raise _fail("chroot", path)


def pivot_root(new_root: str | bytes, put_old: str | bytes) -> None:
    nr = _SYS_PIVOT_ROOT.get(os.uname().machine)
    if nr is None:
        raise OSError(38, f"pivot_root: unsupported architecture {os.uname().machine}")
    if _syscall3(nr, _b(new_root), _b(put_old)) != 0:
        raise _fail("pivot_root", new_root)


def statvfs_mount_flags(path: str | bytes) -> int:
    """The MS_* flags of the mount holding `path` that a bind remount must keep (in a user
    namespace the kernel refuses a remount that changes a locked flag, atime mode included)."""
    st = os.statvfs(path).f_flag
    flags = sum(ms for stf, ms in _ST_TO_MS if st & stf)
    if not st & (1024 | 4096):  # neither noatime nor relatime: strictatime
        flags |= MS_STRICTATIME
    return flags


class _MountAttr(_ctypes.Structure):
    _fields_ = [("attr_set", c_uint64), ("attr_clr", c_uint64), ("propagation", c_uint64),
                ("userns_fd", c_uint64)]


_SYS_MOUNT_SETATTR = 442  # the same on every architecture (new syscall numbering)
AT_FDCWD = -100
AT_RECURSIVE = 0x8000
MOUNT_ATTR_RDONLY = 0x1


def mount_setattr_readonly(path: str | bytes, recursive: bool = True) -> None:
    """mount_setattr(2) (Linux 5.12): make a mount — and with recursive, all below it —
    read-only. OSError(ENOSYS) on older kernels."""
    attr = _MountAttr(MOUNT_ATTR_RDONLY, 0, 0, 0)
    r = _mount_setattr(_SYS_MOUNT_SETATTR, AT_FDCWD, _b(path),
                       AT_RECURSIVE if recursive else 0, _ctypes.byref(attr), 32)
    if r != 0:
        raise _fail("mount_setattr", path)


# --- capabilities ---
class _CapHeader(_ctypes.Structure):
    _fields_ = [("version", c_uint32), ("pid", c_int)]


class _CapData(_ctypes.Structure):  # struct __user_cap_data_struct[2], flattened
    _fields_ = [("effective0", c_uint32), ("permitted0", c_uint32), ("inheritable0", c_uint32),
                ("effective1", c_uint32), ("permitted1", c_uint32), ("inheritable1", c_uint32)]


_LINUX_CAPABILITY_VERSION_3 = 0x20080522
_capget = _fn("capget", [_ctypes.POINTER(_CapHeader), _ctypes.POINTER(_CapData)])
_capset = _fn("capset", [_ctypes.POINTER(_CapHeader), _ctypes.POINTER(_CapData)])


def capget() -> tuple[int, int, int]:
    """(effective, permitted, inheritable) of the calling thread as 64-bit masks."""
    hdr = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = _CapData()
    if _capget(_ctypes.byref(hdr), _ctypes.byref(data)) != 0:
        raise _fail("capget")
    return (data.effective0 | data.effective1 << 32, data.permitted0 | data.permitted1 << 32,
            data.inheritable0 | data.inheritable1 << 32)


def capset(effective: int, permitted: int, inheritable: int) -> None:
    hdr = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    m = 0xFFFFFFFF
    data = _CapData(effective & m, permitted & m, inheritable & m,
                    effective >> 32 & m, permitted >> 32 & m, inheritable >> 32 & m)
    if _capset(_ctypes.byref(hdr), _ctypes.byref(data)) != 0:
        raise _fail("capset")


# --- openat2 (Linux 5.6): path resolution the kernel keeps inside a directory ---
class _OpenHow(_ctypes.Structure):
    _fields_ = [("flags", c_uint64), ("mode", c_uint64), ("resolve", c_uint64)]


_SYS_OPENAT2 = 437  # the same on every architecture (new syscall numbering)
RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10
_openat2 = _fn("syscall", [c_long, c_int, _c_char_p, c_void_p, c_ulong], c_long)


def openat2(dirfd: int, path: str | bytes, flags: int, mode: int = 0, resolve: int = 0) -> int:
    """openat2(2): a new fd, OSError otherwise (ENOSYS on older kernels, EAGAIN when a concurrent
    rename made the kernel give up a scoped lookup, EXDEV/ELOOP when the path would leave)."""
    how = _OpenHow(flags | os.O_CLOEXEC, mode, resolve)
    fd = _openat2(_SYS_OPENAT2, dirfd, _b(path), _ctypes.byref(how), 24)
    if fd < 0:
        raise _fail("openat2", path)
    return fd
