"""`pypod inspect`: containers, images (and later volumes, networks, pods) by name or id."""

from __future__ import annotations

import sys

from pypod.cli.params import Arg, Opt

from pypod.cli import state
from pypod.cli.render import go_json, out

TYPE_CHECKING = False  # typing costs start-up time; the names below are for annotations only
if TYPE_CHECKING:
    from typing import List, Optional


def emit(results: list, fmt: Optional[str], errors: list[str], kind: str = "") -> None:
    """Print inspect results as podman does: a JSON array, or a template per item; errors after."""
    from pypod.errors import NotFound

    if fmt and fmt.strip() != "json":
        from pypod import template

        t = template.Template(template.normalize_format(fmt))
        for r in results:
            try:
                out(t.execute(r))
            except template.TemplateError as e:
                from pypod.errors import InvalidArgument

                raise InvalidArgument(str(e)) from None
    else:
        out(go_json(results, indent=5))  # podman's inspect indents by five; "[]" when none is found
    if errors:
        errors = [e if e.startswith("inspecting object: ") else f"inspecting object: {e}" for e in errors]
        for e in errors[:-1]:
            sys.stderr.write(f"Error: {e}\n")
        raise NotFound(errors[-1])


def inspect(
    names: List[str] = Arg(..., metavar="NAME|ID [NAME|ID...]"),
    fmt: Optional[str] = Opt(None, "--format", "-f", help="Format the output using the given Go template"),
    type_: str = Opt("all", "--type", "-t", help="Specify inspect-object type (container, image, volume, network, pod, all)"),
    size: bool = Opt(False, "--size", "-s", help="Display total file size (containers)"),
    latest: bool = Opt(False, "--latest", "-l", help="Act on the latest container pypod is aware of"),
):
    """Display the configuration of a container or image."""
    ctx = state.context()
    results, errors = [], []
    finders = []
    if type_ in ("all", "container"):
        try:
            from pypod.engine import containers as ce

            finders.append(lambda n: (lambda c: ce.inspect_container(ctx, c, size=size) if c else None)(ce.find_container(ctx, n)))
        except ImportError:
            pass
    if type_ in ("all", "image"):
        from pypod.engine import images as ie

        def image(n):
            rec = ie.find_image(ctx, n)
            if rec is None:
                return None
            if fmt and fmt.strip() != "json":
                from pypod.cli.gostruct import image_inspect  # templates see podman's field names

                return image_inspect(ie.inspect_image(ctx, rec))
            return ie.inspect_image(ctx, rec)

        finders.append(image)
    if type_ in ("all", "volume"):
        from pypod.engine import volumes as ve

        finders.append(lambda n: (lambda r: ve.inspect_volume(ctx, r) if r else None)(ve.find_volume(ctx, n)))
    if type_ in ("all", "network"):
        from pypod.engine import networks as ne

        def network(n):
            rec = ne.find_network(ctx, n)
            if rec is not None and fmt and fmt.strip() != "json":
                from pypod.cli.network import _GoNetwork  # templates see podman's field names

                return _GoNetwork(rec)
            return rec

        finders.append(network)
    if type_ in ("all", "pod"):
        from pypod.engine import pod_reports, pods as pe

        finders.append(lambda n: (lambda p: pod_reports.inspect_pod(ctx, p) if p else None)(pe.find_pod(ctx, n)))
    if type_ not in ("all", "container", "image", "volume", "network", "pod"):
        from pypod.errors import InvalidArgument

        raise InvalidArgument(f"invalid type {type_!r}: must be one of container, image, volume, network, pod, all")
    if latest:
        from pypod.engine import containers as ce

        names = [ce.latest_container(ctx)]
    for n in names:
        for f in finders:
            r = f(n)
            if r is not None:
                results.append(r)
                break
        else:
            errors.append({"image": f"{n}: image not known", "container": f"no such container {n}",
                           "volume": f"no such volume {n}", "pod": f"no such pod {n}",
                           "network": f"network {n}: unable to find network with name or ID {n}: network not found",
                           }.get(type_, f'no such object: "{n}"'))
    emit(results, fmt, errors)


def register(root) -> None:
    root.command("inspect", help="Display the configuration of object denoted by ID")(inspect)
