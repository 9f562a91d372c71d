"""Compose's config hash, byte for byte: sha256 of Go's json.Marshal of compose-go's ServiceConfig
(build, pull_policy, scale, deploy.replicas, depends_on and profiles left out). The normalised model
has the values Compose marshals; Go writes a struct's fields in declaration order (maps sorted), so
the keys are put in that order here. With the same hash, `docker compose` pointed at pypod's API and
`pypod compose` each take the other's containers as up to date."""

from __future__ import annotations

import hashlib
import json

# compose-go's struct field orders (json tags), for the structs a service's model holds
_PORT = ("name", "mode", "host_ip", "target", "published", "protocol", "app_protocol")
_BIND = ("selinux", "propagation", "create_host_path", "recursive")
_VOLUME_OPTS = ("labels", "nocopy", "subpath")
_TMPFS = ("size", "mode")
_HEALTH = ("test", "timeout", "interval", "retries", "start_period", "start_interval", "disable")
_SERVICE_NET = ("aliases", "driver_opts", "gw_priority", "interface_name", "ipv4_address", "ipv6_address",
                "link_local_ips", "mac_address", "priority")
_FILE_REF = ("source", "target", "uid", "gid", "mode")
_RESOURCE = ("cpus", "memory", "pids", "devices", "generic_resources")
_UPDATE = ("parallelism", "delay", "failure_action", "monitor", "max_failure_ratio", "order")

STRUCT = "struct"
MAP = "map"
LIST = "list"


def _struct(fields, **sub) -> tuple:
    return (STRUCT, tuple((f, sub.get(f)) for f in fields))


_SCHEMA = _struct(
    ("profiles", "annotations", "attach", "build", "develop", "blkio_config", "cap_add", "cap_drop",
     "cgroup_parent", "cgroup", "cpu_count", "cpu_percent", "cpu_period", "cpu_quota", "cpu_rt_period",
     "cpu_rt_runtime", "cpus", "cpuset", "cpu_shares", "command", "configs", "container_name",
     "credential_spec", "depends_on", "deploy", "device_cgroup_rules", "devices", "dns", "dns_opt",
     "dns_search", "dockerfile", "domainname", "entrypoint", "provider", "environment", "env_file", "expose",
     "extends", "external_links", "extra_hosts", "group_add", "gpus", "hostname", "healthcheck", "image",
     "init", "ipc", "isolation", "labels", "label_file", "links", "logging", "log_driver", "log_opt",
     "mem_limit", "mem_reservation", "memswap_limit", "mem_swappiness", "mac_address", "models", "net",
     "network_mode", "networks", "oom_kill_disable", "oom_score_adj", "pid", "pids_limit", "platform", "ports",
     "privileged", "pull_policy", "read_only", "restart", "runtime", "scale", "secrets", "security_opt",
     "shm_size", "stdin_open", "stop_grace_period", "stop_signal", "storage_opt", "sysctls", "tmpfs", "tty",
     "ulimits", "use_api_socket", "user", "userns_mode", "uts", "volume_driver", "volumes", "volumes_from",
     "working_dir", "post_start", "pre_stop"),
    configs=(LIST, _struct(_FILE_REF)),
    secrets=(LIST, _struct(_FILE_REF)),
    deploy=_struct(("mode", "replicas", "labels", "update_config", "rollback_config", "resources",
                    "restart_policy", "placement", "endpoint_mode"),
                   update_config=_struct(_UPDATE), rollback_config=_struct(_UPDATE),
                   resources=_struct(("limits", "reservations"), limits=_struct(_RESOURCE),
                                     reservations=_struct(_RESOURCE)),
                   restart_policy=_struct(("condition", "delay", "max_attempts", "window")),
                   placement=_struct(("constraints", "preferences", "max_replicas_per_node"))),
    devices=(LIST, _struct(("source", "target", "permissions"))),
    extends=_struct(("file", "service")),
    healthcheck=_struct(_HEALTH),
    logging=_struct(("driver", "options")),
    networks=(MAP, _struct(_SERVICE_NET)),
    ports=(LIST, _struct(_PORT)),
    ulimits=(MAP, _struct(("single", "soft", "hard"))),
    volumes=(LIST, _struct(("type", "source", "target", "read_only", "consistency", "bind", "volume", "tmpfs",
                            "image"),
                           bind=_struct(_BIND), volume=_struct(_VOLUME_OPTS), tmpfs=_struct(_TMPFS))),
)


def _ordered(value, schema):
    """`value` with its dicts' keys in Go's marshalling order."""
    if isinstance(value, dict):
        if schema and schema[0] == STRUCT:
            fields = schema[1]
            known = {f for f, _ in fields}
            out = {f: _ordered(value[f], sub) for f, sub in fields if f in value}
            # a key this compose-go has no field for: after the known ones, by name
            out.update({k: _ordered(value[k], None) for k in sorted(value) if k not in known})
            return out
        sub = schema[1] if schema and schema[0] == MAP else None
        return {k: _ordered(value[k], sub) for k in sorted(value)}
    if isinstance(value, list):
        sub = schema[1] if schema and schema[0] == LIST else None
        return [_ordered(v, sub) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # Go prints a whole float without ".0"
    return value


def go_json(value) -> str:
    """Go's json.Marshal text: compact, <>& and U+2028/9 escaped, other characters as UTF-8."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                    ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def service_hash(svc: dict) -> str:
    o = {k: v for k, v in svc.items() if k not in ("build", "pull_policy", "scale", "depends_on", "profiles")}
    if isinstance(o.get("deploy"), dict):
        o["deploy"] = {k: v for k, v in o["deploy"].items() if k != "replicas"}
    return _digest(o, _SCHEMA)


_NETWORK = _struct(("name", "driver", "driver_opts", "ipam", "external", "internal", "attachable", "labels",
                    "enable_ipv4", "enable_ipv6"),
                   ipam=_struct(("driver", "config"),
                                config=(LIST, _struct(("subnet", "gateway", "ip_range", "aux_addresses")))))
_VOLUME = _struct(("name", "driver", "driver_opts", "external", "labels"))


def _digest(value, schema) -> str:
    return hashlib.sha256(go_json(_ordered(value, schema)).encode()).hexdigest()


def network_hash(net: dict) -> str:
    """Compose's NetworkHash of a top-level network (its com.docker.compose.config-hash label)."""
    return _digest(net, _NETWORK)


def volume_hash(vol: dict) -> str:
    """Compose's VolumeHash (an empty driver counts as "local")."""
    return _digest({**vol, "driver": vol.get("driver") or "local"}, _VOLUME)
