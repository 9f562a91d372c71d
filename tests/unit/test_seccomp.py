"""The seccomp compiler: programs run through a small classic-BPF interpreter (the kernel's
semantics for the opcodes the compiler emits) on made-up seccomp_data."""

import struct

import pytest

from pypod.linux import caps, seccomp
from pypod.linux.seccomp_default import PROFILE
from pypod.linux.syscall_table import X86, X86_64

AUDIT_X86_64 = 0xC000003E
AUDIT_I386 = 0x40000003
ENOSYS, EPERM, EINVAL = 38, 1, 22


def run_bpf(prog: bytes, nr: int, args=(0,) * 6, arch=AUDIT_X86_64) -> int:
    ins = [struct.unpack("<HBBI", prog[i:i + 8]) for i in range(0, len(prog), 8)]
    args = list(args) + [0] * (6 - len(args))
    # seccomp_data: int nr; u32 arch; u64 ip; u64 args[6]
    data = struct.pack("<iIQ", nr, arch, 0) + b"".join(struct.pack("<Q", a & (2**64 - 1)) for a in args)
    a, pc, steps = 0, 0, 0
    while True:
        steps += 1
        assert steps < 100000
        code, jt, jf, k = ins[pc]
        if code == 0x20:
            a = struct.unpack_from("<I", data, k)[0]
        elif code == 0x54:
            a &= k
        elif code == 0x05:
            pc += k
        elif code in (0x15, 0x25, 0x35):
            ok = a == k if code == 0x15 else a > k if code == 0x25 else a >= k
            pc += jt if ok else jf
        elif code == 0x06:
            return k
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")
        pc += 1


def errno_of(ret: int) -> int | None:
    if ret == seccomp.RET_ALLOW:
        return None
    assert ret & 0xFFFF0000 == seccomp.RET_ERRNO, hex(ret)
    return ret & 0xFFFF


@pytest.fixture(scope="module")
def default_prog():
    return seccomp.compile_profile(PROFILE, caps.DEFAULT_CAPS, machine="x86_64")


def test_default_profile_blocks_what_podman_blocks(default_prog):
    # measured with podman 4.3 here: EPERM for these ...
    for name in ("bpf", "perf_event_open", "sysfs", "uselib", "acct",
                 "kexec_load", "open_by_handle_at"):
        assert errno_of(run_bpf(default_prog, X86_64[name])) == EPERM, name
    # ... ENOSYS (the default action) for these
    for name in ("add_key", "request_key", "io_uring_setup", "io_uring_enter"):
        assert errno_of(run_bpf(default_prog, X86_64[name])) == ENOSYS, name
    assert errno_of(run_bpf(default_prog, 1000)) == ENOSYS
    for name in ("read", "write", "execve", "clone", "setresuid", "capset", "chroot", "arch_prctl"):
        assert errno_of(run_bpf(default_prog, X86_64[name])) is None, name


def test_argument_conditions(default_prog):
    pers = X86_64["personality"]
    for v in (0, 8, 0x20000, 0x20008, 0xFFFFFFFF):
        assert errno_of(run_bpf(default_prog, pers, [v])) is None, v
    assert errno_of(run_bpf(default_prog, pers, [1])) == ENOSYS
    assert errno_of(run_bpf(default_prog, pers, [0x1_FFFFFFFF])) == ENOSYS  # 64-bit compare
    sock = X86_64["socket"]
    assert errno_of(run_bpf(default_prog, sock, [16, 3, 9])) == EINVAL  # netlink audit
    assert errno_of(run_bpf(default_prog, sock, [16, 3, 0])) is None
    assert errno_of(run_bpf(default_prog, sock, [2, 1, 9])) is None


def test_capability_conditional_rules():
    with_admin = seccomp.compile_profile(PROFILE, caps.DEFAULT_CAPS + ["SYS_ADMIN"], machine="x86_64")
    assert errno_of(run_bpf(with_admin, X86_64["bpf"])) is None
    without_chroot = seccomp.compile_profile(
        PROFILE, [c for c in caps.DEFAULT_CAPS if c != "SYS_CHROOT"], machine="x86_64")
    assert errno_of(run_bpf(without_chroot, X86_64["chroot"])) == EPERM
    with_audit = seccomp.compile_profile(PROFILE, caps.DEFAULT_CAPS + ["AUDIT_WRITE"], machine="x86_64")
    assert errno_of(run_bpf(with_audit, X86_64["socket"], [16, 3, 9])) is None


def test_subarch_x32_and_foreign_arch(default_prog):
    assert errno_of(run_bpf(default_prog, X86["getpid"], arch=AUDIT_I386)) is None
    assert errno_of(run_bpf(default_prog, X86["bpf"], arch=AUDIT_I386)) == EPERM
    assert errno_of(run_bpf(default_prog, X86_64["getpid"] | 0x40000000)) == ENOSYS  # x32
    assert run_bpf(default_prog, 39, arch=0xC00000B7) == seccomp.RET_KILL_PROCESS


def test_ops_and_long_jumps():
    """Every comparison, 64-bit halves, masked eq, and a rule list long enough to need
    trampolines (jumps farther than 255 instructions)."""
    big = 2**40 + 5
    rules = [{"names": ["getpid"], "action": "SCMP_ACT_ALLOW"}]
    ops = [("SCMP_CMP_EQ", big), ("SCMP_CMP_NE", big), ("SCMP_CMP_LT", big), ("SCMP_CMP_LE", big),
           ("SCMP_CMP_GT", big), ("SCMP_CMP_GE", big)]
    names = ["read", "write", "open", "close", "stat", "fstat"]
    for (op, v), name in zip(ops, names):
        rules.append({"names": [name], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": v, "op": op}]})
    rules.append({"names": ["lseek"], "action": "SCMP_ACT_ERRNO", "errnoRet": 7,
                  "args": [{"index": 5, "value": 0xF0, "valueTwo": 0x30, "op": "SCMP_CMP_MASKED_EQ"}]})
    filler = [n for n in X86_64 if n not in names + ["getpid", "lseek"]][:300]
    rules.append({"names": filler, "action": "SCMP_ACT_ERRNO", "errnoRet": 99})
    prog = seccomp.compile_profile({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": rules}, [], machine="x86_64")
    cases = {"read": lambda x: x == big, "write": lambda x: x != big, "open": lambda x: x < big,
             "close": lambda x: x <= big, "stat": lambda x: x > big, "fstat": lambda x: x >= big}
    for name, pred in cases.items():
        for x in (0, big - 1, big, big + 1, 5, 2**40, 2**64 - 1, big + 2**32):
            want = None if pred(x) else EPERM
            assert errno_of(run_bpf(prog, X86_64[name], [0, x])) == want, (name, x)
    assert errno_of(run_bpf(prog, X86_64["lseek"], [0, 0, 0, 0, 0, 0x3F])) == 7
    assert errno_of(run_bpf(prog, X86_64["lseek"], [0, 0, 0, 0, 0, 0x4F])) == EPERM
    for name in filler:
        assert errno_of(run_bpf(prog, X86_64[name])) == 99, name
    assert errno_of(run_bpf(prog, X86_64["getpid"])) is None


def test_program_cache(tmp_path):
    p1 = seccomp.program_for(None, caps.DEFAULT_CAPS, str(tmp_path))
    assert len(list(tmp_path.iterdir())) == 1
    assert seccomp.program_for(None, caps.DEFAULT_CAPS, str(tmp_path)) == p1
    assert seccomp.program_for("unconfined", caps.DEFAULT_CAPS, str(tmp_path)) is None
    with pytest.raises(seccomp.ProfileError, match="opening seccomp profile failed"):
        seccomp.program_for(str(tmp_path / "missing.json"), [], str(tmp_path))


def test_caps_merge():
    assert caps.merge(caps.DEFAULT_CAPS, [], []) == ["CAP_" + c for c in sorted(
        caps.DEFAULT_CAPS, key=caps.cap_number)]
    assert caps.merge(caps.DEFAULT_CAPS, ["net_admin"], ["CAP_CHOWN"]) == [
        "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID",
        "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_NET_ADMIN", "CAP_SYS_CHROOT", "CAP_SETFCAP"]
    assert caps.merge(caps.DEFAULT_CAPS, ["CHOWN"], ["ALL"]) == ["CAP_CHOWN"]
    assert "CAP_SYS_ADMIN" in caps.merge(caps.DEFAULT_CAPS, ["ALL"], ["CHOWN"])
    assert caps.mask(caps.DEFAULT_CAPS) == 0x800405FB
    with pytest.raises(ValueError, match="unknown capability"):
        caps.merge([], ["CAP_NOPE"], [])


def test_detach_keys_parsing_and_matching():
    from pypod.runtime.attach import DetachKeysError, DetachMatcher, FrameReader, frame, parse_detach_keys

    assert parse_detach_keys(None) == b"\x10\x11"
    assert parse_detach_keys("ctrl-x,y") == b"\x18y"
    assert parse_detach_keys("ctrl-@,ctrl-\\") == b"\x00\x1c"
    assert parse_detach_keys("") == b""
    with pytest.raises(DetachKeysError, match="invalid detach keys"):
        parse_detach_keys("ctrl-1")
    m = DetachMatcher(b"\x10\x11")
    assert m.feed(b"ab\x10") == (b"ab", False)  # a partial match is held back ...
    assert m.feed(b"c") == (b"\x10c", False)  # ... and passed on when it breaks
    assert m.feed(b"\x10\x10") == (b"\x10", False)
    assert m.feed(b"\x11rest") == (b"", True)
    assert DetachMatcher(b"").feed(b"\x10\x11") == (b"\x10\x11", False)
    r = FrameReader()
    data = frame(1, b"hello") + frame(5, b"3")
    assert r.feed(data[:7]) == []
    assert r.feed(data[7:]) == [(1, b"hello"), (5, b"3")]
