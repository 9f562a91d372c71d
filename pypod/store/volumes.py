"""Volume records: `volumes/<name>/volume.json` beside the data directory `volumes/<name>/_data`.

Creation and removal hold `volumes.lock`, so names stay unique under concurrent creates.
"""

from __future__ import annotations

import os
from pathlib import Path

from pypod.record import Record
from pypod.store import db, owned

TRASH = ".removing-"  # a volume directory being deleted, owned (store/owned.py)


class VolumeRecord(Record):
    FIELDS = (
        ("name", ""),
        ("driver", "local"),
        ("created", ""),          # RFC 3339 with nanoseconds
        ("labels", dict),
        ("options", dict),        # --opt type=, device=, o=
        ("anonymous", False),
        ("needs_copy_up", True),  # filled with image content on its first mount over some
        ("needs_chown", True),
    )
    __slots__ = tuple(n for n, _ in FIELDS)


class VolumeStore:
    RECORD = "volume.json"

    def __init__(self, volumes_dir: Path):
        self.root = Path(volumes_dir)
        self.lock_path = self.root.parent / "volumes.lock"

    def lock(self):
        db.ensure_dir(self.root)
        return db.locked(self.lock_path)

    def dir(self, name: str) -> Path:
        return self.root / name

    def data_dir(self, name: str) -> Path:
        return self.root / name / "_data"

    def names(self) -> list[str]:
        try:
            return sorted(n for n in os.listdir(self.root)
                          if not n.startswith(".") and os.path.exists(self.root / n / self.RECORD))
        except FileNotFoundError:
            return []

    def get(self, name: str) -> VolumeRecord | None:
        if not name or "/" in name or name.startswith("."):
            return None
        path = self.root / name / self.RECORD
        try:
            d = db.read_record(path)
        except db.Damaged:
            # listed (its name stays taken) and removable; never filled or chowned again
            db.note_damaged("volume", name, name, path)
            return VolumeRecord(name=name, needs_copy_up=False, needs_chown=False,
                                options={"damaged": True}, created=_mtime_text(path))
        return VolumeRecord.from_dict(d) if d else None

    def list(self) -> list[VolumeRecord]:
        out = []
        for n in self.names():
            rec = self.get(n)
            if rec is not None:
                out.append(rec)
        return out

    def save(self, rec: VolumeRecord) -> None:
        d = self.dir(rec.name)
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
        db.write_json(d / self.RECORD, rec.to_dict(), mode=0o600)

    def trash(self, name: str) -> Path | None:
        """Take a volume out of the namespace (rename to a dot dir); the caller deletes it."""
        dead = self.root / owned.name(TRASH, name)
        try:
            os.rename(self.dir(name), dead)
        except FileNotFoundError:
            return None
        db.forget_damaged("volume", name)
        return dead

    def orphans(self) -> list[str]:
        """Trash a dead process left (claimed for removal by this one)."""
        return owned.claim_orphans(self.root, (TRASH,))


def _mtime_text(path: Path) -> str:
    from pypod.units import rfc3339_nano

    try:
        return rfc3339_nano(os.stat(path).st_mtime)
    except OSError:
        return ""
