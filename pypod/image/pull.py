"""Pulling an image: manifest (index → platform), config, layers streamed into the layer store.

Each layer is downloaded in its own thread and piped into an unpack worker that runs inside the user
namespace (so image uids land on the user's subuids); the worker decompresses, hashes the diff id and
unpacks in the same pass, while this process verifies the compressed digest. A broken connection is
resumed with a Range request. Nothing is committed unless every digest matches: a failed pull leaves
no image and no layer behind.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import requests
import urllib3

from pypod.errors import DigestMismatch, PypodError, RegistryError
from pypod.image import mediatypes as mt
from pypod.image.platform import Platform, select_manifest
from pypod.image.reference import ImageReference
from pypod.image.registry import RegistryClient, _short
from pypod.report import Progress
from pypod.store.images import ImageRecord, ImageStore
from pypod.store.layers import LayerRecord, chain_ids, hex_of

CHUNK = 1 << 20
RETRIES = 3
PARALLEL = 3


@dataclass
class PullOptions:
    platform: Platform
    creds: tuple[str, str] | None = None
    authfile: str | None = None
    tls_verify: bool | None = None
    cert_dir: str | None = None


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat().replace("+00:00", "Z")


class Puller:
    def __init__(self, store: ImageStore, opts: PullOptions, progress: Progress, rootless: bool,
                 holder_dir: str):
        self.store = store
        self.opts = opts
        self.progress = progress
        self.rootless = rootless
        self.holder_dir = holder_dir  # the shared user namespace's (workers run in it)
        self.reports: list[dict] = []  # the unpack workers' reports of this pull

    # -- one reference from one endpoint -------------------------------------------------------
    def pull(self, ref: ImageReference, client: RegistryClient, repository: str,
             store_as: ImageReference | None = None) -> ImageRecord:
        """Pull `ref` (its tag or digest) through `client` from `repository` (mirrors rewrite it);
        the image is stored under the name the user asked for (`store_as`)."""
        self.reports = []
        reference = ref.digest or ref.tag or "latest"
        raw, media, mdigest = client.get_manifest(repository, reference)
        manifest = json.loads(raw)
        list_digest = None
        if media in mt.INDEXES:
            desc = select_manifest(manifest, self.opts.platform)
            if desc is None:
                avail = ", ".join(sorted({_plat(m.get("platform", {})) for m in manifest.get("manifests", [])}))
                raise RegistryError(f"choosing an image from manifest list {ref}: no image found in "
                                    f"manifest list for architecture {self.opts.platform.architecture}, "
                                    f"variant {self.opts.platform.variant!r}, OS {self.opts.platform.os} "
                                    f"(available: {avail})")
            list_digest, list_raw = mdigest, raw
            raw, media, mdigest = client.get_manifest(repository, desc["digest"])
            manifest = json.loads(raw)
        if media in (mt.DOCKER_SCHEMA1, mt.DOCKER_SCHEMA1_SIGNED) or manifest.get("schemaVersion") == 1:
            raise RegistryError(f"{ref}: Docker schema 1 manifests are not supported (the image is too old)")
        if media not in mt.MANIFESTS:
            raise RegistryError(f"{ref}: unsupported manifest media type {media!r}")

        self.progress.say("Getting image source signatures")
        cdesc = manifest["config"]
        config_raw = client.fetch_blob_bytes(repository, cdesc["digest"])
        config = json.loads(config_raw)
        diff_ids = config.get("rootfs", {}).get("diff_ids", [])
        layers = manifest.get("layers", [])
        if len(diff_ids) != len(layers):
            raise RegistryError(f"{ref}: the manifest has {len(layers)} layers but the config {len(diff_ids)} diff ids")
        chains = [hex_of(c) for c in chain_ids(diff_ids)]

        results: dict[int, tuple[Path, LayerRecord] | None] = {}
        todo = []
        for i, desc in enumerate(layers):
            if self.store.layers.exists(chains[i]):
                self.progress.layer_skip(desc["digest"])
                results[i] = None
            else:
                todo.append(i)
        try:
            for attempt in range(3):
                self._fetch_layers(client, repository, layers, diff_ids, chains, todo, results)
                if attempt == 0:
                    self.progress.say(f"Copying config {cdesc['digest']}")
                    self.progress.say("Writing manifest to image destination")
                    self.progress.say("Storing signatures")
                rec = self._commit(store_as or ref, config_raw, raw, media, mdigest, list_digest,
                                   list_raw if list_digest else None, chains, results)
                if isinstance(rec, ImageRecord):
                    from pypod.image.unpack_worker import warnings_of

                    for line in warnings_of(str(store_as or ref), self.reports):
                        self.progress.warn(line)
                    return rec
                # layers we found in the store were removed meanwhile (an `rmi` or prune of the
                # image that had them): fetch those too
                todo = [chains.index(c) for c in rec]
            raise PypodError(f"storing image {ref}: layer {rec[0]} is missing")
        finally:
            for res in results.values():
                if res is not None and res[0].exists():
                    self._remove_tmp(res[0])

    # -- layers --------------------------------------------------------------------------------
    def _fetch_layers(self, client, repository, layers, diff_ids, chains, todo, results) -> None:
        if not todo:
            return
        for i in todo:
            if results.get(i) is not None and results[i][0].exists():
                self._remove_tmp(results[i][0])
        with ThreadPoolExecutor(max_workers=min(PARALLEL, len(todo))) as pool:
            futs = {i: pool.submit(self._fetch_layer, client, repository, layers[i], diff_ids[i],
                                   chains[i], chains[i - 1] if i else None) for i in todo}
            errors = []
            for i, f in futs.items():
                try:
                    results[i] = f.result()
                except BaseException as e:  # collect: every thread must finish first
                    errors.append(e)
            if errors:
                raise errors[0]

    def _spawn_worker(self, dest: Path, compression: str) -> subprocess.Popen:
        argv = [sys.executable, "-m", "pypod.image.unpack_worker", str(dest), compression,
                "user.overlay.opaque" if self.rootless else "trusted.overlay.opaque"]
        kw = dict(stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if self.rootless:
            from pypod.linux.userns import run_in_userns

            return run_in_userns(argv, holder_dir=self.holder_dir, **kw)
        return subprocess.Popen(argv, **kw)

    def _remove_tmp(self, path: Path) -> None:
        if self.rootless:
            from pypod.linux.userns import remove_tree

            remove_tree(str(path), holder_dir=self.holder_dir)
        else:
            import shutil

            shutil.rmtree(path, ignore_errors=True)

    def _fetch_layer(self, client: RegistryClient, repository: str, desc: dict, diff_id: str,
                     chain: str, parent: str | None) -> tuple[Path, LayerRecord]:
        digest = desc["digest"]
        compression = mt.compression_of(desc.get("mediaType", mt.DOCKER_LAYER_GZIP))
        tmp = self.store.layers.new_temp()
        try:
            proc = self._spawn_worker(tmp / "diff", compression)
            try:
                got, size = self._stream_blob(client, repository, desc, proc)
            except BaseException:
                proc.kill()
                proc.wait()
                raise
            out, err = proc.communicate()
            if got != digest:
                raise DigestMismatch(f"copying blob {digest}: digest did not match, expected {digest}, got {got}")
            if proc.returncode != 0:
                msg = err.decode(errors="replace").strip().splitlines()
                raise RegistryError(f"unpacking blob {digest}: {msg[-1] if msg else 'unpack failed'}")
            res = json.loads(out)
            if res["diff_id"] != diff_id:
                raise DigestMismatch(f"copying blob {digest}: the uncompressed layer's digest {res['diff_id']} "
                                     f"does not match the config's diff id {diff_id}")
            self.progress.layer_done(digest)
            self.reports.append(res)
            rec = LayerRecord(id=chain, parent=parent, diff_id=diff_id, size=res["size"],
                              compressed_digest=digest, compressed_size=size,
                              media_type=desc.get("mediaType"), created=now_iso())
            return tmp, rec
        except BaseException:
            self._remove_tmp(tmp)
            raise

    def _stream_blob(self, client: RegistryClient, repository: str, desc: dict,
                     proc: subprocess.Popen) -> tuple[str, int]:
        digest = desc["digest"]
        h = hashlib.sha256()
        offset = 0
        tries = 0
        self.progress.layer_start(digest, desc.get("size"))
        while True:
            try:
                r = client.get_blob(repository, digest, offset)
                if offset and r.status_code != 206:
                    # The server cannot resume: skip what we already have.
                    self._skip(r, offset)
                raw = r.raw
                while True:
                    chunk = raw.read(CHUNK, decode_content=False)
                    if not chunk:
                        break
                    h.update(chunk)
                    try:
                        proc.stdin.write(chunk)
                    except BrokenPipeError:
                        err = proc.stderr.read().decode(errors="replace").strip().splitlines()
                        raise RegistryError(f"unpacking blob {digest}: {err[-1] if err else 'unpack failed'}") from None
                    offset += len(chunk)
                    from pypod import faults; faults.point("pull.layer")
                    self.progress.advance(digest, len(chunk))
                r.close()
                expected = desc.get("size")
                if expected is not None and offset < expected:
                    raise requests.exceptions.ChunkedEncodingError(f"connection closed after {offset} of {expected} bytes")
                break
            except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.ReadTimeout, ConnectionError, urllib3.exceptions.HTTPError) as e:
                tries += 1
                if tries > RETRIES:
                    raise RegistryError(f"copying blob {digest}: {_short(e)}") from None
                self.progress.say(f"Copying blob {digest}: retrying from byte {offset} after: {_short(e)[:80]}")
            except RegistryError as e:
                tries += 1
                if tries > RETRIES or "status 5" not in str(e):
                    raise
        return "sha256:" + h.hexdigest(), offset  # communicate() closes the worker's stdin

    @staticmethod
    def _skip(r, n: int) -> None:
        while n > 0:
            chunk = r.raw.read(min(CHUNK, n), decode_content=False)
            if not chunk:
                raise requests.exceptions.ChunkedEncodingError("connection closed while resuming")
            n -= len(chunk)

    # -- commit --------------------------------------------------------------------------------
    def _commit(self, ref, config_raw, manifest_raw, media, mdigest, list_digest, list_raw, chains, results):
        """Store the layers and the image; the image record, or the chain ids of layers that are
        missing (nothing stored then but the new layers)."""
        store = self.store
        image_id = hashlib.sha256(config_raw).hexdigest()
        config = json.loads(config_raw)
        with store.lock():
            for i, res in sorted(results.items()):
                if res is not None and store.layers.commit(res[0], res[1]):
                    results[i] = None
            from pypod import faults; faults.point("pull.commit")
            missing = [c for c in chains if not store.layers.exists(c)]
            if missing:
                return missing
            store.put_blob(config_raw)
            store.put_blob(manifest_raw)
            if list_raw:
                store.put_blob(list_raw)
            rec = store.get(image_id) or ImageRecord(id=image_id, stored_at=now_iso())
            rec.layers = chains
            rec.created = config.get("created", "")
            rec.size = sum((store.layers.get(c).size if store.layers.get(c) else 0) for c in chains)
            rec.manifest_digest = mdigest
            rec.manifest_media_type = media
            for d in (mdigest, list_digest):
                if d and d not in rec.digests:
                    rec.digests.append(d)
            repo = ref.name()
            for d in (mdigest, list_digest):
                rd = f"{repo}@{d}" if d else None
                if rd and rd not in rec.repo_digests:
                    rec.repo_digests.append(rd)
            if ref.tag and not ref.digest:
                name = f"{repo}:{ref.tag}"
                store.untag_everywhere(name, keep=image_id)
                if name not in rec.names:
                    rec.names.append(name)
            store.save(rec)
        return rec


def _plat(p: dict) -> str:
    return "/".join(x for x in (p.get("os"), p.get("architecture"), p.get("variant")) if x)
