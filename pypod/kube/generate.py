"""The mapping of pypod's containers and volumes to Kubernetes objects (plain dicts), as podman 4.3's
libpod/kube.go does it, made valid for a cluster where podman's is not. Pure: everything it reads is
given (collect.py gathers it), so unit tests drive it with dicts.

Differences from podman 4.3, on purpose: names are DNS labels (podman only drops `_`); a restart policy,
resource limits (cgroups v1 included) and a healthcheck (→ livenessProbe) are written, as newer podman
does; an empty `-e NAME=` is kept; `--tmpfs` becomes an emptyDir (podman writes a hostPath "tmpfs");
a Service with no published port is not written, nor an annotation key a cluster would refuse
(podman writes `my.org/key/CONTAINER` for `--annotation my.org/key=...`); each said in a warning.
"""

from __future__ import annotations

import dataclasses
import random

from pypod.errors import InvalidArgument, PypodError
from pypod.kube import names

# runtime-tools' default capability set: podman derives add/drop against it (not containers.conf's)
DEFAULT_CAPS = ("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
                "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
                "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE")
# what the engine puts in every container's environment: not the user's, so not written
DEFAULT_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM": "xterm",
               "container": "podman"}
MAX_ANNOTATION = 63  # podman's define.MaxKubeAnnotation
RESTART = {"always": "Always", "unless-stopped": "Always", "on-failure": "OnFailure", "no": "Never"}


@dataclasses.dataclass
class ContainerFacts:
    """One container as the mapping needs it."""
    inspect: dict                       # engine.containers.inspect_container()
    entrypoint: list                    # the record's lists (inspect joins the entrypoint)
    cmd: list
    image: dict                         # the image's config (Env, Cmd, Entrypoint, WorkingDir, User)
    run_as: tuple | None = None         # (uid, gid) of -u, resolved in the container's passwd
    path_kinds: dict = dataclasses.field(default_factory=dict)  # bind source → Directory/File/...


@dataclasses.dataclass
class PodFacts:
    """A pypod pod for `kube generate POD`: its name, its members' facts (the infra aside) and
    the ports it publishes (on its infra)."""
    name: str
    containers: list[ContainerFacts]
    ports: list[dict]


class Generated:
    """The objects of one `kube generate`, and what it had to say."""

    def __init__(self):
        self.pvcs: list[dict] = []
        self.services: list[dict] = []
        self.workloads: list[dict] = []
        self.warnings: list[str] = []

    def documents(self) -> list[dict]:
        # helm's install order, as podman writes them: claims, services, then pods/deployments
        return self.pvcs + self.services + self.workloads


def _truncate(value: str, warnings: list[str]) -> str:
    value = str(value).strip()
    if len(value) <= MAX_ANNOTATION:
        return value
    cut = value[:MAX_ANNOTATION]
    warnings.append(f"Truncation Annotation: {value!r} to {cut!r}: Kubernetes only allows "
                    f"{MAX_ANNOTATION} characters")
    return cut


def _flag(v) -> str:
    return "TRUE" if v else "FALSE"


def container_annotations(f: ContainerFacts, kname: str, warnings: list[str]) -> dict:
    """podman's per-container pod annotations: `KEY/CONTAINER`."""
    i = f.inspect
    cfg, hc = i.get("Config") or {}, i.get("HostConfig") or {}
    ann = {"io.kubernetes.cri-o.TTY": "true" if cfg.get("Tty") else "false",
           "io.podman.annotations.autoremove": _flag(hc.get("AutoRemove")),
           "io.podman.annotations.init": _flag(hc.get("Init")),
           "io.podman.annotations.privileged": _flag(hc.get("Privileged")),
           "io.podman.annotations.publish-all": _flag(hc.get("PublishAllPorts"))}
    for opt in hc.get("SecurityOpt") or []:
        if opt.startswith(("label=", "label:")):
            ann["io.podman.annotations.label"] = opt[6:]
    ann.update(cfg.get("Annotations") or {})
    # auto-update labels travel as annotations (podman's getAutoUpdateAnnotations)
    ann.update({k: v for k, v in (cfg.get("Labels") or {}).items() if "io.containers.autoupdate" in k})
    out = {}
    for k, v in ann.items():
        key = f"{k}/{kname}"
        if not names.is_qualified_name(key):  # podman writes it anyway; a cluster refuses it
            warnings.append(f"annotation {k!r} of container {kname}: {key!r} is not a valid Kubernetes "
                            "annotation key, left out")
            continue
        out[key] = _truncate(v, warnings)
    return out


def command_and_args(f: ContainerFacts) -> tuple[list, list]:
    """Kubernetes' command/args from the container's entrypoint and cmd: `command` replaces the
    image's ENTRYPOINT, `args` its CMD; what equals the image's own is left out (podman's rule)."""
    ep, cmd = list(f.entrypoint or []), list(f.cmd or [])
    img_ep, img_cmd = list(f.image.get("Entrypoint") or []), list(f.image.get("Cmd") or [])
    if ep:
        return ([] if ep == img_ep else ep), cmd
    if cmd == img_cmd and not img_ep:
        return [], []
    return cmd, []  # no entrypoint: the cmd is the whole command (it must also replace the image's)


def env_vars(f: ContainerFacts) -> list[dict]:
    image_env = dict(e.partition("=")[::2] for e in f.image.get("Env") or [])
    out = []
    for e in (f.inspect.get("Config") or {}).get("Env") or []:
        k, eq, v = e.partition("=")
        if not eq or DEFAULT_ENV.get(k) == v or (k in image_env and image_env[k] == v):
            continue
        out.append({"name": k, "value": v} if v else {"name": k})
    return out


def container_ports(f: ContainerFacts) -> list[dict]:
    out = []
    for key, bindings in ((f.inspect.get("HostConfig") or {}).get("PortBindings") or {}).items():
        port, _, proto = key.partition("/")
        for b in bindings or []:  # None: --expose without a binding, not a mapping
            p = {"containerPort": int(port)}
            if str(b.get("HostPort") or "0") != "0":
                p["hostPort"] = int(b["HostPort"])
            if b.get("HostIp") and b["HostIp"] not in ("0.0.0.0", "::"):
                p["hostIP"] = b["HostIp"]
            if proto and proto.lower() != "tcp":
                if proto.lower() not in ("udp", "sctp"):
                    raise InvalidArgument(f"unknown network protocol {proto}")
                p["protocol"] = proto.upper()
            out.append(p)
    return out


def _cap(c: str) -> str:
    c = c.upper()
    return c if c.startswith("CAP_") else "CAP_" + c


def security_context(f: ContainerFacts) -> dict:
    i = f.inspect
    hc = i.get("HostConfig") or {}
    sc: dict = {}
    if hc.get("Privileged"):
        sc["privileged"] = True
    else:
        have = {_cap(c) for c in (i.get("BoundingCaps") or []) + (i.get("EffectiveCaps") or [])}
        add = sorted(have - set(DEFAULT_CAPS))
        drop = [c for c in DEFAULT_CAPS if c not in have]
        caps = {k: v for k, v in (("add", add), ("drop", drop)) if v}
        if caps:
            sc["capabilities"] = caps
    for opt in hc.get("SecurityOpt") or []:
        k, _, v = opt.replace("=", ":", 1).partition(":")
        if k == "no-new-privileges" and v in ("", "true"):
            sc["allowPrivilegeEscalation"] = False
        elif k == "label":
            kind, _, val = v.partition(":")
            if kind == "disable":
                sc["seLinuxOptions"] = {"type": "spc_t"}
            elif kind in ("type", "level") and val:
                sc["seLinuxOptions"] = {kind: val}
    if hc.get("ReadonlyRootfs"):
        sc["readOnlyRootFilesystem"] = True
    if f.run_as is not None:
        sc["runAsUser"], sc["runAsGroup"] = int(f.run_as[0]), int(f.run_as[1])
    return sc


def memory_quantity(n: int) -> str:
    """Bytes as Kubernetes' resource.Quantity prints a BinarySI value: the largest exact 1024
    power suffix (256Mi), else the plain number."""
    for suffix, mult in (("Ei", 1 << 60), ("Pi", 1 << 50), ("Ti", 1 << 40), ("Gi", 1 << 30),
                         ("Mi", 1 << 20), ("Ki", 1 << 10)):
        if n >= mult and n % mult == 0:
            return f"{n // mult}{suffix}"
    return str(n)


def cpu_quantity(nano: int) -> str | None:
    milli = nano // 1_000_000  # Kubernetes: nothing finer than 1m
    if milli < 1:
        return None
    return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"


def resources(f: ContainerFacts) -> dict:
    hc = f.inspect.get("HostConfig") or {}
    limits = {}
    if hc.get("Memory"):
        limits["memory"] = memory_quantity(int(hc["Memory"]))
    cpu = cpu_quantity(int(hc.get("NanoCpus") or 0))
    if cpu:
        limits["cpu"] = cpu
    return {"limits": limits} if limits else {}


def _seconds(ns) -> int:
    return int(round((ns or 0) / 1e9))


def liveness_probe(f: ContainerFacts) -> dict | None:
    """The healthcheck as an exec livenessProbe (what `kube play` turns back into one)."""
    h = (f.inspect.get("Config") or {}).get("Healthcheck")
    test = list((h or {}).get("Test") or [])
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD-SHELL":
        command = ["/bin/sh", "-c", " ".join(test[1:])]
    elif test[0] == "CMD":
        command = test[1:]
    else:
        command = test
    if not command:
        return None
    probe: dict = {"exec": {"command": command}}
    for key, value, low in (("periodSeconds", _seconds(h.get("Interval")), 1),
                            ("timeoutSeconds", _seconds(h.get("Timeout")), 1),
                            ("failureThreshold", int(h.get("Retries") or 0), 1),
                            ("initialDelaySeconds", _seconds(h.get("StartPeriod")), 1)):
        if value >= low:
            probe[key] = value
    return probe


def _bind_options(f: ContainerFacts) -> dict:
    """bind source → its -v options (the inspect Mounts leave out z/Z)."""
    out = {}
    for b in (f.inspect.get("HostConfig") or {}).get("Binds") or []:
        parts = b.split(":")
        if len(parts) >= 3 and parts[0].startswith(("/", ".")):
            out[parts[0]] = parts[2].split(",")
    return out


def volume_mounts(f: ContainerFacts) -> tuple[list, list, dict]:
    """(volumeMounts, pod volumes, annotations): bind mounts → hostPath volumes (podman's order:
    binds first), named volumes → persistentVolumeClaim, --tmpfs → a memory emptyDir."""
    mounts, volumes, ann = [], [], {}
    opts = _bind_options(f)
    all_mounts = f.inspect.get("Mounts") or []
    for index, m in enumerate(x for x in all_mounts if x.get("Type") == "bind"):
        src = m.get("Source") or "/"
        for o in opts.get(src, []):
            if o in ("z", "Z"):
                ann["bind-mount-options"] = f"{src}:{o}"
        name = names.host_path_volume(src, index)
        vm = {"mountPath": m["Destination"], "name": name}
        if not m.get("RW", True):
            vm["readOnly"] = True
        mounts.append(vm)
        volumes.append({"name": name, "hostPath": {"path": src,
                                                   "type": f.path_kinds.get(src, "DirectoryOrCreate")}})
    for m in all_mounts:
        if m.get("Type") != "volume":
            continue
        claim = names.dns_label(m.get("Name") or "", fallback="volume")
        name = names.with_suffix(m.get("Name") or "volume", "-pvc")
        vm = {"mountPath": m["Destination"], "name": name}
        pvc = {"claimName": claim}
        if not m.get("RW", True):
            vm["readOnly"] = pvc["readOnly"] = True
        mounts.append(vm)
        volumes.append({"name": name, "persistentVolumeClaim": pvc})
    for dest in (f.inspect.get("HostConfig") or {}).get("Tmpfs") or {}:
        name = names.with_suffix(dest.strip("/").replace("/", "-") or "root", "-tmpfs")
        mounts.append({"mountPath": dest, "name": name})
        volumes.append({"name": name, "emptyDir": {"medium": "Memory"}})
    return mounts, volumes, ann


def container_to_kube(f: ContainerFacts, warnings: list[str]) -> tuple[dict, list, dict]:
    """(v1.Container, its pod volumes, its pod annotations)."""
    i = f.inspect
    cfg = i.get("Config") or {}
    if (i.get("HostConfig") or {}).get("Devices") and not (i.get("HostConfig") or {}).get("Privileged"):
        raise PypodError(f"container {i.get('Name')}: --device has no Kubernetes equivalent: "
                         "linux devices: not implemented")  # podman refuses too
    kname = names.dns_label(i.get("Name") or "")
    c: dict = {"name": kname, "image": cfg.get("Image") or i.get("ImageName") or ""}
    command, args = command_and_args(f)
    wd = cfg.get("WorkingDir") or "/"
    mounts, volumes, ann = volume_mounts(f)
    optional = (("command", command), ("args", args), ("env", env_vars(f)),
                ("workingDir", wd if wd not in ("/", f.image.get("WorkingDir") or "/") else None),
                ("ports", container_ports(f)), ("resources", resources(f)),
                ("securityContext", security_context(f)), ("livenessProbe", liveness_probe(f)),
                ("stdin", bool(cfg.get("OpenStdin"))), ("tty", bool(cfg.get("Tty"))),
                ("volumeMounts", mounts))
    c.update((k, v) for k, v in optional if v)  # Kubernetes' omitempty
    ann.update(container_annotations(f, kname, warnings))
    return c, volumes, ann


def _dns_config(facts: list[ContainerFacts]) -> dict:
    servers, searches, options = [], [], []
    for f in facts:
        hc = f.inspect.get("HostConfig") or {}
        servers += [s for s in hc.get("Dns") or [] if s not in servers]
        searches += [s for s in hc.get("DnsSearch") or [] if s not in searches]
        for o in hc.get("DnsOptions") or []:
            k, sep, v = o.partition(":")
            options.append({"name": k, "value": v} if sep else {"name": k})
    out = {k: v for k, v in (("nameservers", servers), ("searches", searches), ("options", options)) if v}
    return out


def pod_from_containers(facts: list[ContainerFacts], now: str, warnings: list[str],
                        pod: PodFacts | None = None) -> dict:
    """One Pod holding all the given containers (podman's simplePodWithV1Containers), or a pypod
    pod's members (named as the pod; the ports it publishes on the first container, as podman)."""
    containers, volumes, annotations = [], [], {}
    seen_volumes: dict = {}
    hostname = ""
    host_network, host_users = True, True
    for f in facts:
        c, vols, ann = container_to_kube(f, warnings)
        if any(x["name"] == c["name"] for x in containers):
            raise InvalidArgument(f"containers {f.inspect.get('Name')!r} and another have the same "
                                  f"Kubernetes name {c['name']!r}: rename one")
        containers.append(c)
        for v in vols:
            first = seen_volumes.get(v["name"])
            if first is None:
                seen_volumes[v["name"]] = v
                volumes.append(v)
            elif first != v:  # two sources, one name (`/a_b` and `/ab`): the second is renamed
                old, v["name"] = v["name"], names.with_suffix(v["name"], f"-{len(volumes)}")
                for m in c.get("volumeMounts") or []:
                    if m["name"] == old:
                        m["name"] = v["name"]
                seen_volumes[v["name"]] = v
                volumes.append(v)
        annotations.update(ann)
        h = (f.inspect.get("Config") or {}).get("Hostname") or ""
        if not hostname and h and h not in (f.inspect.get("Id") or ""):
            hostname = h  # only one chosen by the user: the default is the short id
        hc = f.inspect.get("HostConfig") or {}
        host_network = host_network and hc.get("NetworkMode") == "host"
        host_users = host_users and (hc.get("UsernsMode") or "") in ("", "host")
    if pod is not None:
        pod_name = names.dns_label(pod.name, fallback="pod")
        if pod.ports and containers:
            containers[0]["ports"] = pod.ports + list(containers[0].get("ports") or [])
    else:
        pod_name = names.with_suffix(facts[0].inspect.get("Name") or "", "-pod")
    spec: dict = {"automountServiceAccountToken": False, "containers": containers,
                  "enableServiceLinks": False}
    if hostname:
        spec["hostname"] = names.dns_label(hostname)
    if host_network:
        spec["hostNetwork"] = True
    if not host_users:
        spec["hostUsers"] = False
    if volumes:
        spec["volumes"] = volumes
    dns = _dns_config(facts)
    if dns:
        spec["dnsConfig"] = dns
    restart = ((facts[0].inspect.get("HostConfig") or {}).get("RestartPolicy") or {}).get("Name") or ""
    if restart in RESTART:
        spec["restartPolicy"] = RESTART[restart]
    meta: dict = {"creationTimestamp": now, "labels": {"app": pod_name}, "name": pod_name}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def deployment_from_pod(pod: dict, replicas: int = 1) -> dict:
    """podman 4.5's Deployment: the pod as its template, selected by its app label."""
    spec = pod["spec"]
    if spec.get("restartPolicy", "Always") != "Always":
        raise InvalidArgument("k8s Deployments can only have restartPolicy set to Always")
    name = pod["metadata"]["name"]
    labels = {"app": name}
    dspec: dict = {"selector": {"matchLabels": dict(labels)},
                   "template": {"metadata": dict(pod["metadata"], labels=dict(labels)), "spec": spec}}
    if replicas > 1:
        dspec["replicas"] = replicas
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"creationTimestamp": pod["metadata"]["creationTimestamp"], "labels": dict(labels),
                         "name": names.with_suffix(name, "-deployment")},
            "spec": dspec}


def service_from_pod(pod: dict, rng: random.Random | None = None) -> dict | None:
    """A NodePort Service of the pod's published ports (None without one: a cluster refuses a
    Service with no port). NodePorts are random in 30000-32767, distinct, as podman picks them."""
    rng = rng or random.Random()
    ports, used, seen_names = [], set(), set()
    for c in pod["spec"]["containers"]:
        for p in c.get("ports") or []:
            if "hostPort" not in p:
                continue
            node = rng.randint(30000, 32767)
            while node in used:
                node = rng.randint(30000, 32767)
            used.add(node)
            name = str(p["containerPort"])
            if name in seen_names:  # 53/tcp and 53/udp: service port names must differ
                name = f"{name}-{p.get('protocol', 'TCP').lower()}"
            seen_names.add(name)
            sp = {"name": name, "nodePort": node, "port": p["containerPort"], "targetPort": p["containerPort"]}
            if p.get("protocol"):
                sp["protocol"] = p["protocol"]
            ports.append(sp)
    if not ports:
        return None
    app = pod["metadata"]["labels"]["app"]
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"creationTimestamp": pod["metadata"]["creationTimestamp"], "labels": {"app": app},
                         "name": names.service_name(pod["metadata"]["name"])},
            "spec": {"ports": ports, "selector": {"app": app}, "type": "NodePort"}}


VOLUME_OPTION_ANNOTATIONS = {"o": "volume.podman.io/mount-options", "device": "volume.podman.io/device",
                             "type": "volume.podman.io/type", "UID": "volume.podman.io/uid",
                             "GID": "volume.podman.io/gid"}


def pvc_from_volume(vol: dict, now: str, warnings: list[str] | None = None) -> dict:
    """A PersistentVolumeClaim for a named volume (its `volume inspect` data), podman's shape."""
    ann = {"volume.podman.io/driver": vol.get("Driver") or "local"}
    for k, v in (vol.get("Options") or {}).items():
        if k in VOLUME_OPTION_ANNOTATIONS:
            ann[VOLUME_OPTION_ANNOTATIONS[k]] = str(v)
    meta: dict = {"annotations": ann, "creationTimestamp": now,
                  "name": names.dns_label(vol.get("Name") or "", fallback="volume")}
    labels = {}
    for k, v in (vol.get("Labels") or {}).items():
        if names.is_qualified_name(k) and names.is_label_value(str(v)):
            labels[k] = str(v)
        elif warnings is not None:
            warnings.append(f"label {k}={v} of volume {vol.get('Name')}: not a valid Kubernetes label, left out")
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta,
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
            "status": {}}


def generate(facts: list[ContainerFacts], volumes: list[dict], *, now: str, kind: str = "pod",
             service: bool = False, replicas: int = 1, rng: random.Random | None = None,
             pods: list[PodFacts] = ()) -> Generated:
    if kind not in ("pod", "deployment"):
        raise InvalidArgument("invalid generation type - only pods and deployments are currently supported")
    if replicas < 1:
        raise InvalidArgument("--replicas has to be greater than or equal to 1. By default, --replicas is set to 1")
    if replicas > 1 and kind != "deployment":
        raise InvalidArgument("--replicas can only be set when --type is set to deployment")
    g = Generated()
    g.pvcs = [pvc_from_volume(v, now, g.warnings) for v in volumes]
    if facts and pods:
        raise InvalidArgument("generating YAML of pods and of containers outside them at once is not supported")
    made = [pod_from_containers(p.containers, now, g.warnings, p) for p in pods]
    if facts:
        made.append(pod_from_containers(facts, now, g.warnings))
    for pod in made:
        if service:
            svc = service_from_pod(pod, rng)
            if svc is None:
                g.warnings.append(f"no published ports: no Service written for {pod['metadata']['name']}")
            else:
                g.services.append(svc)
        g.workloads.append(deployment_from_pod(pod, replicas) if kind == "deployment" else pod)
    return g
