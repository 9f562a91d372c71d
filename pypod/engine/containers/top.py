"""`top`: the container's processes, read from /proc, in ps(1)'s descriptors."""

from __future__ import annotations

import os
import re
import time

from pypod.engine.context import Context
from pypod.errors import PypodError
from pypod.store.containers import ContainerRecord
from pypod.engine.containers.lookup import state_of


def top(ctx: Context, rec: ContainerRecord) -> list[list[str]]:
    st = state_of(ctx, rec)
    if st.get("status") != "running":
        raise PypodError("top can only be used on running containers")
    pid = st.get("pid")
    try:
        ns = os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        raise PypodError(f"reading the processes of container {rec.name}: it is not running") from None

    hz = os.sysconf("SC_CLK_TCK")
    boot = time.time() - float(open("/proc/uptime").read().split()[0])
    rows = [["USER", "PID", "PPID", "%CPU", "ELAPSED", "TTY", "TIME", "COMMAND"]]
    for d in sorted((p for p in os.listdir("/proc") if p.isdigit()), key=int):
        try:
            if os.readlink(f"/proc/{d}/ns/pid") != ns and d != str(pid):
                continue
            status = open(f"/proc/{d}/status").read()
            nspid = re.search(r"NSpid:\s+(.*)", status).group(1).split()[-1]
            ppid_ns = "0"
            uid_inner = _inner_uid(d, status)
            stat = open(f"/proc/{d}/stat").read()
            fields = stat[stat.rfind(")") + 2:].split()
            ppid = int(fields[1])
            if ppid:
                try:
                    pst = open(f"/proc/{ppid}/status").read()
                    ppid_ns = re.search(r"NSpid:\s+(.*)", pst).group(1).split()[-1] if os.readlink(f"/proc/{ppid}/ns/pid") == ns else "0"
                except OSError:
                    ppid_ns = "0"
            utime, stime, start = int(fields[11]), int(fields[12]), int(fields[19])
            elapsed = time.time() - (boot + start / hz)
            cpu = (utime + stime) / hz
            args = open(f"/proc/{d}/cmdline", "rb").read().rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace")
        except (OSError, AttributeError, IndexError, ValueError):
            continue
        user = _container_user_name(ctx, rec, uid_inner)
        rows.append([user, nspid, ppid_ns, f"{(cpu / elapsed * 100) if elapsed > 0 else 0:.3f}",
                     _go_duration(elapsed), "?", _go_duration(cpu), args])
    return rows


def _inner_uid(pid: str, status: str) -> int:
    host_uid = int(re.search(r"Uid:\s+(\d+)", status).group(1))
    try:
        for line in open(f"/proc/{pid}/uid_map"):
            inner, outer, count = map(int, line.split())
            if outer <= host_uid < outer + count:
                return inner + host_uid - outer
    except OSError:
        pass
    return host_uid


def _container_user_name(ctx: Context, rec: ContainerRecord, uid: int) -> str:
    return {0: "root", 65534: "nobody"}.get(uid, str(uid))


def _go_duration(s: float) -> str:
    """Go's time.Duration.String() (podman prints ELAPSED and TIME this way)."""
    ns = max(0, int(round(s * 1e9)))
    if ns == 0:
        return "0s"

    def frac(n: int, unit: int) -> str:
        whole, rest = divmod(n, unit)
        digits = len(str(unit)) - 1
        return str(whole) + (("." + f"{rest:0{digits}d}".rstrip("0")) if rest else "")

    if ns < 1000:
        return f"{ns}ns"
    if ns < 1_000_000:
        return frac(ns, 1000) + "µs"
    if ns < 1_000_000_000:
        return frac(ns, 1_000_000) + "ms"
    h, rem = divmod(ns, 3600 * 10**9)
    m, rem = divmod(rem, 60 * 10**9)
    out = (f"{h}h" if h else "") + (f"{m}m" if h or m else "")
    return out + frac(rem, 10**9) + "s"
