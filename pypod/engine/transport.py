"""Images in and out of storage: push, save, load; a container's export and diff; image tree.

Compressed layer blobs are not kept after a pull, so push and save re-create each layer's tar from
its diff directory (pypod.image.layertar, inside the user namespace when rootless) — deterministic,
so the same layer gives the same digests every time; its digests are remembered in layer.json
(`extra.recreated`) so a later push can ask the registry before making the blob again. A re-created
tar need not be byte-identical to the one first pulled: where its diff id differs, the pushed or
saved config lists the new diff ids (and so has a new image id), as any re-packing tool must.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from pypod.engine.context import Context
from pypod.image.archive import LayerBlob
from pypod.errors import InvalidArgument, PypodError
from pypod.store.images import ImageRecord

CHUNK = 1 << 20


# -- workers -----------------------------------------------------------------------------------------
def _worker(ctx: Context, args: list[str]) -> subprocess.Popen:
    argv = [sys.executable, "-m", "pypod.image.layertar", *args]
    kw = dict(stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if ctx.rootless:
        from pypod.linux.userns import run_in_userns

        return run_in_userns(argv, holder_dir=ctx.holder_dir, **kw)
    return subprocess.Popen(argv, **kw)


def _finish(proc: subprocess.Popen, what: str) -> None:
    err = proc.stderr.read().decode(errors="replace").strip().splitlines()
    rc = proc.wait()
    if rc != 0:
        raise PypodError(f"{what}: {err[-1] if err else f'worker exited {rc}'}")


def work_dir(ctx: Context) -> Path:
    d = ctx.graph_root / "tmp"
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    return Path(tempfile.mkdtemp(prefix="transport-", dir=d))


def recreated(ctx: Context, chain: str) -> dict:
    rec = ctx.images.layers.get(chain)
    return dict((rec.extra or {}).get("recreated") or {}) if rec else {}


def _remember(ctx: Context, chain: str, info: dict) -> None:
    from pypod.store import db

    try:
        with ctx.images.lock():
            rec = ctx.images.layers.get(chain)
            if rec is None:
                return
            extra = dict(rec.extra or {})
            merged = dict(extra.get("recreated") or {})
            if merged.get("diff_id") not in (None, info.get("diff_id")):
                merged = {}  # the layer tar changed (a new pypod version): forget the old digests
            merged.update(info)
            extra["recreated"] = merged
            rec.extra = extra
            db.write_json(ctx.images.layers.path(chain) / "layer.json", rec.to_dict())
    except OSError:
        pass  # only a cache


def _gzip_member(chunk: bytes) -> bytes:
    import zlib

    z = zlib.compressobj(6, zlib.DEFLATED, 31)
    return z.compress(chunk) + z.flush()


def layer_blob(ctx: Context, chain: str, tmp: Path, compress: bool) -> LayerBlob:
    """A stored layer's tar (gzip-compressed when `compress`) in a file under `tmp`: the original
    tar when its tar-split was kept at pull/load and still gives the layer's diff id, else one
    re-created from the layer directory."""
    from pypod.image.tarsplit import FILE_NAME

    diff_dir = ctx.images.layers.diff_dir(chain)
    if not diff_dir.is_dir():
        raise PypodError(f"layer {chain[:12]} is missing from storage")
    split = ctx.images.layers.path(chain) / FILE_NAME
    rec = ctx.images.layers.get(chain)
    want = getattr(rec, "diff_id", None) if rec else None
    if want and split.exists():
        try:
            blob = _make_blob(ctx, chain, ["split", str(split), str(diff_dir)], tmp, compress)
            if blob.diff_id == want:
                return blob
            os.unlink(blob.path)
        except (PypodError, OSError):
            pass
    return _make_blob(ctx, chain, ["tar", str(diff_dir)], tmp, compress)


def _make_blob(ctx: Context, chain: str, worker_args: list[str], tmp: Path, compress: bool) -> LayerBlob:
    """Run the layer-tar worker and keep its output (compressed) in a file under `tmp`.

    Compression is pgzip's way: each 1 MiB of tar becomes one gzip member, compressed in parallel
    (zlib releases the GIL); a multi-member gzip stream is one valid gzip file, and fixed-size
    pieces keep the result deterministic."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    proc = _worker(ctx, worker_args)
    raw_h, comp_h = hashlib.sha256(), hashlib.sha256()
    raw_size = comp_size = 0
    path = tmp / (chain + (".tar.gz" if compress else ".tar"))
    workers = max(1, min(4, os.cpu_count() or 1))
    pool = ThreadPoolExecutor(max_workers=workers) if compress else None
    pending: deque = deque()
    try:
        with open(path, "wb") as f:
            def emit(data: bytes) -> None:
                nonlocal comp_size
                comp_h.update(data)
                comp_size += len(data)
                f.write(data)

            while True:
                chunk = proc.stdout.read(CHUNK)  # a full CHUNK until the end (buffered read)
                if not chunk:
                    break
                raw_h.update(chunk)
                raw_size += len(chunk)
                if pool is None:
                    f.write(chunk)
                    continue
                pending.append(pool.submit(_gzip_member, chunk))
                while len(pending) > 2 * workers:
                    emit(pending.popleft().result())
            if pool is not None:
                if raw_size == 0:
                    pending.append(pool.submit(_gzip_member, b""))
                while pending:
                    emit(pending.popleft().result())
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    _finish(proc, f"reading layer {chain[:12]}")
    diff_id = "sha256:" + raw_h.hexdigest()
    info = {"diff_id": diff_id, "size": raw_size}
    if compress:
        info.update(gzip_digest="sha256:" + comp_h.hexdigest(), gzip_size=comp_size)
        blob = LayerBlob(str(path), diff_id, info["gzip_digest"], comp_size, True)
    else:
        blob = LayerBlob(str(path), diff_id, diff_id, raw_size, False)
    _remember(ctx, chain, info)
    return blob


class StoredLayers:
    """What image.push reads from storage (image/ does not import engine/)."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    def record(self, chain: str):
        return self.ctx.images.layers.get(chain)

    def recreated(self, chain: str) -> dict:
        return recreated(self.ctx, chain)

    def work_dir(self) -> Path:
        return work_dir(self.ctx)

    def gzip_blob(self, chain: str, tmp: Path) -> LayerBlob:
        return layer_blob(self.ctx, chain, tmp, compress=True)

    def config(self, rec: ImageRecord, diff_ids: list[str]) -> bytes:
        return config_for(self.ctx, rec, diff_ids)


def config_for(ctx: Context, rec: ImageRecord, diff_ids: list[str]) -> bytes:
    """The image's config with these diff ids; its stored bytes unchanged when they are the same."""
    raw = ctx.images.get_blob(rec.id)
    if raw is None:
        raise PypodError(f"image {rec.id[:12]}: its config is missing from storage")
    cfg = json.loads(raw)
    if list((cfg.get("rootfs") or {}).get("diff_ids") or []) == diff_ids:
        return raw
    cfg.setdefault("rootfs", {"type": "layers"})["diff_ids"] = diff_ids
    return json.dumps(cfg, separators=(",", ":")).encode()


# -- save ----------------------------------------------------------------------------------------------
SAVE_FORMATS = ("docker-archive", "oci-archive", "oci-dir", "docker-dir")


def _names_for(ctx: Context, given: str, rec: ImageRecord) -> list[str]:
    """The name of `rec` that `given` refers to ([] when given by id), as podman writes it."""
    import re

    from pypod.engine.images import candidate_names

    try:
        cands = candidate_names(given)
    except PypodError:
        cands = []
    hit = [c for c in cands if c in rec.names]
    if hit:
        return hit[:1]
    bare = given.removeprefix("sha256:")
    if re.fullmatch(r"[0-9a-f]{3,64}", bare) and rec.id.startswith(bare):
        return []
    repo = given.rsplit(":", 1)[0] if ":" in given.rsplit("/", 1)[-1] else given
    return [n for n in rec.names if n.rsplit(":", 1)[0].endswith("/" + repo)][:1]


def save(ctx: Context, images: list[str], fmt: str, *, output: str | None, stream=None, progress=None,
         extra_tags: list[str] | tuple = (), names: list[str] | None = None, uncompressed: bool = False) -> None:
    """Write the images to an archive (`output` path, else `stream`); `extra_tags`: more names for
    the first image (podman's docker-archive without --multi-image-archive); `names`: the first
    image's names instead of its own (a push to `docker-archive:PATH:REFERENCE`); `uncompressed`: OCI
    layers as plain tar (podman's --uncompressed)."""
    from pypod.engine.images import get_image
    from pypod.image import archive

    if fmt not in SAVE_FORMATS:
        raise InvalidArgument("format value must be one of oci-dir oci-archive docker-dir docker-archive")
    if fmt == "docker-dir":
        raise InvalidArgument("the docker-dir format is not supported: use docker-archive, oci-archive or oci-dir")
    if fmt == "oci-dir" and not output:
        raise InvalidArgument("an output directory is required with --format oci-dir: use -o DIR")
    recs = [(n, get_image(ctx, n)) for n in images]
    if output and fmt != "oci-dir" and not os.path.isdir(os.path.dirname(os.path.abspath(output))):
        raise PypodError(f'opening file "{output}": open {output}: no such file or directory')  # before any work
    compress = fmt != "docker-archive" and not uncompressed
    tmp = work_dir(ctx)
    try:
        blobs: dict[str, LayerBlob] = {}
        saved = []
        for given, rec in recs:
            layers = []
            for chain in rec.layers:
                if chain not in blobs:
                    blobs[chain] = layer_blob(ctx, chain, tmp, compress)
                    if progress:
                        progress.say(f"Copying blob {blobs[chain].digest}")
                layers.append(blobs[chain])
            cfg = config_for(ctx, rec, [b.diff_id for b in layers])
            if progress:
                progress.say(f"Copying config sha256:{hashlib.sha256(cfg).hexdigest()}")
            mine = _names_for(ctx, given, rec)
            prev = next((s for s in saved if s.config_raw == cfg), None)
            if prev is not None:  # the same image twice: one entry with both names (podman's)
                prev.names.extend(n for n in mine if n not in prev.names)
                continue
            saved.append(archive.SavedImage(cfg, mine, layers))
        if names is not None and saved:
            saved[0].names[:] = names
        for t in extra_tags:
            full = _parse_name(t)
            if saved and full not in saved[0].names:
                saved[0].names.append(full)
        if progress:
            progress.say("Writing manifest to image destination")
            progress.say("Storing signatures")
        if fmt == "oci-dir":
            archive.write_oci_layout(archive.DirSink(output), saved)
            return
        if output:
            write_output_file(output, lambda f: _write_archive(fmt, f, saved))
        else:
            _write_archive(fmt, stream, saved)
    finally:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


def _write_archive(fmt: str, f, saved) -> None:
    from pypod.image import archive

    sink = archive.TarSink(f)
    if fmt == "docker-archive":
        archive.write_docker_archive(sink, saved)
    else:
        archive.write_oci_layout(sink, saved)
    f.flush()


# -- load ------------------------------------------------------------------------------------------------
class _HashingReader:
    def __init__(self, f):
        self.f, self.h = f, hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        self.h.update(data)
        return data

    def drain(self) -> None:
        while self.read(CHUNK):
            pass


def _parse_name(name: str) -> str:
    from pypod.image import reference

    return str(reference.parse(name[len("docker://"):] if name.startswith("docker://") else name))


def _archive_name(name: str) -> str | None:
    from pypod.image import reference

    try:
        if reference.is_short_name(name) and ":" not in name and "/" not in name and "@" not in name:
            return None  # a bare tag (an OCI ref.name like "latest") names no repository
        return str(reference.parse(name))
    except PypodError:
        return None


def load(ctx: Context, path: str | None, stdin=None, progress=None) -> list[str]:
    """Load every image of a docker-archive, oci-archive or OCI layout; the names loaded."""
    from pypod.image import archive

    tmp = None
    try:
        if path is None:
            tmp = work_dir(ctx)
            spool = tmp / "stdin.tar"
            with open(spool, "wb") as f:
                while True:
                    chunk = stdin.read(CHUNK)
                    if not chunk:
                        break
                    f.write(chunk)
            path = str(spool)
        elif path.startswith(("http://", "https://")):
            tmp = work_dir(ctx)
            path = _download(path, tmp / "download.tar")
        if os.path.isdir(path):
            src = archive.DirSource(path)
        elif os.path.exists(path):
            src = archive.TarSource(path)
        else:
            raise PypodError(f"stat {path}: no such file or directory")
        try:
            images = archive.read_images(src)
            out: list[str] = []
            for img in images:
                out.extend(_load_one(ctx, src, img, progress))
            return out
        finally:
            src.close()
    except archive.ArchiveError as e:
        raise PypodError(f"payload does not match any of the supported image formats: {e.message}"
                         if "supported image formats" not in e.message else e.message) from None
    finally:
        if tmp is not None:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)


def _download(url: str, dest) -> str:
    """`load -i http://…` as podman: fetch the archive to a file first (archives are read at random)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=60) as resp, open(dest, "wb") as f:
            while True:
                chunk = resp.read(CHUNK)
                if not chunk:
                    break
                f.write(chunk)
    except urllib.error.HTTPError as e:
        raise PypodError(f"downloading {url}: {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError) as e:
        raise PypodError(f"downloading {url}: {getattr(e, 'reason', e)}") from None
    return str(dest)


def _load_one(ctx: Context, src, img, progress) -> list[str]:
    from pypod.engine.images import remove_tree, store_image, unpack_to_temp_layer, warn_unpacked
    from pypod.image import archive
    from pypod.image import mediatypes as mt
    from pypod.store.layers import chain_ids, hex_of

    diff_ids = (img.config.get("rootfs") or {}).get("diff_ids")
    if not isinstance(diff_ids, list) or len(diff_ids) != len(img.layers):
        raise archive.ArchiveError(f"the image config lists {len(diff_ids or [])} layers, the archive "
                                   f"{len(img.layers)}")
    for d in diff_ids:
        archive.check_digest(d)
    chains = [hex_of(c) for c in chain_ids(diff_ids)]
    first_new = next((i for i, c in enumerate(chains) if not ctx.images.layers.exists(c)), len(chains))
    if progress:
        progress.say("Getting image source signatures")
    new = []
    try:
        for i, layer in enumerate(img.layers):
            if i < first_new:
                if progress:
                    progress.say(f"Copying blob {layer.digest or diff_ids[i]} skipped: already exists")
                continue
            if progress:
                progress.say(f"Copying blob {layer.digest or diff_ids[i]}")
            f = src.open(layer.member)
            try:
                reader = _HashingReader(f)
                nl = unpack_to_temp_layer(ctx, reader)
                new.append(nl)
                reader.drain()
            finally:
                f.close()
            if layer.digest and "sha256:" + reader.h.hexdigest() != layer.digest:
                raise archive.ArchiveError(f"blob {layer.digest}: digest mismatch")
            if nl.diff_id != diff_ids[i]:
                raise archive.ArchiveError(f"layer {layer.member}: its content ({nl.diff_id}) does not "
                                           f"match the config's diff id {diff_ids[i]}")
        names = []
        for n in img.names:
            full = _archive_name(n)
            if full and full not in names:
                names.append(full)
        if progress:
            progress.say(f"Copying config sha256:{hashlib.sha256(img.config_raw).hexdigest()}")
            progress.say("Writing manifest to image destination")
            progress.say("Storing signatures")
        warn_unpacked(ctx, names[0] if names else "the loaded image", new)
        media = img.manifest_media_type if img.manifest_media_type in mt.MANIFESTS else mt.OCI_MANIFEST
        rec = _store_raw(ctx, img, new, names, media, store_image)
        new = []
    finally:
        for nl in new:
            if nl.tmp.exists():
                remove_tree(ctx, nl.tmp)
    return names or ["sha256:" + rec.id]


def _store_raw(ctx, img, new, names, media, store_image):
    """store_image, keeping the archive's config bytes exactly (the image id is their digest)."""
    rec = store_image(ctx, img.config, new, names, manifest_media_type=media)
    if rec.id != hashlib.sha256(img.config_raw).hexdigest():
        # store_image re-serialised the config: store the original bytes under their own digest
        with ctx.images.lock():
            ctx.images.put_blob(img.config_raw)
            new_id = hashlib.sha256(img.config_raw).hexdigest()
            moved = ctx.images.get(new_id) or rec.__class__.from_dict({**rec.to_dict(), "id": new_id, "names": []})
            for n in names:
                ctx.images.untag_everywhere(n, keep=new_id)
                if n not in moved.names:
                    moved.names.append(n)
            moved.layers, moved.size, moved.created = rec.layers, rec.size, rec.created
            moved.manifest_media_type = media
            ctx.images.save(moved)
            if rec.id != new_id:
                other = ctx.images.get(rec.id)
                if other is not None and set(other.names) <= set(names):
                    ctx.images.delete_record(rec.id)
            rec = moved
    if img.manifest_raw:
        with ctx.images.lock():
            d = ctx.images.put_blob(img.manifest_raw)
            r = ctx.images.get(rec.id)
            if r is not None and d not in r.digests:
                r.digests.append(d)
                r.manifest_digest = r.manifest_digest or d
                ctx.images.save(r)
                rec = r
    return rec


# -- export / diff -------------------------------------------------------------------------------------
def _container_dirs(ctx: Context, name: str) -> tuple[list[str], str | None]:
    """(the image's layer dirs top first, the container's upper dir)"""
    from pypod.engine import containers as ceng

    rec = ceng.get_container(ctx, name)
    cdir = ceng.store(ctx).dir(rec.id)
    if rec.rootfs:
        return [rec.rootfs], None
    img = ctx.images.get(rec.image_id)
    if img is None:
        raise PypodError(f"the image of container {rec.name} is not in storage")
    lowers = [str(ctx.images.layers.diff_dir(c)) for c in reversed(img.layers)]
    upper = cdir / "upper"
    return lowers, (str(upper) if upper.is_dir() else None)


def export_container(ctx: Context, name: str, out) -> None:
    """The container's merged file system as a tar, written to `out` (a binary file)."""
    lowers, upper = _container_dirs(ctx, name)
    proc = _worker(ctx, ["merge", *([upper] if upper else []), *lowers])
    try:
        while True:
            chunk = proc.stdout.read(CHUNK)
            if not chunk:
                break
            out.write(chunk)
        out.flush()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    _finish(proc, f"exporting container {name}")


def _changes(ctx: Context, upper: str, lowers: list[str], what: str) -> list[tuple[str, str]]:
    proc = _worker(ctx, ["changes", upper, *lowers])
    data = proc.stdout.read()
    _finish(proc, what)
    return [tuple(x) for x in json.loads(data)]


_INIT_INODES = {"/dev", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/proc", "/run", "/run/notify",
                "/run/.containerenv", "/run/secrets", "/sys", "/etc/mtab"}


def diff(ctx: Context, name: str, other: str | None = None, kind: str = "") -> list[tuple[str, str]]:
    """podman's diff: ("A"|"C"|"D", path), of a container over its image, or an image's top layer
    over the layers below (two names: the second's changes over the first, when it is built on it)."""
    from pypod.engine import containers as ceng
    from pypod.engine.images import find_image
    from pypod.errors import ContainerNotFound, ImageNotFound

    def resolve(n: str):
        if kind != "image":
            c = ceng.find_container(ctx, n)
            if c is not None:
                return "container", c
        if kind != "container":
            i = find_image(ctx, n)
            if i is not None:
                return "image", i
        if kind == "container":
            raise ContainerNotFound(f"{n} not found: container not known")
        if kind == "image":
            raise ImageNotFound(f"{n} not found: {n}: image not known")
        raise PypodError(f"{n} not found: layer not known")

    def layers_of(k, obj) -> tuple[list[str], str | None]:
        if k == "container":
            return _container_dirs(ctx, obj.id)
        return [str(ctx.images.layers.diff_dir(c)) for c in reversed(obj.layers)], None

    k, obj = resolve(name)
    if other is None:
        lowers, upper = layers_of(k, obj)
        if upper is None:
            if not lowers or k == "container":
                return []
            upper, lowers = lowers[0], lowers[1:]
        found = _changes(ctx, upper, lowers, f"diff {name}")
        if k == "container":  # what the runtime itself puts in every container (podman's list)
            found = [c for c in found if c[1] not in _INIT_INODES]
        return found
    k2, obj2 = resolve(other)
    a, ua = layers_of(k, obj)
    b, ub = layers_of(k2, obj2)
    a = ([ua] if ua else []) + a
    b = ([ub] if ub else []) + b
    # b built on a: the layers b adds, merged, over a
    if len(b) == len(a) + 1 and b[1:] == a:
        found = _changes(ctx, b[0], a, f"diff {name} {other}")
        if k2 == "container":
            found = [c for c in found if c[1] not in _INIT_INODES]
        return found
    if a == b:
        return []
    raise PypodError(f"diff {name} {other}: only an image or container and one built directly on it "
                     f"(one more layer) can be compared")


# -- image tree ------------------------------------------------------------------------------------------
def tree(ctx: Context, name: str, whatrequires: bool = False) -> str:
    from pypod.engine.images import get_image

    rec = get_image(ctx, name)
    all_recs = ctx.images.list()

    def size(n) -> str:
        return _tree_size(n)

    lines = [f"Image ID: {rec.id[:12]}", f"Tags:     [{' '.join(rec.names)}]",
             f"Size:     {_tree_size(rec.size)}"]
    top_of: dict[str, list[str]] = {}
    for r in sorted(all_recs, key=lambda r: r.created):
        if r.layers:
            top_of.setdefault(r.layers[-1], []).extend(r.names)
    layers = rec.layers
    if whatrequires:
        # the images built on this one (their layers start with all of ours)
        kids = [r for r in all_recs if r.id != rec.id and len(r.layers) > len(layers)
                and r.layers[:len(layers)] == layers]
        chains = []
        for r in kids:
            for c in r.layers[len(layers):]:
                if c not in chains:
                    chains.append(c)
        if not chains:
            return "\n".join(lines) + "\n"
        lines.append("Image Layers")
        shown = [layers[-1]] + chains if layers else chains
    else:
        lines.append("Image Layers")
        shown = layers
    for i, c in enumerate(shown):
        lr = ctx.images.layers.get(c)
        branch = "└── " if i == len(shown) - 1 else "├── "
        top = top_of.get(c)
        tail = f" Top Layer of: [{' '.join(top)}]" if top else ""
        lines.append(f"{branch}ID: {c[:12]} Size: {size(lr.size if lr else 0):>7}{tail}")
    return "\n".join(lines) + "\n"


def _tree_size(n: int) -> str:
    """go-units HumanSizeWithPrecision(n, 4) without the space (podman's tree)."""
    units = ["B", "kB", "MB", "GB", "TB", "PB"]
    v, i = float(n), 0
    while v >= 1000.0 and i < len(units) - 1:
        v /= 1000.0
        i += 1
    text = f"{v:.4g}"
    return f"{text}{units[i]}"


# -- push --------------------------------------------------------------------------------------------------
class PushRequest:
    __slots__ = ("source", "dest", "quiet", "creds", "authfile", "tls_verify", "cert_dir", "format",
                 "digestfile")

    def __init__(self, source: str, dest: str | None = None, quiet: bool = False, creds: str | None = None,
                 authfile: str | None = None, tls_verify: bool | None = None, cert_dir: str | None = None,
                 format: str | None = None, digestfile: str | None = None):
        self.source, self.dest, self.quiet, self.creds, self.authfile = source, dest, quiet, creds, authfile
        self.tls_verify, self.cert_dir, self.format, self.digestfile = tls_verify, cert_dir, format, digestfile


_ARCHIVE_TRANSPORTS = {"docker-archive": "docker-archive", "oci-archive": "oci-archive", "oci": "oci-dir"}


def push(ctx: Context, req: PushRequest) -> str | None:
    """Push an image (docker:// or an archive transport); the manifest digest for a registry."""
    from pypod.engine.images import get_image
    from pypod.image import reference

    rec = get_image(ctx, req.source)
    dest = req.dest
    if dest is None:
        names = _names_for(ctx, req.source, rec)
        dest = names[0] if names else req.source
    if dest.startswith("docker://"):
        dest = dest[len("docker://"):]
    else:
        transport, sep, rest = dest.partition(":")
        if sep and transport in _ARCHIVE_TRANSPORTS and rest and not rest.startswith("//") \
                and "/" not in transport:
            path, _, named = rest.partition(":")  # TRANSPORT:PATH[:REFERENCE]
            if named and transport == "docker-archive":
                named = _parse_name(named)
            progress = ctx.reporter.progress(req.quiet) if not req.quiet else None
            try:
                save(ctx, [req.source], _ARCHIVE_TRANSPORTS[transport], output=path, progress=progress,
                     names=[named] if named else None)
            finally:
                if progress:
                    progress.close()
            return None
        if sep and transport in ("dir", "docker-daemon", "containers-storage", "ostree", "sif"):
            raise InvalidArgument(f"the {transport} transport is not supported: use docker://, "
                                  "docker-archive:, oci-archive: or oci:")
    ref = reference.parse(dest)
    if ref.digest and not ref.tag:
        raise InvalidArgument(f"{dest}: can not push to a digest: give a tag")
    return _push_registry(ctx, req, rec, ref)


def _push_registry(ctx: Context, req: PushRequest, rec: ImageRecord, ref) -> str:
    from pypod.image.registries import load_registries
    from pypod.errors import RegistryError
    from pypod.image.auth import parse_creds
    from pypod.image.push import check_format, push_image
    from pypod.image.registry import RegistryClient

    fmt = check_format(req.format, rec.manifest_media_type)
    regs = load_registries()
    if regs.is_blocked(ref):
        raise RegistryError(f"registry {ref.registry} is blocked in registries.conf")
    if req.authfile:
        from pypod.image.auth import check_auth_file

        check_auth_file(req.authfile)
    client = RegistryClient(ref.registry, insecure=regs.is_insecure(ref.registry), tls_verify=req.tls_verify,
                            creds=parse_creds(req.creds) if req.creds else None, authfile=req.authfile,
                            cert_dir=req.cert_dir)
    progress = ctx.reporter.progress(req.quiet)
    try:
        digest = push_image(StoredLayers(ctx), rec, client, ref.repository, ref.tag or "latest", fmt, progress)
    except RegistryError as e:
        raise RegistryError(f"trying to push {ref}: {e.message}" if "unauthorized" not in e.message
                            else e.message) from None
    finally:
        progress.close()
    if req.digestfile:
        with open(req.digestfile, "w") as f:
            f.write(digest)
    return digest


def write_output_file(output: str, write) -> None:
    """-o FILE: written beside it and renamed into place, so a failure leaves no half file;
    a file that cannot be made fails as podman says it."""
    final = os.path.abspath(output)
    part = final + ".pypod-partial"
    try:
        f = open(part, "wb")
    except OSError as e:
        raise PypodError(f'creating file "{output}": open {output}: {(e.strerror or str(e)).lower()}') from None
    try:
        with f:
            write(f)
        os.replace(part, final)
    except BaseException:
        try:
            os.unlink(part)
        except OSError:
            pass
        raise
