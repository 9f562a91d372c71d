"""Image archives: docker-archive (`docker save` / `podman save`), oci-archive and an OCI layout
directory (oci-dir) — reading and writing the formats; the engine moves the layers in and out.

Archives are hostile input: member names are cleaned and never used as host paths (members are
looked up by name inside the archive, symlinks resolved inside it too), blob names must be
well-formed digests, and every JSON document is size-bounded.
"""

from __future__ import annotations

import io
import json
import os
import posixpath
import re
import tarfile

from pypod.errors import PypodError
from pypod.image import mediatypes as mt

MAX_JSON = 16 << 20
_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
REF_NAME = "org.opencontainers.image.ref.name"


class LayerBlob:
    """A layer as a blob: its file (when made), diff id, blob digest and size."""

    __slots__ = ("path", "diff_id", "digest", "size", "compressed")

    def __init__(self, path: str, diff_id: str, digest: str, size: int, compressed: bool):
        self.path, self.diff_id, self.digest, self.size, self.compressed = path, diff_id, digest, size, compressed


class ArchiveError(PypodError):
    pass


def clean_name(name: str) -> str | None:
    """A member name as a clean relative path; None when it climbs out of the archive."""
    n = posixpath.normpath("/" + name.replace("\\", "/")).lstrip("/")
    parts = name.replace("\\", "/").split("/")
    if ".." in parts or not n or n == ".":
        return None
    return n


def check_digest(d) -> str:
    if not isinstance(d, str) or not _DIGEST_RE.match(d):
        raise ArchiveError(f"invalid digest {str(d)[:80]!r} in the archive")
    return d


def blob_name(digest: str) -> str:
    return "blobs/sha256/" + check_digest(digest)[7:]


# -- sources ---------------------------------------------------------------------------------------
class TarSource:
    """A tar file (any compression tarfile reads) opened for random access by member name."""

    def __init__(self, path: str):
        try:
            self.tar = tarfile.open(path, "r:*")
        except OSError as e:
            raise ArchiveError(f"{path}: {e.strerror or e}") from None
        except (tarfile.TarError, EOFError):  # (its text lists Python's ReadError per method)
            raise ArchiveError(f"{path}: not a tar archive") from None
        self.members: dict[str, tarfile.TarInfo] = {}
        try:
            for m in self.tar:
                n = clean_name(m.name)
                if n is not None:
                    self.members[n] = m
        except (tarfile.TarError, EOFError, OSError) as e:
            raise ArchiveError(f"reading the archive: {e}") from None

    def _resolve(self, name: str) -> tarfile.TarInfo | None:
        n = clean_name(name)
        for _ in range(8):  # symlinks (podman's legacy layer.tar links) resolved inside the archive
            if n is None:
                return None
            m = self.members.get(n)
            if m is None or not (m.issym() or m.islnk()):
                return m
            if m.linkname.startswith("/"):
                return None
            target = m.linkname if m.islnk() else posixpath.join(posixpath.dirname(n), m.linkname)
            norm = posixpath.normpath(target)
            if norm == ".." or norm.startswith("../"):
                return None
            n = clean_name(norm)
        return None

    def exists(self, name: str) -> bool:
        return self._resolve(name) is not None

    def open(self, name: str):
        m = self._resolve(name)
        if m is None or not m.isfile():
            raise ArchiveError(f"the archive has no file {name!r}")
        return self.tar.extractfile(m)

    def close(self) -> None:
        self.tar.close()


class DirSource:
    """An OCI layout directory; only fixed names and blobs/sha256/<hex> are ever opened."""

    def __init__(self, path: str):
        self.root = path

    def exists(self, name: str) -> bool:
        n = clean_name(name)
        return n is not None and os.path.isfile(os.path.join(self.root, n))

    def open(self, name: str):
        n = clean_name(name)
        if n is None:
            raise ArchiveError(f"invalid name {name!r}")
        try:
            return open(os.path.join(self.root, n), "rb")
        except OSError as e:
            raise ArchiveError(f"{os.path.join(self.root, n)}: {e.strerror}") from None

    def close(self) -> None:
        pass


def read_json(src, name: str):
    f = src.open(name)
    try:
        data = f.read(MAX_JSON + 1)
    finally:
        f.close()
    if len(data) > MAX_JSON:
        raise ArchiveError(f"{name} is too large")
    try:
        return json.loads(data), data
    except ValueError:
        raise ArchiveError(f"{name} is not valid JSON") from None


# -- what an archive holds ---------------------------------------------------------------------------
class ArchiveLayer:
    __slots__ = ("member", "digest")

    def __init__(self, member: str, digest: str | None):
        self.member, self.digest = member, digest  # digest: of the blob as stored (OCI), else None


class ArchiveImage:
    __slots__ = ("config_raw", "config", "names", "layers", "manifest_raw", "manifest_media_type")

    def __init__(self, config_raw: bytes, names: list[str], layers: list[ArchiveLayer],
                 manifest_raw: bytes | None, manifest_media_type: str):
        self.config_raw = config_raw
        try:
            self.config = json.loads(config_raw)
        except ValueError:
            raise ArchiveError("the image config in the archive is not valid JSON") from None
        if not isinstance(self.config, dict):
            raise ArchiveError("the image config in the archive is not a JSON object")
        self.names = names
        self.layers = layers
        self.manifest_raw = manifest_raw
        self.manifest_media_type = manifest_media_type


def detect(src) -> str:
    if src.exists("manifest.json"):
        return "docker-archive"
    if src.exists("index.json"):
        return "oci"
    raise ArchiveError("payload does not match any of the supported image formats (oci, oci-archive, "
                       "dir, docker-archive)")


def read_images(src, platform=None) -> list[ArchiveImage]:
    kind = detect(src)
    return _read_docker(src) if kind == "docker-archive" else _read_oci(src, platform)


def _read_docker(src) -> list[ArchiveImage]:
    import hashlib

    manifest, _ = read_json(src, "manifest.json")
    if not isinstance(manifest, list) or not manifest:
        raise ArchiveError("manifest.json: expected a list of images")
    out = []
    for entry in manifest:
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str) \
                or not isinstance(entry.get("Layers"), list):
            raise ArchiveError("manifest.json: an entry without Config or Layers")
        f = src.open(entry["Config"])
        try:
            config_raw = f.read(MAX_JSON + 1)
        finally:
            f.close()
        if len(config_raw) > MAX_JSON:
            raise ArchiveError("the image config is too large")
        base = posixpath.basename(entry["Config"]).removesuffix(".json")
        if re.fullmatch(r"(sha256:)?[0-9a-f]{64}", base) and hashlib.sha256(config_raw).hexdigest() != base[-64:]:
            raise ArchiveError(f"{entry['Config']}: the config does not match its digest")
        names = [t for t in (entry.get("RepoTags") or []) if isinstance(t, str)]
        layers = []
        for layer in entry["Layers"]:
            if not isinstance(layer, str) or clean_name(layer) is None:
                raise ArchiveError(f"manifest.json: invalid layer name {str(layer)[:80]!r}")
            layers.append(ArchiveLayer(layer, None))
        out.append(ArchiveImage(config_raw, names, layers, None, mt.DOCKER_MANIFEST))
    return out


def _read_blob(src, digest: str) -> bytes:
    import hashlib

    f = src.open(blob_name(digest))
    try:
        data = f.read(MAX_JSON + 1)
    finally:
        f.close()
    if len(data) > MAX_JSON:
        raise ArchiveError(f"blob {digest} is too large for a JSON document")
    if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
        raise ArchiveError(f"blob {digest}: digest mismatch")
    return data


def _read_oci(src, platform) -> list[ArchiveImage]:
    from pypod.image.platform import Platform, select_manifest

    index, _ = read_json(src, "index.json")
    if not isinstance(index, dict) or not isinstance(index.get("manifests"), list):
        raise ArchiveError("index.json: no manifests")
    out = []
    for desc in index["manifests"]:
        if not isinstance(desc, dict):
            continue
        name = ((desc.get("annotations") or {}).get(REF_NAME) or "")
        media = desc.get("mediaType", mt.OCI_MANIFEST)
        raw = _read_blob(src, check_digest(desc.get("digest")))
        doc = json.loads(raw)
        if media in mt.INDEXES or "manifests" in doc:
            chosen = select_manifest(doc, platform or Platform())
            if chosen is None:
                raise ArchiveError("no image in the archive's index matches this platform")
            raw = _read_blob(src, check_digest(chosen.get("digest")))
            doc = json.loads(raw)
            media = chosen.get("mediaType", mt.OCI_MANIFEST)
        cdesc = doc.get("config") or {}
        config_raw = _read_blob(src, check_digest(cdesc.get("digest")))
        layers = []
        for l in doc.get("layers") or []:
            d = check_digest((l or {}).get("digest"))
            layers.append(ArchiveLayer(blob_name(d), d))
        out.append(ArchiveImage(config_raw, [name] if name else [], layers, raw,
                                doc.get("mediaType") or media))
    if not out:
        raise ArchiveError("index.json: no manifests")
    return out


# -- writers -----------------------------------------------------------------------------------------
class TarSink:
    """Members of an archive being written, streamed (stdout works); podman's fixed headers."""

    def __init__(self, fileobj):
        self.tar = tarfile.open(fileobj=fileobj, mode="w|", format=tarfile.PAX_FORMAT)
        self.dirs: set[str] = set()

    def _info(self, name: str, size: int) -> tarfile.TarInfo:
        ti = tarfile.TarInfo(name)
        ti.size, ti.mode, ti.mtime, ti.uname, ti.gname = size, 0o444, 0, "", ""
        return ti

    def mkdir(self, name: str) -> None:
        if name in self.dirs:
            return
        self.dirs.add(name)
        ti = tarfile.TarInfo(name + "/")
        ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, 0
        self.tar.addfile(ti)

    def put_bytes(self, name: str, data: bytes) -> None:
        self.tar.addfile(self._info(name, len(data)), io.BytesIO(data))

    def put_file(self, name: str, path: str) -> None:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            self.tar.addfile(self._info(name, size), f)

    def close(self) -> None:
        self.tar.close()


class DirSink:
    def __init__(self, root: str):
        self.root = root
        os.makedirs(root, exist_ok=True)

    def mkdir(self, name: str) -> None:
        os.makedirs(os.path.join(self.root, name), exist_ok=True)

    def put_bytes(self, name: str, data: bytes) -> None:
        with open(os.path.join(self.root, name), "wb") as f:
            f.write(data)

    def put_file(self, name: str, path: str) -> None:
        import shutil

        dest = os.path.join(self.root, name)
        if not os.path.exists(dest):
            shutil.copyfile(path, dest)

    def close(self) -> None:
        pass


class SavedImage:
    """One image as it goes into an archive: its (rewritten) config and layer blobs."""

    __slots__ = ("config_raw", "names", "layers")

    def __init__(self, config_raw: bytes, names: list[str], layers: list):
        # layers: objects with .path (the blob file), .diff_id, .digest, .size, .compressed
        self.config_raw, self.names, self.layers = config_raw, names, layers


def _sha(data: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


def write_docker_archive(sink, images: list[SavedImage]) -> None:
    """podman's docker-archive: `<diffid>.tar` layers, `<config>.json`, manifest.json, repositories."""
    manifest, repos, written = [], {}, set()
    for img in images:
        cfg_name = _sha(img.config_raw)[7:] + ".json"
        layer_names = []
        for l in img.layers:
            n = l.diff_id[7:] + ".tar"
            if n not in written:
                written.add(n)
                sink.put_file(n, l.path)
            layer_names.append(n)
        if cfg_name not in written:
            written.add(cfg_name)
            sink.put_bytes(cfg_name, img.config_raw)
        manifest.append({"Config": cfg_name, "RepoTags": list(img.names), "Layers": layer_names})
        for n in img.names:
            repo, _, tag = n.rpartition(":")
            if "/" in tag or not repo:
                continue
            repos.setdefault(repo, {})[tag] = (img.layers[-1].diff_id[7:] if img.layers else cfg_name[:-5])
    sink.put_bytes("manifest.json", json.dumps(manifest, separators=(",", ":")).encode())
    if repos:
        sink.put_bytes("repositories", json.dumps(repos, separators=(",", ":")).encode())
    sink.close()


def oci_manifest(config_raw: bytes, layers: list, docker: bool = False) -> bytes:
    cfg_media = mt.DOCKER_CONFIG if docker else mt.OCI_CONFIG
    doc = {"schemaVersion": 2}
    if docker:
        doc["mediaType"] = mt.DOCKER_MANIFEST
    else:
        doc["mediaType"] = mt.OCI_MANIFEST
    doc["config"] = {"mediaType": cfg_media, "digest": _sha(config_raw), "size": len(config_raw)}
    doc["layers"] = [{"mediaType": (mt.DOCKER_LAYER_GZIP if docker else mt.OCI_LAYER_GZIP)
                      if l.compressed else (mt.DOCKER_LAYER_GZIP.removesuffix(".gzip") if docker else mt.OCI_LAYER),
                      "digest": l.digest, "size": l.size} for l in layers]
    return json.dumps(doc, separators=(",", ":")).encode()


def write_oci_layout(sink, images: list[SavedImage]) -> None:
    """An OCI image layout (oci-dir as a directory, oci-archive as a tar of it)."""
    sink.put_bytes("oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
    sink.mkdir("blobs")
    sink.mkdir("blobs/sha256")
    written, manifests = set(), []
    for img in images:
        for l in img.layers:
            if l.digest not in written:
                written.add(l.digest)
                sink.put_file(blob_name(l.digest), l.path)
        cd = _sha(img.config_raw)
        if cd not in written:
            written.add(cd)
            sink.put_bytes(blob_name(cd), img.config_raw)
        raw = oci_manifest(img.config_raw, img.layers)
        md = _sha(raw)
        if md not in written:
            written.add(md)
            sink.put_bytes(blob_name(md), raw)
        for n in (img.names or [None]):
            desc = {"mediaType": mt.OCI_MANIFEST, "digest": md, "size": len(raw)}
            if n:
                desc["annotations"] = {REF_NAME: n}
            manifests.append(desc)
    sink.put_bytes("index.json", json.dumps({"schemaVersion": 2, "manifests": manifests},
                                            separators=(",", ":")).encode())
    sink.close()
