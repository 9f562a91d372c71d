"""Pushing an image to a registry (Docker Registry HTTP API v2).

Layers are re-created from storage (by the caller's `stored`, engine.transport.StoredLayers),
gzip-compressed. Before making a blob, the registry is asked (HEAD) for the digest that layer had
last time: what it already has is skipped without reading the layer at all. Uploads are monolithic (POST, then PUT with the
digest; started again after a dropped connection or a 5xx), the config follows, and the manifest
(Docker schema 2 or OCI) is PUT last.
"""

from __future__ import annotations

import hashlib

from pypod.errors import PypodError, RegistryError
from pypod.image import mediatypes as mt
from pypod.image.registry import RegistryClient, registry_error


UPLOAD_TRIES = 3


class _Transient(Exception):
    """A failure another try may not have (carries the error to report if none succeeds)."""

    def __init__(self, error: Exception):
        super().__init__(str(error))
        self.error = error


def _checked(error: Exception, status: int) -> Exception:
    """The error to raise for an HTTP status: transient for 5xx and 429."""
    return _Transient(error) if status >= 500 or status == 429 else error


class Pusher:
    def __init__(self, client: RegistryClient, repository: str, progress):
        self.client = client
        self.repository = repository
        self.progress = progress

    def has_blob(self, digest: str) -> bool:
        r = self.client.request("HEAD", f"/v2/{self.repository}/blobs/{digest}", repository=self.repository,
                                actions="pull,push")
        r.close()
        if r.status_code == 200:
            return True
        if r.status_code == 404:
            return False
        raise registry_error(r, f"checking whether a blob {digest} exists in {self.client.host}/{self.repository}")

    def upload(self, digest: str, path: str | None = None, data: bytes | None = None) -> None:
        """Upload a blob; a dropped connection or a 5xx/429 answer starts the upload again
        (three tries, with a short back-off), as podman's retries do."""
        import time

        for attempt in range(UPLOAD_TRIES):
            try:
                self._upload_once(digest, path, data)
                return
            except _Transient as e:
                if attempt == UPLOAD_TRIES - 1:
                    raise e.error from None
                time.sleep(0.5 * 3 ** attempt)

    def _upload_once(self, digest: str, path: str | None, data: bytes | None) -> None:
        repo = self.repository
        where = f"/v2/{repo}/blobs/uploads/"
        r = self._request("POST", where)
        r.close()
        if r.status_code != 202:
            raise _checked(registry_error(r, f"writing blob: initiating layer upload to {where} in "
                                             f"{self.client.host}"), r.status_code)
        loc = r.headers.get("Location")
        if not loc:
            raise RegistryError(f"writing blob: the registry {self.client.host} gave no upload location")
        if not loc.startswith("http"):
            loc = self.client.base + ("" if loc.startswith("/") else "/") + loc
        url = loc + ("&" if "?" in loc else "?") + "digest=" + digest
        headers = {"Content-Type": "application/octet-stream"}
        if path is not None:
            with open(path, "rb") as f:
                import os

                headers["Content-Length"] = str(os.fstat(f.fileno()).st_size)
                r = self._request("PUT", url, headers=headers, data=f)
        else:
            headers["Content-Length"] = str(len(data or b""))
            r = self._request("PUT", url, headers=headers, data=data or b"")
        r.close()
        if r.status_code not in (201, 204):
            raise _checked(registry_error(r, f"writing blob: uploading layer to {self.client.host}/{repo}"),
                           r.status_code)

    def _request(self, method: str, url: str, **kw):
        try:
            return self.client.request(method, url, repository=self.repository, actions="pull,push", **kw)
        except RegistryError as e:  # the connection failed: worth another try
            raise _Transient(e) from None

    def put_manifest(self, reference: str, raw: bytes, media: str) -> str:
        repo = self.repository
        r = self.client.request("PUT", f"/v2/{repo}/manifests/{reference}", repository=repo, actions="pull,push",
                                headers={"Content-Type": media}, data=raw)
        r.close()
        if r.status_code not in (200, 201, 202):
            raise registry_error(r, f"writing manifest: uploading manifest {reference} to {self.client.host}/{repo}")
        return "sha256:" + hashlib.sha256(raw).hexdigest()


def push_image(stored, rec, client: RegistryClient, repository: str, tag: str, fmt: str, progress) -> str:
    """Push image record `rec` as repository:tag; the manifest digest. `stored` gives the layers'
    records and blobs and the config from storage (engine.transport.StoredLayers)."""
    from pypod.image.archive import LayerBlob

    pusher = Pusher(client, repository, progress)
    docker = fmt == "v2s2"
    progress.say("Getting image source signatures")
    tmp = None
    layers = []
    try:
        for chain in rec.layers:
            orig = stored.record(chain)
            if orig is not None and orig.compressed_digest and orig.diff_id and \
                    "gzip" in (orig.media_type or "") and pusher.has_blob(orig.compressed_digest):
                # the very blob it was pulled as (same registry, or mounted there): nothing to make
                progress.layer_skip(orig.compressed_digest)
                layers.append(LayerBlob("", orig.diff_id, orig.compressed_digest,
                                                  orig.compressed_size or 0, True))
                continue
            known = stored.recreated(chain)
            if known.get("gzip_digest") and known.get("diff_id") and pusher.has_blob(known["gzip_digest"]):
                progress.layer_skip(known["gzip_digest"])
                layers.append(LayerBlob("", known["diff_id"], known["gzip_digest"],
                                                  known["gzip_size"], True))
                continue
            if tmp is None:
                tmp = stored.work_dir()
            blob = stored.gzip_blob(chain, tmp)
            if pusher.has_blob(blob.digest):
                progress.layer_skip(blob.digest)
            else:
                progress.layer_start(blob.digest, blob.size)
                pusher.upload(blob.digest, path=blob.path)
                progress.advance(blob.digest, blob.size)
                progress.layer_done(blob.digest)
            import os

            os.unlink(blob.path)
            layers.append(blob)
        config = stored.config(rec, [b.diff_id for b in layers])
        cdigest = "sha256:" + hashlib.sha256(config).hexdigest()
        progress.say(f"Copying config {cdigest}")
        if not pusher.has_blob(cdigest):
            pusher.upload(cdigest, data=config)
        from pypod.image.archive import oci_manifest

        raw = oci_manifest(config, layers, docker=docker)
        progress.say("Writing manifest to image destination")
        digest = pusher.put_manifest(tag, raw, mt.DOCKER_MANIFEST if docker else mt.OCI_MANIFEST)
        progress.say("Storing signatures")
        return digest
    finally:
        if tmp is not None:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)


def check_format(fmt: str | None, image_media: str) -> str:
    """'oci' or 'v2s2' from --format (default: the image's own manifest type)."""
    if fmt is None or fmt == "":
        return "v2s2" if image_media == mt.DOCKER_MANIFEST else "oci"
    f = fmt.lower()
    if f in ("oci",):
        return "oci"
    if f in ("v2s2", "docker"):
        return "v2s2"
    if f == "v2s1":
        raise PypodError("the v2s1 manifest format is not supported: use oci or v2s2")
    raise PypodError(f"unknown format {fmt!r}. Choose on of the supported formats: 'oci', 'v2s1', or 'v2s2'")
