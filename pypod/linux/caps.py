"""Linux capabilities: names, podman's default set, and dropping to a set before exec."""

from __future__ import annotations

from pypod.linux import libc

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
    for c in range(last_cap() + 1):
        if not keep & (1 << c):
            try:
                libc.prctl(libc.PR_CAPBSET_DROP, c)
            except OSError as e:
                if e.errno != 22:  # EINVAL: a capability this kernel lacks
                    raise


def set_process_caps(keep: int) -> None:
    """Effective = permitted = keep ∩ current permitted; no inheritable, no ambient."""
    try:
        libc.prctl(libc.PR_CAP_AMBIENT, libc.PR_CAP_AMBIENT_CLEAR_ALL)
    except OSError:
        pass
    _eff, perm, _inh = libc.capget()
    k = keep & perm
    libc.capset(k, k, 0)
