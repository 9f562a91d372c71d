"""`kube play`'s second half and `kube down`: a plan (kube/play.py) made real through the engine's
volumes, pods and containers, or taken down.

Nothing half-created: the whole YAML is planned and the host paths checked first; then, if
creating a pod or one of its containers fails, that pod (with its containers) is removed again
before the error is raised, as are the volumes this call made. Pods already played stay as they are.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from pypod.errors import PypodError
from pypod.kube.play import ContainerPlan, Plan, PodPlan, check_host_paths

_PULL = {"always": "always", "never": "never", "ifnotpresent": "missing", "": "missing"}
_BUILD_FILES = ("Containerfile", "Dockerfile")


@dataclass
class PodReport:
    id: str
    containers: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class PlayReport:
    volumes: list[str] = field(default_factory=list)
    pods: list[PodReport] = field(default_factory=list)


@dataclass
class PlayOptions:
    start: bool = True
    build: bool | None = None  # None: build when the image is missing and a directory has its Containerfile
    context_dir: str | None = None
    network: list[str] = field(default_factory=list)
    userns: str | None = None
    quiet: bool = False
    tls_verify: bool | None = None
    authfile: str | None = None
    creds: str | None = None
    no_hosts: bool = False


def play(ctx, p: Plan, opts: PlayOptions, *, build_out=None) -> PlayReport:
    from pypod.engine import pods

    check_host_paths(p.pods)
    for pod in p.pods:  # a name taken is refused before anything is made
        if pods.find_pod(ctx, pod.name) is not None and pods.get_pod(ctx, pod.name).name == pod.name:
            raise PypodError(f'adding pod to state: name "{pod.name}" is in use: pod already exists')
    report = PlayReport()
    made_volumes: list[str] = []
    try:
        for v in p.volumes:
            if _volume(ctx, v):
                made_volumes.append(v.name)
            if v.files is None and not v.scratch:  # a claim's volume (made now or before), as podman lists it
                report.volumes.append(v.name)
        for pod in p.pods:
            report.pods.append(_pod(ctx, pod, opts, build_out))
    except BaseException:
        from pypod.engine import volumes as ve

        for name in made_volumes:
            try:
                ve.remove_volumes(ctx, [name], force=True)
            except PypodError:
                pass
        raise
    return report


def _volume(ctx, v) -> bool:
    """Creates the volume if it is new (True); a ConfigMap/Secret volume gets its files each play."""
    from pypod.engine import volumes as ve

    made = False
    if not ve.exists(ctx, v.name):
        ve.create_volume(ctx, v.name, labels=dict(v.labels), options=dict(v.options), driver=v.driver or "local")
        made = True
    if v.files is not None:
        root = ve.mountpoint(ctx, v.name)
        for name, data in v.files.items():
            if "/" in name or name in ("", ".", ".."):
                raise PypodError(f"volume {v.name}: key {name!r} cannot be a file name")
            path = os.path.join(root, name)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
    return made


def _pod(ctx, pod: PodPlan, opts: PlayOptions, build_out) -> PodReport:
    from pypod.engine import containers as ce
    from pypod.engine import pods

    network = ",".join(opts.network) if opts.network else ("host" if pod.host_network else None)
    rec = pods.create(ctx, pods.PodCreateOptions(
        name=pod.name, publish=list(pod.publish), network=network, labels=[f"{k}={v}" for k, v in pod.labels.items()],
        hostname=pod.hostname, add_host=list(pod.add_host), dns=list(pod.dns), userns=opts.userns,
        share=",".join(pod.share), exit_policy="stop"))
    rep = PodReport(id=rec.id)
    try:
        inits = [_create(ctx, c, rec.id, opts, build_out) for c in pod.init_containers]
        ctrs = [_create(ctx, c, rec.id, opts, build_out) for c in pod.containers]
        rep.containers = [r.id for r in ctrs]
        if not opts.start:
            return rep
        for r in inits:  # each runs to completion, in order, before the pod's containers start
            ce.start_container(ctx, r)
            code = ce.wait_container(ctx, r)
            if code:
                raise PypodError(f"init container {r.name} of pod {pod.name} exited with {code}")
            ce.remove_containers(ctx, [r.id], force=True)
        for r in ctrs:
            try:
                ce.start_container(ctx, r)
            except PypodError as e:
                rep.errors.append(f"starting container {r.id}: {e}")
    except BaseException:
        try:
            pods.remove_pod(ctx, pods.get_pod(ctx, rec.id), force=True)
        except PypodError:
            pass
        raise
    return rep


def _create(ctx, c: ContainerPlan, pod_id: str, opts: PlayOptions, build_out):
    from pypod.engine import containers as ce

    o = ce.CreateOptions(**c.create)
    o.pod = pod_id
    policy = c.pull_policy.lower()
    if policy not in _PULL:
        raise PypodError(f"unsupported pull policy {c.pull_policy!r}")
    o.pull = _PULL[policy]
    o.quiet_pull = opts.quiet
    o.tls_verify, o.authfile, o.creds = opts.tls_verify, opts.authfile, opts.creds
    if opts.no_hosts:
        o.no_hosts = True
    built = _build_if_asked(ctx, c.image, opts, build_out)
    if built:
        o.pull = "never"
    return ce.create(ctx, o)


def _build_if_asked(ctx, image: str, opts: PlayOptions, build_out) -> bool:
    """podman's --build: a directory named after the image (its last path part, no tag) holding a
    Containerfile is built into that image, always with --build, when the image is missing without."""
    if opts.build is False:
        return False
    base = image.rsplit("/", 1)[-1].split("@")[0].split(":")[0]
    ctxdir = os.path.join(opts.context_dir or os.getcwd(), base)
    if not any(os.path.isfile(os.path.join(ctxdir, f)) for f in _BUILD_FILES):
        return False
    from pypod.engine import build as be
    from pypod.engine import images as ie

    if opts.build is None and ie.find_image(ctx, image) is not None:
        return False
    be.build(ctx, be.BuildOptions(context=ctxdir, tags=[image], quiet=opts.quiet), out=build_out)
    return True


@dataclass
class DownReport:
    stopped: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)


def down(ctx, p: Plan, *, volumes: bool = False) -> DownReport:
    """The YAML's pods stopped and removed (podman 4.3's `kube down`); with `volumes` (podman's
    later --force) also the volumes it names."""
    from pypod.engine import pods

    rep = DownReport()
    for pod in p.pods:
        rec = pods.find_pod(ctx, pod.name)
        if rec is None or rec.name != pod.name:
            continue
        try:
            pods.stop_pod(ctx, rec)
            rep.stopped.append(rec.id)
        except PypodError as e:
            rep.errors.append(str(e))
        try:
            pods.remove_pod(ctx, rec, force=True)
            rep.removed.append(rec.id)
        except PypodError as e:
            rep.errors.append(str(e))
    from pypod.engine import volumes as ve

    for v in p.volumes:  # emptyDirs go with their pods; the others with --force
        if v.scratch or volumes:
            if ve.exists(ctx, v.name):
                ve.remove_volumes(ctx, [v.name], force=True)
                if not v.scratch:
                    rep.volumes.append(v.name)
    return rep
