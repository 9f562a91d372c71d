"""Container operations: create, start, run, stop, kill, rm, ps, logs, exec, wait, inspect, ...

The runtime (pypod.runtime) turns a ContainerSpec into a supervised process; this module keeps the
records, builds specs from images and options, and reports podman's views of them.
"""

from __future__ import annotations

import json
import os
import re
import signal as _signal
import sys
import time
from pathlib import Path

from pypod.engine import events
from pypod.engine.cleanup import remove_tree
from pypod.engine.context import Context
from pypod.errors import (Conflict, ContainerNotFound, ContainerStateImproper, ImageNotFound, InvalidArgument,
                          PypodError, RemoveMissing)
from pypod.record import Record
from pypod.store.containers import ContainerRecord, ContainerStore
from pypod.units import parse_time, rfc3339_nano

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def store(ctx: Context) -> ContainerStore:
    return ContainerStore(ctx.graph_root)


# -- lookup ------------------------------------------------------------------------------------
def find_container(ctx: Context, name: str) -> ContainerRecord | None:
    cs = store(ctx)
    if re.fullmatch(r"[0-9a-f]{64}", name):
        rec = cs.get(name)
        if rec:
            return rec
    recs = []
    for cid in cs.ids():  # names are unique: stop reading records at the one that has it
        r = cs.get(cid)
        if r is None:
            continue
        if r.name == name:
            return r
        recs.append(r)
    if re.fullmatch(r"[0-9a-f]{1,64}", name):
        hits = [r for r in recs if r.id.startswith(name)]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise InvalidArgument(f"more than one result for container ID prefix \"{name}\"")
    return None


def get_container(ctx: Context, name: str, missing_exit: int | None = None) -> ContainerRecord:
    rec = find_container(ctx, name)
    if rec is None:
        err = (RemoveMissing if missing_exit == 1 else ContainerNotFound)(
            f"no container with name or ID \"{name}\" found: no such container")
        raise err
    return rec


def latest_container(ctx: Context) -> str:
    recs = own_containers(ctx)
    if not recs:
        raise ContainerNotFound("no containers to act on with --latest")
    return max(recs, key=lambda r: parse_time(r.created)).id


def container_ids(ctx: Context) -> list[str]:
    """Every container's full ID but the builds' (--all)."""
    return [r.id for r in own_containers(ctx)]


def container_exists(ctx: Context, rec: ContainerRecord) -> bool:
    """Whether `rec` is still stored (not removed since it was read)."""
    return store(ctx).dir(rec.id).exists()


def log_driver(rec: ContainerRecord) -> str:
    return rec.options.get("log_driver") or ""


def port_lines(rec: ContainerRecord, want: str | None = None) -> list[str]:
    """`port` output: the container's published ports (80/tcp -> 0.0.0.0:8080), or with
    PORT[/PROTO] the host addresses of that one."""
    from pypod.network.ports import format_port_lines

    return format_port_lines((rec.options.get("net") or {}).get("ports") or [], want)


def state_of(ctx: Context, rec: ContainerRecord) -> dict:
    from pypod.runtime.state import read_state

    cdir = str(store(ctx).dir(rec.id))
    st = read_state(cdir) or {}
    if not st.get("status"):
        st["status"] = "created"
    if st["status"] == "running":  # podman's "stopping" (ps, inspect): a stop waits for it to exit
        from pypod.runtime.state import stop_requested

        st["stopping"] = stop_requested(cdir)
    return st


# -- create ------------------------------------------------------------------------------------
class CreateOptions(Record):
    """What `create`/`run` were asked for (resources: memory, cpus, pids_limit, ... are warned about)."""

    FIELDS = (
        ("image", ""),
        ("command", list),
        ("name", None),
        ("entrypoint", None),
        ("env", list),
        ("env_file", list),
        ("env_host", False),
        ("workdir", None),
        ("user", None),
        ("hostname", None),
        ("labels", list),
        ("annotations", list),
        ("stop_signal", None),
        ("stop_timeout", None),
        ("restart", "no"),
        ("health_cmd", None),
        ("health_interval", None),
        ("health_retries", None),
        ("health_start_period", None),
        ("health_timeout", None),
        ("no_healthcheck", False),
        ("rm", False),
        ("interactive", False),
        ("tty", False),
        ("network", None),
        ("volumes", list),
        ("tmpfs", list),
        ("mounts", list),
        ("volumes_from", list),
        ("dns", list),
        ("dns_search", list),
        ("dns_option", list),
        ("add_host", list),
        ("rootfs", False),
        ("read_only", False),
        ("replace", False),
        ("pull", "missing"),
        ("platform", None),
        ("quiet_pull", False),
        ("publish", list),
        ("publish_all", False),
        ("resources", dict),
        ("cap_add", list),
        ("cap_drop", list),
        ("privileged", False),
        ("security_opt", list),
        ("ulimit", list),
        ("group_add", list),
        ("init", False),
        ("init_path", None),
        ("read_only_tmpfs", True),
        ("userns", None),
        ("network_aliases", list),
        ("uidmap", list),
        ("gidmap", list),
        ("ip", None),
        ("mac_address", None),
        ("http_proxy", None),  # None: containers.conf http_proxy
        ("unsetenv", list),
        ("unsetenv_all", False),
        ("no_hosts", None),  # None: containers.conf no_hosts
        ("passwd", True),
        ("passwd_entry", None),
        ("label_file", list),
        ("expose", list),
        ("shm_size", None),
        ("umask", None),  # None: containers.conf umask
        ("tz", None),  # None: containers.conf tz
        ("sysctl", list),
        ("device", list),
        ("cidfile", None),
        ("pidfile", None),
        ("log_driver", None),  # None: containers.conf log_driver
        ("log_opt", list),
        ("oom_score_adj", None),
        ("tls_verify", None),
        ("authfile", None),
        ("creds", None),
        ("arch", None),
        ("os", None),
        ("variant", None),
        ("timeout", 0),  # --timeout: seconds before the supervisor kills it (exit code -1)
        ("hostuser", list),  # --hostuser: host accounts added to the container's /etc/passwd
        ("conmon_pidfile", None),  # --conmon-pidfile: the supervisor's pid
        ("rmi", False),  # run --rmi: remove the image after the container (implies --rm)
        ("create_command", list),  # the command line, as inspect's Config.CreateCommand shows it
        ("external", False),  # a build's RUN container (podman's "external", buildah's): see is_external
    )
    __slots__ = tuple(n for n, _ in FIELDS)


def _parse_env_list(items: list[str], host_env: dict) -> list[str]:
    out = []
    for e in items:
        if "=" in e:
            out.append(e)
        elif e.endswith("*"):
            pre = e[:-1]
            out.extend(f"{k}={v}" for k, v in host_env.items() if k.startswith(pre))
        elif e in host_env:
            out.append(f"{e}={host_env[e]}")
    return out


_PROXY_ENV = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "ftp_proxy", "FTP_PROXY",
              "no_proxy", "NO_PROXY")


def _container_env(opts: CreateOptions, conf, image_env: list[str]) -> list[str]:
    """podman's order: its defaults (PATH, container, containers.conf env: TERM=xterm), the
    host's whole environment (--env-host) or its proxy variables (--http-proxy, default on),
    the image's Env, --env-file, --env; then --unsetenv / --unsetenv-all."""
    host_env = dict(os.environ)
    # container=podman: what systemd-detect-virt and scripts look for (podman 4.3 compatible)
    env = merge_env(["PATH=" + DEFAULT_PATH, "container=podman"], list(conf.env))
    if opts.env_host:
        env = merge_env(env, [f"{k}={v}" for k, v in host_env.items()])
    elif opts.http_proxy if opts.http_proxy is not None else conf.http_proxy:
        env = merge_env(env, [f"{k}={host_env[k]}" for k in _PROXY_ENV if k in host_env])
    env = merge_env(env, image_env)
    extra: list[str] = []
    for f in opts.env_file:
        extra.extend(_parse_env_list(_read_env_file(f), host_env))
    extra.extend(_parse_env_list(opts.env, host_env))
    env = merge_env([] if opts.unsetenv_all else env, extra)
    drop = set(opts.unsetenv or [])
    return [e for e in env if e.partition("=")[0] not in drop]


def _read_env_file(path: str) -> list[str]:
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as e:
        raise PypodError(f"open {path}: {e.strerror.lower() if e.strerror else e}") from None
    items = []
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        items.append(line)
    return items


def merge_env(base: list[str], extra: list[str]) -> list[str]:
    order: list[str] = []
    vals: dict[str, str] = {}
    for e in base + extra:
        k, _, v = e.partition("=")
        if k not in vals:
            order.append(k)
        vals[k] = v
    return [f"{k}={vals[k]}" for k in order]


def _labels(items: list[str]) -> dict:
    out = {}
    for l in items:
        k, _, v = l.partition("=")
        out[k] = v
    return out


def _parse_restart(text: str) -> tuple[str, int]:
    policy, _, n = (text or "no").partition(":")
    if policy not in ("no", "on-failure", "always", "unless-stopped"):
        raise InvalidArgument(f"invalid restart policy: {text!r}: use no, on-failure[:max_retries], always or unless-stopped")
    if n and policy != "on-failure":
        raise InvalidArgument("restart count can only be set with the on-failure restart policy")
    try:
        count = int(n) if n else 0
    except ValueError:
        raise InvalidArgument(f"invalid restart count {n!r}") from None
    return policy, count


def _healthcheck(opts: CreateOptions, image_cfg: dict) -> dict | None:
    from pypod.units import parse_duration

    if opts.no_healthcheck:
        return None
    hc = None
    img = image_cfg.get("Healthcheck")
    if img and img.get("Test") and img["Test"][0] != "NONE":
        ns = 1e9
        hc = {"test": img["Test"], "interval": (img.get("Interval") or 30 * ns) / ns,
              "timeout": (img.get("Timeout") or 30 * ns) / ns, "retries": img.get("Retries") or 3,
              "start_period": (img.get("StartPeriod") or 0) / ns}
    if opts.health_cmd:
        cmd = opts.health_cmd
        if cmd.strip().lower() == "none":
            return None
        if cmd.strip().startswith("["):
            try:
                test = json.loads(cmd)
            except ValueError:
                raise InvalidArgument(f"invalid --health-cmd JSON: {cmd}") from None
            if test and test[0] not in ("CMD", "CMD-SHELL", "NONE"):
                test = ["CMD"] + test
        else:
            test = ["CMD-SHELL", cmd]
        hc = {"test": test, "interval": 30.0, "timeout": 30.0, "retries": 3, "start_period": 0.0}
    if hc is None:
        if any(x is not None for x in (opts.health_interval, opts.health_retries, opts.health_start_period,
                                        opts.health_timeout)):
            raise InvalidArgument("healthcheck options need --health-cmd or an image healthcheck")
        return None
    if opts.health_interval is not None:
        hc["interval"] = 0.0 if opts.health_interval == "disable" else parse_duration(opts.health_interval)
    if opts.health_timeout is not None:
        hc["timeout"] = parse_duration(opts.health_timeout)
        if hc["timeout"] < 1:
            raise InvalidArgument("healthcheck-timeout must be at least 1 second")
    if opts.health_start_period is not None:
        hc["start_period"] = parse_duration(opts.health_start_period)
    if opts.health_retries is not None:
        if opts.health_retries < 1:
            raise InvalidArgument("healthcheck-retries must be greater than 0")
        hc["retries"] = opts.health_retries
    return hc


def _entrypoint(text: str) -> list[str]:
    t = text.strip()
    if t.startswith("["):
        try:
            v = json.loads(t)
            if isinstance(v, list):
                return [str(x) for x in v]
        except ValueError:
            pass
    return [text] if text else []


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


def _create(ctx: Context, opts: CreateOptions, write_spec: bool = True):
    """create(), also returning the spec built for it (run starts it without reading it back;
    launch.start writes spec.json then, so run passes write_spec=False)."""
    cs = store(ctx)
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
    limits = parse_limits(opts.resources)
    if limits and ctx.rootless and not os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        ctx.reporter.notice("Resource limits are not supported and ignored on cgroups V1 rootless systems")
        limits = {}
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
    if opts.userns and opts.userns not in ("host", "private"):
        if opts.userns != "keep-id":
            raise InvalidArgument(f"unrecognized namespace mode {opts.userns} passed")
        if not ctx.rootless:
            raise PypodError("keep-id is only supported in rootless mode")
        confinement["userns"] = "keep-id"
        if opts.user is None:  # podman: the process runs as the user
            confinement["user"] = f"{os.getuid()}:{os.getgid()}"
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
        rec.options = {
            "env": env, "workdir": opts.workdir or image_cfg.get("WorkingDir") or "/",
            "user": opts.user if opts.user is not None else image_cfg.get("User", ""),
            "workdir_given": bool(opts.workdir),
            "hostname": opts.hostname or "", "stop_signal": stop_signal, "stop_timeout": stop_timeout,
            "restart": policy, "restart_max": max_restarts, "rm": opts.rm, "interactive": opts.interactive,
            "tty": opts.tty, "network": network, "volumes": opts.volumes, "tmpfs": opts.tmpfs,
            "read_only": opts.read_only, "dns": opts.dns or list(conf.dns_servers),
            "dns_search": opts.dns_search or list(conf.dns_searches),
            "dns_option": opts.dns_option or list(conf.dns_options), "add_host": opts.add_host, "healthcheck": _healthcheck(opts, image_cfg),
            "publish": opts.publish, "resources": opts.resources, "net": net_opts, "limits": limits,
            "publish_all": bool(opts.publish_all),
            "mounts": opts.mounts, "volumes_from": opts.volumes_from, "resolved_mounts": resolved_mounts,
            "no_hosts": bool(no_hosts), "base_hosts_file": conf.base_hosts_file,
            "passwd": bool(opts.passwd), "passwd_template": opts.passwd_entry or "",
            "rmi": bool(opts.rmi), "unsetenv_all": bool(opts.unsetenv_all), "create_command": list(opts.create_command), **extras, **confinement,
            "external": bool(opts.external),
        }
        from pypod import faults; faults.point("create")
        cs.save(rec, fsync=False)  # (~10 ms of every create on this disk; see ContainerStore.save)
    try:
        spec = build_spec(ctx, rec, img_rec)
        if write_spec:
            from pypod.store import db

            # derived from container.json (_load_spec rebuilds a missing or torn one): no fsync
            db.write_json(cdir / "spec.json", spec.to_dict(), fsync=False)
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


_IPC_SYSCTLS = ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
                "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced")


def _sysctls(items: list[str]) -> dict:
    """--sysctl KEY=VALUE: only the namespaced ones podman allows."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidArgument(f"{item} is invalid, sysctl values must be in the form of KEY=VALUE")
        if not (key in _IPC_SYSCTLS or key.startswith(("net.", "fs.mqueue."))) or ".." in key \
                or "/" in key:
            raise InvalidArgument(f"sysctl '{key}' is not allowed")
        out[key] = value
    return out


def _exposed(items: list[str]) -> dict:
    """--expose PORT[-PORT][/PROTO] → ExposedPorts keys."""
    out = {}
    for item in items:
        port, _, proto = item.partition("/")
        proto = proto or "tcp"
        lo, dash, hi = port.partition("-")
        try:
            a = int(lo)
            b = int(hi) if dash else a
        except ValueError as e:
            bad = hi if dash and lo.isdigit() else lo
            raise InvalidArgument(f'invalid range format for --expose: {item}: strconv.ParseUint: '
                                  f'parsing "{bad}": invalid syntax') from e
        if proto not in ("tcp", "udp", "sctp") or not (0 < a <= b <= 65535):
            raise InvalidArgument(f"invalid port format for --expose: {item}")
        for p in range(a, b + 1):
            out[f"{p}/{proto}"] = {}
    return out


def _devices(items: list[str]) -> list[dict]:
    """--device HOST[:CONTAINER][:PERMISSIONS]: the host's device node bound into /dev."""
    out = []
    for item in items:
        parts = item.split(":")
        src = parts[0]
        dst = parts[1] if len(parts) > 1 and parts[1].startswith("/") else src
        perms = parts[-1] if len(parts) > 1 and not parts[-1].startswith("/") else "rwm"
        if len(parts) > 3 or not src.startswith("/") or not perms or set(perms) - set("rwm"):
            raise InvalidArgument(f"invalid device specification: {item}")
        try:
            os.stat(src)
        except OSError as e:
            raise PypodError(f"stat {src}: {(e.strerror or str(e)).lower()}") from None
        out.append({"PathOnHost": src, "PathInContainer": dst, "CgroupPermissions": perms})
    return out


_LOG_DRIVERS = ("k8s-file", "json-file", "none", "passthrough")


def _decimal_size(text: str) -> int:
    """go-units FromHumanSize: '10m' / '10MB' → 10000000 (decimal units, as podman's log max-size)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgtpKMGTP]?)[bB]?\s*", text or "")
    if not m:
        raise InvalidArgument(f"invalid size: '{text}'")
    return int(float(m.group(1)) * 1000 ** " kmgtp".index(m.group(2).lower() or " "))


def _go_human_size(n: int) -> str:
    """go-units HumanSize: 10000000 → '10MB', 0 → '0B'."""
    x, i = float(n), 0
    while x >= 1000 and i < 5:
        x, i = x / 1000, i + 1
    return f"{x:.4g}{['B', 'kB', 'MB', 'GB', 'TB', 'PB'][i]}"


def _zone_file(tz: str) -> str:
    """--tz ZONE (or local): the host file whose copy becomes the container's /etc/localtime."""
    return "/etc/localtime" if tz == "local" else os.path.join("/usr/share/zoneinfo", tz)


def _more_options(opts: CreateOptions, conf) -> dict:
    """The options podman users set in scripts beyond the core ones, checked as podman does,
    with containers.conf's defaults where podman has one."""
    from pypod.units import parse_size

    out: dict = {"expose": _exposed(opts.expose), "sysctls": _sysctls(opts.sysctl),
                 "devices": _devices(opts.device), "cidfile": opts.cidfile or "",
                 "pidfile": os.path.abspath(opts.pidfile) if opts.pidfile else "",
                 "timeout": int(opts.timeout or 0), "extra_passwd": _host_user_entries(opts.hostuser),
                 "conmon_pidfile": os.path.abspath(opts.conmon_pidfile) if opts.conmon_pidfile else ""}
    shm = 0
    if opts.shm_size:
        try:
            shm = parse_size(opts.shm_size)
        except InvalidArgument:
            raise InvalidArgument(f"unable to translate --shm-size: invalid size: '{opts.shm_size}'") from None
    elif conf.shm_size != "65536k":
        try:
            shm = parse_size(conf.shm_size)
        except InvalidArgument:
            raise PypodError(f"containers.conf: [containers] shm_size: invalid size: '{conf.shm_size}'") from None
    out["shm_size"] = shm
    umask = opts.umask if opts.umask is not None else conf.umask
    if not re.fullmatch(r"[0-7]{1,4}", umask or ""):
        raise InvalidArgument(f"running container create option: invalid umask string {umask}: invalid argument")
    out["umask"] = umask.rjust(4, "0")
    tz = opts.tz if opts.tz is not None else (conf.tz or "")
    if tz:
        zone = _zone_file(tz)
        if not os.path.isfile(zone) or ".." in tz.split("/"):
            raise PypodError(f"running container create option: stat {zone}: no such file or directory")
    out["tz"] = tz
    driver = opts.log_driver or conf.log_driver
    if driver not in _LOG_DRIVERS:
        if driver == "journald":
            raise PypodError("the journald log driver needs systemd's journal, which pypod does not use: "
                             "use --log-driver k8s-file (the default) or none")
        raise InvalidArgument("running container create option: invalid log driver: invalid argument")
    log_opts: dict = {}
    for item in opts.log_opt:
        key, sep, value = item.partition("=")
        if not sep or key not in ("path", "max-size", "tag"):
            raise InvalidArgument(f"running container create option: invalid log option {item!r}: "
                                  f"expected path=, max-size= or tag=: invalid argument")
        if key == "max-size":
            try:
                value = str(_decimal_size(value))
            except InvalidArgument:
                raise InvalidArgument(f"running container create option: invalid max-size {value!r}") from None
        if key == "path":
            value = os.path.abspath(value)
        log_opts[key] = value
    out["log_driver"] = "k8s-file" if driver == "json-file" else driver
    out["log_opts"] = log_opts
    if opts.oom_score_adj is not None and not -1000 <= opts.oom_score_adj <= 1000:
        raise InvalidArgument(f"oom_score_adj must be between -1000 and 1000: {opts.oom_score_adj}")
    out["oom_score_adj"] = opts.oom_score_adj
    return out


def _confinement_options(ctx: Context, opts: CreateOptions) -> dict:
    """--cap-add/--cap-drop/--privileged/--security-opt/--ulimit, validated as podman does."""
    from pypod.linux import caps as capsmod

    seccomp, nnp = None, False
    for so in opts.security_opt or []:
        key, sep, val = so.partition("=")
        if so in ("no-new-privileges", "no-new-privileges=true", "no-new-privileges:true"):
            nnp = True
        elif so in ("no-new-privileges=false", "no-new-privileges:false"):
            nnp = False
        elif key == "seccomp" and sep and val:
            seccomp = val if val == "unconfined" else os.path.abspath(val)
        elif key in ("label", "apparmor", "mask", "unmask", "proc-opts", "systempaths") and sep:
            continue  # accepted; SELinux/AppArmor are not used here
        else:
            raise InvalidArgument(f'invalid --security-opt 1: "{so}"')
    try:
        for c in [*opts.cap_add, *opts.cap_drop]:
            capsmod.normalize(c)
    except ValueError as e:
        raise PypodError(str(e))
    rlimits = [_parse_ulimit(u) for u in opts.ulimit or []]
    init_path = ""
    if opts.init:
        init_path = _find_init(ctx, opts.init_path)
    return {"group_add": list(opts.group_add), "init": bool(opts.init), "init_path": init_path,
            "read_only_tmpfs": bool(opts.read_only_tmpfs),
            "cap_add": list(opts.cap_add), "cap_drop": list(opts.cap_drop),
            "privileged": bool(opts.privileged), "seccomp": seccomp, "no_new_privileges": nnp,
            "security_opt": list(opts.security_opt), "ulimits": rlimits}


def _find_init(ctx: Context, given: str | None) -> str:
    """catatonit (podman's container-init) for --init: --init-path, containers.conf init_path,
    the usual places; "" when there is none (pypod's own reaper is used then)."""
    if given:
        if not os.path.exists(given):
            raise PypodError(f"container-init binary not found on the host: stat {given}: "
                             f"no such file or directory")
        return os.path.abspath(given)
    from pypod import config

    conf = config.load_containers_conf()
    configured = (conf.get("containers") or {}).get("init_path") or (conf.get("engine") or {}).get("init_path")
    if configured:
        if os.path.isfile(configured):
            return configured
        ctx.reporter.warn(f"container-init binary {configured} (containers.conf init_path) not found: using pypod's own init")
        return ""
    cands = ["/usr/libexec/podman/catatonit", "/usr/bin/catatonit", "/usr/local/libexec/podman/catatonit"]
    return next((c for c in cands if os.path.isfile(c)), "")


_ULIMITS = {"core": "RLIMIT_CORE", "cpu": "RLIMIT_CPU", "data": "RLIMIT_DATA", "fsize": "RLIMIT_FSIZE",
            "locks": "RLIMIT_LOCKS", "memlock": "RLIMIT_MEMLOCK", "msgqueue": "RLIMIT_MSGQUEUE",
            "nice": "RLIMIT_NICE", "nofile": "RLIMIT_NOFILE", "nproc": "RLIMIT_NPROC", "rss": "RLIMIT_RSS",
            "rtprio": "RLIMIT_RTPRIO", "rttime": "RLIMIT_RTTIME", "sigpending": "RLIMIT_SIGPENDING",
            "stack": "RLIMIT_STACK", "as": "RLIMIT_AS"}


def _parse_ulimit(u: str) -> list:
    """"nofile=1024:2048" / "nproc=512" / "core=-1" → [RLIMIT_X, soft, hard] (-1: unlimited)."""
    name, sep, val = u.partition("=")
    pre = f'ulimit option "{u}" requires name=SOFT:HARD, failed to be parsed: '
    if not sep:
        raise InvalidArgument(pre + f"invalid ulimit argument: {u}")
    if name not in _ULIMITS:
        raise InvalidArgument(pre + f"invalid ulimit type: {name}")
    soft_s, _, hard_s = val.partition(":")
    try:
        soft = int(soft_s)
        hard = int(hard_s) if hard_s else soft
    except ValueError as e:
        bad = str(e).rsplit(":", 1)[-1].strip()
        raise InvalidArgument(pre + f'strconv.ParseInt: parsing "{bad.strip(chr(39))}": invalid syntax') from None
    for text, n in ((soft_s, soft), (hard_s, hard)):
        if not -(1 << 63) <= n < 1 << 63:  # Go's int64, as podman parses it
            raise InvalidArgument(pre + f'strconv.ParseInt: parsing "{text}": value out of range')
    if soft >= 0 and hard >= 0 and soft > hard:
        raise InvalidArgument(f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}")
    return [_ULIMITS[name], soft, hard]


def _confinement_spec(ctx: Context, o: dict, cdir: Path, proc, spec) -> None:
    """Fill the capabilities, seccomp program and rlimits of a ContainerSpec being built."""
    from pypod.linux import caps as capsmod, seccomp as seccompmod

    privileged = bool(o.get("privileged"))
    if privileged:
        bounding = capsmod.all_caps()
    else:
        try:
            bounding = _bounding_caps(o)
        except ValueError as e:
            raise PypodError(str(e))
    proc.capabilities = bounding
    add = [capsmod.normalize(c) for c in o.get("cap_add") or []]
    proc.user_capabilities = [c for c in (capsmod.all_caps() if "CAP_ALL" in add else add) if c in bounding]
    proc.no_new_privileges = bool(o.get("no_new_privileges"))
    proc.rlimits = [list(r) for r in o.get("ulimits") or []]
    proc.group_add = list(o.get("group_add") or [])
    spec.rootfs.readonly_tmpfs = bool(o.get("read_only_tmpfs", True))
    if o.get("init"):
        if o.get("init_path"):  # catatonit, where podman puts it
            from pypod.runtime.spec import Mount

            spec.mounts.append(Mount(type="bind", source=o["init_path"], destination="/run/podman-init",
                                     options=["ro", "bind"]))
            proc.args = ["/run/podman-init", "--", *proc.args]
        else:
            proc.init = "builtin"
    spec.privileged = privileged
    prog_path = cdir / "seccomp.bpf"
    if privileged or o.get("seccomp") == "unconfined":
        prog = None
    else:
        try:
            prog = seccompmod.program_for(o.get("seccomp"), bounding, str(ctx.graph_root / "cache" / "seccomp"))
        except seccompmod.ProfileError as e:
            raise PypodError(str(e))
    if prog is None:
        proc.seccomp = ""
        return
    tmp = cdir / "seccomp.bpf.tmp"
    tmp.write_bytes(prog)
    os.replace(tmp, prog_path)
    proc.seccomp = str(prog_path)


def _bounding_caps(o: dict) -> list[str]:
    """The container's bounding set: the default set (containers.conf's, else podman's) with
    --cap-add and --cap-drop applied. ValueError for an unknown capability."""
    from pypod.linux import caps as capsmod

    return capsmod.merge(o.get("default_caps") or capsmod.DEFAULT_CAPS, o.get("cap_add") or [],
                         o.get("cap_drop") or [])


def _inspect_caps(o: dict) -> dict:
    """podman's capability fields: the bounding set, what the process has (root: all of it;
    another user: its --cap-add ones), and CapAdd/CapDrop relative to Docker's default set."""
    from pypod.linux import caps as capsmod

    if o.get("privileged"):
        every = sorted(capsmod.all_caps())
        return {"BoundingCaps": every, "EffectiveCaps": every, "CapAdd": [], "CapDrop": []}
    try:
        bounding = set(_bounding_caps(o))
        added = {capsmod.normalize(c) for c in o.get("cap_add") or []}
    except ValueError:
        return {"BoundingCaps": [], "EffectiveCaps": [], "CapAdd": [], "CapDrop": []}
    docker = {capsmod.normalize(c) for c in [*capsmod.DEFAULT_CAPS, "AUDIT_WRITE", "MKNOD", "NET_RAW"]}
    user = (o.get("user") or "").partition(":")[0]
    effective = bounding if user in ("", "0", "root") else (bounding if "CAP_ALL" in added else added & bounding)
    return {"BoundingCaps": sorted(bounding), "EffectiveCaps": sorted(effective),
            "CapAdd": sorted(bounding - docker), "CapDrop": sorted(docker - bounding)}


def parse_limits(res: dict) -> dict:
    """--memory/--memory-swap/--cpus/--cpu-shares/--pids-limit/--cpuset-cpus → numbers, checked
    as podman does (125 for a bad value); only the ones given."""
    from pypod.units import parse_size

    def bad(flag: str, v, why: str):
        return InvalidArgument(f'invalid argument "{v}" for "{flag}" flag: {why}')

    out: dict = {}
    v = res.get("memory")
    if v not in (None, ""):
        try:
            out["memory"] = parse_size(str(v))
        except PypodError:
            raise bad("-m, --memory", v, f"invalid size: '{v}'") from None
        if 0 < out["memory"] < 6 * 1024 * 1024:  # 0: no limit, as podman
            raise InvalidArgument("minimum memory limit allowed is 6MB")
    v = res.get("memory_swap")
    if v not in (None, ""):
        if str(v) == "-1":
            out["memory_swap"] = -1
        else:
            try:
                out["memory_swap"] = parse_size(str(v))
            except PypodError:
                raise bad("--memory-swap", v, f"invalid size: '{v}'") from None
            if "memory" not in out:
                raise InvalidArgument("you must provide a memory limit when setting --memory-swap")
            if out["memory_swap"] < out["memory"]:
                raise InvalidArgument("minimum memoryswap limit should be larger than memory limit, "
                                      "see usage")
    v = res.get("cpus")
    if v not in (None, ""):
        try:
            f = float(v)
        except ValueError:
            raise bad("--cpus", v, f'strconv.ParseFloat: parsing "{v}": invalid syntax') from None
        if f < 0:
            raise InvalidArgument(f"invalid value {v} for --cpus: must be >= 0")
        if f:
            out["cpus"] = f
    for key, flag in (("pids_limit", "--pids-limit"), ("cpu_shares", "-c, --cpu-shares")):
        v = res.get(key)
        if v not in (None, "", 0):
            try:
                out[key] = int(v)
            except ValueError:
                raise bad(flag, v, f'strconv.ParseInt: parsing "{v}": invalid syntax') from None
    v = res.get("cpuset_cpus")
    if v not in (None, ""):
        if not re.fullmatch(r"\d+(-\d+)?(,\d+(-\d+)?)*", str(v)):
            raise InvalidArgument(f"invalid value {v!r} for --cpuset-cpus: use a list such as 0-3 or 0,2")
        out["cpuset_cpus"] = str(v)
    return out


def _shifted_layer(ctx: Context, layer: str, uid_text: str, gid_text: str) -> str:
    """The layer's copy with owners moved through the container's maps (made once, shared)."""
    from pypod.store import shift

    dst = ctx.graph_root / "overlay-shifted" / shift.map_key(uid_text, gid_text) / layer / "diff"
    if dst.exists():
        return str(dst)
    import subprocess

    from pypod.linux import userns as _userns
    from pypod.linux.spawn import lean_python_argv

    argv = lean_python_argv("pypod.store.shift", [str(ctx.images.layers.diff_dir(layer)), str(dst),
                                                  uid_text, gid_text])
    p = _userns.run_in_userns(argv, holder_dir=str(ctx.run_root / "userns"),
                              stderr=subprocess.PIPE, text=True)
    _, err = p.communicate()
    if p.returncode != 0 or not dst.exists():
        raise PypodError((err or "").strip().removeprefix("Error: ") or
                         f"cannot make the --uidmap copy of layer {layer[:12]}")
    return str(dst)


def _host_user_entries(users: list[str]) -> list[str]:
    """--hostuser NAME|UID: the host's /etc/passwd line of each, as podman adds them."""
    import pwd

    out = []
    for u in users or []:
        try:
            pw = pwd.getpwuid(int(u)) if u.isdigit() else pwd.getpwnam(u)
        except KeyError:
            from pypod.errors import CommandCannotInvoke  # podman: 126, the start fails

            raise CommandCannotInvoke(f"unable to find user {u}: no matching entries in passwd file") from None
        out.append(f"{pw.pw_name}:x:{pw.pw_uid}:{pw.pw_gid}:{pw.pw_gecos}:{pw.pw_dir}:{pw.pw_shell}")
    return out


def _keep_id_entries() -> dict:
    """podman adds the user to the container's /etc/passwd and /etc/group with keep-id."""
    import grp
    import pwd

    uid, gid = os.getuid(), os.getgid()
    try:
        pw = pwd.getpwuid(uid)
        name, gecos, home = pw.pw_name, pw.pw_gecos.split(",")[0] or pw.pw_name, pw.pw_dir
    except KeyError:
        name, gecos, home = str(uid), str(uid), "/"
    try:
        gname = grp.getgrgid(gid).gr_name
    except KeyError:
        gname = str(gid)
    return {"passwd_entry": f"{name}:*:{uid}:{gid}:{gecos}:{home}:/bin/sh",
            "group_entry": f"{gname}:x:{gid}:{name}"}


def _id_map_text(items: list[str], flag: str, rootless: bool) -> str:
    """--uidmap CONTAINER:HOST:SIZE (repeatable) → the lines of a uid_map. Rootless, HOST is an
    id of the user's namespace (0 is the user, 1… the subordinate ids), as podman's."""
    from pypod.linux import userns as _userns

    limit = None
    if rootless:
        m = _userns.mapping()
        limit = m.size if flag == "uidmap" else m.gid_size
    lines, seen = [], []
    for item in items:
        for part in item.split(","):
            try:
                c, h, n = (int(x) for x in part.split(":"))
            except ValueError:
                raise InvalidArgument(f"invalid --{flag} {part!r}: use container_id:host_id:amount") from None
            if c < 0 or h < 0 or n <= 0:
                raise InvalidArgument(f"invalid --{flag} {part!r}: ids must be >= 0 and the amount > 0")
            if limit is not None and h + n > limit:
                raise InvalidArgument(f"--{flag} {part}: host ids {h}-{h + n - 1} are outside the "
                                      f"{limit} ids of your user namespace (0 is you, 1-{limit - 1} "
                                      f"your subordinate ids)")
            for c2, h2, n2 in seen:
                if c < c2 + n2 and c2 < c + n or h < h2 + n2 and h2 < h + n:
                    raise InvalidArgument(f"--{flag} {part}: overlaps another range")
            seen.append((c, h, n))
            lines.append(f"{c} {h} {n}")
    if len(lines) > 340:
        raise InvalidArgument(f"--{flag}: too many ranges")
    return "\n".join(lines) + "\n"


MODE_WORDS = ("", "default", "bridge", "none", "host", "private")


def _is_mode(name: str) -> bool:
    """A --network word that names a mode (parse_mode's), not a network."""
    return name in MODE_WORDS or name in ("slirp4netns", "pasta", "container", "ns")


def _network_mode(ctx: Context, opts: CreateOptions) -> tuple[str, dict]:
    """--network (repeatable; NAME[:ip=…,mac=…,alias=…,interface_name=…]), --network-alias,
    --ip, --mac-address → (spec mode, net settings). User networks: mode "bridge" and
    net["networks"] = {NAME: {"aliases", "ip", "mac", "interface"}}."""
    from pypod.engine import networks as netmod

    given = opts.network
    items = [given] if isinstance(given, str) else list(given or [])
    items = [x for x in items if x is not None]
    first = items[0] if items else ""
    head = first.partition(":")[0]
    if len(items) <= 1 and (_is_mode(head) or first == netmod.DEFAULT_NETWORK):
        if opts.network_aliases:
            raise InvalidArgument("--network-alias can only be set for user-defined networks")
        if opts.ip or opts.mac_address:
            if head not in ("", "default", "bridge", "private") and first != netmod.DEFAULT_NETWORK:
                raise InvalidArgument(f"--ip and --mac-address cannot be used with --network {first}")
        return netmod.parse_mode(first, ctx.rootless, lambda n: get_container(ctx, n).id)
    networks: dict = {}
    for item in items:
        name, _, rest = item.partition(":")
        if _is_mode(name) or name == netmod.DEFAULT_NETWORK:
            raise InvalidArgument(f"--network {name} cannot be combined with other networks")
        rec = netmod.get_network(ctx, name)
        ep: dict = {"aliases": [], "ip": "", "mac": "", "interface": ""}
        for kv in [x for x in rest.split(",") if x]:
            k, _, v = kv.partition("=")
            if k == "alias":
                ep["aliases"].append(v)
            elif k == "ip":
                ep["ip"] = v
            elif k == "mac":
                ep["mac"] = v
            elif k == "interface_name":
                ep["interface"] = v
            else:
                raise InvalidArgument(f"unknown option {k!r} for network {name}")
        if rec["name"] in networks:
            raise InvalidArgument(f"network {rec['name']} given twice")
        networks[rec["name"]] = ep
    first_ep = next(iter(networks.values()))
    first_ep["aliases"] += list(opts.network_aliases or [])
    if opts.ip:
        if len(networks) > 1:
            raise InvalidArgument("--ip can only be used with a single network: use "
                                  "--network NAME:ip=ADDR for each")
        first_ep["ip"] = opts.ip
    if opts.mac_address:
        if len(networks) > 1:
            raise InvalidArgument("--mac-address can only be used with a single network: use "
                                  "--network NAME:mac=ADDR for each")
        first_ep["mac"] = opts.mac_address
    import ipaddress

    for n, ep in networks.items():
        if ep["ip"]:
            try:
                ipaddress.IPv4Address(ep["ip"])
            except ValueError:
                raise InvalidArgument(f"{ep['ip']} is not an IPv4 address") from None
        if ep["mac"] and not re.fullmatch(r"([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}", ep["mac"]):
            raise InvalidArgument(f"invalid MAC address {ep['mac']!r}")
    return "bridge", {"networks": networks}


def bridge_endpoints(ctx: Context, o: dict) -> list:
    """[(network record, endpoint)] for the spec of a container on user networks."""
    from pypod.engine import networks as netmod

    out = []
    for i, (name, ep) in enumerate(((o.get("net") or {}).get("networks") or {}).items()):
        rec = netmod.get_network(ctx, name)
        if not rec.get("subnets"):
            raise PypodError(f"network {name} has no subnet (ipam driver \"none\"): pypod cannot "
                             f"attach containers to it; create one with a subnet")
        out.append((rec, {"aliases": list(ep.get("aliases") or []), "want": ep.get("ip") or "",
                          "mac": ep.get("mac") or "", "ifname": ep.get("interface") or f"eth{i}"}))
    return out


def _hosts_entries(text: str) -> list[tuple[str, list[str]]]:
    """A hosts file's entries, comments and address-only lines dropped (as podman reads it)."""
    out = []
    for line in text.splitlines():
        fields = line.partition("#")[0].split()
        if len(fields) >= 2:
            out.append((fields[0], fields[1:]))
    return out


def _check_add_host(h: str) -> tuple[str, str]:
    """HOST:IP as podman checks it (same messages)."""
    name, sep, ip = h.partition(":")
    if not sep or not name:
        raise InvalidArgument(f'bad format for add-host: "{h}"')
    import ipaddress

    try:
        ipaddress.ip_address(ip)
    except ValueError:
        raise InvalidArgument(f'invalid IP address in add-host: "{ip}"') from None
    return name, ip


def _base_hosts(base: str, lower: list[str]) -> str:
    """containers.conf base_hosts_file: "" the host's /etc/hosts, "image" the image's, "none"
    nothing, else that file."""
    if base == "none":
        return ""
    if base == "image":
        for layer in lower:  # top-most first
            p = os.path.join(layer, "etc", "hosts")
            if os.path.lexists(p):
                if not os.path.isfile(p) or os.path.islink(p):
                    return ""
                return Path(p).read_text(errors="replace")
        return ""
    try:
        return Path(base or "/etc/hosts").read_text(errors="replace")
    except FileNotFoundError:
        if base:
            raise PypodError(f"open {base}: no such file or directory") from None
        return ""


def _hosts_file(rec: ContainerRecord, hostname: str, network: str, add_hosts: list[str],
                base_text: str) -> str:
    """/etc/hosts as podman 4.3 writes it: --add-host entries, then the base file's, then
    localhost, host.containers.internal and the container's own names — each of these only
    with the names nobody listed before."""
    entries = [(ip, [name]) for name, ip in map(_check_add_host, add_hosts)]
    entries += _hosts_entries(base_text)
    names = hostname if hostname == rec.name else f"{hostname} {rec.name}"
    net = rec.options.get("net") or {}
    from pypod.engine import networks as netmod

    host = netmod.host_ip()
    own = "127.0.0.1"
    if network == "slirp4netns":
        ip, gw, _ = netmod.container_ip(network, net)
        host = gw if net.get("allow_host_loopback") else host
        own = ip or own
    elif network == "pasta":
        own = host or own
    elif network == "bridge":
        from pypod.network.rootlessnet import IP_TOKEN

        own = IP_TOKEN
    special = [("127.0.0.1", ["localhost"]), ("::1", ["localhost"])]
    if host:
        special.append((host, ["host.containers.internal"]))
    if network != "host":
        special.append((own, names.split()))
    lines = [f"{ip}\t{' '.join(n)}" for ip, n in entries]
    seen = {n for _, ns in entries for n in ns}
    for ip, ns in special:
        free = [n for n in ns if n not in seen]
        if free:
            lines.append(f"{ip}\t{' '.join(free)}")
    return "\n".join(lines) + "\n"


def _resolv_conf(opts: dict, network_dns: list[str] | None = None) -> str:
    """network_dns: the name server of the container's user networks (the first one with DNS)."""
    servers, search, options = [], [], []
    try:
        for line in Path("/etc/resolv.conf").read_text().splitlines():
            parts = line.split()
            if not parts:
                continue
            if parts[0] == "nameserver" and len(parts) > 1:
                servers.append(parts[1])
            elif parts[0] in ("search", "domain"):
                search.extend(parts[1:])
            elif parts[0] == "options":
                options.extend(parts[1:])
    except OSError:
        pass
    if opts.get("network") != "host":
        # A loopback resolver on the host is not reachable from a private network namespace.
        servers = [s for s in servers if not s.startswith("127.") and s != "::1"]
    if opts.get("network") == "slirp4netns":  # slirp4netns's DNS forwarder first, as podman
        from pypod.network.slirp import cidr_addresses

        dns = cidr_addresses((opts.get("net") or {}).get("cidr") or "10.0.2.0/24")["dns"]
        servers = [dns] + [s for s in servers if s != dns]
    if opts.get("network") == "bridge":
        # a network's name server when one has it (names of the network's containers), else
        # slirp4netns's forwarder, reached through the shared namespace's NAT (ours alone: it
        # forwards the rest; resolvers that ask all servers at once would take an upstream
        # NXDOMAIN for a container's name)
        gws = list(network_dns or [])
        servers = gws if gws else ["10.0.2.3"] + servers
        if gws:
            search = ["dns.podman"] + [x for x in search if x != "dns.podman"]
    if opts.get("dns"):
        servers = list(opts["dns"])
    if opts.get("dns_search"):
        search = [] if opts["dns_search"] == ["."] else list(opts["dns_search"])
    if opts.get("dns_option"):
        options = list(opts["dns_option"])
    out = []
    if search:
        out.append("search " + " ".join(search))
    out += [f"nameserver {s}" for s in servers]
    if options:
        out.append("options " + " ".join(options))
    return "\n".join(out) + "\n"


def _bind_mounts(opts: dict) -> list:
    from pypod.runtime.spec import Mount

    if "resolved_mounts" in opts:
        from pypod.engine.mounts import runtime_mounts

        return runtime_mounts(opts["resolved_mounts"])
    mounts = []
    for v in opts.get("volumes") or []:
        parts = v.split(":")
        if len(parts) == 1:
            raise InvalidArgument(f"anonymous volumes ({v}) are not supported yet")
        src, dst = parts[0], parts[1]
        mopts = parts[2].split(",") if len(parts) > 2 else []
        if not dst.startswith("/"):
            raise InvalidArgument(f"invalid container path {dst!r}: must be absolute")
        if not src.startswith("/") and not src.startswith("."):
            raise InvalidArgument(f"named volumes ({src}) are not supported yet")
        src = os.path.abspath(src)
        if not os.path.exists(src):
            raise PypodError(f"statfs {src}: no such file or directory")
        flags = [o for o in mopts if o in ("ro", "rw", "nosuid", "nodev", "noexec")]
        mounts.append(Mount(type="bind", source=src, destination=dst, options=["rbind"] + flags))
    for t in opts.get("tmpfs") or []:
        dst, _, o = t.partition(":")
        mounts.append(Mount(type="tmpfs", source="tmpfs", destination=dst,
                            options=(o.split(",") if o else []) or ["rw", "noexec", "nosuid", "nodev"]))
    return mounts


def _more_spec(o: dict, cdir: Path, proc, spec) -> None:
    """The spec's part of _more_options: umask, oom score, /dev/shm size, sysctls, devices,
    the time zone, --pidfile, the log's size limit."""
    from pypod.runtime.spec import Mount

    proc.umask = int(o.get("umask") or "0022", 8)
    proc.oom_score_adj = o.get("oom_score_adj")
    spec.shm_size = int(o.get("shm_size") or 0)
    spec.sysctls = dict(o.get("sysctls") or {})
    spec.pid_file = o.get("pidfile") or ""
    spec.conmon_pid_file, spec.timeout = o.get("conmon_pidfile") or "", int(o.get("timeout") or 0)
    spec.extra_passwd = list(o.get("extra_passwd") or [])
    spec.log_size_max = int((o.get("log_opts") or {}).get("max-size") or -1)
    for d in o.get("devices") or []:
        # the permissions are device-cgroup rules: not applied rootless (podman neither)
        spec.mounts.append(Mount(type="bind", source=d["PathOnHost"], destination=d["PathInContainer"],
                                 options=["bind"]))
    tz = o.get("tz")
    if tz:  # a copy of the zone file bound over /etc/localtime, as podman
        import shutil

        copy = cdir / "localtime"
        try:
            shutil.copyfile(_zone_file(tz), copy)
        except OSError as e:
            raise PypodError(f"setting the time zone {tz}: {e.strerror or e}") from None
        spec.mounts.append(Mount(type="bind", source=str(copy), destination="/etc/localtime",
                                 options=["bind", "ro"]))


def build_spec(ctx: Context, rec: ContainerRecord, img_rec=None):
    from pypod.runtime.spec import ContainerSpec, ProcessSpec, RootfsSpec

    o = rec.options
    cdir = store(ctx).dir(rec.id)
    if rec.rootfs:
        rootfs = RootfsSpec(lower=[], upper="", work="", path=rec.rootfs, readonly=o.get("read_only", False))
    else:
        if img_rec is None:
            img_rec = ctx.images.get(rec.image_id)
            if img_rec is None:
                raise PypodError(f"image {rec.image_id[:12]} of container {rec.name} is gone")
        lower = [str(ctx.images.layers.diff_dir(l)) for l in reversed(img_rec.layers)]
        if o.get("userns") in ("maps", "keep-id") and o.get("uid_map"):  # owners follow the maps
            lower = [_shifted_layer(ctx, l, o["uid_map"], o["gid_map"])
                     for l in reversed(img_rec.layers)]
        if not (cdir / "upper").exists():  # the container's / keeps the image's mode (555 stays 555)
            (cdir / "upper").mkdir(mode=0o755)
            os.chmod(cdir / "upper", os.stat(lower[0]).st_mode & 0o7777 if lower else 0o755)
        (cdir / "work").mkdir(exist_ok=True, mode=0o700)
        rootfs = RootfsSpec(lower=lower, upper=str(cdir / "upper"), work=str(cdir / "work"),
                            readonly=o.get("read_only", False))
    hostname = o.get("hostname") or rec.id[:12]
    env = merge_env(o["env"], [f"HOSTNAME={hostname}"]) if not any(e.startswith("HOSTNAME=") for e in o["env"]) else o["env"]
    if o.get("tty"):
        env = merge_env(env, ["TERM=xterm"]) if not any(e.startswith("TERM=") for e in env) else env
    proc = ProcessSpec(args=list(rec.command), env=env, cwd=o.get("workdir") or "/", user=o.get("user") or "",
                       terminal=bool(o.get("tty")), stdin=bool(o.get("interactive")),
                       create_cwd=not o.get("workdir_given"), env_defaults=not o.get("unsetenv_all"))
    hc = o.get("healthcheck")
    net = dict(o.get("net") or {})
    network_dns: list[str] = []
    if o.get("network") == "bridge":
        eps = bridge_endpoints(ctx, o)
        net["endpoints"] = eps
        net["run_root"] = str(ctx.run_root)
        net["uplink"] = _uplink_options()
        network_dns = [(n.get("subnets") or [{}])[0].get("gateway") for n, _ in eps
                       if n.get("dns_enabled")][:1]
    mounts = _bind_mounts(o)
    for i, m in enumerate(mounts):
        if m.type == "overlay" and "fresh" in m.options:  # -v DIR:DST:O: a throw-away upper
            base = cdir / "overlay-volumes" / str(i)
            m.options = [x for x in m.options if x != "fresh"] + [
                f"upperdir={base}/upper", f"workdir={base}/work", "fresh"]
    spec = ContainerSpec(id=rec.id, name=rec.name, hostname=hostname, rootfs=rootfs, process=proc,
                         mounts=mounts, network=o.get("network", "private"),
                         net=net,
                         hosts="" if o.get("no_hosts") else _hosts_file(
                             rec, hostname, o.get("network"), o.get("add_host") or [],
                             _base_hosts(o.get("base_hosts_file") or "",
                                         rootfs.lower or [rootfs.path or "/nonexistent"])),
                         resolv_conf=_resolv_conf(o, network_dns), stop_signal=o.get("stop_signal", 15),
                         stop_timeout=o.get("stop_timeout", 10), restart_policy=o.get("restart", "no"),
                         restart_max=o.get("restart_max", 0), healthcheck=hc, auto_remove=bool(o.get("rm")),
                         log_path=str(log_path(ctx, rec) or ""), annotations=dict(rec.annotations),
                         events_dir=ctx.run_dir, event={"image": rec.image_name, "labels": dict(rec.labels or {})})
    _more_spec(o, cdir, proc, spec)
    _confinement_spec(ctx, o, cdir, proc, spec)
    spec.limits = dict(o.get("limits") or {})
    spec.userns = o.get("userns") or ""
    spec.uid_map, spec.gid_map = o.get("uid_map") or "", o.get("gid_map") or ""
    spec.passwd_entry, spec.group_entry = o.get("passwd_entry") or "", o.get("group_entry") or ""
    spec.passwd, spec.passwd_template = bool(o.get("passwd")), o.get("passwd_template") or ""
    if o.get("privileged"):  # podman fills /run/.containerenv for privileged containers only
        from pypod import __version__

        spec.containerenv = (f'engine="podman-4.3.1-pypod-{__version__}"\nname="{rec.name}"\nid="{rec.id}"\n'
                             f'image="{rec.image_name}"\nimageid="{rec.image_id}"\n'
                             f'rootless={1 if ctx.rootless else 0}\n')
    if o.get("rm"):
        spec.cleanup_argv = cleanup_argv(ctx, rec.id)
        if o.get("rmi") and rec.image_id:  # run -d --rmi: the image goes with the container
            spec.cleanup_argv += ["--rmi-image", rec.image_id]
    return spec


def _uplink_options() -> dict:
    """How the shared network namespace reaches out: containers.conf's rootless network command
    (slirp4netns unless it says pasta), as for the default network."""
    from pypod.engine import networks as netmod

    mode, opts = netmod.parse_mode("", True)
    return dict(opts, kind=mode, ports=[])


def cleanup_argv(ctx: Context, cid: str) -> list[str]:
    return [sys.executable, "-m", "pypod", "--root", str(ctx.graph_root), "--runroot", str(ctx.run_root),
            "rm", "-f", "-i", cid]


# -- start / run -------------------------------------------------------------------------------
# The verbs below that change a container hold its lock (pypod.engine.locking) from the state
# check until the change is recorded or the supervisor has taken over; ps/inspect/logs/wait do
# not lock. Order: pod → container → containers.lock → network/volume; never wait for a
# supervisor while holding it (it takes the lock to record an exit).
def _load_spec(ctx: Context, rec: ContainerRecord):
    from pypod.runtime.spec import ContainerSpec
    from pypod.store import db

    d = db.read_json(store(ctx).dir(rec.id) / "spec.json")
    if not d:
        spec = build_spec(ctx, rec)
        db.write_json(store(ctx).dir(rec.id) / "spec.json", spec.to_dict())
        return spec
    return ContainerSpec.from_dict(d)


def _launch_error(e) -> PypodError:
    code = getattr(e, "exit_code", 125) or 125
    msg = getattr(e, "message", None) or str(e)
    from pypod.errors import CommandCannotInvoke, CommandNotFound

    cls = {127: CommandNotFound, 126: CommandCannotInvoke}.get(code, PypodError)
    err = cls(msg)
    err.exit_code = code
    return err


def _check_detach_keys(keys: str | None) -> str | None:
    from pypod.runtime import attach as rattach

    try:
        rattach.parse_detach_keys(keys)
    except rattach.DetachKeysError as e:
        raise InvalidArgument(str(e)) from None
    return keys


def prepare_supervisor() -> None:
    """Fork the supervisor-to-be now, while this process is small and single-threaded (a CLI
    about to start a container; see runtime/launch.py's DESIGN note): its imports overlap with
    the container's creation."""
    from pypod.engine import supervise
    from pypod.runtime import launch

    launch.prefork(supervise.main)


def start_container(ctx: Context, rec: ContainerRecord, *, attach: bool = False, interactive: bool = False,
                    detach_keys: str | None = None) -> int | None:
    """Start a created or stopped container; attached: wait and return its exit code; None when
    it was running already (podman 4.3 then prints nothing and exits 0).
    Holds the container's lock from the state check until the supervisor reports the container
    started, so of concurrent starts one launches it and the others find it running."""
    from pypod.engine.locking import locked
    from pypod.runtime import launch

    keys = _check_detach_keys(detach_keys)
    lk = locked(ctx, rec)
    cdir = str(store(ctx).dir(rec.id))
    for attempt in range(3):
        with lk:
            rec = lk.rec
            st = state_of(ctx, rec)
            if attempt < 2 and launch.settling(st):
                # its last run is being recorded and torn down: the supervisor needs the lock
                lk.release()
                launch.wait_settled(cdir)
                continue
            if st.get("status") in ("running", "paused"):
                if attach:
                    raise ContainerStateImproper(f"container {rec.id} is already running: container state improper")
                return None
            spec = _load_spec(ctx, rec)
            spec.detach_keys = keys
            spec.cleanup_if_detached = False
            if interactive:
                spec.process.stdin = True
            try:
                started = launch.start(spec, cdir, foreground=attach, warn=ctx.reporter.warn)
            except launch.LaunchError as e:
                raise _launch_error(e) from None
        break
    events.container(ctx, rec, "start")
    if attach:
        return started.wait()
    return 0


def run(ctx: Context, opts: CreateOptions, detach: bool, detach_keys: str | None = None,
        attach: set[str] | None = None) -> tuple[ContainerRecord, int]:
    """attach: the streams shown (--attach; None: all); the others go to the log only."""
    _check_detach_keys(detach_keys)
    rec, spec = _create(ctx, opts, write_spec=False)
    from pypod.runtime import launch

    cdir = str(store(ctx).dir(rec.id))
    spec.detach_keys = _check_detach_keys(detach_keys)
    if not detach and opts.rm:
        # The CLI removes the container itself after a foreground run (the supervisor does only
        # if the user detaches).
        spec.cleanup_if_detached = True
    from pypod.engine.locking import locked

    # held until the supervisor reports the container started (a `start` of the new name waits)
    with locked(ctx, rec):
        try:
            stdio = {} if attach is None or detach else \
                {k: os.open(os.devnull, os.O_RDWR) for k in ("stdin", "stdout", "stderr") if k not in attach}
            try:
                started = launch.start(spec, cdir, foreground=not detach, warn=ctx.reporter.warn, **stdio)
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


def _remove_after_run(ctx: Context, rec: ContainerRecord) -> None:
    """A foreground `run --rm`: under the lock, which the supervisor holds until the run is torn down."""
    from pypod.engine.locking import locked

    try:
        with locked(ctx, rec):
            _destroy(ctx, rec.id)
    except ContainerNotFound:  # removed meanwhile
        return
    from pypod.engine.volumes import remove_anonymous

    remove_anonymous(ctx, rec)


# -- stop / kill / restart ---------------------------------------------------------------------
def stop_container(ctx: Context, rec: ContainerRecord, timeout: int | None = None) -> None:
    """Under the container's lock until pid 1 is dead (a concurrent start waits, then starts it
    again or finds it running); then without it until the supervisor has recorded the exit."""
    from pypod.engine.locking import locked
    from pypod.runtime import launch
    from pypod.signals import signal_name

    cdir = str(store(ctx).dir(rec.id))
    with locked(ctx, rec) as lk:
        rec = lk.rec
        st = state_of(ctx, rec)
        if st.get("status") not in ("running", "paused", "stopping") and not launch.settling(st):
            _mark_stopped_by_user(ctx, rec)
            return
        spec = _load_spec(ctx, rec)
        t = spec.stop_timeout if timeout is None else timeout
        killed, stopped = launch.signal_stop(cdir, t, spec.stop_signal)
        lk.release()  # the supervisor records the exit under it
        launch.settle_stop(cdir, stopped)  # (a wedged supervisor is ended; never a false success)
    events.container(ctx, rec, "stop")
    if killed and t > 0:
        ctx.reporter.warn(f"StopSignal {signal_name(spec.stop_signal)} failed to stop container "
                          f"{rec.name} in {t} seconds, resorting to SIGKILL", elapsed=t)


def _mark_stopped_by_user(ctx: Context, rec: ContainerRecord) -> None:
    pass


def kill_container(ctx: Context, rec: ContainerRecord, sig: int) -> None:
    from pypod.engine.locking import locked
    from pypod.runtime import launch

    with locked(ctx, rec) as lk:
        rec = lk.rec
        st = state_of(ctx, rec)
        if st.get("status") not in ("running", "paused"):
            raise PypodError(f"can only kill running containers. {rec.id} is in state "  # podman: 125
                             f"{st.get('status')}: container state improper")
        launch.kill(str(store(ctx).dir(rec.id)), sig)
    from pypod.signals import signal_name

    events.container(ctx, rec, "kill", signal=signal_name(sig).removeprefix("SIG"))


def wait_container(ctx: Context, rec: ContainerRecord, conditions: list[str] | None = None,
                   interval: float = 0.25) -> int:
    from pypod.runtime import launch

    conds = conditions or ["stopped", "exited"]
    for c in conds:
        if c not in ("created", "running", "paused", "stopped", "exited", "healthy", "unhealthy", "configured",
                     "removing", "stopping", "unknown"):
            raise InvalidArgument(f"unknown container state: {c}: invalid argument")
    return launch.wait(str(store(ctx).dir(rec.id)), conds, interval)


# -- remove -------------------------------------------------------------------------------------
class RmReport(Record):
    FIELDS = (("removed", list), ("errors", list))
    __slots__ = tuple(n for n, _ in FIELDS)


def remove_containers(ctx: Context, names: list[str], *, force: bool = False, ignore: bool = False,
                      timeout: int | None = None, all_: bool = False, volumes: bool = False,
                      depend: bool = False) -> RmReport:
    rep = RmReport()
    from pypod.engine import depends
    from pypod.engine.cleanup import reap_orphans

    reap_orphans(ctx)  # what a killed `rm` (or pull) left
    targets: list[tuple[str, ContainerRecord]] = []
    if all_:
        targets = [(r.id, r) for r in own_containers(ctx)]
    else:
        for n in names:
            rec = find_container(ctx, n)
            if rec is None:
                if not (ignore or force):  # podman 4.3: rm -f of a missing name is no error
                    rep.errors.append(RemoveMissing(f"no container with name or ID \"{n}\" found: no such container"))
                continue
            targets.append((n, rec))
    records = store(ctx).list()
    if depend:
        targets = depends.with_dependents(records, targets)
    removing = {r.id for _, r in targets}
    for given, rec in targets:
        try:
            refused = depends.refusal(records, rec, removing)
            if refused is not None:
                raise refused
            _remove_one(ctx, rec, force, timeout)
            rep.removed.append(given)
            if volumes or (rec.options or {}).get("rm"):
                from pypod.engine.volumes import remove_anonymous

                remove_anonymous(ctx, rec)
        except PypodError as e:
            rep.errors.append(e)
    return rep


EXIT_CODE_KEEP = 300  # seconds an exit code outlives its container (podman keeps them 5 minutes)


def _keep_exit_code(ctx: Context, cid: str) -> None:
    """Remember the exit code of a container about to be removed: a Docker client that waits
    for condition=removed (`docker run --rm`) asks for it after the container is gone."""
    from pypod.runtime.state import read_state

    code = (read_state(str(store(ctx).dir(cid))) or {}).get("exit_code")
    if code is None:
        return
    d = os.path.join(ctx.run_dir, "exits")
    try:
        os.makedirs(d, mode=0o700, exist_ok=True)
        now = time.time()
        with os.scandir(d) as it:
            for e in it:  # bounded: old ones go as new ones come
                if now - e.stat().st_mtime > EXIT_CODE_KEEP:
                    os.unlink(e.path)
        with open(os.path.join(d, cid), "w") as f:
            f.write(str(int(code)))
    except OSError:
        pass


def last_exit_code(ctx: Context, cid: str) -> int | None:
    """The exit code of a container removed in the last EXIT_CODE_KEEP seconds."""
    try:
        with open(os.path.join(ctx.run_dir, "exits", cid)) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return None


def _remove_one(ctx: Context, rec: ContainerRecord, force: bool, timeout: int | None) -> None:
    """Stop (with force) and remove one container under its lock. The lock is dropped while the supervisor records the exit and tears the run down;
    a `start` that slips in then is stopped again."""
    from pypod.engine.locking import locked
    from pypod.runtime import launch

    cdir = str(store(ctx).dir(rec.id))
    try:
        with locked(ctx, rec) as lk:
            try:
                for _ in range(100):
                    st = state_of(ctx, lk.rec)
                    running, settling = st.get("status") in ("running", "paused", "stopping"), launch.settling(st)
                    if not running and not settling:
                        break
                    stp = None
                    if force:  # (settling: only the stop marker, against a restart policy)
                        sig = _signal.SIGKILL if (timeout is None or timeout == 0) else \
                            _load_spec(ctx, lk.rec).stop_signal
                        _, stp = launch.signal_stop(cdir, timeout or 0, sig)
                    elif not settling:
                        raise ContainerStateImproper(
                            f"cannot remove container {rec.id} as it is running - running or paused containers "
                            "cannot be removed without force: container state improper")
                    lk.mark_removing()  # a start in the meantime finds it gone
                    lk.release()
                    if stp is not None:  # a wedged supervisor is ended there, or an error says why
                        launch.settle_stop(cdir, stp)
                    else:
                        launch.wait_settled(cdir)
                    lk.relock()
                if (lk.rec.options or {}).get("damaged"):  # its state may be unreadable too
                    from pypod.engine.cleanup import kill_supervisors

                    kill_supervisors(cdir)
                _destroy(ctx, rec.id)
            except BaseException:
                lk.unmark_removing()
                raise
    except ContainerNotFound:
        pass  # removed under us (podman: no error)


def _destroy(ctx: Context, cid: str) -> None:
    _keep_exit_code(ctx, cid)
    cs = store(ctx)
    rec = cs.get(cid)  # (for its event: name, image, labels)
    with cs.lock():
        dead = cs.trash(cid)
    if dead is not None and rec is not None:
        events.container(ctx, rec, "remove")
    from pypod import faults; faults.point("rm")
    if dead is not None:
        remove_tree(ctx, dead)


def prune(ctx: Context, filters: list[str] | None = None) -> list[str]:
    flt = PsFilter(filters or [])
    out = []
    from pypod.engine.locking import locked
    from pypod.runtime import launch
    from pypod.store.containers import live_work

    for rec in own_containers(ctx):  # (a build's RUN container may be between run and removal)
        if live_work(rec):  # a RUN step of a build in progress
            continue
        if (rec.options or {}).get("damaged"):
            # its record is unreadable: nothing to keep it for (even running); killed and removed
            if not filters and not remove_containers(ctx, [rec.id], force=True).errors:
                out.append(rec.id)
            continue
        try:
            with locked(ctx, rec) as lk:  # a start racing the prune keeps its container
                st = state_of(ctx, lk.rec)
                if st.get("status") in ("running", "paused", "stopping") or launch.settling(st):
                    continue
                if not flt.match(ctx, lk.rec, st):
                    continue
                _destroy(ctx, rec.id)
        except ContainerNotFound:  # removed meanwhile
            continue
        out.append(rec.id)
    from pypod.engine.cleanup import reap_orphans

    reap_orphans(ctx, thorough=True)
    return out


def rename(ctx: Context, rec: ContainerRecord, new: str) -> None:
    if not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*", new):
        raise InvalidArgument(f"container name {new!r}: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*")
    from pypod.engine.locking import locked

    cs = store(ctx)
    with locked(ctx, rec), cs.lock():  # (container, then the name index)
        for r in cs.list():
            if r.name == new:
                raise Conflict(f"renaming container {rec.id}: name {new} already in use, cannot rename "
                               f"container {rec.id}: container already exists")
        rec = cs.get(rec.id)
        rec.name = new
        cs.save(rec)


# -- ps -----------------------------------------------------------------------------------------
class PsFilter:
    KEYS = ("name", "id", "status", "label", "ancestor", "exited", "before", "since", "health", "volume",
            "network", "pod", "until", "restart-policy")

    def __init__(self, filters: list[str]):
        self.f: dict[str, list[str]] = {}
        for item in filters:
            k, sep, v = item.partition("=")
            if not sep:
                raise InvalidArgument(f"invalid filter {item!r}: must be in the format \"filter=value\"")
            if k not in self.KEYS:
                raise InvalidArgument(f"{k} is an invalid filter")
            if k == "status" and v not in ("created", "running", "paused", "stopped", "exited", "unknown",
                                           "configured", "removing", "stopping"):
                raise InvalidArgument(f"{v} is not a valid status")
            if k == "restart-policy" and v not in ("always", "on-failure", "unless-stopped", "no", "none"):
                raise InvalidArgument(f"{v} invalid restart policy")
            # podman's synonyms: restart-policy none is "no", status stopped is exited
            v = {("restart-policy", "none"): "no", ("status", "stopped"): "exited"}.get((k, v), v)
            self.f.setdefault(k, []).append(v)

    def match(self, ctx: Context, rec: ContainerRecord, st: dict) -> bool:
        f = self.f
        if "name" in f and not any(re.search(p, rec.name) for p in f["name"]):
            return False
        if "id" in f and not any(rec.id.startswith(p) for p in f["id"]):
            return False
        if "status" in f and _ps_status(st) not in f["status"]:
            return False
        if "label" in f:
            for want in f["label"]:
                k, sep, v = want.partition("=")
                if k not in rec.labels or (sep and rec.labels[k] != v):
                    return False
        if "exited" in f:
            if _ps_status(st) != "exited" or str(st.get("exit_code", 0)) not in f["exited"]:
                return False
        if "ancestor" in f:
            ok = False
            for a in f["ancestor"]:
                if rec.image_id.startswith(a) or rec.image_name == a or rec.image_name.endswith("/" + a) \
                        or rec.image_name.split(":")[0].endswith("/" + a) or rec.image_name.split(":")[0] == a:
                    ok = True
                    break
                from pypod.engine import images as ie

                img = ie.find_image(ctx, a)
                if img and img.id == rec.image_id:
                    ok = True
                    break
            if not ok:
                return False
        if "health" in f:
            h = (st.get("health") or {}).get("status", "")
            if h not in f["health"]:
                return False
        if "restart-policy" in f and rec.options.get("restart", "no") not in f["restart-policy"]:
            return False
        return True


def _ps_status(st: dict) -> str:
    s = st.get("status", "created")
    if s == "running" and st.get("stopping"):
        return "stopping"
    return "exited" if s == "stopped" else s


class ContainerView:
    __slots__ = ("record", "state")

    def __init__(self, record: ContainerRecord, state: dict):
        self.record, self.state = record, state


def is_external(rec: ContainerRecord) -> bool:
    """A build's RUN container: podman's "external" (buildah's) containers. `ps` shows them only
    with --external, and no --all verb (rm -a, stop -a, prune, --latest) touches them: the build
    owns and removes them."""
    return bool(rec.options.get("external"))


def own_containers(ctx: Context) -> list[ContainerRecord]:
    """Every container but the builds' (what --all and --latest mean)."""
    return [r for r in store(ctx).list() if not is_external(r)]


def list_containers(ctx: Context, all_: bool = False, filters: list[str] | None = None,
                    last: int = -1, latest: bool = False, external: bool = False) -> list[ContainerView]:
    """external: the builds' containers too (podman's ps --external: shown whatever their state)."""
    flt = PsFilter(filters or [])
    views = []
    for rec in store(ctx).list():
        if is_external(rec) and (not external or latest or last >= 0):
            continue
        st = state_of(ctx, rec)
        views.append(ContainerView(rec, st))
    views.sort(key=lambda v: parse_time(v.record.created), reverse=True)
    if latest:
        last = 1
    if last >= 0:
        all_ = True
    out = []
    for v in views:
        # podman: only a status filter looks beyond the running ones without -a
        if not all_ and "status" not in flt.f and v.state.get("status") not in ("running", "paused", "stopping") \
                and not is_external(v.record):
            continue
        if not flt.match(ctx, v.record, v.state):
            continue
        out.append(v)
    if last >= 0:
        out = out[:last]
    return out


def status_text(st: dict, now: float | None = None) -> str:
    from pypod.units import human_duration

    now = now or time.time()
    s = st.get("status", "created")
    if s in ("running", "paused", "stopping"):
        started = parse_time(st.get("started_at", ""))
        text = "Up " + human_duration(now - started) + " ago" if started else "Up"  # podman 4.3's wording
        h = (st.get("health") or {}).get("status")
        if h:
            text += f" ({h})"
        if s == "paused":
            text += " (Paused)"
        return text
    if s in ("exited", "stopped"):
        fin = parse_time(st.get("finished_at", ""))
        return f"Exited ({st.get('exit_code', 0)}) " + (human_duration(now - fin) + " ago" if fin else "")
    if s == "created":
        return "Created"
    return s.capitalize()


def network_names(rec: ContainerRecord) -> list[str]:
    """The user networks the container is on (podman's ps `Networks`)."""
    if rec.options.get("network") != "bridge":
        return []
    return list(((rec.options.get("net") or {}).get("networks") or {}).keys())


def _inspect_networks(rec: ContainerRecord, st: dict, running: bool) -> dict:
    """NetworkSettings.Networks: an entry per user network; the address while it runs."""
    live = (st.get("networks") or {}) if running else {}
    out = {}
    for name, ep in ((rec.options.get("net") or {}).get("networks") or {}).items():
        a = live.get(name) or {}
        out[name] = {"EndpointID": "", "Gateway": a.get("gateway", ""), "IPAddress": a.get("ip", ""),
                     "IPPrefixLen": a.get("prefix", 0), "IPv6Gateway": "", "GlobalIPv6Address": "",
                     "GlobalIPv6PrefixLen": 0, "MacAddress": a.get("mac", ""), "NetworkID": name,
                     "DriverOpts": None, "IPAMConfig": None, "Links": None,
                     "Aliases": [rec.id[:12], *(ep.get("aliases") or [])]}
    return out


def ps_row(ctx: Context, v: ContainerView, no_trunc: bool = False) -> dict:
    from pypod.units import go_time, since

    rec, st = v.record, v.state
    created = parse_time(rec.created)
    created_at = go_time(created)  # podman prints .Created and .CreatedAt alike
    started = parse_time(st.get("started_at", ""))
    finished = parse_time(st.get("finished_at", ""))
    cmd = " ".join(rec.command)
    if not no_trunc and len(cmd) > 17:
        cmd = cmd[:17] + "..."
    status = _ps_status(st)
    if is_external(rec):  # as podman shows buildah's
        cmd, status, st = "buildah", "storage", dict(st, status="storage")
    return {
        "ID": rec.id if no_trunc else rec.id[:12], "Id": rec.id,
        "Image": rec.image_name, "ImageID": rec.image_id, "Command": cmd,
        "CreatedHuman": since(created), "Created": created_at, "CreatedAt": created_at,
        "RunningFor": since(created), "Status": status_text(st), "State": status,
        "Ports": format_ports(rec), "Names": rec.name, "Labels": rec.labels or {},
        "ExitCode": st.get("exit_code") or 0, "Exited": status == "exited", "ExitedAt": int(finished),
        "StartedAt": int(started), "Pid": st.get("pid", 0) if status == "running" else 0,
        "Size": "", "Mounts": [m.split(":")[1] for m in rec.options.get("volumes", []) if ":" in m],
        "Networks": ",".join(network_names(rec)),  # podman's psReporter joins them
        "Pod": "", "PodName": "", "IsInfra": False, "AutoRemove": bool(rec.options.get("rm")),
        "Namespaces": {}, "Restarts": st.get("restart_count", 0),
    }


def format_ports(rec: ContainerRecord) -> str:
    ports = (rec.options.get("net") or {}).get("ports")
    if not ports:
        return ""
    from pypod.network.ports import format_ps

    return format_ps(ports)


def _json_ports(rec: ContainerRecord) -> list | None:
    ports = (rec.options.get("net") or {}).get("ports")
    if not ports:
        return None
    from pypod.network.ports import json_ports

    return json_ports(ports)


def ps_json(ctx: Context, v: ContainerView) -> dict:
    rec, st = v.record, v.state
    d = {
        "AutoRemove": bool(rec.options.get("rm")), "Command": rec.command, "CreatedAt": since_text(rec.created),
        "Exited": _ps_status(st) == "exited", "ExitedAt": _unix_or_zero(st.get("finished_at", "")),
        "ExitCode": st.get("exit_code") or 0, "Id": rec.id, "Image": rec.image_name, "ImageID": rec.image_id,
        "IsInfra": False, "Labels": rec.labels or None, "Mounts": [], "Names": [rec.name], "Namespaces": {},
        "Networks": network_names(rec), "Pid": st.get("pid", 0), "Pod": "", "PodName": "",
        "Ports": _json_ports(rec), "Size": None,
        "StartedAt": _unix_or_zero(st.get("started_at", "")), "State": _ps_status(st),
        "Status": status_text(st), "Created": int(parse_time(rec.created)),
    }
    if is_external(rec):  # as podman shows buildah's
        d.update(Command=["buildah"], State="storage", Status="Storage", Exited=False, ExitedAt=0,
                 ExitCode=0, Pid=0, StartedAt=0, Labels=None, Mounts=None, Networks=None, Ports=None)
    return d


GO_ZERO_TIME = -62135596800  # Go's time.Time{} as a Unix time, which podman prints for "never"


def _unix_or_zero(ts: str) -> int:
    t = parse_time(ts)
    return int(t) if t else GO_ZERO_TIME


def since_text(ts: str) -> str:
    from pypod.units import since

    t = parse_time(ts)
    return since(t) if t else ""


# -- inspect ------------------------------------------------------------------------------------
def _image_digest(ctx: Context, rec: ContainerRecord) -> str:
    """The manifest digest of the container's image ("" for --rootfs or a removed image)."""
    img = ctx.images.get(rec.image_id) if rec.image_id else None
    return img.digest if img is not None else ""


def inspect_container(ctx: Context, rec: ContainerRecord, size: bool = False) -> dict:
    st = state_of(ctx, rec)
    o = rec.options
    cdir = store(ctx).dir(rec.id)
    status = _ps_status(st)
    running = status in ("running", "paused")
    hc = o.get("healthcheck")
    health = st.get("health") or {}
    from pypod.template import GoTime  # printed by templates as Go prints a time.Time

    zero = "0001-01-01T00:00:00Z"
    state = {
        "OciVersion": "1.0.2-dev", "Status": status, "Running": running, "Paused": status == "paused",
        "Restarting": False, "OOMKilled": bool(st.get("oom_killed")), "Dead": False,
        "Pid": st.get("pid", 0) if running else 0, "ConmonPid": st.get("supervisor_pid", 0) if running else 0,
        "ExitCode": st.get("exit_code") or 0, "Error": st.get("error", ""),
        "StartedAt": GoTime(st.get("started_at") or zero), "FinishedAt": GoTime(st.get("finished_at") or zero),
        "CheckpointedAt": GoTime(zero), "RestoredAt": GoTime(zero), "CgroupPath": "",
    }
    if hc:
        state["Health"] = {"Status": health.get("status", "starting"), "FailingStreak": health.get("failing_streak", 0),
                           "Log": [{"Start": l.get("start", ""), "End": l.get("end", ""),
                                    "ExitCode": l.get("exit_code", 0), "Output": l.get("output", "")}
                                   for l in health.get("log", [])]}
        state["Healthcheck"] = state["Health"]
    mounts = []
    if "resolved_mounts" in o:
        from pypod.engine.mounts import inspect_mounts

        mounts = inspect_mounts(o["resolved_mounts"])
    for m in ([] if "resolved_mounts" in o else _bind_mounts_safe(o)):
        mounts.append({"Type": m.type, "Source": m.source, "Destination": m.destination, "Driver": "",
                       "Mode": "", "Options": [x for x in m.options if x not in ("ro", "rw")],
                       "RW": "ro" not in m.options, "Propagation": "rprivate" if m.type == "bind" else ""})
    config = {
        "Hostname": o.get("hostname") or rec.id[:12], "Domainname": "", "User": o.get("user", ""),
        "AttachStdin": False, "AttachStdout": False, "AttachStderr": False, "Tty": bool(o.get("tty")),
        "OpenStdin": bool(o.get("interactive")), "StdinOnce": False, "Env": o.get("env", []),
        "Cmd": rec.cmd or None, "Image": rec.image_name, "Volumes": None, "WorkingDir": o.get("workdir", "/"),
        "Entrypoint": " ".join(rec.entrypoint) if rec.entrypoint else "", "OnBuild": None,
        "Labels": rec.labels or None, "Annotations": rec.annotations or {},
        "StopSignal": o.get("stop_signal", 15), "StopTimeout": o.get("stop_timeout", 10),
        "CreateCommand": o.get("create_command") or [], "Umask": o.get("umask") or "0022", "Timeout": 0,
        "Timezone": o.get("tz") or "",
        "Passwd": o.get("passwd", True), "sdNotifyMode": "container",
    }
    if hc:
        config["Healthcheck"] = {"Test": hc["test"], "Interval": int(hc["interval"] * 1e9),
                                 "Timeout": int(hc["timeout"] * 1e9), "StartPeriod": int(hc["start_period"] * 1e9),
                                 "Retries": hc["retries"]}
    net = o.get("network", "private")
    from pypod.engine import networks as netmod

    try:
        lim = parse_limits(o.get("resources") or {})  # what was asked (v1 rootless: not applied)
    except PypodError:
        lim = {}
    port_map: dict = {}
    if (o.get("net") or {}).get("ports"):
        from pypod.network.ports import inspect_ports

        port_map = inspect_ports(o["net"]["ports"])
    for key in o.get("expose") or {}:  # --expose without -p: listed with no binding, as podman
        port_map.setdefault(key, None)
    caps = _inspect_caps(o)
    host_config = {
        "Binds": [v for v in o.get("volumes", []) if ":" in v], "CgroupManager": "cgroupfs", "CgroupMode": "host",
        "ContainerIDFile": o.get("cidfile") or "",
        "LogConfig": {"Type": o.get("log_driver") or "k8s-file", "Config": None,
                      "Path": str(log_path(ctx, rec) or ""), "Tag": (o.get("log_opts") or {}).get("tag", ""),
                      "Size": _go_human_size(int((o.get("log_opts") or {}).get("max-size") or 0))},
        "Devices": [dict(d) for d in o.get("devices") or []], "Sysctls": dict(o.get("sysctls") or {}),
        "NetworkMode": netmod.display_mode(net, ctx.rootless),
        "PortBindings": port_map, "RestartPolicy": {"Name": o.get("restart", "no") if o.get("restart") != "no" else "",
                                               "MaximumRetryCount": o.get("restart_max", 0)},
        "AutoRemove": bool(o.get("rm")), "VolumeDriver": "", "VolumesFrom": None,
        "CapAdd": caps["CapAdd"], "CapDrop": caps["CapDrop"],
        "Dns": o.get("dns", []), "DnsOptions": o.get("dns_option", []), "DnsSearch": o.get("dns_search", []),
        "ExtraHosts": o.get("add_host", []), "GroupAdd": list(o.get("group_add") or []),
        "Init": bool(o.get("init")), "IpcMode": "shareable", "Cgroup": "",
        "Cgroups": "default", "Links": None, "OomScoreAdj": o.get("oom_score_adj") or 0, "PidMode": "private", "Privileged": bool(o.get("privileged")),
        "PublishAllPorts": bool(o.get("publish_all")), "ReadonlyRootfs": bool(o.get("read_only")),
        "SecurityOpt": list(o.get("security_opt") or []),
        "Tmpfs": {t.partition(":")[0]: t.partition(":")[2] for t in o.get("tmpfs", [])}, "UTSMode": "private",
        "UsernsMode": o.get("userns") or "", "ShmSize": int(o.get("shm_size") or 65536000), "Runtime": "oci", "ConsoleSize": [0, 0],
        "CpuShares": lim.get("cpu_shares", 0), "Memory": lim.get("memory", 0),
        "MemorySwap": lim.get("memory_swap", 0), "CpusetCpus": lim.get("cpuset_cpus", ""),
        "NanoCpus": int(lim.get("cpus", 0) * 1e9), "PidsLimit": lim.get("pids_limit", 2048),
        "Ulimits": [{"Name": n, "Soft": sft, "Hard": hrd} for n, sft, hrd in o.get("ulimits") or []],
        # resource fields pypod has no option for: podman's zero values, so templates find them
        "BlkioWeight": 0, "BlkioWeightDevice": None, "BlkioDeviceReadBps": None, "BlkioDeviceWriteBps": None,
        "BlkioDeviceReadIOps": None, "BlkioDeviceWriteIOps": None, "CgroupConf": None, "CgroupParent": "",
        "CpuCount": 0, "CpuPercent": 0, "CpuPeriod": 0, "CpuQuota": 0, "CpuRealtimePeriod": 0,
        "CpuRealtimeRuntime": 0, "CpusetMems": "", "DiskQuota": 0, "IOMaximumBandwidth": 0, "IOMaximumIOps": 0,
        "Isolation": "", "KernelMemory": 0, "MemoryReservation": 0, "MemorySwappiness": 0, "OomKillDisable": False,
    }
    return {
        "Id": rec.id, "Created": GoTime(rec.created), "Path": rec.command[0] if rec.command else "",
        "Args": rec.command[1:], "State": state, "Image": rec.image_id, "ImageDigest": _image_digest(ctx, rec),
        "ImageName": rec.image_name, "Rootfs": rec.rootfs or "", "Pod": "",
        "ResolvConfPath": str(cdir / "resolv.conf"), "HostnamePath": str(cdir / "hostname"),
        "HostsPath": str(cdir / "hosts"), "StaticDir": str(cdir), "OCIConfigPath": str(cdir / "spec.json"),
        "OCIRuntime": "pypod", "ConmonPidFile": o.get("conmon_pidfile") or "", "PidFile": o.get("pidfile") or "", "Name": rec.name,
        "RestartCount": st.get("restart_count", 0), "Driver": "overlay", "MountLabel": "", "ProcessLabel": "",
        "AppArmorProfile": "", "EffectiveCaps": caps["EffectiveCaps"], "BoundingCaps": caps["BoundingCaps"], "ExecIDs": st.get("exec_ids", []),
        "GraphDriver": {"Name": "overlay", "Data": {"UpperDir": str(cdir / "upper"), "WorkDir": str(cdir / "work")}},
        "Mounts": mounts, "Dependencies": [],
        "NetworkSettings": {"EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0,
                            "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
                            "MacAddress": "", "Bridge": "", "SandboxID": "", "HairpinMode": False,
                            "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0, "Ports": port_map,
                            "SandboxKey": f"/proc/{st.get('pid', 0)}/ns/net" if running else "",
                            "Networks": _inspect_networks(rec, st, running)},
        "Namespace": "", "IsInfra": False, "IsService": False, "Config": config, "HostConfig": host_config,
        "SizeRw": 0 if size else None, "SizeRootFs": 0 if size else None,
    }


def _bind_mounts_safe(o: dict) -> list:
    try:
        return _bind_mounts(o)
    except PypodError:
        return []


# -- logs (reading them: pypod.engine.logs; its names stay here for the API's callers) -----------
from pypod.engine.logs import parse_log_line, read_logs  # noqa: E402,F401


def log_path(ctx: Context, rec: ContainerRecord) -> Path | None:
    """Where the container's k8s-file log is (--log-opt path=), None for --log-driver none."""
    o = rec.options
    if o.get("log_driver") in ("none", "passthrough"):
        return None
    return Path((o.get("log_opts") or {}).get("path") or store(ctx).dir(rec.id) / "ctr.log")


# -- exec ---------------------------------------------------------------------------------------
def exec_in(ctx: Context, rec: ContainerRecord, argv: list[str], *, env: list[str], user: str | None,
            workdir: str | None, interactive: bool, tty: bool, detach: bool, privileged: bool = False,
            stdio: tuple = (None, None, None)) -> int:
    """Run argv in the running container; its exit code. stdio: fds for its stdin, stdout and
    stderr (None: ours), as the API passes a client's connection."""
    from pypod.engine.locking import locked

    lk = locked(ctx, rec).relock()  # until the process runs in the container
    try:
        return _exec_locked(ctx, lk, argv, env=env, user=user, workdir=workdir, interactive=interactive,
                            tty=tty, detach=detach, privileged=privileged, stdio=stdio)
    finally:
        lk.release()


def _exec_locked(ctx: Context, lk, argv: list[str], *, env: list[str], user: str | None,
                 workdir: str | None, interactive: bool, tty: bool, detach: bool, privileged: bool,
                 stdio: tuple) -> int:
    from pypod.runtime import exec as rexec
    from pypod.runtime.spec import ProcessSpec

    rec = lk.rec
    st = state_of(ctx, rec)
    if st.get("status") != "running":
        err = PypodError("can only create exec sessions on running containers: container state improper")
        err.exit_code = 255  # podman's exec: its generic error code
        raise err
    o = rec.options
    base_env = o.get("env", [])
    full_env = merge_env(base_env, env)  # podman: the container's Env, no HOSTNAME
    if tty:
        full_env = merge_env(full_env, ["TERM=xterm"])
    proc = ProcessSpec(args=argv, env=full_env, cwd=workdir or o.get("workdir") or "/",
                       user=user if user is not None else (o.get("user") or ""), terminal=tty, stdin=interactive,
                       create_cwd=not workdir)
    if privileged:  # exec --privileged: every capability (the container's seccomp filter stays)
        from pypod.linux import caps as capsmod

        proc.capabilities = capsmod.all_caps()
    try:
        return rexec.exec_in(str(store(ctx).dir(rec.id)), proc, detach=detach, stdin=stdio[0],
                             stdout=stdio[1], stderr=stdio[2], on_started=lk.release)
    except Exception as e:
        from pypod.runtime import launch

        if isinstance(e, launch.LaunchError):
            raise _launch_error(e) from None
        raise


# -- healthcheck run ---------------------------------------------------------------------------
def healthcheck_run(ctx: Context, rec: ContainerRecord) -> bool:
    """`healthcheck run`: run the check once now, record it as the supervisor would; True if healthy."""
    import datetime as dt

    from pypod.engine.locking import locked
    from pypod.runtime import exec as rexec
    from pypod.runtime.spec import ProcessSpec

    hc = rec.options.get("healthcheck")
    if not hc:
        raise PypodError(f"container {rec.id} has no defined healthcheck")
    # locked for the state check until the check runs, and again to record its result
    lk = locked(ctx, rec).relock()
    try:
        st = state_of(ctx, rec)
        if st.get("status") != "running":
            raise PypodError(f"container {rec.id} is not running")
        test = list(hc["test"])
        argv = ["/bin/sh", "-c", test[1]] if test[0] == "CMD-SHELL" else test[1:]
        o = rec.options
        proc = ProcessSpec(args=argv, env=o.get("env", []), cwd=o.get("workdir") or "/", user=o.get("user") or "")
        cdir = str(store(ctx).dir(rec.id))
        start = dt.datetime.now(dt.timezone.utc).isoformat()
        r, w = os.pipe()
        try:
            code = rexec.exec_in(cdir, proc, stdout=w, stderr=w, on_started=lk.release)
        except Exception as e:  # the check could not run: that is a failure, as podman counts it
            code, output = 1, str(e)
        else:
            output = ""
        finally:
            os.close(w)
            with os.fdopen(r, "rb") as f:
                output = (output or f.read(4096).decode(errors="replace")).strip()
        lk.relock()
        return _record_health(ctx, rec, hc, code, start, output)
    finally:
        lk.release()


def _record_health(ctx: Context, rec: ContainerRecord, hc: dict, code: int, start: str, output: str) -> bool:
    import datetime as dt

    from pypod.runtime.state import update_state

    cdir = str(store(ctx).dir(rec.id))
    st = state_of(ctx, rec)  # now: the supervisor's own checks may have recorded since
    health = dict(st.get("health") or {"status": "starting", "failing_streak": 0, "log": []})
    if code == 0:
        health.update(status="healthy", failing_streak=0)
    else:
        health["failing_streak"] = health.get("failing_streak", 0) + 1
        if health["failing_streak"] >= hc.get("retries", 3):
            health["status"] = "unhealthy"
    log = list(health.get("log") or [])[-4:]
    log.append({"start": start, "end": dt.datetime.now(dt.timezone.utc).isoformat(), "exit_code": code,
                "output": output})
    health["log"] = log
    update_state(cdir, {"health": health})
    return code == 0


# -- top ----------------------------------------------------------------------------------------
def top(ctx: Context, rec: ContainerRecord) -> list[list[str]]:
    st = state_of(ctx, rec)
    if st.get("status") != "running":
        raise PypodError("top can only be used on running containers")
    pid = st.get("pid")
    try:
        ns = os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        raise PypodError(f"reading the processes of container {rec.name}: it is not running") from None

    hz = os.sysconf("SC_CLK_TCK")
    boot = time.time() - float(open("/proc/uptime").read().split()[0])
    rows = [["USER", "PID", "PPID", "%CPU", "ELAPSED", "TTY", "TIME", "COMMAND"]]
    for d in sorted((p for p in os.listdir("/proc") if p.isdigit()), key=int):
        try:
            if os.readlink(f"/proc/{d}/ns/pid") != ns and d != str(pid):
                continue
            status = open(f"/proc/{d}/status").read()
            nspid = re.search(r"NSpid:\s+(.*)", status).group(1).split()[-1]
            ppid_ns = "0"
            uid_inner = _inner_uid(d, status)
            stat = open(f"/proc/{d}/stat").read()
            fields = stat[stat.rfind(")") + 2:].split()
            ppid = int(fields[1])
            if ppid:
                try:
                    pst = open(f"/proc/{ppid}/status").read()
                    ppid_ns = re.search(r"NSpid:\s+(.*)", pst).group(1).split()[-1] if os.readlink(f"/proc/{ppid}/ns/pid") == ns else "0"
                except OSError:
                    ppid_ns = "0"
            utime, stime, start = int(fields[11]), int(fields[12]), int(fields[19])
            elapsed = time.time() - (boot + start / hz)
            cpu = (utime + stime) / hz
            args = open(f"/proc/{d}/cmdline", "rb").read().rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace")
        except (OSError, AttributeError, IndexError, ValueError):
            continue
        user = _container_user_name(ctx, rec, uid_inner)
        rows.append([user, nspid, ppid_ns, f"{(cpu / elapsed * 100) if elapsed > 0 else 0:.3f}",
                     _go_duration(elapsed), "?", _go_duration(cpu), args])
    return rows


def _inner_uid(pid: str, status: str) -> int:
    host_uid = int(re.search(r"Uid:\s+(\d+)", status).group(1))
    try:
        for line in open(f"/proc/{pid}/uid_map"):
            inner, outer, count = map(int, line.split())
            if outer <= host_uid < outer + count:
                return inner + host_uid - outer
    except OSError:
        pass
    return host_uid


def _container_user_name(ctx: Context, rec: ContainerRecord, uid: int) -> str:
    return {0: "root", 65534: "nobody"}.get(uid, str(uid))


def _go_duration(s: float) -> str:
    """Go's time.Duration.String() (podman prints ELAPSED and TIME this way)."""
    ns = max(0, int(round(s * 1e9)))
    if ns == 0:
        return "0s"

    def frac(n: int, unit: int) -> str:
        whole, rest = divmod(n, unit)
        digits = len(str(unit)) - 1
        return str(whole) + (("." + f"{rest:0{digits}d}".rstrip("0")) if rest else "")

    if ns < 1000:
        return f"{ns}ns"
    if ns < 1_000_000:
        return frac(ns, 1000) + "µs"
    if ns < 1_000_000_000:
        return frac(ns, 1_000_000) + "ms"
    h, rem = divmod(ns, 3600 * 10**9)
    m, rem = divmod(rem, 60 * 10**9)
    out = (f"{h}h" if h else "") + (f"{m}m" if h or m else "")
    return out + frac(rem, 10**9) + "s"



# -- attach ------------------------------------------------------------------------------------
def attach_container(ctx: Context, rec: ContainerRecord, *, no_stdin: bool = False, detach_keys: str | None = None,
                     sig_proxy: bool = True) -> int:
    """`attach`: relay the terminal to the container's attach socket; its exit code, or 0 after
    the detach keys (the container runs on)."""
    from pypod.runtime import attach as rattach, launch

    from pypod.engine.locking import locked

    keys = rattach.parse_detach_keys(_check_detach_keys(detach_keys))
    cdir = str(store(ctx).dir(rec.id))
    try:
        with locked(ctx, rec) as lk:  # the state check and the connection
            rec = lk.rec
            st = state_of(ctx, rec)
            if st.get("status") != "running":
                raise PypodError("you can only attach to running containers")
            sock = rattach.connect(cdir)
        o = rec.options
        code = rattach.attach(cdir, tty=bool(o.get("tty")),
                              stdin=bool(o.get("interactive")) and not no_stdin, detach_keys=keys,
                              sig_proxy=sig_proxy, kill=lambda s: launch.kill(cdir, s), sock=sock)
    except OSError as e:
        raise PypodError(f"attach to container {rec.id}: {e.strerror or e}") from None
    if code is None:  # detached
        return 0
    return code
