"""Resource limits through cgroups, where the host lets us: root mode (cgroupfs, v1 or v2).

A rootless user gets limits only from a delegated cgroup v2 subtree (systemd's user slice); on a
cgroup v1 host there is none, and create() warns as podman does instead of coming here.

Layout: v1 `/sys/fs/cgroup/<controller>/pypod/<id>`, v2 `/sys/fs/cgroup/pypod/<id>`. The set-up
process of a container joins them before it forks pid 1 (children inherit the cgroup); the
supervisor removes them after the exit.

Imports: cheap standard-library modules only (the supervisor imports this).
"""

from __future__ import annotations

import os

ROOT = "/sys/fs/cgroup"
PARENT = "pypod"
CFS_PERIOD = 100000


class CgroupError(OSError):
    pass


def is_v2() -> bool:
    return os.path.exists(os.path.join(ROOT, "cgroup.controllers"))


def _write(path: str, value: str) -> None:
    try:
        with open(path, "w") as f:
            f.write(value)
    except OSError as e:
        raise CgroupError(e.errno, f"cgroup {path}: {e.strerror}") from None


def _settings_v1(limits: dict) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    if limits.get("pids_limit") not in (None, 0):
        n = int(limits["pids_limit"])
        out.setdefault("pids", []).append(("pids.max", "max" if n < 0 else str(n)))
    if limits.get("memory"):
        out.setdefault("memory", []).append(("memory.limit_in_bytes", str(int(limits["memory"]))))
        swap = limits.get("memory_swap")
        if swap and os.path.exists(os.path.join(ROOT, "memory", "memory.memsw.limit_in_bytes")):
            out["memory"].append(("memory.memsw.limit_in_bytes", str(-1 if swap < 0 else int(swap))))
    if limits.get("cpus"):
        out.setdefault("cpu", []).extend([("cpu.cfs_period_us", str(CFS_PERIOD)),
                                          ("cpu.cfs_quota_us", str(int(float(limits["cpus"]) * CFS_PERIOD)))])
    if limits.get("cpu_shares"):
        out.setdefault("cpu", []).append(("cpu.shares", str(int(limits["cpu_shares"]))))
    if limits.get("cpuset_cpus"):
        out.setdefault("cpuset", []).append(("cpuset.cpus", str(limits["cpuset_cpus"])))
    return out


def _settings_v2(limits: dict) -> list[tuple[str, str]]:
    out = []
    if limits.get("pids_limit") not in (None, 0):
        n = int(limits["pids_limit"])
        out.append(("pids.max", "max" if n < 0 else str(n)))
    if limits.get("memory"):
        out.append(("memory.max", str(int(limits["memory"]))))
        swap = limits.get("memory_swap")
        if swap:
            out.append(("memory.swap.max", "max" if swap < 0 else str(max(0, int(swap) - int(limits["memory"])))))
    if limits.get("cpus"):
        out.append(("cpu.max", f"{int(float(limits['cpus']) * CFS_PERIOD)} {CFS_PERIOD}"))
    if limits.get("cpu_shares"):  # podman's conversion of shares (2..262144) to a weight
        s = int(limits["cpu_shares"])
        out.append(("cpu.weight", str(max(1, min(10000, 1 + ((s - 2) * 9999) // 262142)))))
    if limits.get("cpuset_cpus"):
        out.append(("cpuset.cpus", str(limits["cpuset_cpus"])))
    return out


def _makedirs(d: str) -> None:
    try:
        os.makedirs(d, exist_ok=True)
    except OSError as e:
        raise CgroupError(e.errno, f"cgroup {d}: {e.strerror}") from None


def _copy_if_empty(parent: str, child: str, name: str) -> None:
    """cpuset (v1): a new group starts with no cpus/mems; inherit the parent's."""
    p, c = os.path.join(parent, name), os.path.join(child, name)
    try:
        with open(c) as f:
            if f.read().strip():
                return
        with open(p) as f:
            _write(c, f.read().strip())
    except OSError:
        pass


def _v2_parent() -> str:
    """Root: /sys/fs/cgroup/pypod. Rootless (a delegated v2 tree): beside our own cgroup."""
    if os.geteuid() == 0:
        return os.path.join(ROOT, PARENT)
    try:
        with open("/proc/self/cgroup") as f:
            own = next(ln.split(":", 2)[2].strip() for ln in f if ln.startswith("0::"))
    except (OSError, StopIteration):
        raise CgroupError(2, "no cgroup v2 membership in /proc/self/cgroup") from None
    return os.path.join(ROOT, os.path.dirname(own).lstrip("/"), PARENT)


def paths(cid: str, limits: dict) -> list[str]:
    """The cgroup directories setup() makes for these limits."""
    if is_v2():
        return [os.path.join(_v2_parent(), cid)] if _settings_v2(limits) else []
    return [os.path.join(ROOT, ctrl, PARENT, cid) for ctrl in _settings_v1(limits)]


def setup(cid: str, limits: dict) -> list[str]:
    """Create the container's cgroups with its limits and move the caller into them; the paths
    made (for remove()). Raises CgroupError."""
    made: list[str] = []
    if is_v2():
        settings = _settings_v2(limits)
        if not settings:
            return made
        parent = _v2_parent()
        _makedirs(parent)
        ctrls = {k.split(".")[0] for k, _ in settings}
        try:
            enable = " ".join(f"+{c}" for c in sorted(ctrls))
            _write(os.path.join(os.path.dirname(parent), "cgroup.subtree_control"), enable)
            _write(os.path.join(parent, "cgroup.subtree_control"), enable)
        except CgroupError:
            pass  # already enabled, or not ours to enable: the writes below say what fails
        d = os.path.join(parent, cid)
        _makedirs(d)
        made.append(d)
        for k, v in settings:
            _write(os.path.join(d, k), v)
        _write(os.path.join(d, "cgroup.procs"), str(os.getpid()))
        return made
    for ctrl, settings in _settings_v1(limits).items():
        base = os.path.join(ROOT, ctrl)
        if not os.path.isdir(base):
            raise CgroupError(2, f"cgroup controller {ctrl} is not mounted at {base}")
        parent = os.path.join(base, PARENT)
        _makedirs(parent)
        d = os.path.join(parent, cid)
        _makedirs(d)
        made.append(d)
        if ctrl == "cpuset":
            for name in ("cpuset.cpus", "cpuset.mems"):
                _copy_if_empty(base, parent, name)
                _copy_if_empty(parent, d, name)
        for k, v in settings:
            _write(os.path.join(d, k), v)
        _write(os.path.join(d, "cgroup.procs"), str(os.getpid()))
    return made


def remove(paths: list[str]) -> None:
    """Remove the container's (now empty) cgroups."""
    for d in paths:
        try:
            os.rmdir(d)
        except OSError:
            pass
