"""Local manifest lists (`manifest create/inspect/exists/rm`): podman keeps one as an image whose
stored manifest is the list; it has no config and no layers of its own.

Only empty lists are made here (`manifest add`, `push --all` are not built yet); `images` lists
them and `rmi`/`manifest rm` remove them as podman's do."""

from __future__ import annotations

from pypod.engine.context import Context
from pypod.errors import ImageNotFound, PypodError


class NotAList(PypodError):
    pass


def is_list(rec) -> bool:
    from pypod.image import mediatypes as mt

    return rec.manifest_media_type in mt.INDEXES and not rec.layers


def create(ctx: Context, name: str, images: list[str] | None = None) -> str:
    """A new, empty manifest list named `name`; its id."""
    import json
    import secrets

    from pypod.engine import events
    from pypod.engine.images import find_image, normalize_new_name
    from pypod.image import mediatypes as mt
    from pypod.image.pull import now_iso
    from pypod.store.images import ImageRecord

    if images:
        raise PypodError("adding images to a manifest list is not supported yet: create it empty")
    full = normalize_new_name(name)
    taken = find_image(ctx, full)
    if taken is not None:
        raise PypodError(f"creating image to hold manifest list: image name \"{full}\" is already "
                         f"associated with image \"{taken.id}\": that name is already in use")
    body = json.dumps({"schemaVersion": 2, "mediaType": mt.DOCKER_MANIFEST_LIST, "manifests": None},
                      indent=4).encode()
    store = ctx.images
    with store.lock():
        digest = store.put_blob(body)
        # podman gives a list a storage id of its own (there is no config to be the id)
        rec = ImageRecord(id=secrets.token_hex(32), names=[full], digests=[digest], created=now_iso(),
                          manifest_digest=digest, manifest_media_type=mt.DOCKER_MANIFEST_LIST,
                          stored_at=now_iso())
        store.save(rec)
    events.image(ctx, "create", rec.id, full)
    return rec.id


def get(ctx: Context, name: str):
    from pypod.engine.images import find_image

    rec = find_image(ctx, name)
    if rec is None:
        raise ImageNotFound(f"{name}: image not known")
    if not is_list(rec):
        raise NotAList(f"{name}: image is not a manifest list")
    return rec


def inspect(ctx: Context, name: str) -> bytes:
    """The list as stored (podman prints it as is)."""
    rec = get(ctx, name)
    raw = ctx.images.get_blob(rec.manifest_digest)
    if raw is None:
        raise PypodError(f"{name}: the manifest list's blob {rec.manifest_digest} is missing")
    return raw
