"""Creating a container: the image resolved, the options checked and recorded, the spec written;
and `run` (create, then start, then --rm).
"""

from __future__ import annotations

import os
import re

from pypod.engine import events
from pypod.engine.context import Context
from pypod.errors import Conflict, ImageNotFound, InvalidArgument, PypodError
from pypod.store.container_config import ContainerConfig
from pypod.store.container_config import Limits, Resources
from pypod.store.containers import ContainerRecord
from pypod.units import rfc3339_nano
from pypod.engine.containers.lookup import find_container, store
from pypod.engine.containers.options import (CreateOptions, _container_env, _entrypoint, _healthcheck, _labels,
                                             _parse_restart, _read_env_file)
from pypod.engine.containers.parse import (_confinement_options, _id_map_text, _keep_id_entries, _more_options,
                                           _network_mode, _parse_ulimit, _sysctls, parse_limits)
from pypod.engine.containers.spec import derive_spec
from pypod.engine.containers.lifecycle import (_check_detach_keys, _destroy, _launch_error, _remove_after_run,
                                               remove_containers)


def _resolve_image(ctx: Context, opts: CreateOptions):
    from pypod.engine import images as ie

    if opts.pull not in ("always", "missing", "never", "newer"):
        raise InvalidArgument(f"invalid pull policy {opts.pull!r}")
    if opts.image.startswith(("docker-archive:", "oci-archive:")):  # podman loads it first
        from pypod.engine import transport

        path = opts.image.split(":", 1)[1]
        names = transport.load(ctx, path, progress=ctx.reporter.progress(opts.quiet_pull))
        opts.image = names[0]  # the container shows the name the archive gave the image
        return ie.find_image(ctx, names[0])
    rec = ie.find_image(ctx, opts.image) if opts.pull != "always" else None
    if rec is None:
        if opts.pull == "never":
            raise ImageNotFound(f"{opts.image}: image not known")
        rec = ie.pull(ctx, ie.PullRequest(name=opts.image, quiet=opts.quiet_pull, platform=opts.platform,
                                          os=opts.os, arch=opts.arch, variant=opts.variant,
                                          creds=opts.creds, authfile=opts.authfile,
                                          tls_verify=opts.tls_verify, policy="always"))
    return rec


def _image_display_name(ctx: Context, rec, given: str) -> str:
    from pypod.engine import images as ie

    if "@" not in given and not given.startswith("docker://"):
        # a stored name given in full (+ :latest) is its own normal form: no parsing (~10 ms)
        repo, tag = ie._split_name(given)
        full = f"{repo}:{tag or 'latest'}"
        if full in rec.names and "/" in repo and ("." in repo.split("/")[0] or ":" in repo.split("/")[0]
                                                  or repo.split("/")[0] == "localhost"):
            return full
    for cand in ie.candidate_names(given) if not re.fullmatch(r"(sha256:)?[0-9a-f]{6,64}", given) else []:
        if cand in rec.names:
            return cand
    return rec.names[0] if rec.names else rec.id



def create(ctx: Context, opts: CreateOptions) -> ContainerRecord:
    return _create(ctx, opts)[0]


def _create(ctx: Context, opts: CreateOptions):
    """create(), also returning the spec derived for it (and written: run starts it without
    reading it back)."""
    cs = store(ctx)
    pod_options = {}
    if opts.pod:  # joins (or, new:NAME, makes) the pod: network, hostname, volumes come from it
        from pypod.engine import pods

        pod_options = pods.container_options(ctx, opts)
    if opts.rootfs:
        rootfs_path = os.path.abspath(opts.image)
        if not os.path.isdir(rootfs_path):
            raise PypodError(f"rootfs {opts.image}: not a directory")
        img_rec, image_cfg, full_cfg = None, {}, {}
        image_name = rootfs_path
    else:
        img_rec = _resolve_image(ctx, opts)
        full_cfg = ctx.images.config(img_rec.id)
        image_cfg = full_cfg.get("config") or {}
        image_name = _image_display_name(ctx, img_rec, opts.image)
        rootfs_path = None
    limits = parse_limits(Resources.view(opts.resources))
    if limits.to_dict() and ctx.rootless and not os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        ctx.reporter.notice("Resource limits are not supported and ignored on cgroups V1 rootless systems")
        limits = Limits()
    entry = _entrypoint(opts.entrypoint) if opts.entrypoint is not None else list(image_cfg.get("Entrypoint") or [])
    if opts.command:
        cmd = list(opts.command)
    elif opts.entrypoint is not None:
        cmd = []
    else:
        cmd = list(image_cfg.get("Cmd") or [])
    argv = entry + cmd
    if not argv:
        raise PypodError("no command or entrypoint provided, and no CMD or ENTRYPOINT from image")
    from pypod.engine import mounts as _mounts

    resolved_mounts = _mounts.resolve_for_create(ctx, opts, image_cfg, img_rec, rootfs_path)
    from pypod.config import engine_config

    conf = engine_config()
    env = _container_env(opts, conf, list(image_cfg.get("Env") or []))
    no_hosts = opts.no_hosts if opts.no_hosts is not None else conf.no_hosts
    if opts.no_hosts and opts.add_host:
        raise InvalidArgument("--no-hosts and --add-host cannot be set together")
    if opts.cidfile and os.path.exists(opts.cidfile):
        raise PypodError(f"container id file exists. Ensure another container is not using it or "
                         f"delete {opts.cidfile}")
    extras = _more_options(opts, conf)
    if conf.init and not opts.init:  # containers.conf init = true
        opts.init = True
    confinement = _confinement_options(ctx, opts)
    given = {u.partition("=")[0] for u in opts.ulimit or []}
    confinement["ulimits"] = [_parse_ulimit(u) for u in conf.default_ulimits
                              if u.partition("=")[0] not in given] + confinement["ulimits"]
    if not any(u[0] == "RLIMIT_NOFILE" for u in confinement["ulimits"]):
        # podman: open files up to the hard limit (capped at 1048576), not the login's 1024
        import resource

        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        hard = 1048576 if hard == resource.RLIM_INFINITY else min(hard, 1048576)
        confinement["ulimits"].insert(0, ["RLIMIT_NOFILE", hard, hard])
    if conf.default_capabilities is not None:
        confinement["default_caps"] = list(conf.default_capabilities)
    user = opts.user if opts.user is not None else (image_cfg.get("User") or "")
    if opts.userns and opts.userns not in ("host", "private"):
        if opts.userns != "keep-id":
            raise InvalidArgument(f"unrecognized namespace mode {opts.userns} passed")
        if not ctx.rootless:
            raise PypodError("keep-id is only supported in rootless mode")
        confinement["userns"] = "keep-id"
        if opts.user is None:  # podman: the process runs as the user
            user = f"{os.getuid()}:{os.getgid()}"
        confinement.update(_keep_id_entries())
        from pypod.linux import idmap, userns as _userns  # its layers are shifted through these maps

        m = idmap.compute_mapping()
        if m.size > 1:  # (the single-id fallback has no ids to shift to)
            confinement["uid_map"], confinement["gid_map"] = _userns.keep_id_maps(m)
    if opts.uidmap or opts.gidmap:
        if opts.userns and opts.userns not in ("private",):
            raise InvalidArgument(f"--userns={opts.userns} and --uidmap/--gidmap are mutually exclusive")
        confinement["userns"] = "maps"
        confinement["uid_map"] = _id_map_text(opts.uidmap or opts.gidmap, "uidmap", ctx.rootless)
        confinement["gid_map"] = _id_map_text(opts.gidmap or opts.uidmap, "gidmap", ctx.rootless)
    policy, max_restarts = _parse_restart(opts.restart)
    if opts.rm and policy not in ("no", ""):
        raise InvalidArgument("the --rm option conflicts with --restart, when the restartPolicy is not \"\" and \"no\"")
    from pypod.signals import parse_signal

    stop_signal = parse_signal(opts.stop_signal or image_cfg.get("StopSignal") or "SIGTERM")
    stop_timeout = opts.stop_timeout if opts.stop_timeout is not None else conf.stop_timeout
    from pypod.engine import networks as netmod

    network, net_opts = _network_mode(ctx, opts)
    own_net = not (network == "host" or network.startswith(("container:", "ns:")))
    for item in conf.default_sysctls:  # containers.conf's, where they apply; --sysctl wins
        for key, value in _sysctls([item]).items():
            if own_net or not key.startswith("net."):
                extras["sysctls"].setdefault(key, value)
    if not own_net:
        for key, value in extras["sysctls"].items():
            if key.startswith("net."):
                raise InvalidArgument(f"sysctl {key}={value} can't be set since Network Namespace set to "
                                      f"{network.partition(':')[0]}: invalid argument")
    ports: list = []
    if opts.publish or opts.publish_all:
        from pypod.network import ports as portmod

        ports = portmod.parse_all(opts.publish, {**(image_cfg.get("ExposedPorts") or {}),
                                                 **extras["expose"]}, opts.publish_all)
        if ports and not (netmod.uses_ports(network) or network == "bridge"):
            if network in ("none", "host") or network.startswith(("container:", "ns:")):
                # podman prints the spec generator's warnings bare, not as a WARN[…] log line
                ctx.reporter.notice(f"Port mappings have been discarded as one of the Host, Container, Pod, and "
                      f"None network modes are in use")
            ports = []
        portmod.assign_random(ports)
    net_opts["ports"] = ports
    labels = dict(image_cfg.get("Labels") or {})
    for f in opts.label_file:  # --label-file first, --label wins
        labels.update(_labels(_read_env_file(f)))
    labels.update(_labels(opts.labels))
    from pypod.engine.cleanup import reap_orphans

    reap_orphans(ctx)  # what a killed `rm` or pull left (three readdirs when there is none)
    if opts.replace and opts.name:
        old = find_container(ctx, opts.name)
        if old is not None and old.name == opts.name:
            remove_containers(ctx, [old.id], force=True)
    with cs.lock():
        if pod_options:  # (pod rm checks for late members under the same lock)
            pods.check_pod_exists(ctx, pod_options)
        name = opts.name
        existing = {r.name: r for r in cs.list()}
        if name:
            if not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*", name):
                raise InvalidArgument(f"container name {name!r}: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*")
            if name in existing:
                raise Conflict(f"creating container storage: the container name \"{name}\" is already in use "
                               f"by {existing[name].id}. You have to remove that container to be able to reuse "
                               "that name: that name is already in use")
        else:
            from pypod.names import random_name

            name = random_name()
            while name in existing:
                name = random_name()
        cid = cs.new_id()
        cdir = cs.dir(cid)
        cdir.mkdir(parents=True, mode=0o700)
        rec = ContainerRecord(id=cid, name=name, image_id=img_rec.id if img_rec else "",
                              image_name=image_name, created=rfc3339_nano(), command=argv, entrypoint=entry,
                              cmd=cmd, labels=labels, annotations=_labels(opts.annotations), rootfs=rootfs_path)
        rec.config = ContainerConfig(
            env=env, workdir=opts.workdir or image_cfg.get("WorkingDir") or "/", user=user,
            workdir_given=bool(opts.workdir),
            hostname=opts.hostname or "", stop_signal=stop_signal, stop_timeout=stop_timeout,
            restart=policy, restart_max=max_restarts, rm=opts.rm, interactive=opts.interactive,
            tty=opts.tty, network=network, volumes=opts.volumes, tmpfs=opts.tmpfs,
            read_only=opts.read_only, dns=opts.dns or list(conf.dns_servers),
            dns_search=opts.dns_search or list(conf.dns_searches),
            dns_option=opts.dns_option or list(conf.dns_options), add_host=opts.add_host,
            healthcheck=_healthcheck(opts, image_cfg),
            publish=opts.publish, resources=opts.resources, net=net_opts, limits=limits,
            publish_all=bool(opts.publish_all),
            mounts=opts.mounts, volumes_from=opts.volumes_from, resolved_mounts=resolved_mounts,
            no_hosts=bool(no_hosts), base_hosts_file=conf.base_hosts_file,
            passwd=bool(opts.passwd), passwd_template=opts.passwd_entry or "",
            rmi=bool(opts.rmi), unsetenv_all=bool(opts.unsetenv_all), create_command=list(opts.create_command),
            **extras, **confinement,
            external=bool(opts.external), **pod_options,
        )
        from pypod import faults; faults.point("create")
        cs.save(rec, fsync=False)  # (~10 ms of every create on this disk; see ContainerStore.save)
    try:
        spec = derive_spec(ctx, rec, img_rec)
    except BaseException:
        _destroy(ctx, rec.id)
        from pypod.engine.volumes import remove_anonymous

        remove_anonymous(ctx, rec)
        raise
    if opts.cidfile:
        try:
            fd = os.open(opts.cidfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
            with os.fdopen(fd, "w") as f:
                f.write(rec.id)
        except OSError as e:
            remove_containers(ctx, [rec.id], force=True)
            raise PypodError(f"opening cidfile: open {opts.cidfile}: {(e.strerror or str(e)).lower()}") from None
    events.container(ctx, rec, "create")
    return rec, spec


def run(ctx: Context, opts: CreateOptions, detach: bool, detach_keys: str | None = None,
        attach: set[str] | None = None, preserve_fds: int = 0) -> tuple[ContainerRecord, int]:
    """attach: the streams shown (--attach; None: all); the others go to the log only.
    preserve_fds: our fds 3..3+N-1 are the container process's too (this run only)."""
    for fd in range(3, 3 + preserve_fds):
        try:
            os.fstat(fd)
        except OSError:
            raise InvalidArgument(f"--preserve-fds={preserve_fds}: file descriptor {fd} is not open") from None
    _check_detach_keys(detach_keys)
    rec, spec = _create(ctx, opts)
    from pypod.runtime import launch

    cdir = str(store(ctx).dir(rec.id))
    from pypod.engine.locking import locked

    if opts.pod:
        from pypod.engine import pods

        pods.start_infra_of(ctx, rec)
    # held until the supervisor reports the container started (a `start` of the new name waits)
    with locked(ctx, rec):
        try:
            stdio = {} if attach is None or detach else \
                {k: os.open(os.devnull, os.O_RDWR) for k in ("stdin", "stdout", "stderr") if k not in attach}
            try:
                # a foreground --rm: the CLI removes the container itself after the run (the
                # supervisor does only if the user detaches)
                started = launch.start(spec, cdir, foreground=not detach, warn=ctx.reporter.warn,
                                       preserve_fds=preserve_fds, detach_keys=detach_keys,
                                       cleanup_if_detached=not detach and bool(opts.rm), **stdio)
            finally:
                for fd in stdio.values():
                    os.close(fd)
        except launch.LaunchError as e:
            if opts.rm:
                _destroy(ctx, rec.id)
                from pypod.engine.volumes import remove_anonymous

                remove_anonymous(ctx, rec)
            raise _launch_error(e) from None
    events.container(ctx, rec, "start")
    if detach:
        return rec, 0
    try:
        code = started.wait()
    finally:
        if opts.rm and not started.detached:
            _remove_after_run(ctx, rec)
    return rec, code
