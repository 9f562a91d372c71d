"""A layer tar of an overlay upper directory: the overlay's whiteouts (char 0:0 devices) and opaque
directories (`user.overlay.opaque` / `trusted.overlay.opaque` = y) become `.wh.` entries again.

Run as `python -m pypod.image.layerdiff [--mtime N] [--run-mounts] DIR [DIR...]` (inside the user
namespace when rootless: the upper dir holds files of subordinate ids) — the tar goes to stdout.
Several directories are written one after the other (a squash of layers, lowest first). Entries are
sorted, so the same tree gives the same bytes."""

from __future__ import annotations

import os
import stat
import sys
import tarfile

OPAQUE_XATTRS = ("user.overlay.opaque", "trusted.overlay.opaque")
# empty mount targets and links the runtime put into a container's upper dir: not the RUN's doing
RUNTIME_FILES = ("etc/hosts", "etc/resolv.conf", "etc/hostname", "run/.containerenv")


def is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def is_opaque(path: str) -> bool:
    for name in OPAQUE_XATTRS:
        try:
            if os.getxattr(path, name, follow_symlinks=False) == b"y":
                return True
        except OSError:
            continue
    return False


def _runtime_artifact(rel: str, path: str, st: os.stat_result) -> bool:
    if rel in RUNTIME_FILES and stat.S_ISREG(st.st_mode) and st.st_size == 0:
        return True
    if rel == "etc/mtab" and stat.S_ISLNK(st.st_mode):
        try:
            return os.readlink(path) == "/proc/mounts"
        except OSError:
            return False
    return False


def entries(root: str, run_mounts: bool = False) -> list[tuple[str, str, os.stat_result, bool]]:
    """(relative name, host path, lstat, opaque) for everything under root, parents first, sorted."""
    out: list[tuple[str, str, os.stat_result, bool]] = []

    def walk(dir_path: str, rel: str) -> bool:
        kept_any = False
        try:
            names = sorted(os.listdir(dir_path))
        except OSError:
            return False
        for name in names:
            path = os.path.join(dir_path, name)
            r = f"{rel}/{name}" if rel else name
            st = os.lstat(path)
            if run_mounts and _runtime_artifact(r, path, st):
                continue
            if stat.S_ISDIR(st.st_mode):
                opaque = is_opaque(path)
                idx = len(out)
                out.append((r, path, st, opaque))
                inner = walk(path, r)
                if run_mounts and not inner and not opaque and r in ("etc", "run"):
                    del out[idx]  # only the runtime's mount targets were there
                    continue
                kept_any = True
            else:
                out.append((r, path, st, False))
                kept_any = True
        return kept_any

    walk(root, "")
    return out


def write_tar(dirs: list[str], out, mtime: int | None = None, run_mounts: bool = False) -> None:
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for d in dirs:
            for rel, path, st, opaque in entries(d, run_mounts):
                if is_whiteout(st):
                    head, base = os.path.split(rel)
                    ti = tarfile.TarInfo(os.path.join(head, ".wh." + base))
                    ti.mtime = mtime if mtime is not None else int(st.st_mtime)
                    tar.addfile(ti)
                    continue
                ti = tar.gettarinfo(path, arcname=rel)
                if ti is None:  # a socket: not part of an image
                    continue
                ti.uname = ti.gname = ""
                if mtime is not None:
                    ti.mtime = mtime
                if ti.isreg():
                    with open(path, "rb") as f:
                        tar.addfile(ti, f)
                else:
                    tar.addfile(ti)
                if opaque:
                    o = tarfile.TarInfo(rel + "/.wh..wh..opq")
                    o.mtime = ti.mtime
                    tar.addfile(o)


def main(argv: list[str]) -> int:
    mtime = None
    run_mounts = False
    dirs = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--mtime":
            mtime = int(argv[i + 1])
            i += 2
            continue
        if a == "--run-mounts":
            run_mounts = True
        else:
            dirs.append(a)
        i += 1
    out = sys.stdout.buffer
    try:
        write_tar(dirs, out, mtime, run_mounts)
        out.flush()
    except OSError as e:
        from pypod.errors import describe

        print(f"layerdiff: {describe(e)}", file=sys.stderr)
        sys.exit(1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
