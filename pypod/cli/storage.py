"""`pypod cp`, `mount`/`unmount`, `unshare`, and `system df|prune|reset`."""

from __future__ import annotations

import os
import sys

from pypod.cli.params import Arg, Opt

from pypod.cli import state
from pypod.cli.render import go_json, out

TYPE_CHECKING = False  # typing costs start-up time; the names below are for annotations only
if TYPE_CHECKING:
    from typing import List, Optional


def cp(
    src: str = Arg(..., metavar="SRC_PATH"),
    dest: str = Arg(..., metavar="DEST_PATH"),
    archive: bool = Opt(True, "--archive", "-a", help="Chown copied files to the primary uid/gid of the destination container"),
    overwrite: bool = Opt(False, "--overwrite", help="Allow to overwrite directories with non-directories and vice versa"),
    # podman pauses a running container while copying where cgroups allow it; pypod copies
    # without pausing (accepted so that scripts passing it run)
    pause: bool = Opt(True, "--pause", help="Pause the container while copying"),
):
    """Copy files/folders between a container and the local filesystem."""
    from pypod.engine import cp as eng

    eng.copy(state.context(), src, dest, archive=archive, overwrite=overwrite, stdin=sys.stdin.buffer,
             stdout=sys.stdout.buffer)


# -- mount / unmount (inside `pypod unshare` when rootless) ----------------------------------------
def _mount_ctx(verb: str | None = None):
    from pypod.engine import storage as eng
    from pypod.engine.context import Context

    if eng.inside_unshare() and not state._options.get("root") and os.environ.get(eng.ENV_GRAPHROOT):
        from pypod.cli.report import TerminalReporter

        return Context(os.environ[eng.ENV_GRAPHROOT], os.environ.get(eng.ENV_RUNROOT) or "/tmp",
                       rootless=False, reporter=TerminalReporter())
    ctx = state.context()
    if ctx.rootless:
        from pypod.errors import PypodError

        raise PypodError(f"cannot run command \"pypod {verb or _verb()}\" in rootless mode, must execute "
                         "`pypod unshare` first")
    return ctx


def _verb() -> str:
    argv = sys.argv[1:]
    for w in ("unmount", "umount", "mount"):
        if w in argv:
            return w
    return "mount"


def mount(
    names: List[str] = Arg(None, metavar="[CONTAINER...]"),
    all_: bool = Opt(False, "--all", "-a", help="Mount all containers"),
    fmt: Optional[str] = Opt(None, "--format", help="Print the mounted containers in specified format (json)"),
    no_trunc: bool = Opt(False, "--no-trunc", help="Do not truncate output"),
    latest: bool = Opt(False, "--latest", "-l", hidden=True),
):
    """Mount a working container's root filesystem."""
    from pypod.engine import storage as eng
    from pypod.engine.containers import container_ids, find_container, get_container

    ctx = _mount_ctx()
    if all_:
        names = container_ids(ctx)
    if not names:
        have = eng.mounted(ctx)
        rows = []
        for cid, mp in have.items():
            rec = find_container(ctx, cid)
            rows.append({"ID": cid, "Names": [rec.name if rec else ""], "Mountpoint": mp})
        if fmt and fmt.strip() == "json":
            out(go_json(rows))
            return
        for r in rows:
            out(f"{r['ID'] if no_trunc else r['ID'][:12]}  {r['Mountpoint']}")
        return
    for n in names:
        rec = get_container(ctx, n)
        mp = eng.mount_container(ctx, rec)
        out(mp if not all_ else f"{rec.id[:12]}  {mp}")


def unmount(
    names: List[str] = Arg(None, metavar="[CONTAINER...]"),
    all_: bool = Opt(False, "--all", "-a", help="Unmount all of the currently mounted containers"),
    force: bool = Opt(False, "--force", "-f", help="Force the complete unmount of the specified mounted containers"),
    latest: bool = Opt(False, "--latest", "-l", hidden=True),
):
    """Unmount working container's root filesystem."""
    from pypod.engine import storage as eng
    from pypod.engine.containers import find_container, get_container
    from pypod.errors import InvalidArgument

    ctx = _mount_ctx()
    if all_:
        names = [cid for cid in eng.mounted(ctx)]
    elif not names:
        raise InvalidArgument("when using the --all switch, you may not pass any containers names or IDs"
                              if all_ else "container-id or container-name must be specified")
    for n in names:
        rec = get_container(ctx, n) if not all_ else find_container(ctx, n)
        if rec is None:
            continue
        eng.unmount_container(ctx, rec)
        out(rec.id)


def unshare(
    command: List[str] = Arg(None, metavar="[COMMAND [ARG...]]"),
    rootless_netns: bool = Opt(False, "--rootless-netns", "--rootless-cni", hidden=True),
):
    """Run a command in a modified user namespace."""
    from pypod.engine import storage as eng
    from pypod.errors import PypodError

    ctx = state.context()
    if not ctx.rootless:
        raise PypodError("please use unshare with rootless")
    argv, env = eng.unshare_argv(ctx, list(command or []))
    import subprocess

    sys.stdout.flush()
    try:
        p = subprocess.Popen(argv, env=env)
    except OSError as e:
        raise PypodError(f"{argv[0]}: {e.strerror}")
    import signal

    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        code = p.wait()
    finally:
        signal.signal(signal.SIGINT, old)
    return code if code >= 0 else 128 - code


# -- system df / prune / reset ---------------------------------------------------------------------
def _size(n: float) -> str:
    """go-units HumanSizeWithPrecision(n, 4) without the space, as `podman system df` prints."""
    units = ["B", "kB", "MB", "GB", "TB", "PB"]
    i = 0
    n = float(n)
    while n >= 1000 and i < len(units) - 1:
        n /= 1000
        i += 1
    return f"{n:.4g}{units[i]}"


def df(
    verbose: bool = Opt(False, "--verbose", "-v", help="Show detailed information on disk usage"),
    fmt: Optional[str] = Opt(None, "--format", help="Pretty-print images using a Go template"),
):
    """Show pypod disk usage."""
    from pypod.engine import storage as eng
    from pypod.units import parse_time, since

    rep = eng.disk_usage(state.context())
    if not verbose:
        rows = []
        for typ, total, active, size, reclaim in rep["summary"]:
            pct = int(reclaim * 100 / size) if size else 0
            rows.append({"Type": typ, "Total": total, "Active": active, "Size": _size(size),
                         "Reclaimable": f"{_size(reclaim)} ({pct}%)", "RawSize": size,
                         "RawReclaimable": reclaim, "TotalCount": total})
        if fmt and fmt.strip() == "json":
            out(go_json(rows))
            return
        from pypod.cli.render import render

        render(rows, fmt, columns=[("TYPE", "Type"), ("TOTAL", "Total"), ("ACTIVE", "Active"),
                                   ("SIZE", "Size"), ("RECLAIMABLE", "Reclaimable")])
        return
    from pypod import template

    def table(header: list[str], rows: list[list[str]]) -> None:
        fmt_ = "table " + "\t".join("{{index . %d}}" % i for i in range(len(header)))
        sys.stdout.write(template.render_rows(fmt_, [header] + rows, {}, noheading=True))

    out("Images space usage:\n\n")
    img_rows = []
    for r in rep["images"]:
        im = r["rec"]
        names = im.names or ["<none>:<none>"]
        repo, _, tag = names[0].rpartition(":") if ":" in names[0].rsplit("/", 1)[-1] else (names[0], "", "latest")
        img_rows.append([repo or "<none>", tag or "<none>", im.id[:12], since(parse_time(im.created)).replace(" ago", "")
                         if getattr(im, "created", "") else "", _size(r["size"]), _size(r["shared"]),
                         _size(r["unique"]), str(r["containers"])])
    table(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE", "UNIQUE SIZE", "CONTAINERS"],
          img_rows)
    out("\nContainers space usage:\n\n")
    table(["CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED", "STATUS", "NAMES"],
          [[r["rec"].id[:12], (r["rec"].image_id or "")[:12], " ".join(r["rec"].command), str(r["volumes"]),
            _size(r["size"]), since(parse_time(r["rec"].created)).replace(" ago", ""), r["status"], r["rec"].name]
           for r in rep["containers"]])
    out("\nLocal Volumes space usage:\n\n")
    table(["VOLUME NAME", "LINKS", "SIZE"],
          [[r["rec"].name, str(r["links"]), _size(r["size"])] for r in rep["volumes"]])


def _confirm(text: str) -> bool:
    sys.stdout.write(text)
    sys.stdout.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def prune(
    all_: bool = Opt(False, "--all", "-a", help="Remove all unused data"),
    force: bool = Opt(False, "--force", "-f", help="Do not prompt for confirmation.  The default is false"),
    volumes: bool = Opt(False, "--volumes", help="Prune volumes"),
    filters: List[str] = Opt([], "--filter", help="Provide filter values (e.g. 'label=<key>=<value>')"),
    external: bool = Opt(False, "--external", hidden=True),
):
    """Remove unused data."""
    from pypod.engine import storage as eng

    if not force:
        vol = "\n\t- all volumes not used by at least one container" if volumes else ""
        imgs = ("all images without at least one container associated to them" if all_
                else "all dangling images")
        if not _confirm(f"WARNING! This command removes:\n\t- all stopped containers\n"
                        f"\t- all networks not used by at least one container{vol}\n\t- {imgs}\n"
                        "\t- all build cache\n\nAre you sure you want to continue? [y/N] "):
            return
    rep = eng.system_prune(state.context(), all_=all_, volumes=volumes, filters=filters)
    for title, key in (("Deleted Pods", "pods"), ("Deleted Containers", "containers"), ("Deleted Networks", "networks"),
                       ("Deleted Volumes", "volumes"), ("Deleted Images", "images")):
        if rep[key]:
            out(title)
            for x in rep[key]:
                out(x)
    out(f"Total reclaimed space: {_size(rep['reclaimed'])}")


def check(repair: bool = Opt(False, "--repair", "-r", help="Remove the damaged records found")):
    """Check storage for damaged records (and remove them with --repair)."""
    from pypod.cli.app import damaged_lines
    from pypod.engine import storage as eng
    from pypod.errors import PypodError

    found, removed = eng.system_check(state.context(), repair=repair)
    for line, rec in zip(damaged_lines(found), found):
        out(("removed: " if rec in removed else "") + line.rsplit("): ", 1)[0] + ")")
    left = len(found) - len(removed)
    if left:
        err = PypodError(f"{left} damaged record{'s' if left > 1 else ''} "
                         f"{'could not be removed' if repair else 'found'}",
                         hint=None if repair else "run `pypod system check --repair` to remove them")
        err.exit_code = 1
        raise err
    if not found:
        out("No damaged records found")


def reset(force: bool = Opt(False, "--force", "-f", help="Do not prompt for confirmation")):
    """Reset pypod storage."""
    from pypod.engine import storage as eng

    if not force and not _confirm(
            "WARNING! This will remove all:\n - pods\n - containers\n - images\n - networks\n - build cache\n"
            " - machines\n - volumes\n\nAre you sure you want to continue? [y/N] "):
        return
    eng.system_reset(state.context())


def register(root) -> None:
    for noun in ("container",):
        app = root.group(noun, "Manage containers")
        app.command("cp")(cp)
        app.command("mount")(mount)
        app.command("unmount")(unmount)
        app.command("umount", hidden=True)(unmount)
    sysapp = root.group("system", "Manage pypod")
    sysapp.command("df")(df)
    sysapp.command("prune")(prune)
    sysapp.command("reset")(reset)
    sysapp.command("check")(check)
    root.command("cp", help="Copy files/folders between a container and the local filesystem")(cp)
    root.command("mount", help="Mount a working container's root filesystem")(mount)
    root.command("unmount", help="Unmount working container's root filesystem")(unmount)
    root.command("umount", hidden=True)(unmount)
    root.command("unshare", help="Run a command in a modified user namespace",
                 context_settings={"allow_interspersed_args": False})(unshare)
