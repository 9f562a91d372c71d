"""`pypod kube generate` (and podman's older spelling `pypod generate kube`): Kubernetes YAML of
containers and volumes."""

from __future__ import annotations

import sys

from pypod.cli.params import Arg, Opt

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
                 now=now, kind=kind, service=service, replicas=replicas)
    for w in result.warnings:
        sys.stderr.write(f"WARN[0000] {w}\n")
    write_yaml(dump.render(result.documents()), filename)


def write_yaml(content: str, filename: str | None) -> None:
    """To stdout, or to a new file (podman refuses to replace one)."""
    import os

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


def register(root) -> None:
    root.group("kube", "Play containers, pods or volumes from a structured file").command("generate")(generate)
    root.group("generate", "Generate structured data based on containers, pods or volumes").command("kube")(generate)
