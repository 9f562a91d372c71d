"""The supervisor's ContainerSpec, built from a container's record in one place (build_spec): mounts,
/etc/hosts, /etc/resolv.conf, capabilities and seccomp, the user namespace's shifted layer; and
written once where it is derived (derive_spec), read back by every start (stored_spec).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pypod.engine.context import Context
from pypod.errors import InvalidArgument, PypodError
from pypod.store.container_config import ContainerConfig
from pypod.store.containers import ContainerRecord
from pypod.engine.containers.lookup import log_path, store
from pypod.engine.containers.options import merge_env
from pypod.engine.containers.parse import _zone_file


def _confinement_spec(ctx: Context, o: ContainerConfig, cdir: Path, proc, spec) -> None:
    """Fill the capabilities, seccomp program and rlimits of a ContainerSpec being built."""
    from pypod.linux import caps as capsmod, seccomp as seccompmod

    privileged = bool(o.privileged)
    if privileged:
        bounding = capsmod.all_caps()
    else:
        try:
            bounding = _bounding_caps(o)
        except ValueError as e:
            raise PypodError(str(e))
    proc.capabilities = bounding
    add = [capsmod.normalize(c) for c in o.cap_add]
    proc.user_capabilities = [c for c in (capsmod.all_caps() if "CAP_ALL" in add else add) if c in bounding]
    proc.no_new_privileges = bool(o.no_new_privileges)
    proc.rlimits = [list(r) for r in o.ulimits]
    proc.group_add = list(o.group_add)
    spec.rootfs.readonly_tmpfs = bool(o.read_only_tmpfs)
    if o.init:
        if o.init_path:  # catatonit, where podman puts it
            from pypod.runtime.spec import Mount

            spec.mounts.append(Mount(type="bind", source=o.init_path, destination="/run/podman-init",
                                     options=["ro", "bind"]))
            proc.args = ["/run/podman-init", "--", *proc.args]
        else:
            proc.init = "builtin"
    spec.privileged = privileged
    prog_path = cdir / "seccomp.bpf"
    if privileged or o.seccomp == "unconfined":
        prog = None
    else:
        try:
            prog = seccompmod.program_for(o.seccomp, bounding, str(ctx.graph_root / "cache" / "seccomp"))
        except seccompmod.ProfileError as e:
            raise PypodError(str(e))
    if prog is None:
        proc.seccomp = ""
        return
    tmp = cdir / "seccomp.bpf.tmp"
    tmp.write_bytes(prog)
    os.replace(tmp, prog_path)
    proc.seccomp = str(prog_path)


def _bounding_caps(o: ContainerConfig) -> list[str]:
    """The container's bounding set: the default set (containers.conf's, else podman's) with
    --cap-add and --cap-drop applied. ValueError for an unknown capability."""
    from pypod.linux import caps as capsmod

    return capsmod.merge(o.default_caps or capsmod.DEFAULT_CAPS, o.cap_add,
                         o.cap_drop)


def _inspect_caps(o: ContainerConfig) -> dict:
    """podman's capability fields: the bounding set, what the process has (root: all of it;
    another user: its --cap-add ones), and CapAdd/CapDrop relative to Docker's default set."""
    from pypod.linux import caps as capsmod

    if o.privileged:
        every = sorted(capsmod.all_caps())
        return {"BoundingCaps": every, "EffectiveCaps": every, "CapAdd": [], "CapDrop": []}
    try:
        bounding = set(_bounding_caps(o))
        added = {capsmod.normalize(c) for c in o.cap_add}
    except ValueError:
        return {"BoundingCaps": [], "EffectiveCaps": [], "CapAdd": [], "CapDrop": []}
    docker = {capsmod.normalize(c) for c in [*capsmod.DEFAULT_CAPS, "AUDIT_WRITE", "MKNOD", "NET_RAW"]}
    user = o.user.partition(":")[0]
    effective = bounding if user in ("", "0", "root") else (bounding if "CAP_ALL" in added else added & bounding)
    return {"BoundingCaps": sorted(bounding), "EffectiveCaps": sorted(effective),
            "CapAdd": sorted(bounding - docker), "CapDrop": sorted(docker - bounding)}


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


def bridge_endpoints(ctx: Context, o: ContainerConfig) -> list:
    """[(network record, endpoint)] for the spec of a container on user networks."""
    from pypod.engine import networks as netmod

    out = []
    for i, (name, ep) in enumerate(o.net.networks.items()):
        rec = netmod.get_network(ctx, name)
        if not rec.get("subnets"):
            raise PypodError(f"network {name} has no subnet (ipam driver \"none\"): pypod cannot "
                             f"attach containers to it; create one with a subnet")
        out.append((rec, {"aliases": list(ep.aliases), "want": ep.ip, "mac": ep.mac,
                          "ifname": ep.interface or f"eth{i}"}))
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
    net = rec.config.net
    from pypod.engine import networks as netmod

    host = netmod.host_ip()
    own = "127.0.0.1"
    if network == "slirp4netns":
        ip, gw, _ = netmod.container_ip(network, net)
        host = gw if net.allow_host_loopback else host
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


def _resolv_conf(opts: ContainerConfig, network_dns: list[str] | None = None) -> str:
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
    if opts.network != "host":
        # A loopback resolver on the host is not reachable from a private network namespace.
        servers = [s for s in servers if not s.startswith("127.") and s != "::1"]
    if opts.network == "slirp4netns":  # slirp4netns's DNS forwarder first, as podman
        from pypod.network.slirp import cidr_addresses

        dns = cidr_addresses(opts.net.cidr)["dns"]
        servers = [dns] + [s for s in servers if s != dns]
    if opts.network == "bridge":
        # a network's name server when one has it (names of the network's containers), else
        # slirp4netns's forwarder, reached through the shared namespace's NAT (ours alone: it
        # forwards the rest; resolvers that ask all servers at once would take an upstream
        # NXDOMAIN for a container's name)
        gws = list(network_dns or [])
        servers = gws if gws else ["10.0.2.3"] + servers
        if gws:
            search = ["dns.podman"] + [x for x in search if x != "dns.podman"]
    if opts.dns:
        servers = list(opts.dns)
    if opts.dns_search:
        search = [] if opts.dns_search == ["."] else list(opts.dns_search)
    if opts.dns_option:
        options = list(opts.dns_option)
    out = []
    if search:
        out.append("search " + " ".join(search))
    out += [f"nameserver {s}" for s in servers]
    if options:
        out.append("options " + " ".join(options))
    return "\n".join(out) + "\n"


def _bind_mounts(opts: ContainerConfig) -> list:
    from pypod.runtime.spec import Mount

    if opts.resolved_mounts is not None:
        from pypod.engine.mounts import runtime_mounts

        return runtime_mounts(opts.resolved_mounts)
    mounts = []
    for v in opts.volumes:
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
    for t in opts.tmpfs:
        dst, _, o = t.partition(":")
        mounts.append(Mount(type="tmpfs", source="tmpfs", destination=dst,
                            options=(o.split(",") if o else []) or ["rw", "noexec", "nosuid", "nodev"]))
    return mounts


def _more_spec(o: ContainerConfig, cdir: Path, proc, spec) -> None:
    """The spec's part of _more_options: umask, oom score, /dev/shm size, sysctls, devices,
    the time zone, --pidfile, the log's size limit."""
    from pypod.runtime.spec import Mount

    proc.umask = int(o.umask, 8)
    proc.oom_score_adj = o.oom_score_adj
    spec.shm_size = int(o.shm_size)
    spec.sysctls = dict(o.sysctls)
    spec.pid_file = o.pidfile
    spec.conmon_pid_file, spec.timeout, spec.extra_passwd = o.conmon_pidfile, o.timeout, list(o.extra_passwd)
    spec.log_size_max = o.log_opts.max_bytes or -1  # (the spec's -1: no limit)
    for d in o.devices:
        # the permissions are device-cgroup rules: not applied rootless (podman neither)
        spec.mounts.append(Mount(type="bind", source=d["PathOnHost"], destination=d["PathInContainer"],
                                 options=["bind"]))
    tz = o.tz
    if tz:  # a copy of the zone file bound over /etc/localtime, as podman
        import shutil

        copy = cdir / "localtime"
        try:  # (replaced, not rewritten: a running container has it bound when connect derives again)
            shutil.copyfile(_zone_file(tz), cdir / "localtime.tmp")
            os.replace(cdir / "localtime.tmp", copy)
        except OSError as e:
            raise PypodError(f"setting the time zone {tz}: {e.strerror or e}") from None
        spec.mounts.append(Mount(type="bind", source=str(copy), destination="/etc/localtime",
                                 options=["bind", "ro"]))


def build_spec(ctx: Context, rec: ContainerRecord, img_rec=None):
    from pypod.runtime.spec import ContainerSpec, ProcessSpec, RootfsSpec

    o = rec.config
    cdir = store(ctx).dir(rec.id)
    if rec.rootfs:
        rootfs = RootfsSpec(lower=[], upper="", work="", path=rec.rootfs, readonly=o.read_only)
    else:
        if img_rec is None:
            img_rec = ctx.images.get(rec.image_id)
            if img_rec is None:
                raise PypodError(f"image {rec.image_id[:12]} of container {rec.name} is gone")
        lower = [str(ctx.images.layers.diff_dir(l)) for l in reversed(img_rec.layers)]
        if o.userns in ("maps", "keep-id") and o.uid_map:  # owners follow the maps
            lower = [_shifted_layer(ctx, l, o.uid_map, o.gid_map)
                     for l in reversed(img_rec.layers)]
        if not (cdir / "upper").exists():  # the container's / keeps the image's mode (555 stays 555)
            (cdir / "upper").mkdir(mode=0o755)
            os.chmod(cdir / "upper", os.stat(lower[0]).st_mode & 0o7777 if lower else 0o755)
        (cdir / "work").mkdir(exist_ok=True, mode=0o700)
        rootfs = RootfsSpec(lower=lower, upper=str(cdir / "upper"), work=str(cdir / "work"),
                            readonly=o.read_only)
    hostname = o.hostname or rec.id[:12]
    env = merge_env(o.env, [f"HOSTNAME={hostname}"]) if not any(e.startswith("HOSTNAME=") for e in o.env) else o.env
    if o.tty:
        env = merge_env(env, ["TERM=xterm"]) if not any(e.startswith("TERM=") for e in env) else env
    proc = ProcessSpec(args=list(rec.command), env=env, cwd=o.workdir, user=o.user,
                       terminal=bool(o.tty), stdin=bool(o.interactive),
                       create_cwd=not o.workdir_given, env_defaults=not o.unsetenv_all)
    net = o.net.to_dict()  # (a copy: the spec's additions stay out of the record)
    network_dns: list[str] = []
    if o.network == "bridge":
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
                         mounts=mounts, network=o.network,
                         net=net,
                         hosts="" if o.no_hosts else _hosts_file(
                             rec, hostname, o.network, o.add_host,
                             _base_hosts(o.base_hosts_file,
                                         rootfs.lower or [rootfs.path or "/nonexistent"])),
                         resolv_conf=_resolv_conf(o, network_dns), stop_signal=o.stop_signal,
                         stop_timeout=o.stop_timeout, restart_policy=o.restart,
                         restart_max=o.restart_max,
                         healthcheck=o.healthcheck.to_dict() if o.healthcheck is not None else None,
                         auto_remove=bool(o.rm),
                         log_path=str(log_path(ctx, rec) or ""), annotations=dict(rec.annotations),
                         events_dir=ctx.run_dir, event={"image": rec.image_name, "labels": dict(rec.labels or {})})
    _more_spec(o, cdir, proc, spec)
    _confinement_spec(ctx, o, cdir, proc, spec)
    spec.join_ns = dict(o.pod_join)  # a pod's uts/ipc namespaces (engine/pods.py)
    if o.pod:
        from pypod.engine import pods

        spec.mounts.extend(pods.spec_mounts(o))
    if o.pod and pods.runs_pause(rec):
        proc.init = "pause"  # pypod's own pause process as the pod's infra
    spec.limits = o.limits.to_dict()
    spec.userns = o.userns
    spec.uid_map, spec.gid_map = o.uid_map, o.gid_map
    spec.passwd_entry, spec.group_entry = o.passwd_entry, o.group_entry
    spec.passwd, spec.passwd_template = bool(o.passwd), o.passwd_template
    if o.privileged:  # podman fills /run/.containerenv for privileged containers only
        from pypod import __version__

        spec.containerenv = (f'engine="podman-4.3.1-pypod-{__version__}"\nname="{rec.name}"\nid="{rec.id}"\n'
                             f'image="{rec.image_name}"\nimageid="{rec.image_id}"\n'
                             f'rootless={1 if ctx.rootless else 0}\n')
    if o.rm:
        spec.cleanup_argv = cleanup_argv(ctx, rec.id)
        if o.rmi and rec.image_id:  # run -d --rmi: the image goes with the container
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


def derive_spec(ctx: Context, rec: ContainerRecord, img_rec=None, fsync: bool = False):
    """The spec derived from the record (build_spec) and written to CONTAINER_DIR/spec.json, which
    is all the supervisor, exec and cp read: at create, and again only when the record changes
    (network connect/disconnect) or the file is lost. A start reads it and never writes it.
    fsync: create's is not (a crash loses it with the new container.json, or leaves it torn, and
    stored_spec derives a missing or torn one); a change to a record that was synced is."""
    from pypod import jsonlite
    from pypod.store import db

    spec = build_spec(ctx, rec, img_rec)
    db.write_atomic(store(ctx).dir(rec.id) / "spec.json", jsonlite.dumps(spec.to_dict()).encode(),
                    fsync=fsync)
    return spec


def stored_spec(ctx: Context, rec: ContainerRecord) -> dict:
    """The container's spec as written when it was derived (a plain dict, as the supervisor
    reads it); derived and written again when the file is missing or torn."""
    from pypod.store import db

    d = db.read_json(store(ctx).dir(rec.id) / "spec.json")
    return d if d else derive_spec(ctx, rec).to_dict()
