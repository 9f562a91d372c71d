"""Layers with shifted ownership, for containers run with --uidmap/--gidmap.

Such a container runs in a user namespace of its own whose ids map onto other ids of the user's
namespace (podman's meaning: `--uidmap 0:1:5000` makes the container's root the first subordinate
id). Image files owned by "root" must then belong to that id, or the container's root could not
write them: like podman's storage, we keep a copy of each layer with every owner moved through
the mapping (`graph/overlay-shifted/KEY/LAYER/diff`, KEY from the mapping), made once.

    python -I -S … pypod.store.shift SRC DST UIDMAP GIDMAP   (run as root of the user namespace)

Maps are "container host size" lines (as /proc/PID/uid_map); an owner outside every range stays.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat as _st
import sys


def parse_map(text: str) -> list[tuple[int, int, int]]:
    out = []
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 3:
            out.append((int(parts[0]), int(parts[1]), int(parts[2])))
    return out


def shift_id(i: int, ranges: list[tuple[int, int, int]]) -> int:
    """Container id `i` (the id the file has for a default-mapped container) → the id it needs."""
    for c, h, n in ranges:
        if c <= i < c + n:
            return h + (i - c)
    return i


def map_key(uid_text: str, gid_text: str) -> str:
    return hashlib.sha256(f"{uid_text}|{gid_text}".encode()).hexdigest()[:16]


def _copy_xattrs(src: str, dst: str) -> None:
    try:
        names = os.listxattr(src, follow_symlinks=False)
    except OSError:
        return
    for n in names:
        try:
            os.setxattr(dst, n, os.getxattr(src, n, follow_symlinks=False), follow_symlinks=False)
        except OSError:
            pass


def shift_copy(src: str, dst: str, uids: list, gids: list) -> None:
    """Copy the tree src → dst (hardlinks kept, devices and whiteouts recreated, xattrs kept),
    every owner shifted. dst must not exist."""
    links: dict[tuple[int, int], str] = {}
    os.mkdir(dst)

    def own(path: str, st) -> None:
        os.lchown(path, shift_id(st.st_uid, uids), shift_id(st.st_gid, gids))
        if not _st.S_ISLNK(st.st_mode):
            os.chmod(path, _st.S_IMODE(st.st_mode))  # (after lchown: it clears setuid bits)

    pending_dirs = []
    for root, dirs, files in os.walk(src):
        rel = os.path.relpath(root, src)
        droot = dst if rel == "." else os.path.join(dst, rel)
        for name in dirs + files:
            s = os.path.join(root, name)
            d = os.path.join(droot, name)
            st = os.lstat(s)
            mode = st.st_mode
            if _st.S_ISDIR(mode):
                os.mkdir(d, 0o700)
                pending_dirs.append((s, d, st))
                continue
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and key in links:
                os.link(links[key], d)
                continue
            if _st.S_ISLNK(mode):
                os.symlink(os.readlink(s), d)
            elif _st.S_ISREG(mode):
                shutil.copyfile(s, d, follow_symlinks=False)
            elif _st.S_ISCHR(mode) or _st.S_ISBLK(mode) or _st.S_ISFIFO(mode):
                os.mknod(d, mode, st.st_rdev)
            else:
                continue  # sockets
            _copy_xattrs(s, d)
            own(d, st)
            if not _st.S_ISLNK(mode):
                os.utime(d, ns=(st.st_atime_ns, st.st_mtime_ns))
            if st.st_nlink > 1:
                links[key] = d
    st = os.lstat(src)
    pending_dirs.append((src, dst, st))
    for s, d, st in reversed(pending_dirs):  # deepest first: their times stay
        _copy_xattrs(s, d)
        own(d, st)
        os.utime(d, ns=(st.st_atime_ns, st.st_mtime_ns))


def main(argv: list[str]) -> None:
    src, dst, utext, gtext = argv[:4]
    tmp = f"{dst}.tmp-{os.getpid()}"
    try:
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shift_copy(src, tmp, parse_map(utext), parse_map(gtext))
        try:
            os.rename(tmp, dst)
        except OSError:  # made meanwhile by another create: keep theirs
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        print(f"Error: shifting {src}: {e.filename or ''}: {e.strerror or e}", file=sys.stderr)
        sys.exit(125)
