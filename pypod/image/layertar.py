"""Layer tars re-created from unpacked layer directories (push, save, export, diff).

    python -m pypod.image.layertar tar DIFF_DIR            the layer as a tar on stdout
    python -m pypod.image.layertar merge DIR [DIR...]      the merged view (top dir first), for export
    python -m pypod.image.layertar changes UPPER [LOWER...]  podman's diff of UPPER over the lowers (JSON)

Rootless, this runs as root inside the user's namespace (files may belong to subuids): every path is
given explicitly. The output is deterministic — entries sorted, no user or group names, whole-second
times — so pushing the same layer twice gives the same digest. Overlay whiteouts (character device
0:0) become `.wh.NAME` entries and opaque directories (`user.overlay.opaque` or
`trusted.overlay.opaque` = y) a `DIR/.wh..wh..opq` entry, as the OCI layer format has them.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import tarfile

from pypod.image.layerdiff import is_opaque, is_whiteout  # one definition of the overlay forms

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
# xattrs carried into layer tars (overlay's own are metadata of the unpacked form, never content)
_KEEP_XATTR_PREFIXES = ("security.capability", "user.")
_SKIP_XATTR_PREFIXES = ("user.overlay.", "trusted.overlay.")


def _xattrs(path: str) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return out
    for n in sorted(names):
        if n.startswith(_SKIP_XATTR_PREFIXES) or not n.startswith(_KEEP_XATTR_PREFIXES):
            continue
        try:
            v = os.getxattr(path, n, follow_symlinks=False)
        except OSError:
            continue
        # tarfile writes PAX values as UTF-8 text; surrogateescape keeps binary values intact
        out["SCHILY.xattr." + n] = v.decode("utf-8", "surrogateescape")
    return out


class TarWriter:
    """Deterministic tar entries from files on disk; hardlinks kept within one writer."""

    def __init__(self, fileobj):
        self.tar = tarfile.open(fileobj=fileobj, mode="w|", format=tarfile.PAX_FORMAT,
                                encoding="utf-8", errors="surrogateescape")
        self.links: dict[tuple[int, int], str] = {}

    def _info(self, name: str, st: os.stat_result) -> tarfile.TarInfo:
        ti = tarfile.TarInfo(name)
        ti.mode = stat.S_IMODE(st.st_mode)
        ti.uid, ti.gid = st.st_uid, st.st_gid
        ti.uname = ti.gname = ""
        ti.mtime = int(st.st_mtime)
        return ti

    def add(self, path: str, name: str, st: os.stat_result | None = None) -> None:
        """Add the file at `path` as tar member `name` (no leading slash; directories end in /)."""
        st = st or os.lstat(path)
        ti = self._info(name, st)
        mode = st.st_mode
        pax = _xattrs(path)
        if pax:
            ti.pax_headers = pax
        data = None
        if stat.S_ISDIR(mode):
            ti.type = tarfile.DIRTYPE
            ti.name = name.rstrip("/") + "/"
        elif stat.S_ISLNK(mode):
            ti.type = tarfile.SYMTYPE
            ti.linkname = os.readlink(path)
        elif stat.S_ISREG(mode):
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and key in self.links:
                ti.type = tarfile.LNKTYPE
                ti.linkname = self.links[key]
            else:
                if st.st_nlink > 1:
                    self.links[key] = name
                ti.type = tarfile.REGTYPE
                ti.size = st.st_size
                data = path
        elif stat.S_ISFIFO(mode):
            ti.type = tarfile.FIFOTYPE
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            ti.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
            ti.devmajor, ti.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        else:  # sockets: not part of a layer
            return
        if data is None:
            self.tar.addfile(ti)
            return
        try:
            f = open(data, "rb")
        except FileNotFoundError:  # removed while we walk (export of a running container)
            return
        with f:
            self.tar.addfile(ti, _Exact(f, ti.size))

    def whiteout(self, name: str, st: os.stat_result) -> None:
        """An empty `.wh.` marker (the OCI form of a whiteout or an opaque directory)."""
        ti = tarfile.TarInfo(name)
        ti.mode = 0o600 if st is None else stat.S_IMODE(st.st_mode) or 0o600
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = ""
        ti.mtime = int(st.st_mtime) if st is not None else 0
        self.tar.addfile(ti)

    def close(self) -> None:
        self.tar.close()


class _Exact:
    """A file read as exactly `size` bytes (a file that shrank is padded, one that grew cut)."""

    def __init__(self, f, size: int):
        self.f, self.left = f, size

    def read(self, n: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        n = self.left if n is None or n < 0 else min(n, self.left)
        data = self.f.read(n)
        if len(data) < n:
            data += bytes(n - len(data))
        self.left -= len(data)
        return data


def _sorted_entries(path: str) -> list[os.DirEntry]:
    with os.scandir(path) as it:
        return sorted(it, key=lambda e: e.name)


def write_layer(diff_dir: str, w: TarWriter) -> None:
    """The OCI layer tar of one unpacked layer directory."""

    def walk(abs_dir: str, rel: str) -> None:
        for e in _sorted_entries(abs_dir):
            p = os.path.join(abs_dir, e.name)
            name = rel + e.name
            st = os.lstat(p)
            if is_whiteout(st):
                w.whiteout(rel + WHITEOUT + e.name, st)
                continue
            w.add(p, name, st)
            if stat.S_ISDIR(st.st_mode):
                if is_opaque(p):
                    w.whiteout(name + "/" + OPAQUE, st)
                walk(p, name + "/")

    walk(diff_dir, "")


# -- the merged view of several layer directories --------------------------------------------------
def merged_children(dirs: list[str]) -> list[tuple[str, str, os.stat_result, list[str]]]:
    """The visible entries of a directory present (as a directory) in `dirs`, top first:
    (name, path of the winning entry, its stat, the dirs of that name below it when a directory)."""
    seen: dict[str, tuple[str, os.stat_result | None, list[str], bool]] = {}
    order: list[str] = []
    for d in dirs:
        try:
            entries = _sorted_entries(d)
        except (FileNotFoundError, NotADirectoryError):
            continue
        for e in entries:
            p = os.path.join(d, e.name)
            try:
                st = os.lstat(p)
            except FileNotFoundError:
                continue
            if e.name not in seen:
                order.append(e.name)
                if is_whiteout(st):
                    seen[e.name] = (p, None, [], True)
                else:
                    isdir = stat.S_ISDIR(st.st_mode)
                    # a directory merges with lower ones until it is opaque
                    seen[e.name] = (p, st, [p] if isdir else [], not isdir or is_opaque(p))
            else:
                wp, wst, below, closed = seen[e.name]
                if closed:
                    continue
                if stat.S_ISDIR(st.st_mode) and not is_whiteout(st):
                    below.append(p)
                    if is_opaque(p):
                        seen[e.name] = (wp, wst, below, True)
                else:  # a file or whiteout below hides everything under it
                    seen[e.name] = (wp, wst, below, True)
        if is_opaque(d):
            break
    out = []
    for n in sorted(order):
        p, st, below, _ = seen[n]
        if st is not None:
            out.append((n, p, st, below))
    return out


def write_merged(dirs: list[str], w: TarWriter) -> None:
    def walk(layer_dirs: list[str], rel: str) -> None:
        for name, p, st, below in merged_children(layer_dirs):
            w.add(p, rel + name, st)
            if stat.S_ISDIR(st.st_mode):
                walk(below, rel + name + "/")

    walk(list(dirs), "")


# -- changes (podman diff) ---------------------------------------------------------------------------
def changes(upper: str, lowers: list[str]) -> list[tuple[str, str]]:
    """("A"|"C"|"D", "/path") for what `upper` changes over the lowers, sorted by path."""
    out: list[tuple[str, str]] = []

    def walk(abs_dir: str, rel: str, lower_dirs: list[str] | None) -> None:
        # lower_dirs: the lowers' directories at `rel` (None: `rel` is new in upper)
        lower_names = {}
        if lower_dirs:
            lower_names = {n: below for n, _, _, below in merged_children(lower_dirs)}
        upper_names = set()
        for e in _sorted_entries(abs_dir):
            p = os.path.join(abs_dir, e.name)
            r = rel + "/" + e.name
            st = os.lstat(p)
            upper_names.add(e.name)
            if is_whiteout(st):
                if e.name in lower_names:
                    out.append(("D", r))
                continue
            existed = e.name in lower_names
            out.append(("C" if existed else "A", r))
            if stat.S_ISDIR(st.st_mode):
                below = lower_names.get(e.name) if existed else None
                if below and is_opaque(p):
                    for n in sorted(set(lower_names_of(below)) - {x.name for x in _sorted_entries(p)}):
                        out.append(("D", r + "/" + n))
                    below = None
                walk(p, r, below or None)

    def lower_names_of(dirs: list[str]) -> list[str]:
        return [n for n, _, _, _ in merged_children(dirs)]

    walk(upper, "", list(lowers) if lowers else None)
    out.sort(key=lambda c: c[1])
    return out


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: layertar tar|merge|changes DIR...", file=sys.stderr)
        return 2
    cmd, dirs = argv[0], argv[1:]
    try:
        if cmd == "changes":
            json.dump(changes(dirs[0], dirs[1:]), sys.stdout)
            sys.stdout.write("\n")
            return 0
        out = open(1, "wb", buffering=1 << 20, closefd=False)
        if cmd == "split":  # the layer's original tar: tar-split + the contents in its diff dir
            from pypod.image.tarsplit import reassemble

            reassemble(dirs[0], dirs[1], out)
            out.flush()
            return 0
        w = TarWriter(out)
        if cmd == "tar":
            write_layer(dirs[0], w)
        elif cmd == "merge":
            write_merged(dirs, w)
        else:
            print(f"layertar: unknown command {cmd!r}", file=sys.stderr)
            return 2
        w.close()
        out.flush()
    except BrokenPipeError:
        return 1
    except Exception as e:  # one line for the parent, which says what it was making
        from pypod.errors import describe

        print(describe(e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
