"""Image operations: lookup, pull, list, inspect, remove, tag, prune, history, import."""

from __future__ import annotations

import os
import time

from pypod.engine import events
from pypod.engine.cleanup import reap_orphans, remove_tree
from pypod.engine.context import Context
from pypod.errors import (ImageInUse, ImageNotFound, InvalidArgument, PypodError, RegistryError,
                          RemoveMissing)
from pypod.record import Record
from pypod.store.images import ImageRecord
from pypod.store.lookup import by_id_prefix, is_hex
from pypod.units import parse_time

def _is_id(name: str) -> bool:
    """`[sha256:]` and 3 to 64 lower-case hex digits: a (short) image id."""
    return is_hex(name.removeprefix("sha256:"), 3)


# -- lookup ------------------------------------------------------------------------------------
def _split_name(name: str) -> tuple[str, str]:
    """'repo:tag' → (repo, tag); the colon of a registry port is not a tag."""
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1:]
    return name, ""


def candidate_names(name: str) -> list[str]:
    """Fully qualified names a user's `name` may mean, most specific first (podman's order)."""
    from pypod.image import reference

    if not reference.is_short_name(name):
        return [str(reference.parse(name))]
    path, tag, digest = reference.parse_short(name)
    suffix = (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    if not tag and not digest:
        suffix = ":latest"
    out = [f"localhost/{path}{suffix}"]
    try:
        from pypod.image.registries import load_registries

        for ref in load_registries().resolve_short_name(name):
            s = str(ref)
            if s not in out:
                out.append(s)
    except PypodError:
        raise
    except Exception:
        pass
    lib = f"docker.io/{'library/' if '/' not in path else ''}{path}{suffix}"
    if lib not in out:
        out.append(lib)
    return out


def find_image(ctx: Context, name: str, records: list[ImageRecord] | None = None) -> ImageRecord | None:
    recs = ctx.images.list() if records is None else records
    if not name:
        return None
    bare = name[7:] if name.startswith("sha256:") else name
    if len(bare) == 64 and _is_id(bare):
        return next((r for r in recs if r.id == bare), None)
    fast = _find_fast(name, recs)
    if fast is not None:
        return fast
    try:
        cands = candidate_names(name)
    except InvalidArgument:
        cands = []
    for cand in cands:
        if "@" in cand:
            repo_tag, digest = cand.split("@", 1)
            repo, _ = _split_name(repo_tag)
            for r in recs:
                if digest in r.digests and any(_split_name(n)[0] == repo for n in r.names + [rd.split("@")[0] for rd in r.repo_digests]):
                    return r
        else:
            for r in recs:
                if cand in r.names:
                    return r
    # A short name also matches any stored repository that ends with it (podman does the same).
    from pypod.image import reference

    if cands and reference.is_short_name(name) and "@" not in name:
        path, tag, _ = reference.parse_short(name)
        want_tag = tag or "latest"
        for r in recs:
            for n in r.names:
                repo, t = _split_name(n)
                if t == want_tag and (repo.endswith("/" + path)):
                    return r
    if _is_id(name):  # an ambiguous prefix means no image, as podman's image store answers
        return by_id_prefix(recs, bare, None)
    return None


def _find_fast(name: str, recs: list[ImageRecord]) -> ImageRecord | None:
    """The common cases without parsing (the reference grammar's regexes cost ~10 ms to compile):
    a stored name given in full, or a short name only one stored repository ends with."""
    if "@" in name or name.startswith("docker://"):
        return None
    repo, tag = _split_name(name)
    full = f"{repo}:{tag or 'latest'}"
    hits = [r for r in recs if full in r.names]
    if len(hits) == 1:
        return hits[0]
    if "." in repo.split("/")[0] or ":" in repo.split("/")[0] or repo.startswith("localhost/"):
        return None  # a registry was named: only an exact match is right
    suffix = "/" + full
    hits = [r for r in recs if any(n.endswith(suffix) for n in r.names)]
    return hits[0] if len(hits) == 1 else None


def get_image(ctx: Context, name: str) -> ImageRecord:
    rec = find_image(ctx, name)
    if rec is None:
        raise ImageNotFound(f"{name}: image not known")
    return rec


# -- pull --------------------------------------------------------------------------------------
class PullRequest(Record):
    FIELDS = (("name", ""), ("quiet", False), ("platform", None), ("os", None), ("arch", None),
              ("variant", None), ("creds", None), ("authfile", None), ("tls_verify", None),
              ("cert_dir", None), ("policy", "always"))  # policy: always | missing | never | newer
    __slots__ = tuple(n for n, _ in FIELDS)


def pull(ctx: Context, req: PullRequest) -> ImageRecord:
    from pypod.image import reference

    reap_orphans(ctx)

    if req.policy in ("missing", "never", "newer"):
        rec = find_image(ctx, req.name)
        if rec is not None:
            return rec
        if req.policy == "never":
            raise ImageNotFound(f"{req.name}: image not known")
    name = req.name[len("docker://"):] if req.name.startswith("docker://") else req.name
    if _is_id(name) and find_image(ctx, name):
        return get_image(ctx, name)
    from pypod.image.registries import load_registries

    regs = load_registries()
    if reference.is_short_name(name):
        cands = regs.resolve_short_name(name)
        if not cands:
            raise PypodError(f"short-name {name!r} did not resolve to an alias and no "
                             "unqualified-search registries are defined in registries.conf")
    else:
        cands = [reference.parse(name)]
    errors: list[str] = []
    for ref in cands:
        try:
            rec = _pull_one(ctx, req, ref, regs)
            events.image(ctx, "pull", rec.id, str(ref))
            return rec
        except RegistryError as e:
            errors.append(f"{ref}: {e.message}" if len(cands) > 1 else e.message)
            if isinstance(e, (type(None),)):
                break
            from pypod.errors import DigestMismatch

            if isinstance(e, DigestMismatch):
                raise
    if len(errors) == 1:
        raise RegistryError(errors[0])
    raise RegistryError(f"{len(errors)} errors occurred while pulling: " + "; ".join(errors))


def _pull_one(ctx: Context, req: PullRequest, ref, regs) -> ImageRecord:
    from pypod.image.auth import parse_creds
    from pypod.image.platform import Platform
    from pypod.image.pull import Puller, PullOptions
    from pypod.image.registry import RegistryClient

    if regs.is_blocked(ref):
        raise RegistryError(f"registry {ref.registry} is blocked in registries.conf")
    opts = PullOptions(platform=Platform.parse(req.platform, req.os, req.arch, req.variant),
                       creds=parse_creds(req.creds) if req.creds else None, authfile=req.authfile,
                       tls_verify=req.tls_verify, cert_dir=req.cert_dir)
    progress = ctx.reporter.progress(req.quiet)
    progress.say(f"Trying to pull {ref}...")
    puller = Puller(ctx.images, opts, progress, ctx.rootless, ctx.holder_dir)
    last: RegistryError | None = None
    try:
        sources = regs.pull_sources(ref)
        for n, (endpoint, src) in enumerate(sources):
            client = RegistryClient(src.registry, insecure=endpoint.insecure, tls_verify=req.tls_verify,
                                    creds=opts.creds, authfile=req.authfile, cert_dir=req.cert_dir)
            try:
                return puller.pull(src, client, src.repository, store_as=ref)
            except RegistryError as e:
                from pypod.errors import DigestMismatch

                last = e
                if isinstance(e, DigestMismatch):
                    raise
        assert last is not None
        raise RegistryError(f"initializing source docker://{ref}: {last.message}")
    finally:
        progress.close()


# -- list / inspect ----------------------------------------------------------------------------
class ImageRow:
    __slots__ = ("record", "repository", "tag")

    def __init__(self, record: ImageRecord, repository: str, tag: str):
        self.record, self.repository, self.tag = record, repository, tag


def containers_using(ctx: Context) -> dict[str, list[str]]:
    """image id → container ids that use it (read from the container records)."""
    out: dict[str, list[str]] = {}
    try:
        names = os.listdir(ctx.containers_dir)
    except FileNotFoundError:
        return out
    from pypod.store import db

    for cid in names:
        path = ctx.containers_dir / cid / "container.json"
        try:
            rec = db.read_record(path)
        except db.Damaged:  # its image is the one whose layers it runs on
            from pypod.store.containers import placeholder

            p = placeholder(ctx.containers_dir / cid)
            db.note_damaged("container", cid, p.name, path)
            chain = [os.path.basename(os.path.dirname(x)) for x in reversed(p.config.lower)]
            rec = {"image_id": next((r.id for r in ctx.images.list() if chain and r.layers == chain), "")}
        if rec and rec.get("image_id"):
            out.setdefault(rec["image_id"], []).append(cid)
    return out


def list_images(ctx: Context, all_: bool = False, filters: list[str] | None = None,
                name: str | None = None) -> list[ImageRow]:
    recs = ctx.images.list()
    # newest first; images created at the same time in the order they were stored, as podman
    recs.sort(key=lambda r: (-parse_time(r.created), parse_time(r.stored_at)))
    parents = _intermediate_ids(ctx, recs) if not all_ else set()
    flt = ImageFilter(ctx, filters or [], recs)
    rows: list[ImageRow] = []
    for r in recs:
        if r.id in parents and not r.names:
            continue
        if not flt.match(r):
            continue
        names = r.names or [""]
        for n in names:
            if n:
                repo, tag = _split_name(n)
            else:
                repo, tag = "<none>", "<none>"
            if name:
                if not _name_matches(name, repo, tag):
                    continue
            if flt.reference and not flt.match_reference(repo, tag):
                continue
            rows.append(ImageRow(r, repo, tag))
    return rows


def _name_matches(name: str, repo: str, tag: str) -> bool:
    want_repo, want_tag = _split_name(name)
    if want_tag and want_tag != tag:
        return False
    return repo == want_repo or repo.endswith("/" + want_repo)


class _Lineage:
    """Which image was built on which: `child` builds on `parent` when the parent's layers are a
    prefix of the child's, with fewer layers or a shorter history (a metadata-only step: ENV,
    LABEL, ...). History lengths are read from the configs once."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.hist: dict[str, int] = {}

    def history_len(self, rec: ImageRecord) -> int:
        if rec.id not in self.hist:
            self.hist[rec.id] = len(self.ctx.images.config(rec.id).get("history") or [])
        return self.hist[rec.id]

    def builds_on(self, child: ImageRecord, parent: ImageRecord) -> bool:
        return child.id != parent.id and child.layers[:len(parent.layers)] == parent.layers and \
            (len(child.layers) > len(parent.layers) or self.history_len(child) > self.history_len(parent))


def _intermediate_ids(ctx: Context, recs: list[ImageRecord]) -> set[str]:
    """Unnamed images another image was built on (build intermediates)."""
    lin = _Lineage(ctx)
    return {r.id for r in recs if not r.names and r.layers and any(lin.builds_on(o, r) for o in recs)}


class ImageFilter:
    """podman's image filters: reference, before, since (after), dangling, label, id, digest, readonly, until,
    intermediate."""

    KEYS = {"reference", "before", "since", "after", "dangling", "label", "id", "digest", "readonly", "until",
            "intermediate", "containers"}

    def __init__(self, ctx: Context, filters: list[str], recs: list[ImageRecord]):
        self.ctx = ctx
        self.recs = recs
        self.checks: list = []
        self.reference: list[str] = []
        self._usage: dict | None = None
        for f in filters:
            key, sep, value = f.partition("=")
            if not sep:
                raise InvalidArgument(f"invalid image filter {f!r}: must be in the format \"filter=value\"")
            if key not in self.KEYS:
                raise InvalidArgument(f"unsupported image filter {key!r}")
            if key == "reference":
                self.reference.append(value)
            elif key in ("before", "since", "after"):  # podman takes `after` for `since`
                other = get_image(ctx, value)
                t0 = parse_time(other.created)
                if key == "before":
                    self.checks.append(lambda r, t0=t0: parse_time(r.created) < t0)
                else:
                    self.checks.append(lambda r, t0=t0: parse_time(r.created) > t0)
            elif key == "until":
                from pypod.units import parse_duration

                try:
                    t0 = time.time() - parse_duration(value)
                except PypodError:
                    t0 = parse_time(value) or float(value)
                self.checks.append(lambda r, t0=t0: parse_time(r.created) < t0)
            elif key == "dangling":
                want = _bool(value)
                self.checks.append(lambda r, want=want: (not r.names) == want)
            elif key == "label":
                k, _, v = value.partition("=")
                self.checks.append(lambda r, k=k, v=v, hv="=" in value: _label_match(ctx, r, k, v, hv))
            elif key == "id":
                self.checks.append(lambda r, v=value.removeprefix("sha256:"): r.id.startswith(v))
            elif key == "digest":
                self.checks.append(lambda r, v=value: v in r.digests)
            elif key == "readonly":
                want = _bool(value)
                self.checks.append(lambda r, want=want: want is False)
            elif key == "intermediate":
                want = _bool(value)
                inter = _intermediate_ids(ctx, recs)
                self.checks.append(lambda r, want=want, inter=inter: (r.id in inter) == want)
            elif key == "containers":
                want = _bool(value)
                self.checks.append(lambda r, want=want: bool(self.usage().get(r.id)) == want)

    def usage(self) -> dict:
        if self._usage is None:
            self._usage = containers_using(self.ctx)
        return self._usage

    def match(self, r: ImageRecord) -> bool:
        return all(c(r) for c in self.checks)

    def match_reference(self, repo: str, tag: str) -> bool:
        import fnmatch

        full = f"{repo}:{tag}"
        for pat in self.reference:
            p = pat if ":" in pat.rsplit("/", 1)[-1] else pat + ":*"
            if fnmatch.fnmatchcase(full, p) or fnmatch.fnmatchcase(full, "*/" + p):
                return True
        return False


def _bool(v: str) -> bool:
    if v.lower() in ("true", "1", "yes"):
        return True
    if v.lower() in ("false", "0", "no"):
        return False
    raise InvalidArgument(f"invalid filter value {v!r}: must be true or false")


def _label_match(ctx: Context, r: ImageRecord, k: str, v: str, has_value: bool) -> bool:
    labels = (ctx.images.config(r.id).get("config") or {}).get("Labels") or {}
    if k not in labels:
        return False
    return labels[k] == v if has_value else True


def inspect_image(ctx: Context, rec: ImageRecord) -> dict:
    """podman's `image inspect` JSON for one image."""
    from pypod.template import GoTime

    cfg = ctx.images.config(rec.id)
    c = cfg.get("config") or {}
    layers = [ctx.images.layers.diff_dir(l) for l in rec.layers]
    graph = {"Name": "overlay", "Data": {}}
    if layers:
        graph["Data"] = {"UpperDir": str(layers[-1]), "WorkDir": str(layers[-1].parent / "work")}
        if len(layers) > 1:
            graph["Data"]["LowerDir"] = ":".join(str(p) for p in reversed(layers[:-1]))
    hist = cfg.get("history") or []
    out = {
        "Id": rec.id,
        "Digest": rec.digest,
        "RepoTags": list(rec.names),
        "RepoDigests": repo_digests(rec),
        "Parent": "",
        "Comment": next((h.get("comment", "") for h in hist if h.get("comment")), ""),
        "Created": GoTime(cfg.get("created") or rec.created or "0001-01-01T00:00:00Z"),
        "Config": _go_config(c),
        "Version": cfg.get("docker_version", ""),
        "Author": cfg.get("author", ""),
        "Architecture": cfg.get("architecture", ""),
        "Os": cfg.get("os", ""),
        "Size": ctx.images.size(rec),
        "VirtualSize": ctx.images.size(rec),
        "GraphDriver": graph,
        "RootFS": {"Type": "layers", "Layers": list((cfg.get("rootfs") or {}).get("diff_ids") or [])},
        "Labels": c.get("Labels") or None,
        "Annotations": {},
        "ManifestType": rec.manifest_media_type or "application/vnd.oci.image.manifest.v1+json",
        "User": c.get("User", ""),
        "History": hist,
        "NamesHistory": names_history(rec),
    }
    if cfg.get("variant"):
        out["Variant"] = cfg["variant"]
    return out


def names_history(rec: ImageRecord) -> list[str]:
    """Every name the image had, current ones first (a record written before the history was
    kept has only its current names)."""
    return list(dict.fromkeys(rec.names + rec.names_history))


def repo_digests(rec: ImageRecord) -> list[str]:
    out = list(rec.repo_digests)
    for n in rec.names:
        repo, _ = _split_name(n)
        for d in rec.digests[:1]:
            s = f"{repo}@{d}"
            if s not in out:
                out.append(s)
    return out


def _go_config(c: dict) -> dict:
    """The image config as podman prints it: empty fields dropped (Go's omitempty)."""
    keys = ["User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes", "WorkingDir", "Labels",
            "StopSignal", "Healthcheck", "OnBuild", "Shell", "ArgsEscaped"]
    out = {}
    for k in keys:
        if c.get(k) not in (None, "", [], {}):
            out[k] = c[k]
    for k, v in c.items():
        if k not in out and v not in (None, "", [], {}) and k not in ("Hostname", "Domainname", "AttachStdin",
                                                                     "AttachStdout", "AttachStderr",
                                                                     "Tty", "OpenStdin", "StdinOnce", "Image"):
            out[k] = v
    return out


# -- tag / untag / remove ------------------------------------------------------------------------
def normalize_new_name(name: str) -> str:
    """A name given to tag/import/commit: a short name gets `localhost/` as podman does."""
    from pypod.image import reference

    if name.startswith("docker://"):
        name = name[9:]
    try:
        if reference.is_short_name(name):
            path, tag, digest = reference.parse_short(name)
            if digest:
                raise InvalidArgument(f"{name}: a tag is required, not a digest")
            return f"localhost/{path}:{tag or 'latest'}"
        ref = reference.parse(name)
    except PypodError as e:
        if str(e) not in ("invalid reference format", "repository name must be lowercase"):
            raise
        raise InvalidArgument(f'normalizing name "{name}": normalizing name "{name}": {e}') from None
    if ref.digest:
        raise InvalidArgument(f"{name}: a tag is required, not a digest")
    return str(ref)


def tag(ctx: Context, name: str, new_names: list[str]) -> None:
    rec = get_image(ctx, name)
    normalized = [normalize_new_name(n) for n in new_names]
    with ctx.images.lock():
        rec = ctx.images.get(rec.id) or rec
        for n in normalized:
            ctx.images.untag_everywhere(n, keep=rec.id)
            if n not in rec.names:
                rec.names.append(n)
        ctx.images.save(rec)
    for n in normalized:
        events.image(ctx, "tag", rec.id, n)


def untag(ctx: Context, name: str, names: list[str]) -> None:
    rec = get_image(ctx, name)
    with ctx.images.lock():
        rec = ctx.images.get(rec.id) or rec
        if not names:
            gone, rec.names = list(rec.names), []
        else:
            gone = []
            for n in names:
                norm = normalize_new_name(n)
                cands = [norm] + [c for c in candidate_names(n) if c != norm]
                hit = next((c for c in cands if c in rec.names), None)
                if hit is None:
                    raise PypodError(f"{n}: tag not known")
                rec.names.remove(hit)
                gone.append(hit)
        ctx.images.save(rec)
    for n in gone:  # podman: an event per name taken off, with that name
        events.image(ctx, "untag", rec.id, n)


class RemoveReport(Record):
    FIELDS = (("untagged", list), ("deleted", list), ("errors", list), ("exit_code", 0))
    __slots__ = tuple(n for n, _ in FIELDS)


def remove_images(ctx: Context, names: list[str], force: bool = False, all_: bool = False,
                  ignore: bool = False) -> RemoveReport:
    rep = RemoveReport()
    reap_orphans(ctx)
    usage = containers_using(ctx)
    damaged: list[str] = []  # ids of images whose record is unreadable, to remove as they are
    if all_:  # in the order they came into the store, as podman's (c/storage keeps that order)
        targets = [(r.id, r) for r in sorted(ctx.images.list(), key=lambda r: (r.stored_at or "", r.id))]
        damaged = list(ctx.images.damaged)
    else:
        targets = []
        for n in names:
            rec = find_image(ctx, n)
            if rec is None:
                bare = n.removeprefix("sha256:")
                hits = [d for d in ctx.images.damaged if d.startswith(bare)] if _is_id(n) else []
                if len(hits) == 1:
                    damaged.append(hits[0])
                    continue
                if not (ignore or force):  # podman 4.3: rmi -f of a missing name is no error
                    rep.errors.append(RemoveMissing(f"{n}: image not known"))
                continue
            targets.append((n, rec))
    for iid in damaged:
        try:
            _remove_damaged(ctx, iid, force, usage, rep)
        except PypodError as e:
            rep.errors.append(e)
    for given, rec in targets:
        try:
            lin = _Lineage(ctx)
            if not all_:
                lin.history_len(rec)  # (read while its config is still there)
            _remove_one(ctx, given, rec, force, all_, usage, rep)
            if not all_ and rec.id in rep.deleted:
                _remove_dangling_parents(ctx, rec, lin, usage, rep)
        except PypodError as e:
            rep.errors.append(e)
    if rep.deleted:
        collect_garbage(ctx)
    if rep.errors:
        codes = {e.exit_code for e in rep.errors}
        rep.exit_code = 2 if 2 in codes else (1 if codes == {1} else 125)
    for n in rep.untagged:
        events.image(ctx, "untag", "", n)
    for d in rep.deleted:
        events.image(ctx, "remove", d)
    return rep


def _remove_one(ctx, given, rec, force, by_all, usage, rep: RemoveReport) -> None:
    store = ctx.images
    users = usage.get(rec.id, [])
    by_id = by_all or given == rec.id or (_is_id(given) and rec.id.startswith(given.removeprefix("sha256:"))
                                          and given not in " ".join(rec.names))
    with store.lock():
        rec = store.get(rec.id)
        if rec is None:
            return
        if not by_id and len(rec.names) > 1:
            # A name of an image with several: just untag it.
            full = next((n for n in candidate_names(given) if n in rec.names), None)
            if full:
                rec.names.remove(full)
                store.save(rec)
                rep.untagged.append(full)
                return
        if not by_id and "@" in given and rec.names:
            # A digest reference of a tagged image (`pull IMG@sha256:…`) is one more name in podman:
            # removing it untags that reference only.
            full = next((n for n in candidate_names(given) if "@" in n), given)
            if full in rec.repo_digests:
                rec.repo_digests.remove(full)
                store.save(rec)
            rep.untagged.append(full)
            return
        if rec.id in store.leased_ids():  # a build in flight works from it
            if by_all:
                return
            if not force:
                raise ImageInUse(f"image {rec.id[:12]} is in use by a build in progress")
        if by_id and len(rec.names) > 1 and not force and not by_all:
            raise PypodError(f"unable to delete image {rec.id[:12]!r} by ID with more than one tag "
                             f"({rec.names}): please force removal")
        if users:
            if not force:
                raise ImageInUse(f"image used by {users[0]}: image is in use by a container: consider "
                                 "listing external containers and force-removing image")
        rep.untagged.extend(rec.names)
        store.delete_record(rec.id)
        rep.deleted.append(rec.id)
        used = store.layers_in_use()
        doomed = [l for l in rec.layers if l not in used]
    if users and force:
        _remove_containers(ctx, users)
    for l in doomed:
        _remove_layer(ctx, l)


def _remove_damaged(ctx: Context, iid: str, force: bool, usage: dict, rep: RemoveReport) -> None:
    """Remove an image whose record is unreadable (its layers go with the next collect_garbage)."""
    users = usage.get(iid, [])
    if users and not force:
        raise ImageInUse(f"image used by {users[0]}: image is in use by a container: consider "
                         "listing external containers and force-removing image")
    if users:
        _remove_containers(ctx, users)
    with ctx.images.lock():
        ctx.images.delete_record(iid)
    rep.deleted.append(iid)


def collect_garbage(ctx: Context) -> None:
    """Remove the layers and the config and manifest blobs no image refers to any more (left by
    removed images, or by a process that died between storing them and the image). Nothing while
    an image record is unreadable: what it refers to is unknown."""
    store = ctx.images
    dead = []
    with store.lock():
        recs = store.list()
        if store.damaged:
            return
        used = {l for r in recs for l in r.layers}
        for l in store.layers.ids():
            if l not in used:
                d = store.layers.trash(l)
                if d is not None:
                    dead.append((l, d))
        for b in store.unreferenced_blobs(recs):
            try:
                os.unlink(b)
            except OSError:
                pass
    for layer_id, d in dead:
        remove_tree(ctx, d)
        _remove_shifted(ctx, layer_id)


def _remove_dangling_parents(ctx: Context, gone: ImageRecord, lin: _Lineage, usage: dict,
                             rep: RemoveReport) -> None:
    """After removing a built image, its unnamed parents (the build's intermediates) that no
    other image and no container still builds on go too, nearest first — as podman's rmi.
    `lin` knows the removed image's history already (its config is gone with it)."""
    while True:
        recs = ctx.images.list()
        parents = [p for p in recs if not p.names and p.layers and not usage.get(p.id)
                   and lin.builds_on(gone, p)]
        if not parents:
            return
        nearest = max(parents, key=lambda p: (len(p.layers), lin.history_len(p)))
        if any(lin.builds_on(o, nearest) for o in recs):
            return  # another image still builds on it (or on what is below it)
        before = len(rep.deleted)
        _remove_one(ctx, nearest.id, nearest, False, False, usage, rep)
        if len(rep.deleted) == before:
            return
        gone = nearest


def _remove_containers(ctx: Context, ids: list[str]) -> None:
    """`rmi -f`: the image's containers go; an infra container takes its whole pod (podman)."""
    from pypod.engine import containers, pods

    rest = []
    for cid in ids:
        pod = pods.pod_of_infra(ctx, containers.store(ctx).get(cid))
        if pod is not None:
            pods.remove_pod(ctx, pod, force=True)
        else:
            rest.append(cid)
    if rest:
        containers.remove_containers(ctx, rest, force=True)


def _remove_layer(ctx: Context, layer_id: str) -> None:
    """Remove an unreferenced layer: rename out of the way first (atomic), then delete."""
    layers = ctx.images.layers
    if not layers.path(layer_id).exists():
        return
    with ctx.images.lock():
        if layer_id in ctx.images.layers_in_use():
            return
        dead = layers.trash(layer_id)
    if dead is not None:
        remove_tree(ctx, dead)
    _remove_shifted(ctx, layer_id)


def _remove_shifted(ctx: Context, layer_id: str) -> None:
    shifted = ctx.graph_root / "overlay-shifted"  # a layer's --uidmap copies go with it
    for key in (os.listdir(shifted) if shifted.is_dir() else []):
        if (shifted / key / layer_id).exists():
            remove_tree(ctx, shifted / key / layer_id)


def prune(ctx: Context, all_: bool = False, filters: list[str] | None = None) -> list[str]:
    usage = containers_using(ctx)
    recs = ctx.images.list()
    damaged = list(ctx.images.damaged)
    flt = ImageFilter(ctx, filters or [], recs)
    doomed = []
    for r in recs:
        if usage.get(r.id):
            continue
        if not all_ and r.names:
            continue
        if not flt.match(r):
            continue
        doomed.append(r.id)
    rep = RemoveReport()
    for d in doomed:
        rec = ctx.images.get(d)
        if rec:
            _remove_one(ctx, d, rec, True, True, {}, rep)
    if not filters:  # an unreadable record matches no filter; without one it is garbage
        for d in damaged:
            if not usage.get(d):
                _remove_damaged(ctx, d, False, usage, rep)
    reap_orphans(ctx)  # only what dead processes left: a pull or build in flight keeps its temp dirs
    collect_garbage(ctx)
    _sweep_dead(ctx)  # what a killed command left beside them: image dirs without a record, ...
    return rep.deleted


def _sweep_dead(ctx: Context) -> None:
    """What a command killed mid-way left: image dirs without a record, layers no image lists,
    records' temp files. Pull, build and import store layers and image under the storage lock, so
    under it these are dead."""
    from pypod.store import db

    images = ctx.images
    with images.lock():
        records = os.listdir(images.images_dir) if os.path.isdir(images.images_dir) else []
        # an unreadable record is not a missing one: it is named and removed on request (rmi,
        # system check --repair); while one exists, which layers it needs is not known
        damaged = False
        for n in records:
            if images.get(n) is None:
                if os.path.exists(os.path.join(images.images_dir, n, "image.json")):
                    damaged = True
                else:
                    images.delete_record(n)
        used = images.layers_in_use()
        orphans = [] if damaged else [l for l in images.layers.ids() if l not in used]
        for d in [images.blobs_dir, *(os.path.join(images.images_dir, n) for n in records),
                  *(os.fspath(images.layers.path(l)) for l in images.layers.ids())]:
            for tmp in db.dead_temps(d):
                os.unlink(tmp)
    for l in orphans:
        _remove_layer(ctx, l)


def history(ctx: Context, rec: ImageRecord) -> list[dict]:
    cfg = ctx.images.config(rec.id)
    hist = cfg.get("history") or []
    layers = [ctx.images.layers.get(l) for l in rec.layers]
    out = []
    li = 0
    for h in hist:
        empty = bool(h.get("empty_layer"))
        size = 0
        if not empty and li < len(layers):
            size = layers[li].size if layers[li] else 0
            li += 1
        out.append({"created": h.get("created", ""), "created_by": h.get("created_by", ""),
                    "size": size, "comment": h.get("comment", ""), "empty": empty})
    out.reverse()
    if out:
        out[0]["id"] = rec.id
    for o in out[1:]:
        o["id"] = "<missing>"
    return out


# -- import -----------------------------------------------------------------------------------
class NewLayer:
    """A layer unpacked into a temp dir of the layer store, not yet committed."""

    __slots__ = ("tmp", "diff_id", "size", "report")

    def __init__(self, tmp, diff_id: str, size: int, report: dict | None = None):
        self.tmp, self.diff_id, self.size = tmp, diff_id, size
        self.report = report or {}  # the unpack worker's: what it skipped, its notices


def warn_unpacked(ctx: Context, image: str, layers: list[NewLayer]) -> None:
    """Say once for an image what its layers had that was not unpacked (a warning)."""
    from pypod.image.unpack_worker import warnings_of

    for line in warnings_of(image, [nl.report for nl in layers]):
        ctx.reporter.warn(line)


def unpack_to_temp_layer(ctx: Context, stream) -> NewLayer:
    """Unpack a (gzip, zstd or plain) tar stream into a temp layer, inside the user namespace."""
    import subprocess
    import sys

    head = stream.read(6)
    compression = "gzip" if head[:2] == b"\x1f\x8b" else ("zstd" if head[:4] == b"\x28\xb5\x2f\xfd" else "")
    tmp = ctx.images.layers.new_temp()
    argv = [sys.executable, "-m", "pypod.image.unpack_worker", str(tmp / "diff"), compression,
            "user.overlay.opaque" if ctx.rootless else "trusted.overlay.opaque"]
    kw = dict(stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        if ctx.rootless:
            from pypod.linux.userns import run_in_userns

            proc = run_in_userns(argv, holder_dir=ctx.holder_dir, **kw)
        else:
            proc = subprocess.Popen(argv, **kw)
        try:
            proc.stdin.write(head)
            from pypod import faults; faults.point("unpack.stream")
            while True:
                chunk = stream.read(1 << 20)
                if not chunk:
                    break
                proc.stdin.write(chunk)
        except BrokenPipeError:
            pass
        out, err = proc.communicate()
        if proc.returncode != 0:
            msg = err.decode(errors="replace").strip().splitlines()
            raise PypodError(f"importing layer: {msg[-1] if msg else 'unpack failed'}")
        import json

        res = json.loads(out)
    except BaseException:
        remove_tree(ctx, tmp)
        raise
    return NewLayer(tmp, res["diff_id"], res["size"], res)


def store_image(ctx: Context, config: dict, new_layers: list[NewLayer], names: list[str] | tuple = (),
                manifest_media_type: str = "application/vnd.oci.image.manifest.v1+json",
                lease=None, keep_existing: bool = False) -> ImageRecord:
    """Commit new layers and write an image whose config is `config` (added to `lease`, an
    ImageLease, before the storage lock is released: a concurrent prune cannot take it).
    keep_existing: an image that already has names[0] (another process made it meanwhile) is the
    answer, and nothing is stored — checked under the lock, so two makers leave one image.

    config["rootfs"]["diff_ids"] lists every layer, bottom first; `new_layers` are its last ones, the
    rest must already be in the store (a base image's). The image id is the config's digest."""
    from pypod.image.pull import now_iso
    from pypod.store.layers import LayerRecord, chain_ids, hex_of

    diff_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
    if [nl.diff_id for nl in new_layers] != diff_ids[len(diff_ids) - len(new_layers):]:
        raise PypodError("storing image: the new layers do not match the config's diff ids")
    import json

    chains = [hex_of(c) for c in chain_ids(diff_ids)]
    raw = json.dumps(config, separators=(",", ":")).encode()
    try:
        with ctx.images.lock():
            if keep_existing and names:
                made = next((r for r in ctx.images.list() if names[0] in r.names), None)
                if made is not None:
                    return made
            base = chains[: len(chains) - len(new_layers)]
            missing = [c for c in base if not ctx.images.layers.exists(c)]
            if missing:
                raise PypodError(f"storing image: base layer {missing[0]} is not in storage")
            for i, nl in enumerate(new_layers):
                idx = len(base) + i
                ctx.images.layers.commit(nl.tmp, LayerRecord(id=chains[idx], parent=chains[idx - 1] if idx else None,
                                                             diff_id=nl.diff_id, size=nl.size, created=now_iso()))
            digest = ctx.images.put_blob(raw)
            image_id = digest.split(":", 1)[1]
            rec = ctx.images.get(image_id) or ImageRecord(id=image_id, stored_at=now_iso())
            rec.layers = chains
            rec.created = config.get("created", "")
            rec.size = sum((ctx.images.layers.get(c).size or 0) for c in chains)
            rec.manifest_media_type = manifest_media_type
            for n in names:
                ctx.images.untag_everywhere(n, keep=image_id)
                if n not in rec.names:
                    rec.names.append(n)
            ctx.images.save(rec)
            if lease is not None:
                lease.add(image_id)
    finally:
        for nl in new_layers:
            if nl.tmp.exists():  # not committed: the same layer was already stored
                remove_tree(ctx, nl.tmp)
    return rec


def import_image(ctx: Context, source: str, stdin, *, changes: list[str], name: str | None,
                 comment: str = "") -> ImageRecord:
    """`import SOURCE`: a tarball from a file, an http(s) URL or `stdin` (SOURCE "-") as a new
    image, its config made from the --change instructions."""
    from pypod.image.changes import apply_changes

    config = apply_changes({}, changes)
    if source == "-":
        return new_image_from_layer_stream(ctx, stdin, config_patch=config, name=name, comment=comment)
    if source.startswith(("http://", "https://")):
        import requests

        r = requests.get(source, stream=True, timeout=(30, 300))
        if r.status_code != 200:
            raise PypodError(f"downloading {source}: status {r.status_code}")
        return new_image_from_layer_stream(ctx, r.raw, config_patch=config, name=name, comment=comment)
    try:
        f = open(source, "rb")
    except OSError as e:
        raise PypodError(f"opening {source}: {e.strerror}") from None
    with f:
        return new_image_from_layer_stream(ctx, f, config_patch=config, name=name, comment=comment)


def new_image_from_layer_stream(ctx: Context, stream, *, config_patch: dict, name: str | None,
                                comment: str = "", created_by: str = "", keep_existing: bool = False) -> ImageRecord:
    """`import`: one layer from a tar stream, stored as a new image with `config_patch` as its config
    (keep_existing: as store_image's)."""
    from pypod.image.platform import host_arch
    from pypod.image.pull import now_iso

    layer = unpack_to_temp_layer(ctx, stream)
    warn_unpacked(ctx, name or "the imported image", [layer])
    created = now_iso()
    config = {
        "created": created,
        "architecture": host_arch(),
        "os": "linux",
        "config": config_patch,
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
        "history": [{"created": created, "created_by": created_by or "/bin/sh -c #(nop) ADD file in /",
                     **({"comment": comment} if comment else {})}],
    }
    return store_image(ctx, config, [layer], [name] if name else [], keep_existing=keep_existing)
