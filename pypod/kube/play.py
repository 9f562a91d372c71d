"""`kube play`'s first half, pure: Kubernetes YAML documents → a plan of volumes, pods and the
containers' create options, as podman 4.3 maps them (pkg/specgen/generate/kube, abi/play.go).

Everything a document can get wrong is found here, before anything is created (an unsupported
field or source, a missing ConfigMap key, a duplicate container name): the executor then creates
what the plan says or nothing. Host facts (hostPath types) are checked by `check_host_paths`, also
before anything is created.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import stat
from dataclasses import dataclass, field

from pypod.errors import InvalidArgument, PypodError

# podman 4.3 plays these kinds; any other is skipped (podman logs it at info level; we say it)
PLAYED_KINDS = ("Pod", "Deployment", "PersistentVolumeClaim", "ConfigMap", "Secret")
# the order podman creates them in (sortKubeKinds): what pods use comes first
_KIND_ORDER = {"PersistentVolumeClaim": 0, "ConfigMap": 0, "Secret": 0, "Pod": 1, "Deployment": 1}
_RESTART = {"Always": "always", "OnFailure": "on-failure", "Never": "no"}
_PROPAGATION = {"None": "private", "HostToContainer": "rslave", "Bidirectional": "rshared"}
# podman's volume annotations on a PersistentVolumeClaim
_PVC_DRIVER = "volume.podman.io/driver"
_PVC_OPTS = {"volume.podman.io/device": "device", "volume.podman.io/type": "type",
             "volume.podman.io/uid": "uid", "volume.podman.io/gid": "gid",
             "volume.podman.io/mount-options": "o"}
# container fields we cannot honour: refused by name, never silently dropped
_UNSUPPORTED_CTR = ("lifecycle", "startupProbe", "volumeDevices")
_HOSTPATH_TYPES = ("", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket",
                   "CharDevice", "BlockDevice")


SCRATCH_LABEL = "io.pypod.kube.emptydir"  # on an emptyDir's volume: the pod it belongs to


def scratch_volume(pod_name: str, volume: str) -> str:
    return f"{pod_name}-{volume}"


@dataclass
class VolumePlan:
    """A named volume to create (a PersistentVolumeClaim), or to fill (a ConfigMap or Secret
    mounted as files: podman makes a volume of that name and writes one file per key)."""
    name: str
    labels: dict = field(default_factory=dict)
    driver: str = "local"
    options: dict = field(default_factory=dict)
    files: dict | None = None  # name → bytes, for ConfigMap/Secret volumes
    scratch: bool = False  # a pod's emptyDir: made with the pod, removed with it


@dataclass
class ContainerPlan:
    name: str  # POD-CONTAINER, as podman names them
    image: str
    create: dict  # CreateOptions fields
    init: bool = False
    pull_policy: str = ""


@dataclass
class PodPlan:
    name: str
    labels: dict
    hostname: str
    publish: list[str]
    add_host: list[str]
    dns: list[str]
    dns_search: list[str]
    dns_option: list[str]
    share: list[str]
    host_network: bool
    restart: str
    containers: list[ContainerPlan]
    init_containers: list[ContainerPlan]
    host_paths: list[tuple[str, str]]  # (path, type) to check or create before anything else


@dataclass
class Plan:
    volumes: list[VolumePlan] = field(default_factory=list)
    pods: list[PodPlan] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # kinds podman 4.3 does not play


def load_documents(text: str) -> list[dict]:
    import yaml

    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as e:
        raise InvalidArgument(f"the YAML cannot be read: {_one_line(e)}") from None
    for d in docs:
        if not isinstance(d, dict):
            raise InvalidArgument("a YAML document is not a Kubernetes object (a mapping)")
        if d.get("kind") == "List" and isinstance(d.get("items"), list):  # `kubectl get -o yaml`
            docs.extend(i for i in d["items"] if isinstance(i, dict))
    return [d for d in docs if d.get("kind") != "List"]


def plan(docs: list[dict], *, extra_configmaps: list[dict] = (), log_driver: str | None = None,
         log_opts: list[str] = (), publish: list[str] = (), no_hosts: bool = False) -> Plan:
    p = Plan()
    configmaps: dict[str, dict] = {}
    secrets: dict[str, dict] = {}
    workloads = []
    for d in sorted(docs, key=lambda d: _KIND_ORDER.get(d.get("kind"), 2)):
        kind = d.get("kind")
        if not isinstance(kind, str) or not kind:
            raise InvalidArgument("a YAML document has no kind")
        if kind not in PLAYED_KINDS:
            p.skipped.append(kind)
            continue
        name = _meta(d).get("name")
        if not name or not isinstance(name, str):
            raise InvalidArgument(f"a {kind} has no metadata.name")
        if kind == "ConfigMap":
            configmaps[name] = d
        elif kind == "Secret":
            secrets[name] = d
        elif kind == "PersistentVolumeClaim":
            p.volumes.append(_claim(d))
        else:
            workloads.append(d)
    for cm in extra_configmaps:  # --configmap FILE
        name = _meta(cm).get("name")
        if cm.get("kind") != "ConfigMap":
            raise InvalidArgument(f"invalid YAML kind: {cm.get('kind')!r}. [ConfigMap] is the only "
                                  "supported by --configmap")
        if name in configmaps:
            raise InvalidArgument(f"ambiguous configuration: the same config map {name} is present in "
                                  "YAML and in --configmaps")
        configmaps[name] = cm
    if not workloads and not p.volumes and not configmaps and not secrets:
        raise InvalidArgument("YAML document does not contain any supported kube kind")
    env = _Sources(configmaps, secrets)
    names: set[str] = set()
    for d in workloads:
        meta = _meta(d)
        if d["kind"] == "Pod":
            pods = [(meta["name"], {"metadata": meta, "spec": d.get("spec") or {}})]
        else:
            spec = d.get("spec") or {}
            replicas = spec.get("replicas", 1)
            if not isinstance(replicas, int) or replicas < 0:
                raise InvalidArgument(f"Deployment {meta['name']}: replicas must be a number ≥ 0")
            tmpl = spec.get("template") or {}
            pods = [(f"{meta['name']}-pod-{i}", tmpl) for i in range(replicas)]
        for pod_name, tmpl in pods:
            if pod_name in names:
                raise InvalidArgument(f"the pod name {pod_name} is used twice in the YAML")
            names.add(pod_name)
            pp = _pod(pod_name, tmpl, meta.get("annotations") or {}, env, log_driver, list(log_opts),
                      no_hosts)
            pp.publish.extend(publish)
            for v in _pod_volumes(pod_name, tmpl, env):
                if v.name not in {x.name for x in p.volumes}:
                    p.volumes.append(v)
            p.pods.append(pp)
    return p


@dataclass
class Teardown:
    """What `kube down` removes: the YAML's pods by name, and the volumes play made for it."""
    pods: list[str] = field(default_factory=list)
    volumes: list[VolumePlan] = field(default_factory=list)


def teardown(docs: list[dict]) -> Teardown:
    """The names only, nothing checked: a YAML that cannot be played (a ConfigMap given by
    --configmap then, missing now) can still be taken down, as podman's `kube down`."""
    t = Teardown()
    for d in docs:
        kind, meta, spec = d.get("kind"), d.get("metadata") or {}, d.get("spec") or {}
        name = meta.get("name") if isinstance(meta, dict) else None
        if not isinstance(name, str) or not name:
            continue
        if kind == "PersistentVolumeClaim":
            t.volumes.append(VolumePlan(name=name))
        elif kind in ("Pod", "Deployment"):
            if kind == "Pod":
                pods, tmpl = [name], {"spec": spec}
            else:
                n = spec.get("replicas", 1)
                pods, tmpl = [f"{name}-pod-{i}" for i in range(n if isinstance(n, int) else 1)], \
                    spec.get("template") or {}
            for pod in pods:
                t.pods.append(pod)
                for v in (tmpl.get("spec") or {}).get("volumes") or []:
                    if not isinstance(v, dict) or not v.get("name"):
                        continue
                    if "emptyDir" in v:
                        t.volumes.append(VolumePlan(name=scratch_volume(pod, v["name"]), scratch=True))
                    elif "configMap" in v and (v["configMap"] or {}).get("name"):
                        t.volumes.append(VolumePlan(name=v["configMap"]["name"]))
                    elif "secret" in v and (v["secret"] or {}).get("secretName"):
                        t.volumes.append(VolumePlan(name=v["secret"]["secretName"]))
    return t


def check_host_paths(pods: list[PodPlan]) -> None:
    """The hostPath types, checked (and *OrCreate made) before any pod is created, as podman."""
    for pod in pods:
        for path, kind in pod.host_paths:
            _check_host_path(path, kind)


def _check_host_path(path: str, kind: str) -> None:
    if kind == "DirectoryOrCreate":
        os.makedirs(path, 0o755, exist_ok=True)
        return
    if kind == "FileOrCreate":
        if not os.path.exists(path):
            os.close(os.open(path, os.O_RDONLY | os.O_CREAT, 0o644))
        return
    try:
        st = os.stat(path)
    except OSError as e:
        if kind == "":
            raise PypodError(f"in parsing HostPath in YAML: faccessat {path}: "
                             f"{e.strerror.lower()}") from None
        raise PypodError(f"checking HostPath{kind}: stat {path}: {e.strerror.lower()}") from None
    want = {"Directory": stat.S_ISDIR, "File": stat.S_ISREG, "Socket": stat.S_ISSOCK,
            "CharDevice": stat.S_ISCHR, "BlockDevice": stat.S_ISBLK}.get(kind)
    if want is not None and not want(st.st_mode):
        what = {"Directory": "a directory", "File": "a file", "Socket": "a socket",
                "CharDevice": "a character device", "BlockDevice": "a block device"}[kind]
        raise PypodError(f"checking HostPath{kind}: path {path} is not {what}")


# --- the parts -----------------------------------------------------------------------------------

class _Sources:
    """ConfigMaps and Secrets by name, for env and volumes."""

    def __init__(self, configmaps: dict, secrets: dict):
        self.configmaps = configmaps
        self.secrets = secrets

    def configmap(self, name: str) -> dict | None:
        cm = self.configmaps.get(name)
        if cm is None:
            return None
        data = {k: str(v) for k, v in (cm.get("data") or {}).items()}
        for k, v in (cm.get("binaryData") or {}).items():
            if k in data:
                raise InvalidArgument(f"the ConfigMap {name!r} is invalid: duplicate key {k!r} present "
                                      "in data and binaryData")
            data[k] = _b64(v, f"ConfigMap {name} binaryData {k}")
        return data

    def secret(self, name: str) -> dict | None:
        s = self.secrets.get(name)
        if s is None:
            return None
        data = {k: _b64(v, f"Secret {name} data {k}") for k, v in (s.get("data") or {}).items()}
        data.update({k: str(v) for k, v in (s.get("stringData") or {}).items()})
        return data


def _b64(v, where: str) -> str:
    try:
        return base64.b64decode(str(v), validate=True).decode("utf-8", "surrogateescape")
    except ValueError:
        raise InvalidArgument(f"{where} is not base64") from None


def _meta(d: dict) -> dict:
    m = d.get("metadata") or {}
    if not isinstance(m, dict):
        raise InvalidArgument(f"a {d.get('kind')}'s metadata is not a mapping")
    return m


def _claim(d: dict) -> VolumePlan:
    meta = _meta(d)
    ann = meta.get("annotations") or {}
    opts = {o: str(ann[a]) for a, o in _PVC_OPTS.items() if a in ann}
    return VolumePlan(name=meta["name"], labels=dict(meta.get("labels") or {}),
                      driver=str(ann.get(_PVC_DRIVER, "local")), options=opts)


def _pod_volumes(pod_name: str, tmpl: dict, env: _Sources) -> list[VolumePlan]:
    """The volumes a pod's ConfigMap and Secret volumes become (files written at play), and its
    emptyDirs (one volume per pod, shared by its containers, as a Kubernetes emptyDir is)."""
    out = []
    for v in (tmpl.get("spec") or {}).get("volumes") or []:
        if "emptyDir" in v and (v["emptyDir"] or {}).get("medium") != "Memory":
            out.append(VolumePlan(name=scratch_volume(pod_name, v["name"]), scratch=True,
                                  labels={SCRATCH_LABEL: pod_name}))
        elif "configMap" in v:
            src = v["configMap"] or {}
            data = env.configmap(src.get("name", ""))
            if data is None:
                continue  # optional and missing: _volume_sources has said so or raised
            items = src.get("items")
            files = {i["path"]: data[i["key"]] for i in items if i.get("key") in data} if items else data
            out.append(VolumePlan(name=src["name"], files={k: v.encode("utf-8", "surrogateescape")
                                                          for k, v in files.items()}))
        elif "secret" in v:
            src = v["secret"] or {}
            data = env.secret(src.get("secretName", ""))
            if data is not None:
                out.append(VolumePlan(name=src["secretName"], files={
                    k: v.encode("utf-8", "surrogateescape") for k, v in data.items()}))
    return out


def _volume_sources(pod_name: str, spec: dict, env: _Sources, host_paths: list) -> dict:
    """name → (type, source, optional) for the pod's volumes."""
    out = {}
    for v in spec.get("volumes") or []:
        name = v.get("name")
        if not name:
            raise InvalidArgument(f"pod {pod_name}: a volume has no name")
        if "hostPath" in v:
            hp = v["hostPath"] or {}
            path, kind = hp.get("path", ""), hp.get("type", "") or ""
            if kind not in _HOSTPATH_TYPES:
                raise InvalidArgument(f'failed to create volume "{name}": invalid HostPath type "{kind}"')
            if not path.startswith("/"):
                raise InvalidArgument(f'failed to create volume "{name}": in parsing HostPath in YAML: '
                                      f'invalid host path "{path}", must be an absolute path')
            host_paths.append((path, kind))
            out[name] = ("device" if kind in ("CharDevice", "BlockDevice") else "bind", path, False)
        elif "persistentVolumeClaim" in v:
            out[name] = ("named", (v["persistentVolumeClaim"] or {}).get("claimName", ""), False)
        elif "configMap" in v or "secret" in v:
            is_cm = "configMap" in v
            src = v["configMap" if is_cm else "secret"] or {}
            ref = str(src.get("name" if is_cm else "secretName", ""))
            found = (env.configmap if is_cm else env.secret)(ref) is not None
            if not found and not src.get("optional"):
                why = f'no such ConfigMap "{ref}"' if is_cm else f'no secret with name or id "{ref}": no such secret'
                raise InvalidArgument(f'failed to create volume "{name}": {why}')
            out[name] = ("named", ref, not found)  # optional and missing: not mounted
        elif "emptyDir" in v:
            if (v["emptyDir"] or {}).get("medium") == "Memory":
                out[name] = ("tmpfs", "", False)  # one per container: a tmpfs cannot be shared
            else:
                out[name] = ("named", scratch_volume(pod_name, name), False)
        else:
            kinds = [k for k in v if k != "name"]
            raise InvalidArgument(f'failed to create volume "{name}": volume source '
                                  f'{kinds[0] if kinds else "(none)"} is not supported: HostPath, '
                                  "ConfigMap, EmptyDir, Secret and PersistentVolumeClaim are")
    return out


def _pod(name: str, tmpl: dict, annotations: dict, env: _Sources, log_driver, log_opts,
         no_hosts: bool) -> PodPlan:
    meta = tmpl.get("metadata") or {}
    spec = tmpl.get("spec") or {}
    if not spec.get("containers"):
        raise InvalidArgument(f"pod {name}: spec.containers is empty")
    labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
    add_host = []
    for ha in spec.get("hostAliases") or []:
        if no_hosts:
            raise InvalidArgument("HostAliases in yaml file will not work with --no-hosts")
        add_host += [f"{h}:{ha.get('ip', '')}" for h in ha.get("hostnames") or []]
    dnsc = spec.get("dnsConfig") or {}
    share = ["ipc", "net", "uts"] + (["pid"] if spec.get("shareProcessNamespace") else [])
    restart = _RESTART.get(spec.get("restartPolicy") or "Always", "always")
    host_paths: list = []
    volumes = _volume_sources(name, spec, env, host_paths)
    pod = PodPlan(name=name, labels=labels, hostname=spec.get("hostname") or name,
                  publish=_pod_ports(spec.get("containers")), add_host=add_host,
                  dns=[str(s) for s in dnsc.get("nameservers") or []],
                  dns_search=[str(s) for s in dnsc.get("searches") or []],
                  dns_option=[o["name"] + (f":{o['value']}" if o.get("value") is not None else "")
                              for o in dnsc.get("options") or []],
                  share=share, host_network=bool(spec.get("hostNetwork")), restart=restart,
                  containers=[], init_containers=[], host_paths=host_paths)
    seen: set[str] = set()
    ctx = _CtrContext(pod, annotations, env, volumes, spec.get("securityContext") or {},
                      log_driver, log_opts)
    for c in spec.get("initContainers") or []:
        if any(c.get(k) for k in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe")):
            raise InvalidArgument("cannot create an init container that has either of lifecycle, "
                                  "livenessProbe, readinessProbe, or startupProbe set")
        pod.init_containers.append(_container(ctx, c, seen, init=True))
    for c in spec["containers"]:
        pod.containers.append(_container(ctx, c, seen, init=False))
    return pod


def _pod_ports(containers: list) -> list[str]:
    """podman 4.3's getPodPorts: every port with a containerPort is published, on the same host
    port when hostPort is unset."""
    out = []
    for c in containers:
        for port in c.get("ports") or []:
            cp, hp = int(port.get("containerPort") or 0), int(port.get("hostPort") or 0)
            cp, hp = cp or hp, hp or cp
            if not hp:
                continue
            proto = str(port.get("protocol") or "tcp").lower()
            ip = port.get("hostIP")
            out.append(f"{ip + ':' if ip else ''}{hp}:{cp}/{proto}")
    return out


@dataclass
class _CtrContext:
    pod: PodPlan
    annotations: dict
    env: _Sources
    volumes: dict
    pod_security: dict
    log_driver: str | None
    log_opts: list


def _container(ctx: _CtrContext, c: dict, seen: set, init: bool) -> ContainerPlan:
    cname = c.get("name")
    if not cname or not isinstance(cname, str):
        raise InvalidArgument(f"pod {ctx.pod.name}: a container has no name")
    if cname in seen:
        raise InvalidArgument(f"the pod {ctx.pod.name!r} is invalid; duplicate container name "
                              f"{cname!r} detected")
    seen.add(cname)
    image = c.get("image")
    if not image:
        raise InvalidArgument(f"pod {ctx.pod.name}: container {cname} has no image")
    for k in _UNSUPPORTED_CTR:
        if c.get(k):
            raise InvalidArgument(f"pod {ctx.pod.name}: container {cname}: {k} is not supported")
    full = f"{ctx.pod.name}-{cname}"
    o: dict = {"image": str(image), "name": full, "tty": bool(c.get("tty")),
               "interactive": bool(c.get("stdin")), "restart": ctx.pod.restart if not init else "no",
               "add_host": list(ctx.pod.add_host)}  # each container's /etc/hosts has the pod's aliases
    command, args = c.get("command") or [], c.get("args") or []
    if command:  # Kubernetes: command replaces the ENTRYPOINT (and the image's CMD goes)
        o["entrypoint"] = json.dumps([str(x) for x in command])
    o["command"] = [str(x) for x in args]
    if c.get("workingDir"):
        o["workdir"] = str(c["workingDir"])
    o["env"] = _env(ctx, c, full)
    o["labels"] = [f"{k}={v}" for k, v in ctx.pod.labels.items()]
    o["annotations"] = [f"{k}={v}" for k, v in ctx.annotations.items()]
    if ctx.log_driver:
        o["log_driver"] = ctx.log_driver
    o["log_opt"] = list(ctx.log_opts)
    _security(o, c.get("securityContext") or {}, ctx.pod_security)
    _resources(o, c.get("resources") or {})
    _mounts(o, ctx, c, full)
    if c.get("livenessProbe"):
        _probe(o, c["livenessProbe"], full)
    return ContainerPlan(name=full, image=str(image), create=o, init=init,
                         pull_policy=str(c.get("imagePullPolicy") or ""))


def _env(ctx: _CtrContext, c: dict, full: str) -> list[str]:
    envs: dict[str, str] = {}
    for e in c.get("env") or []:
        name = e.get("name")
        if not name:
            raise InvalidArgument(f"container {full}: an env entry has no name")
        value = _env_value(ctx, c, e)
        if value is not None:
            envs[name] = value
    for ef in c.get("envFrom") or []:
        prefix = str(ef.get("prefix") or "")
        for key, getter in (("configMapRef", ctx.env.configmap), ("secretRef", ctx.env.secret)):
            ref = ef.get(key)
            if ref is None:
                continue
            data = getter(ref.get("name", ""))
            if data is None:
                if not ref.get("optional"):
                    what = "configmap" if key == "configMapRef" else "secret"
                    raise InvalidArgument(f"{what} {ref.get('name', '')} not found")
                continue
            envs.update({prefix + k: v for k, v in data.items()})
    return [f"{k}={v}" for k, v in envs.items()]


_LABEL_REF = re.compile(r"^metadata\.labels\['(.+)'\]$")
_ANN_REF = re.compile(r"^metadata\.annotations\['(.+)'\]$")


# valueFrom's references to a key: the source's reader, and podman's words when it or its key is missing
_KEY_REFS = {
    "configMapKeyRef": ("configmap", "configmap {name} not found", "key {key} not found in configmap {name}"),
    "secretKeyRef": ("secret", 'no secret with name or id "{name}": no such secret', "secret {name} has not {key} key"),
}


def _keyed_value(ctx: _CtrContext, env_name: str, kind: str, ref: dict) -> str | None:
    """A configMapKeyRef's or secretKeyRef's value; None when it is missing and optional."""
    source, no_source, no_key = _KEY_REFS[kind]
    name, key = ref.get("name", ""), ref.get("key")
    data = getattr(ctx.env, source)(name)
    if data is not None and key in data:
        return data[key]
    if ref.get("optional"):
        return None
    why = (no_source if data is None else no_key).format(name=name, key=key)
    raise InvalidArgument(f"cannot set env {env_name}: {why}")


def _env_value(ctx: _CtrContext, c: dict, e: dict) -> str | None:
    vf = e.get("valueFrom")
    if not vf:
        return str(e.get("value", ""))
    name = e["name"]
    for kind in _KEY_REFS:
        if kind in vf:
            return _keyed_value(ctx, name, kind, vf[kind] or {})
    if "fieldRef" in vf:
        path = (vf["fieldRef"] or {}).get("fieldPath", "")
        if path == "metadata.name":
            return ctx.pod.name
        m = _LABEL_REF.match(path)
        if m:
            return ctx.pod.labels.get(m.group(1), "")
        m = _ANN_REF.match(path)
        if m:
            return str(ctx.annotations.get(m.group(1), ""))
        raise InvalidArgument(f"can not set env {name}. Reason: fieldPath {path} is either not valid "
                              "or not supported")
    if "resourceFieldRef" in vf:
        return _resource_env(c, name, vf["resourceFieldRef"] or {})
    raise InvalidArgument(f"cannot set env {name}: valueFrom {', '.join(vf)} is not supported")


def _resource_env(c: dict, name: str, ref: dict) -> str:
    res = c.get("resources") or {}
    limits, requests = res.get("limits") or {}, res.get("requests") or {}
    mem_total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    resource = ref.get("resource", "")
    defaults = {"memory": float(mem_total), "cpu": float(os.cpu_count() or 1)}
    kind = resource.rpartition(".")[2]
    if resource not in ("limits.memory", "limits.cpu", "requests.memory", "requests.cpu"):
        raise InvalidArgument(f"can not set env {name}. Reason: resource {resource} is either not "
                              "valid or not supported")
    limit = quantity(limits[kind]) if limits.get(kind) else defaults[kind]
    value = limit if resource.startswith("limits") else (
        quantity(requests[kind]) if requests.get(kind) else limit)
    divisor = str(ref.get("divisor") or "1")
    ok = ("1", "1m") if kind == "cpu" else ("1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi",
                                            "1Gi", "1Ti", "1Pi", "1Ei")
    if divisor not in ok:
        raise InvalidArgument(f"can not set env {name}. Reason: divisor value {divisor} is not valid")
    return str(int(math.ceil(value / quantity(divisor))))


_SUFFIX = {"": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
           "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$")


def quantity(text) -> float:
    """A Kubernetes resource quantity ("128Mi", "0.5", "500m", "1e3") as a number."""
    m = _QUANTITY.match(str(text).strip())
    if not m:
        raise InvalidArgument(f"quantities must match the regular expression "
                              f"'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {text}")
    try:
        return float(m.group(1)) * _SUFFIX[m.group(2) or ""]
    except ValueError:
        raise InvalidArgument(f"invalid quantity {text}") from None


def _security(o: dict, sc: dict, psc: dict) -> None:
    if sc.get("readOnlyRootFilesystem") is not None:
        o["read_only"] = bool(sc["readOnlyRootFilesystem"])
    if sc.get("privileged") is not None:
        o["privileged"] = bool(sc["privileged"])
    if sc.get("allowPrivilegeEscalation") is False:
        o["security_opt"] = ["no-new-privileges"]
    caps = sc.get("capabilities") or {}
    o["cap_add"] = [str(x) for x in caps.get("add") or []]
    o["cap_drop"] = [str(x) for x in caps.get("drop") or []]
    uid = sc.get("runAsUser", psc.get("runAsUser"))
    gid = sc.get("runAsGroup", psc.get("runAsGroup"))
    user = str(uid) if uid is not None else ""
    if gid is not None:
        user = f"{user or '0'}:{gid}"
    if user:
        o["user"] = user
    o["group_add"] = [str(g) for g in psc.get("supplementalGroups") or []]


def _resources(o: dict, res: dict) -> None:
    limits, requests = res.get("limits") or {}, res.get("requests") or {}
    r = {}
    if limits.get("cpu"):
        r["cpus"] = str(quantity(limits["cpu"]))
    if limits.get("memory"):
        r["memory"] = str(int(quantity(limits["memory"])))
    if requests.get("memory"):
        r["memory_reservation"] = str(int(quantity(requests["memory"])))
    if r:
        o["resources"] = r


def _mounts(o: dict, ctx: _CtrContext, c: dict, full: str) -> None:
    vols, devices = [], []
    for vm in c.get("volumeMounts") or []:
        name = vm.get("name", "")
        if name not in ctx.volumes:
            raise InvalidArgument(f"volume mount {name} specified for container but not configured in "
                                  "volumes")
        kind, source, optional = ctx.volumes[name]
        if optional:
            continue
        dest, _, opt_text = str(vm.get("mountPath", "")).partition(":")
        if not dest.startswith("/"):
            raise InvalidArgument(f'parsing MountPath: invalid container path "{dest}", must be an '
                                  "absolute path")
        opts = [x for x in opt_text.split(",") if x]
        if vm.get("readOnly"):
            opts.append("ro")
        if vm.get("mountPropagation"):
            prop = _PROPAGATION.get(vm["mountPropagation"])
            if prop is None:
                raise InvalidArgument(f"unknown propagation mode {vm['mountPropagation']!r}")
            opts.append(prop)
        if vm.get("subPath"):
            sub = str(vm["subPath"])
            if sub.startswith("/") or ".." in sub.split("/"):
                raise InvalidArgument(f"container {full}: subPath {sub!r} must be a relative path "
                                      "inside the volume")
            if kind != "bind":
                raise InvalidArgument(f"container {full}: subPath is supported on hostPath volumes only")
            source = os.path.join(source, sub)
        if kind == "device":
            devices.append(f"{source}:{dest}")
        elif kind == "tmpfs":
            o.setdefault("tmpfs", []).append(dest + (":" + ",".join(opts) if opts else ""))
        else:
            vols.append(f"{source}:{dest}" + (":" + ",".join(opts) if opts else ""))
    o["volumes"] = vols
    o["device"] = devices


def _probe(o: dict, probe: dict, full: str) -> None:
    if "exec" in probe:
        cmd = " ".join(str(x) for x in (probe["exec"] or {}).get("command") or [])
    elif "httpGet" in probe:
        h = probe["httpGet"] or {}
        cmd = (f"curl -f {str(h.get('scheme') or 'HTTP').lower()}://{h.get('host') or 'localhost'}:"
               f"{h.get('port')}{h.get('path') or '/'}")
    elif "tcpSocket" in probe:
        t = probe["tcpSocket"] or {}
        cmd = f"nc -z -v {t.get('host', '')} {t.get('port')}"
    else:
        raise InvalidArgument(f"container {full}: livenessProbe needs exec, httpGet or tcpSocket")
    if not cmd.strip():
        raise InvalidArgument("failed to configure livenessProbe: must define a healthcheck command "
                              "for all healthchecks")

    def secs(key: str, default: int) -> str:
        v = probe.get(key)
        return f"{v if isinstance(v, int) and v >= 1 else default}s"

    o["health_cmd"] = f"{cmd} || exit 1"
    o["health_interval"] = secs("periodSeconds", 10)
    o["health_retries"] = probe["failureThreshold"] if (probe.get("failureThreshold") or 0) >= 1 else 3
    o["health_timeout"] = secs("timeoutSeconds", 1)
    o["health_start_period"] = f"{max(0, int(probe.get('initialDelaySeconds') or 0))}s"


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())
