"""Container records: `containers/<id>/container.json` (what was asked for, written once at create
and on rename), beside the runtime's `spec.json` and `state.json` in the same directory.

Creation and removal hold `containers.lock`, so names stay unique under concurrent `run`s.
"""

from __future__ import annotations

import os
from pathlib import Path

from pypod.record import Record
from pypod.store import db


class ContainerRecord(Record):
    FIELDS = (
        ("id", ""),
        ("name", ""),
        ("image_id", ""),
        ("image_name", ""),
        ("created", ""),              # RFC 3339 with nanoseconds
        ("command", list),            # the full argv (entrypoint + cmd)
        ("entrypoint", list),
        ("cmd", list),
        ("labels", dict),
        ("annotations", dict),
        ("options", dict),            # everything else create was given
        ("rootfs", None),             # --rootfs DIR
    )
    __slots__ = tuple(n for n, _ in FIELDS)


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

    def save(self, rec: ContainerRecord, fsync: bool = True) -> None:
        """fsync=False for a new record: a crash can then only lose it whole (a torn or empty
        container.json reads as no container), which is the state before the create."""
        db.ensure_dir(self.root / rec.id)
        db.write_json(self.root / rec.id / "container.json", rec.to_dict(), fsync=fsync)

    def new_id(self) -> str:
        while True:
            cid = os.urandom(32).hex()  # (secrets.token_hex, without importing secrets: ~5 ms)
            if not (self.root / cid).exists():
                return cid

    def trash(self, cid: str) -> Path | None:
        """Move a container's directory out of the listing (atomic); the caller deletes it."""
        src = self.root / cid
        if not src.exists():
            return None
        import secrets

        dst = self.root / f".rm-{cid}-{secrets.token_hex(4)}"
        os.rename(src, dst)
        return dst

    def trash_dirs(self) -> list[Path]:
        try:
            return [self.root / n for n in os.listdir(self.root) if n.startswith(".rm-")]
        except FileNotFoundError:
            return []
