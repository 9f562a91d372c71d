"""`pypod build` / `image build` and `pypod commit` / `container commit`."""

from __future__ import annotations

from pypod.cli.params import Arg, Opt

from pypod.cli import state
from pypod.cli.render import out

TYPE_CHECKING = False  # typing costs start-up time; the names below are for annotations only
if TYPE_CHECKING:
    from typing import List, Optional


def _build_args(items: list[str]) -> dict:
    import os

    out_ = {}
    for it in items:
        k, sep, v = it.partition("=")
        if not sep:
            if k in os.environ:
                out_[k] = os.environ[k]
            continue
        out_[k] = v
    return out_


def _log_to(path: str) -> None:
    """--logfile: everything the build prints (its steps, RUN output, the image ID) goes to the
    file instead, as with podman; file descriptors, so that RUN's processes write there too."""
    import os
    import sys

    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as e:
        from pypod.errors import PypodError

        raise PypodError(f"open {path}: {(e.strerror or str(e)).lower()}") from None
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def build(
    context: Optional[str] = Arg(None, metavar="[CONTEXT]"),
    tags: List[str] = Opt([], "--tag", "-t", help="tagged name to apply to the built image"),
    files: List[str] = Opt([], "--file", "-f", help="pathname or URL of a Dockerfile"),
    build_args: List[str] = Opt([], "--build-arg", help="argument=value to supply to the builder"),
    target: Optional[str] = Opt(None, "--target", help="set the target build stage to build"),
    no_cache: bool = Opt(False, "--no-cache", help="Do not use existing cached images for the container build. Build from the start with a new set of cached layers."),
    pull: Optional[str] = Opt(None, "--pull", help="Pull image policy (\"always/true\"|\"missing\"|\"never/false\"|\"newer\")", flag_value="always", is_flag=False),
    pull_always: bool = Opt(False, "--pull-always", help="pull the image even if the named image is present in store", hidden=True),
    pull_never: bool = Opt(False, "--pull-never", help="do not pull the image, use the image present in store if available", hidden=True),
    labels: List[str] = Opt([], "--label", help="set metadata for an image (default [])"),
    layers: bool = Opt(True, "--layers", help="Use intermediate layers during build. Use BUILDAH_LAYERS environment variable to override."),
    squash: bool = Opt(False, "--squash", help="squash all image layers into a single layer"),
    quiet: bool = Opt(False, "--quiet", "-q", help="refrain from announcing build instructions and image read/write progress"),
    iidfile: Optional[str] = Opt(None, "--iidfile", help="file to write the image ID to"),
    fmt: Optional[str] = Opt(None, "--format", help="format of the built image's manifest and metadata. Use BUILDAH_FORMAT environment variable to override. (default \"oci\")"),
    network: Optional[str] = Opt(None, "--network", help="'private', 'none', 'ns:path' of network namespace, or 'host'"),
    volumes: List[str] = Opt([], "--volume", "-v", help="bind mount a volume into the container"),
    timestamp: Optional[int] = Opt(None, "--timestamp", help="set created timestamp to the specified epoch seconds to allow for deterministic builds, defaults to current time"),
    platform: Optional[str] = Opt(None, "--platform", help="set the OS/ARCH[/VARIANT] of the image to the provided value instead of the current operating system and architecture of the host"),
    rm: bool = Opt(True, "--rm", help="Remove intermediate containers after a successful build"),
    force_rm: bool = Opt(False, "--force-rm", help="Always remove intermediate containers after a build, even if the build is unsuccessful."),
    tls_verify: Optional[str] = Opt(None, "--tls-verify", help="require HTTPS and verify certificates when accessing the registry", flag_value="true", is_flag=False),
    authfile: Optional[str] = Opt(None, "--authfile", help="path of the authentication file."),
    creds: Optional[str] = Opt(None, "--creds", help="use `[username[:password]]` for accessing the registry"),
    cert_dir: Optional[str] = Opt(None, "--cert-dir", help="use certificates at the specified path to access the registry"),
    ignorefile: Optional[str] = Opt(None, "--ignorefile", help="path to an alternate .dockerignore file"),
    add_hosts: List[str] = Opt([], "--add-host", help="add a custom host-to-IP mapping (host:ip) (default [])"),
    dns: List[str] = Opt([], "--dns", help="set custom DNS servers"),
    isolation: Optional[str] = Opt(None, "--isolation", help="`type` of process isolation to use", hidden=True),
    jobs: Optional[int] = Opt(None, "--jobs", help="how many stages to run in parallel", hidden=True),
    cache_from: List[str] = Opt([], "--cache-from", help="remote repository list to utilise as potential cache source.", hidden=True),
    cache_to: List[str] = Opt([], "--cache-to", help="remote repository list to utilise as potential cache destination.", hidden=True),
    disable_compression: bool = Opt(False, "--disable-compression", "-D", help="don't compress layers by default", hidden=True),
    arch: Optional[str] = Opt(None, "--arch", help="set the ARCH of the image to the provided value instead of the architecture of the host"),
    os_: Optional[str] = Opt(None, "--os", help="set the OS to the provided value instead of the current operating system of the host"),
    variant: Optional[str] = Opt(None, "--variant", help="override the variant of the specified image"),
    from_: Optional[str] = Opt(None, "--from", help="image name used to replace the value in the first FROM instruction in the Containerfile"),
    cap_add: List[str] = Opt([], "--cap-add", help="add the specified capability when running"),
    cap_drop: List[str] = Opt([], "--cap-drop", help="drop the specified capability when running"),
    security_opt: List[str] = Opt([], "--security-opt", help="security options"),
    device: List[str] = Opt([], "--device", help="additional devices to be used within containers"),
    shm_size: Optional[str] = Opt(None, "--shm-size", help="size of '/dev/shm'. The format is <number><unit>."),
    ulimit: List[str] = Opt([], "--ulimit", help="ulimit options"),
    http_proxy: bool = Opt(True, "--http-proxy", help="pass through HTTP Proxy environment variables"),
    no_hosts: bool = Opt(False, "--no-hosts", help="do not create new /etc/hosts files for RUN instructions, use the one from the base image"),
    dns_search: List[str] = Opt([], "--dns-search", help="set custom DNS search domains"),
    dns_option: List[str] = Opt([], "--dns-option", help="set custom DNS options"),
    env: List[str] = Opt([], "--env", help="set environment variable for the image"),
    unsetenv: List[str] = Opt([], "--unsetenv", help="unset environment variable from final image"),
    logfile: Optional[str] = Opt(None, "--logfile", help="log to `file` instead of stdout/stderr"),
    load: bool = Opt(False, "--load", hidden=True, help="buildx's: the image is always stored locally"),
):
    """Build an image using instructions from Containerfiles."""
    import os
    import sys

    if logfile:
        _log_to(logfile)

    from pypod.engine import build as eng
    from pypod.errors import InvalidArgument

    ctx = state.context()
    policy = "missing"
    if pull is not None:
        p = pull.lower()
        policy = {"true": "always", "always": "always", "false": "missing", "missing": "missing",
                  "never": "never", "newer": "missing", "ifmissing": "missing", "ifnewer": "missing"}.get(p)
        if policy is None:
            raise InvalidArgument(f"invalid pull policy \"{pull}\"")
    if pull_always:
        policy = "always"
    if pull_never:
        policy = "never"
    env_layers = os.environ.get("BUILDAH_LAYERS")
    if env_layers is not None and "--layers" not in " ".join(sys.argv):
        layers = env_layers.lower() in ("1", "true", "yes")
    fmt = (fmt or os.environ.get("BUILDAH_FORMAT") or "oci").lower()
    if fmt not in ("oci", "docker"):
        raise InvalidArgument(f"unrecognized image type \"{fmt}\"")
    if timestamp is None and os.environ.get("SOURCE_DATE_EPOCH", "").strip().isdigit():
        timestamp = int(os.environ["SOURCE_DATE_EPOCH"])
    if arch or os_ or variant:  # --arch/--os/--variant: the platform, piece by piece
        if platform:
            raise InvalidArgument("--platform and --arch/--os/--variant cannot be used together")
        platform = eng.platform_of(os_, arch, variant)
    run_options = {"cap_add": [c for v in cap_add for c in v.split(",") if c],
                   "cap_drop": [c for v in cap_drop for c in v.split(",") if c],
                   "security_opt": list(security_opt), "device": list(device), "shm_size": shm_size,
                   "ulimit": list(ulimit), "http_proxy": http_proxy, "no_hosts": no_hosts or None,
                   "dns_search": list(dns_search), "dns_option": list(dns_option)}
    opts = eng.BuildOptions(context=context or ".", file=files[0] if files else None, more_files=files[1:], tags=tags,
                            build_args=_build_args(build_args), target=target, no_cache=no_cache, pull=policy,
                            labels=labels, layers=layers, squash=squash, quiet=quiet, iidfile=iidfile,
                            format=fmt, network=network, volumes=volumes, timestamp=timestamp,
                            platform=platform, tls_verify=None if tls_verify is None else tls_verify.lower() not in ("false", "0"),
                            authfile=authfile, creds=creds, cert_dir=cert_dir, ignorefile=ignorefile,
                            add_hosts=add_hosts, dns=dns, from_image=from_, run_options=run_options,
                            env=list(env), unsetenv=list(unsetenv),
                            runtime_flags=list(state._options.get("runtime_flags") or []))
    image_id = eng.build(ctx, opts, out=sys.stdout)
    out(image_id)


def commit(
    container: str = Arg(..., metavar="CONTAINER"),
    image: Optional[str] = Arg(None, metavar="[IMAGE]"),
    changes: List[str] = Opt([], "--change", "-c", help="Apply the following possible instructions to the created image (default []): CMD | ENTRYPOINT | ENV | EXPOSE | LABEL | ONBUILD | STOPSIGNAL | USER | VOLUME | WORKDIR"),
    message: Optional[str] = Opt(None, "--message", "-m", help="Set commit message for imported image"),
    author: Optional[str] = Opt(None, "--author", "-a", help="Set the author for the image committed"),
    fmt: str = Opt("oci", "--format", "-f", help="`Format` of the image manifest and metadata"),
    quiet: bool = Opt(False, "--quiet", "-q", help="Suppress output"),
    pause: bool = Opt(False, "--pause", "-p", help="Pause container during commit"),
    squash: bool = Opt(False, "--squash", "-s", help="squash newly built layers into a single new layer"),
    iidfile: Optional[str] = Opt(None, "--iidfile", help="`file` to write the image ID to"),
    include_volumes: bool = Opt(False, "--include-volumes", help="Include container volumes as image volumes"),
):
    """Create new image based on the changed container."""
    from pypod.engine import commit as eng

    if squash:
        from pypod.errors import InvalidArgument

        raise InvalidArgument("commit --squash is not supported yet")
    ctx = state.context()
    rec = eng.commit(ctx, eng.CommitOptions(container=container, image=image, changes=changes, message=message,
                                            author=author, format=fmt, quiet=quiet, iidfile=iidfile,
                                            include_volumes=include_volumes))
    out(rec.id)


def register(root) -> None:
    help_build = "Build an image using instructions from Containerfiles"
    help_commit = "Create new image based on the changed container"
    root.group("image", "Manage images").command("build", help=help_build)(build)
    root.command("build", help=help_build)(build)
    # `buildx build` for scripts written for Docker's buildx (as podman)
    root.group("buildx", "Build images").command("build", help=help_build)(build)
    root.group("container", "Manage containers").command("commit", help=help_commit)(commit)
    root.command("commit", help=help_commit)(commit)
