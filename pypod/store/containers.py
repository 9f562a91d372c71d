"""Container records: `containers/<id>/container.json` (what was asked for, written once at create
and on rename), beside the runtime's `spec.json` and `state.json` in the same directory.

Creation and removal hold `containers.lock`, so names stay unique under concurrent `run`s.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from pypod.store import db


@dataclass
class ContainerRecord:
    id: str
    name: str
    image_id: str
    image_name: str
    created: str                       # RFC 3339 with nanoseconds
    command: list[str] = field(default_factory=list)      # the full argv (entrypoint + cmd)
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    labels: dict = field(default_factory=dict)
    annotations: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)           # everything else create was given
    rootfs: str | None = None                             # --rootfs DIR

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, d: dict) -> "ContainerRecord":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


class ContainerStore:
    def __init__(self, graph_root: Path):
        self.root = Path(graph_root) / "containers"
        self.lock_path = Path(graph_root) / "containers.lock"

    def lock(self):
        db.ensure_dir(self.root)
        return db.locked(self.lock_path)

    def dir(self, cid: str) -> Path:
        return self.root / cid

    def ids(self) -> list[str]:
        try:
            return [n for n in os.listdir(self.root) if not n.startswith(".")]
        except FileNotFoundError:
            return []

    def get(self, cid: str) -> ContainerRecord | None:
        d = db.read_json(self.root / cid / "container.json")
        return ContainerRecord.from_dict(d) if d else None

    def list(self) -> list[ContainerRecord]:
        out = []
        for cid in self.ids():
            rec = self.get(cid)
            if rec:
                out.append(rec)
        return out

    def save(self, rec: ContainerRecord) -> None:
        db.ensure_dir(self.root / rec.id)
        db.write_json(self.root / rec.id / "container.json", rec.to_dict())

    def new_id(self) -> str:
        while True:
            cid = secrets.token_hex(32)
            if not (self.root / cid).exists():
                return cid

    def trash(self, cid: str) -> Path | None:
        """Move a container's directory out of the listing (atomic); the caller deletes it."""
        src = self.root / cid
        if not src.exists():
            return None
        dst = self.root / f".rm-{cid}-{secrets.token_hex(4)}"
        os.rename(src, dst)
        return dst

    def trash_dirs(self) -> list[Path]:
        try:
            return [self.root / n for n in os.listdir(self.root) if n.startswith(".rm-")]
        except FileNotFoundError:
            return []
