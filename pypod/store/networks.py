"""Network records: `networks/<name>.json`, each exactly podman's `network inspect` object for that
network (netavark's format, the file podman itself keeps in `$graphroot/networks`).

Creation and removal hold `networks.lock`, so concurrent creates never hand out the same name,
subnet or interface. The default `podman` network has no record: it always exists.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pypod.store import db


class NetworkStore:
    def __init__(self, graph_root: Path):
        self.root = Path(graph_root) / "networks"
        self.lock_path = Path(graph_root) / "networks.lock"

    def lock(self):
        db.ensure_dir(self.root)
        return db.locked(self.lock_path)

    def path(self, name: str) -> Path:
        return self.root / f"{name}.json"

    def names(self) -> list[str]:
        try:
            return sorted(n[:-5] for n in os.listdir(self.root)
                          if n.endswith(".json") and not n.startswith("."))
        except FileNotFoundError:
            return []

    def get(self, name: str) -> dict | None:
        if not name or "/" in name or name.startswith("."):
            return None
        try:
            d = db.read_record(self.path(name))
        except db.Damaged:
            db.note_damaged("network", name, name, self.path(name))
            return None
        return d if isinstance(d, dict) and d.get("name") == name else None

    def damaged(self, name: str) -> bool:
        """Whether `name` has a record that cannot be read (`network rm` still removes it)."""
        if not name or "/" in name or name.startswith("."):
            return False
        try:
            db.read_record(self.path(name))
        except db.Damaged:
            return True
        return False

    def list(self) -> list[dict]:
        out = []
        for n in self.names():
            rec = self.get(n)
            if rec is not None:
                out.append(rec)
        return out

    def save(self, rec: dict) -> None:
        db.ensure_dir(self.root)
        # podman's own layout (5-space indent), so a record reads the same as `network inspect`.
        db.write_atomic(self.path(rec["name"]), json.dumps(rec, indent=5).encode() + b"\n", mode=0o644)

    def delete(self, name: str) -> bool:
        try:
            os.unlink(self.path(name))
        except FileNotFoundError:
            return False
        db.forget_damaged("network", name)
        return True
