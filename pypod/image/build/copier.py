"""COPY/ADD as a layer tar, built straight from the sources — no container.

Sources are read through a small file-system view: the build context on the host (`HostFS`), or an
image's layers merged as overlay would (`LayersFS`: whiteouts and opaque dirs honoured) for
`--from`. Run in-process for the context; for `--from` run as
`python -m pypod.image.build.copier` inside the user namespace (layer files may belong to
subordinate ids) with the JSON spec on stdin and the tar on stdout.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import json
import os
import posixpath
import stat
import sys
import tarfile
import time

from pypod.errors import PypodError

_GLOB = set("*?[")


class CopyError(PypodError):
    pass


class HostFS:
    """The build context. Every component of a source path stays inside it: a symlink is resolved
    inside the context (an absolute target from the context's root, `..` stopping there), as
    buildah's chrooted copier does, so `homelink -> /home/USER` cannot read the user's files. Reads
    go through a descriptor of the context (rootpath.open_in_root): a symlink swapped in while we
    read (a context another process writes) is not followed out either."""

    def __init__(self, root: str, matcher=None):
        self.root = root
        self.matcher = matcher
        self._rootfd: int | None = None

    def __del__(self):
        if self._rootfd is not None:
            os.close(self._rootfd)

    def _fd(self) -> int:
        if self._rootfd is None:
            self._rootfd = os.open(self.root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        return self._rootfd

    def _readlink(self, parts: list[str]) -> str | None:
        try:
            return self.readlink("/".join(parts))
        except OSError:
            return None

    def resolve(self, rel: str, follow_last: bool = False) -> str:
        from pypod.linux.rootpath import resolve_lexically

        return "/".join(resolve_lexically(rel, self._readlink, follow_last))

    def _at(self, rel: str):
        from pypod.linux.rootpath import open_parent

        return open_parent(self._fd(), rel)

    def lstat(self, rel: str):
        try:
            pfd, name = self._at(rel)
        except OSError:
            return None
        try:
            return os.stat(name or ".", dir_fd=pfd, follow_symlinks=False)
        except OSError:
            return None
        finally:
            os.close(pfd)

    def readlink(self, rel: str) -> str:
        pfd, name = self._at(rel)
        try:
            return os.readlink(name, dir_fd=pfd)
        finally:
            os.close(pfd)

    def open(self, rel: str):
        """A regular file for reading (a symlink there now is refused, not followed)."""
        from pypod.linux.rootpath import open_in_root

        return os.fdopen(open_in_root(self._fd(), rel, os.O_RDONLY, follow_last=False), "rb")

    def listdir(self, rel: str) -> list[str]:
        from pypod.linux.rootpath import open_in_root

        fd = open_in_root(self._fd(), rel, os.O_RDONLY | os.O_DIRECTORY)
        try:
            return sorted(os.listdir(fd))
        finally:
            os.close(fd)

    def excluded(self, rel: str) -> bool:
        return bool(self.matcher and rel and self.matcher.excluded(rel))

    def walk_excluded_dir(self, rel: str) -> bool:
        return bool(self.matcher and self.matcher.may_contain_included(rel))


class LayersFS:
    """The merged view of layer diff dirs (bottom first)."""

    def __init__(self, layers: list[str]):
        self.layers = layers

    def _paths(self, rel: str) -> list[str]:
        from pypod.image.layerdiff import is_opaque, is_whiteout

        parts = [p for p in rel.split("/") if p] if rel else []
        found: list[str] = []
        for layer in reversed(self.layers):
            p = layer
            stop_below = False
            missing = False
            st = None
            for k, comp in enumerate(parts):
                p = os.path.join(p, comp)
                try:
                    st = os.lstat(p)
                except OSError:
                    missing = True
                    break
                if is_whiteout(st):
                    return found
                last = k == len(parts) - 1
                if not stat.S_ISDIR(st.st_mode):
                    if not last:
                        return found
                elif is_opaque(p):
                    stop_below = True
            if missing:
                if stop_below:
                    return found
                continue
            if not parts:
                found.append(layer)
                continue
            if not stat.S_ISDIR(st.st_mode):
                return found if found else [p]
            found.append(p)
            if stop_below:
                return found
        return found

    def _readlink(self, parts: list[str]) -> str | None:
        ps = self._paths("/".join(parts))
        return os.readlink(ps[0]) if ps and os.path.islink(ps[0]) else None

    def resolve(self, rel: str, follow_last: bool = False) -> str:
        """rel with the symlinks of its directories resolved inside the image root (as a chroot
        would: `..` and absolute targets stay inside), e.g. bin/sh → usr/bin/sh on merged /usr."""
        from pypod.linux.rootpath import resolve_lexically

        return "/".join(resolve_lexically(rel, self._readlink, follow_last))

    def host(self, rel: str) -> str | None:
        ps = self._paths(self.resolve(rel))
        return ps[0] if ps else None

    def lstat(self, rel: str):
        p = self.host(rel)
        return os.lstat(p) if p else None

    def _found(self, rel: str) -> str:
        p = self.host(rel)
        if p is None:
            raise FileNotFoundError(2, "no such file or directory", "/" + rel)
        return p

    def readlink(self, rel: str) -> str:
        return os.readlink(self._found(rel))

    def open(self, rel: str):
        return open(self._found(rel), "rb")

    def listdir(self, rel: str) -> list[str]:
        names: set[str] = set()
        for d in self._paths(self.resolve(rel, follow_last=True)):
            try:
                names.update(os.listdir(d))
            except OSError:
                pass
        return sorted(n for n in names if self.host(f"{rel}/{n}" if rel else n))

    def excluded(self, rel: str) -> bool:
        return False

    def walk_excluded_dir(self, rel: str) -> bool:
        return False


def has_glob(s: str) -> bool:
    return any(c in _GLOB for c in s)


def expand_sources(fs, patterns: list[str]) -> list[str]:
    """Source arguments → paths relative to the fs root ('' = the root); globs match per component."""
    out: list[str] = []
    for pat in patterns:
        clean = posixpath.normpath("/" + pat).lstrip("/")
        if clean == ".":
            clean = ""
        if not has_glob(clean):
            st = source_stat(fs, clean)
            # an excluded directory counts only for what an exception re-includes below it
            if st is None or (clean and fs.excluded(clean) and (
                    not stat.S_ISDIR(st.st_mode) or not fs.walk_excluded_dir(clean)
                    or not any(r != clean and not fs.excluded(r) for r, _ in _walk(fs, clean)))):
                raise CopyError(f"copier: stat: \"/{clean}\": no such file or directory")
            out.append(clean)
            continue
        comps = clean.split("/")
        cands = [""]
        for comp in comps:
            nxt = []
            for c in cands:
                st = source_stat(fs, c)
                if st is None or not stat.S_ISDIR(st.st_mode):
                    continue
                for name in fs.listdir(c):
                    if fnmatch.fnmatchcase(name, comp) if has_glob(comp) else name == comp:
                        nxt.append(f"{c}/{name}" if c else name)
            cands = nxt
        cands = [c for c in cands if not fs.excluded(c)]
        if not cands:
            raise CopyError(f"no items matching glob \"{pat}\" copied (1 filtered): no such file or directory")
        out.extend(sorted(cands))
    return out


def source_stat(fs, rel: str):
    """The lstat of what a source names: a symlink named as a source is followed (inside the root,
    as buildah does: `COPY lnk/f` and `COPY lnk` with lnk -> sub read sub); None when missing."""
    try:
        return fs.lstat(fs.resolve(rel, follow_last=True))
    except OSError:  # a symlink loop
        return None


def _walk(fs, rel: str):
    """(rel, lstat) of rel and everything below it, parents first, ignore rules applied."""
    st = fs.lstat(rel)
    if st is None:
        return
    yield rel, st
    if stat.S_ISDIR(st.st_mode):
        for name in fs.listdir(rel):
            child = f"{rel}/{name}" if rel else name
            if fs.excluded(child):
                cst = fs.lstat(child)
                if cst is not None and stat.S_ISDIR(cst.st_mode) and fs.walk_excluded_dir(child):
                    for r, s in _walk(fs, child):
                        if r != child and not fs.excluded(r):
                            yield r, s
                continue
            yield from _walk(fs, child)


def plan(fs, sources: list[str], dest: str, dest_is_dir: bool) -> list[tuple[str, str, object]]:
    """(source rel, destination path in the image, lstat) for every entry to write, in order."""
    multi = len(sources) > 1
    dest_dir_form = dest.endswith("/") or dest_is_dir or multi
    dest = posixpath.normpath(dest)
    items = []
    for src in sources:
        real = fs.resolve(src, follow_last=True)
        st = fs.lstat(real)
        if st is None:
            raise CopyError(f"copier: stat: \"/{src}\": no such file or directory")
        if stat.S_ISDIR(st.st_mode):
            for rel, s in _walk(fs, real):
                if rel == real:
                    items.append((rel, dest, s))
                    continue
                sub = rel[len(real) + 1:] if real else rel
                items.append((rel, posixpath.join(dest, sub), s))
        else:
            target = posixpath.join(dest, posixpath.basename(src)) if dest_dir_form else dest
            items.append((real, target, st))
    return items


def content_digest(fs, items) -> str:
    """What the cache key needs of the sources: names, modes, link targets, file contents (not mtimes)."""
    h = hashlib.sha256()
    for rel, target, st in items:
        h.update(f"{target}\0{st.st_mode:o}\0".encode())
        if stat.S_ISREG(st.st_mode):
            with fs.open(rel) as f:
                while True:
                    b = f.read(1 << 20)
                    if not b:
                        break
                    h.update(b)
        elif stat.S_ISLNK(st.st_mode):
            h.update(fs.readlink(rel).encode())
        h.update(b"\0")
    return h.hexdigest()


def _tarinfo(name: str, st, uid: int, gid: int, mode: int | None, mtime: int | None) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name.lstrip("/"))
    ti.uid, ti.gid = uid, gid
    ti.mode = stat.S_IMODE(st.st_mode) if mode is None else mode
    ti.mtime = int(st.st_mtime) if mtime is None else mtime
    return ti


def _is_archive(fs, rel: str) -> bool:
    try:
        with fs.open(rel) as f:
            return tarfile.is_tarfile(f)
    except OSError:
        return False


def write_tar(fs, spec: dict, out) -> None:
    """spec: sources (rel list, expanded), dest (absolute), dest_is_dir, parents (dirs to create),
    uid, gid, chmod (int or None), mtime (int or None), extract (ADD archives), inline
    ({name: content} for heredoc sources), urls ({dest path: host temp file})."""
    uid, gid = spec.get("uid", 0), spec.get("gid", 0)
    chmod, mtime = spec.get("chmod"), spec.get("mtime")
    now = mtime if mtime is not None else int(spec.get("now") or time.time())
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for d in spec.get("parents", []):
            ti = tarfile.TarInfo(d.lstrip("/"))
            ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, now
            tar.addfile(ti)
        for target, content in (spec.get("inline") or {}).items():
            data = content.encode()
            ti = tarfile.TarInfo(target.lstrip("/"))
            ti.size, ti.mode, ti.mtime, ti.uid, ti.gid = len(data), chmod or 0o644, now, uid, gid
            tar.addfile(ti, io.BytesIO(data))
        for target, host_file in (spec.get("files") or {}).items():
            st = os.stat(host_file)
            ti = _tarinfo(target, st, uid, gid, chmod if chmod is not None else 0o600, now)
            ti.size = st.st_size
            with open(host_file, "rb") as f:
                tar.addfile(ti, f)
        items = plan(fs, spec["sources"], spec["dest"], spec.get("dest_is_dir", False)) if spec["sources"] else []
        dest_n = posixpath.normpath(spec["dest"])
        linked: dict[tuple[int, int], str] = {}  # hard links stay hard links (buildah's copier)
        for rel, target, st in items:
            if target == dest_n and stat.S_ISDIR(st.st_mode):
                # a source directory's own entry: an existing destination keeps its owner and mode,
                # a new one is made 0755 (the source dir's mode — maybe a private 0700 — is not copied)
                if spec.get("dest_exists"):
                    continue
                st = os.stat_result((stat.S_IFDIR | 0o755,) + tuple(st)[1:])
            if spec.get("extract") and stat.S_ISREG(st.st_mode) and _is_archive(fs, rel):
                with fs.open(rel) as f:
                    _extract_into(tar, f, posixpath.normpath(spec["dest"]), mtime)
                continue
            ti = _tarinfo(target, st, uid, gid, chmod, mtime)
            if stat.S_ISDIR(st.st_mode):
                ti.type = tarfile.DIRTYPE
                if chmod is None:
                    ti.mode = stat.S_IMODE(st.st_mode)
                tar.addfile(ti)
            elif stat.S_ISLNK(st.st_mode):
                ti.type, ti.linkname = tarfile.SYMTYPE, fs.readlink(rel)
                ti.mode = 0o777
                tar.addfile(ti)
            elif stat.S_ISREG(st.st_mode):
                first = linked.get((st.st_dev, st.st_ino)) if st.st_nlink > 1 else None
                if first is not None:
                    ti.type, ti.linkname, ti.size = tarfile.LNKTYPE, first, 0
                    tar.addfile(ti)
                    continue
                if st.st_nlink > 1:
                    linked[(st.st_dev, st.st_ino)] = ti.name
                ti.size = st.st_size
                with fs.open(rel) as f:
                    tar.addfile(ti, f)
            # sockets, fifos and devices of a context are not copied


def _extract_into(tar: tarfile.TarFile, archive, dest: str, mtime: int | None) -> None:
    with tarfile.open(fileobj=archive, mode="r:*") as src:
        for m in src:
            name = posixpath.normpath("/" + m.name).lstrip("/")
            if not name or name == ".":
                continue
            m.name = posixpath.join(dest, name).lstrip("/")
            if m.islnk():
                m.linkname = posixpath.join(dest, posixpath.normpath("/" + m.linkname).lstrip("/")).lstrip("/")
            if mtime is not None:
                m.mtime = mtime
            m.pax_headers = {}
            tar.addfile(m, src.extractfile(m) if m.isreg() else None)


def main(argv: list[str] | None = None) -> int:
    spec = json.load(sys.stdin)
    fs = LayersFS(spec["layers"])
    if "patterns" in spec:
        spec["sources"] = expand_sources(fs, spec["patterns"])
    out = sys.stdout.buffer
    try:
        write_tar(fs, spec, out)
    except (PypodError, OSError) as e:
        print(str(e), file=sys.stderr)
        sys.exit(1)
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
