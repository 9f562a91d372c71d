"""Seccomp: an OCI/podman JSON profile → a classic BPF program, and loading it with seccomp(2).

compile_profile(profile, caps) turns a profile (podman's seccomp.json format) into the bytes of
a `struct sock_filter[]` for this machine's architecture and its sub-architectures (x86_64 + x86,
aarch64): rules are chosen as containers/common chooses them (includes/excludes on the native
arch, the container's bounding capabilities, minKernel), syscall names the arch lacks are
skipped (as libseccomp does), several rules of one syscall are tried in the profile's order with
their argument conditions ANDed (64-bit compares on 64-bit arches), and the unconditional rule or
the default action (SCMP_ACT_ERRNO with defaultErrnoRet, EPERM when unset) catches the rest.
x32 syscall numbers and unknown architectures never reach an allow rule: x32 gets the default
action, a foreign arch kills the process (libseccomp's bad-arch default).

load(program) is what pid 1 calls right before execve (json is not imported for that).
"""

from __future__ import annotations

import os
import struct

# BPF opcodes
_LD_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ = 0x15
_JGT = 0x25
_JGE = 0x35
_JA = 0x05
_RET = 0x06
_AND = 0x54  # BPF_ALU | BPF_AND | BPF_K

RET_KILL_THREAD = 0x00000000
RET_KILL_PROCESS = 0x80000000
RET_TRAP = 0x00030000
RET_ERRNO = 0x00050000
RET_TRACE = 0x7FF00000
RET_LOG = 0x7FFC0000
RET_ALLOW = 0x7FFF0000

EPERM = 1
X32_SYSCALL_BIT = 0x40000000

# SCMP arch name → (AUDIT_ARCH_*, syscall table, 64-bit args, Go arch name used by "arches")
ARCHES = {
    "SCMP_ARCH_X86_64": (0xC000003E, "x86_64", True, "amd64"),
    "SCMP_ARCH_X86": (0x40000003, "x86", False, "386"),
    "SCMP_ARCH_AARCH64": (0xC00000B7, "aarch64", True, "arm64"),
}
NATIVE = {"x86_64": "SCMP_ARCH_X86_64", "aarch64": "SCMP_ARCH_AARCH64"}
# the names containers/common's profile uses in includes/excludes "arches"
_PROFILE_ARCH = {"amd64": "amd64", "arm64": "arm64"}

SECCOMP_SET_MODE_FILTER = 1
_SYS_SECCOMP = {"x86_64": 317, "aarch64": 277}


class ProfileError(ValueError):
    pass


def _action(name: str, errno_ret) -> int:
    n = (name or "").upper()
    if n == "SCMP_ACT_ALLOW":
        return RET_ALLOW
    if n == "SCMP_ACT_ERRNO":
        return RET_ERRNO | ((EPERM if errno_ret is None else int(errno_ret)) & 0xFFFF)
    if n in ("SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD"):
        return RET_KILL_THREAD
    if n == "SCMP_ACT_KILL_PROCESS":
        return RET_KILL_PROCESS
    if n == "SCMP_ACT_TRAP":
        return RET_TRAP
    if n == "SCMP_ACT_TRACE":
        return RET_TRACE | ((EPERM if errno_ret is None else int(errno_ret)) & 0xFFFF)
    if n == "SCMP_ACT_LOG":
        return RET_LOG
    raise ProfileError(f"unsupported seccomp action {name!r}")


def _kernel_at_least(want: str) -> bool:
    def parts(s):
        out = []
        for p in s.split(".")[:2]:
            digits = "".join(c for c in p if c.isdigit()) or "0"
            out.append(int(digits))
        return out + [0] * (2 - len(out))
    return parts(os.uname().release.split("-")[0]) >= parts(want)


def _cap_name(c: str) -> str:
    c = c.upper()
    return c if c.startswith("CAP_") else "CAP_" + c


def select_rules(profile: dict, caps, goarch: str) -> list[tuple[list[str], list[dict], int]]:
    """The profile's rules that apply: [(names, args, action)] in profile order."""
    capset = {_cap_name(c) for c in caps}
    out = []
    for r in profile.get("syscalls") or []:
        inc, exc = r.get("includes") or {}, r.get("excludes") or {}
        if inc.get("arches") and goarch not in inc["arches"]:
            continue
        if exc.get("arches") and goarch in exc["arches"]:
            continue
        if any(_cap_name(c) not in capset for c in inc.get("caps") or []):
            continue
        if any(_cap_name(c) in capset for c in exc.get("caps") or []):
            continue
        if inc.get("minKernel") and not _kernel_at_least(str(inc["minKernel"])):
            continue
        names = list(r.get("names") or ([r["name"]] if r.get("name") else []))
        out.append((names, list(r.get("args") or []), _action(r.get("action"), r.get("errnoRet"))))
    return out


class _Builder:
    """Emits a BPF program backwards, so every jump target is already placed; a conditional
    jump farther than 255 instructions goes through a JA trampoline."""

    def __init__(self):
        self.rev: list[tuple[int, int, int, int]] = []

    def _add(self, code, jt, jf, k) -> int:
        self.rev.append((code, jt, jf, k & 0xFFFFFFFF))
        return len(self.rev) - 1

    def stmt(self, code, k) -> int:
        return self._add(code, 0, 0, k)

    def ja(self, target: int) -> int:
        return self._add(_JA, 0, 0, len(self.rev) - 1 - target)

    def jump(self, code, k, t: int, f: int) -> int:
        while True:
            n = len(self.rev)
            if n - 1 - t > 255:
                t = self.ja(t)
                continue
            if n - 1 - f > 255:
                f = self.ja(f)
                continue
            return self._add(code, n - 1 - t, n - 1 - f, k)

    def program(self) -> bytes:
        return b"".join(struct.pack("<HBBI", *ins) for ins in reversed(self.rev))


def _cond(b: _Builder, arg: dict, t: int, f: int, wide: bool) -> int:
    """Code testing one argument condition: jumps to t when it holds, else to f."""
    idx = int(arg.get("index", 0))
    if not 0 <= idx < 6:
        raise ProfileError(f"seccomp argument index {idx} out of range")
    op = str(arg.get("op", "")).upper()
    value = int(arg.get("value", 0)) & 0xFFFFFFFFFFFFFFFF
    two = int(arg.get("valueTwo", 0)) & 0xFFFFFFFFFFFFFFFF
    lo_off, hi_off = 16 + 8 * idx, 20 + 8 * idx
    if op in ("SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE"):
        t, f = f, t
        op = {"SCMP_CMP_NE": "SCMP_CMP_EQ", "SCMP_CMP_LT": "SCMP_CMP_GE",
              "SCMP_CMP_LE": "SCMP_CMP_GT"}[op]
    vlo, vhi = value & 0xFFFFFFFF, value >> 32
    if op == "SCMP_CMP_EQ":
        lo = b.jump(_JEQ, vlo, t, f)
        lo = b.stmt(_LD_ABS, lo_off)
        if not wide:
            return lo
        b.jump(_JEQ, vhi, lo, f)
        return b.stmt(_LD_ABS, hi_off)
    if op == "SCMP_CMP_MASKED_EQ":  # value: the mask, valueTwo: the datum
        mlo, mhi = vlo, vhi
        dlo, dhi = two & 0xFFFFFFFF, two >> 32
        b.jump(_JEQ, dlo & mlo, t, f)
        b.stmt(_AND, mlo)
        lo = b.stmt(_LD_ABS, lo_off)
        if not wide:
            return lo
        b.jump(_JEQ, dhi & mhi, lo, f)
        b.stmt(_AND, mhi)
        return b.stmt(_LD_ABS, hi_off)
    if op in ("SCMP_CMP_GT", "SCMP_CMP_GE"):
        lo = b.jump(_JGT if op == "SCMP_CMP_GT" else _JGE, vlo, t, f)
        lo = b.stmt(_LD_ABS, lo_off)
        if not wide:
            return lo
        eq = b.jump(_JEQ, vhi, lo, f)
        b.jump(_JGT, vhi, t, eq)
        return b.stmt(_LD_ABS, hi_off)
    raise ProfileError(f"unsupported seccomp comparison {arg.get('op')!r}")


def compile_profile(profile: dict, caps, machine: str | None = None) -> bytes:
    """The BPF program (struct sock_filter[], native byte order) for `profile` given the
    container's bounding capabilities `caps` (names, with or without CAP_)."""
    from pypod.linux import syscall_table

    machine = machine or os.uname().machine
    native = NATIVE.get(machine)
    if native is None:
        raise ProfileError(f"seccomp: unsupported architecture {machine}")
    goarch = ARCHES[native][3]
    arches = [native]
    for m in profile.get("archMap") or []:
        if m.get("architecture") == native:
            arches += [a for a in m.get("subArchitectures") or [] if a in ARCHES]
    if profile.get("architectures"):  # the OCI form: a flat list
        arches += [a for a in profile["architectures"] if a in ARCHES and a not in arches]
    rules = select_rules(profile, caps, goarch)
    default = _action(profile.get("defaultAction") or "SCMP_ACT_ERRNO",
                      profile.get("defaultErrnoRet"))

    b = _Builder()
    rets: dict[int, int] = {}

    def ret(action: int) -> int:
        if action not in rets:
            rets[action] = b.stmt(_RET, action)
        return rets[action]

    ret(RET_KILL_PROCESS)  # a foreign architecture
    for _, _, action in rules:
        ret(action)
    ret_default = ret(default)

    blocks = []
    for arch in arches:
        audit, tname, wide, _ = ARCHES[arch]
        table = syscall_table.TABLES[tname]
        per_nr: dict[int, list[tuple[list[dict], int]]] = {}
        for names, args, action in rules:
            for name in names:
                nr = table.get(name)
                if nr is not None:
                    per_nr.setdefault(nr, []).append((args, action))
        entries = []
        for nr in sorted(per_nr):
            conditional = [(a, act) for a, act in per_nr[nr] if a]
            plain = [act for a, act in per_nr[nr] if not a]
            fallback = ret(plain[0]) if plain else ret_default
            label = fallback
            for args, action in reversed(conditional):
                target = ret(action)
                for arg in reversed(args):
                    target = _cond(b, arg, target, label, wide)
                label = target
            if label != ret_default:
                entries.append((nr, label))

        def tree(items: list[tuple[int, int]]) -> int:
            if len(items) <= 3:
                nxt = ret_default
                for nr, lab in reversed(items):
                    nxt = b.jump(_JEQ, nr, lab, nxt)
                return nxt
            mid = len(items) // 2
            right = tree(items[mid:])
            left = tree(items[:mid])
            return b.jump(_JGE, items[mid][0], right, left)

        start = tree(entries)
        if arch == "SCMP_ARCH_X86_64":  # x32 numbers: never allowed by a native rule
            start = b.jump(_JGE, X32_SYSCALL_BIT, ret_default, start)
        start = b.stmt(_LD_ABS, 0)  # seccomp_data.nr
        blocks.append((audit, start))
    nxt = ret(RET_KILL_PROCESS)
    for audit, start in reversed(blocks):
        nxt = b.jump(_JEQ, audit, start, nxt)
    b.stmt(_LD_ABS, 4)  # seccomp_data.arch
    prog = b.program()
    if len(prog) // 8 > 4096:
        raise ProfileError(f"seccomp: the profile compiles to {len(prog) // 8} instructions "
                           f"(the kernel takes 4096)")
    return prog


DEFAULT_PROFILE_PATH = "/usr/share/containers/seccomp.json"


def default_profile() -> tuple[dict, bytes]:
    """podman's default profile: the host's containers-common file, else the embedded copy.
    Returns (profile, bytes that identify it for a cache key)."""
    try:
        with open(DEFAULT_PROFILE_PATH, "rb") as f:
            raw = f.read()
        import json

        return json.loads(raw), raw
    except (OSError, ValueError):
        from pypod.linux.seccomp_default import PROFILE

        return PROFILE, b"embedded:" + repr(PROFILE).encode()


def program_for(seccomp_opt: str | None, caps, cache_dir: str) -> bytes | None:
    """The compiled program for a container: None with seccomp=unconfined; `seccomp_opt` is the
    value of --security-opt seccomp= (None: the default profile). Compiled programs are cached
    in cache_dir by the hash of the profile, the capabilities and the machine."""
    try:  # the built-in sha256: hashlib loads OpenSSL first (~2 ms of every create)
        from _sha256 import sha256
    except ImportError:
        from hashlib import sha256

    if seccomp_opt == "unconfined":
        return None
    if seccomp_opt:
        try:
            with open(seccomp_opt, "rb") as f:
                raw = f.read()
        except OSError as e:
            raise ProfileError(f"opening seccomp profile failed: open {seccomp_opt}: "
                               f"{(e.strerror or str(e)).lower()}")
        profile = None
    else:
        profile, raw = default_profile()
    key = sha256(b"v1\0" + raw + b"\0" + ",".join(sorted(caps)).encode() + b"\0"
                         + os.uname().machine.encode()).hexdigest()
    path = os.path.join(cache_dir, key + ".bpf")
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        pass
    if profile is None:
        import json

        try:
            profile = json.loads(raw)
        except ValueError as e:
            raise ProfileError(f"decoding seccomp profile failed: {e}")
    prog = compile_profile(profile, caps)
    try:
        os.makedirs(cache_dir, 0o700, exist_ok=True)
        tmp = f"{path}.{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(prog)
        os.rename(tmp, path)
    except OSError:
        pass  # a read-only cache only costs the compile next time
    return prog


# ---------------------------------------------------------------- loading (pid 1, before exec)

def load(program: bytes) -> None:
    """seccomp(SECCOMP_SET_MODE_FILTER) the program on the calling thread. The caller has set
    no_new_privs or holds CAP_SYS_ADMIN in its user namespace. (No ctypes import: pid 1's
    start-up path.)"""
    import _ctypes

    from pypod.linux import libc

    nr = _SYS_SECCOMP.get(os.uname().machine)
    if nr is None:
        raise OSError(95, "seccomp: unsupported architecture")

    class SockFprog(_ctypes.Structure):  # unsigned short len; (padding); sock_filter *filter
        _fields_ = [("len", libc.c_uint64), ("filter", libc.c_char_p)]

    prog = SockFprog(len(program) // 8, program)
    fn = libc._fn("syscall", [libc.c_long, libc.c_long, libc.c_long, _ctypes.POINTER(SockFprog)],
                  libc.c_long)
    if fn(nr, SECCOMP_SET_MODE_FILTER, 0, _ctypes.byref(prog)) != 0:
        raise libc._fail("seccomp")
