"""`pypod volume ...`: create, ls, inspect, rm, prune, exists, export, import, mount, unmount."""

from __future__ import annotations

import sys

from pypod.cli.params import Arg, Opt

from pypod.cli import state
from pypod.cli.render import go_json, out, render

TYPE_CHECKING = False  # typing costs start-up time; the names below are for annotations only
if TYPE_CHECKING:
    from typing import List, Optional


def _labels(items: list[str]) -> dict:
    out_: dict = {}
    for item in items:
        k, _, v = item.partition("=")
        out_[k] = v
    return out_


def create(
    name: Optional[str] = Arg(None, metavar="[NAME]"),
    driver: str = Opt("local", "--driver", "-d", help="Specify volume driver name"),
    labels: List[str] = Opt([], "--label", "-l", help="Set metadata for a volume (e.g. --label mykey=value)"),
    opts: List[str] = Opt([], "--opt", "-o", help="Set driver specific options"),
    ignore: bool = Opt(False, "--ignore", help="Don't fail if volume already exists"),
):
    """Create a new volume."""
    from pypod.engine import volumes as eng

    rec = eng.create_volume(state.context(), name, labels=_labels(labels), options=eng.parse_driver_opts(opts),
                            ignore=ignore, driver=driver)
    out(rec.name)


def ls(
    fmt: Optional[str] = Opt(None, "--format", help="Format volume output using Go template"),
    filters: List[str] = Opt([], "--filter", "-f", help="Filter volume output"),
    quiet: bool = Opt(False, "--quiet", "-q", help="Print volume output in quiet mode"),
    noheading: bool = Opt(False, "--noheading", "-n", help="Do not print headers"),
):
    """List volumes."""
    from pypod.engine import volumes as eng

    ctx = state.context()
    recs = eng.list_volumes(ctx, filters)
    if quiet:
        for r in recs:
            out(r.name)
        return
    rows = [eng.inspect_volume(ctx, r, mount_count=0) for r in recs]
    if fmt and fmt.strip() == "json":
        for row in rows:
            row["MountCount"] = eng.running_users(ctx, row["Name"])
        out(go_json(rows, indent=2))
        return
    if fmt and "MountCount" in fmt:
        for row in rows:
            row["MountCount"] = eng.running_users(ctx, row["Name"])
    if fmt and not fmt.startswith("table"):
        render(rows, fmt, columns=[])
        return
    render(rows, fmt, columns=[("DRIVER", "Driver"), ("VOLUME NAME", "Name")], noheading=noheading)


def inspect(
    names: List[str] = Arg(None, metavar="VOLUME [VOLUME...]"),
    all_: bool = Opt(False, "--all", "-a", help="Inspect all volumes"),
    fmt: Optional[str] = Opt(None, "--format", "-f", help="Format volume output using Go template"),
):
    """Display detailed information on one or more volumes."""
    from pypod.engine import volumes as eng
    from pypod.errors import InvalidArgument, PypodError

    ctx = state.context()
    if all_:
        names = eng.volume_names(ctx)
    elif not names:
        raise InvalidArgument("provide one or more volume names or use --all")
    data, errors = [], []
    for n in names:
        rec = eng.find_volume(ctx, n)
        if rec is None:
            errors.append(PypodError(f"inspecting object: no such volume {n}"))
            continue
        data.append(eng.inspect_volume(ctx, rec))
    if fmt and fmt.strip() != "json":
        from pypod import template

        try:
            for d in data:
                out(template.render(template.normalize_format(fmt), d))
        except template.TemplateError as e:
            raise InvalidArgument(str(e)) from None
    else:
        out(go_json(data, indent=5) if data else "[]")
    for e in errors[:-1]:
        sys.stderr.write(f"Error: {e.message}\n")
    if errors:
        raise errors[-1]


def rm(
    names: List[str] = Arg(None, metavar="VOLUME [VOLUME...]"),
    all_: bool = Opt(False, "--all", "-a", help="Remove all volumes"),
    force: bool = Opt(False, "--force", "-f", help="Remove a volume by force, even if it is being used by a container"),
    timeout: Optional[int] = Opt(None, "--time", "-t", help="Seconds to wait before forcibly stopping running containers that are using the specified volume"),
    ignore: bool = Opt(False, "--ignore", "-i", hidden=True),
):
    """Remove one or more volumes."""
    from pypod.engine import volumes as eng
    from pypod.errors import InvalidArgument

    if not names and not all_:
        raise InvalidArgument("choose either one or more volumes or all")
    if names and all_:
        raise InvalidArgument("choose either one or more volumes or all")
    rep = eng.remove_volumes(state.context(), names or [], force=force, all_=all_, ignore=ignore, timeout=timeout)
    for n in rep.removed:
        out(n)
    if rep.errors:
        for e in rep.errors[:-1]:
            sys.stderr.write(f"Error: {e.message}\n")
        codes = {e.exit_code for e in rep.errors}
        last = rep.errors[-1]
        last.exit_code = 2 if 2 in codes else (1 if codes == {1} else 125)
        raise last


def prune(
    force: bool = Opt(False, "--force", "-f", help="Do not prompt for confirmation"),
    filters: List[str] = Opt([], "--filter", help="Provide filter values (e.g. 'label=<key>=<value>')"),
):
    """Remove all unused volumes."""
    from pypod.engine import volumes as eng

    ctx = state.context()
    if not force:
        doomed = eng.prune_candidates(ctx, filters)
        sys.stdout.write("WARNING! This will remove all volumes not used by at least one container. "
                         "The following volumes will be removed:\n")
        for n in doomed:
            sys.stdout.write(n + "\n")
        sys.stdout.write("Are you sure you want to continue? [y/N] ")
        sys.stdout.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return
    for n in eng.prune_volumes(ctx, filters):
        out(n)


def exists(name: str = Arg(..., metavar="VOLUME")):
    """Check if a volume exists (exit 0 or 1)."""
    from pypod.engine import volumes as eng
    from pypod.errors import ExitCode

    raise ExitCode(0 if eng.exists(state.context(), name) else 1)


def export(
    name: str = Arg(..., metavar="VOLUME"),
    output: Optional[str] = Opt(None, "--output", "-o", help="Write to a specified file (default: stdout, which must be redirected)"),
):
    """Export the contents of a volume as a tar archive."""
    from pypod.engine import volumes as eng
    from pypod.errors import InvalidArgument

    if output is None and sys.stdout.isatty():
        raise InvalidArgument("expected output path of volume export")
    sys.stdout.flush()
    if output:
        with open(output, "wb") as f:
            eng.export_volume(state.context(), name, f)
    else:
        eng.export_volume(state.context(), name, sys.stdout.buffer)


def import_(
    name: str = Arg(..., metavar="VOLUME"),
    source: str = Arg(..., metavar="SOURCE"),
):
    """Import a tarball's contents into a volume."""
    from pypod.engine import volumes as eng

    ctx = state.context()
    eng.get_volume(ctx, name)
    if source == "-":
        eng.import_volume(ctx, name, sys.stdin.buffer)
        return
    with open(source, "rb") as f:
        eng.import_volume(ctx, name, f)


def mount(names: List[str] = Arg(..., metavar="VOLUME [VOLUME...]")):
    """Mount volume (rootless: inside `pypod unshare`); print its mount point."""
    from pypod.cli.storage import _mount_ctx
    from pypod.engine import volumes as eng

    ctx = _mount_ctx("volume mount")
    for n in names:
        out(eng.mountpoint(ctx, eng.get_volume(ctx, n).name))


def unmount(names: List[str] = Arg(..., metavar="VOLUME [VOLUME...]")):
    """Unmount volume (a local volume's directory stays where it is)."""
    from pypod.cli.storage import _mount_ctx
    from pypod.engine import volumes as eng

    ctx = _mount_ctx("volume unmount")
    for n in names:
        out(eng.get_volume(ctx, n).name)


def register(root) -> None:
    app = root.group("volume", "Manage volumes")
    app.command("create")(create)
    app.command("ls")(ls)
    app.command("list", hidden=True)(ls)
    app.command("inspect")(inspect)
    app.command("rm")(rm)
    app.command("remove", hidden=True)(rm)
    app.command("prune")(prune)
    app.command("exists")(exists)
    app.command("export")(export)
    app.command("import")(import_)
    app.command("mount")(mount)
    app.command("unmount")(unmount)
    app.command("umount", hidden=True)(unmount)
