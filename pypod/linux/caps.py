"""Linux capabilities: names, podman's default set, and dropping to a set before exec."""

from __future__ import annotations

CAPS = [
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
    "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
    "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
    "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
    "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
    "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
]
CAP_NUMBERS = {name: i for i, name in enumerate(CAPS)}

# podman 4.x (containers.conf default_capabilities)
DEFAULT_CAPS = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "NET_BIND_SERVICE",
                "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"]


def cap_number(name: str) -> int:
    n = name.upper()
    if n.startswith("CAP_"):
        n = n[4:]
    if n not in CAP_NUMBERS:
        raise ValueError(f"unknown capability {name!r}")
    return CAP_NUMBERS[n]


def last_cap() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except OSError:
        return len(CAPS) - 1


def mask(names: list[str]) -> int:
    if any(n.upper() in ("ALL", "CAP_ALL") for n in names):
        return (1 << (last_cap() + 1)) - 1
    m = 0
    for n in names:
        m |= 1 << cap_number(n)
    return m


def drop_bounding(keep: int) -> None:
    """Drop every capability not in `keep` from the bounding set (needs CAP_SETPCAP)."""
    from pypod.linux import libc  # (ctypes, not on create; init.py imported it before pivot_root)

    for c in range(last_cap() + 1):
        if not keep & (1 << c):
            try:
                libc.prctl(libc.PR_CAPBSET_DROP, c)
            except OSError as e:
                if e.errno != 22:  # EINVAL: a capability this kernel lacks
                    raise


def set_process_caps(keep: int) -> None:
    """Effective = permitted = keep ∩ current permitted; no inheritable, no ambient."""
    from pypod.linux import libc  # (ctypes, not on create; init.py imported it before pivot_root)

    try:
        libc.prctl(libc.PR_CAP_AMBIENT, libc.PR_CAP_AMBIENT_CLEAR_ALL)
    except OSError:
        pass
    _eff, perm, _inh = libc.capget()
    k = keep & perm
    libc.capset(k, k, 0)


def all_caps() -> list[str]:
    return ["CAP_" + c for c in CAPS[:last_cap() + 1]]


def normalize(name: str) -> str:
    """"chown" / "CAP_CHOWN" → "CAP_CHOWN"; ValueError for an unknown name (podman's message)."""
    n = name.strip().upper()
    if not n.startswith("CAP_"):
        n = "CAP_" + n
    if n != "CAP_ALL" and n[4:] not in CAP_NUMBERS:
        raise ValueError(f'"{n}": unknown capability')
    return n


def merge(base: list[str], add: list[str], drop: list[str]) -> list[str]:
    """podman's capabilities.MergeCapabilities: the bounding set from the default set, --cap-add
    and --cap-drop (either may be ALL; dropping ALL keeps only what is added)."""
    base = [normalize(c) for c in base]
    add = [normalize(c) for c in add]
    drop = [normalize(c) for c in drop]
    every = all_caps()
    for c in add:
        if c != "CAP_ALL" and c in drop:
            raise ValueError(f"capability {c!r} cannot be dropped and added".replace("'", '"'))
    if "CAP_ALL" in drop:
        if "CAP_ALL" in add:
            raise ValueError("adding all caps and removing all caps not allowed")
        return [c for c in every if c in add]
    if "CAP_ALL" in add:
        return [c for c in every if c not in drop]
    out = [c for c in base if c not in drop]
    out += [c for c in add if c not in out]
    return sorted(out, key=lambda c: CAP_NUMBERS.get(c[4:], 99))


def set_user_caps(keep: int) -> None:
    """A non-root user after setresuid under PR_SET_KEEPCAPS: inheritable = permitted =
    effective = ambient = keep (podman gives such a user exactly its --cap-add ones)."""
    from pypod.linux import libc  # (ctypes, not on create; init.py imported it before pivot_root)

    _eff, perm, _inh = libc.capget()
    k = keep & perm
    libc.capset(k, k, k)
    for c in range(last_cap() + 1):
        if k & (1 << c):
            libc.prctl(libc.PR_CAP_AMBIENT, 2, c)  # PR_CAP_AMBIENT_RAISE
