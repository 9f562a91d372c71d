"""Resolve a container path inside a root directory, following symlinks as the container would
(an absolute link target restarts at the root, `..` stops at the root), never out to the host.
The filepath-securejoin algorithm; the result is a host path under `root`."""

from __future__ import annotations

import os

MAX_LINKS = 255


class PathEscape(OSError):
    pass


def secure_join(root: str, path: str) -> str:
    """Host path of container path `path` in `root` (components that do not exist are appended
    as they are; symlinks among the existing ones are resolved inside root)."""
    root = os.path.abspath(root)
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
        host = os.path.join(root, *resolved, comp)
        try:
            target = os.readlink(host)
        except OSError:
            resolved.append(comp)  # not a symlink, or does not exist
            continue
        links += 1
        if links > MAX_LINKS:
            raise PathEscape(40, "too many levels of symbolic links", path)
        if target.startswith("/"):
            resolved = []
        for c in reversed([c for c in target.split("/") if c]):
            pending.append(c)
    return os.path.join(root, *resolved)


def in_root(root: str, host_path: str) -> bool:
    root = os.path.abspath(root)
    p = os.path.abspath(host_path)
    return p == root or p.startswith(root.rstrip("/") + "/")
