"""Deleting trees that a container or an unpacked layer may have filled with files of other uids."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

    from pypod.engine.context import Context


def remove_tree(ctx: Context, path: Path) -> None:
    """Delete a tree; files owned by subuids (written by the container) need the user namespace.

    Most containers write nothing as another uid, so try as ourselves first: the only obstacle is
    then overlay's `work/work` (mode 000, but ours), which a chmod opens."""
    import shutil

    for attempt in range(2):
        try:
            shutil.rmtree(path)
            return
        except FileNotFoundError:
            return
        except PermissionError:
            if attempt == 0:
                _open_own_dirs(path)
                continue
        except OSError:
            pass
        break
    if not ctx.rootless:
        shutil.rmtree(path, ignore_errors=True)
        return
    from pypod.linux.userns import remove_tree as rm

    rm(str(path), holder_dir=ctx.holder_dir)


def _open_own_dirs(top) -> None:
    """chmod 0700 the directories under `top` that we own but cannot enter (overlay's work/work)."""
    uid = os.getuid()
    stack = [str(top)]
    while stack:
        d = stack.pop()
        try:
            st = os.lstat(d)
            if st.st_uid == uid and (st.st_mode & 0o700) != 0o700:
                os.chmod(d, 0o700)
            with os.scandir(d) as it:
                for e in it:
                    if e.is_dir(follow_symlinks=False):
                        stack.append(e.path)
        except OSError:
            continue


def reap_orphans(ctx: Context, thorough: bool = False) -> int:
    """Delete the temp and trash dirs that dead processes left in storage (a pull or `rm` killed
    half-way); live work is never touched (store/owned.py). Three readdirs when there is nothing
    to do: called by the commands that write storage, not by `ps`/`images`. `thorough` (prune):
    also the directories of containers whose create was killed. The count reaped."""
    from pathlib import Path

    from pypod.store.containers import ContainerStore
    from pypod.store.volumes import VolumeStore

    cs = ContainerStore(ctx.graph_dir)
    dead = ctx.images.layers.orphans() + cs.orphans() + VolumeStore(ctx.volumes_dir).orphans()
    if thorough:
        with cs.lock():
            dead += [str(d) for d in map(cs.trash, cs.unfinished()) if d is not None]
    for d in dead:
        remove_tree(ctx, Path(d))
    return len(dead)


def kill_supervisors(container_dir: str) -> int:
    """SIGKILL this user's processes started for `container_dir` (a supervisor names its container's
    directory in its argv; the container dies with it): for a container whose record or state is
    unreadable, so that removing it never leaves its processes running. The count killed."""
    import signal

    uid, want, n = os.getuid(), os.fsencode(container_dir), 0
    # a supervisor forked from the CLI is titled `pypod-conmon ID` (cut to fit its argv area)
    title = b"pypod-conmon " + os.fsencode(os.path.basename(container_dir.rstrip("/")))
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.stat(f"/proc/{pid}").st_uid != uid:
                continue
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if want in argv or (argv[0].startswith(b"pypod-conmon ") and len(argv[0]) >= len(b"pypod-conmon ") + 12
                            and title.startswith(argv[0].rstrip(b" "))):
            try:
                os.kill(int(pid), signal.SIGKILL)
                n += 1
            except OSError:
                pass
    return n
