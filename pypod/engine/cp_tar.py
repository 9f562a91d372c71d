"""`pypod cp`'s tar streams, read from and written into a tree held by file descriptors.

A running container may swap a directory for a symlink (to the user's home, say) while we copy.
So nothing here hands the kernel a path to walk from the host's root: every entry is found relative
to the fd of its parent directory, that parent resolved inside the root (`rootpath.open_in_root`,
symlinks resolved as the container would see them), and acted on with the *at calls that do not
follow a last symlink. A symlink swapped in after we looked is seen as that symlink, or resolved
inside the root — never followed to the host.
"""

from __future__ import annotations

import os
import stat as _st
import tarfile

from pypod.errors import PypodError
from pypod.linux.rootpath import MAX_LINKS, open_in_root, open_parent

_CHUNK = 1 << 20


class CopyError(PypodError):
    pass


# -- reading a tree into a tar stream ---------------------------------------------------------------
class _Exactly:
    """A file's first `size` bytes, zero-padded: the tar header is written before the data, so a
    file that shrinks meanwhile (a container writes to it) must not break the stream."""

    def __init__(self, f, size: int):
        self.f, self.left = f, size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        b = self.f.read(n) if n else b""
        if len(b) < n:
            b += bytes(n - len(b))
        self.left -= len(b)
        return b


def write_tar(out, fd: int, arcname: str, uid_map=None, shown: str | None = None) -> None:
    """The tree at `fd` (O_PATH is enough; a symlink there has been resolved by the caller) as a
    tar stream whose top entry is `arcname`. uid_map: id → id in the stream. shown: the path to
    name in a read error (the host path on the host side)."""
    links: dict[tuple[int, int], str] = {}
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        _add(tf, fd, os.fstat(fd), arcname, None, links, uid_map, shown or arcname, arcname)


def _add(tf, fd: int, st, arc: str, linkname: str | None, links, uid_map, shown: str, top: str):
    ti = tarfile.TarInfo(arc)
    ti.mode = _st.S_IMODE(st.st_mode)
    ti.uid, ti.gid = (uid_map(st.st_uid), uid_map(st.st_gid)) if uid_map else (st.st_uid, st.st_gid)
    ti.uname = ti.gname = ""
    ti.mtime = int(st.st_mtime)
    mode = st.st_mode
    if _st.S_ISDIR(mode):
        ti.type = tarfile.DIRTYPE
        tf.addfile(ti)
        _add_children(tf, fd, arc, links, uid_map, shown, top)
    elif _st.S_ISLNK(mode):
        if linkname is None:
            return
        ti.type, ti.linkname = tarfile.SYMTYPE, linkname
        tf.addfile(ti)
    elif _st.S_ISREG(mode):
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and key in links:
            ti.type, ti.linkname = tarfile.LNKTYPE, links[key]
            tf.addfile(ti)
            return
        if st.st_nlink > 1:
            links[key] = arc
        try:  # the very inode we looked at, opened for reading (no path walked again)
            rfd = os.open(f"/proc/self/fd/{fd}", os.O_RDONLY | os.O_CLOEXEC)
        except OSError as e:
            raise OSError(e.errno, e.strerror, shown + arc[len(top):]) from None
        with os.fdopen(rfd, "rb") as f:
            ti.size = st.st_size
            tf.addfile(ti, _Exactly(f, st.st_size))
    elif _st.S_ISFIFO(mode):
        ti.type = tarfile.FIFOTYPE
        tf.addfile(ti)
    elif _st.S_ISCHR(mode) or _st.S_ISBLK(mode):
        ti.type = tarfile.CHRTYPE if _st.S_ISCHR(mode) else tarfile.BLKTYPE
        ti.devmajor, ti.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        tf.addfile(ti)
    # sockets are not copied


def _add_children(tf, fd: int, arc: str, links, uid_map, shown: str, top: str) -> None:
    try:
        dfd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=fd)
    except OSError as e:
        raise OSError(e.errno, e.strerror, shown + arc[len(top):]) from None
    try:
        for name in sorted(os.listdir(dfd)):
            try:
                cfd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)
            except FileNotFoundError:  # gone meanwhile
                continue
            try:
                cst = os.fstat(cfd)
                link = None
                if _st.S_ISLNK(cst.st_mode):
                    try:  # only the text of a link is read; a swapped name costs nothing
                        link = os.readlink(name, dir_fd=dfd)
                    except OSError:
                        continue
                _add(tf, cfd, cst, f"{arc}/{name}", link, links, uid_map, shown, top)
            finally:
                os.close(cfd)
    finally:
        os.close(dfd)


# -- a tar stream into a tree -----------------------------------------------------------------------
def extract(stream, root, mapper, owner: tuple[int, int] | None, keep_ids: bool,
            overwrite: bool = False, shown=None) -> None:
    """Unpack a tar stream under `root` (a directory path or an open fd). mapper: member name →
    path under root ("/x/y"; None to skip). owner: (uid, gid) to give every entry unless keep_ids
    (the tar's ids); None and not keep_ids: the caller's. shown(path) → the path an error names."""
    rootfd = (os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC) if isinstance(root, str)
              else os.dup(root))
    shown = shown or (lambda p: p)
    dirs: list[tuple[str, tarfile.TarInfo]] = []
    try:
        with tarfile.open(fileobj=stream, mode="r|*") as tf:
            for ti in tf:
                cpath = mapper(ti.name)
                if cpath is None:
                    continue
                pfd, name = _locate(rootfd, cpath, follow=not ti.issym(), mkdirs=ti.isdir())
                try:
                    _make(tf, ti, pfd, name, rootfd, mapper, overwrite, shown(cpath), owner, keep_ids, cpath)
                finally:
                    os.close(pfd)
                if ti.isdir():
                    dirs.append((cpath, ti))
        for cpath, ti in reversed(dirs):  # last: writing into a directory changes its mtime
            try:
                pfd, name = _locate(rootfd, cpath, follow=True)
            except OSError:
                continue
            try:
                os.utime(name or ".", (ti.mtime, ti.mtime), dir_fd=pfd, follow_symlinks=False)
            except OSError:
                pass
            finally:
                os.close(pfd)
    finally:
        os.close(rootfd)


def _locate(rootfd: int, cpath: str, follow: bool, mkdirs: bool = False) -> tuple[int, str]:
    """(parent dir fd, name) of cpath under the root; mkdirs (a directory entry): missing parents
    made, as `mkdir -p`; with follow, an existing symlink as the last component is followed inside
    the root (a file copied onto /etc/localtime -> /usr/share/zoneinfo/X replaces X)."""
    for _ in range(MAX_LINKS):
        pfd, name = open_parent(rootfd, cpath, mkdirs=mkdirs)
        if not follow or not name:
            return pfd, name
        try:
            target = os.readlink(name, dir_fd=pfd)
        except OSError:  # not a symlink, or not there
            return pfd, name
        os.close(pfd)
        cpath = target if target.startswith("/") else os.path.join(os.path.dirname(cpath), target)
    raise OSError(40, "too many levels of symbolic links", cpath)


def _lstat(pfd: int, name: str):
    try:
        return os.stat(name, dir_fd=pfd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _in_the_way(there: str, shown: str, new: str, cpath: str) -> CopyError:
    """podman's wording (`error creating "PATH": …: file exists`, PATH inside the copy's root),
    with what is in the way and the way out."""
    return CopyError(f'error creating "{cpath or shown}": cannot overwrite {there} "{shown}" with {new}: '
                     f'file exists (--overwrite replaces it)')


def _make(tf, ti: tarfile.TarInfo, pfd: int, name: str, rootfd: int, mapper, overwrite: bool,
          shown: str, owner, keep_ids: bool, cpath: str = "") -> None:
    """One entry; a directory never silently replaces a file nor the other way round, unless
    --overwrite (podman's rule)."""
    import shutil

    if not name:  # the root itself, or a path naming a directory by `.`/`..`
        if not ti.isdir():
            raise _in_the_way("directory", shown, "non-directory", cpath)
        _meta(pfd, ".", ti, owner, keep_ids)
        return
    st = _lstat(pfd, name)
    if ti.isdir():
        if st is not None and not _st.S_ISDIR(st.st_mode):
            if not overwrite:
                raise _in_the_way("non-directory", shown, "directory", cpath)
            os.unlink(name, dir_fd=pfd)
            st = None
        if st is None:
            try:
                os.mkdir(name, 0o755, dir_fd=pfd)
            except FileExistsError:
                pass
        _meta(pfd, name, ti, owner, keep_ids)
        return
    if st is not None and _st.S_ISDIR(st.st_mode):
        if not overwrite:
            raise _in_the_way("directory", shown, "non-directory", cpath)
        shutil.rmtree(name, dir_fd=pfd)  # fd-based: never follows a link out
    elif st is not None:
        os.unlink(name, dir_fd=pfd)
    if ti.isreg():
        src = tf.extractfile(ti)
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                     dir_fd=pfd)
        with os.fdopen(fd, "wb") as f:
            while True:
                chunk = src.read(_CHUNK)
                if not chunk:
                    break
                f.write(chunk)
            f.flush()
            _fd_meta(f.fileno(), ti, owner, keep_ids)
        return
    if ti.issym():
        os.symlink(ti.linkname, name, dir_fd=pfd)
    elif ti.islnk():
        target = mapper(ti.linkname)
        if target is None:
            return
        tpfd, tname = open_parent(rootfd, target)
        try:
            os.link(tname, name, src_dir_fd=tpfd, dst_dir_fd=pfd, follow_symlinks=False)
        finally:
            os.close(tpfd)
    elif ti.isfifo():
        os.mkfifo(name, 0o600, dir_fd=pfd)
    elif ti.ischr() or ti.isblk():
        try:
            os.mknod(name, (_st.S_IFCHR if ti.ischr() else _st.S_IFBLK) | 0o600,
                     os.makedev(ti.devmajor, ti.devminor), dir_fd=pfd)
        except OSError:
            return
    else:
        return
    _meta(pfd, name, ti, owner, keep_ids)


def _ids(ti, owner, keep_ids):
    if keep_ids:
        return ti.uid, ti.gid
    return owner


def _fd_meta(fd: int, ti, owner, keep_ids: bool) -> None:
    ids = _ids(ti, owner, keep_ids)
    try:
        if ids is not None:
            os.fchown(fd, *ids)
        os.fchmod(fd, ti.mode & 0o7777)  # after chown, which clears set-id bits
        os.utime(fd, (ti.mtime, ti.mtime))
    except OSError:
        pass


def _meta(pfd: int, name: str, ti, owner, keep_ids: bool) -> None:
    """Owner, mode and (but for directories, done last) mtime of `name`, never through a
    symlink: chown and utime with AT_SYMLINK_NOFOLLOW, chmod on an O_PATH|O_NOFOLLOW fd."""
    ids = _ids(ti, owner, keep_ids)
    if ids is not None:
        try:
            os.chown(name, *ids, dir_fd=pfd, follow_symlinks=False)
        except OSError:
            pass
    if ti.issym():
        return
    try:
        fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=pfd)
    except OSError:
        return
    try:
        if _st.S_ISLNK(os.fstat(fd).st_mode):
            return
        os.chmod(f"/proc/self/fd/{fd}", ti.mode & 0o7777)  # the inode itself (fchmod refuses O_PATH)
        if not ti.isdir():
            os.utime(name, (ti.mtime, ti.mtime), dir_fd=pfd, follow_symlinks=False)
    except OSError:
        pass
    finally:
        os.close(fd)


def kind_in(rootfd: int, path: str) -> str | None:
    """'dir' | 'file' | None (missing) for a container path, symlinks resolved inside the root."""
    try:
        fd = open_in_root(rootfd, path, os.O_PATH)
    except OSError:
        return None
    try:
        return "dir" if _st.S_ISDIR(os.fstat(fd).st_mode) else "file"
    finally:
        os.close(fd)
