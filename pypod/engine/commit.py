"""`commit`: a container's changes (its overlay upper dir) as a new layer on top of its image."""

from __future__ import annotations

import copy
import subprocess

from pypod.engine.context import Context
from pypod.errors import InvalidArgument, PypodError
from pypod.record import Record


class CommitOptions(Record):
    FIELDS = (("container", ""), ("image", None), ("changes", list), ("message", None), ("author", None),
              ("format", "oci"), ("quiet", False), ("iidfile", None), ("include_volumes", False),
              ("timestamp", None))
    __slots__ = tuple(n for n, _ in FIELDS)


def upper_layer(ctx: Context, upper: str, mtime: int | None = None):
    """The upper dir as a new temp layer (tar made inside the user namespace, then unpacked)."""
    from pypod.engine.build import _lean
    from pypod.engine.images import unpack_to_temp_layer

    cmd = _lean("pypod.image.layerdiff", ["--run-mounts"])
    if mtime is not None:
        cmd += ["--mtime", str(mtime)]
    cmd.append(upper)
    if ctx.rootless:
        from pypod.linux.userns import run_in_userns

        proc = run_in_userns(cmd, holder_dir=ctx.holder_dir, stdout=subprocess.PIPE)
    else:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    try:
        layer = unpack_to_temp_layer(ctx, proc.stdout)
    finally:
        proc.stdout.close()
        rc = proc.wait()
    if rc != 0:
        raise PypodError(f"reading the container's changes: exit status {rc}")
    return layer


def commit(ctx: Context, opts: CommitOptions):
    from pypod.engine import containers as ce
    from pypod.engine.build import DOCKER_MANIFEST, OCI_MANIFEST, _iso
    from pypod.engine.images import normalize_new_name, store_image
    from pypod.image.changes import apply_changes

    if opts.format not in ("oci", "docker"):
        raise InvalidArgument(f"unrecognized image format \"{opts.format}\"")
    rec = ce.get_container(ctx, opts.container)
    if rec.rootfs:
        raise PypodError(f"cannot commit container {rec.name}: it runs on --rootfs, not an image")
    img = ctx.images.get(rec.image_id)
    if img is None:
        raise PypodError(f"image {rec.image_id[:12]} of container {rec.name} is gone")
    cfg = copy.deepcopy(ctx.images.config(img.id))
    c = cfg.setdefault("config", {})
    o = rec.config
    # podman commits the container's settings, not only the image's
    image_entry = list(c.get("Entrypoint") or [])
    if rec.entrypoint:
        c["Entrypoint"] = list(rec.entrypoint)
    if rec.cmd or list(rec.entrypoint) == image_entry:
        c["Cmd"] = list(rec.cmd) or c.get("Cmd")
    else:  # an --entrypoint of its own dropped the image's CMD (run did not pass it): so does the image
        c.pop("Cmd", None)
    if o.env:
        c["Env"] = list(o.env)
    if o.workdir:
        c["WorkingDir"] = o.workdir
    if o.user:
        c["User"] = o.user
    if rec.labels:
        c["Labels"] = dict(rec.labels)
    if opts.include_volumes:
        for v in o.volumes:
            parts = v.split(":")
            dest = parts[1] if len(parts) > 1 else parts[0]
            c.setdefault("Volumes", {})[dest] = {}
    apply_changes(c, list(opts.changes))
    upper = str(ce.store(ctx).dir(rec.id) / "upper")
    say = (lambda line: None) if opts.quiet else ctx.reporter.notice
    say("Getting image source signatures")
    layer = upper_layer(ctx, upper, opts.timestamp)
    created = _iso(opts.timestamp)
    cfg["created"] = created
    if opts.author:
        cfg["author"] = opts.author
    cfg.setdefault("rootfs", {"type": "layers", "diff_ids": []})
    cfg["rootfs"]["diff_ids"] = list(cfg["rootfs"].get("diff_ids") or []) + [layer.diff_id]
    hist = {"created": created, "created_by": "/bin/sh"}
    if opts.author:
        hist["author"] = opts.author
    hist["comment"] = opts.message if opts.message else f"FROM {rec.image_name}"
    cfg.setdefault("history", []).append(hist)
    names = [normalize_new_name(opts.image)] if opts.image else []
    mt = "application/vnd.docker.distribution.manifest.v2+json" if opts.format == "docker" else \
        "application/vnd.oci.image.manifest.v1+json"
    assert mt in (DOCKER_MANIFEST, OCI_MANIFEST)
    new = store_image(ctx, cfg, [layer], names, manifest_media_type=mt)
    for diff_id in cfg["rootfs"]["diff_ids"]:
        say(f"Copying blob {diff_id}")
    for line in (f"Copying config sha256:{new.id}", "Writing manifest to image destination", "Storing signatures"):
        say(line)
    if opts.iidfile:
        with open(opts.iidfile, "w") as f:
            f.write("sha256:" + new.id)
    return new
