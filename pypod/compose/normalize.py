"""The canonical model Compose v2 prints (compose-go's Normalize, then its types as marshalled):
the default network, resource names `PROJECT_KEY`, build defaults, depends_on implied by links and
`service:` namespaces, env_file folded into environment, and every value in its printed type."""

from __future__ import annotations

import os
import posixpath
import shlex

from pypod.compose.errors import ComposeError
from pypod.compose.merge import _go
from pypod.compose.units import format_duration, parse_bytes, parse_duration

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable


def _started(restart):
    return {"condition": "service_started", "restart": restart, "required": True}


def normalize(model: dict, name: str, env: dict) -> dict:
    """compose-go's Normalize on the merged, canonical model (modified and returned)."""
    model["name"] = name
    services = model.get("services") or {}
    networks = model.get("networks") or {}
    uses_default = False
    for svc in services.values():
        if "provider" in svc or "network_mode" in svc:
            continue
        nets = svc.get("networks")
        if not nets:
            svc["networks"] = {"default": None}
            uses_default = True
        elif "default" in nets:
            uses_default = True
    if uses_default and "default" not in networks:
        networks["default"] = None
    if networks:
        model["networks"] = networks
    for svc in services.values():
        if svc.get("pull_policy") == "if_not_present":
            svc["pull_policy"] = "missing"
        b = svc.get("build")
        if isinstance(b, dict):
            if b.get("context") is None:
                b["context"] = "."
            if b.get("dockerfile") is None and b.get("dockerfile_inline") is None:
                b["dockerfile"] = "Dockerfile"
            if "args" in b:
                b["args"] = _resolve(b["args"], env, keep_empty=False)
        if "environment" in svc:
            svc["environment"] = _resolve(svc["environment"], env, keep_empty=True)
        deps = dict(svc.get("depends_on") or {})
        for link in svc.get("links") or []:
            parts = str(link).split(":")
            target = parts[0] if len(parts) == 2 else str(link)
            deps.setdefault(target, _started(True))
        for ns in ("network_mode", "ipc", "pid", "uts", "cgroup"):
            ref = svc.get(ns)
            if isinstance(ref, str) and ref.startswith("service:"):
                deps.setdefault(ref[len("service:"):], _started(True))
        for v in svc.get("volumes") or []:
            if isinstance(v, dict) and isinstance(v.get("target"), str) and v["target"]:
                v["target"] = posixpath.normpath(v["target"]) if v["target"] != "//" else "/"
        for vf in svc.get("volumes_from") or []:
            if not str(vf).startswith("container:"):
                deps.setdefault(str(vf).split(":")[0], {"condition": "service_started", "restart": False,
                                                        "required": True})
        if deps:
            svc["depends_on"] = deps
    for kind in ("networks", "volumes", "configs", "secrets"):
        top = model.get(kind)
        if not isinstance(top, dict):
            continue
        for key, res in list(top.items()):
            res = dict(res) if isinstance(res, dict) else {}
            if res.get("name") is None:
                ext = res.get("external")
                res["name"] = key if ext is not None and _truthy(ext) else f"{name}_{key}"
            top[key] = res
    return model


def _truthy(v) -> bool:
    return str(v).lower() in ("1", "t", "true") if not isinstance(v, bool) else v


def _resolve(value, env: dict, keep_empty: bool):
    """A variable named without a value takes the environment's (compose-go's resolve)."""
    if isinstance(value, list):
        out = []
        for item in value:
            s = str(item)
            if "=" not in s:
                if s in env:
                    out.append(f"{s}={env[s]}")
                elif keep_empty:
                    out.append(s)
                continue
            out.append(item)
        return out
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if v is not None:
                out[k] = v
            elif k in env:
                out[k] = env[k]
            elif keep_empty:
                out[k] = None
        return out
    return value


# -- the printed types ---------------------------------------------------------------------------
def mapping(value, where: str, empty_none: bool = False) -> dict:
    """A list_or_dict as a mapping of strings (`A=1` → {A: "1"}; a bare `A` → None, or "" for labels)."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return {k: (("" if empty_none else None) if v is None else _go(v)) for k, v in value.items()}
    out: dict = {}
    for item in value:
        k, eq, v = str(item).partition("=")
        out[k] = v if eq else ("" if empty_none else None)
    return out


def command(value):
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as e:
            raise ComposeError(f"invalid command line: {value}: {e}") from None
    return [_go(x) for x in value]


def _num(v, where: str, kind=int):
    """int()/float() of a value, refused in Go's words (strconv) when it is not a number."""
    try:
        return kind(v)
    except (TypeError, ValueError):
        fn = "ParseFloat" if kind is float else "Atoi"
        raise ComposeError(f'{where}: strconv.{fn}: parsing "{v}": invalid syntax') from None


def _dur(v, where):
    return format_duration(parse_duration(v, where))


def _ports(ports: list, where: str) -> list:
    out = []
    for p in ports:
        q = dict(p)
        if "target" in q:
            q["target"] = _num(q["target"], f"{where}.ports.target")
        if "published" in q:
            if q["published"] is None or q["published"] == "":
                del q["published"]
            else:
                q["published"] = _go(q["published"])
        out.append(q)
    return out


def _volumes(vols: list, where: str) -> list:
    out = []
    for v in vols:
        v = dict(v)
        if isinstance(v.get("tmpfs"), dict):
            t = dict(v["tmpfs"])
            if "size" in t:
                t["size"] = str(parse_bytes(t["size"], where))
            v["tmpfs"] = t
        if v.get("read_only") is False:
            del v["read_only"]
        for part, flag in (("bind", "create_host_path"), ("volume", "nocopy")):  # Go's omitempty
            if isinstance(v.get(part), dict) and v[part].get(flag) is False:
                v[part] = {k: x for k, x in v[part].items() if k != flag}
        out.append(v)
    return out


def _healthcheck(h: dict, where: str) -> dict:
    h = dict(h)
    t = h.get("test")
    if isinstance(t, str):
        h["test"] = ["CMD-SHELL", t]
    for k in ("interval", "timeout", "start_period", "start_interval"):
        if k in h and h[k] is not None:
            h[k] = _dur(h[k], f"{where}.{k}")
    if "retries" in h and h["retries"] is not None:
        h["retries"] = _num(h["retries"], f"{where}.retries")
    if h.get("disable") is False:
        del h["disable"]
    return h


def _deploy(d: dict, where: str) -> dict:
    d = dict(d)
    if "replicas" in d and d["replicas"] is not None:
        d["replicas"] = _num(d["replicas"], f"{where}.replicas")
    if "labels" in d:
        d["labels"] = mapping(d["labels"], where, empty_none=True)
    res = dict(d.get("resources") or {})
    for part in ("limits", "reservations"):
        r = res.get(part)
        if isinstance(r, dict):
            r = dict(r)
            if "cpus" in r:
                r["cpus"] = _num(r["cpus"], f"{where}.resources.{part}.cpus", float)
            if "memory" in r:
                r["memory"] = str(parse_bytes(r["memory"], f"{where}.resources.{part}.memory"))
            if "pids" in r:
                r["pids"] = _num(r["pids"], f"{where}.resources.{part}.pids")
            res[part] = r
    d["resources"] = res
    rp = d.get("restart_policy")
    if isinstance(rp, dict):
        rp = dict(rp)
        for k in ("delay", "window"):
            if k in rp:
                rp[k] = _dur(rp[k], f"{where}.restart_policy.{k}")
        d["restart_policy"] = rp
    for part in ("update_config", "rollback_config"):
        uc = d.get(part)
        if isinstance(uc, dict):
            uc = dict(uc)
            for k in ("delay", "monitor"):
                if k in uc:
                    uc[k] = _dur(uc[k], f"{where}.{part}.{k}")
            d[part] = uc
    d.setdefault("placement", {})
    return d


def _extra_hosts(value) -> list:
    """`host=ip` entries, sorted (compose-go's HostsList)."""
    if isinstance(value, dict):
        out = []
        for k, v in value.items():
            for ip in (v if isinstance(v, list) else [v]):
                out.append(f"{k}={ip}")
        return sorted(out)
    out = []
    for item in value or []:
        s = str(item)
        if "=" not in s and ":" in s:
            k, _, ip = s.partition(":")
            s = f"{k}={ip}"
        out.append(s)
    return sorted(out)


def _file_mount(m, where: str):
    """A secret/config mount: mode printed in octal, as a string (FileMode)."""
    if not isinstance(m, dict) or "mode" not in m or m["mode"] is None:
        return m
    m = dict(m)
    mode = m["mode"]
    if isinstance(mode, str):
        try:
            mode = int(mode, 8)
        except ValueError:
            raise ComposeError(f"{where}: invalid mode {m['mode']!r}") from None
    m["mode"] = "0%o" % _num(mode, f"{where}.mode")
    return m


def _watch(w):
    """A develop.watch rule: ignore/include as lists, and the exec hook Go always prints."""
    if not isinstance(w, dict):
        return w
    w = dict(w)
    for k in ("ignore", "include"):
        if isinstance(w.get(k), str):
            w[k] = [w[k]]
    ex = dict(w.get("exec") or {})
    ex["command"] = command(ex.get("command"))
    w["exec"] = ex
    return w


def _device(d):
    """`SOURCE[:TARGET[:PERMISSIONS]]` → the long form (permissions rwm by default)."""
    if not isinstance(d, str):
        return d
    parts = d.split(":")
    return {"source": parts[0], "target": parts[1] if len(parts) > 1 else parts[0],
            "permissions": parts[2] if len(parts) > 2 else "rwm"}


def _ulimits(u: dict, where: str) -> dict:
    out = {}
    for k, v in u.items():
        out[k] = ({kk: _num(vv, f"{where}.{k}.{kk}") for kk, vv in v.items()} if isinstance(v, dict)
                  else _num(v, f"{where}.{k}"))
    return out


def _build(b: dict, where: str) -> dict:
    b = dict(b)
    for k in ("args", "labels", "additional_contexts"):
        if k in b:
            b[k] = mapping(b[k], where, empty_none=(k == "labels"))
    if "extra_hosts" in b:
        b["extra_hosts"] = _extra_hosts(b["extra_hosts"])
    if isinstance(b.get("ssh"), dict):  # a list of `id[=path]`
        b["ssh"] = [k if v is None else f"{k}={v}" for k, v in b["ssh"].items()]
    if "shm_size" in b:
        b["shm_size"] = str(parse_bytes(b["shm_size"], where))
    for k in ("no_cache", "pull", "privileged"):
        if b.get(k) is False:
            del b[k]
    return b


def service_output(name: str, svc: dict, env_files: Callable[[list], dict]) -> dict:
    """One service in the types and shape `docker compose config` prints."""
    where = f"services.{name}"
    s = dict(svc)
    for key in ("deploy", "develop"):  # null is allowed there, and printed as absent
        if key in s and s[key] is None:
            del s[key]
    s["command"] = command(s.get("command"))
    s["entrypoint"] = command(s.get("entrypoint"))
    env = mapping(s.get("environment"), where)
    if "env_file" in s:
        from_files = env_files(s.pop("env_file"))
        env = {**from_files, **env}
    if env:
        s["environment"] = env
    else:
        s.pop("environment", None)
    if "label_file" in s:  # label files under the service's own labels
        from_files = {k: ("" if v is None else v) for k, v in env_files(s.pop("label_file")).items()}
        s["labels"] = {**from_files, **mapping(s.get("labels"), where, empty_none=True)}
    if "labels" in s:
        s["labels"] = mapping(s["labels"], where, empty_none=True)
    if "annotations" in s:
        s["annotations"] = mapping(s["annotations"], where, empty_none=True)
    if "sysctls" in s:
        s["sysctls"] = mapping(s["sysctls"], where, empty_none=True)
    if "build" in s:
        s["build"] = _build(s["build"], f"{where}.build")
    if "ports" in s:
        s["ports"] = _ports(s["ports"], where)
    if "expose" in s:
        s["expose"] = [_go(x) for x in s["expose"]]
    if "group_add" in s:
        s["group_add"] = [_go(x) for x in s["group_add"]]
    if "devices" in s:
        s["devices"] = [_device(d) for d in s["devices"]]
    if isinstance(s.get("depends_on"), dict):
        s["depends_on"] = {k: ({kk: vv for kk, vv in d.items() if not (kk == "restart" and vv is False)}
                               if isinstance(d, dict) else d) for k, d in s["depends_on"].items()}
    if "volumes" in s:
        s["volumes"] = _volumes(s["volumes"], where)
    if isinstance(s.get("healthcheck"), dict):
        s["healthcheck"] = _healthcheck(s["healthcheck"], f"{where}.healthcheck")
    if isinstance(s.get("deploy"), dict):
        s["deploy"] = _deploy(s["deploy"], f"{where}.deploy")
    if "stop_grace_period" in s:
        s["stop_grace_period"] = _dur(s["stop_grace_period"], f"{where}.stop_grace_period")
    for k in ("shm_size", "mem_limit", "mem_reservation", "memswap_limit"):
        if k in s and s[k] is not None:
            s[k] = str(parse_bytes(s[k], f"{where}.{k}"))
    if "extra_hosts" in s:
        s["extra_hosts"] = _extra_hosts(s["extra_hosts"])
    if isinstance(s.get("ulimits"), dict):
        s["ulimits"] = _ulimits(s["ulimits"], f"{where}.ulimits")
    if "tmpfs" in s and isinstance(s["tmpfs"], str):
        s["tmpfs"] = [s["tmpfs"]]
    if "dns_search" in s and isinstance(s["dns_search"], str):
        s["dns_search"] = [s["dns_search"]]
    if "cpus" in s:
        s["cpus"] = _num(s["cpus"], f"{where}.cpus", float)
    for k in ("mem_swappiness", "oom_score_adj", "cpu_shares", "cpu_count", "cpu_percent", "cpu_period",
              "cpu_quota", "cpu_rt_period", "cpu_rt_runtime", "pids_limit", "cpus"):
        if s.get(k) == 0 and not isinstance(s.get(k), bool):  # Go's omitempty
            del s[k]
    if s.get("gpus") == "all":
        s["gpus"] = [{"count": -1}]
    for hook in ("pre_start", "post_start", "pre_stop"):
        if isinstance(s.get(hook), list):
            s[hook] = [{**h, "command": command(h.get("command"))} if isinstance(h, dict) else h for h in s[hook]]
    if isinstance(s.get("develop"), dict) and isinstance(s["develop"].get("watch"), list):
        s["develop"] = {**s["develop"], "watch": [_watch(w) for w in s["develop"]["watch"]]}
    if isinstance(s.get("logging"), dict) and isinstance(s["logging"].get("options"), dict):
        s["logging"] = {**s["logging"], "options": {k: None if v is None else _go(v)
                                                    for k, v in s["logging"]["options"].items()}}
    for k in ("init", "privileged", "read_only", "stdin_open", "tty", "oom_kill_disable"):
        if isinstance(s.get(k), str):
            s[k] = _truthy(s[k])
    for k in ("privileged", "read_only", "stdin_open", "tty", "oom_kill_disable"):
        if s.get(k) is False:
            del s[k]
    for kind in ("secrets", "configs"):
        if isinstance(s.get(kind), list):
            s[kind] = [_file_mount(m, f"{where}.{kind}") for m in s[kind]]
    if s.get("scale") is not None:
        s["scale"] = _num(s["scale"], f"{where}.scale")
    for k in [k for k, v in s.items() if (v in ([], {}) or v == "") and k not in ("networks",)]:
        if k not in ("command", "entrypoint"):
            del s[k]
    return _ordered(s, SERVICE_ORDER)


SERVICE_ORDER = (
    "profiles annotations attach build develop blkio_config cap_add cap_drop cgroup_parent cgroup cpu_count "
    "cpu_percent cpu_period cpu_quota cpu_rt_period cpu_rt_runtime cpus cpuset cpu_shares command configs "
    "container_name credential_spec depends_on deploy device_cgroup_rules devices dns dns_opt dns_search "
    "dockerfile domainname entrypoint provider environment env_file expose extends external_links extra_hosts "
    "group_add gpus hostname healthcheck image init ipc isolation labels label_file links logging log_driver "
    "log_opt mem_limit mem_reservation memswap_limit mem_swappiness mac_address models net network_mode "
    "networks oom_kill_disable oom_score_adj pid pids_limit platform ports privileged pull_policy read_only "
    "restart runtime scale secrets security_opt shm_size stdin_open stop_grace_period stop_signal storage_opt "
    "sysctls tmpfs tty ulimits use_api_socket user userns_mode uts volume_driver volumes volumes_from "
    "working_dir pre_start post_start pre_stop").split()


def _ordered(d: dict, order) -> dict:
    rank = {k: i for i, k in enumerate(order)}
    return dict(sorted(d.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])))


def resource_output(kind: str, res: dict) -> dict:
    r = dict(res)
    if kind == "networks":
        r.setdefault("ipam", {})
    if "labels" in r:
        r["labels"] = mapping(r["labels"], kind, empty_none=True)
    if "external" in r:
        if _truthy(r["external"]):
            r["external"] = True
        else:
            del r["external"]
    for k in ("internal", "attachable"):
        if k in r and not _truthy(r[k]):
            del r[k]
    return r


def rebase(path: str, base: str) -> str:
    if path.startswith("~"):
        path = os.path.expanduser(path)
    return path if os.path.isabs(path) else os.path.normpath(os.path.join(base, path))
