"""From the normalised model (what `compose config` prints) to what the engine is asked for: Docker
Compose v2's names and labels, a service's config hash, `depends_on` order, and a service's
container as the engine's CreateOptions fields. Pure: no engine calls, no I/O."""

from __future__ import annotations

import json

from pypod.compose.errors import ComposeError

LABEL = "com.docker.compose."
PROJECT, SERVICE, NUMBER, ONEOFF = LABEL + "project", LABEL + "service", LABEL + "container-number", LABEL + "oneoff"
CONFIG_HASH, IMAGE, DEPENDS_ON = LABEL + "config-hash", LABEL + "image", LABEL + "depends_on"
WORKING_DIR, CONFIG_FILES = LABEL + "project.working_dir", LABEL + "project.config_files"
ENV_FILE, VERSION = LABEL + "project.environment_file", LABEL + "version"
NETWORK, VOLUME = LABEL + "network", LABEL + "volume"
COMPOSE_VERSION = "2.40.3"  # the Compose whose behaviour (and labels) we follow


def container_name(project: str, service: str, number: int, svc: dict | None = None) -> str:
    if svc and svc.get("container_name"):
        return svc["container_name"]
    return f"{project}-{service}-{number}"


def config_hash(svc: dict) -> str:
    """Compose's ServiceHash (see hashing.py): what `docker compose` labels its containers with."""
    from pypod.compose.hashing import service_hash

    return service_hash(svc)


def replicas(svc: dict, scale: dict | None = None, name: str = "") -> int:
    if scale and name in scale:
        return scale[name]
    if svc.get("scale") is not None:
        return int(svc["scale"])
    deploy = svc.get("deploy") or {}
    if deploy.get("replicas") is not None:
        return int(deploy["replicas"])
    return 1


def image_name(project: str, service: str, svc: dict) -> str:
    """A service that builds without naming its image gets PROJECT-SERVICE (Compose v2)."""
    return svc.get("image") or f"{project}-{service}"


def dependencies(svc: dict) -> dict:
    """{service: {"condition", "required", "restart"}} — depends_on plus what network_mode
    service:X and volumes_from service:X imply."""
    deps = dict(svc.get("depends_on") or {})
    nm = svc.get("network_mode") or ""
    if nm.startswith("service:"):
        deps.setdefault(nm[8:], {"condition": "service_started", "required": True})
    for vf in svc.get("volumes_from") or []:
        if not vf.startswith("container:"):
            deps.setdefault(vf.split(":")[0], {"condition": "service_started", "required": True})
    return deps


def start_order(services: dict) -> list[str]:
    """Services so that each comes after what it depends on (ties by name); a cycle is an error."""
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cyc = path[path.index(name):] + [name]
            raise ComposeError("dependency cycle detected: " + " -> ".join(cyc))
        state[name] = 1
        for dep in sorted(dependencies(services[name])):
            if dep in services:
                visit(dep, path + [name])
        state[name] = 2
        order.append(name)

    for n in sorted(services):
        visit(n, [])
    return order


def dependents(services: dict, name: str) -> list[str]:
    return [n for n, s in services.items() if name in dependencies(s)]


def depends_on_label(svc: dict) -> str:
    parts = []
    for dep, d in (svc.get("depends_on") or {}).items():
        parts.append(f"{dep}:{d.get('condition', 'service_started')}:{str(bool(d.get('restart'))).lower()}")
    return ",".join(parts)


def project_labels(project) -> dict:
    return {PROJECT: project.name, WORKING_DIR: project.workdir,
            CONFIG_FILES: ",".join(project.files), VERSION: COMPOSE_VERSION}


def container_labels(project, service: str, svc: dict, number: int, oneoff: bool = False,
                     image_id: str = "") -> dict:
    labels = {str(k): "" if v is None else str(v) for k, v in (svc.get("labels") or {}).items()}
    labels.update(project_labels(project))
    labels.update({SERVICE: service, NUMBER: str(number), ONEOFF: "True" if oneoff else "False",
                   CONFIG_HASH: config_hash(svc), DEPENDS_ON: depends_on_label(svc)})
    if image_id:
        labels[IMAGE] = "sha256:" + image_id.removeprefix("sha256:")
    return labels


# -- the container ------------------------------------------------------------------------------
def _duration(text) -> str | None:
    return None if text is None else str(text)


def _seconds(text) -> int | None:
    if text is None:
        return None
    from pypod.units import parse_duration

    return int(parse_duration(str(text)))


def _publish(ports: list) -> list[str]:
    out = []
    for p in ports or []:
        target = f"{p['target']}/{p.get('protocol') or 'tcp'}"
        published = p.get("published") or ""
        ip = p.get("host_ip") or ""
        if ip:
            out.append(f"{ip}:{published}:{target}")
        elif published:
            out.append(f"{published}:{target}")
        else:
            out.append(target)
    return out


def _ulimits(ul: dict) -> list[str]:
    out = []
    for k, v in (ul or {}).items():
        if isinstance(v, dict):
            out.append(f"{k}={v.get('soft')}:{v.get('hard')}")
        else:
            out.append(f"{k}={v}:{v}")
    return out


def _healthcheck(hc: dict | None, kw: dict) -> None:
    if not hc:
        return
    test = hc.get("test") or []
    if hc.get("disable") or (test and test[0] == "NONE"):
        kw["no_healthcheck"] = True
        return
    if test and test[0] == "CMD":
        kw["health_cmd"] = json.dumps(test[1:])
    elif test and test[0] == "CMD-SHELL":
        kw["health_cmd"] = test[1] if len(test) > 1 else ""
    elif test:
        kw["health_cmd"] = json.dumps(test)
    for key, field in (("interval", "health_interval"), ("timeout", "health_timeout"),
                       ("start_period", "health_start_period")):
        if hc.get(key) is not None:
            kw[field] = _duration(hc[key])
    if hc.get("retries") is not None:
        kw["health_retries"] = int(hc["retries"])


def _mounts(project, svc: dict, kw: dict) -> list[str]:
    """volumes: → -v / --tmpfs; returns the bind sources Compose would create."""
    model = project.model
    top = model.get("volumes") or {}
    vols, tmpfs, create_dirs = [], [], []
    for v in svc.get("volumes") or []:
        typ, target, src = v.get("type"), v.get("target"), v.get("source")
        opts = ["ro"] if v.get("read_only") else []
        if typ == "bind":
            prop = (v.get("bind") or {}).get("propagation")
            if prop:
                opts.append(prop)
            if (v.get("bind") or {}).get("create_host_path"):
                create_dirs.append(src)
            vols.append(f"{src}:{target}" + (":" + ",".join(opts) if opts else ""))
        elif typ == "volume":
            if not src:
                vols.append(target)  # anonymous
                continue
            real = (top.get(src) or {}).get("name") or f"{project.name}_{src}"
            if (v.get("volume") or {}).get("nocopy"):
                opts.append("nocopy")
            vols.append(f"{real}:{target}" + (":" + ",".join(opts) if opts else ""))
        elif typ == "tmpfs":
            t = v.get("tmpfs") or {}
            o = []
            if t.get("size"):
                o.append(f"size={t['size']}")
            if t.get("mode") is not None:
                o.append(f"mode={t['mode']}")
            tmpfs.append(target + (":" + ",".join(o) if o else ""))
        else:
            raise ComposeError(f"service {svc.get('_name', '')}: volume type {typ!r} is not supported by pypod")
    for kind, base in (("secrets", "/run/secrets/"), ("configs", "/")):
        for ref in svc.get(kind) or []:
            src = ref.get("source")
            decl = (model.get(kind) or {}).get(src) or {}
            if not decl.get("file"):
                raise ComposeError(f"{kind[:-1]} {src!r}: only file-based {kind} are supported by pypod")
            target = ref.get("target") or src
            if not target.startswith("/"):
                target = base + target
            vols.append(f"{decl['file']}:{target}:ro")
    kw["volumes"] = vols
    kw["tmpfs"] = list(svc.get("tmpfs") or []) + tmpfs
    return create_dirs


def _networks(project, service: str, svc: dict, name: str, kw: dict) -> None:
    mode = svc.get("network_mode")
    if mode:
        if mode.startswith("service:"):
            dep = mode[8:]
            kw["network"] = "container:" + container_name(project.name, dep, 1,
                                                          project.model["services"].get(dep))
        else:
            kw["network"] = mode
        return
    top = project.model.get("networks") or {}
    items = []
    nets = svc.get("networks") or {}
    # the default network first (Compose's priority order otherwise: by name)
    for key in sorted(nets, key=lambda k: (-(nets[k] or {}).get("priority", 0), k)):
        ep = nets[key] or {}
        real = (top.get(key) or {}).get("name") or f"{project.name}_{key}"
        opts = [f"alias={a}" for a in [service] + list(ep.get("aliases") or []) if a]
        if ep.get("ipv4_address"):
            opts.append(f"ip={ep['ipv4_address']}")
        if ep.get("mac_address"):
            opts.append(f"mac={ep['mac_address']}")
        items.append(real + ":" + ",".join(opts))
    kw["network"] = items or None


def create_kwargs(project, service: str, number: int, *, oneoff: bool = False, name: str | None = None,
                  image_id: str = "", publish: bool = True) -> tuple[dict, list[str]]:
    """CreateOptions fields for container `number` of `service`, and the bind sources to create."""
    svc = project.model["services"][service]
    env = [f"{k}={v}" for k, v in (svc.get("environment") or {}).items() if v is not None]
    kw: dict = dict(
        image=image_name(project.name, service, svc), command=list(svc.get("command") or []),
        name=name or container_name(project.name, service, number, svc),
        entrypoint=json.dumps(svc["entrypoint"]) if svc.get("entrypoint") is not None else None,
        env=env, workdir=svc.get("working_dir"), user=svc.get("user"), hostname=svc.get("hostname"),
        labels=[f"{k}={v}" for k, v in container_labels(project, service, svc, number, oneoff, image_id).items()],
        stop_signal=svc.get("stop_signal"), stop_timeout=_seconds(svc.get("stop_grace_period")),
        restart=svc.get("restart") or "no", interactive=bool(svc.get("stdin_open")), tty=bool(svc.get("tty")),
        cap_add=list(svc.get("cap_add") or []), cap_drop=list(svc.get("cap_drop") or []),
        privileged=bool(svc.get("privileged")), security_opt=list(svc.get("security_opt") or []),
        dns=list(svc.get("dns") or []), dns_search=list(svc.get("dns_search") or []),
        dns_option=list(svc.get("dns_opt") or []),
        add_host=[h.replace("=", ":", 1) for h in svc.get("extra_hosts") or []],
        read_only=bool(svc.get("read_only")), init=bool(svc.get("init")),
        expose=[str(e) for e in svc.get("expose") or []], group_add=list(svc.get("group_add") or []),
        sysctl=[f"{k}={v}" for k, v in (svc.get("sysctls") or {}).items()], ulimit=_ulimits(svc.get("ulimits")),
        publish=_publish(svc.get("ports")) if publish else [],
        pull="never", platform=svc.get("platform"),
    )
    if svc.get("shm_size"):
        kw["shm_size"] = str(svc["shm_size"])
    res = {}
    limits = ((svc.get("deploy") or {}).get("resources") or {}).get("limits") or {}
    mem = svc.get("mem_limit") or limits.get("memory")
    if mem:
        res["memory"] = str(mem)
    cpus = svc.get("cpus") or limits.get("cpus")
    if cpus:
        res["cpus"] = str(cpus)
    pids = svc.get("pids_limit") or limits.get("pids")
    if pids:
        res["pids_limit"] = int(pids)
    if res:
        kw["resources"] = res
    _healthcheck(svc.get("healthcheck"), kw)
    dirs = _mounts(project, svc, kw)
    _networks(project, service, svc, kw["name"], kw)
    return kw, dirs
