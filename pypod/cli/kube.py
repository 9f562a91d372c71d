"""`pypod kube generate` (and podman's older spelling `pypod generate kube`): Kubernetes YAML of
containers and volumes."""

from __future__ import annotations

import os
import sys

from pypod.cli.params import REQUIRED, Arg, Opt

TYPE_CHECKING = False  # typing costs start-up time; the names below are for annotations only
if TYPE_CHECKING:
    from typing import List, Optional


def generate(
    names: List[str] = Arg(None, metavar="{CONTAINER...|POD...|VOLUME...}"),
    service: bool = Opt(False, "--service", "-s", help="Generate YAML for a Kubernetes service object"),
    filename: Optional[str] = Opt(None, "--filename", "-f", help="Write output to the specified path"),
    kind: str = Opt("pod", "--type", "-t", help="Generate YAML for the given Kubernetes kind"),
    replicas: int = Opt(1, "--replicas", "-r", help="Set the replicas number for Deployment kind"),
):
    """Generate Kubernetes YAML from containers, pods or volumes."""
    import datetime

    from pypod.cli import state
    from pypod.errors import InvalidArgument
    from pypod.kube import collect, dump
    from pypod.kube.generate import generate as gen

    if not names:
        raise InvalidArgument("requires at least 1 arg(s), only received 0")
    ctx = state.context()
    targets = collect.lookup(ctx, names)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = gen([collect.container_facts(ctx, r) for r in targets.containers],
                 [collect.volume_data(ctx, v) for v in targets.volumes],
                 now=now, kind=kind, service=service, replicas=replicas,
                 pods=[collect.pod_facts(ctx, *p) for p in targets.pods])
    for w in result.warnings:
        sys.stderr.write(f"WARN[0000] {w}\n")
    write_yaml(dump.render(result.documents()), filename)


def write_yaml(content: str, filename: str | None) -> None:
    """To stdout, or to a new file (podman refuses to replace one)."""
    from pypod.errors import PypodError

    if filename is None:
        sys.stdout.write(content + "\n")  # podman prints the YAML with Println
        return
    try:  # podman refuses to replace a file
        fd = os.open(filename, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise PypodError(f'cannot write to "{filename}"; file exists') from None
    except OSError as e:
        raise PypodError(f'cannot write to "{filename}": {e.strerror.lower()}') from None
    with os.fdopen(fd, "w") as f:
        f.write(content)




def _read_yaml_arg(source: str) -> str:
    """FILE, `-` (stdin) or an http(s) URL, as podman reads them; bounded: a kube file is small."""
    limit = 64 << 20
    if source == "-":
        data = sys.stdin.buffer.read(limit + 1)
    elif source.startswith(("http://", "https://")):
        import requests

        from pypod.errors import PypodError

        try:
            with requests.get(source, timeout=60, stream=True) as r:
                r.raise_for_status()
                data = r.raw.read(limit + 1, decode_content=True)
        except requests.RequestException as e:
            raise PypodError(f"reading {source}: {e}") from None
    else:
        from pypod.errors import PypodError

        try:
            with open(source, "rb") as f:
                data = f.read(limit + 1)
        except OSError as e:
            raise PypodError(f"open {source}: {e.strerror.lower()}") from None
    if len(data) > limit:
        from pypod.errors import InvalidArgument

        raise InvalidArgument(f"{source}: a Kubernetes YAML file larger than 64 MiB is refused")
    return data.decode("utf-8", "replace")


def _documents(source: str) -> list[dict]:
    """The Kubernetes objects of KUBEFILE|-|URL, parsed once (play plans them and --replace and
    --down take them down from the same list)."""
    from pypod.kube import play as kp

    return kp.load_documents(_read_yaml_arg(source))


def _plan_of(docs: list[dict], configmaps=(), **kw):
    from pypod.kube import play as kp

    extra = []
    for path in configmaps:
        extra += _documents(path)
    return kp.plan(docs, extra_configmaps=extra, **kw)


def play(
    source: str = Arg(REQUIRED, metavar="KUBEFILE|-"),
    down: bool = Opt(False, "--down", help="Stop pods defined in the YAML file"),
    replace: bool = Opt(False, "--replace", help="Delete and recreate pods defined in the YAML file"),
    start: bool = Opt(True, "--start", help="Start the pod after creating it"),
    build: Optional[bool] = Opt(None, "--build", help="Build all images in a YAML (given Containerfiles exist)"),
    context_dir: Optional[str] = Opt(None, "--context-dir", help="Path to top level of context directory"),
    configmap: List[str] = Opt([], "--configmap", help="`Pathname` of a YAML file containing a kubernetes configmap"),
    network: List[str] = Opt([], "--network", help="Connect pod to network(s) or network mode"),
    publish: List[str] = Opt([], "--publish", help="Publish a container's port, or a range of ports, to the host"),
    log_driver: Optional[str] = Opt(None, "--log-driver", help="Logging driver for the container"),
    log_opt: List[str] = Opt([], "--log-opt", help="Logging driver options"),
    userns: Optional[str] = Opt(None, "--userns", help="User namespace to use"),
    no_hosts: bool = Opt(False, "--no-hosts", help="Do not create /etc/hosts within the pod's containers, instead use the version from the image"),
    quiet: bool = Opt(False, "--quiet", "-q", help="Suppress output information when pulling images"),
    tls_verify: Optional[bool] = Opt(None, "--tls-verify", help="Require HTTPS and verify certificates when contacting registries"),
    authfile: Optional[str] = Opt(None, "--authfile", help="Path of the authentication file"),
    creds: Optional[str] = Opt(None, "--creds", help="`Credentials` (USERNAME:PASSWORD) to use for authenticating to a registry"),
):
    """Play a pod or volume based on Kubernetes YAML."""
    from pypod.cli import state
    from pypod.errors import InvalidArgument
    from pypod.kube import apply

    if context_dir and build is not True:
        raise InvalidArgument("--build must be specified when using --context-dir option")
    if authfile and not os.path.exists(authfile):
        raise InvalidArgument(f"stat {authfile}: no such file or directory")
    from pypod.kube import play as kp

    docs = _documents(source)
    ctx = state.context()
    if down:
        return _print_down(apply.down(ctx, kp.teardown(docs)))
    gone = kp.teardown(docs) if replace else None  # (before planning: teardown only reads the objects)
    p = _plan_of(docs, configmap, log_driver=log_driver, log_opts=log_opt, publish=publish,
                 no_hosts=no_hosts)
    for kind in dict.fromkeys(p.skipped):
        sys.stderr.write(f"WARN[0000] Kube kind {kind} not supported: skipped\n")
    if gone is not None:
        apply.down(ctx, gone)
    opts = apply.PlayOptions(start=start, build=build, context_dir=context_dir, network=network, userns=userns,
                             quiet=quiet, tls_verify=tls_verify, authfile=authfile, creds=creds,
                             no_hosts=no_hosts)
    report = apply.play(ctx, p, opts, build_out=sys.stderr)
    out = []
    if report.volumes:
        out += ["Volumes:"] + report.volumes
    failed = 0
    for pod in report.pods:
        out += ["Pod:", pod.id]
        if pod.containers:
            out.append("Container:" if len(pod.containers) == 1 else "Containers:")
            out += pod.containers
        if pod.errors:
            out.append("")
        out.append("")
        failed += len(pod.errors)
    sys.stdout.write("".join(line + "\n" for line in out))
    for pod in report.pods:
        for e in pod.errors:
            sys.stderr.write(e + "\n")
    if failed:
        from pypod.errors import PypodError

        raise PypodError(f"failed to start {failed} containers")
    return 0


def kube_down(
    source: str = Arg(REQUIRED, metavar="KUBEFILE|-"),
    force: bool = Opt(False, "--force", help="remove volumes"),
):
    """Remove pods based on Kubernetes YAML."""
    from pypod.cli import state
    from pypod.kube import apply

    from pypod.kube import play as kp

    return _print_down(apply.down(state.context(), kp.teardown(_documents(source)), volumes=force))


def _print_down(rep) -> int:
    lines = ["Pods stopped:"] + rep.stopped + ["Pods removed:"] + rep.removed
    if rep.volumes:
        lines += ["Volumes removed:"] + rep.volumes
    sys.stdout.write("".join(line + "\n" for line in lines))
    if rep.errors:
        from pypod.errors import PypodError

        for e in rep.errors[:-1]:
            sys.stderr.write(f"Error: {e}\n")
        raise PypodError(rep.errors[-1])
    return 0


def register(root) -> None:
    kube = root.group("kube", "Play containers, pods or volumes from a structured file")
    kube.command("generate")(generate)
    kube.command("play")(play)
    kube.command("down")(kube_down)
    root.group("generate", "Generate structured data based on containers, pods or volumes").command("kube")(generate)
    root.group("play", "Play containers, pods or volumes from a structured file").command("kube")(play)
