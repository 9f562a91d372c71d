"""What `pod ps`, `pod inspect`, `pod top` and `pod logs` show: podman 4.3's reports of pods
(engine/pods.py keeps and changes them)."""

from __future__ import annotations

import re

from pypod.engine.context import Context
from pypod.engine.pods import _ctr_status, _member_states, members, pod_status, store
from pypod.errors import PypodError
from pypod.store.pods import PodRecord


class PodFilter:
    KEYS = ("id", "name", "label", "status", "ctr-names", "ctr-ids", "ctr-number", "ctr-status", "network")

    def __init__(self, filters: list[str]):
        from pypod.engine import filters as parsing

        self.f = parsing.parse(filters, self.KEYS, ("stopped", "running", "paused", "exited", "dead",
                                                    "created", "degraded"))

    def match(self, row: dict, recs: list) -> bool:
        f = self.f
        if "id" in f and not any(row["Id"].startswith(p) for p in f["id"]):
            return False
        if "name" in f and not any(re.search(p, row["Name"]) for p in f["name"]):
            return False
        if "status" in f and row["Status"].lower() not in f["status"]:
            return False
        if "label" in f:
            for want in f["label"]:
                k, sep, v = want.partition("=")
                if k not in row["Labels"] or (sep and row["Labels"][k] != v):
                    return False
        if "ctr-names" in f and not any(re.search(p, r.name) for p in f["ctr-names"] for r in recs):
            return False
        if "ctr-ids" in f and not any(r.id.startswith(p) for p in f["ctr-ids"] for r in recs):
            return False
        if "ctr-number" in f and str(len(recs)) not in f["ctr-number"]:
            return False
        if "ctr-status" in f and not any(s in f["ctr-status"] for s in row["ContainerStatuses"]):
            return False
        return True


def list_pods(ctx: Context, filters: list[str] | None = None, no_trunc: bool = False) -> list[dict]:
    """pod ps rows (podman's ListPodsReport fields), newest first."""
    from pypod.engine import containers as ce
    from pypod.units import since

    flt = PodFilter(filters or [])
    rows = []
    every = ce.store(ctx).list()  # read once for all the pods
    for pod in store(ctx).list():
        states = _member_states(ctx, pod, every)
        infra = next((r for r, _ in states if r.id == pod.infra_id), None)
        statuses = [_ctr_status(st) for _, st in states]
        created = ce.parse_time(pod.created)
        short = (lambda i: i) if no_trunc else (lambda i: i[:12])
        row = {
            "ID": short(pod.id), "Id": pod.id, "Name": pod.name, "Status": pod_status(statuses),
            "Created": since(created), "CreatedUnix": created, "InfraID": short(pod.infra_id),
            "InfraId": pod.infra_id, "NumberOfContainers": len(states), "Labels": dict(pod.labels),
            "ContainerNames": ",".join(r.name for r, _ in states),
            "ContainerIds": ",".join(short(r.id) for r, _ in states),
            "ContainerStatuses": ",".join(statuses), "Cgroup": "",
            "Networks": ",".join(ce.network_names(infra)) if infra else "",
            "Namespace": "", "Containers": [{"Id": r.id, "Names": r.name, "Status": s}
                                            for (r, _), s in zip(states, statuses)],
        }
        if flt.match(row, [r for r, _ in states]):
            rows.append(row)
    rows.sort(key=lambda r: r["CreatedUnix"], reverse=True)
    return rows


def ps_json(row: dict) -> dict:
    from pypod.units import rfc3339_nano

    return {"Cgroup": "", "Containers": row["Containers"], "Created": rfc3339_nano(row["CreatedUnix"]),
            "Id": row["Id"], "InfraId": row["InfraId"], "Name": row["Name"], "Namespace": "",
            "Networks": [n for n in row["Networks"].split(",") if n], "Status": row["Status"],
            "Labels": row["Labels"]}


def inspect_pod(ctx: Context, pod: PodRecord) -> dict:
    states = _member_states(ctx, pod)
    statuses = [_ctr_status(st) for _, st in states]
    infra_cfg = pod.infra_config or {}
    bindings: dict = {}
    infra = next((r for r, _ in states if r.id == pod.infra_id), None)
    for p in (infra.config.net.ports) if infra else []:
        key = f"{p.get('container_port')}/{p.get('protocol', 'tcp')}"
        bindings.setdefault(key, []).append({"HostIp": p.get("host_ip") or "",
                                             "HostPort": str(p.get("host_port"))})
    network = infra_cfg.get("network") or ""
    d = {
        "Id": pod.id, "Name": pod.name, "Created": pod.created, "CreateCommand": pod.create_command or None,
        "ExitPolicy": pod.exit_policy, "State": pod_status(statuses), "Hostname": pod.hostname,
        "Labels": dict(pod.labels) or None, "CreateCgroup": False, "CreateInfra": bool(pod.infra_id),
    }
    if pod.infra_id:
        d["InfraContainerID"] = pod.infra_id
        d["InfraConfig"] = {
            "PortBindings": bindings, "HostNetwork": network == "host", "StaticIP": "", "StaticMAC": "",
            "NoManageResolvConf": False, "DNSServer": infra_cfg.get("dns") or None,
            "DNSSearch": infra_cfg.get("dns_search") or None, "DNSOption": infra_cfg.get("dns_option") or None,
            "NoManageHosts": False, "HostAdd": infra_cfg.get("add_host") or None,
            "Networks": [network] if network and network not in ("host", "private", "none")
            and not network.startswith(("slirp4netns", "pasta")) else None,
            "NetworkOptions": None, "pid_ns": "private", "userns": infra_cfg.get("userns") or "host",
            "uts_ns": "private",
        }
    d["SharedNamespaces"] = list(pod.shared) or None
    d["NumContainers"] = len(states)
    d["Containers"] = [{"Id": r.id, "Name": r.name, "State": s} for (r, _), s in zip(states, statuses)]
    if pod.volumes:
        d["Mounts"] = list(pod.volumes)
    return d


def top(ctx: Context, pod: PodRecord) -> list[list[str]]:
    """The processes of every running member (podman: one table)."""
    from pypod.engine import containers as ce

    rows: list[list[str]] = []
    running = [r for r, st in _member_states(ctx, pod) if st.get("status") == "running"]
    for r in running:  # (none running: podman 4.3 prints nothing and exits 0)
        try:
            t = ce.top(ctx, r)
        except PypodError:
            continue
        rows.extend(t if not rows else t[1:])
    return rows


def log_members(ctx: Context, pod: PodRecord, container: str | None = None) -> list[str]:
    recs = [r for r in members(ctx, pod) if not r.config.infra]
    if container:
        recs = [r for r in recs if r.name == container or r.id.startswith(container)]
        if not recs:
            raise PypodError(f"container {container} is not in pod {pod.name}: no such container")
    return [r.id for r in recs]
