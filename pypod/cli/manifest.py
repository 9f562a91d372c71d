"""`pypod manifest ...`: create, inspect, exists, rm (empty local lists; add/push not built yet)."""

from __future__ import annotations

from pypod.cli.params import Arg, Opt

from pypod.cli import state
from pypod.cli.render import out

TYPE_CHECKING = False  # typing costs start-up time; the names below are for annotations only
if TYPE_CHECKING:
    from typing import List


def create(name: str = Arg(..., metavar="LIST"),
           images: List[str] = Arg(None, metavar="[IMAGE...]"),
           all_: bool = Opt(False, "--all", help="add all of the lists' images if the images to add are lists")):
    """Create manifest list or image index."""
    from pypod.engine import manifests

    out(manifests.create(state.context(), name, list(images or [])))


def inspect(name: str = Arg(..., metavar="IMAGE")):
    """Display the contents of a manifest list or image index."""
    import sys

    from pypod.engine import manifests

    raw = manifests.inspect(state.context(), name)
    sys.stdout.buffer.write(raw if raw.endswith(b"\n") else raw + b"\n")


def exists(name: str = Arg(..., metavar="MANIFEST")):
    """Check if a manifest list exists in local storage."""
    from pypod.engine import manifests
    from pypod.errors import ExitCode, ImageNotFound

    try:
        manifests.get(state.context(), name)
    except (ImageNotFound, manifests.NotAList):
        raise ExitCode(1) from None


def rm(names: List[str] = Arg(..., metavar="LIST [LIST...]")):
    """Remove manifest list or image index from local storage."""
    from pypod.cli.image import rmi
    from pypod.engine import manifests

    ctx = state.context()
    for n in names:
        manifests.get(ctx, n)  # only lists: `manifest rm IMAGE` is an error
    rmi(names=list(names), force=False, all_=False, ignore=False, no_prune=False)


def register(root) -> None:
    app = root.group("manifest", "Manipulate manifest lists and image indexes")
    app.command("create")(create)
    app.command("inspect")(inspect)
    app.command("exists")(exists)
    app.command("rm")(rm)
