"""Pods: containers that share namespaces (net, ipc, uts by default) held by an infra container.

The infra container is an ordinary container record (config.infra) whose pid 1 is pypod's own
pause loop (runtime/init_reaper.pause) on an empty root directory: no image, nothing pulled.
Members name their pod in config.pod and join the infra's namespaces: the network one as
`--network container:INFRA`, uts and ipc through spec.join_ns (the supervisor's setns).
Lock order: the pod's lock, then a container's (engine/locking.py).
"""

from __future__ import annotations

import os
import re

from pypod.engine.context import Context
from pypod.errors import InvalidArgument, NotFound, PypodError, RemoveMissing
from pypod.record import Record
from pypod.store.lookup import by_name_or_id
from pypod.store.pods import PodRecord, PodStore

SHAREABLE = ("cgroup", "ipc", "net", "pid", "uts")
DEFAULT_SHARE = ["ipc", "net", "uts"]
JOINED_BY_SUPERVISOR = ("ipc", "uts")  # net goes through --network container:INFRA
PAUSE_COMMAND = ["/pypod-pause"]  # shown as the infra's command; pid 1 never execs anything


class PodNotFound(NotFound):
    pass


class PodCreateOptions(Record):
    FIELDS = (
        ("name", None),
        ("publish", list),
        ("network", None),
        ("share", None),  # None: ipc,net,uts
        ("infra", True),
        ("infra_image", None),
        ("infra_command", None),
        ("infra_name", None),
        ("labels", list),
        ("hostname", None),
        ("add_host", list),
        ("dns", list),
        ("dns_search", list),
        ("dns_option", list),
        ("volumes", list),
        ("userns", None),
        ("replace", False),
        ("exit_policy", "continue"),
        ("create_command", list),
    )
    __slots__ = tuple(n for n, _ in FIELDS)


def store(ctx: Context) -> PodStore:
    return PodStore(ctx.graph_root)


def gone(name: str) -> PodNotFound:
    return PodNotFound(f"no pod with name or ID {name} found: no such pod")


def find_pod(ctx: Context, name: str) -> PodRecord | None:
    ps = store(ctx)
    return by_name_or_id(ps.list(), name, lambda: PypodError(
        f"more than one result for ID or name {name}: pod already exists"), get=ps.get)


def get_pod(ctx: Context, name: str) -> PodRecord:
    rec = find_pod(ctx, name)
    if rec is None:
        raise gone(name)
    return rec


def all_pods(ctx: Context) -> list[PodRecord]:
    return store(ctx).list()


def pod_name(ctx: Context, pid: str) -> str:
    rec = store(ctx).get(pid)
    return rec.name if rec else ""


# -- create -----------------------------------------------------------------------------------
def _parse_share(text: str | None) -> list[str]:
    if text is None:
        return list(DEFAULT_SHARE)
    add = text.startswith("+")
    items = [s.strip() for s in text.lstrip("+").split(",") if s.strip()]
    out = list(DEFAULT_SHARE) if add else []
    for s in items:
        if s == "none":
            return []
        if s not in SHAREABLE:
            raise InvalidArgument(f"invalid kernel namespace to share: {s}. Options are: cgroup, ipc, net, "
                                  f"pid, uts or none")
        if s not in out:
            out.append(s)
    for s in out:
        if s in ("pid", "cgroup"):  # said, never silently left unshared
            raise InvalidArgument(f"sharing the {s} namespace in a pod is not supported by pypod yet "
                                  f"(ipc, net and uts are)")
    return sorted(out)


def create(ctx: Context, opts: PodCreateOptions) -> PodRecord:
    """Under pods.lock (names stay unique), which is taken before containers.lock (the infra's)."""
    from pypod.engine import containers as ce
    from pypod.units import rfc3339_nano

    shared = _parse_share(opts.share)
    if not opts.infra:
        if opts.publish:
            raise InvalidArgument("you must have an infra container to publish port bindings to the host")
        if opts.network:
            raise InvalidArgument("cannot set --network without an infra container")
        shared = [s for s in shared if s not in ("net", "ipc", "uts")] if opts.share is None else shared
        if any(s in shared for s in ("net", "ipc", "uts", "pid")):
            raise InvalidArgument("cannot share namespaces without an infra container")
    ps = store(ctx)
    if opts.replace and opts.name:
        old = find_pod(ctx, opts.name)
        if old is not None and old.name == opts.name:
            remove_pod(ctx, old, force=True)
    labels = {}
    for item in opts.labels:
        k, _, v = item.partition("=")
        labels[k] = v
    with ps.lock():
        existing = {r.name for r in ps.list()}
        name = opts.name
        if name:
            if not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*", name):
                raise InvalidArgument(f"pod name {name!r}: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*")
            if name in existing:
                raise PypodError(f"adding pod to state: name \"{name}\" is in use: pod already exists")
        else:
            from pypod.names import random_name

            name = random_name()
            while name in existing:
                name = random_name()
        rec = PodRecord(id=ps.new_id(), name=name, created=rfc3339_nano(), hostname=opts.hostname or "",
                        labels=labels, shared=shared, create_command=list(opts.create_command),
                        volumes=list(opts.volumes), exit_policy=opts.exit_policy or "continue",
                        infra_config={"PortBindings": list(opts.publish), "network": opts.network or "",
                                      "dns": list(opts.dns), "dns_search": list(opts.dns_search),
                                      "dns_option": list(opts.dns_option), "add_host": list(opts.add_host),
                                      "userns": opts.userns or ""})
        # the infra first, then the pod's record, whole: a crash in between leaves an infra
        # container of no pod (an ordinary container to `rm`), never a pod missing its infra
        try:
            if opts.infra:
                rec.infra_id = _create_infra(ctx, rec, opts).id
            ps.save(rec)
        except BaseException:
            if rec.infra_id:
                from pypod.engine.containers.lifecycle import _remove_one

                _remove_one(ctx, ce.store(ctx).get(rec.infra_id), True, 0)
            ps.remove(rec.id)  # its infra's empty root
            raise
    _event(ctx, rec, "create")
    return rec


def _create_infra(ctx: Context, pod: PodRecord, opts: PodCreateOptions):
    from pypod.engine import containers as ce

    o = ce.CreateOptions(
        name=opts.infra_name or f"{pod.id[:12]}-infra", network=opts.network, publish=list(opts.publish),
        hostname=(opts.hostname or pod.name) if "uts" in pod.shared else None, add_host=list(opts.add_host),
        dns=list(opts.dns), dns_search=list(opts.dns_search), dns_option=list(opts.dns_option),
        userns=opts.userns, create_command=list(opts.create_command))
    from pypod.engine.containers.parse import _is_mode
    from pypod.engine.networks import DEFAULT_NETWORK

    head = (opts.network or "").partition(":")[0]
    if head and not _is_mode(head) and head != DEFAULT_NETWORK and "," not in opts.network:
        o.network_aliases = [pod.name]  # on a user network the pod answers to its name, as podman's
    if opts.infra_image:  # --infra-command: its entrypoint, as podman takes it
        o.image, o.entrypoint = opts.infra_image, opts.infra_command
    else:  # our own pause process, on podman's local pause image: nothing to pull
        o.image, o.pull = pause_image(ctx), "never"
        from pypod.engine.containers.options import _entrypoint

        o.command = _entrypoint(opts.infra_command) if opts.infra_command else list(PAUSE_COMMAND)
        o.passwd = False
    o.pod = pod.id
    o.infra = True
    return ce.create(ctx, o)


def pause_image_name() -> str:
    """podman's name for its local pause image: localhost/podman-pause:VERSION-BUILT."""
    from pypod import __version__
    from pypod.engine.system import BUILT

    return f"localhost/podman-pause:{__version__}-{BUILT}"


def pause_image(ctx: Context) -> str:
    """The local pause image, made by the first pod that needs it (podman builds its catatonit
    image then): one empty layer, since an infra's pid 1 is pypod's own pause process and execs
    nothing. As an image, `images`, `ps` and `rmi` see what the infra containers use (`rmi -f` of
    it takes their pods), as podman's. Made under the storage lock (keep_existing): however many
    first pods are created at once, by whichever path, one image is made and none is left unnamed."""
    import io
    import tarfile

    from pypod.engine import images as ie

    name = pause_image_name()
    if ie.find_image(ctx, name) is None:
        empty = io.BytesIO()
        with tarfile.open(fileobj=empty, mode="w"):
            pass
        empty.seek(0)
        ie.new_image_from_layer_stream(ctx, empty, config_patch={"Entrypoint": list(PAUSE_COMMAND)},
                                       name=name, created_by="pypod's pause process (no file: nothing to run)",
                                       keep_existing=True)
    return name


def runs_pause(rec) -> bool:
    """An infra container whose pid 1 is pypod's pause process (not an --infra-image's command);
    records of the earlier empty-root infra too."""
    return bool(rec.config.infra and (rec.rootfs or rec.image_name == pause_image_name()))


def pod_of_infra(ctx: Context, rec) -> PodRecord | None:
    if rec is None or not rec.config.infra or not rec.config.pod:
        return None
    return store(ctx).get(rec.config.pod)


def _event(ctx: Context, pod: PodRecord, status: str) -> None:
    from pypod.store import events as log

    log.emit(ctx.run_dir, "pod", status, id_=pod.id, name=pod.name)


# -- the container create/start/rm hooks ------------------------------------------------------
def container_options(ctx: Context, opts) -> dict:
    """`create/run --pod NAME|new:NAME`: the pod (made here for new:), and the namespaces to join;
    adjusts opts (network, hostname, volumes; new: moves -p to the pod). Returns the options the
    container record keeps."""
    if opts.infra:  # (its pod's record is written after it)
        return {"pod": opts.pod, "infra": True, "pod_shm": str(shm_dir(ctx, opts.pod))}
    given = opts.pod
    if given.startswith("new:"):
        name = given[4:]
        if not name:
            raise InvalidArgument("new pod name must be at least one character")
        pod = create(ctx, PodCreateOptions(name=name, publish=list(opts.publish), hostname=opts.hostname,
                                           network=opts.network, create_command=list(opts.create_command)))
        opts.publish, opts.network, opts.hostname = [], None, None
    else:
        pod = get_pod(ctx, given)
    extra: dict = {"pod": pod.id}
    if pod.infra_id:
        if "net" in pod.shared:
            if opts.publish:
                raise InvalidArgument("invalid config provided: published or exposed ports must be defined "
                                      "when the pod is created: network cannot be configured when it is "
                                      "shared with a pod")
            if not opts.network:  # (podman lets a container's own --network win)
                opts.network = f"container:{pod.infra_id}"
        if "uts" in pod.shared:
            if opts.hostname:
                raise InvalidArgument("invalid config provided: cannot set hostname when joining the pod "
                                      "UTS namespace: invalid configuration")
            opts.hostname = pod.hostname or pod.name
        extra["pod_join"] = {ns: pod.infra_id for ns in JOINED_BY_SUPERVISOR if ns in pod.shared}
        if extra["pod_join"] or "net" in pod.shared:
            # the user namespace that owns those: the infra's (with no live holder of the shared
            # one, each supervisor makes its own, whose namespaces others may not join)
            extra["pod_join"]["user"] = pod.infra_id
        if "ipc" in pod.shared:  # one /dev/shm for the pod, as podman's
            extra["pod_shm"] = str(shm_dir(ctx, pod.id))
    # what the pod was made with, its members get (unless they say otherwise)
    cfg = pod.infra_config or {}
    opts.volumes = list(pod.volumes) + list(opts.volumes)
    if "net" in pod.shared and pod.infra_id:
        for key in ("dns", "dns_search", "dns_option"):
            setattr(opts, key, list(getattr(opts, key)) or list(cfg.get(key) or []))
        opts.add_host = list(cfg.get("add_host") or []) + list(opts.add_host)
    if cfg.get("userns") and opts.userns is None:
        opts.userns = cfg["userns"]
    return extra


def check_pod_exists(ctx: Context, pod_options: dict) -> None:
    """Under containers.lock, right before a member's record is written (an infra's pod is
    written after it)."""
    if pod_options.get("infra"):
        return
    pid = pod_options.get("pod") or ""
    if store(ctx).get(pid) is None:
        raise gone(pid)


def shm_dir(ctx: Context, pid: str):
    """The pod's /dev/shm: a directory in the runtime dir (a tmpfs where there is a login session),
    bound into its infra and the members that share its ipc namespace."""
    from pathlib import Path

    return Path(ctx.run_dir) / "pods" / pid / "shm"


def spec_mounts(o) -> list:
    """What a pod adds to a container's mounts (o: its ContainerConfig)."""
    from pypod.runtime.spec import Mount

    if not o.pod_shm:
        return []
    return [Mount(type="bind", source=o.pod_shm, destination="/dev/shm",
                  options=["bind", "nosuid", "nodev", "noexec"])]


def start_infra_of(ctx: Context, rec) -> None:
    """A member needs its pod's infra running (podman starts it with the first member); both
    need the pod's /dev/shm (gone after a reboot: the runtime dir is)."""
    o = rec.config
    if o.pod_shm:
        os.makedirs(o.pod_shm, mode=0o700, exist_ok=True)
        os.chmod(o.pod_shm, 0o1777)
    if not o.pod or o.infra:
        return
    pod = store(ctx).get(o.pod)
    if pod is None or not pod.infra_id:
        return
    from pypod.engine import containers as ce

    infra = ce.store(ctx).get(pod.infra_id)
    if infra is not None:
        ce.start_container(ctx, infra)


def remove_infra(ctx: Context, rec, all_: bool, force: bool, timeout: int | None) -> None:
    """`rm` of an infra container: refused, as podman, unless `rm --all` takes the whole pod."""
    pid = rec.config.pod
    pod = store(ctx).get(pid)
    if pod is None:  # its pod is gone: an ordinary container now
        from pypod.engine.containers.lifecycle import _remove_one

        _remove_one(ctx, rec, force, timeout)
        return
    if not all_:
        raise PypodError(f"container {rec.id} is the infra container of pod {pid} and cannot be "
                         f"removed without removing the pod")
    remove_pod(ctx, pod, force=force, timeout=timeout)


def filter_matches(ctx: Context, rec, wanted: list[str]) -> bool:
    """ps --filter pod=NAME|ID."""
    pid = rec.config.pod
    if not pid:
        return False
    name = pod_name(ctx, pid)
    return any(w == name or (w and pid.startswith(w)) for w in wanted)


# -- members and state -------------------------------------------------------------------------
def members(ctx: Context, pod: PodRecord, every: list | None = None) -> list:
    """The pod's containers, infra first, then by creation (every: all container records, when
    the caller has read them already)."""
    from pypod.engine import containers as ce

    recs = [r for r in (ce.store(ctx).list() if every is None else every)
            if r.config.pod == pod.id]
    recs.sort(key=lambda r: (r.id != pod.infra_id, r.created))
    return recs


def _ctr_status(st: dict) -> str:
    s = st.get("status", "created")
    return "exited" if s == "stopped" else s


def pod_status(statuses: list[str]) -> str:
    """podman's CreatePodStatusResults."""
    n = len(statuses)
    if n == 0:
        return "Created"
    running = sum(s == "running" for s in statuses)
    stopped = sum(s in ("exited", "stopped") for s in statuses)
    if running == n:
        return "Running"
    if running:
        return "Degraded"
    if all(s == "paused" for s in statuses):
        return "Paused"
    if stopped == n:
        return "Exited"
    if stopped:
        return "Stopped"
    if any(s not in ("paused", "created", "configured") for s in statuses):
        return "Error"
    return "Created"


def _member_states(ctx: Context, pod: PodRecord, every: list | None = None) -> list[tuple]:
    from pypod.engine import containers as ce

    return [(r, ce.state_of(ctx, r)) for r in members(ctx, pod, every)]


# -- verbs --------------------------------------------------------------------------------------
def start_pod(ctx: Context, pod: PodRecord) -> None:
    from pypod.engine import containers as ce

    with store(ctx).pod_lock(pod.id):
        recs = members(ctx, pod)
        if not recs:
            raise PypodError(f"no containers in pod {pod.id} have no dependencies, cannot start pod: "
                             f"no such container")
        errors = []
        for r in recs:  # infra first: the others join its namespaces
            try:
                ce.start_container(ctx, r)
            except PypodError as e:
                errors.append(e)
        _raise_first(errors, pod, "starting")
    _event(ctx, pod, "start")


def stop_pod(ctx: Context, pod: PodRecord, timeout: int | None = None) -> None:
    from pypod.engine import containers as ce

    with store(ctx).pod_lock(pod.id):
        recs = members(ctx, pod)
        infra = [r for r in recs if r.id == pod.infra_id]
        others = [r for r in recs if r.id != pod.infra_id]
        errors: list = []

        def stop(r) -> None:
            try:
                ce.stop_container(ctx, r, timeout)
            except PypodError as e:
                errors.append(e)

        if len(others) > 1:  # together, as podman: one stop timeout for the pod, not one each
            import threading

            threads = [threading.Thread(target=stop, args=(r,)) for r in others]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        else:
            for r in others:
                stop(r)
        for r in infra:  # the infra last: the others live in its namespaces
            stop(r)
        _raise_first(errors, pod, "stopping")
    _event(ctx, pod, "stop")


def kill_pod(ctx: Context, pod: PodRecord, sig: int) -> None:
    from pypod.engine import containers as ce

    with store(ctx).pod_lock(pod.id):
        running = [r for r, st in _member_states(ctx, pod) if st.get("status") == "running"]
        if not running:
            raise PypodError(f"no containers in pod {pod.id} are running: container state improper")
        for r in reversed(running):
            try:
                ce.kill_container(ctx, r, sig)
            except PypodError:
                pass
    _event(ctx, pod, "kill")


def _raise_first(errors: list, pod: PodRecord, what: str) -> None:
    if not errors:
        return
    if len(errors) == 1:
        raise PypodError(f"{what} pod {pod.id}: {errors[0].message}")
    lines = "\n".join(f"\t* {e.message}" for e in errors)
    raise PypodError(f"{len(errors)} errors occurred:\n{lines}\n")


def remove_pod(ctx: Context, pod: PodRecord, force: bool = False, timeout: int | None = None) -> None:
    """podman's rules: running members need force; members go first, the infra last, then the
    record (nothing of the pod is left: no infra process, no network namespace holder)."""
    from pypod.engine import containers as ce
    from pypod.engine.containers.lifecycle import _remove_one

    ps = store(ctx)
    with ps.pod_lock(pod.id):
        states = _member_states(ctx, pod)
        if not force:
            busy = [r for r, st in states if st.get("status") in ("running", "paused", "stopping")
                    and not r.config.infra]
            if busy:
                lines = "\n".join(
                    f"\t* removing container {r.id} from pod {pod.id}: cannot remove container {r.id} as it "
                    f"is running - running or paused containers cannot be removed without force: container "
                    f"state improper" for r in busy)
                if len(busy) == 1:
                    raise PypodError(lines.strip()[2:])
                raise PypodError(f"{len(busy)} errors occurred:\n{lines}\n")
        while True:
            for r, _ in reversed(states):  # the infra last
                _remove_one(ctx, r, True, timeout if timeout is not None else (None if force else 0))
            with ce.store(ctx).lock():  # a member created meanwhile is seen here, or sees no pod
                states = _member_states(ctx, pod)
                if not states:
                    # (no pods.lock: that one comes before containers.lock; a rename is atomic)
                    ps.remove(pod.id)
                    break
    import shutil

    shutil.rmtree(shm_dir(ctx, pod.id).parent, ignore_errors=True)
    _event(ctx, pod, "remove")


class PodRmReport(Record):
    FIELDS = (("removed", list), ("errors", list))
    __slots__ = tuple(n for n, _ in FIELDS)


def remove_pods(ctx: Context, names: list[str], *, force: bool = False, all_: bool = False,
                ignore: bool = False, timeout: int | None = None) -> PodRmReport:
    rep = PodRmReport()
    targets = [r for r in store(ctx).list()] if all_ else []
    for n in [] if all_ else names:
        rec = find_pod(ctx, n)
        if rec is None:
            if not (force or ignore):  # podman: `pod rm --force bogus` says nothing; a missing
                # name otherwise stops it before it removes anything
                rep.errors = [RemoveMissing(f"no pod with name or ID {n} found: no such pod")]
                return rep
            continue
        targets.append(rec)
    for rec in targets:
        try:
            remove_pod(ctx, rec, force=force, timeout=timeout)
            rep.removed.append(rec.id)
        except PypodError as e:
            rep.errors.append(e)
    return rep


def prune(ctx: Context) -> list[str]:
    """Pods whose containers all stopped (podman: Exited and Stopped ones; Created ones stay)."""
    out = []
    for pod in store(ctx).list():
        st = pod_status([_ctr_status(s) for _, s in _member_states(ctx, pod)])
        if st in ("Exited", "Stopped"):
            try:
                remove_pod(ctx, pod, force=True)
                out.append(pod.id)
            except PypodError:
                pass
    return out
