"""The build cache: `graph_root/build-cache/<key>` holds the id of the image a step made.

key = sha256 of (parent image id, the instruction after ARG substitution, what it read: the digest of
the COPY/ADD sources, the build args a RUN sees, the timestamp asked for). A hit whose image is gone
is a miss."""

from __future__ import annotations

import hashlib
import os


def key(*parts: str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode())
        h.update(b"\0")
    return h.hexdigest()


class BuildCache:
    def __init__(self, graph_root):
        self.dir = os.path.join(str(graph_root), "build-cache")

    def get(self, k: str) -> str | None:
        try:
            with open(os.path.join(self.dir, k)) as f:
                return f.read().strip() or None
        except OSError:
            return None

    def put(self, k: str, image_id: str) -> None:
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        tmp = os.path.join(self.dir, f".{k}.{os.getpid()}")
        with open(tmp, "w") as f:
            f.write(image_id)
        os.replace(tmp, os.path.join(self.dir, k))
