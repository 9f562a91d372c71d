"""push, save, load (images in and out), export and diff (containers), image tree."""

from __future__ import annotations

import sys

from pypod.cli import state
from pypod.cli.params import Arg, Opt
from pypod.cli.render import go_json, out

TYPE_CHECKING = False  # typing costs start-up time; the names below are for annotations only
if TYPE_CHECKING:
    from typing import List, Optional


def _tls(value: Optional[str]) -> Optional[bool]:
    if value is None:
        return None
    return value.lower() not in ("false", "0", "no")


# -- push -----------------------------------------------------------------------------------------
def push(
    source: str = Arg(..., metavar="IMAGE"),
    dest: Optional[str] = Arg(None, metavar="[DESTINATION]"),
    quiet: bool = Opt(False, "--quiet", "-q", help="Suppress output information when pushing images"),
    creds: Optional[str] = Opt(None, "--creds", help="Credentials (USERNAME:PASSWORD) to use for authenticating to a registry"),
    authfile: Optional[str] = Opt(None, "--authfile", help="Path of the authentication file"),
    tls_verify: Optional[str] = Opt(None, "--tls-verify", help="Require HTTPS and verify certificates when contacting registries", flag_value="true", is_flag=False),
    cert_dir: Optional[str] = Opt(None, "--cert-dir", help="Path to a directory with TLS certificates"),
    fmt: Optional[str] = Opt(None, "--format", "-f", help="Manifest type (oci, v2s2, or v2s1) to use in the destination (default is manifest type of source, with fallbacks)"),
    digestfile: Optional[str] = Opt(None, "--digestfile", help="Write the digest of the pushed image to the specified file"),
    compression_format: Optional[str] = Opt(None, "--compression-format", help="Compression format to use (gzip)"),
    remove_signatures: bool = Opt(False, "--remove-signatures", help="Discard any pre-existing signatures in the image"),
    disable_content_trust: bool = Opt(False, "--disable-content-trust", hidden=True),
    sign_by: Optional[str] = Opt(None, "--sign-by", hidden=True),
):
    """Push an image to a specified destination."""
    from pypod.engine import transport
    from pypod.errors import InvalidArgument

    if compression_format not in (None, "gzip"):
        raise InvalidArgument(f"unsupported compression format {compression_format!r}: only gzip is supported")
    if sign_by:
        raise InvalidArgument("signing images is not supported")
    transport.push(state.context(), transport.PushRequest(
        source, dest, quiet=quiet, creds=creds, authfile=authfile, tls_verify=_tls(tls_verify),
        cert_dir=cert_dir, format=fmt, digestfile=digestfile))


# -- save -------------------------------------------------------------------------------------------
def save(
    names: List[str] = Arg(..., metavar="IMAGE [IMAGE...]"),
    output: Optional[str] = Opt(None, "--output", "-o", help="Write to a specified file (default: stdout, which must be redirected)"),
    fmt: str = Opt("docker-archive", "--format", help="Save image to oci-archive, oci-dir (directory with oci manifest type), docker-archive, docker-dir (directory with v2s2 manifest type)"),
    quiet: bool = Opt(False, "--quiet", "-q", help="Suppress the output"),
    multi: bool = Opt(False, "--multi-image-archive", "-m", help="Interpret additional arguments as images not tags and create a multi-image-archive (only for docker-archive)"),
    compress: bool = Opt(False, "--compress", help="Compress tarball image layers when saving to a directory using the 'dir' transport. (default is same compression type as source)"),
    uncompressed: bool = Opt(False, "--uncompressed", help="Accept uncompressed layers when copying OCI images"),
):
    """Save image(s) to an archive."""
    from pypod.engine import transport
    from pypod.errors import InvalidArgument, PypodError

    if compress and fmt != "docker-dir":
        raise InvalidArgument("--compress can only be set when --format is 'docker-dir'")
    if multi and fmt != "docker-archive":
        raise InvalidArgument("--multi-image-archive can only be set for 'docker-archive' format")
    if not output:
        if fmt == "oci-dir" or fmt == "docker-dir":
            raise InvalidArgument(f"an output directory is required with --format {fmt}: use -o DIR")
        if sys.stdout.isatty():
            raise PypodError("refusing to save to terminal. Use -o flag or redirect")
    ctx = state.context()
    images = list(names)
    extra_tags: list[str] = []
    if fmt == "docker-archive" and not multi and len(names) > 1:
        # podman: without -m, the other arguments are more tags for the first image
        images, extra_tags = names[:1], names[1:]
    from pypod.cli.report import make_progress

    progress = None if quiet else make_progress(False)
    try:
        transport.save(ctx, images, fmt, output=output, stream=None if output else sys.stdout.buffer,
                       progress=progress if len(images) == 1 else None, extra_tags=extra_tags,
                       uncompressed=uncompressed)
    finally:
        if progress:
            progress.close()


# -- load -------------------------------------------------------------------------------------------
def load(
    input_: Optional[str] = Opt(None, "--input", "-i", help="Read from specified archive file (default: stdin)"),
    quiet: bool = Opt(False, "--quiet", "-q", help="Suppress the output"),
    signature_policy: Optional[str] = Opt(None, "--signature-policy", hidden=True),
):
    """Load image(s) from a tar archive."""
    from pypod.engine import transport
    from pypod.errors import PypodError

    ctx = state.context()
    if input_ is None and sys.stdin.isatty():
        raise PypodError("cannot read from terminal, use command-line redirection or the --input flag")
    from pypod.cli.report import make_progress

    progress = make_progress(quiet)
    try:
        if input_ is None:
            names = transport.load(ctx, None, stdin=sys.stdin.buffer, progress=progress)
        else:
            names = transport.load(ctx, input_, progress=progress)
    finally:
        progress.close()
    for n in names:
        out(f"Loaded image: {n}")


# -- export -----------------------------------------------------------------------------------------
def export(
    name: str = Arg(..., metavar="CONTAINER"),
    output: Optional[str] = Opt(None, "--output", "-o", help="Write to a specified file (default: stdout, which must be redirected)"),
):
    """Export a container's filesystem contents as a tar archive."""
    from pypod.engine import transport
    from pypod.errors import PypodError

    ctx = state.context()
    if not output:
        if sys.stdout.isatty():
            raise PypodError("refusing to export to terminal. Use -o flag or redirect")
        sys.stdout.flush()
        transport.export_container(ctx, name, sys.stdout.buffer)
        return
    transport.write_output_file(output, lambda f: transport.export_container(ctx, name, f))


# -- diff -------------------------------------------------------------------------------------------
def _print_changes(changes, fmt: Optional[str]) -> None:
    if fmt and fmt.strip().lower() == "json":
        body = {}
        for key, kind in (("changed", "C"), ("added", "A"), ("deleted", "D")):
            paths = [p for k, p in changes if k == kind]
            if paths:
                body[key] = paths
        out(go_json(body, indent=5))
        return
    for k, p in changes:
        out(f"{k} {p}")


def _diff(kind: str):
    def diff(
        name: Optional[str] = Arg(None, metavar="NAME"),
        other: Optional[str] = Arg(None, metavar="[NAME]"),
        fmt: Optional[str] = Opt(None, "--format", help="Change the output format (json)"),
        latest: bool = Opt(False, "--latest", "-l", help="Act on the latest container pypod is aware of"),
    ):
        """Inspect changes to the container's or image's file systems."""
        from pypod.engine import transport

        from pypod.errors import InvalidArgument

        ctx = state.context()
        if latest:
            if name:
                raise InvalidArgument("--latest and containers cannot be used together")
            from pypod.engine.containers import latest_container

            name = latest_container(ctx)
        elif not name:
            verb = " ".join(x for x in ("pypod", kind, "diff") if x)
            raise InvalidArgument(f'"{verb}" requires a name, id, or the "--latest" flag')
        _print_changes(transport.diff(ctx, name, other, kind=kind), fmt)

    return diff


# -- image tree -------------------------------------------------------------------------------------
def tree(
    name: str = Arg(..., metavar="IMAGE"),
    whatrequires: bool = Opt(False, "--whatrequires", help="Show all child images and layers of the specified image"),
):
    """Print layer hierarchy of an image in a tree format."""
    from pypod.engine import transport

    sys.stdout.write(transport.tree(state.context(), name, whatrequires))


def register(root) -> None:
    img = root.group("image", "Manage images")
    img.command("push")(push)
    img.command("save")(save)
    img.command("load")(load)
    img.command("tree")(tree)
    img.command("diff")(_diff("image"))
    ctr = root.group("container", "Manage containers")
    ctr.command("export")(export)
    ctr.command("diff")(_diff("container"))
    root.command("push", help="Push an image to a specified destination")(push)
    root.command("save", help="Save image(s) to an archive")(save)
    root.command("load", help="Load image(s) from a tar archive")(load)
    root.command("export", help="Export a container's filesystem contents as a tar archive")(export)
    root.command("diff", help="Display the changes to the object's file system")(_diff(""))
