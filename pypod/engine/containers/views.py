"""What ps and inspect show of a container: the filters, status texts, rows and inspect's document."""

from __future__ import annotations

import re
import time

from pypod.engine.context import Context
from pypod.errors import InvalidArgument, PypodError
from pypod.store.container_config import ContainerConfig
from pypod.store.containers import ContainerRecord
from pypod.units import parse_time
from pypod.engine.containers.lookup import is_external, log_path, network_names, state_of, store
# (inspect's helpers from parse and spec are imported where inspect uses them: ps needs neither)


def _go_human_size(n: int) -> str:
    """go-units HumanSize: 10000000 → '10MB', 0 → '0B'."""
    x, i = float(n), 0
    while x >= 1000 and i < 5:
        x, i = x / 1000, i + 1
    return f"{x:.4g}{['B', 'kB', 'MB', 'GB', 'TB', 'PB'][i]}"


# -- ps -----------------------------------------------------------------------------------------
class PsFilter:
    KEYS = ("name", "id", "status", "label", "ancestor", "exited", "before", "since", "health", "volume",
            "network", "pod", "until", "restart-policy")

    def __init__(self, filters: list[str]):
        from pypod.engine import filters as parsing

        f = parsing.parse(filters, self.KEYS, ("created", "running", "paused", "stopped", "exited",
                                                "unknown", "configured", "removing", "stopping"))
        for v in f.get("restart-policy", []):
            if v not in ("always", "on-failure", "unless-stopped", "no", "none"):
                raise InvalidArgument(f"{v} invalid restart policy")
        # podman's synonyms: restart-policy none is "no", status stopped is exited
        self.f = {k: [{("restart-policy", "none"): "no", ("status", "stopped"): "exited"}.get((k, v), v)
                      for v in vs] for k, vs in f.items()}

    def match(self, ctx: Context, rec: ContainerRecord, st: dict) -> bool:
        f = self.f
        if "name" in f and not any(re.search(p, rec.name) for p in f["name"]):
            return False
        if "id" in f and not any(rec.id.startswith(p) for p in f["id"]):
            return False
        if "status" in f and _ps_status(st) not in f["status"]:
            return False
        if "label" in f:
            for want in f["label"]:
                k, sep, v = want.partition("=")
                if k not in rec.labels or (sep and rec.labels[k] != v):
                    return False
        if "exited" in f:
            if _ps_status(st) != "exited" or str(st.get("exit_code", 0)) not in f["exited"]:
                return False
        if "ancestor" in f:
            ok = False
            for a in f["ancestor"]:
                if rec.image_id.startswith(a) or rec.image_name == a or rec.image_name.endswith("/" + a) \
                        or rec.image_name.split(":")[0].endswith("/" + a) or rec.image_name.split(":")[0] == a:
                    ok = True
                    break
                from pypod.engine import images as ie

                img = ie.find_image(ctx, a)
                if img and img.id == rec.image_id:
                    ok = True
                    break
            if not ok:
                return False
        if "health" in f:
            h = (st.get("health") or {}).get("status", "")
            if h not in f["health"]:
                return False
        if "restart-policy" in f and rec.config.restart not in f["restart-policy"]:
            return False
        if "pod" in f:
            from pypod.engine import pods

            if not pods.filter_matches(ctx, rec, f["pod"]):
                return False
        return True


def _ps_status(st: dict) -> str:
    s = st.get("status", "created")
    if s == "running" and st.get("stopping"):
        return "stopping"
    return "exited" if s == "stopped" else s


class ContainerView:
    __slots__ = ("record", "state")

    def __init__(self, record: ContainerRecord, state: dict):
        self.record, self.state = record, state


def list_containers(ctx: Context, all_: bool = False, filters: list[str] | None = None,
                    last: int = -1, latest: bool = False, external: bool = False) -> list[ContainerView]:
    """external: the builds' containers too (podman's ps --external: shown whatever their state)."""
    flt = PsFilter(filters or [])
    views = []
    for rec in store(ctx).list():
        if is_external(rec) and (not external or latest or last >= 0):
            continue
        st = state_of(ctx, rec)
        views.append(ContainerView(rec, st))
    views.sort(key=lambda v: parse_time(v.record.created), reverse=True)
    if latest:
        last = 1
    if last >= 0:
        all_ = True
    out = []
    for v in views:
        # podman: only a status filter looks beyond the running ones without -a
        if not all_ and "status" not in flt.f and v.state.get("status") not in ("running", "paused", "stopping") \
                and not is_external(v.record):
            continue
        if not flt.match(ctx, v.record, v.state):
            continue
        out.append(v)
    if last >= 0:
        out = out[:last]
    return out


def status_text(st: dict, now: float | None = None) -> str:
    from pypod.units import human_duration

    now = now or time.time()
    s = st.get("status", "created")
    if s in ("running", "paused", "stopping"):
        started = parse_time(st.get("started_at", ""))
        text = "Up " + human_duration(now - started) + " ago" if started else "Up"  # podman 4.3's wording
        h = (st.get("health") or {}).get("status")
        if h:
            text += f" ({h})"
        if s == "paused":
            text += " (Paused)"
        return text
    if s in ("exited", "stopped"):
        fin = parse_time(st.get("finished_at", ""))
        return f"Exited ({st.get('exit_code', 0)}) " + (human_duration(now - fin) + " ago" if fin else "")
    if s == "created":
        return "Created"
    return s.capitalize()


def _inspect_networks(rec: ContainerRecord, st: dict, running: bool) -> dict:
    """NetworkSettings.Networks: an entry per user network; the address while it runs."""
    live = (st.get("networks") or {}) if running else {}
    out = {}
    for name, ep in rec.config.net.networks.items():
        a = live.get(name) or {}
        out[name] = {"EndpointID": "", "Gateway": a.get("gateway", ""), "IPAddress": a.get("ip", ""),
                     "IPPrefixLen": a.get("prefix", 0), "IPv6Gateway": "", "GlobalIPv6Address": "",
                     "GlobalIPv6PrefixLen": 0, "MacAddress": a.get("mac", ""), "NetworkID": name,
                     "DriverOpts": None, "IPAMConfig": None, "Links": None,
                     "Aliases": [rec.id[:12], *ep.aliases]}
    return out


def ps_row(ctx: Context, v: ContainerView, no_trunc: bool = False) -> dict:
    from pypod.units import go_time, since

    rec, st = v.record, v.state
    created = parse_time(rec.created)
    created_at = go_time(created)  # podman prints .Created and .CreatedAt alike
    started = parse_time(st.get("started_at", ""))
    finished = parse_time(st.get("finished_at", ""))
    cmd = " ".join(rec.command)
    if not no_trunc and len(cmd) > 17:
        cmd = cmd[:17] + "..."
    status = _ps_status(st)
    if is_external(rec):  # as podman shows buildah's
        cmd, status, st = "buildah", "storage", dict(st, status="storage")
    return {
        "ID": rec.id if no_trunc else rec.id[:12], "Id": rec.id,
        "Image": rec.image_name, "ImageID": rec.image_id, "Command": cmd,
        "CreatedHuman": since(created), "Created": created_at, "CreatedAt": created_at,
        "RunningFor": since(created), "Status": status_text(st), "State": status,
        "Ports": format_ports(rec), "Names": rec.name, "Labels": rec.labels or {},
        "ExitCode": st.get("exit_code") or 0, "Exited": status == "exited", "ExitedAt": int(finished),
        "StartedAt": int(started), "Pid": st.get("pid", 0) if status == "running" else 0,
        "Size": "", "Mounts": [m.split(":")[1] for m in rec.config.volumes if ":" in m],
        "Networks": ",".join(network_names(rec)),  # podman's psReporter joins them
        **_pod_fields(ctx, rec, no_trunc), "AutoRemove": bool(rec.config.rm),
        "Namespaces": {}, "Restarts": st.get("restart_count", 0),
    }


def _pod_fields(ctx: Context, rec: ContainerRecord, no_trunc: bool) -> dict:
    pid = rec.config.pod
    if not pid:
        return {"Pod": "", "PodName": "", "IsInfra": False}
    from pypod.engine import pods

    return {"Pod": pid if no_trunc else pid[:12], "PodName": pods.pod_name(ctx, pid),
            "IsInfra": rec.config.infra}


def format_ports(rec: ContainerRecord) -> str:
    ports = rec.config.net.ports
    if not ports:
        return ""
    from pypod.network.ports import format_ps

    return format_ps(ports)


def _json_ports(rec: ContainerRecord) -> list | None:
    ports = rec.config.net.ports
    if not ports:
        return None
    from pypod.network.ports import json_ports

    return json_ports(ports)


def ps_json(ctx: Context, v: ContainerView) -> dict:
    rec, st = v.record, v.state
    d = {
        "AutoRemove": bool(rec.config.rm), "Command": rec.command, "CreatedAt": since_text(rec.created),
        "Exited": _ps_status(st) == "exited", "ExitedAt": _unix_or_zero(st.get("finished_at", "")),
        "ExitCode": st.get("exit_code") or 0, "Id": rec.id, "Image": rec.image_name, "ImageID": rec.image_id,
        "IsInfra": False, "Labels": rec.labels or None, "Mounts": [], "Names": [rec.name], "Namespaces": {},
        "Networks": network_names(rec), "Pid": st.get("pid", 0), **_pod_fields(ctx, rec, True),
        "Ports": _json_ports(rec), "Size": None,
        "StartedAt": _unix_or_zero(st.get("started_at", "")), "State": _ps_status(st),
        "Status": status_text(st), "Created": int(parse_time(rec.created)),
    }
    if is_external(rec):  # as podman shows buildah's
        d.update(Command=["buildah"], State="storage", Status="Storage", Exited=False, ExitedAt=0,
                 ExitCode=0, Pid=0, StartedAt=0, Labels=None, Mounts=None, Networks=None, Ports=None)
    return d


GO_ZERO_TIME = -62135596800  # Go's time.Time{} as a Unix time, which podman prints for "never"


def _unix_or_zero(ts: str) -> int:
    t = parse_time(ts)
    return int(t) if t else GO_ZERO_TIME


def since_text(ts: str) -> str:
    from pypod.units import since

    t = parse_time(ts)
    return since(t) if t else ""


# -- inspect ------------------------------------------------------------------------------------
def _image_digest(ctx: Context, rec: ContainerRecord) -> str:
    """The manifest digest of the container's image ("" for --rootfs or a removed image)."""
    img = ctx.images.get(rec.image_id) if rec.image_id else None
    return img.digest if img is not None else ""


def inspect_container(ctx: Context, rec: ContainerRecord, size: bool = False) -> dict:
    st = state_of(ctx, rec)
    o = rec.config
    cdir = store(ctx).dir(rec.id)
    status = _ps_status(st)
    running = status in ("running", "paused")
    hc = o.healthcheck
    health = st.get("health") or {}
    from pypod.template import GoTime  # printed by templates as Go prints a time.Time

    zero = "0001-01-01T00:00:00Z"
    state = {
        "OciVersion": "1.0.2-dev", "Status": status, "Running": running, "Paused": status == "paused",
        "Restarting": False, "OOMKilled": bool(st.get("oom_killed")), "Dead": False,
        "Pid": st.get("pid", 0) if running else 0, "ConmonPid": st.get("supervisor_pid", 0) if running else 0,
        "ExitCode": st.get("exit_code") or 0, "Error": st.get("error", ""),
        "StartedAt": GoTime(st.get("started_at") or zero), "FinishedAt": GoTime(st.get("finished_at") or zero),
        "CheckpointedAt": GoTime(zero), "RestoredAt": GoTime(zero), "CgroupPath": "",
    }
    if hc:
        state["Health"] = {"Status": health.get("status", "starting"), "FailingStreak": health.get("failing_streak", 0),
                           "Log": [{"Start": l.get("start", ""), "End": l.get("end", ""),
                                    "ExitCode": l.get("exit_code", 0), "Output": l.get("output", "")}
                                   for l in health.get("log", [])]}
        state["Healthcheck"] = state["Health"]
    mounts = []
    if o.resolved_mounts is not None:
        from pypod.engine.mounts import inspect_mounts

        mounts = inspect_mounts(o.resolved_mounts)
    for m in ([] if o.resolved_mounts is not None else _bind_mounts_safe(o)):
        mounts.append({"Type": m.type, "Source": m.source, "Destination": m.destination, "Driver": "",
                       "Mode": "", "Options": [x for x in m.options if x not in ("ro", "rw")],
                       "RW": "ro" not in m.options, "Propagation": "rprivate" if m.type == "bind" else ""})
    config = {
        "Hostname": o.hostname or rec.id[:12], "Domainname": "", "User": o.user,
        "AttachStdin": False, "AttachStdout": False, "AttachStderr": False, "Tty": bool(o.tty),
        "OpenStdin": bool(o.interactive), "StdinOnce": False, "Env": o.env,
        "Cmd": rec.cmd or None, "Image": rec.image_name, "Volumes": None, "WorkingDir": o.workdir,
        "Entrypoint": " ".join(rec.entrypoint) if rec.entrypoint else "", "OnBuild": None,
        "Labels": rec.labels or None, "Annotations": rec.annotations or {},
        "StopSignal": o.stop_signal, "StopTimeout": o.stop_timeout,
        "CreateCommand": o.create_command, "Umask": o.umask, "Timeout": 0,
        "Timezone": o.tz,
        "Passwd": o.passwd, "sdNotifyMode": "container",
    }
    if hc:
        config["Healthcheck"] = hc.inspect()
    net = o.network
    from pypod.engine import networks as netmod

    try:
        from pypod.engine.containers.parse import parse_limits

        lim = parse_limits(o.resources)  # what was asked (v1 rootless: not applied)
    except PypodError:
        from pypod.store.container_config import Limits

        lim = Limits()
    port_map: dict = {}
    if o.net.ports:
        from pypod.network.ports import inspect_ports

        port_map = inspect_ports(o.net.ports)
    for key in o.expose:  # --expose without -p: listed with no binding, as podman
        port_map.setdefault(key, None)
    from pypod.engine.containers.spec import _inspect_caps

    caps = _inspect_caps(o)
    host_config = {
        "Binds": [v for v in o.volumes if ":" in v], "CgroupManager": "cgroupfs", "CgroupMode": "host",
        "ContainerIDFile": o.cidfile,
        "LogConfig": {"Type": o.log_driver, "Config": None,
                      "Path": str(log_path(ctx, rec) or ""), "Tag": o.log_opts.tag,
                      "Size": _go_human_size(o.log_opts.max_bytes)},
        "Devices": [dict(d) for d in o.devices], "Sysctls": dict(o.sysctls),
        "NetworkMode": netmod.display_mode(net, ctx.rootless),
        "PortBindings": port_map, "RestartPolicy": {"Name": o.restart if o.restart != "no" else "",
                                               "MaximumRetryCount": o.restart_max},
        "AutoRemove": bool(o.rm), "VolumeDriver": "", "VolumesFrom": None,
        "CapAdd": caps["CapAdd"], "CapDrop": caps["CapDrop"],
        "Dns": o.dns, "DnsOptions": o.dns_option, "DnsSearch": o.dns_search,
        "ExtraHosts": o.add_host, "GroupAdd": list(o.group_add),
        "Init": bool(o.init), "IpcMode": "shareable", "Cgroup": "",
        "Cgroups": "default", "Links": None, "OomScoreAdj": o.oom_score_adj or 0, "PidMode": "private", "Privileged": bool(o.privileged),
        "PublishAllPorts": bool(o.publish_all), "ReadonlyRootfs": bool(o.read_only),
        "SecurityOpt": list(o.security_opt),
        "Tmpfs": {t.partition(":")[0]: t.partition(":")[2] for t in o.tmpfs}, "UTSMode": "private",
        "UsernsMode": o.userns, "ShmSize": int(o.shm_size or 65536000), "Runtime": "oci", "ConsoleSize": [0, 0],
        "CpuShares": lim.cpu_shares, "Memory": lim.memory,
        "MemorySwap": lim.memory_swap, "CpusetCpus": lim.cpuset_cpus,
        # PidsLimit: podman shows containers.conf's pids_limit (2048) when none was given
        "NanoCpus": int(lim.cpus * 1e9), "PidsLimit": lim.pids_limit or 2048,
        "Ulimits": [{"Name": n, "Soft": sft, "Hard": hrd} for n, sft, hrd in o.ulimits],
        # resource fields pypod has no option for: podman's zero values, so templates find them
        "BlkioWeight": 0, "BlkioWeightDevice": None, "BlkioDeviceReadBps": None, "BlkioDeviceWriteBps": None,
        "BlkioDeviceReadIOps": None, "BlkioDeviceWriteIOps": None, "CgroupConf": None, "CgroupParent": "",
        "CpuCount": 0, "CpuPercent": 0, "CpuPeriod": 0, "CpuQuota": 0, "CpuRealtimePeriod": 0,
        "CpuRealtimeRuntime": 0, "CpusetMems": "", "DiskQuota": 0, "IOMaximumBandwidth": 0, "IOMaximumIOps": 0,
        "Isolation": "", "KernelMemory": 0, "MemoryReservation": 0, "MemorySwappiness": 0, "OomKillDisable": False,
    }
    return {
        "Id": rec.id, "Created": GoTime(rec.created), "Path": rec.command[0] if rec.command else "",
        "Args": rec.command[1:], "State": state, "Image": rec.image_id, "ImageDigest": _image_digest(ctx, rec),
        "ImageName": rec.image_name, "Rootfs": rec.rootfs or "", "Pod": rec.config.pod,
        "ResolvConfPath": str(cdir / "resolv.conf"), "HostnamePath": str(cdir / "hostname"),
        "HostsPath": str(cdir / "hosts"), "StaticDir": str(cdir), "OCIConfigPath": str(cdir / "spec.json"),
        "OCIRuntime": "pypod", "ConmonPidFile": o.conmon_pidfile, "PidFile": o.pidfile, "Name": rec.name,
        "RestartCount": st.get("restart_count", 0), "Driver": "overlay", "MountLabel": "", "ProcessLabel": "",
        "AppArmorProfile": "", "EffectiveCaps": caps["EffectiveCaps"], "BoundingCaps": caps["BoundingCaps"], "ExecIDs": st.get("exec_ids", []),
        "GraphDriver": {"Name": "overlay", "Data": {"UpperDir": str(cdir / "upper"), "WorkDir": str(cdir / "work")}},
        "Mounts": mounts, "Dependencies": [],
        "NetworkSettings": {"EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0,
                            "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
                            "MacAddress": "", "Bridge": "", "SandboxID": "", "HairpinMode": False,
                            "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0, "Ports": port_map,
                            "SandboxKey": f"/proc/{st.get('pid', 0)}/ns/net" if running else "",
                            "Networks": _inspect_networks(rec, st, running)},
        "Namespace": "", "IsInfra": False, "IsService": False, "Config": config, "HostConfig": host_config,
        "SizeRw": 0 if size else None, "SizeRootFs": 0 if size else None,
    }


def _bind_mounts_safe(o: ContainerConfig) -> list:
    from pypod.engine.containers.spec import _bind_mounts

    try:
        return _bind_mounts(o)
    except PypodError:
        return []
