"""Named and anonymous volumes (podman's "local" driver): create, list, inspect, remove, prune,
export/import, and the two things a volume gets on its first use: the copy-up of the image content
it is mounted over (Docker's behaviour) and, with `:U`, a chown to the container's user.

A volume is the directory `volumes/<name>/_data`, owned by the user (container root). Work on
files that may belong to subordinate ids runs as root in the user namespace
(`python -m pypod.engine.volumes copyup|chown ...`, see `main`).
"""

from __future__ import annotations

import os
import re
import sys

from pypod.engine import events
from pypod.engine.context import Context
from pypod.errors import Conflict, InvalidArgument, NotFound, PypodError, RemoveMissing
from pypod.record import Record
from pypod.store.volumes import VolumeRecord, VolumeStore

NAME_RE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")


class VolumeNotFound(NotFound):
    pass


class VolumeInUse(Conflict):
    exit_code = 2


def vstore(ctx: Context) -> VolumeStore:
    return VolumeStore(ctx.volumes_dir)


def _rfc3339() -> str:
    from pypod.units import rfc3339_nano

    return rfc3339_nano()


def parse_driver_opts(items: list[str]) -> dict:
    """--opt type=tmpfs --opt device=tmpfs --opt o=size=2m (podman's local driver keys)."""
    out: dict = {}
    for item in items or []:
        k, eq, v = item.partition("=")
        if not eq:
            raise InvalidArgument(f"invalid volume option {item!r}: must be KEY=VALUE")
        if k not in ("type", "device", "o", "copy", "nocopy", "UID", "GID", "uid", "gid", "size", "inodes"):
            raise InvalidArgument(f"invalid mount option {k} for driver local: invalid argument")
        if k in ("size", "inodes"):
            raise PypodError("volume options size and inodes not supported. Filesystem does not support Project Quota")
        out[k] = v
    if out.get("type") == "bind" and not os.path.exists(out.get("device") or ""):
        # podman checks a bind volume's source when it is created (and says so in these words)
        raise PypodError(f"invalid volume option device for driver 'local': stat {out.get('device', '')}: "
                         "no such file or directory")
    o = out.get("o", "")
    if "size=" in o or "inodes=" in o:
        if out.get("type") != "tmpfs":
            raise PypodError("volume options size and inodes not supported. Filesystem does not support Project Quota")
    return out


def create_volume(ctx: Context, name: str | None = None, *, labels: dict | None = None,
                  options: dict | None = None, ignore: bool = False, anonymous: bool = False,
                  driver: str = "local") -> VolumeRecord:
    vs = vstore(ctx)
    if driver not in ("local", ""):
        raise PypodError(f"volume driver {driver!r} is not supported: use local")
    with vs.lock():
        if not name:
            import secrets

            name = secrets.token_hex(32)
            anonymous = anonymous or False
        if not NAME_RE.fullmatch(name):
            raise InvalidArgument(f"volume name {name!r} includes invalid characters, only "
                                  "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed: invalid argument")
        existing = vs.get(name)
        if existing is not None:
            if ignore:
                return existing
            raise Conflict(f"volume with name {name} already exists: volume already exists")
        rec = VolumeRecord(name=name, driver="local", created=_rfc3339(), labels=dict(labels or {}),
                           options=dict(options or {}), anonymous=anonymous)
        data = vs.data_dir(name)  # first: a listed volume always has its data directory
        data.mkdir(mode=0o755, parents=True, exist_ok=True)
        from pypod import faults; faults.point("volume.create")
        vs.save(rec)
    events.volume(ctx, "create", rec.name)
    return rec


def get_volume(ctx: Context, name: str) -> VolumeRecord:
    rec = vstore(ctx).get(name)
    if rec is None:
        raise VolumeNotFound(f"no volume with name \"{name}\" found: no such volume")
    return rec


def exists(ctx: Context, name: str) -> bool:
    return vstore(ctx).get(name) is not None


def find_volume(ctx: Context, name: str) -> VolumeRecord | None:
    return vstore(ctx).get(name)


def volume_names(ctx: Context) -> list[str]:
    return vstore(ctx).names()


def prune_candidates(ctx: Context, filters: list[str] | None = None) -> list[str]:
    """The volumes `volume prune` with these filters would remove (for its confirmation)."""
    used = users(ctx)
    flt = VolumeFilter(filters or [], keys=("label", "label!", "until"))
    return [r.name for r in vstore(ctx).list() if not used.get(r.name) and flt.match(ctx, r, used)]


def mountpoint(ctx: Context, name: str) -> str:
    return str(vstore(ctx).data_dir(name))


def users(ctx: Context) -> dict:
    """volume name → ids of the containers whose mounts name it."""
    from pypod.engine.containers import store

    out: dict = {}
    for rec in store(ctx).list():
        for m in rec.config.resolved_mounts or []:
            if m.type == "volume" and m.name:
                out.setdefault(m.name, [])
                if rec.id not in out[m.name]:
                    out[m.name].append(rec.id)
    return out


def running_users(ctx: Context, name: str) -> int:
    from pypod.engine.containers import state_of, store

    n = 0
    for cid in users(ctx).get(name, []):
        rec = store(ctx).get(cid)
        if rec is not None and state_of(ctx, rec).get("status") in ("running", "paused", "stopping"):
            n += 1
    return n


def inspect_volume(ctx: Context, rec: VolumeRecord, mount_count: int | None = None) -> dict:
    return {
        "Name": rec.name, "Driver": rec.driver or "local", "Mountpoint": mountpoint(ctx, rec.name),
        "CreatedAt": rec.created, "Labels": dict(rec.labels or {}), "Scope": "local",
        "Options": dict(rec.options or {}),
        "MountCount": running_users(ctx, rec.name) if mount_count is None else mount_count,
        "NeedsCopyUp": bool(rec.needs_copy_up), "NeedsChown": bool(rec.needs_chown),
    }


class VolumeFilter:
    def __init__(self, filters: list[str], keys=("name", "label", "driver", "dangling", "label!", "scope",
                                                  "until", "opt")):
        self.items: list[tuple[str, str]] = []
        for f in filters or []:
            k, eq, v = f.partition("=")
            if not eq or k not in keys:
                raise InvalidArgument(f"{k!r} is an invalid volume filter")
            self.items.append((k, v))

    def match(self, ctx: Context, rec: VolumeRecord, used: dict) -> bool:
        groups: dict = {}
        for k, v in self.items:
            groups.setdefault(k, []).append(v)
        for k, vals in groups.items():
            ok = False
            for v in vals:
                if k == "name":
                    ok = ok or re.search(v, rec.name) is not None
                elif k in ("label", "label!"):
                    lk, eq, lv = v.partition("=")
                    has = lk in (rec.labels or {}) and (not eq or rec.labels[lk] == lv)
                    ok = ok or (has if k == "label" else not has)
                elif k == "driver":
                    ok = ok or v == (rec.driver or "local")
                elif k == "scope":
                    ok = ok or v == "local"
                elif k == "dangling":
                    dangling = not used.get(rec.name)
                    ok = ok or (dangling if v.lower() in ("true", "1") else not dangling)
                elif k == "opt":
                    ok_k, _, ok_v = v.partition("=")
                    ok = ok or (rec.options or {}).get(ok_k) == ok_v
                elif k == "until":
                    from pypod.units import parse_time

                    try:
                        limit = float(v)
                    except ValueError:
                        limit = parse_time(v)
                    ok = ok or parse_time(rec.created) < limit
            if not ok:
                return False
        return True


def list_volumes(ctx: Context, filters: list[str] | None = None) -> list[VolumeRecord]:
    flt = VolumeFilter(filters or [])
    used = users(ctx) if flt.items else {}
    return [r for r in vstore(ctx).list() if flt.match(ctx, r, used)]


class VolumeRmReport(Record):
    FIELDS = (("removed", list), ("errors", list))
    __slots__ = tuple(n for n, _ in FIELDS)


def remove_volume_dir(ctx: Context, name: str) -> None:
    vs = vstore(ctx)
    with vs.lock():
        dead = vs.trash(name)
    if dead is not None:
        events.volume(ctx, "remove", name)
        from pypod.engine.containers import remove_tree
        from pathlib import Path

        remove_tree(ctx, Path(dead))


def remove_volumes(ctx: Context, names: list[str], *, force: bool = False, all_: bool = False,
                   ignore: bool = False, timeout: int | None = None) -> VolumeRmReport:
    rep = VolumeRmReport()
    if all_:
        names = vstore(ctx).names()
    used = users(ctx)
    for n in names:
        try:
            rec = vstore(ctx).get(n)
            if rec is None:
                if ignore or force:  # podman 4.3: volume rm -f of a missing name is no error
                    continue
                raise RemoveMissing(f"no volume with name \"{n}\" found: no such volume")
            cids = used.get(rec.name) or []
            if cids:
                if not force:
                    raise VolumeInUse(f"volume {rec.name} is being used by the following container(s): "
                                      f"{', '.join(cids)}: volume is being used")
                from pypod.engine.containers import remove_containers

                r = remove_containers(ctx, cids, force=True, timeout=timeout)
                if r.errors:
                    raise r.errors[-1]
            remove_volume_dir(ctx, rec.name)
            rep.removed.append(n)
        except PypodError as e:
            rep.errors.append(e)
    return rep


def remove_anonymous(ctx: Context, container_rec) -> None:
    """`rm -v` / `--rm`: the anonymous volumes a container made and no other container uses."""
    mine = [m.name for m in container_rec.config.resolved_mounts or []
            if m.type == "volume" and m.anonymous and m.name]
    if not mine:
        return
    used = users(ctx)
    for name in mine:
        if used.get(name):
            continue
        try:
            remove_volume_dir(ctx, name)
        except OSError:
            pass


def prune_volumes(ctx: Context, filters: list[str] | None = None) -> list[str]:
    flt = VolumeFilter(filters or [], keys=("label", "label!", "until"))
    used = users(ctx)
    out = []
    for rec in vstore(ctx).list():
        if used.get(rec.name) or not flt.match(ctx, rec, used):
            continue
        remove_volume_dir(ctx, rec.name)
        out.append(rec.name)
    vs = vstore(ctx)
    with vs.lock():  # create writes the record under this lock: a directory without one is dead
        dead = [vs.trash(n) for n in (os.listdir(vs.root) if vs.root.is_dir() else [])
                if not n.startswith(".") and not (vs.dir(n) / vs.RECORD).exists()]
    from pypod.engine.containers import remove_tree

    for d in dead:
        if d is not None:
            remove_tree(ctx, d)
    from pypod.engine.cleanup import reap_orphans

    reap_orphans(ctx)
    return out


def volume_size(ctx: Context, name: str) -> int:
    total = 0
    for dirpath, dirnames, filenames in os.walk(vstore(ctx).data_dir(name)):
        for f in filenames:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_blocks * 512
            except OSError:
                pass
    return total


# -- export / import: tar inside the user namespace (the files may belong to subordinate ids) ----
def export_volume(ctx: Context, name: str, output) -> None:
    rec = get_volume(ctx, name)
    data = mountpoint(ctx, rec.name)
    _tar(ctx, ["-C", data, "-cf", "-", "."], stdout=output)


def import_volume(ctx: Context, name: str, source) -> None:
    rec = get_volume(ctx, name)
    data = mountpoint(ctx, rec.name)
    _tar(ctx, ["-C", data, "--numeric-owner", "-xpf", "-"], stdin=source)


def _tar(ctx: Context, args: list[str], **kw) -> None:
    from pypod.linux.userns import run_in_userns

    p = run_in_userns(["tar", *args], holder_dir=ctx.holder_dir, stderr=__import__("subprocess").PIPE, **kw)
    _, err = p.communicate()
    if p.returncode != 0:
        raise PypodError(f"tar: {(err or b'').decode(errors='replace').strip() or 'failed'}")


# -- copy-up and chown ---------------------------------------------------------------------------
def _layer_path(layer: str, path: str) -> str | None:
    """`path` inside one layer dir, only through real directories (no symlink followed)."""
    cur = layer
    comps = [c for c in path.split("/") if c and c != "."]
    for i, c in enumerate(comps):
        cur = os.path.join(cur, c)
        try:
            st = os.lstat(cur)
        except OSError:
            return None
        import stat as _st

        if i < len(comps) - 1 and not _st.S_ISDIR(st.st_mode):
            return None
    return cur


def image_has_path(layer_dirs: list[str], path: str) -> bool:
    return any(_layer_path(l, path) for l in layer_dirs)


def copy_up(ctx: Context, data_dir: str, path: str, layer_dirs: list[str]) -> bool:
    """Fill a new volume with the image's content at `path` (layers bottom first); False when
    the image has nothing there."""
    if not layer_dirs or not image_has_path(layer_dirs, path):
        return False
    _worker(ctx, ["copyup", data_dir, path, *layer_dirs])
    return True


def chown_tree(ctx: Context, path: str, uid: int, gid: int, unless_top_owned: bool = False) -> None:
    """unless_top_owned: leave the tree alone when `path` itself has that owner already (podman's
    :U at a restart: a file chowned on purpose inside a chowned directory keeps its owner)."""
    _worker(ctx, ["chown-unless-top" if unless_top_owned else "chown", str(uid), str(gid), path])


def _worker(ctx: Context, args: list[str]) -> None:
    import subprocess

    from pypod.linux.spawn import lean_python_argv
    from pypod.linux.userns import run_in_userns

    p = run_in_userns(lean_python_argv("pypod.engine.volumes", args), holder_dir=ctx.holder_dir,
                      stderr=subprocess.PIPE)
    _, err = p.communicate()
    if p.returncode != 0:
        raise PypodError((err or b"").decode(errors="replace").strip().removeprefix("Error: ")
                         or f"volume {args[0]} failed")


def _clear_dir(path: str) -> None:
    import shutil

    for n in os.listdir(path):
        p = os.path.join(path, n)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        else:
            os.unlink(p)


def _is_whiteout(st) -> bool:
    import stat as _st

    return _st.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _is_opaque(path: str) -> bool:
    for attr in ("user.overlay.opaque", "trusted.overlay.opaque"):
        try:
            if os.getxattr(path, attr, follow_symlinks=False) == b"y":
                return True
        except OSError:
            pass
    return False


def _copy_entry(src: str, dst: str, st) -> None:
    import shutil
    import stat as _st

    if os.path.lexists(dst) and not (os.path.isdir(dst) and not os.path.islink(dst) and _st.S_ISDIR(st.st_mode)):
        if os.path.isdir(dst) and not os.path.islink(dst):
            shutil.rmtree(dst)
        else:
            os.unlink(dst)
    if _st.S_ISDIR(st.st_mode):
        if not os.path.isdir(dst):
            os.mkdir(dst, 0o700)
    elif _st.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(src), dst)
    elif _st.S_ISREG(st.st_mode):
        shutil.copyfile(src, dst, follow_symlinks=False)
    elif _st.S_ISFIFO(st.st_mode):
        os.mkfifo(dst)
    else:
        try:
            os.mknod(dst, st.st_mode, st.st_rdev)
        except OSError:
            return
    try:
        os.chown(dst, st.st_uid, st.st_gid, follow_symlinks=False)
    except OSError:
        pass
    if not _st.S_ISLNK(st.st_mode):
        os.chmod(dst, _st.S_IMODE(st.st_mode))
        os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))


def _merge_layer(src: str, dst: str) -> None:
    """Apply one layer's subtree `src` onto `dst` (whiteouts delete, opaque dirs clear)."""
    if _is_opaque(src):
        _clear_dir(dst)
    for name in sorted(os.listdir(src)):
        s = os.path.join(src, name)
        d = os.path.join(dst, name)
        st = os.lstat(s)
        if _is_whiteout(st):
            if os.path.isdir(d) and not os.path.islink(d):
                import shutil

                shutil.rmtree(d)
            elif os.path.lexists(d):
                os.unlink(d)
            continue
        import stat as _st

        _copy_entry(s, d, st)
        if _st.S_ISDIR(st.st_mode):
            _merge_layer(s, d)
            os.chmod(d, _st.S_IMODE(st.st_mode))
            os.utime(d, ns=(st.st_atime_ns, st.st_mtime_ns))


def _do_copyup(data_dir: str, path: str, layers: list[str]) -> None:
    import stat as _st

    for layer in layers:
        p = _layer_path(layer, path)
        if p is None:
            continue
        st = os.lstat(p)
        if _is_whiteout(st) or not _st.S_ISDIR(st.st_mode):
            _clear_dir(data_dir)  # deleted or replaced by a non-directory higher up
            continue
        _merge_layer(p, data_dir)
        os.chown(data_dir, st.st_uid, st.st_gid)
        os.chmod(data_dir, _st.S_IMODE(st.st_mode))


def _do_chown(uid: int, gid: int, path: str) -> None:
    os.lchown(path, uid, gid)
    for dirpath, dirnames, filenames in os.walk(path):
        for n in dirnames + filenames:
            os.lchown(os.path.join(dirpath, n), uid, gid)


def main(argv: list[str]) -> None:
    """The worker, run as root in the user namespace."""
    try:
        if argv[0] == "copyup":
            _do_copyup(argv[1], argv[2], argv[3:])
        elif argv[0] == "chown":
            _do_chown(int(argv[1]), int(argv[2]), argv[3])
        elif argv[0] == "chown-unless-top":
            st = os.lstat(argv[3])
            if (st.st_uid, st.st_gid) != (int(argv[1]), int(argv[2])):
                _do_chown(int(argv[1]), int(argv[2]), argv[3])
        else:
            raise SystemExit(f"unknown worker command {argv[0]}")
    except OSError as e:
        sys.stderr.write(f"Error: volume {argv[0]}: {e.filename or ''}: {e.strerror or e}\n")
        raise SystemExit(125)


if __name__ == "__main__":
    main(sys.argv[1:])
