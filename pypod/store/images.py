"""Image records: one JSON file per image, config and manifest blobs by digest.

    images/<id>/image.json     {id, names, digests, layers, created, size, ...}
    blobs/sha256/<hex>         configs and manifests (the image id is its config digest)
    storage.lock               held for every mutation of images/ and layers/
    leases/lease-<owner>-*     image ids a live process works from (a build's intermediate
                               images): prune keeps them; a dead owner's lease is void
"""

from __future__ import annotations

import os

from pypod import jsonlite
from pypod.record import Record
from pypod.store import db, owned
from pypod.store.layers import LayerStore

LEASE = "lease-"


class ImageLease:
    """Image ids this process needs kept (`with store.lease() as lease: lease.add(id)`): prune
    and `rmi -a` leave them alone while the process lives. Add under the storage lock, or check
    the image still exists under it afterwards, so that a prune cannot slip in between."""

    def __init__(self, leases_dir: str):
        self.dir = leases_dir
        self.path = os.path.join(leases_dir, owned.name(LEASE))
        self.ids: list[str] = []

    def add(self, image_id: str) -> None:
        if image_id and image_id not in self.ids:
            self.ids.append(image_id)
            db.ensure_dir(self.dir)
            db.write_atomic(self.path, "\n".join(self.ids).encode(), 0o600, fsync=False)

    def release(self) -> None:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def __enter__(self) -> "ImageLease":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class ImageRecord(Record):
    FIELDS = (
        ("id", ""),                   # config digest hex
        ("names", list),              # "docker.io/library/busybox:latest"
        ("digests", list),            # manifest digests "sha256:..."
        ("layers", list),             # chain id hex, bottom first
        ("created", ""),              # from the config
        ("size", 0),                  # sum of the layers' uncompressed sizes
        ("manifest_digest", ""),      # the manifest this image was stored from
        ("manifest_media_type", ""),
        ("stored_at", ""),
        ("repo_digests", list),       # "name@digest" it was pulled by, kept across retagging
        ("names_history", list),      # every name it had, current ones first (podman's NamesHistory)
    )
    __slots__ = tuple(n for n, _ in FIELDS)

    @property
    def digest(self) -> str:
        return self.manifest_digest or (self.digests[0] if self.digests else "")


class ImageStore:
    # Paths are strings (os.path): the read-only commands never pay for importing pathlib.
    def __init__(self, graph_root: str | os.PathLike):
        self.graph_dir = os.fspath(graph_root)
        self.images_dir = os.path.join(self.graph_dir, "images")
        self.blobs_dir = os.path.join(self.graph_dir, "blobs", "sha256")
        self.layers = LayerStore(self.graph_dir)
        self.lock_path = os.path.join(self.graph_dir, "storage.lock")
        self.leases_dir = os.path.join(self.graph_dir, "leases")
        self.damaged: list[str] = []  # ids whose image.json is unreadable, as the last list() found

    # -- locking -------------------------------------------------------------------------------
    def lock(self, shared: bool = False):
        db.ensure_dir(self.graph_dir)
        return db.locked(self.lock_path, shared=shared)

    # -- leases --------------------------------------------------------------------------------
    def lease(self) -> ImageLease:
        return ImageLease(self.leases_dir)

    def leased_ids(self) -> set[str]:
        """Image ids live processes hold leases on (a dead owner's lease file is deleted)."""
        out: set[str] = set()
        try:
            names = os.listdir(self.leases_dir)
        except FileNotFoundError:
            return out
        for n in names:
            path = os.path.join(self.leases_dir, n)
            if not n.startswith(LEASE):
                continue
            if owned.orphaned(path, LEASE):
                try:
                    os.unlink(path)
                except OSError:
                    pass
                continue
            try:
                with open(path) as f:
                    out.update(f.read().split())
            except OSError:
                pass
        return out

    # -- blobs ---------------------------------------------------------------------------------
    def put_blob(self, data: bytes) -> str:
        import hashlib

        hexd = hashlib.sha256(data).hexdigest()
        path = os.path.join(self.blobs_dir, hexd)
        if not os.path.exists(path):
            db.ensure_dir(self.blobs_dir)
            db.write_atomic(path, data)
        return "sha256:" + hexd

    def get_blob(self, digest: str) -> bytes | None:
        try:
            with open(os.path.join(self.blobs_dir, digest.split(":", 1)[-1]), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def size(self, rec: ImageRecord) -> int:
        """An image's size as podman (containers/storage ImageSize) counts it: its layers, plus the
        metadata stored with it — the config, and the manifest twice (by digest and as "manifest")."""
        size = rec.size
        for digest, times in ((rec.id, 1), (rec.manifest_digest, 2)):
            try:
                size += times * os.stat(os.path.join(self.blobs_dir, digest.split(":", 1)[-1])).st_size
            except (FileNotFoundError, ValueError):
                pass
        return size

    def config(self, image_id: str) -> dict:
        raw = self.get_blob(image_id)
        return jsonlite.loads(raw) if raw else {}

    # -- records -------------------------------------------------------------------------------
    def list(self) -> list[ImageRecord]:
        out = []
        try:
            names = os.listdir(self.images_dir)
        except FileNotFoundError:
            return []
        damaged = []
        for n in names:
            rec = self._read(n)
            if rec is not None:
                out.append(rec)
            elif os.path.exists(os.path.join(self.images_dir, n, "image.json")):
                damaged.append(n)
        self.damaged = damaged
        return out

    def get(self, image_id: str) -> ImageRecord | None:
        return self._read(image_id)

    def _read(self, image_id: str) -> ImageRecord | None:
        path = os.path.join(self.images_dir, image_id, "image.json")
        try:
            d = db.read_record(path)
        except db.Damaged:
            db.note_damaged("image", image_id, "", path)
            return None
        return ImageRecord.from_dict(d) if d else None

    def save(self, rec: ImageRecord) -> None:
        """Write a record; the caller holds the lock."""
        # as containers/storage: names it loses stay in the history, after the current ones
        rec.names_history = list(dict.fromkeys(rec.names + rec.names_history))
        db.ensure_dir(os.path.join(self.images_dir, rec.id))
        db.write_json(os.path.join(self.images_dir, rec.id, "image.json"), rec.to_dict())

    def delete_record(self, image_id: str) -> None:
        import shutil

        shutil.rmtree(os.path.join(self.images_dir, image_id), ignore_errors=True)
        db.forget_damaged("image", image_id)

    def unreferenced_blobs(self, recs: list[ImageRecord]) -> list[str]:
        """Blob paths no image in `recs` (all of them: the caller holds the lock) refers to: configs
        and manifests of removed images, and temp files of a writer that died."""
        keep = set()
        for r in recs:
            keep.add(r.id)
            keep.update(d.split(":", 1)[-1] for d in [r.manifest_digest, *r.digests] if d)
        try:
            names = os.listdir(self.blobs_dir)
        except FileNotFoundError:
            return []
        return [os.path.join(self.blobs_dir, n) for n in names if n not in keep]

    def untag_everywhere(self, name: str, keep: str | None = None) -> None:
        """A name belongs to one image: drop it from every other record (caller holds the lock)."""
        for rec in self.list():
            if rec.id != keep and name in rec.names:
                rec.names.remove(name)
                self.save(rec)

    def layers_in_use(self, exclude: str | None = None) -> set[str]:
        used: set[str] = set()
        for rec in self.list():
            if rec.id != exclude:
                used.update(rec.layers)
        return used
