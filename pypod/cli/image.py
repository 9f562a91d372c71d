"""`pypod image ...` and its top-level aliases (pull, images, rmi, tag, untag, history, import)."""

from __future__ import annotations

import sys

from pypod.cli.params import Arg, Opt

from pypod.cli import state
from pypod.cli.render import go_json, out, render

TYPE_CHECKING = False  # typing costs start-up time; the names below are for annotations only
if TYPE_CHECKING:
    from typing import List, Optional


IMAGE_COLUMNS = [("REPOSITORY", "Repository"), ("TAG", "Tag"), ("IMAGE ID", "ID"), ("CREATED", "CreatedSince"),
                 ("SIZE", "Size")]


def _tls(value: Optional[str]) -> Optional[bool]:
    if value is None:
        return None
    return value.lower() not in ("false", "0", "no")


# -- pull --------------------------------------------------------------------------------------
def pull(
    names: List[str] = Arg(..., metavar="IMAGE [IMAGE...]"),
    quiet: bool = Opt(False, "--quiet", "-q", help="Suppress output information when pulling images"),
    all_tags: bool = Opt(False, "--all-tags", "-a", help="All tagged images in the repository will be pulled"),
    platform: Optional[str] = Opt(None, "--platform", help="Specify the platform for selecting the image (OS/ARCH[/VARIANT])"),
    os_: Optional[str] = Opt(None, "--os", help="Use OS instead of the running OS for choosing images"),
    arch: Optional[str] = Opt(None, "--arch", help="Use ARCH instead of the architecture of the machine"),
    variant: Optional[str] = Opt(None, "--variant", help="Use VARIANT instead of the running architecture variant"),
    creds: Optional[str] = Opt(None, "--creds", help="Credentials (USERNAME:PASSWORD) to use for authenticating to a registry"),
    authfile: Optional[str] = Opt(None, "--authfile", help="Path of the authentication file"),
    tls_verify: Optional[str] = Opt(None, "--tls-verify", help="Require HTTPS and verify certificates when contacting registries", flag_value="true", is_flag=False),
    cert_dir: Optional[str] = Opt(None, "--cert-dir", help="Path to a directory with TLS certificates"),
):
    """Pull an image from a registry."""
    from pypod.engine import images as eng

    ctx = state.context()
    if all_tags:
        from pypod.errors import InvalidArgument

        raise InvalidArgument("--all-tags is not supported yet")
    for name in names:
        rec = eng.pull(ctx, eng.PullRequest(name=name, quiet=quiet, platform=platform, os=os_, arch=arch,
                                            variant=variant, creds=creds, authfile=authfile,
                                            tls_verify=_tls(tls_verify), cert_dir=cert_dir))
        out(rec.id)


# -- list --------------------------------------------------------------------------------------
def _summary(ctx, row, no_trunc: bool, usage: dict, labels: bool = True):
    from pypod.cli.gostruct import ImageReporter
    from pypod.engine.images import names_history, repo_digests
    from pypod.units import go_time, human_size, parse_time, since

    r = row.record
    created = parse_time(r.created)
    digest = r.digest
    when = go_time(created) if created else ""
    size = ctx.images.size(r)
    return ImageReporter({
        "ID": ("sha256:" + r.id) if no_trunc else r.id[:12],
        "Id": r.id,
        "Repository": row.repository,
        "Tag": row.tag,
        "Digest": digest,
        "CreatedSince": since(created) if created else "",
        "CreatedAt": when,
        "Created": int(created),
        "CreatedTime": when,
        "Size": human_size(size),
        "VirtualSize": human_size(size),
        "SharedSize": "0 B",
        "ReadOnly": False,
        "IsReadOnly": False,
        "Dangling": not r.names,
        "Containers": len(usage.get(r.id, [])),
        "Names": list(r.names),
        "RepoTags": list(r.names),
        "RepoDigests": repo_digests(r),
        "Labels": _labels(ctx, r) if labels else {},
        "History": ", ".join(names_history(r)),  # podman's imageReporter.History() joins them
    })


def _labels(ctx, rec):
    return (ctx.images.config(rec.id).get("config") or {}).get("Labels") or {}


def _json_summary(ctx, rec, usage) -> dict:
    from pypod.engine.images import names_history, repo_digests
    from pypod.units import parse_time

    created = parse_time(rec.created)
    size = ctx.images.size(rec)
    import datetime as dt

    return {
        "Id": rec.id, "ParentId": "", "RepoTags": None, "RepoDigests": repo_digests(rec),
        "Size": size, "SharedSize": 0, "VirtualSize": size, "Labels": _labels(ctx, rec) or None,
        "Containers": len(usage.get(rec.id, [])), "Names": list(rec.names) or None, "Digest": rec.digest,
        "History": names_history(rec) or None, "Created": int(created),
        "CreatedAt": dt.datetime.fromtimestamp(int(created), dt.timezone.utc).isoformat().replace("+00:00", "Z"),
    }


def images(
    name: Optional[str] = Arg(None, metavar="[IMAGE]"),
    all_: bool = Opt(False, "--all", "-a", help="Show all images (default hides intermediate images)"),
    quiet: bool = Opt(False, "--quiet", "-q", help="Display only image IDs"),
    digests: bool = Opt(False, "--digests", help="Show digests"),
    filters: List[str] = Opt([], "--filter", "-f", help="Filter output based on conditions provided"),
    fmt: Optional[str] = Opt(None, "--format", help="Change the output format to JSON or a Go template"),
    no_trunc: bool = Opt(False, "--no-trunc", help="Do not truncate output"),
    noheading: bool = Opt(False, "--noheading", "-n", help="Do not print column headings"),
    sort: str = Opt("created", "--sort", help="Sort by created, id, repository, size or tag"),
):
    """List images in local storage."""
    from pypod.engine import images as eng

    ctx = state.context()
    rows = eng.list_images(ctx, all_=all_, filters=filters, name=name)
    usage = eng.containers_using(ctx) if fmt and ("Containers" in fmt or fmt == "json") else {}
    # Labels live in each image's config: read them only for a format that may print them
    labels = bool(fmt) and ("Labels" in fmt or "json" in fmt)
    if sort != "created":
        keys = {"id": lambda r: r.record.id, "repository": lambda r: r.repository, "tag": lambda r: r.tag,
                "size": lambda r: ctx.images.size(r.record)}
        if sort not in keys:
            from pypod.errors import InvalidArgument

            raise InvalidArgument(f"invalid option for --sort, options are: created, id, repository, size, tag")
        rows.sort(key=keys[sort])
    if quiet:
        seen = []
        for r in rows:
            i = ("sha256:" + r.record.id) if no_trunc else r.record.id[:12]
            if i not in seen:
                seen.append(i)
        for i in seen:
            out(i)
        return
    if fmt and fmt.strip() == "json":
        seen_ids, recs = set(), []
        for r in rows:
            if r.record.id not in seen_ids:
                seen_ids.add(r.record.id)
                recs.append(_json_summary(ctx, r.record, usage))
        out(go_json(recs))
        return
    cols = list(IMAGE_COLUMNS)
    if digests:
        cols.insert(2, ("DIGEST", "Digest"))
    render([_summary(ctx, r, no_trunc, usage, labels) for r in rows], fmt, columns=cols, noheading=noheading)


# -- inspect / exists ------------------------------------------------------------------------------
def inspect(
    names: List[str] = Arg(..., metavar="IMAGE [IMAGE...]"),
    fmt: Optional[str] = Opt(None, "--format", "-f", help="Format the output using the given Go template"),
):
    """Display the configuration of an image."""
    from pypod.cli.inspect import emit

    from pypod.engine import images as eng

    ctx = state.context()
    results, errors = [], []
    for n in names:
        rec = eng.find_image(ctx, n)
        if rec is None:
            errors.append(f"{n}: image not known")
            continue
        results.append(eng.inspect_image(ctx, rec))
    if fmt and fmt.strip() != "json":
        from pypod.cli.gostruct import image_inspect

        results = [image_inspect(r) for r in results]
    return emit(results, fmt, errors, kind="image")


def exists(name: str = Arg(..., metavar="IMAGE")):
    """Check if an image exists in local storage (exit 0 or 1)."""
    from pypod.engine import images as eng
    from pypod.errors import ExitCode

    raise ExitCode(0 if eng.find_image(state.context(), name) else 1)


# -- rm / prune ------------------------------------------------------------------------------------
def rmi(
    names: List[str] = Arg(None, metavar="IMAGE [IMAGE...]"),
    force: bool = Opt(False, "--force", "-f", help="Force removal of the image and any containers using the image"),
    all_: bool = Opt(False, "--all", "-a", help="Remove all images"),
    ignore: bool = Opt(False, "--ignore", "-i", help="Ignore errors if a specified image does not exist"),
    no_prune: bool = Opt(False, "--no-prune", help="Do not remove dangling parent images"),
):
    """Remove one or more images from local storage."""
    from pypod.engine import images as eng
    from pypod.errors import InvalidArgument

    if not names and not all_:
        raise InvalidArgument("image name or ID must be specified")
    if names and all_:
        raise InvalidArgument("when using the --all switch, you may not pass any images names or IDs")
    rep = eng.remove_images(state.context(), names or [], force=force, all_=all_, ignore=ignore)
    for u in rep.untagged:
        out(f"Untagged: {u}")
    for d in rep.deleted:
        out(f"Deleted: {d}")
    if len(rep.errors) > 1:  # podman joins them (go-multierror's list)
        from pypod.errors import PypodError

        points = "\n".join(f"\t* {e.message}" for e in rep.errors)
        err = PypodError(f"{len(rep.errors)} errors occurred:", hint=points)
        err.exit_code = rep.exit_code
        raise err
    if rep.errors:
        err = rep.errors[-1]
        err.exit_code = rep.exit_code
        raise err


def prune(
    all_: bool = Opt(False, "--all", "-a", help="Remove all images not in use by containers, not just dangling ones"),
    force: bool = Opt(False, "--force", "-f", help="Do not prompt for confirmation"),
    filters: List[str] = Opt([], "--filter", help="Provide filter values (e.g. 'label=<key>=<value>')"),
):
    """Remove unused images."""
    from pypod.engine import images as eng

    if not force and sys.stdin.isatty():
        what = "all images not used by at least one container" if all_ else "all dangling images"
        sys.stdout.write(f"WARNING! This command removes {what}.\nAre you sure you want to continue? [y/N] ")
        sys.stdout.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return
    for i in eng.prune(state.context(), all_=all_, filters=filters):
        out(i)


# -- tag / untag -----------------------------------------------------------------------------------
def tag(name: str = Arg(..., metavar="IMAGE"),
        targets: List[str] = Arg(..., metavar="TARGET_NAME [TARGET_NAME...]")):
    """Add an additional name to a local image."""
    from pypod.engine import images as eng

    eng.tag(state.context(), name, targets)


def untag(name: str = Arg(..., metavar="IMAGE"),
          targets: List[str] = Arg(None, metavar="[NAME...]")):
    """Remove a name from a local image."""
    from pypod.engine import images as eng

    eng.untag(state.context(), name, targets or [])


# -- history ---------------------------------------------------------------------------------------
def history(
    name: str = Arg(..., metavar="IMAGE"),
    human: bool = Opt(True, "--human", "-H", help="Display sizes and dates in human readable format"),
    no_trunc: bool = Opt(False, "--no-trunc", help="Do not truncate the output"),
    quiet: bool = Opt(False, "--quiet", "-q", help="Display the numeric IDs only"),
    fmt: Optional[str] = Opt(None, "--format", help="Change the output to JSON or a Go template"),
):
    """Show history of a specified image."""
    from pypod.cli.gostruct import HistoryReporter
    from pypod.engine import images as eng
    from pypod.units import go_time, human_size, parse_time, since

    ctx = state.context()
    rec = eng.get_image(ctx, name)
    layers = eng.history(ctx, rec)
    if fmt and fmt.strip() == "json":
        # podman marshals its ImageHistory entries: lower-case keys, the full id, compact
        out(go_json([_history_json(h) for h in layers], indent=None))
        return
    rows = []
    for h in layers:
        created = parse_time(h["created"])
        cb = h["created_by"]
        if not no_trunc and len(cb) > 45:
            cb = cb[:42] + "..."
        hid = h["id"] if (no_trunc or h["id"] == "<missing>") else h["id"][:12]
        ago = since(created) if created else ""
        # --human=false shows the time stamps; the sizes stay human (podman 4.3)
        rows.append(HistoryReporter({
            "ID": hid, "Created": ago if human else h["created"], "CreatedSince": ago if human else h["created"],
            "CreatedAt": go_time(created) if created else "", "CreatedBy": cb, "Size": human_size(h["size"]),
            "Comment": h["comment"], "Tags": []}))
    if quiet:
        for r in rows:
            out(r.ID)
        return
    render(rows, fmt, columns=[("ID", "ID"), ("CREATED", "Created"), ("CREATED BY", "CreatedBy"),
                               ("SIZE", "Size"), ("COMMENT", "Comment")])


def _history_json(h: dict) -> dict:
    row = {"id": h["id"], "created": h["created"]}
    if h["created_by"]:
        row["CreatedBy"] = h["created_by"]
    row["size"] = h["size"]
    if h["comment"]:
        row["comment"] = h["comment"]
    row["Created"] = h["created"]
    return row


# -- import ----------------------------------------------------------------------------------------
def import_(
    source: str = Arg(..., metavar="PATH"),
    reference: Optional[str] = Arg(None, metavar="[REFERENCE]"),
    changes: List[str] = Opt([], "--change", "-c", help="Apply the following possible instructions to the created image (default []): CMD | ENTRYPOINT | ENV | EXPOSE | LABEL | STOPSIGNAL | USER | VOLUME | WORKDIR"),
    message: Optional[str] = Opt(None, "--message", "-m", help="Set commit message for imported image"),
    quiet: bool = Opt(False, "--quiet", "-q", help="Suppress output"),
    platform: Optional[str] = Opt(None, "--platform", hidden=True),
):
    """Import a tarball to create a filesystem image."""
    from pypod.engine import images as eng

    ctx = state.context()
    name = eng.normalize_new_name(reference) if reference else None
    stdin = sys.stdin.buffer if source == "-" else None
    rec = eng.import_image(ctx, source, stdin, changes=list(changes), name=name, comment=message or "")
    if not quiet:
        sys.stderr.write("Getting image source signatures\nCopying blob done\nCopying config done\n"
                         "Writing manifest to image destination\nStoring signatures\n")
    out("sha256:" + rec.id)


def register(root) -> None:
    app = root.group("image", "Manage images")
    app.command("pull")(pull)
    app.command("ls")(images)
    app.command("list", hidden=True)(images)
    app.command("inspect")(inspect)
    app.command("exists")(exists)
    app.command("rm")(rmi)
    app.command("prune")(prune)
    app.command("tag")(tag)
    app.command("untag")(untag)
    app.command("history")(history)
    app.command("import")(import_)
    root.command("pull", help="Pull an image from a registry")(pull)
    root.command("images", help="List images in local storage")(images)
    root.command("rmi", help="Remove one or more images from local storage")(rmi)
    root.command("tag", help="Add an additional name to a local image")(tag)
    root.command("untag", help="Remove a name from a local image")(untag)
    root.command("history", help="Show history of a specified image")(history)
    root.command("import", help="Import a tarball to create a filesystem image")(import_)
