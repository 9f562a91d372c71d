"""The rootless user namespace, shared by all of a user's containers and storage operations.

podman keeps one user namespace per user alive in a "pause" process. We keep no extra process:
every process that lives in the namespace for a while (a container's pid 1, a usernsexec helper)
is registered as a *holder* in `RUN_ROOT/userns/<pid>`; a new container or operation joins
(setns) the namespace of a live holder whose uid_map matches, and creates a new namespace (mapped
by newuidmap/newgidmap) only when there is none. The mapping is the same for every namespace of a
user, so files agree on ownership whichever namespace wrote them.

`enter()` needs a single-threaded caller (unshare(CLONE_NEWUSER) and setns into a user namespace
refuse a multithreaded process): call it in a fresh or freshly forked process only. From anywhere
else use `run_in_userns()`, which spawns a fresh helper process.
"""

from __future__ import annotations

import os

from pypod.linux import idmap, libc
from pypod.linux.proc import ns_id, starttime as proc_starttime

_mapping_cache: idmap.IdMapping | None = None


def in_userns_required() -> bool:
    """Rootless: containers and storage operations need a user namespace."""
    return os.geteuid() != 0


def mapping() -> idmap.IdMapping:
    """The caller's mapping (empty maps in root mode: no user namespace)."""
    global _mapping_cache
    if _mapping_cache is None:
        if not in_userns_required():
            _mapping_cache = idmap.IdMapping([], [], user="root", uid=0, gid=0)
        else:
            _mapping_cache = idmap.compute_mapping()
    return _mapping_cache


# --- /proc helpers ---

def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def inside_userns() -> bool:
    """Is the caller already in a (non-initial) user namespace?"""
    text = _read("/proc/self/uid_map") or ""
    return idmap.parse_map_text(text) != [(0, 0, 4294967295)]


# --- holders ---

def register_holder(holder_dir: str, pid: int) -> None:
    st = proc_starttime(pid)
    if st is None:
        return
    try:
        os.makedirs(holder_dir, 0o700, exist_ok=True)
        tmp = os.path.join(holder_dir, f".{pid}.tmp")
        with open(tmp, "w") as f:
            f.write(f"{st}\n")
        os.rename(tmp, os.path.join(holder_dir, str(pid)))
    except OSError:
        pass


def unregister_holder(holder_dir: str, pid: int) -> None:
    try:
        os.unlink(os.path.join(holder_dir, str(pid)))
    except OSError:
        pass


def holder_matches(pid: int, m: idmap.IdMapping, starttime: int | None = None) -> bool:
    """Is `pid` alive (same process, if starttime is given) in a user namespace with mapping m?"""
    if starttime is not None and proc_starttime(pid) != starttime:
        return False
    um = _read(f"/proc/{pid}/uid_map")
    gm = _read(f"/proc/{pid}/gid_map")
    if um is None or gm is None:
        return False
    if idmap.parse_map_text(um) != [r.as_tuple() for r in m.uids]:
        return False
    if idmap.parse_map_text(gm) != [r.as_tuple() for r in m.gids]:
        return False
    return ns_id(pid, "user") != ns_id("self", "user")


def find_holder(holder_dir: str, m: idmap.IdMapping) -> int | None:
    """A live registered process in a user namespace with mapping m; stale entries are removed."""
    try:
        names = os.listdir(holder_dir)
    except OSError:
        return None
    for name in names:
        if not name.isdigit():
            continue
        pid = int(name)
        text = _read(os.path.join(holder_dir, name))
        try:
            st = int(text) if text else None
        except ValueError:
            st = None
        if st is not None and holder_matches(pid, m, st):
            return pid
        unregister_holder(holder_dir, pid)
    return None


# --- entering ---

def join(pid: int) -> None:
    fd = os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    try:
        libc.setns(fd, libc.CLONE_NEWUSER)
    finally:
        os.close(fd)


class UsernsError(OSError):
    pass


def _unshare_mapped(map_it, what: str, default_error: str) -> None:
    """unshare(CLONE_NEWUSER) and have a helper, forked before (so still outside, with the rights
    to map us), write our maps: `map_it(pid)` runs in the helper and returns an error text or ""."""
    me = os.getpid()
    go_r, go_w = os.pipe()
    err_r, err_w = os.pipe()
    helper = os.fork()
    if helper == 0:  # pragma: no cover - runs in the forked helper
        code = 2
        try:
            os.close(go_w)
            os.close(err_r)
            if os.read(go_r, 1) == b"u":
                msg = map_it(me)
                if msg:
                    os.write(err_w, msg.encode())
                code = 1 if msg else 0
        finally:
            os._exit(code)
    os.close(go_r)
    os.close(err_w)
    try:
        try:
            libc.unshare(libc.CLONE_NEWUSER)
        except OSError:
            os.close(go_w)
            go_w = -1
            raise
        os.write(go_w, b"u")
        os.close(go_w)
        go_w = -1
        msg = b""
        while True:
            chunk = os.read(err_r, 4096)
            if not chunk:
                break
            msg += chunk
    finally:
        if go_w >= 0:
            os.close(go_w)
        os.close(err_r)
        _, status = os.waitpid(helper, 0)
    if msg or os.waitstatus_to_exitcode(status) != 0:
        raise UsernsError(1, f"{what}: " + (msg.decode(errors="replace") or default_error))


def create(m: idmap.IdMapping) -> None:
    """unshare(CLONE_NEWUSER) and get mapped: by newuidmap/newgidmap run from a helper forked
    before the unshare (still outside), or, for the single-id mapping, by writing our own maps."""
    if m.single:
        libc.unshare(libc.CLONE_NEWUSER)
        idmap.write_own_single_map(m)
        return
    _unshare_mapped(lambda pid: idmap.apply_with_helpers(pid, m),
                    "cannot set up the user namespace id mapping", "newuidmap/newgidmap failed")


def enter(m: idmap.IdMapping | None = None, holder_dir: str | None = None, *,
          register: bool = False) -> str:
    """Join a live holder's user namespace or create one; 'joined' | 'created' | 'inside'.
    The caller must be single-threaded. Afterwards it is uid 0 with all capabilities in it."""
    if m is None:
        m = mapping()
    if inside_userns():
        return "inside"
    how = ""
    if holder_dir:
        pid = find_holder(holder_dir, m)
        if pid is not None:
            try:
                join(pid)
                how = "joined"
            except OSError:
                how = ""
    if not how:
        create(m)
        how = "created"
    if register and holder_dir:
        register_holder(holder_dir, os.getpid())
    return how


def keep_id_maps(m: idmap.IdMapping) -> tuple[str, str]:
    """podman's --userns=keep-id layout, as maps of a namespace nested in the shared one (whose
    id 0 is the user): container U → the user (outer 0), 0..U-1 → outer 1..U, U+1.. → U+1..
    (U: the user's uid; the same for gids)."""
    def lines(me: int, size: int) -> str:
        if size <= 1:  # the single-id fallback: only the user exists
            return f"{me} 0 1\n"
        me = min(me, size - 1)
        out = []
        if me > 0:
            out.append(f"0 1 {me}")
        out.append(f"{me} 0 1")
        if size - me - 1 > 0:
            out.append(f"{me + 1} {me + 1} {size - me - 1}")
        return "\n".join(out) + "\n"
    return lines(m.uid, m.size), lines(m.gid, m.gid_size)


def create_keep_id(m: idmap.IdMapping) -> None:
    """From inside the shared namespace (as its root): unshare a nested user namespace with the
    keep-id maps."""
    create_nested(*keep_id_maps(m), "cannot set up the keep-id user namespace")


def create_nested(uid_text: str, gid_text: str,
                  what: str = "cannot set up the user namespace of --uidmap/--gidmap") -> None:
    """A nested user namespace with the given maps, written by a helper forked before the
    unshare (it keeps CAP_SETUID/SETGID in the shared namespace, which writing a nested map
    needs)."""

    def write_maps(pid: int) -> str:
        try:
            for name, text in (("uid_map", uid_text), ("gid_map", gid_text)):
                with open(f"/proc/{pid}/{name}", "w") as f:
                    f.write(text)
        except OSError as e:
            return f"{e.filename}: {e.strerror}"
        return ""

    _unshare_mapped(write_maps, what, "writing the id maps failed")
    os.setresgid(0, 0, 0)  # the set-up continues as the namespace's root, as elsewhere
    os.setresuid(0, 0, 0)
    # the id change cleared "dumpable": without it the user's own helpers (slirp4netns, exec)
    # could not open /proc/PID/ns/* of the container
    libc.prctl(libc.PR_SET_DUMPABLE, 1)


# --- for the storage code (callable from any process, threads or not) ---

def run_in_userns(argv: list[str], *, holder_dir: str, **popen_kwargs):
    """subprocess.Popen of argv as root inside the user's (shared or new) user namespace;
    in root mode just argv. The child sees uid 0; pass explicit paths to pypod code run this way
    (inside, pypod.paths would think it is root)."""
    import subprocess

    if not in_userns_required():
        return subprocess.Popen(argv, **popen_kwargs)
    from pypod.linux.spawn import lean_python_argv

    return subprocess.Popen(lean_python_argv("pypod.linux.usernsexec", ["--holder-dir", holder_dir, "--",
                                                                         *argv]), **popen_kwargs)


def remove_tree(path: str, *, holder_dir: str) -> None:
    """Delete a directory tree, including files owned by subordinate ids (rootless: `rm -rf`
    inside the user namespace when a plain delete is refused)."""
    import shutil

    if not os.path.lexists(path):
        return
    if not in_userns_required():
        shutil.rmtree(path)
        return
    try:
        shutil.rmtree(path)
        return
    except OSError:
        pass
    rm = "/bin/rm" if os.path.exists("/bin/rm") else "rm"
    p = run_in_userns([rm, "-rf", "--", path], holder_dir=holder_dir)
    if p.wait() != 0 or os.path.lexists(path):
        raise OSError(1, f"cannot remove {path} inside the user namespace", path)
