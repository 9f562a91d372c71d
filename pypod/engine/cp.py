"""`pypod cp`: copy files between the host and a container, running or stopped, both ways.

The container side runs as root in the user's namespace (`python -m pypod.engine.cp` through
run_in_userns): a running container's root is the directory fd of `/proc/PID/root` (with its
volumes mounted); a stopped one gets its overlay root and volumes mounted in a private mount
namespace of the worker. Every container path is resolved by the kernel relative to that fd
(openat2 RESOLVE_IN_ROOT, see cp_tar): a link to `/` or to the user's home in the container —
even one swapped in while we copy — never reaches the host's. The two sides talk tar.

Docker's rules: a directory SRC goes to DEST when DEST does not exist, into DEST/basename(SRC) when
DEST is a directory, its contents into DEST when SRC ends with `/.`; a file SRC overwrites DEST or
goes into DEST/basename(SRC) when DEST is a directory; `-` is a tar stream on stdin or stdout.
"""

from __future__ import annotations

import json
import os
import stat as _st
import sys

from pypod.engine.cp_tar import CopyError, extract, kind_in, write_tar
from pypod.errors import ContainerNotFound, InvalidArgument, PypodError

__all__ = ["CopyError", "copy", "extract", "plan", "split_ref", "write_tar"]


def split_ref(arg: str) -> tuple[str | None, str]:
    """`CONTAINER:PATH` → (container, path); a host path → (None, path)."""
    if arg == "-" or arg.startswith("/") or arg.startswith("."):
        return None, arg
    name, sep, path = arg.partition(":")
    if not sep:
        return None, arg
    return name, path or "/"


# -- Docker's rules, shared by both sides -----------------------------------------------------------
def plan(dest: str, dest_kind: str | None, src_is_dir: bool, contents_only: bool, base: str,
         where: str, overwrite: bool = False) -> str:
    """The path the source's top entry becomes. dest_kind: 'dir' | 'file' | None (missing);
    `where` names the destination side in errors ("container NAME" or "the host")."""
    if dest_kind == "dir":
        if src_is_dir and contents_only:
            return dest
        return os.path.join(dest, base)
    if dest_kind == "file":
        if src_is_dir and not overwrite:
            raise CopyError("destination must be a directory when copying a directory")  # podman's words
        return dest
    if dest.endswith("/") and not src_is_dir:
        raise CopyError(f"\"{dest}\" could not be found on {where}: no such file or directory")
    return dest.rstrip("/") or "/"


def _mapper(top: str | None, target: str):
    """Tar member name → destination path (top=None: names go under target as they are)."""
    def m(name: str) -> str | None:
        name = name.lstrip("/")
        parts = [p for p in name.split("/") if p and p != "."]
        if any(p == ".." for p in parts):
            return None
        if top is None:
            return os.path.join(target, *parts) if parts else target
        if not parts or parts[0] != top:
            return None
        return os.path.join(target, *parts[1:]) if len(parts) > 1 else target
    return m


def _kind(host: str) -> str | None:
    try:
        st = os.stat(host)
    except OSError:
        return None
    if _st.S_ISDIR(st.st_mode):
        return "dir"
    return "file" if _st.S_ISREG(st.st_mode) else "other"  # a pipe, a tty: /dev/stdout


def _base_and_contents(path: str) -> tuple[str, bool]:
    contents_only = path.endswith("/.") or path == "."
    p = path[:-2] if path.endswith("/.") else path
    base = os.path.basename(p.rstrip("/")) or "."
    return base, contents_only


# -- the host side (the CLI process) --------------------------------------------------------------
def _worker(ctx, rec, req: dict, **popen):
    import subprocess

    from pypod.engine.containers import state_of, store
    from pypod.linux.spawn import lean_python_argv
    from pypod.linux.userns import run_in_userns

    st = state_of(ctx, rec)
    cdir = store(ctx).dir(rec.id)
    pid = st.get("pid", 0) if st.get("status") in ("running", "paused") else 0
    if pid:
        req["pid"] = pid
    else:
        from pypod.engine.containers import stored_spec

        stored_spec(ctx, rec)  # (derived again if it was lost)
        req["spec"] = str(cdir / "spec.json")
    req["name"] = rec.name
    if req.get("op") == "in" and req.get("archive"):
        req["owner"] = list(_container_user_ids(ctx, rec))
    req["rootless"] = bool(ctx.rootless)
    argv = lean_python_argv("pypod.engine.cp", [json.dumps(req)])
    if pid:  # the worker joins the container's own user namespace (see _enter_container_userns)
        return subprocess.Popen(argv, stderr=subprocess.PIPE, **popen)
    return run_in_userns(argv, holder_dir=ctx.holder_dir, stderr=subprocess.PIPE, **popen)


def _container_user_ids(ctx, rec) -> tuple[int, int]:
    """podman's --archive: what is copied in belongs to the container's (primary) user."""
    from pypod.engine.mounts import _user_ids

    user = rec.config.user
    if not user or user in ("0", "root", "0:0", "root:root"):
        return 0, 0
    layers: list[str] = []
    img = ctx.images.get(rec.image_id) if rec.image_id else None
    if img is not None:
        layers = [str(ctx.images.layers.diff_dir(l)) for l in reversed(img.layers)]
    elif rec.rootfs:
        layers = [rec.rootfs]
    try:
        return _user_ids(layers, user)
    except PypodError:
        return 0, 0


def _fail(p, err: bytes) -> None:
    msg = (err or b"").decode(errors="replace").strip().splitlines()
    text = msg[-1] if msg else f"copy failed (exit {p.returncode})"
    raise CopyError(text.removeprefix("Error: "))


def copy_from_container(ctx, rec, cpath: str, dest: str, *, archive: bool = False, out=None,
                        overwrite: bool = False) -> None:
    import subprocess

    base, contents_only = _base_and_contents(cpath)
    if dest != "-":
        dkind = _kind(dest)
        if dkind == "other":
            raise CopyError(f'invalid destination: "{dest}" must be a directory or a regular file')
        if dkind is None:
            parent = os.path.dirname(os.path.abspath(dest.rstrip("/"))) or "/"
            if not os.path.isdir(parent):
                raise CopyError(f"\"{dest}\" could not be found on the host: no such file or directory")
    p = _worker(ctx, rec, {"op": "out", "path": cpath, "base": base}, stdout=subprocess.PIPE)
    try:
        # the first byte tells us the source kind: d(irectory) or f(ile)
        kind = p.stdout.read(1)
        if not kind:
            p.wait()
            _fail(p, p.stderr.read())
        if dest == "-":
            o = out
            while True:
                chunk = p.stdout.read(1 << 20)
                if not chunk:
                    break
                o.write(chunk)
            o.flush()
        else:
            target = plan(dest, _kind(dest), kind == b"d", contents_only, base, "the host",
                          overwrite)
            _extract_on_host(p.stdout, target, base, kind == b"d", overwrite)
    finally:
        p.stdout.close()
        err = p.stderr.read()
        p.wait()
    if p.returncode != 0:
        _fail(p, err)


def _extract_on_host(stream, target: str, base: str, src_dir: bool, overwrite: bool) -> None:
    """The container's tar at `target`, every entry resolved inside the copy itself: a directory
    is the root of its entries, so a symlink the stream carries (`x -> /`, then `x/.bashrc`) leads
    nowhere but into the copy; a file is the one entry named after it. The user's own path is
    resolved as the host resolves it (a symlink there is the user's)."""
    target = os.path.realpath(target)
    if src_dir and (os.path.isdir(target) or not os.path.lexists(target)):
        if not os.path.lexists(target):
            os.mkdir(target, 0o700)  # the top entry gives it its mode
        shown = lambda p: os.path.join(target, p.lstrip("/")).rstrip("/")  # noqa: E731
        extract(stream, target, _mapper(base, "/"), None, False, overwrite, shown)
        return
    parent, name = os.path.split(target)
    m = _mapper(base, "/" + name)
    only_top = m if src_dir else (lambda n: m(n) if n.strip("/") == base else None)
    shown = lambda p: os.path.join(parent, p.lstrip("/"))  # noqa: E731
    extract(stream, parent, only_top, None, False, overwrite, shown)


def copy_to_container(ctx, rec, src: str, cpath: str, *, archive: bool = False, stdin=None,
                      overwrite: bool = False, tar_ids: bool = True) -> None:
    """tar_ids (a tar stream, `-`): keep the stream's owners (podman's `cp -`); False: the files
    belong to the container's root (Docker's PUT archive without copyUIDGID)."""
    import subprocess

    if src == "-":
        req = {"op": "in", "path": cpath, "raw": True, "archive": archive, "overwrite": overwrite,
               "keep_ids": tar_ids and not archive}
        p = _worker(ctx, rec, req, stdin=subprocess.PIPE)
        try:
            data = stdin or sys.stdin.buffer
            while True:
                chunk = data.read(1 << 20)
                if not chunk:
                    break
                p.stdin.write(chunk)
        except BrokenPipeError:
            pass
        finally:
            try:
                p.stdin.close()
            except BrokenPipeError:
                pass
        err = p.stderr.read()
        p.wait()
        if p.returncode != 0:
            _fail(p, err)
        return
    base, contents_only = _base_and_contents(src)
    host = os.path.realpath(src[:-2] if src.endswith("/.") else src)
    if not os.path.lexists(src.rstrip("/") if src != "/" else src) or not os.path.exists(host):
        raise CopyError(f"\"{src}\" could not be found on the host: no such file or directory")
    src_dir = os.path.isdir(host)
    me = os.getuid()
    req = {"op": "in", "path": cpath, "base": base, "src_dir": src_dir, "contents_only": contents_only,
           "archive": archive, "overwrite": overwrite}
    p = _worker(ctx, rec, req, stdin=subprocess.PIPE)
    try:
        fd = os.open(host, os.O_PATH | os.O_CLOEXEC)
        try:
            write_tar(p.stdin, fd, base, uid_map=lambda i: 0 if i == me else i, shown=host)
        finally:
            os.close(fd)
    except (BrokenPipeError, OSError) as e:
        if not isinstance(e, BrokenPipeError):
            p.kill()
            p.wait()
            raise CopyError(f"{e.filename or src}: {e.strerror or e}")
    finally:
        try:
            p.stdin.close()
        except BrokenPipeError:
            pass
    err = p.stderr.read()
    p.wait()
    if p.returncode != 0:
        _fail(p, err)


def copy(ctx, src: str, dest: str, *, archive: bool = False, overwrite: bool = False, stdin=None,
         stdout=None) -> None:
    """`cp SRC DEST`; a `-` side is a tar stream read from `stdin` or written to `stdout` (binary)."""
    sname, spath = split_ref(src)
    dname, dpath = split_ref(dest)
    if not sname and not dname:
        raise InvalidArgument(f"invalid arguments {src}, {dest} you must use just one container")
    from pypod.engine.containers import find_container

    recs = {}
    for n in (sname, dname):
        if n and n not in recs:
            recs[n] = find_container(ctx, n)
            if recs[n] is None:
                raise ContainerNotFound(f'container "{n}" does not exist')
    given = [(p, _in_workdir(recs[n], p)) for n, p in ((sname, spath), (dname, dpath)) if n]
    spath = _in_workdir(recs[sname], spath) if sname else spath
    dpath = _in_workdir(recs[dname], dpath) if dname else dpath
    try:
        if sname and dname:
            copy_between(ctx, recs[sname], spath, recs[dname], dpath, archive=archive, overwrite=overwrite)
        elif sname:
            copy_from_container(ctx, recs[sname], spath, dpath, archive=archive, out=stdout, overwrite=overwrite)
        else:
            copy_to_container(ctx, recs[dname], spath, dpath, archive=archive, stdin=stdin, overwrite=overwrite)
    except CopyError as e:  # an error names a relative path as it was given (podman)
        for as_given, used in given:
            if as_given != used:
                e.message = e.message.replace(f'"{used}"', f'"{as_given}"')
        e.args = (e.message,)
        raise


def _in_workdir(rec, path: str) -> str:
    """podman: a relative container path is taken from the container's working directory."""
    if path.startswith("/") or path == "-":
        return path
    wd = rec.config.workdir or "/"
    return wd.rstrip("/") + "/" + path


def copy_between(ctx, srec, spath: str, drec, dpath: str, *, archive: bool = True,
                 overwrite: bool = False) -> None:
    """`cp A:SRC B:DEST`: A's worker writes the tar that B's worker unpacks, Docker's rules on
    B's side as for a host source."""
    import subprocess

    base, contents_only = _base_and_contents(spath)
    p = _worker(ctx, srec, {"op": "out", "path": spath, "base": base}, stdout=subprocess.PIPE)
    try:
        kind = os.read(p.stdout.fileno(), 1)  # unbuffered: the rest of the pipe is B's
        if not kind:
            p.wait()
            _fail(p, p.stderr.read())
        req = {"op": "in", "path": dpath, "base": base, "src_dir": kind == b"d",
               "contents_only": contents_only, "archive": archive, "overwrite": overwrite}
        q = _worker(ctx, drec, req, stdin=p.stdout)
    finally:
        p.stdout.close()
    q_err = q.stderr.read()
    q.wait()
    p_err = p.stderr.read()
    p.wait()
    if q.returncode != 0:
        _fail(q, q_err)
    if p.returncode != 0:
        _fail(p, p_err)


# -- the container side (the worker, root in the user namespace) -----------------------------------
def _enter_container_userns(pid: int) -> None:
    """Namespaces with the same mapping may coexist; only the container's own gives us the
    capabilities to read its /proc/PID/root. Its owner (us, outside) may join it."""
    from pypod.linux import userns

    if not userns.in_userns_required():
        return
    userns.join(pid)
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)


def _container_root(req: dict, made: list[str]) -> str:
    """The root to copy in or out of; `made` gets the mount points this made (a stopped
    container's volume inside another volume needs one there), to be removed again after."""
    if req.get("pid"):
        _enter_container_userns(int(req["pid"]))
        return f"/proc/{req['pid']}/root"
    from pypod.linux import libc
    from pypod.linux.idmap import find_helper
    from pypod.linux.syscalls import Syscalls
    from pypod.runtime import init

    with open(req["spec"]) as f:
        spec = json.load(f)
    libc.unshare(libc.CLONE_NEWNS)
    # the container dir's merged/: a mount point in this private mount namespace only, so that
    # concurrent copies (and `pypod mount` inside `pypod unshare`) do not meet
    root = os.path.join(os.path.dirname(req["spec"]), "merged")
    os.makedirs(root, 0o755, exist_ok=True)
    sc = Syscalls()
    host = init.HostFacts(rootless=bool(req.get("rootless")), fuse_overlayfs=find_helper("fuse-overlayfs"))
    init.mount_rootfs(sc, spec.get("rootfs") or {}, root, host)
    for m in sorted(spec.get("mounts") or [],
                    key=lambda m: len([c for c in (m.get("destination") or "").split("/") if c])):
        if m.get("type") in ("bind", "volume"):
            from pypod.linux.rootpath import secure_join

            target = secure_join(root, m.get("destination") or "/")
            new = not os.path.lexists(target)
            init._spec_mount(sc, root, m)
            if new:
                made.append(target)
    return root


def _unmake(made: list[str]) -> None:
    """podman's cp resolves a stopped container's paths without mounting: leave no mount point
    behind in the container's volumes (nor its root)."""
    from pypod.linux import libc

    for target in reversed(made):
        try:
            libc.umount2(target, libc.MNT_DETACH)
            os.rmdir(target) if os.path.isdir(target) else os.unlink(target)
        except OSError:
            pass


def worker(req: dict) -> None:
    made: list[str] = []
    try:
        _worker_in(req, _container_root(req, made))
    finally:
        _unmake(made)


def _worker_in(req: dict, root: str) -> None:
    from pypod.linux.rootpath import open_in_root

    rootfd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)  # every path from here on
    where = f"container {req.get('name', '')}"
    path = req["path"]
    if req["op"] == "stat":
        sys.stdout.write(json.dumps(_stat_in(rootfd, path)))
        return
    if req["op"] == "out":
        try:
            fd = open_in_root(rootfd, path, os.O_PATH)
        except OSError:
            raise CopyError(f"\"{path}\" could not be found on {where}: no such file or directory") from None
        out = sys.stdout.buffer
        out.write(b"d" if _st.S_ISDIR(os.fstat(fd).st_mode) else b"f")
        write_tar(out, fd, req["base"])
        out.flush()
        return
    # op == in
    kind = kind_in(rootfd, path)
    if req.get("raw"):
        if kind != "dir":
            raise CopyError("destination must be a directory when copying from stdin")  # podman's words
        import tarfile

        try:
            extract(sys.stdin.buffer, rootfd, _mapper(None, path), _owner(req),
                    req.get("keep_ids", not req.get("archive")), bool(req.get("overwrite")))
        except tarfile.TarError:
            raise CopyError("source must be a (compressed) tar archive when copying from stdin") from None
        return
    if kind is None:
        parent = os.path.dirname(path.rstrip("/")) or "/"
        if kind_in(rootfd, parent) != "dir":
            raise CopyError(f"\"{parent}\" could not be found on {where}: no such file or directory")
    target = plan(path, kind, bool(req.get("src_dir")), bool(req.get("contents_only")), req["base"], where,
                  bool(req.get("overwrite")))
    extract(sys.stdin.buffer, rootfd, _mapper(req["base"], target), _owner(req), not req.get("archive"),
            bool(req.get("overwrite")))


# Go's os.FileMode type bits, as Docker's X-Docker-Container-Path-Stat carries them
_GO_DIR, _GO_SYMLINK, _GO_SETUID, _GO_SETGID, _GO_STICKY = 1 << 31, 1 << 27, 1 << 23, 1 << 22, 1 << 20


def _stat_in(rootfd: int, path: str) -> dict | None:
    """name, size, Go mode, mtime (RFC 3339) and link target of a container path (not followed),
    or None when it is missing; the path resolved inside the root like every other."""
    import time

    from pypod.engine.cp_tar import _locate

    try:
        pfd, name = _locate(rootfd, path, follow=False)
    except OSError:
        return None
    try:
        st = os.stat(name or ".", dir_fd=pfd, follow_symlinks=False)
        link = os.readlink(name, dir_fd=pfd) if _st.S_ISLNK(st.st_mode) else ""
    except OSError:
        return None
    finally:
        os.close(pfd)
    mode = st.st_mode & 0o777
    for flag, go in ((_st.S_ISUID, _GO_SETUID), (_st.S_ISGID, _GO_SETGID), (_st.S_ISVTX, _GO_STICKY)):
        if st.st_mode & flag:
            mode |= go
    if _st.S_ISDIR(st.st_mode):
        mode |= _GO_DIR
    elif _st.S_ISLNK(st.st_mode):
        mode |= _GO_SYMLINK
    mtime = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(st.st_mtime)) + "Z"
    return {"name": os.path.basename(path.rstrip("/")) or "/", "size": st.st_size, "mode": mode,
            "mtime": mtime, "linkTarget": link}


def stat_path(ctx, rec, cpath: str) -> dict | None:
    """The API's HEAD/GET archive stat of a container path (None: missing)."""
    import subprocess

    p = _worker(ctx, rec, {"op": "stat", "path": cpath}, stdout=subprocess.PIPE)
    out, err = p.communicate()
    if p.returncode != 0:
        _fail(p, err)
    return json.loads(out or b"null")


def _owner(req: dict) -> tuple[int, int]:
    ids = req.get("owner") or [0, 0]
    return int(ids[0]), int(ids[1])


def main(argv: list[str]) -> None:
    try:
        worker(json.loads(argv[0]))
    except PypodError as e:
        sys.stderr.write(f"Error: {e.message}\n")
        raise SystemExit(125)
    except OSError as e:
        sys.stderr.write(f"Error: {e.filename + ': ' if e.filename else ''}{e.strerror or e}\n")
        raise SystemExit(125)
    except Exception as e:  # a broken tar stream and the like: one line, never a traceback
        sys.stderr.write(f"Error: {e}\n")
        raise SystemExit(125)


if __name__ == "__main__":
    main(sys.argv[1:])
