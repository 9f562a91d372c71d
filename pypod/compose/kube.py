"""A compose project as Kubernetes YAML (`pypod compose kube`): the way from a compose file to a
cluster, and to `pypod kube play` on this machine.

The project becomes ONE pod (or a Deployment of it): its services are the pod's containers, which
share the network namespace, so each service listens on the pod's localhost; `hostAliases` map every
service name (and its network aliases and container_name) to 127.0.0.1, so that `web` still reaches
`db` by name, as on the project's network. Named volumes become PersistentVolumeClaims, binds
hostPath, tmpfs an in-memory emptyDir; `ports` keep their host port. What has no Kubernetes form
(a restart policy per service, replicas of one service inside a pod, build-only images, ...) is said
in a warning, never dropped in silence. Pure: the normalised model in, plain dicts out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from pypod.compose.errors import ComposeError
from pypod.kube.names import dns_label, is_label_value

CLAIM_SIZE = "1Gi"  # a claim must ask for a size; compose volumes have none
_IGNORED_KEYS = ("network_mode", "links", "external_links", "pid", "ipc", "userns_mode", "devices",
                 "dns", "dns_search", "extra_hosts", "sysctls", "ulimits", "secrets", "configs",
                 "logging", "stop_signal", "init", "group_add", "security_opt", "platform")


@dataclass
class Result:
    documents: list[dict]
    warnings: list[str] = field(default_factory=list)


def to_kube(project_name: str, model: dict, *, kind: str = "pod", replicas: int = 1) -> Result:
    if kind not in ("pod", "deployment"):
        raise ComposeError(f"invalid type {kind!r}: use pod or deployment")
    warnings: list[str] = []
    services = model.get("services") or {}
    if not services:
        raise ComposeError("the project has no services")
    pod_name = dns_label(project_name, fallback="compose")
    claims: dict[str, dict] = {}
    volumes: list[dict] = []
    containers = []
    restart = set()
    hostnames: list[str] = []
    for sname in _start_order(services):
        svc = services[sname]
        cname = dns_label(sname)
        if cname in {c["name"] for c in containers}:
            raise ComposeError(f"services {sname!r} and another one have the same Kubernetes name {cname!r}")
        for h in [sname, svc.get("container_name")] + _aliases(svc):
            if h and h not in hostnames:
                hostnames.append(h)
        ignored = [k for k in _IGNORED_KEYS if svc.get(k)]
        if ignored:
            warnings.append(f"service {sname}: {', '.join(ignored)} not carried into Kubernetes YAML")
        reps = ((svc.get("deploy") or {}).get("replicas"))
        if reps not in (None, 1):
            warnings.append(f"service {sname}: deploy.replicas {reps} cannot be kept inside one pod "
                            "(use --type deployment --replicas N for the whole project)")
        restart.add(_restart(svc))
        containers.append(_container(project_name, sname, cname, svc, model, claims, volumes, warnings))
    policy = ("Always" if "Always" in restart else "OnFailure" if "OnFailure" in restart else "Never")
    if len(restart) > 1:
        warnings.append(f"services ask for different restart policies; a pod has one: {policy}")
    spec = {"containers": containers, "restartPolicy": policy,
            "hostAliases": [{"ip": "127.0.0.1", "hostnames": hostnames}]}
    if volumes:
        spec["volumes"] = volumes
    labels = {"app": pod_name}
    meta = {"name": pod_name, "labels": labels,
            "annotations": {"io.pypod.compose.project": project_name}}
    docs = [_claim(n, c) for n, c in claims.items()]
    if kind == "deployment":
        if policy != "Always":  # the only policy a Deployment's pod template may have
            spec["restartPolicy"] = "Always"
        docs.append({"apiVersion": "apps/v1", "kind": "Deployment",
                     "metadata": {"name": pod_name + "-deployment", "labels": labels,
                                  "annotations": meta["annotations"]},
                     "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                              "template": {"metadata": {"labels": labels, "annotations": meta["annotations"]},
                                           "spec": spec}}})
    else:
        docs.append({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec})
    return Result(docs, warnings)


def _start_order(services: dict) -> list[str]:
    """depends_on first: a pod starts its containers in order."""
    out: list[str] = []
    seen: set[str] = set()

    def visit(name: str, path: tuple) -> None:
        if name in seen or name not in services:
            return
        if name in path:
            raise ComposeError(f"dependency cycle detected: {' -> '.join(path + (name,))}")
        for dep in (services[name].get("depends_on") or {}):
            visit(dep, path + (name,))
        seen.add(name)
        out.append(name)

    for n in services:
        visit(n, ())
    return out


def _aliases(svc: dict) -> list[str]:
    out = []
    for net in (svc.get("networks") or {}).values():
        out += (net or {}).get("aliases") or []
    return out


def _restart(svc: dict) -> str:
    r = str(svc.get("restart") or "no")
    return ("Always" if r in ("always", "unless-stopped") else "OnFailure" if r.startswith("on-failure")
            else "Never")


def _container(project: str, sname: str, cname: str, svc: dict, model: dict, claims: dict,
               volumes: list, warnings: list) -> dict:
    image = svc.get("image")
    if not image:
        image = f"{project}-{sname}"
        warnings.append(f"service {sname} is built: its image {image} must be built (pypod compose "
                        "build) and pushed where the cluster can pull it")
    c: dict = {"name": cname, "image": image}
    if svc.get("entrypoint"):
        c["command"] = [str(x) for x in svc["entrypoint"]]
    if svc.get("command"):
        c["args"] = [str(x) for x in svc["command"]]
    env = [{"name": k, "value": str(v)} for k, v in (svc.get("environment") or {}).items() if v is not None]
    if env:
        c["env"] = env
    if svc.get("working_dir"):
        c["workingDir"] = svc["working_dir"]
    if svc.get("tty"):
        c["tty"] = True
    if svc.get("stdin_open"):
        c["stdin"] = True
    ports = [_port(sname, p) for p in svc.get("ports") or []]
    if ports:
        c["ports"] = ports
    mounts = _mounts(sname, cname, svc, model, claims, volumes)
    if mounts:
        c["volumeMounts"] = mounts
    sc = _security(sname, svc, warnings)
    if sc:
        c["securityContext"] = sc
    res = _resources(svc)
    if res:
        c["resources"] = res
    probe = _probe(svc.get("healthcheck"))
    if probe:
        c["livenessProbe"] = probe
    return c


def _port(sname: str, p: dict) -> dict:
    out = {"containerPort": int(p["target"]), "protocol": str(p.get("protocol") or "tcp").upper()}
    pub = str(p.get("published") or "")
    if pub:
        if not pub.isdigit():
            raise ComposeError(f"service {sname}: published port range {pub!r} has no Kubernetes form")
        out["hostPort"] = int(pub)
    if p.get("host_ip"):
        out["hostIP"] = p["host_ip"]
    return out


def _mounts(sname: str, cname: str, svc: dict, model: dict, claims: dict, volumes: list) -> list[dict]:
    mounts = []
    names = {v["name"] for v in volumes}

    def add_volume(name: str, source: dict) -> str:
        name = dns_label(name, fallback="volume")
        if name not in names:
            names.add(name)
            volumes.append({"name": name, **source})
        return name

    for i, v in enumerate(svc.get("volumes") or []):
        kind, target = v.get("type"), v["target"]
        m = {"mountPath": target}
        if v.get("read_only"):
            m["readOnly"] = True
        if kind == "volume" and v.get("source"):
            top = (model.get("volumes") or {}).get(v["source"]) or {}
            claim = dns_label(top.get("name") or v["source"], fallback="volume")
            claims.setdefault(claim, top)
            m["name"] = add_volume(claim, {"persistentVolumeClaim": {"claimName": claim}})
        elif kind == "volume":  # anonymous
            m["name"] = add_volume(f"{cname}-anon-{i}", {"emptyDir": {}})
        elif kind == "bind":
            create = (v.get("bind") or {}).get("create_host_path", True)
            hp = {"path": v["source"]}
            if create:
                hp["type"] = "DirectoryOrCreate"
            m["name"] = add_volume(f"{cname}-bind-{i}", {"hostPath": hp})
        elif kind == "tmpfs":
            m["name"] = add_volume(f"{cname}-tmpfs-{i}", {"emptyDir": {"medium": "Memory"}})
        else:
            raise ComposeError(f"service {sname}: a {kind} mount has no Kubernetes form")
        mounts.append(m)
    for i, t in enumerate(svc.get("tmpfs") or []):
        mounts.append({"mountPath": t.partition(":")[0],
                       "name": add_volume(f"{cname}-tmpfs-t{i}", {"emptyDir": {"medium": "Memory"}})})
    return mounts


def _claim(name: str, top: dict) -> dict:
    labels = {k: v for k, v in (top.get("labels") or {}).items() if is_label_value(str(v))}
    meta = {"name": name}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta,
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": CLAIM_SIZE}}}}


def _security(sname: str, svc: dict, warnings: list) -> dict:
    sc: dict = {}
    caps = {}
    if svc.get("cap_add"):
        caps["add"] = [str(x) for x in svc["cap_add"]]
    if svc.get("cap_drop"):
        caps["drop"] = [str(x) for x in svc["cap_drop"]]
    if caps:
        sc["capabilities"] = caps
    if svc.get("privileged"):
        sc["privileged"] = True
    if svc.get("read_only"):
        sc["readOnlyRootFilesystem"] = True
    user = str(svc.get("user") or "")
    if user:
        uid, _, gid = user.partition(":")
        if uid.isdigit() and (not gid or gid.isdigit()):
            sc["runAsUser"] = int(uid)
            if gid:
                sc["runAsGroup"] = int(gid)
        else:
            warnings.append(f"service {sname}: user {user!r} is not numeric; Kubernetes takes ids only")
    return sc


def _resources(svc: dict) -> dict:
    limits = ((svc.get("deploy") or {}).get("resources") or {}).get("limits") or {}
    out = {}
    if limits.get("cpus"):
        out["cpu"] = f"{int(math.ceil(float(limits['cpus']) * 1000))}m"
    if limits.get("memory"):
        out["memory"] = str(int(limits["memory"]))
    return {"limits": out} if out else {}


def _seconds(text, where: str) -> int | None:
    from pypod.compose.units import parse_duration

    if text in (None, ""):
        return None
    return max(1, int(math.ceil(parse_duration(text, where) / 1e9)))


def _probe(hc: dict | None) -> dict | None:
    if not hc or hc.get("disable"):
        return None
    test = hc.get("test") or []
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    if not test or test[0] == "NONE":
        return None
    cmd = ["/bin/sh", "-c", " ".join(test[1:])] if test[0] == "CMD-SHELL" else [str(x) for x in test[1:]]
    probe: dict = {"exec": {"command": cmd}}
    for key, field_ in (("interval", "periodSeconds"), ("timeout", "timeoutSeconds"),
                        ("start_period", "initialDelaySeconds")):
        s = _seconds(hc.get(key), f"healthcheck.{key}")
        if s is not None:
            probe[field_] = s
    if hc.get("retries"):
        probe["failureThreshold"] = int(hc["retries"])
    return probe
