"""The names shell completion offers (podman's getContainers/getImages/...): what exists now."""

from __future__ import annotations

from pypod.engine.context import Context


def candidates(ctx: Context, kind: str, typed: str) -> list[str]:
    """Names of `kind` (container, running-container, image, network, volume) starting with
    `typed`; ids too (12 hex) once three characters are typed, as podman completes them."""
    ids = len(typed) >= 3
    out: list[str] = []
    if kind in ("container", "running-container"):
        from pypod.engine import containers

        for rec in containers.store(ctx).list():
            if kind == "running-container" and containers.state_of(ctx, rec)["status"] != "running":
                continue
            out += [rec.name] + ([rec.id[:12]] if ids else [])
    elif kind == "image":
        for rec in ctx.images.list():
            out += list(rec.names) + ([rec.id[:12]] if ids else [])
    elif kind == "network":
        from pypod.engine import networks

        out += [n.get("name", "") for n in networks.list_networks(ctx)]
    elif kind == "volume":
        from pypod.engine import volumes

        out += [v.name for v in volumes.list_volumes(ctx)]
    return [c for c in dict.fromkeys(out) if c and c.startswith(typed)]
