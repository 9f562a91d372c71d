"""Unpacked layers, stored once by chain id and shared between images.

    layers/<chainid>/diff/         the unpacked layer (an overlay lower dir)
    layers/<chainid>/layer.json    {id, parent, diff_id, compressed_digest, size, ...}
    layers/.tmp-<owner>-*/         layers being unpacked or removed, owned (store/owned.py): only a
                                   dead owner's are reaped

A layer directory is complete exactly when its layer.json exists: unpacking happens in a temp dir
and is renamed into place under the storage lock.
"""

from __future__ import annotations

import os

from pypod.record import Record
from pypod.store import db, owned

TEMP = ".tmp-"  # the prefix of every owned temp entry under layers/


def chain_ids(diff_ids: list[str]) -> list[str]:
    """OCI chain ids (as "sha256:<hex>") for a list of diff ids, bottom layer first."""
    import hashlib

    out: list[str] = []
    for d in diff_ids:
        if not out:
            out.append(d)
        else:
            out.append("sha256:" + hashlib.sha256(f"{out[-1]} {d}".encode()).hexdigest())
    return out


def hex_of(digest: str) -> str:
    return digest.split(":", 1)[1] if ":" in digest else digest


class LayerRecord(Record):
    FIELDS = (
        ("id", ""),                   # chain id hex
        ("parent", None),
        ("diff_id", ""),              # "sha256:..."
        ("size", 0),                  # uncompressed bytes
        ("compressed_digest", None),
        ("compressed_size", None),
        ("media_type", None),
        ("created", ""),
        ("extra", dict),
    )
    __slots__ = tuple(n for n, _ in FIELDS)


TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path


class LayerStore:
    def __init__(self, graph_root: str | os.PathLike):
        self.root_dir = os.path.join(os.fspath(graph_root), "layers")

    @property
    def root(self) -> Path:
        from pathlib import Path  # on demand: the read-only commands never import pathlib

        return Path(self.root_dir)

    def path(self, layer_id: str) -> Path:
        return self.root / layer_id

    def diff_dir(self, layer_id: str) -> Path:
        return self.root / layer_id / "diff"

    def exists(self, layer_id: str) -> bool:
        return os.path.exists(os.path.join(self.root_dir, layer_id, "layer.json"))

    def get(self, layer_id: str) -> LayerRecord | None:
        d = db.read_json(os.path.join(self.root_dir, layer_id, "layer.json"))
        if not d:
            return None
        return LayerRecord.from_dict(d)

    def ids(self) -> list[str]:
        try:
            return [n for n in os.listdir(self.root_dir) if not n.startswith(".")]
        except FileNotFoundError:
            return []

    def new_temp(self) -> Path:
        """A fresh temp layer dir with an empty diff/ inside, owned by this process."""
        db.ensure_dir(self.root)
        tmp = self.root / owned.name(TEMP)
        (tmp / "diff").mkdir(parents=True, mode=0o755)
        return tmp

    def commit(self, tmp: Path, record: LayerRecord) -> bool:
        """Move a finished temp layer into place; False (and tmp left for removal) if it exists.

        The caller holds the storage lock."""
        final = self.root / record.id
        if (final / "layer.json").exists():
            return False
        if final.exists():
            # A leftover from a crash between rename and record: replace it.
            os.rename(final, self.root / owned.name(TEMP, "stale"))
        db.write_json(tmp / "layer.json", record.to_dict())
        from pypod import faults; faults.point("layer.commit")
        os.rename(tmp, final)
        return True

    def trash(self, layer_id: str) -> Path | None:
        """Rename a layer out of the store to a temp name of ours (the caller holds the lock and
        deletes it); None if it is not there."""
        dead = self.root / owned.name(TEMP, "rm")
        try:
            os.rename(self.root / layer_id, dead)
        except FileNotFoundError:
            return None
        return dead

    def orphans(self) -> list[str]:
        """Temp dirs a dead process left (claimed for removal by this one)."""
        return owned.claim_orphans(self.root_dir, (TEMP,))
