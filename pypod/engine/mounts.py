"""What `-v`, `--mount`, `--tmpfs`, `--volumes-from` and the image's VOLUMEs ask for, resolved once
at create time into plain mount dicts stored in the container record (`resolved_mounts`), read back
through store/container_config.MountConfig (type, source, destination, options, rw, name,
anonymous, ...).

`runtime_mounts()` turns them into the runtime's Mount specs, `inspect_mounts()` into podman's
`.Mounts`. Named volumes are created on first use and filled with the image content they are
mounted over (copy-up); `:U` chowns the source to the container's user.
"""

from __future__ import annotations

import os

from pypod.errors import InvalidArgument, PypodError

_FLAGS = {"ro", "rw", "nosuid", "suid", "nodev", "dev", "noexec", "exec"}
_PROPAGATION = {"private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable"}
_ACCEPTED = {"z", "Z", "U", "O", "nocopy", "copy", "rbind", "bind", "norbind", "idmap", "noatime", "relatime"}


class MountRequest:
    """One parsed request, before volumes are created and sources checked."""

    __slots__ = ("type", "source", "destination", "flags", "nocopy", "chown", "overlay", "tmpfs_opts",
                 "recursive", "propagation", "upperdir", "workdir")

    def __init__(self, type: str, source: str, destination: str):
        self.type = type
        self.source = source
        self.destination = destination
        self.flags: list[str] = []
        self.nocopy = False
        self.chown = False
        self.overlay = False
        self.tmpfs_opts: list[str] = []
        self.recursive = True
        self.propagation = ""
        self.upperdir = ""  # O with upperdir=/workdir=: podman's persistent overlay
        self.workdir = ""

    @property
    def readonly(self) -> bool:
        return "ro" in self.flags


def _check_dest(dst: str) -> str:
    if not dst.startswith("/"):
        raise InvalidArgument(f"invalid container path {dst!r}, must be an absolute path")
    return os.path.normpath(dst) if dst != "/" else dst


def _apply_options(req: MountRequest, opts: list[str]) -> None:
    seen_rw = 0
    for o in opts:
        o = o.strip()
        if not o:
            continue
        if o in ("ro", "rw"):
            seen_rw += 1
            if seen_rw > 1:
                raise InvalidArgument("cannot set ro or rw options more than once")
            req.flags.append(o)
        elif o in _FLAGS:
            req.flags.append(o)
        elif o in _PROPAGATION:
            req.propagation = o
        elif o == "U":
            req.chown = True
        elif o == "O":
            req.overlay = True
        elif o.startswith(("upperdir=", "workdir=")):
            k, _, v = o.partition("=")
            if not v.startswith("/"):
                raise InvalidArgument(f"{k} {v!r}: must be an absolute path")
            setattr(req, k, os.path.abspath(v))
        elif o == "nocopy":
            req.nocopy = True
        elif o in ("bind", "norbind"):
            req.recursive = False
        elif o in _ACCEPTED:
            pass
        else:
            raise InvalidArgument(f"invalid mount option {o!r}: use ro, rw, z, Z, U, nocopy, "
                                  "[r]shared, [r]private, [r]slave, [no]suid, [no]dev, [no]exec")


def _is_host_path(src: str) -> bool:
    return src.startswith("/") or src.startswith(".")


def parse_volume(spec: str) -> MountRequest:
    """-v SRC:DST[:OPTS] | -v DST (anonymous) | -v DST:OPTS."""
    if not spec:
        raise InvalidArgument("volume specification must not be empty")
    parts = spec.split(":")
    if len(parts) > 3:
        raise InvalidArgument(f"incorrect volume format {spec!r}, should be [host-dir:]ctr-dir[:option]")
    opts: list[str] = []
    if len(parts) == 1:
        src, dst = "", parts[0]
    elif len(parts) == 2 and not parts[1].startswith("/") and parts[0].startswith("/"):
        src, dst, opts = "", parts[0], parts[1].split(",")
    else:
        src, dst = parts[0], parts[1]
        opts = parts[2].split(",") if len(parts) == 3 else []
    if not dst.startswith("/"):
        raise InvalidArgument(f"invalid container path {dst!r}, must be an absolute path")
    if src and _is_host_path(src):
        req = MountRequest("bind", os.path.abspath(src), _check_dest(dst))
    else:
        if src:
            from pypod.engine.volumes import NAME_RE

            if not NAME_RE.fullmatch(src):
                raise InvalidArgument(f"invalid volume name {src!r}: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*")
        req = MountRequest("volume", src, _check_dest(dst))
    _apply_options(req, opts)
    return req


def _bool(v: str, key: str) -> bool:
    if v in ("", "true", "1"):
        return True
    if v in ("false", "0"):
        return False
    raise InvalidArgument(f"invalid value {v!r} for {key}: must be true or false")


def parse_mount(spec: str) -> MountRequest:
    """--mount type=bind|volume|tmpfs,src=,dst=,ro,..."""
    kv: list[tuple[str, str]] = []
    for item in spec.split(","):
        if not item:
            continue
        k, _, v = item.partition("=")
        kv.append((k.strip(), v.strip()))
    mtype = next((v for k, v in kv if k == "type"), "volume")
    if mtype not in ("bind", "volume", "tmpfs"):
        raise InvalidArgument(f"invalid filesystem type {mtype!r}: use bind, volume or tmpfs")
    src = dst = ""
    req = MountRequest(mtype, "", "")
    for k, v in kv:
        if k == "type":
            continue
        if k in ("src", "source"):
            src = v
        elif k in ("dst", "destination", "target"):
            dst = v
        elif k in ("ro", "readonly"):
            if _bool(v, k):
                req.flags.append("ro")
        elif k == "rw":
            if not _bool(v, k):
                req.flags.append("ro")
        elif k == "bind-propagation":
            if v not in _PROPAGATION:
                raise InvalidArgument(f"invalid bind-propagation {v!r}")
            req.propagation = v
        elif k == "bind-nonrecursive":
            req.recursive = not _bool(v, k)
        elif k in ("volume-nocopy", "nocopy"):
            req.nocopy = _bool(v, k)
        elif k in ("U", "chown"):
            req.chown = _bool(v, k)
        elif k == "tmpfs-size":
            req.tmpfs_opts.append(f"size={v}")
        elif k == "tmpfs-mode":
            req.tmpfs_opts.append(f"mode={v}")
        elif k in ("relabel", "consistency", "volume-label", "volume-driver", "tmpcopyup", "notmpcopyup",
                   "idmap", "volume-opt"):
            pass
        elif k in _FLAGS:
            req.flags.append(k)
        else:
            raise InvalidArgument(f"{k}: invalid mount option")
    if not dst:
        raise InvalidArgument("must set target path (dst) for the mount")
    req.destination = _check_dest(dst)
    if mtype == "bind":
        if not src:
            raise InvalidArgument("must set source path (src) for a bind mount")
        req.source = os.path.abspath(src)
    elif mtype == "volume":
        req.source = src
    elif src:
        raise InvalidArgument("source is not supported with tmpfs mounts")
    return req


def parse_tmpfs(spec: str) -> MountRequest:
    dst, _, o = spec.partition(":")
    req = MountRequest("tmpfs", "tmpfs", _check_dest(dst))
    for opt in (o.split(",") if o else []):
        if opt in _FLAGS:
            req.flags.append(opt)
        elif opt in _PROPAGATION:
            req.propagation = opt
        elif opt:
            req.tmpfs_opts.append(opt)
    return req


def tmpfs_options(flags: list[str], data: list[str]) -> list[str]:
    """podman's defaults (rw, noexec, nosuid, nodev) unless overridden."""
    out = ["rw" if "ro" not in flags else "ro"]
    for off, on in (("noexec", "exec"), ("nosuid", "suid"), ("nodev", "dev")):
        out.append(on if on in flags else off)
    return out + list(data)


# -- resolve ------------------------------------------------------------------------------------
def _user_ids(layers_top_first: list[str], user: str) -> tuple[int, int]:
    """The uid/gid of a container user spec, from the image's /etc/passwd for names."""
    name, _, group = (user or "0").partition(":")

    def lookup(fname: str, key: str) -> tuple[int, int] | None:
        for layer in layers_top_first:
            p = os.path.join(layer, "etc", fname)
            if os.path.isfile(p) and not os.path.islink(p):
                try:
                    for line in open(p, encoding="utf-8", errors="replace"):
                        f = line.rstrip("\n").split(":")
                        if len(f) >= 4 and f[0] == key:
                            return int(f[2]), int(f[3])
                except (OSError, ValueError):
                    return None
                return None
        return None

    if name.isdigit():
        uid, gid = int(name), int(name)
        for layer in layers_top_first:
            p = os.path.join(layer, "etc", "passwd")
            if os.path.isfile(p) and not os.path.islink(p):
                try:
                    for line in open(p, encoding="utf-8", errors="replace"):
                        f = line.split(":")
                        if len(f) >= 4 and f[2] == name:
                            gid = int(f[3])
                except (OSError, ValueError):
                    pass
                break
    else:
        ids = lookup("passwd", name)
        if ids is None:
            raise PypodError(f"unable to find user {name}: no matching entries in passwd file")
        uid, gid = ids
    if group:
        if group.isdigit():
            gid = int(group)
        else:
            g = lookup("group", group)
            if g is None:
                raise PypodError(f"unable to find group {group}: no matching entries in group file")
            gid = g[0]
    return uid, gid


def _volume_source(ctx, rec) -> tuple[str, str, list[str]]:
    """(mount type, source, extra options) of a volume, after its --opt driver options."""
    from pypod.engine import volumes as vol

    o = rec.options or {}
    data = vol.mountpoint(ctx, rec.name)
    if not o.get("type") and not o.get("device"):
        return "volume", data, []
    mopts = [x for x in (o.get("o") or "").split(",") if x]
    if o.get("type") == "tmpfs":
        return "tmpfs", "tmpfs", [x for x in mopts if x not in ("bind", "rbind")]
    if "bind" in mopts or "rbind" in mopts or o.get("type") == "bind":
        dev = o.get("device") or ""
        if not os.path.exists(dev):
            raise PypodError(f"statfs {dev}: no such file or directory")
        return "volume", dev, [x for x in mopts if x in _FLAGS]
    raise PypodError(f"mounting volume {rec.name}: type {o.get('type') or 'none'!r} needs root privileges: "
                     "rootless volumes support type=tmpfs or o=bind only")


def image_volume_mode(opts) -> str:
    """What the image's VOLUMEs become: anonymous volumes (bind), tmpfs, or nothing (ignore)."""
    mode = getattr(opts, "image_volume", None)
    if mode is None:
        from pypod.config import engine_config

        mode = engine_config().image_volume_mode
    if mode not in ("bind", "tmpfs", "ignore"):
        raise InvalidArgument(f"invalid image volume mode {mode!r}: must be bind, tmpfs or ignore")
    return mode


def resolve(ctx, opts, image_cfg: dict, layers_bottom_first: list[str], user: str,
            volumes_from: list[dict] | None = None) -> list[dict]:
    """Parse every mount request, create what is missing, copy up, chown; the stored mount dicts."""
    from pypod.engine import volumes as vol

    reqs: list[MountRequest] = []
    for v in opts.volumes or []:
        reqs.append(parse_volume(v))
    for m in opts.mounts or []:
        reqs.append(parse_mount(m))
    for t in opts.tmpfs or []:
        reqs.append(parse_tmpfs(t))
    seen: set[str] = set()
    same: dict[str, tuple] = {}
    unique: list[MountRequest] = []
    for r in reqs:
        key = tuple(getattr(r, a) if not isinstance(getattr(r, a), list) else tuple(getattr(r, a))
                    for a in MountRequest.__slots__)
        if same.get(r.destination) == key:
            continue  # podman: the very same mount given twice is taken once
        same[r.destination] = key
        unique.append(r)
    reqs = unique
    for r in reqs:
        if r.destination in seen:
            raise InvalidArgument(f"{r.destination}: duplicate mount destination")
        seen.add(r.destination)
        if (r.upperdir or r.workdir) and not r.overlay:
            raise InvalidArgument(f"{r.destination}: upperdir and workdir need the O option")
        if bool(r.upperdir) != bool(r.workdir):
            raise InvalidArgument(f"{r.destination}: O with upperdir needs workdir too (and the "
                                  f"other way round)")
        if r.overlay and r.type != "bind":
            raise InvalidArgument(f"{r.destination}: the O (overlay) option needs a host "
                                  f"directory as the source")
    out: list[dict] = []
    for m in volumes_from or []:
        if m["destination"] not in seen:
            seen.add(m["destination"])
            out.append(m)
    mode = image_volume_mode(opts)
    for dst in sorted((image_cfg.get("Volumes") or {})) if mode != "ignore" else ():
        d = _check_dest("/" + dst.lstrip("/")) if dst else None  # podman: a relative VOLUME is under /
        if d and d not in seen:
            seen.add(d)
            reqs.append(MountRequest("tmpfs", "tmpfs", d) if mode == "tmpfs" else MountRequest("volume", "", d))
    layers_top_first = list(reversed(layers_bottom_first))
    created: list[str] = []
    try:
        for r in reqs:
            out.append(_resolve_one(ctx, r, layers_bottom_first, layers_top_first, user, created))
    except BaseException:
        for name in created:  # anonymous volumes made for a create that failed
            try:
                vol.remove_volume_dir(ctx, name)
            except (OSError, PypodError):
                pass
        raise
    return out


def _resolve_one(ctx, r: MountRequest, layers: list[str], layers_top_first: list[str], user: str,
                 created: list[str]) -> dict:
    from pypod.engine import volumes as vol

    prop = [r.propagation] if r.propagation else []
    if r.type == "tmpfs":
        return {"type": "tmpfs", "source": "tmpfs", "destination": r.destination,
                "options": tmpfs_options(r.flags, r.tmpfs_opts) + prop, "rw": not r.readonly}
    if r.type == "bind":
        if not os.path.exists(r.source):
            raise PypodError(f"statfs {r.source}: no such file or directory")
        if r.overlay:
            # the host directory is the lower layer: the container's writes go to an upper dir
            # (in the container's directory, discarded at each start, or upperdir= kept)
            if not os.path.isdir(r.source):
                raise PypodError(f"{r.source}: the O (overlay) option needs a directory")
            for d in (r.upperdir, r.workdir):
                if d and not os.path.isdir(d):
                    raise PypodError(f"statfs {d}: no such file or directory")
            return {"type": "overlay", "source": r.source, "destination": r.destination,
                    "options": [f for f in r.flags if f not in ("rw", "ro")] + prop, "rw": True,
                    "upperdir": r.upperdir, "workdir": r.workdir}
        ids = _user_ids(layers_top_first, user) if r.chown else None
        if ids:
            vol.chown_tree(ctx, r.source, *ids)
        flags = [f for f in r.flags if f != "rw"]
        return {"type": "bind", "source": r.source, "destination": r.destination,
                "options": ["rbind" if r.recursive else "bind"] + flags + prop, "rw": not r.readonly,
                **({"chown": list(ids)} if ids else {})}
    # a volume: named (created when missing) or anonymous
    rec = vol.vstore(ctx).get(r.source) if r.source else None
    if rec is None:
        rec = vol.create_volume(ctx, r.source or None, anonymous=not r.source, ignore=bool(r.source))
        if not r.source:
            created.append(rec.name)
    mtype, source, extra = _volume_source(ctx, rec)
    if mtype == "tmpfs":
        return {"type": "tmpfs", "source": "tmpfs", "destination": r.destination, "name": rec.name,
                "options": tmpfs_options(r.flags, extra) + prop, "rw": not r.readonly, "volume": True}
    ids = _user_ids(layers_top_first, user) if r.chown else None
    if source == vol.mountpoint(ctx, rec.name):
        changed = False
        # podman: a volume still needs its copy-up until a mount finds image content to copy
        if rec.needs_copy_up and (r.nocopy or os.listdir(source)
                                  or vol.copy_up(ctx, source, r.destination, layers)):
            rec.needs_copy_up = False
            changed = True
        if ids:  # (after the copy-up: what it copied gets the user too)
            vol.chown_tree(ctx, source, *ids)
        # chowned by :U, or its first user is root (it belongs to root in the userns already)
        if rec.needs_chown and (ids or _user_ids(layers_top_first, user) == (0, 0)):
            rec.needs_chown = False
            changed = True
        if changed:
            vol.vstore(ctx).save(rec)
    elif ids:
        vol.chown_tree(ctx, source, *ids)
    flags = [f for f in r.flags if f != "rw"] + [x for x in extra if x not in r.flags and x != "rw"]
    return {"type": "volume", "source": source, "destination": r.destination, "name": rec.name,
            "anonymous": bool(rec.anonymous and not r.source), "rw": "ro" not in flags,
            "options": ["rbind" if r.recursive else "bind", "nosuid", "nodev"] + flags + prop,
            **({"chown": list(ids)} if ids else {})}


def reapply_chown(ctx, resolved: list) -> None:
    """:U again at a restart, as podman: what the host changed in between gets the container's user
    (resolved: MountConfig)."""
    from pypod.engine import volumes as vol

    for m in resolved:
        if m.chown and os.path.exists(m.source):
            vol.chown_tree(ctx, m.source, *m.chown, unless_top_owned=True)


def from_container(rec, mode: str = "") -> list[dict]:
    """The bind and volume mounts of another container, for --volumes-from CTR[:ro|rw]."""
    from pypod.store.container_config import MountConfig

    out = []
    for theirs in rec.config.resolved_mounts or []:
        if theirs.type == "tmpfs":
            continue
        m = MountConfig.view(theirs.to_dict())  # (a copy)
        opts = [o for o in m.options if o not in ("ro", "rw")]
        ro = mode == "ro" or (mode != "rw" and not m.rw)
        m.options = opts + ["ro"] if ro else opts
        m.rw = not ro
        m.anonymous = False  # belongs to the other container
        out.append(m.to_dict())
    return out


def runtime_mounts(resolved: list) -> list:
    """The runtime's Mount specs of a container's resolved mounts (MountConfig)."""
    from pypod.runtime.spec import Mount

    out = []
    for m in resolved:
        opts = list(m.options)
        if m.type == "overlay":
            opts += [f"upperdir={m.upperdir}", f"workdir={m.workdir}"] if m.upperdir else ["fresh"]
        out.append(Mount(type="bind" if m.type == "volume" else m.type, source=m.source,
                         destination=m.destination, options=opts))
    return out


def inspect_mounts(resolved: list) -> list[dict]:
    """podman's .Mounts of a container's resolved mounts (MountConfig)."""
    out = []
    for m in resolved:
        if m.type == "tmpfs":
            continue
        opts = [o for o in m.options if o not in ("ro", "rw")]
        if m.type == "volume":
            opts = [o for o in opts if o not in ("rbind", "bind")] + [o for o in opts if o in ("rbind", "bind")]
            out.append({"Type": "volume", "Name": m.name, "Source": m.source,
                        "Destination": m.destination, "Driver": "local", "Mode": "", "Options": opts,
                        "RW": bool(m.rw), "Propagation": "rprivate"})
        else:
            if m.type == "overlay":
                opts = ["O", *opts]
            out.append({"Type": "bind", "Source": m.source, "Destination": m.destination, "Driver": "",
                        "Mode": "", "Options": opts, "RW": bool(m.rw), "Propagation": "rprivate"})
    return out


def resolve_for_create(ctx, opts, image_cfg: dict, img_rec, rootfs_path: str | None) -> list[dict]:
    """create()'s entry point: layers and user from the image, --volumes-from from the records."""
    if img_rec is not None:
        layers = [str(ctx.images.layers.diff_dir(l)) for l in img_rec.layers]
    else:
        layers = [rootfs_path] if rootfs_path else []
    user = opts.user if opts.user is not None else (image_cfg.get("User") or "")
    vfrom: list[dict] = []
    for item in getattr(opts, "volumes_from", None) or []:
        from pypod.engine.containers import get_container

        name, _, mode = item.partition(":")
        modes = [m for m in mode.split(",") if m and m not in ("z", "Z")]
        if any(m not in ("ro", "rw") for m in modes):
            raise InvalidArgument(f"invalid options {mode!r} for --volumes-from: use ro or rw")
        other = get_container(ctx, name)
        vfrom.extend(from_container(other, modes[-1] if modes else ""))
    return resolve(ctx, opts, image_cfg, layers, user, vfrom)
