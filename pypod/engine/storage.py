"""Storage-wide operations: `system df`, `system prune`, `system reset`, `unshare`, and
`mount`/`unmount` of a container's root inside `pypod unshare`.

Files written by containers may belong to subordinate ids; what the user cannot delete directly
is deleted as root in the user namespace. `system reset` touches only the graph root and the run
root (never, say, the directory pypod itself is installed in).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pypod.engine.context import Context
from pypod.errors import PypodError

# set by `pypod unshare` for the pypod commands run inside it (there uid 0 is the user)
ENV_GRAPHROOT = "_PYPOD_UNSHARE_GRAPHROOT"
ENV_RUNROOT = "_PYPOD_UNSHARE_RUNROOT"
ENV_INSIDE = "_CONTAINERS_USERNS_CONFIGURED"


def _dir_size(path: Path) -> int:
    total = 0
    for dirpath, dirnames, filenames in os.walk(path):
        for n in filenames:
            try:
                total += os.lstat(os.path.join(dirpath, n)).st_size
            except OSError:
                pass
    return total


# -- system df ------------------------------------------------------------------------------------
def disk_usage(ctx: Context) -> dict:
    from pypod.engine import volumes as vol
    from pypod.engine.containers import state_of, store

    containers = store(ctx).list()
    used_images = {c.image_id for c in containers if c.image_id}
    images = ctx.images.list()
    img_rows = []
    layer_users: dict = {}
    for im in images:
        for layer in im.layers:
            layer_users[layer] = layer_users.get(layer, 0) + 1
    for im in images:
        shared = sum((ctx.images.layers.get(l).size or 0) for l in im.layers
                     if layer_users.get(l, 0) > 1 and ctx.images.layers.get(l))
        n = sum(1 for c in containers if c.image_id == im.id)
        img_rows.append({"rec": im, "size": im.size or 0, "shared": shared, "unique": (im.size or 0) - shared,
                         "containers": n})
    ctr_rows = []
    for c in containers:
        st = state_of(ctx, c)
        size = _dir_size(store(ctx).dir(c.id) / "upper")
        nvol = sum(1 for m in c.config.resolved_mounts or [] if m.type == "volume")
        ctr_rows.append({"rec": c, "size": size, "status": st.get("status", "created"), "volumes": nvol})
    users = vol.users(ctx)
    vol_rows = [{"rec": v, "size": vol.volume_size(ctx, v.name), "links": len(users.get(v.name, []))}
                for v in vol.vstore(ctx).list()]
    # total image size counts each layer once
    seen: dict = {}
    for im in images:
        for l in im.layers:
            lr = ctx.images.layers.get(l)
            seen[l] = (lr.size or 0) if lr else 0
    img_total = sum(seen.values())
    active_layers = {l for im in images if im.id in used_images for l in im.layers}
    img_reclaim = sum(s for l, s in seen.items() if l not in active_layers)
    running = [r for r in ctr_rows if r["status"] in ("running", "paused")]
    return {
        "images": img_rows, "containers": ctr_rows, "volumes": vol_rows,
        "summary": [
            ("Images", len(images), len([i for i in images if i.id in used_images]), img_total, img_reclaim),
            ("Containers", len(containers), len(running), sum(r["size"] for r in ctr_rows),
             sum(r["size"] for r in ctr_rows if r not in running)),
            ("Local Volumes", len(vol_rows), len([v for v in vol_rows if v["links"]]),
             sum(v["size"] for v in vol_rows), sum(v["size"] for v in vol_rows if not v["links"])),
        ],
    }


# -- system prune ---------------------------------------------------------------------------------
def system_prune(ctx: Context, *, all_: bool = False, volumes: bool = False,
                 filters: list[str] | None = None) -> dict:
    from pypod.engine import containers as ce
    from pypod.engine import images as ie
    from pypod.engine import volumes as vol

    before = _dir_size(ctx.graph_root) if ctx.graph_root.exists() else 0
    from pypod.engine import pods

    # pods first, as podman: a stopped pod's containers go with it
    rep = {"pods": [] if filters else pods.prune(ctx), "containers": [], "images": [], "volumes": []}
    rep["containers"] = ce.prune(ctx, filters)
    if volumes:
        rep["volumes"] = vol.prune_volumes(ctx, [f for f in filters or [] if f.startswith("label")])
    rep["images"] = ie.prune(ctx, all_=all_, filters=filters)
    from pypod.engine import networks as netmod

    rep["networks"] = netmod.prune_networks(
        ctx, [f for f in filters or [] if f.startswith(("label", "until"))])
    after = _dir_size(ctx.graph_root) if ctx.graph_root.exists() else 0
    rep["reclaimed"] = max(0, before - after)
    return rep


# -- system check ---------------------------------------------------------------------------------
def damaged_records(ctx: Context) -> list[tuple[str, str, str, str]]:
    """(kind, id, name, path) of every record that exists but cannot be read."""
    from pypod.engine import volumes as vol
    from pypod.engine.containers import store
    from pypod.engine.networks import _store as nstore
    from pypod.store import db

    db.damaged.clear()
    ctx.images.list()
    store(ctx).list()
    vol.vstore(ctx).list()
    nstore(ctx).list()
    found = list(db.damaged)
    db.damaged.clear()  # (said here, not again as warnings)
    layers = ctx.images.layers
    for lid in layers.ids():  # a stored layer without its content (an old prune removed it)
        if layers.exists(lid) and not os.path.isdir(layers.diff_dir(lid)):
            found.append(("layer", lid, "", str(layers.diff_dir(lid))))
    return found


def system_check(ctx: Context, repair: bool = False) -> tuple[list, list]:
    """`system check`: the damaged records, and with `repair` the ones removed (their processes
    stopped first). podman 4.3 has no `system check`; podman 5's checks more than records."""
    from pypod.engine import containers as ce
    from pypod.engine import images as ie
    from pypod.engine import networks as ne
    from pypod.engine import volumes as vol

    found = damaged_records(ctx)
    removed = []
    if repair:
        for kind, ident, name, path in found:
            if kind == "container":
                ok = not ce.remove_containers(ctx, [ident], force=True).errors
            elif kind == "image":
                rep = ie.RemoveReport()
                ie._remove_damaged(ctx, ident, True, ie.containers_using(ctx), rep)
                ok = ident in rep.deleted
            elif kind == "volume":
                vol.remove_volume_dir(ctx, ident)
                ok = True
            elif kind == "layer":  # gone from the store: the next pull of its images fetches it
                with ctx.images.lock():
                    dead = ctx.images.layers.trash(ident)
                if dead is not None:
                    from pypod.engine.cleanup import remove_tree

                    remove_tree(ctx, dead)
                ok = True
            else:
                ok = bool(ne.remove_network(ctx, ident, force=True))
            if ok:
                removed.append((kind, ident, name, path))
        if any(k == "image" for k, *_ in removed):
            ie.collect_garbage(ctx)
        from pypod.store import db

        db.damaged.clear()  # (removed now: no warning about them)
    return found, removed


# -- system reset ---------------------------------------------------------------------------------
def _entries(d: Path) -> list[str]:
    try:
        return [str(d / n) for n in os.listdir(d)]
    except FileNotFoundError:
        return []


def _stop_network_holder(ctx: Context) -> None:
    """End the user networks' namespace holder (it would outlive its deleted state)."""
    import signal

    from pypod.network import rootlessnet

    st = rootlessnet.holder_state(str(ctx.run_root))
    if st:
        try:
            os.kill(int(st["pid"]), signal.SIGKILL)
        except OSError:
            pass


def system_reset(ctx: Context) -> None:
    """Everything: containers (stopped first), images, volumes, the run root with the shared
    namespace state. Works with broken records: it deletes the directories' contents."""
    import shutil

    from pypod.engine import containers as ce

    try:
        ce.remove_containers(ctx, [], force=True, all_=True, timeout=0)
    except (PypodError, OSError) as e:  # broken records must not stop a reset
        ctx.reporter.warn(f"removing containers: {getattr(e, 'message', e)}")
    _unmount_all(ctx)
    _stop_network_holder(ctx)
    left: list[str] = []
    for d in (ctx.graph_root, ctx.run_root):
        for p in _entries(d):
            try:
                if os.path.isdir(p) and not os.path.islink(p):
                    shutil.rmtree(p)
                else:
                    os.unlink(p)
            except FileNotFoundError:
                pass
            except OSError:
                left.append(p)
    if left and ctx.rootless:
        from pypod.linux.userns import run_in_userns

        rm = "/bin/rm" if os.path.exists("/bin/rm") else "rm"
        p = run_in_userns([rm, "-rf", "--", *left], holder_dir=ctx.holder_dir)
        p.wait()
        left = [x for x in left if os.path.lexists(x)]
        # the helper registered itself as a namespace holder under the run root: gone with it
        for x in _entries(ctx.run_root):
            shutil.rmtree(x, ignore_errors=True) if os.path.isdir(x) else _unlink(x)
    if left:
        raise PypodError(f"cannot remove {', '.join(left)}",
                         hint="run `pypod unshare rm -rf PATH` for files owned by your subordinate ids")


def _unlink(p: str) -> None:
    try:
        os.unlink(p)
    except OSError:
        pass


def _unmount_all(ctx: Context) -> None:
    for target in mounted(ctx).values():
        try:
            from pypod.linux import libc

            libc.umount2(target, 2)
        except OSError:
            pass


# -- unshare, mount, unmount ----------------------------------------------------------------------
def unshare_argv(ctx: Context, command: list[str]) -> tuple[list[str], dict]:
    """argv and environment for `pypod unshare CMD`: root in the user namespace, a private mount
    namespace for `pypod mount`, and the storage paths for the pypod commands run inside."""
    from pypod.linux.spawn import lean_python_argv

    if not command:
        command = [os.environ.get("SHELL") or "/bin/sh"]
    env = dict(os.environ)
    env[ENV_INSIDE] = "done"
    env[ENV_GRAPHROOT] = str(ctx.graph_root)
    env[ENV_RUNROOT] = str(ctx.run_root)
    env["CONTAINERS_GRAPHROOT"] = str(ctx.graph_root)
    env["CONTAINERS_RUNROOT"] = str(ctx.run_root)
    inner = lean_python_argv("pypod.engine.storage", ["unshare-exec", "--", *command])
    if not ctx.rootless:
        return inner, env
    return lean_python_argv("pypod.linux.usernsexec", ["--holder-dir", ctx.holder_dir, "--", *inner]), env


def inside_unshare() -> bool:
    return os.environ.get(ENV_INSIDE) == "done" and os.geteuid() == 0


def mounted(ctx: Context) -> dict:
    """container id → mount point, for the overlay roots mounted in this mount namespace."""
    from pypod.engine.containers import store

    base = str(store(ctx).root)
    out = {}
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                mp = line.split()[4].replace("\\040", " ")
                if mp.startswith(base + "/") and mp.endswith("/merged"):
                    cid = mp[len(base) + 1:].split("/")[0]
                    out[cid] = mp
    except OSError:
        pass
    return out


def mount_container(ctx: Context, rec) -> str:
    from pypod.engine.containers import store, stored_spec
    from pypod.linux.idmap import find_helper
    from pypod.linux.syscalls import Syscalls
    from pypod.runtime import init

    have = mounted(ctx)
    if rec.id in have:
        return have[rec.id]
    spec = stored_spec(ctx, rec)
    target = store(ctx).dir(rec.id) / "merged"
    target.mkdir(exist_ok=True, mode=0o755)
    host = init.HostFacts(rootless=bool(os.environ.get(ENV_GRAPHROOT)) or ctx.rootless,
                          fuse_overlayfs=find_helper("fuse-overlayfs"))
    try:
        init.mount_rootfs(Syscalls(), spec["rootfs"], str(target), host)
    except init.SetupError as e:
        raise PypodError(f"mounting container {rec.name}: {e.message}")
    return str(target)


def unmount_container(ctx: Context, rec) -> bool:
    from pypod.linux import libc

    mp = mounted(ctx).get(rec.id)
    if not mp:
        return False
    try:
        libc.umount2(mp, 0)
    except OSError:
        libc.umount2(mp, 2)  # MNT_DETACH
    return True


def _unshare_exec(argv: list[str]) -> None:
    from pypod.linux import libc

    if argv and argv[0] == "--":
        argv = argv[1:]
    try:
        libc.unshare(libc.CLONE_NEWNS)
        libc.mount(None, "/", None, libc.MS_REC | libc.MS_SLAVE, None)
    except OSError as e:
        sys.stderr.write(f"Error: cannot create a mount namespace: {e.strerror or e}\n")
        os._exit(125)
    try:
        os.execvp(argv[0], argv)
    except OSError as e:
        sys.stderr.write(f"Error: {argv[0]}: {e.strerror}\n")
        os._exit(127 if e.errno == 2 else 126)


def main(argv: list[str]) -> None:
    if argv and argv[0] == "unshare-exec":
        _unshare_exec(argv[1:])
    sys.stderr.write("usage: python -m pypod.engine.storage unshare-exec -- CMD...\n")
    raise SystemExit(125)


if __name__ == "__main__":
    main(sys.argv[1:])
