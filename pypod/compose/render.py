"""The model printed as `docker compose config` prints it: JSON with every service's command and
entrypoint (null when unset) and no service extensions; YAML with Go's struct field order, maps
sorted, empty structs left out, strings double-quoted where YAML would read them otherwise.
`$` is written `$$` in both, so the output reads back as the same model."""

from __future__ import annotations

from pypod.compose.normalize import SERVICE_ORDER

_ORDERS = {
    "top": "name services networks volumes secrets configs models".split(),
    "service": SERVICE_ORDER,
    "build": ("context dockerfile dockerfile_inline entitlements args provenance sbom ssh labels cache_from "
              "cache_to no_cache no_cache_filter additional_contexts pull extra_hosts isolation network target "
              "secrets shm_size tags ulimits platforms privileged").split(),
    "port": "name mode host_ip target published protocol app_protocol".split(),
    "mount": "type source target read_only consistency bind volume tmpfs image".split(),
    "bind": "selinux propagation create_host_path recursive".split(),
    "tmpfs": "size mode".split(),
    "ipam": "driver config options".split(),
    "pool": "subnet ip_range gateway aux_addresses".split(),
    "healthcheck": "test timeout interval retries start_period start_interval disable".split(),
    "deploy": ("mode replicas labels update_config rollback_config resources restart_policy placement "
               "endpoint_mode").split(),
    "resources": "limits reservations".split(),
    "limits": "cpus memory pids devices generic_resources".split(),
    "depends": "condition restart required".split(),
    "attachment": ("aliases interface_name ipv4_address ipv6_address link_local_ips mac_address driver_opts "
                   "priority gw_priority").split(),
    "network": ("name driver driver_opts ipam external internal attachable labels enable_ipv4 "
                "enable_ipv6").split(),
    "volume": "name driver driver_opts external labels".split(),
    "secret": "name content environment file external labels driver driver_opts template_driver".split(),
    "filemount": "source target uid gid mode".split(),
    "ulimit": "single soft hard".split(),
    "watch": "path action target exec include ignore initial_sync".split(),
    "update": "parallelism delay failure_action monitor max_failure_ratio order".split(),
    "restart_policy": "condition delay max_attempts window".split(),
    "placement": "constraints preferences max_replicas_per_node".split(),
    "device": "source target permissions".split(),
}


def escape(v):
    if isinstance(v, dict):
        return {k: escape(x) for k, x in v.items()}
    if isinstance(v, list):
        return [escape(x) for x in v]
    if isinstance(v, str):
        return v.replace("$", "$$")
    return v


def to_json(model: dict) -> str:
    import json

    model = escape(model)
    for svc in model.get("services", {}).values():
        svc.setdefault("command", None)
        svc.setdefault("entrypoint", None)
        for k in [k for k in svc if k.startswith("x-")]:  # a service's extensions are YAML-only
            del svc[k]
    return json.dumps(model, indent=2, ensure_ascii=False)


def _order(d: dict, kind: str | None) -> dict:
    order = _ORDERS.get(kind or "", ())
    rank = {k: i for i, k in enumerate(order)}
    return dict(sorted(d.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])))


def _shape(v, kind: str | None):
    """Order every mapping as Go prints it: a struct's fields in declaration order, a map sorted."""
    if isinstance(v, list):
        return [_shape(x, kind) for x in v]
    if not isinstance(v, dict):
        return v
    children = {
        "top": {"services": "services", "networks": "networks", "volumes": "volumes", "secrets": "secrets",
                "configs": "secrets"},
        "service": {"build": "build", "ports": "port", "volumes": "mount", "healthcheck": "healthcheck",
                    "deploy": "deploy", "depends_on": "depends_map", "networks": "attachment_map",
                    "secrets": "filemount", "configs": "filemount", "ulimits": "ulimit_map", "devices": "device",
                    "develop": "develop"},
        "develop": {"watch": "watch"},
        "mount": {"bind": "bind", "tmpfs": "tmpfs"},
        "network": {"ipam": "ipam"},
        "ipam": {"config": "pool"},
        "deploy": {"resources": "resources", "update_config": "update", "rollback_config": "update",
                   "restart_policy": "restart_policy", "placement": "placement"},
        "resources": {"limits": "limits", "reservations": "limits"},
    }.get(kind or "", {})
    maps = {"services": "service", "networks": "network", "volumes": "volume", "secrets": "secret",
            "depends_map": "depends", "attachment_map": "attachment", "ulimit_map": "ulimit"}
    if kind in maps:
        return {k: _shape(x, maps[kind]) for k, x in sorted(v.items())}
    out = _order(v, kind)
    return {k: _shape(x, children.get(k)) for k, x in out.items()}


def to_yaml(model: dict) -> str:
    from pypod.compose.yamlfile import dump

    model = escape(model)
    for svc in model.get("services", {}).values():
        for k in ("command", "entrypoint"):
            if svc.get(k) is None:
                svc.pop(k, None)
        for w in (svc.get("develop") or {}).get("watch") or []:
            if w.get("exec") == {"command": None}:
                del w["exec"]
        d = svc.get("deploy")
        if isinstance(d, dict):  # empty structs: JSON prints them, YAML leaves them out
            for k in ("placement", "resources"):
                if d.get(k) == {}:
                    del d[k]
    for net in model.get("networks", {}).values():
        if net.get("ipam") == {}:
            del net["ipam"]
    return dump(_shape(model, "top"))
