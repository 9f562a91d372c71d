"""How several compose files (and `extends`) merge: compose-go's override rules, then unicity.

Mappings merge key by key, sequences append, scalars are replaced — except where Compose says
otherwise (command/entrypoint/healthcheck.test replaced whole; environment, labels, … merged as
KEY=VALUE sequences; depends_on/networks as mappings). After a merge, lists whose entries have an
identity (ports, volumes by target, env by key, …) keep one entry per identity, the last one winning.
"""

from __future__ import annotations

from pypod.compose.errors import ComposeError
from pypod.compose.interpolate import matches

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _seq(value) -> list:
    if isinstance(value, dict):
        seq = []
        for k, v in value.items():
            if v is None:
                seq.append(k)
            elif isinstance(v, list):
                seq.extend(f"{k}={_go(x)}" for x in v)
            else:
                seq.append(f"{k}={_go(v)}")
        return sorted(seq)
    if isinstance(value, list):
        return list(value)
    if isinstance(value, str):
        return [value]
    return []


def _go(v) -> str:
    """fmt.Sprint of a YAML scalar."""
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, float):
        if v != v:
            return "NaN"
        if v in (float("inf"), float("-inf")):
            return "+Inf" if v > 0 else "-Inf"
        if v.is_integer() and abs(v) < 1e21:
            return str(int(v))
    return str(v)


def _mapping(value, default: dict | None) -> dict:
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        return {s: (dict(default) if default is not None else None) for s in value}
    return {}


def _to_sequence(a, b, path):
    return _seq(a) + _seq(b)


def _override(a, b, path):
    return b


def _extra_hosts(a, b, path):
    left, right = _seq(a), _seq(b)
    return left + [x for x in right if x not in left]


def _depends_on(a, b, path):
    d = {"condition": "service_started", "required": True}
    return _merge_mappings(_mapping(a, d), _mapping(b, d), path)


def _networks(a, b, path):
    return _merge_mappings(_mapping(a, None), _mapping(b, None), path)


def _build(a, b, path):
    def as_map(v):
        return {"context": v} if isinstance(v, str) else v

    return _merge_mappings(as_map(a), as_map(b), path)


def _logging(a, b, path):
    if not isinstance(a, dict) or not isinstance(b, dict):
        return b
    if "driver" not in a or "driver" not in b or a["driver"] == b["driver"]:
        return _merge_mappings(a, b, path)
    return b


def _ulimit(a, b, path):
    return b


def _ipam_config(a, b, path):
    if not isinstance(a, list) or not isinstance(b, list):
        raise ComposeError(f"{'.'.join(path)}: unexpected type")
    out: list = []
    for original in a:
        for over in b:
            if over.get("subnet") != original.get("subnet") and not any(
                    c.get("subnet") == over.get("subnet") for c in out):
                out.append(over)
                continue
            merged = _merge_mappings(dict(original), over, path)
            idx = next((i for i, c in enumerate(out) if c.get("subnet") == merged.get("subnet")), -1)
            if idx >= 0:
                out[idx] = merged
            else:
                out.append(merged)
    return out


SPECIALS = {
    "networks.*.ipam.config": _ipam_config,
    "networks.*.labels": _to_sequence, "volumes.*.labels": _to_sequence,
    "services.*.annotations": _to_sequence, "services.*.build": _build,
    "services.*.build.args": _to_sequence, "services.*.build.additional_contexts": _to_sequence,
    "services.*.build.extra_hosts": _extra_hosts, "services.*.build.labels": _to_sequence,
    "services.*.command": _override, "services.*.depends_on": _depends_on,
    "services.*.deploy.labels": _to_sequence, "services.*.dns": _to_sequence,
    "services.*.dns_opt": _to_sequence, "services.*.dns_search": _to_sequence,
    "services.*.entrypoint": _override, "services.*.env_file": _to_sequence,
    "services.*.label_file": _to_sequence, "services.*.environment": _to_sequence,
    "services.*.extra_hosts": _extra_hosts, "services.*.healthcheck.test": _override,
    "services.*.labels": _to_sequence, "services.*.volumes.*.volume.labels": _to_sequence,
    "services.*.logging": _logging, "services.*.models": _networks, "services.*.networks": _networks,
    "services.*.sysctls": _to_sequence, "services.*.tmpfs": _to_sequence, "services.*.ulimits.*": _ulimit,
}


def merge(a: Any, b: Any, path: tuple[str, ...] = ()) -> Any:
    """b merged over a (both YAML trees); a is modified and returned."""
    for pattern, fn in SPECIALS.items():
        if matches(path, pattern):
            return fn(a, b, path)
    if b is None:
        return a
    if isinstance(a, dict):
        if not isinstance(b, dict):
            raise ComposeError(f"cannot override {'.'.join(path)}")
        return _merge_mappings(a, b, path)
    if isinstance(a, list):
        if not isinstance(b, list):
            raise ComposeError(f"cannot override {'.'.join(path)}")
        return a + b
    return b


def _merge_mappings(a: dict, b: dict, path) -> dict:
    for k, v in b.items():
        if k not in a:
            a[k] = v
        else:
            a[k] = merge(a[k], v, path + (k,))
    return a


# -- unicity -------------------------------------------------------------------------------------
def _kv_key(v, where):
    if not isinstance(v, str):
        raise ComposeError(f"{where}: unexpected type {type(v).__name__}")
    return v.split("=", 1)[0]


def _volume_key(v, where):
    if isinstance(v, dict):
        t = v.get("target")
        if not isinstance(t, str):
            raise ComposeError(f"service volume {where} is missing a mount target")
        return t
    if isinstance(v, str):
        from pypod.compose.canonical import parse_volume

        return parse_volume(v)["target"]
    return ""


def _device_key(v, where):
    if isinstance(v, dict):
        return v.get("target", "")
    if isinstance(v, str):
        parts = v.split(":")
        return parts[0] if len(parts) == 1 else parts[1]
    return ""


def _expose_key(v, where):
    if isinstance(v, (dict, list)) or isinstance(v, bool):
        raise ComposeError(f"{where}: unsupported expose value {v}")
    return str(v)


def _mount_key(default):
    def key(v, where):
        if isinstance(v, str):
            return f"{default}/{v}"
        if isinstance(v, dict):
            return v["target"] if "target" in v else f"{default}/{v.get('source')}"
        raise ComposeError(f"{where}: unsupported value {v}")
    return key


def _port_key(v, where):
    if isinstance(v, dict):
        if "target" not in v:
            raise ComposeError(f"service ports {where} is missing a target port")
        pub = v.get("published")
        return f"{v.get('host_ip', '0.0.0.0')}:{'%!s(<nil>)' if pub is None else pub}:{v['target']}/{v.get('protocol', 'tcp')}"
    return str(v)


def _env_file_key(v, where):
    if isinstance(v, dict):
        if "path" not in v:
            raise ComposeError(f"environment path attribute {where} is missing")
        return v["path"]
    return v


UNIQUE = {
    "networks.*.labels": _kv_key, "networks.*.ipam.options": _kv_key, "services.*.annotations": _kv_key,
    "services.*.build.args": _kv_key, "services.*.build.additional_contexts": _kv_key,
    "services.*.build.platform": _kv_key, "services.*.build.tags": _kv_key, "services.*.build.labels": _kv_key,
    "services.*.cap_add": _kv_key, "services.*.cap_drop": _kv_key, "services.*.configs": _mount_key(""),
    "services.*.deploy.labels": _kv_key, "services.*.dns": _kv_key, "services.*.dns_opt": _kv_key,
    "services.*.dns_search": _kv_key, "services.*.environment": _kv_key, "services.*.env_file": _env_file_key,
    "services.*.expose": _expose_key, "services.*.labels": _kv_key, "services.*.links": _kv_key,
    "services.*.networks.*.aliases": _kv_key, "services.*.networks.*.link_local_ips": _kv_key,
    "services.*.ports": _port_key, "services.*.profiles": _kv_key,
    "services.*.secrets": _mount_key("/run/secrets"), "services.*.sysctls": _kv_key,
    "services.*.tmpfs": _kv_key, "services.*.volumes": _volume_key, "services.*.devices": _device_key,
}


def enforce_unicity(value: Any, path: tuple[str, ...] = ()) -> Any:
    if isinstance(value, dict):
        for k in list(value):
            value[k] = enforce_unicity(value[k], path + (k,))
        return value
    if isinstance(value, list):
        for pattern, key in UNIQUE.items():
            if matches(path, pattern):
                seq: list = []
                seen: dict = {}
                for i, entry in enumerate(value):
                    k = key(entry, ".".join(path) + f"[{i}]")
                    if k in seen:
                        seq[seen[k]] = entry
                    else:
                        seen[k] = len(seq)
                        seq.append(entry)
                return seq
    return value
