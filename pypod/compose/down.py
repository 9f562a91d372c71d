"""`compose down`: stop and remove the project's containers (dependents first), then the
networks it created, and with -v its named volumes, with --rmi its images."""

from __future__ import annotations

import sys

from pypod.compose import plan
from pypod.compose.containers import project_containers, remove, service_of, stop_levels
from pypod.compose.errors import ComposeError


def down(ctx, project, *, volumes: bool = False, rmi: str | None = None, remove_orphans: bool = False,
         timeout: int | None = None, say) -> None:
    from pypod.engine import networks as netmod
    from pypod.engine import volumes as vol

    if rmi not in (None, "", "local", "all"):
        raise ComposeError(f"invalid --rmi option {rmi!r}: use local or all")
    known = set(project.model["services"])
    views = project_containers(ctx, project.name, oneoff=None)
    orphans = [v for v in views if service_of(v.record) not in known]
    if orphans and not remove_orphans:
        names = ", ".join(v.record.name for v in orphans)
        sys.stderr.write(f"WARN[0000] Found orphan containers ([{names}]) for this project. If you removed or "
                         f"renamed this service in your compose file, you can run this command with the "
                         f"--remove-orphans flag to clean it up.\n")
        views = [v for v in views if v not in orphans]
    remove(ctx, views, timeout, say, volumes=volumes, levels=stop_levels(project.model, views))
    for key, net in sorted((project.model.get("networks") or {}).items()):
        name = net.get("name") or f"{project.name}_{key}"
        if net.get("external"):
            continue
        rec = netmod.find_network(ctx, name)
        if rec is None or (rec.get("labels") or {}).get(plan.PROJECT, project.name) != project.name:
            continue
        say("Network", name, "Removing")
        netmod.remove_network(ctx, name)
        say("Network", name, "Removed")
    if volumes:
        for key, v in sorted((project.model.get("volumes") or {}).items()):
            name = v.get("name") or f"{project.name}_{key}"
            if v.get("external") or not vol.exists(ctx, name):
                continue
            say("Volume", name, "Removing")
            rep = vol.remove_volumes(ctx, [name])
            errors = getattr(rep, "errors", None)
            if errors:
                raise errors[0]
            say("Volume", name, "Removed")
    if rmi:
        remove_images(ctx, project, rmi, say)


def remove_images(ctx, project, rmi: str, say) -> None:
    from pypod.engine import images as ie

    seen = set()
    for s, svc in sorted(project.model["services"].items()):
        if rmi == "local" and svc.get("image"):
            continue  # local: only the images Compose named itself (built, no `image:`)
        name = plan.image_name(project.name, s, svc)
        if name in seen or ie.find_image(ctx, name) is None:
            continue
        seen.add(name)
        say("Image", name, "Removing")
        rep = ie.remove_images(ctx, [name], force=False)
        if getattr(rep, "errors", None):
            sys.stderr.write(f"Error: {rep.errors[0]}\n")
            continue
        say("Image", name, "Removed")
