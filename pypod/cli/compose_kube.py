"""`pypod compose [PROJECT OPTIONS] kube`: the project as Kubernetes YAML (pypod/compose/kube.py),
for a cluster or for `pypod kube play`."""

from __future__ import annotations

import sys

from pypod.cli.params import Opt

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional


def kube(
    popts=None,
    kind: str = Opt("pod", "--type", "-t", help="Generate YAML for the given Kubernetes kind (pod or deployment)"),
    replicas: int = Opt(1, "--replicas", "-r", help="Set the replicas number for Deployment kind"),
    filename: Optional[str] = Opt(None, "--filename", "-f", help="Write output to the specified path"),
):
    """Generate Kubernetes YAML of the project: one pod, its services as containers."""
    from pypod.cli.kube import write_yaml
    from pypod.compose.kube import to_kube
    from pypod.compose.project import load_project
    from pypod.kube import dump

    project = load_project(popts)
    for w in project.warnings:
        sys.stderr.write(f"WARN[0000] {w}\n")
    result = to_kube(project.name, project.model, kind=kind, replicas=replicas)
    for w in result.warnings:
        sys.stderr.write(f"WARN[0000] {w}\n")
    write_yaml(dump.render(result.documents), filename)
    return 0
