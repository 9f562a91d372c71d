"""Short syntax → Compose's long syntax (compose-go's transform package): ports, volumes, build,
depends_on, env_file, secrets/configs, networks lists, extends, include, external resources."""

from __future__ import annotations

import posixpath
import re

from pypod.compose.errors import ComposeError
from pypod.compose.interpolate import matches, show

_PROPAGATIONS = ("rprivate", "private", "rshared", "shared", "rslave", "slave")


def parse_volume(spec: str) -> dict:
    """`[SOURCE:]TARGET[:MODE]` → a long-syntax mount (format.ParseVolume)."""
    if not spec:
        raise ComposeError("invalid empty volume spec")
    vol: dict = {}
    if len(spec) <= 2:
        return {"type": "volume", "target": spec, "volume": {}}
    parts, buf, depth = [], [], 0
    for i, ch in enumerate(spec):
        if ch == "$" and i + 1 < len(spec) and spec[i + 1] == "{":
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
        elif ch == ":" and depth == 0:
            parts.append("".join(buf))
            buf = []
            continue
        buf.append(ch)
    parts.append("".join(buf))
    if any(p == "" for p in parts):
        raise ComposeError(f"invalid spec: {spec}: empty section between colons")
    if len(parts) > 3:
        raise ComposeError(f"invalid spec: {spec}: too many colons")
    read_only = False
    bind: dict = {}
    nocopy = False
    if len(parts) == 1:
        vol["target"] = parts[0]
    else:
        vol["source"], vol["target"] = parts[0], parts[1]
        if len(parts) == 3:
            for opt in parts[2].split(","):
                if opt == "ro":
                    read_only = True
                elif opt == "rw":
                    read_only = False
                elif opt == "nocopy":
                    nocopy = True
                elif opt in _PROPAGATIONS:
                    bind["propagation"] = opt
                elif opt in ("z", "Z"):
                    bind["selinux"] = opt
    src = vol.get("source", "")
    if src[:1] in (".", "/", "~"):
        vol["type"] = "bind"
        bind["create_host_path"] = True
        vol["bind"] = bind
    else:
        vol["type"] = "volume"
        vol["volume"] = {"nocopy": True} if nocopy else {}
        if bind:
            vol["bind"] = bind
    if read_only:
        vol["read_only"] = True
    if vol["target"]:
        vol["target"] = posixpath.normpath(vol["target"]) if vol["target"] != "//" else "/"
    return vol


_PORT = re.compile(r"^(?:(?P<ip>\[[^\]]*\]|[^:]*):)??(?:(?P<host>[^:]*):)?(?P<ctr>[^:/]+)(?:/(?P<proto>[a-zA-Z]+))?$")


def _range(s: str, what: str, spec: str) -> tuple[int, int]:
    a, _, b = s.partition("-")
    try:
        lo = int(a)
        hi = int(b) if b else lo
    except ValueError:
        raise ComposeError(f"invalid {what}: {s}") from None
    if not (0 <= lo <= 65535 and 0 <= hi <= 65535) or hi < lo:
        raise ComposeError(f"invalid {what}: {s}")
    return lo, hi


def parse_ports(spec: str) -> list[dict]:
    """`[IP:][HOST:]CONTAINER[/PROTO]` with ranges (docker's nat.ParsePortSpecs)."""
    ip, host, ctr, proto = "", "", spec, "tcp"
    if "/" in ctr:
        ctr, proto = ctr.rsplit("/", 1)
        proto = proto.lower() or "tcp"
    if ctr.startswith("["):
        end = ctr.index("]")
        ip = ctr[1:end]
        rest = ctr[end + 2:]
        host, _, ctr = rest.rpartition(":")
    else:
        parts = ctr.split(":")
        if len(parts) == 1:
            ctr = parts[0]
        elif len(parts) == 2:
            host, ctr = parts
        elif len(parts) == 3:
            ip, host, ctr = parts
        else:
            ip = ":".join(parts[:-2])
            host, ctr = parts[-2], parts[-1]
            if ip.startswith("[") and ip.endswith("]"):
                ip = ip[1:-1]
    if not ctr:
        raise ComposeError(f"no port specified: {spec}<empty>")
    if ip:
        import ipaddress

        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise ComposeError(f"invalid IP address: {ip}") from None
    clo, chi = _range(ctr, "containerPort", spec)
    out = []
    if host:
        hlo, hhi = _range(host, "hostPort", spec)
        if chi - clo != hhi - hlo and chi != clo:
            raise ComposeError(f"invalid ranges specified for container and host Ports: {ctr} and {host}")
    for n, port in enumerate(range(clo, chi + 1)):
        entry: dict = {"mode": "ingress"}
        if ip:
            entry["host_ip"] = ip
        entry["target"] = port
        if host:
            if chi == clo and hhi != hlo:
                entry["published"] = f"{hlo}-{hhi}"
            else:
                entry["published"] = str(hlo + n)
        entry["protocol"] = proto
        out.append(entry)
    return sorted(out, key=lambda e: f"{e['target']}/{e['protocol']}")


def _ports(data, path):
    if not isinstance(data, list):
        raise ComposeError(f"{show(path)}: invalid type for port")
    out = []
    for entry in data:
        if isinstance(entry, bool):
            raise ComposeError(f"{show(path)}: invalid type bool for port")
        if isinstance(entry, (int, str)):
            out.extend(parse_ports(str(entry)))
        elif isinstance(entry, dict):
            out.append(entry)
        else:
            raise ComposeError(f"{show(path)}: invalid type for port")
    return out


def _volume(data, path):
    if isinstance(data, dict):
        return data
    if isinstance(data, str):
        return parse_volume(data)
    raise ComposeError(f"{show(path)}: invalid type for service volume mount")


def _build(data, path):
    if isinstance(data, str):
        return {"context": data}
    if isinstance(data, dict):
        return _walk_mapping(data, path)
    raise ComposeError(f"{show(path)}: invalid type for build")


def _depends_on(data, path):
    if isinstance(data, dict):
        for k, d in data.items():
            if not isinstance(d, dict):
                raise ComposeError(f"{show(path)}.{k}: unsupported value")
            d.setdefault("condition", "service_started")
            d.setdefault("required", True)
        return data
    if isinstance(data, list):
        return {k: {"condition": "service_started", "required": True} for k in data}
    raise ComposeError(f"{show(path)}: invalid type for depend_on")


def _env_file(data, path):
    def one(v):
        if isinstance(v, str):
            return {"path": v, "required": True}
        if isinstance(v, dict):
            v.setdefault("required", True)
            return v
        return None

    if isinstance(data, str):
        return [one(data)]
    if isinstance(data, list):
        return [one(v) for v in data]
    raise ComposeError(f"{show(path)}: invalid type for env_file")


def _string_or_list(data, path):
    return [data] if isinstance(data, str) else data


def _slice_to_map(data, path):
    if isinstance(data, list):
        return {str(k): None for k in data}
    return data


def _file_mount(data, path):
    if isinstance(data, str):
        return {"source": data}
    if isinstance(data, dict):
        return data
    raise ComposeError(f"{show(path)}: unsupported type")


def _extends(data, path):
    return {"service": data} if isinstance(data, str) else data


def _include(data, path):
    return {"path": data} if isinstance(data, str) else data


def _key_value(data, path):
    if isinstance(data, list):
        out = {}
        for e in data:
            k, eq, v = str(e).partition("=")
            if not eq:
                raise ComposeError(f"{show(path)}: invalid value {e}, expected key=value")
            out[k] = v
        return out
    return data


def _maybe_external(data, path):
    if data is None:
        return None
    res = _walk_mapping(data, path)
    ext = res.get("external")
    if isinstance(ext, dict):
        res["external"] = True
        if "name" in ext:
            if "name" in res and res["name"] != ext["name"]:
                raise ComposeError(f"{show(path)}: name and external.name conflict; only use name")
            res.setdefault("name", ext["name"])
    return res


def _service(data, path):
    return _walk_mapping(data, path) if isinstance(data, dict) else data


TRANSFORMERS = {
    "services.*": _service,
    "services.*.build.secrets.[]": _file_mount,
    "services.*.build.additional_contexts": _key_value,
    "services.*.depends_on": _depends_on,
    "services.*.env_file": _env_file,
    "services.*.label_file": _string_or_list,
    "services.*.extends": _extends,
    "services.*.networks": _slice_to_map,
    "services.*.models": _slice_to_map,
    "services.*.volumes.[]": _volume,
    "services.*.dns": _string_or_list,
    "services.*.secrets.[]": _file_mount,
    "services.*.configs.[]": _file_mount,
    "services.*.ports": _ports,
    "services.*.build": _build,
    "volumes.*": _maybe_external, "networks.*": _maybe_external,
    "secrets.*": _maybe_external, "configs.*": _maybe_external,
    "include.[]": _include,
}


def _walk(data, path):
    for pattern, fn in TRANSFORMERS.items():
        if matches(path, pattern):
            return fn(data, path)
    if isinstance(data, dict):
        return _walk_mapping(data, path)
    if isinstance(data, list):
        return [_walk(e, path + ("[]",)) for e in data]
    return data


def _walk_mapping(data: dict, path):
    for k in list(data):
        data[k] = _walk(data[k], path + (k,))
    return data


def canonical(model: dict) -> dict:
    return _walk_mapping(model, ())


# -- defaults applied once all files are merged (compose-go's SetDefaultValues) --------------------
def set_defaults(model: dict) -> dict:
    for svc in (model.get("services") or {}).values():
        if not isinstance(svc, dict):
            continue
        b = svc.get("build")
        if isinstance(b, dict):
            b.setdefault("context", ".")
        for s in svc.get("secrets") or []:
            if isinstance(s, dict):
                s.setdefault("target", f"/run/secrets/{s.get('source')}")
        for p in svc.get("ports") or []:
            if isinstance(p, dict):
                p.setdefault("protocol", "tcp")
                p.setdefault("mode", "ingress")
    return model
