"""Build OCI/Docker images and push them to a registry without any container tool.

    layer = Layer.from_files([file("etc/motd", "hi\\n"), symlink("bin/sh", "busybox")])
    digest = push_image("http://localhost:5000", "demo", "latest", [layer], {"Cmd": ["sh"]})
    push_index(url, "demo", "multi", {"linux/amd64": d1, "linux/arm64/v8": d2})

Everything here is deterministic (fixed mtimes, gzip without a timestamp): the same inputs give the
same digests on every run, which is what lets the seeding skip work already done.
"""

from __future__ import annotations

import base64
import dataclasses
import gzip
import hashlib
import io
import json
import os
import re
import tarfile
import zlib
from typing import Callable, Iterable, Mapping, Sequence
from urllib.parse import quote, urljoin

MTIME = 1700000000
CREATED = "2023-11-14T22:13:20Z"  # = MTIME

# Media types
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_TAR = "application/vnd.docker.image.rootfs.diff.tar"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"

MANIFEST_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST)
ACCEPT_ALL = ", ".join(MANIFEST_TYPES)

DEFAULT_ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


# ---------------------------------------------------------------------------------------------
# Layer entries


@dataclasses.dataclass
class Entry:
    """One tar member. kind: file dir symlink hardlink char block fifo."""

    path: str
    kind: str = "file"
    data: bytes = b""
    mode: int | None = None
    uid: int = 0
    gid: int = 0
    target: str = ""
    major: int = 0
    minor: int = 0
    mtime: int = MTIME
    xattrs: Mapping[str, str] | None = None

    def tarinfo(self) -> tarfile.TarInfo:
        kinds = {
            "file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
            "hardlink": tarfile.LNKTYPE, "char": tarfile.CHRTYPE, "block": tarfile.BLKTYPE,
            "fifo": tarfile.FIFOTYPE,
        }
        # TarInfo keeps the name exactly as given: '../x' and '/x' stay hostile on purpose.
        ti = tarfile.TarInfo(self.path)
        ti.type = kinds[self.kind]
        default_mode = {"dir": 0o755, "symlink": 0o777}.get(self.kind, 0o644)
        ti.mode = default_mode if self.mode is None else self.mode
        ti.uid, ti.gid = self.uid, self.gid
        ti.uname = ti.gname = ""
        ti.mtime = self.mtime
        if self.kind in ("symlink", "hardlink"):
            ti.linkname = self.target
        if self.kind in ("char", "block"):
            ti.devmajor, ti.devminor = self.major, self.minor
        if self.kind == "file":
            ti.size = len(self.data)
        if self.xattrs:
            ti.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in self.xattrs.items()}
        return ti


def _b(data: bytes | str) -> bytes:
    return data.encode() if isinstance(data, str) else data


def file(path: str, data: bytes | str = b"", mode: int = 0o644, uid: int = 0, gid: int = 0,
         **kw) -> Entry:
    return Entry(path, "file", _b(data), mode, uid, gid, **kw)


def directory(path: str, mode: int = 0o755, uid: int = 0, gid: int = 0, **kw) -> Entry:
    return Entry(path, "dir", b"", mode, uid, gid, **kw)


def symlink(path: str, target: str, uid: int = 0, gid: int = 0) -> Entry:
    return Entry(path, "symlink", target=target, uid=uid, gid=gid)


def hardlink(path: str, target: str) -> Entry:
    return Entry(path, "hardlink", target=target)


def chardev(path: str, major: int, minor: int, mode: int = 0o666) -> Entry:
    return Entry(path, "char", mode=mode, major=major, minor=minor)


def whiteout(path: str) -> Entry:
    """Delete `path` from the layers below: an empty file `dir/.wh.name`."""
    d, name = os.path.split(path.rstrip("/"))
    return Entry(os.path.join(d, ".wh." + name), "file", mode=0o644)


def opaque(dirpath: str) -> Entry:
    """Hide everything the layers below have in `dirpath`."""
    return Entry(os.path.join(dirpath.rstrip("/"), ".wh..wh..opq"), "file", mode=0o644)


def tar_bytes(entries: Iterable[Entry], base: bytes | None = None) -> bytes:
    """An uncompressed tar: the members of `base` (a tar) first, then `entries`."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as out:
        if base:
            with tarfile.open(fileobj=io.BytesIO(base), mode="r:") as src:
                for m in src.getmembers():
                    out.addfile(m, src.extractfile(m) if m.isreg() else None)
        for e in entries:
            out.addfile(e.tarinfo(), io.BytesIO(e.data) if e.kind == "file" else None)
    return buf.getvalue()


def gzip_bytes(raw: bytes) -> bytes:
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, compresslevel=6) as gz:
        gz.write(raw)
    return out.getvalue()


# ---------------------------------------------------------------------------------------------
# Layers


@dataclasses.dataclass
class Layer:
    """A layer blob, in memory (`data`) or on disk (`path`).

    digest: of the blob as pushed; diff_id: of the uncompressed tar; compress: "gzip" or None.
    """

    digest: str
    diff_id: str
    size: int
    compress: str | None
    data: bytes | None = None
    path: str | None = None

    @classmethod
    def from_tar_bytes(cls, raw: bytes, compress: str | None = "gzip") -> "Layer":
        blob = gzip_bytes(raw) if compress == "gzip" else raw
        if compress not in ("gzip", None):
            raise ValueError(f"unsupported compression {compress!r}")
        return cls(sha256_digest(blob), sha256_digest(raw), len(blob), compress, data=blob)

    @classmethod
    def from_files(cls, entries: Iterable[Entry] | Mapping[str, bytes | str],
                   compress: str | None = "gzip", base: bytes | None = None) -> "Layer":
        """Entries: Entry objects, or a {path: content} mapping of regular files."""
        if isinstance(entries, Mapping):
            entries = [file(p, c) for p, c in entries.items()]
        return cls.from_tar_bytes(tar_bytes(entries, base=base), compress)

    @classmethod
    def from_blob_file(cls, path: str, compress: str | None = "gzip",
                       digest: str | None = None, diff_id: str | None = None) -> "Layer":
        """A layer blob already on disk (e.g. a .tar.gz); digests are computed by streaming
        unless given."""
        if digest is None or diff_id is None:
            digest, diff_id = blob_file_digests(path, compress)
        return cls(digest, diff_id, os.path.getsize(path), compress, path=path)

    def blob(self) -> bytes:
        if self.data is not None:
            return self.data
        with open(self.path, "rb") as f:
            return f.read()

    def open(self):
        return io.BytesIO(self.data) if self.data is not None else open(self.path, "rb")

    def uncompressed(self) -> bytes:
        blob = self.blob()
        return gzip.decompress(blob) if self.compress == "gzip" else blob

    def media_type(self, media: str) -> str:
        if media == "oci":
            return OCI_LAYER_GZIP if self.compress == "gzip" else OCI_LAYER_TAR
        return DOCKER_LAYER_GZIP if self.compress == "gzip" else DOCKER_LAYER_TAR

    def descriptor(self, media: str) -> dict:
        return {"mediaType": self.media_type(media), "size": self.size, "digest": self.digest}


def blob_file_digests(path: str, compress: str | None = "gzip") -> tuple[str, str]:
    """(digest of the file, digest of its uncompressed content), streaming."""
    h_blob, h_raw = hashlib.sha256(), hashlib.sha256()
    dec = zlib.decompressobj(16 + zlib.MAX_WBITS) if compress == "gzip" else None
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h_blob.update(chunk)
            h_raw.update(dec.decompress(chunk) if dec else chunk)
    if dec:
        h_raw.update(dec.flush())
    return "sha256:" + h_blob.hexdigest(), "sha256:" + h_raw.hexdigest()


# ---------------------------------------------------------------------------------------------
# Config and manifests


def make_config(layers: Sequence[Layer], config: Mapping | None = None, *,
                architecture: str = "amd64", os_: str = "linux", variant: str | None = None,
                created: str = CREATED, history: Sequence[Mapping] | None = None) -> dict:
    """An image config. `config` is merged over {"Env": [PATH=...]} into the "config" section
    (Cmd, Entrypoint, Env, Labels, WorkingDir, User, ExposedPorts, Volumes, StopSignal...)."""
    inner = {"Env": list(DEFAULT_ENV)}
    inner.update(config or {})
    cfg = {"created": created, "architecture": architecture, "os": os_}
    if variant:
        cfg["variant"] = variant
    cfg["config"] = inner
    cfg["rootfs"] = {"type": "layers", "diff_ids": [l.diff_id for l in layers]}
    cfg["history"] = list(history) if history is not None else [
        {"created": created, "created_by": f"pypod-test layer {i}"} for i in range(len(layers))
    ]
    return cfg


def make_manifest(config_bytes: bytes, layers: Sequence[Layer], media: str = "docker",
                  annotations: Mapping[str, str] | None = None) -> tuple[str, bytes]:
    """(media type, manifest bytes)."""
    if media not in ("docker", "oci"):
        raise ValueError(f"media must be 'docker' or 'oci', not {media!r}")
    mtype = DOCKER_MANIFEST if media == "docker" else OCI_MANIFEST
    m = {
        "schemaVersion": 2,
        "mediaType": mtype,
        "config": {"mediaType": DOCKER_CONFIG if media == "docker" else OCI_CONFIG,
                   "size": len(config_bytes), "digest": sha256_digest(config_bytes)},
        "layers": [l.descriptor(media) for l in layers],
    }
    if annotations and media == "oci":
        m["annotations"] = dict(annotations)
    return mtype, canonical_json(m)


def parse_platform(platform: str) -> dict:
    """'linux/arm64/v8' -> {"architecture": "arm64", "os": "linux", "variant": "v8"}."""
    parts = platform.split("/")
    if len(parts) not in (2, 3):
        raise ValueError(f"platform must be os/arch[/variant], not {platform!r}")
    p = {"architecture": parts[1], "os": parts[0]}
    if len(parts) == 3:
        p["variant"] = parts[2]
    return p


# ---------------------------------------------------------------------------------------------
# Registry client (requests)

_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


class RegistryError(RuntimeError):
    pass


class RegistryClient:
    """A minimal distribution-API client: Basic auth, Bearer token flow (401 challenge),
    blob and manifest push/pull. `auth` is (user, password) or None."""

    def __init__(self, url: str, auth: tuple[str, str] | None = None, timeout: float = 60):
        import requests

        self.url = url.rstrip("/")
        if "://" not in self.url:
            self.url = "http://" + self.url
        self.auth = auth
        self.timeout = timeout
        self.session = requests.Session()
        self.session.trust_env = False  # no proxies or netrc from the environment
        self.authorization: str | None = None
        self.tokens_fetched = 0

    def close(self):
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- auth --

    def _authenticate(self, challenge: str, scope: str | None) -> bool:
        scheme, _, rest = challenge.partition(" ")
        params = dict(_CHALLENGE_PARAM.findall(rest))
        if scheme.lower() == "basic":
            if not self.auth:
                return False
            raw = f"{self.auth[0]}:{self.auth[1]}".encode()
            self.authorization = "Basic " + base64.b64encode(raw).decode()
            return True
        if scheme.lower() == "bearer":
            realm = params.get("realm")
            if not realm:
                raise RegistryError(f"Bearer challenge without realm: {challenge}")
            q = {}
            if "service" in params:
                q["service"] = params["service"]
            sc = params.get("scope") or scope
            if sc:
                q["scope"] = sc
            r = self.session.get(realm, params=q, auth=self.auth, timeout=self.timeout)
            if r.status_code != 200:
                raise RegistryError(f"token request to {realm} failed: {r.status_code} {r.text}")
            body = r.json()
            tok = body.get("token") or body.get("access_token")
            if not tok:
                raise RegistryError(f"token response without token: {body}")
            self.tokens_fetched += 1
            self.authorization = "Bearer " + tok
            return True
        return False

    def request(self, method: str, path: str, *, data: bytes | Callable | None = None,
                headers: Mapping[str, str] | None = None, scope: str | None = None,
                stream: bool = False, ok: Sequence[int] | None = None):
        """One request, retried once after answering a 401 challenge. `data` may be a
        callable returning a fresh body (a file) so the retry can resend it. Raises
        RegistryError when `ok` is given and the status is not in it."""
        url = path if "://" in path else self.url + path
        for attempt in (0, 1):
            h = dict(headers or {})
            if self.authorization:
                h["Authorization"] = self.authorization
            body = data() if callable(data) else data
            try:
                r = self.session.request(method, url, data=body, headers=h, stream=stream,
                                         timeout=self.timeout, allow_redirects=True)
            finally:
                if hasattr(body, "close"):
                    body.close()
            if r.status_code == 401 and attempt == 0:
                challenge = r.headers.get("WWW-Authenticate", "")
                if challenge and self._authenticate(challenge, scope):
                    continue
            break
        if ok is not None and r.status_code not in ok:
            raise RegistryError(f"{method} {url}: {r.status_code} {r.text[:500]}")
        return r

    # -- blobs --

    def blob_exists(self, name: str, digest: str) -> bool:
        r = self.request("HEAD", f"/v2/{name}/blobs/{digest}", scope=f"repository:{name}:pull")
        return r.status_code == 200

    def push_blob(self, name: str, digest: str, data: bytes | Callable, size: int | None = None,
                  skip_existing: bool = True) -> bool:
        """Upload one blob (monolithic POST + PUT). Returns False if it was already there."""
        scope = f"repository:{name}:pull,push"
        if skip_existing and self.blob_exists(name, digest):
            return False
        r = self.request("POST", f"/v2/{name}/blobs/uploads/", scope=scope, ok=(202,))
        loc = urljoin(self.url + "/", r.headers["Location"])
        loc += ("&" if "?" in loc else "?") + "digest=" + quote(digest)
        h = {"Content-Type": "application/octet-stream"}
        if size is not None:
            h["Content-Length"] = str(size)
        self.request("PUT", loc, data=data, headers=h, scope=scope, ok=(201,))
        return True

    def get_blob(self, name: str, digest: str) -> bytes:
        r = self.request("GET", f"/v2/{name}/blobs/{digest}", scope=f"repository:{name}:pull",
                         ok=(200,))
        return r.content

    # -- manifests --

    def head_manifest(self, name: str, ref: str, accept: str = ACCEPT_ALL):
        """(digest, media type, size) or None when unknown."""
        r = self.request("HEAD", f"/v2/{name}/manifests/{ref}", headers={"Accept": accept},
                         scope=f"repository:{name}:pull")
        if r.status_code != 200:
            return None
        return (r.headers.get("Docker-Content-Digest"), r.headers.get("Content-Type"),
                int(r.headers.get("Content-Length", "0")))

    def get_manifest(self, name: str, ref: str, accept: str = ACCEPT_ALL):
        """(media type, digest, raw bytes)."""
        r = self.request("GET", f"/v2/{name}/manifests/{ref}", headers={"Accept": accept},
                         scope=f"repository:{name}:pull", ok=(200,))
        return r.headers.get("Content-Type"), r.headers.get("Docker-Content-Digest"), r.content

    def put_manifest(self, name: str, ref: str, media_type: str, raw: bytes,
                     skip_existing: bool = True) -> str:
        digest = sha256_digest(raw)
        if skip_existing:
            have = self.head_manifest(name, ref)
            if have and have[0] == digest:
                return digest
        r = self.request("PUT", f"/v2/{name}/manifests/{ref}", data=raw,
                         headers={"Content-Type": media_type},
                         scope=f"repository:{name}:pull,push", ok=(201,))
        got = r.headers.get("Docker-Content-Digest")
        if got and got != digest:
            raise RegistryError(f"registry computed {got} for manifest {digest}")
        return digest

    # -- whole images --

    def push_image(self, name: str, tag: str, layers: Sequence[Layer],
                   config_overrides: Mapping | None = None, media: str = "docker", *,
                   architecture: str = "amd64", os_: str = "linux", variant: str | None = None,
                   history: Sequence[Mapping] | None = None,
                   extra_tags: Sequence[str] = ()) -> str:
        cfg = make_config(layers, config_overrides, architecture=architecture, os_=os_,
                          variant=variant, history=history)
        cfg_bytes = canonical_json(cfg)
        mtype, raw = make_manifest(cfg_bytes, layers, media)
        digest = sha256_digest(raw)
        tags = [tag, *extra_tags]
        # Already there (same bytes under every tag)? Then there is nothing to do.
        if all((h := self.head_manifest(name, t)) and h[0] == digest for t in tags):
            return digest
        for layer in layers:
            self.push_blob(name, layer.digest, layer.open, layer.size)
        self.push_blob(name, sha256_digest(cfg_bytes), cfg_bytes, len(cfg_bytes))
        for t in tags:
            self.put_manifest(name, t, mtype, raw)
        return digest

    def push_index(self, name: str, tag: str, manifests: Mapping[str, str], media: str = "oci",
                   annotations: Mapping[str, str] | None = None) -> str:
        """`manifests`: {"linux/amd64": digest, ...}; each must already be in `name`."""
        descs = []
        for platform, digest in manifests.items():
            have = self.head_manifest(name, digest)
            if not have:
                raise RegistryError(f"{name}@{digest} is not in the registry")
            descs.append({"mediaType": have[1], "size": have[2], "digest": digest,
                          "platform": parse_platform(platform)})
        mtype = OCI_INDEX if media == "oci" else DOCKER_MANIFEST_LIST
        idx = {"schemaVersion": 2, "mediaType": mtype, "manifests": descs}
        if annotations and media == "oci":
            idx["annotations"] = dict(annotations)
        return self.put_manifest(name, tag, mtype, canonical_json(idx))


# ---------------------------------------------------------------------------------------------
# Function API


def push_image(registry_url: str, name: str, tag: str, layers: Sequence[Layer],
               config_overrides: Mapping | None = None, media: str = "docker",
               auth: tuple[str, str] | None = None, **kw) -> str:
    """Push layers + config + manifest; return the manifest digest. kw: architecture, os_,
    variant, history, extra_tags."""
    with RegistryClient(registry_url, auth) as c:
        return c.push_image(name, tag, layers, config_overrides, media, **kw)


def push_index(registry_url: str, name: str, tag: str, manifests: Mapping[str, str],
               media: str = "oci", auth: tuple[str, str] | None = None, **kw) -> str:
    with RegistryClient(registry_url, auth) as c:
        return c.push_index(name, tag, manifests, media, **kw)


def get_manifest(registry_url: str, name: str, ref: str, accept: str = ACCEPT_ALL,
                 auth: tuple[str, str] | None = None):
    """(media type, digest, raw bytes)."""
    with RegistryClient(registry_url, auth) as c:
        return c.get_manifest(name, ref, accept)


def get_blob(registry_url: str, name: str, digest: str,
             auth: tuple[str, str] | None = None) -> bytes:
    with RegistryClient(registry_url, auth) as c:
        return c.get_blob(name, digest)
