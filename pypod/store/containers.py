"""Container records: `containers/<id>/container.json` (what was asked for, written once at create
and on rename), beside the runtime's `spec.json` and `state.json` in the same directory.

Creation and removal hold `containers.lock`, so names stay unique under concurrent `run`s.
`containers/<id>/name` repeats the name: a container whose container.json is unreadable keeps it
(listed, its name taken, removable: see `placeholder`).
"""

from __future__ import annotations

import os

from pypod.record import Record
from pypod.store import db, owned
from pypod.store.container_config import ContainerConfig

TRASH = ".rm-"  # a container directory being deleted, owned (store/owned.py)
# annotation of a container that is a build's temporary work (a RUN step): its value is the
# build's owner tag; container prune leaves it alone while that process lives
WORK_OF = "io.pypod.work-of"


def live_work(rec: ContainerRecord) -> bool:
    owner = (rec.annotations or {}).get(WORK_OF)
    return bool(owner) and owned.tag_alive(owner)


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
        ("config", ContainerConfig),  # everything else create settled on (store/container_config.py)
        ("rootfs", None),             # --rootfs DIR
    )
    __slots__ = tuple(n for n, _ in FIELDS)

    def to_dict(self) -> dict:
        return dict(super().to_dict(), config=self.config.to_dict())

    @classmethod
    def from_dict(cls, d: dict):
        # "options": the untyped dict of the records written before ContainerConfig (same names)
        raw = d.get("config") if "config" in d else d.get("options")
        return super().from_dict(dict(d, config=ContainerConfig.from_dict(raw or {})))


class ContainerStore:
    def __init__(self, graph_root: str | os.PathLike):
        # plain strings: `ps` lists through this store and needs no pathlib (~4 ms to import);
        # a Path (in annotations here) is made, and pathlib imported, only where one is asked for
        self.path = os.path.join(os.fspath(graph_root), "containers")
        self.lock_file = os.path.join(os.fspath(graph_root), "containers.lock")

    @property
    def root(self) -> Path:
        from pathlib import Path

        return Path(self.path)

    @property
    def lock_path(self) -> Path:
        from pathlib import Path

        return Path(self.lock_file)

    def lock(self):
        db.ensure_dir(self.root)
        return db.locked(self.lock_path)

    def dir(self, cid: str) -> Path:
        from pathlib import Path

        return Path(self.path, cid)

    def ids(self) -> list[str]:
        try:
            return [n for n in os.listdir(self.path) if not n.startswith(".")]
        except FileNotFoundError:
            return []

    def get(self, cid: str) -> ContainerRecord | None:
        path = os.path.join(self.path, cid, "container.json")
        try:
            d = db.read_record(path)
        except db.Damaged:
            rec = placeholder(self.root / cid)
            db.note_damaged("container", cid, rec.name, path)
            return rec
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
        db.write_atomic(self.root / rec.id / "name", rec.name.encode(), fsync=False)

    def new_id(self) -> str:
        while True:
            cid = os.urandom(32).hex()  # (secrets.token_hex, without importing secrets: ~5 ms)
            if not (self.root / cid).exists():
                return cid

    def trash(self, cid: str) -> Path | None:
        """Move a container's directory out of the listing (atomic); the caller deletes it."""
        dst = self.root / owned.name(TRASH, cid)
        try:
            os.rename(self.root / cid, dst)
        except FileNotFoundError:
            return None
        db.forget_damaged("container", cid)
        return dst

    def orphans(self) -> list[str]:
        """Trash a dead process left (claimed for removal by this one)."""
        return owned.claim_orphans(self.root, (TRASH,))

    def unfinished(self) -> list[str]:
        """Directories without a container.json: a create killed between its mkdir and its
        record. Both happen under the lock, so with the lock held these are all dead."""
        return [c for c in self.ids() if not (self.root / c / "container.json").exists()]


def placeholder(cdir: Path) -> ContainerRecord:
    """What is still known of a container whose container.json is unreadable: its id, its name
    (the `name` file, or the spec's), when its directory was made, the layers it runs on (the
    spec's overlay lower dirs, top first, in config.lower). config.damaged marks it."""
    spec: dict = {}
    try:
        spec = db.read_record(cdir / "spec.json") or {}
    except db.Damaged:
        pass
    try:
        name = (cdir / "name").read_text().strip()
    except (OSError, ValueError):
        name = ""
    try:
        from pypod.units import rfc3339_nano

        created = rfc3339_nano(os.stat(cdir).st_mtime)
    except OSError:
        created = ""
    lower = (spec.get("rootfs") or {}).get("lower") or []
    # the volumes it mounts (so that `volume prune` keeps them)
    vols = os.path.join(os.path.dirname(os.path.dirname(cdir)), "volumes") + "/"
    mounts = [{"type": "volume", "name": m["source"][len(vols):].split("/")[0], "source": m["source"],
               "destination": m.get("destination", ""), "anonymous": False}
              for m in spec.get("mounts") or []
              if isinstance(m, dict) and str(m.get("source", "")).startswith(vols)]
    return ContainerRecord(id=cdir.name, name=name or str(spec.get("name") or ""), created=created,
                           config=ContainerConfig(damaged=True, lower=[str(p) for p in lower],
                                                  resolved_mounts=mounts))
