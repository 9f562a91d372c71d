"""What Compose accepts where: the keys of each object and the type of each value, with the
messages compose-go's schema validation gives (`services.web additional properties 'foo' not
allowed`, `services.web.ports must be a array`)."""

from __future__ import annotations

import re

from pypod.compose.errors import ValidationError

# kinds: s string, b bool|string, n number|string, i integer|string, a array, l list_or_dict,
# sl string_or_list, cmd null|string|array, so string|object, o free object, m mapping of objects
STR, BOOL, NUM, INT, ARR, LOD, SOL, CMD, ANY, OBJ = "s", "b", "n", "i", "a", "l", "sl", "cmd", "*", "o"
# arrays whose items are strings; ports (number, string or mapping); mounts (string or mapping);
# extra_hosts (a list, or a mapping of strings or lists)
ASTR, APORT, AMOUNT, HOSTS = "as", "ap", "am2", "eh"
# env_file, label_file: a path, or a list of paths or {path, required, format}
ENVF = "ef"

HEALTHCHECK = {"disable": BOOL, "interval": STR, "retries": NUM, "test": "sa", "timeout": STR,
               "start_period": STR, "start_interval": STR}
LIMITS = {"cpus": NUM, "memory": STR, "pids": INT, "devices": ARR}
DEPLOY = {"mode": STR, "endpoint_mode": STR, "replicas": INT, "labels": LOD, "rollback_config": OBJ,
          "update_config": OBJ, "restart_policy": OBJ, "placement": OBJ,
          "resources": {"limits": LIMITS, "reservations": {**LIMITS, "generic_resources": ARR}}}
BUILD = {"context": STR, "dockerfile": STR, "dockerfile_inline": STR, "entitlements": ARR, "args": LOD,
         "ssh": LOD, "labels": LOD, "cache_from": ARR, "cache_to": ARR, "no_cache": BOOL,
         "no_cache_filter": SOL, "additional_contexts": LOD, "network": STR, "provenance": BOOL, "sbom": BOOL,
         "pull": BOOL, "target": STR, "shm_size": INT, "extra_hosts": HOSTS, "isolation": STR, "privileged": BOOL,
         "secrets": ARR, "tags": ARR, "ulimits": OBJ, "platforms": ARR}
DEPENDS = {"restart": BOOL, "required": "bool", "condition": STR}
PORT = {"name": STR, "mode": STR, "host_ip": STR, "target": INT, "published": INT, "protocol": STR,
        "app_protocol": STR}
VOLUME_MOUNT = {"type": STR, "source": STR, "target": STR, "read_only": BOOL, "consistency": STR,
                "bind": {"propagation": STR, "create_host_path": BOOL, "recursive": STR, "selinux": STR},
                "volume": {"nocopy": BOOL, "subpath": STR, "labels": LOD},
                "tmpfs": {"size": INT, "mode": NUM}, "image": {"subpath": STR}}
SERVICE_NET = {"aliases": ASTR, "interface_name": STR, "ipv4_address": STR, "ipv6_address": STR,
               "link_local_ips": ARR, "mac_address": STR, "driver_opts": OBJ, "priority": NUM, "gw_priority": NUM}

SERVICE = {
    "develop": OBJ, "deploy": DEPLOY, "annotations": LOD, "attach": BOOL, "build": ("so", BUILD),
    "blkio_config": OBJ, "cap_add": ASTR, "cap_drop": ASTR, "cgroup": STR, "cgroup_parent": STR,
    "command": CMD, "configs": ARR, "container_name": STR, "cpu_count": INT, "cpu_percent": INT,
    "cpu_shares": NUM, "cpu_quota": NUM, "cpu_period": NUM, "cpu_rt_period": NUM, "cpu_rt_runtime": NUM,
    "cpus": NUM, "cpuset": STR, "credential_spec": OBJ, "depends_on": ("am", DEPENDS),
    "device_cgroup_rules": ARR, "devices": ARR, "dns": SOL, "dns_opt": ASTR, "dns_search": SOL,
    "domainname": STR, "entrypoint": CMD, "env_file": ENVF, "label_file": ENVF, "environment": LOD,
    "expose": ARR, "extends": ("so", {"service": STR, "file": STR}), "provider": OBJ,
    "external_links": ASTR, "extra_hosts": HOSTS, "gpus": ANY, "group_add": ARR, "healthcheck": HEALTHCHECK,
    "hostname": STR, "image": STR, "init": BOOL, "ipc": STR, "isolation": STR, "labels": LOD,
    "links": ASTR, "logging": OBJ, "mac_address": STR, "mem_limit": NUM, "mem_reservation": NUM,
    "mem_swappiness": INT, "memswap_limit": NUM, "network_mode": STR, "models": ANY,
    "networks": ("am", SERVICE_NET), "oom_kill_disable": BOOL, "oom_score_adj": INT, "pid": ANY,
    "pids_limit": NUM, "platform": STR, "ports": APORT, "pre_start": ARR, "post_start": ARR, "pre_stop": ARR,
    "privileged": BOOL, "profiles": ASTR, "pull_policy": STR, "pull_refresh_after": STR, "read_only": BOOL,
    "restart": STR, "runtime": STR, "scale": INT, "security_opt": ASTR, "shm_size": NUM, "secrets": ARR,
    "sysctls": LOD, "stdin_open": BOOL, "stop_grace_period": STR, "stop_signal": STR, "storage_opt": OBJ,
    "tmpfs": SOL, "tty": BOOL, "ulimits": ("ul", None), "use_api_socket": "bool", "user": STR, "uts": STR,
    "userns_mode": STR, "volumes": AMOUNT, "volumes_from": ARR, "working_dir": STR,
}
NETWORK = {"name": STR, "driver": STR, "driver_opts": OBJ, "ipam": {"driver": STR, "config": ARR, "options": OBJ},
           "external": ANY, "internal": BOOL, "enable_ipv4": BOOL, "enable_ipv6": BOOL, "attachable": BOOL,
           "labels": LOD}
VOLUME = {"name": STR, "driver": STR, "driver_opts": OBJ, "external": ANY, "labels": LOD}
SECRET = {"name": STR, "environment": STR, "file": STR, "external": ANY, "labels": LOD, "driver": STR,
          "driver_opts": OBJ, "template_driver": STR}
CONFIG = {"name": STR, "content": STR, "environment": STR, "file": STR, "external": ANY, "labels": LOD,
          "template_driver": STR}
TOP = {"version": STR, "name": STR, "include": ARR, "services": ("m", SERVICE), "models": OBJ,
       "networks": ("m", NETWORK), "volumes": ("m", VOLUME), "secrets": ("m", SECRET), "configs": ("m", CONFIG)}

_CONTAINER_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")
CONDITIONS = ("service_started", "service_healthy", "service_completed_successfully")


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


_CHECKS = {
    STR: (lambda v: isinstance(v, str), "string"),
    BOOL: (lambda v: isinstance(v, (bool, str)), "boolean or string"),
    "bool": (lambda v: isinstance(v, bool), "boolean"),
    NUM: (lambda v: _is_num(v) or isinstance(v, str), "number or string"),
    INT: (lambda v: isinstance(v, (int, str)) and not isinstance(v, bool) or (isinstance(v, float) and v.is_integer()),
          "integer or string"),
    ARR: (lambda v: isinstance(v, list), "array"),
    LOD: (lambda v: isinstance(v, (list, dict)), "mapping"),
    SOL: (lambda v: isinstance(v, (list, str)), "string"),
    ENVF: (lambda v: isinstance(v, (list, str)), "string"),
    CMD: (lambda v: v is None or isinstance(v, (list, str)), "null"),
    "sa": (lambda v: isinstance(v, (list, str)), "string"),
    OBJ: (lambda v: isinstance(v, dict), "mapping"),
}


def _items(v: list, path: str, ok, word: str):
    for i, item in enumerate(v):
        if not ok(item):
            _fail(f"{path}.{i}", f"must be a {word}")


def _scalar(v) -> bool:
    return v is None or isinstance(v, (str, int, float, bool))


def _fail(path: str, msg: str):
    raise ValidationError(f"{path} {msg}")


def _check_object(obj, spec: dict, path: str):
    if not isinstance(obj, dict):
        _fail(path, "must be a mapping")
    extra = [k for k in obj if k not in spec and not k.startswith("x-")]
    if extra:
        _fail(path, "additional properties " + ", ".join(f"'{k}'" for k in extra) + " not allowed")
    for k, v in obj.items():
        if k in spec:
            _check_value(v, spec[k], f"{path}.{k}" if path else k)


# A service's fields that may be null (compose-go's schema: deploy and develop are "object or
# null", command and entrypoint "null, string or array"); every other null is refused, as there.
_NULLABLE = ("deploy", "develop")


def _null_word(kind) -> str:
    if isinstance(kind, dict) or kind in (HOSTS, LOD, OBJ):
        return "mapping"
    if isinstance(kind, tuple):
        return {"so": "string", "ul": "mapping", "am": "array"}.get(kind[0], "mapping")
    if kind in (ASTR, APORT, AMOUNT):
        return "array"
    return _CHECKS[kind][1]


def _check_value(v, kind, path: str):
    # a null is settled here: below, v is a value (or a CMD's null, or a named mapping's)
    if v is None and kind not in (ANY, CMD):
        if path.startswith("services.") and path.count(".") == 2 and path.rpartition(".")[2] in _NULLABLE:
            return
        if not (isinstance(kind, tuple) and kind[0] == "m"):  # (a mapping's own entries may be null)
            _fail(path, f"must be a {_null_word(kind)}")
    if isinstance(kind, dict):
        _check_object(v, kind, path)
        return
    if isinstance(kind, tuple):
        how, spec = kind
        if how == "so":  # a string or an object of spec
            if isinstance(v, str):
                return
            if not isinstance(v, dict):
                _fail(path, "must be a string")
            _check_object(v, spec, path)
        elif how == "ul":  # each limit: a number, or {soft, hard}
            if not isinstance(v, dict):
                _fail(path, "must be a mapping")
            for name, lim in v.items():
                if isinstance(lim, dict):
                    _check_object(lim, {"soft": INT, "hard": INT}, f"{path}.{name}")
                elif not _CHECKS[INT][0](lim):
                    _fail(f"{path}.{name}", "must be a integer or string")
        elif how in ("m", "am"):  # a mapping of named objects (or, "am", a list of names)
            if how == "am" and isinstance(v, list):
                _items(v, path, lambda x: isinstance(x, str), "string")
                return
            if v is None and how == "m":
                return
            if not isinstance(v, dict):
                _fail(path, "must be a array" if how == "am" else "must be a mapping")
            for name, sub in v.items():  # (an x- name here is an entry too, as compose-go's schema has it)
                if sub is None and path == "services":
                    _fail(f"{path}.{name}", "must be a mapping")
                if sub is not None:
                    if how == "m" and path != "services" and not isinstance(sub, dict):
                        _fail(f"{path}.{name}", "must be a mapping or null")
                    _check_object(sub, spec, f"{path}.{name}")
        return
    if kind == ANY:
        return
    if kind in (ASTR, APORT, AMOUNT):
        if not isinstance(v, list):
            _fail(path, "must be a array")
        if kind == ASTR:
            _items(v, path, lambda x: isinstance(x, str), "string")
        elif kind == APORT:
            _items(v, path, lambda x: isinstance(x, (int, float, str, dict)) and not isinstance(x, bool), "number")
        else:
            _items(v, path, lambda x: isinstance(x, (str, dict)), "string")
        return
    if kind == HOSTS:
        if isinstance(v, dict):
            for k, x in v.items():
                if not (isinstance(x, str) or (isinstance(x, list) and all(isinstance(y, str) for y in x))):
                    _fail(f"{path}.{k}", "must be a string")
        elif not isinstance(v, list):
            _fail(path, "must be a mapping")
        return
    if kind == LOD and isinstance(v, dict):
        for k, x in v.items():
            if not _scalar(x):
                _fail(f"{path}.{k}", "must be a boolean, null, number or string")
        return
    if kind == ENVF and isinstance(v, list):
        _items(v, path, lambda x: isinstance(x, (str, dict)), "string")
        return
    if kind == CMD and isinstance(v, list):
        _items(v, path, lambda x: isinstance(x, str), "string")
        return
    ok, word = _CHECKS[kind]
    if not ok(v):
        _fail(path, f"must be a {word}")


def validate(model: dict) -> None:
    """Raise ValidationError with compose's path and message for the first problem found."""
    extra = [k for k in model if k not in TOP and not k.startswith("x-")]
    if extra:
        raise ValidationError(" additional properties " + ", ".join(f"'{k}'" for k in extra) + " not allowed")
    for k, v in model.items():
        if k in TOP:
            _check_value(v, TOP[k], k)
    for name, svc in (model.get("services") or {}).items():
        cn = (svc or {}).get("container_name")
        if isinstance(cn, str) and not _CONTAINER_NAME.fullmatch(cn):
            _fail(f"services.{name}.container_name", f"'{cn}' does not match pattern '{_CONTAINER_NAME.pattern}'")
        deps = (svc or {}).get("depends_on")
        if isinstance(deps, dict):
            for dep, d in deps.items():
                if isinstance(d, dict) and "condition" in d and d["condition"] not in CONDITIONS:
                    _fail(f"services.{name}.depends_on.{dep}.condition",
                          "value must be one of " + ", ".join(f"'{c}'" for c in CONDITIONS))
