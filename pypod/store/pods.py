"""Pod records: `pods/<id>/pod.json`, written atomically (db.write_json) like container records.

`pods.lock` guards creation (unique names); `pods/<id>/lock` is the pod's own lock,
taken before any container lock (order: pod → container → …, engine/locking.py).
Which containers belong to a pod is not stored here: each member's record names its pod
(options["pod"]), so a crash can never leave the two lists disagreeing.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from pypod.record import Record
from pypod.store import db


class PodRecord(Record):
    FIELDS = (
        ("id", ""),
        ("name", ""),
        ("created", ""),              # RFC 3339 with nanoseconds
        ("hostname", ""),             # as given with --hostname ("": the pod's name in its containers)
        ("labels", dict),
        ("shared", list),             # namespaces the members share: ipc net uts (podman's order)
        ("infra_id", ""),             # "" with --infra=false
        ("create_command", list),
        ("infra_config", dict),       # what the infra was created with (pod inspect's InfraConfig)
        ("volumes", list),            # --volume: given to every member
        ("exit_policy", "continue"),
    )
    __slots__ = tuple(n for n, _ in FIELDS)


class PodStore:
    def __init__(self, graph_root: Path):
        self.root = Path(graph_root) / "pods"
        self.lock_path = Path(graph_root) / "pods.lock"

    def lock(self):
        """Held while a pod is created (names stay unique); removal is one rename."""
        db.ensure_dir(self.root)
        return db.locked(self.lock_path)

    def pod_lock(self, pid: str):
        """The pod's own lock: first in the lock order."""
        return db.locked(self.root / pid / "lock")

    def dir(self, pid: str) -> Path:
        return self.root / pid

    def ids(self) -> list[str]:
        try:
            return [n for n in os.listdir(self.root) if not n.startswith(".")]
        except FileNotFoundError:
            return []

    def get(self, pid: str) -> PodRecord | None:
        try:
            d = db.read_record(self.root / pid / "pod.json")
        except db.Damaged:
            return None
        return PodRecord.from_dict(d) if d else None

    def list(self) -> list[PodRecord]:
        return [r for r in (self.get(p) for p in self.ids()) if r is not None]

    def save(self, rec: PodRecord) -> None:
        db.ensure_dir(self.root / rec.id)
        db.write_json(self.root / rec.id / "pod.json", rec.to_dict())

    def new_id(self) -> str:
        while True:
            pid = os.urandom(32).hex()
            if not (self.root / pid).exists():
                return pid

    def remove(self, pid: str) -> None:
        """Out of the listing at once (rename), then deleted."""
        src = self.root / pid
        dst = self.root / f".rm-{pid}-{os.getpid()}"
        try:
            os.rename(src, dst)
        except FileNotFoundError:
            return
        shutil.rmtree(dst, ignore_errors=True)
