"""Resolve a container path inside a root directory, following symlinks as the container would
(an absolute link target restarts at the root, `..` stops at the root), never out to the host.

Two forms. `secure_join` (the filepath-securejoin algorithm) returns a host path under `root`: fine
for a tree nobody changes meanwhile (a layer being unpacked, a rootfs before the container starts).
`open_in_root` / `open_parent` return file descriptors resolved by the kernel relative to a
directory fd held open (openat2 RESOLVE_IN_ROOT, or a per-component O_NOFOLLOW walk on kernels
without it): for a tree a running container may change under us, where a symlink swapped in after a
path was resolved must never be followed on the host."""

from __future__ import annotations

import errno
import os

MAX_LINKS = 255


class PathEscape(OSError):
    pass


def resolve_lexically(path: str, readlink, follow_last: bool = True) -> list[str]:
    """The components of `path` with its symlinks resolved inside a root. readlink(components)
    → the link's target, or None when that path is not a symlink (or does not exist)."""
    pending = [c for c in path.split("/") if c]
    pending.reverse()
    resolved: list[str] = []
    links = 0
    while pending:
        comp = pending.pop()
        if comp == ".":
            continue
        if comp == "..":
            if resolved:
                resolved.pop()
            continue
        target = readlink(resolved + [comp]) if (pending or follow_last) else None
        if target is None:
            resolved.append(comp)  # not a symlink, or does not exist
            continue
        links += 1
        if links > MAX_LINKS:
            raise PathEscape(errno.ELOOP, "too many levels of symbolic links", path)
        if target.startswith("/"):
            resolved = []
        pending.extend(reversed([c for c in target.split("/") if c]))
    return resolved


def secure_join(root: str, path: str) -> str:
    """Host path of container path `path` in `root` (components that do not exist are appended
    as they are; symlinks among the existing ones are resolved inside root)."""
    root = os.path.abspath(root)

    def readlink(parts: list[str]) -> str | None:
        try:
            return os.readlink(os.path.join(root, *parts))
        except OSError:
            return None

    return os.path.join(root, *resolve_lexically(path, readlink))


def in_root(root: str, host_path: str) -> bool:
    root = os.path.abspath(root)
    p = os.path.abspath(host_path)
    return p == root or p.startswith(root.rstrip("/") + "/")


# -- descriptor-based resolution ----------------------------------------------------------------
_have_openat2: bool | None = None


def open_in_root(rootfd: int, path: str, flags: int = os.O_PATH, mode: int = 0,
                 follow_last: bool = True, mkdirs: bool = False) -> int:
    """An fd for container path `path` under the directory `rootfd`, every symlink resolved inside
    it (the last one too unless follow_last is false: then a symlink is opened as itself with
    O_PATH, or refused with ELOOP otherwise). mkdirs: directories missing on the way, the last
    component included, are made (0755) where the symlinks lead inside the root. Creating a file is the caller's business:
    open_parent, then the *at calls on its name."""
    global _have_openat2
    rel = "/".join(c for c in path.split("/") if c) or "."
    if not follow_last:
        flags |= os.O_NOFOLLOW
    if _have_openat2 is not False:
        from pypod.linux import libc

        res = libc.RESOLVE_IN_ROOT | libc.RESOLVE_NO_MAGICLINKS
        for _ in range(8):
            try:
                fd = libc.openat2(rootfd, rel, flags | os.O_CLOEXEC, mode, res)
                _have_openat2 = True
                return fd
            except OSError as e:
                # EAGAIN: a rename anywhere raced a scoped `..` (a container renaming in a loop
                # would make it persist: the walk below does not care); ENOENT with mkdirs: the
                # walk makes the directories
                if e.errno == errno.EAGAIN:
                    continue
                if e.errno == errno.ENOENT and mkdirs:
                    break
                if e.errno in (errno.ENOSYS, errno.EPERM) and _have_openat2 is None:
                    _have_openat2 = False  # an old kernel or a seccomp filter: walk by hand
                    break
                raise OSError(e.errno, os.strerror(e.errno), path) from None
    return _walk_open(rootfd, path, flags, mode, follow_last, mkdirs)


def _walk_open(rootfd: int, path: str, flags: int, mode: int, follow_last: bool,
               mkdirs: bool = False) -> int:
    """open_in_root without openat2: one O_PATH|O_NOFOLLOW step per component, symlinks read with
    readlinkat and resolved from the root again, `..` taken from the stack of directories walked
    (lexically, never through the file system), so a component swapped for a symlink meanwhile is
    either seen as that symlink or refused — never followed."""
    import stat as _st

    stack = [os.dup(rootfd)]  # fds of the directories walked, stack[0] the root
    pending = [c for c in path.split("/") if c]
    pending.reverse()
    links = 0
    name = "."  # what to open in stack[-1] at the end ("." the directory itself)
    try:
        while pending:
            comp = pending.pop()
            name = "."
            if comp == ".":
                continue
            if comp == "..":
                if len(stack) > 1:
                    os.close(stack.pop())
                continue
            last = not pending
            try:
                fd = os.open(comp, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=stack[-1])
            except FileNotFoundError:
                if not mkdirs:
                    raise
                links += 1  # bounds the loop should the name keep vanishing
                if links > MAX_LINKS:
                    raise
                try:
                    os.mkdir(comp, 0o755, dir_fd=stack[-1])
                except FileExistsError:
                    pass
                pending.append(comp)  # look again: what is there now decides
                continue
            st = os.fstat(fd)
            if _st.S_ISLNK(st.st_mode) and (not last or follow_last):
                os.close(fd)
                target = os.readlink(comp, dir_fd=stack[-1])
                links += 1
                if links > MAX_LINKS:
                    raise PathEscape(errno.ELOOP, "too many levels of symbolic links", path)
                if target.startswith("/"):
                    for d in stack[1:]:
                        os.close(d)
                    del stack[1:]
                pending.extend(reversed([c for c in target.split("/") if c]))
                continue
            if last:
                os.close(fd)
                name = comp
                break
            if not _st.S_ISDIR(st.st_mode):
                os.close(fd)
                raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
            stack.append(fd)
        # O_NOFOLLOW: a symlink swapped in since the check is refused (or opened as itself)
        return os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=stack[-1])
    except OSError as e:
        raise OSError(e.errno, os.strerror(e.errno), path) from None
    finally:
        for d in stack:
            os.close(d)


def open_parent(rootfd: int, path: str, mkdirs: bool = False) -> tuple[int, str]:
    """(fd of the directory that holds `path`, resolved inside the root; the last name), for the
    *at calls that act on that name without following it (dir_fd=..., follow_symlinks=False).
    The name is "" when the path names a directory by itself (the root, or a path ending in
    `.` or `..`): then the fd is that directory. mkdirs: missing directories above are made."""
    parts = [c for c in path.split("/") if c]
    if not parts or parts[-1] in (".", ".."):
        return open_in_root(rootfd, path, os.O_PATH | os.O_DIRECTORY, mkdirs=mkdirs), ""
    return (open_in_root(rootfd, "/".join(parts[:-1]), os.O_PATH | os.O_DIRECTORY, mkdirs=mkdirs),
            parts[-1])
