"""`pypod compose [-f FILE]... [-p NAME] [--project-directory DIR] [--env-file FILE] [--profile P] VERB`.

The project options come before the verb (as with `docker compose`), so `compose` is one command
that reads its options up to the verb and hands the rest to the verb's own parser.
"""

from __future__ import annotations

import sys

from pypod.cli.params import REQUIRED, Arg, Opt

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Optional


def compose(
    files: List[str] = Opt([], "--file", "-f", help="Compose configuration files"),
    project_name: Optional[str] = Opt(None, "--project-name", "-p", help="Project name"),
    project_directory: Optional[str] = Opt(None, "--project-directory", help="Specify an alternate working directory (default: the path of the first specified Compose file)"),
    env_files: List[str] = Opt([], "--env-file", help="Specify an alternate environment file"),
    profiles: List[str] = Opt([], "--profile", help="Specify a profile to enable"),
    args: List[str] = Arg(REQUIRED, metavar="COMMAND [ARG...]"),
):
    """Define and run multi-container applications.

    Commands: build, config, cp, create, down, events, exec, images, kill, kube, logs, ls, pause,
    port, ps, pull, push, restart, rm, run, start, stop, top, unpause, up, version, wait
    (`pypod compose COMMAND --help` for each).
    """
    from pypod.cli.params import Command, HelpRequested, UsageError, parse
    from pypod.compose.project import ProjectOptions
    from pypod.errors import PypodError

    from pypod.cli import compose_more, compose_verbs as cv
    from pypod.cli.compose_kube import kube

    verbs = {"config": config, "kube": kube, **cv.VERBS, **compose_more.VERBS}
    verb, rest = args[0], args[1:]
    fn = verbs.get(verb)
    if fn is None:
        raise UsageError(f"unrecognized command `pypod compose {verb}`", "pypod compose",
                         "Try 'pypod compose --help' for more information")
    # exec and run: what follows the service is the command, its flags included
    cmd = Command(verb, fn, None, False, verb not in ("exec", "run"), ("-h", "--help"))
    path = f"pypod compose {verb}"
    try:
        values = parse(cmd, rest, path)
    except HelpRequested:
        from pypod.cli import help as helptext

        sys.stdout.write(helptext.render_command(cmd, path))
        return 0
    popts = ProjectOptions(files=files, project_name=project_name, project_directory=project_directory,
                           env_files=env_files, profiles=profiles)
    try:
        return fn(popts, **values)
    except PypodError as e:
        # Compose exits 1 on any failure; exec and run pass on the container's (or podman's) code
        if verb not in ("exec", "run"):
            e.exit_code = 1
        raise


def config(
    popts=None,
    services: bool = Opt(False, "--services", help="Print the service names, one per line"),
    volumes: bool = Opt(False, "--volumes", help="Print the volume names, one per line"),
    networks: bool = Opt(False, "--networks", help="Print the network names, one per line"),
    profiles: bool = Opt(False, "--profiles", help="Print the profile names, one per line"),
    images: bool = Opt(False, "--images", help="Print the image names, one per line"),
    quiet: bool = Opt(False, "--quiet", "-q", help="Only validate the configuration, don't print anything"),
    fmt: str = Opt("yaml", "--format", help="Format the output. Values: [yaml | json]"),
    output: Optional[str] = Opt(None, "--output", "-o", help="Save to file (default to stdout)"),
):
    """Parse, resolve and render compose file in canonical format."""
    from pypod.compose.errors import ComposeError
    from pypod.compose.project import load_project

    if fmt not in ("yaml", "json"):
        raise ComposeError(f"unsupported format {fmt!r}")
    project = load_project(popts)
    for w in project.warnings:
        sys.stderr.write(f'WARN[0000] {w}\n')
    if quiet:
        return 0
    model = project.model
    if services:
        text = "".join(f"{n}\n" for n in model["services"])
    elif volumes:
        text = "".join(f"{n}\n" for n in model.get("volumes") or {})
    elif networks:
        text = "".join(f"{n}\n" for n in model.get("networks") or {})
    elif profiles:
        text = "".join(f"{n}\n" for n in project.profiles)
    elif images:  # a service without an image is built as PROJECT-SERVICE
        text = "".join(f"{s.get('image') or project.name + '-' + n}\n" for n, s in model["services"].items())
    else:
        from pypod.compose import render

        text = render.to_json(model) if fmt == "json" else render.to_yaml(model)
    if output:
        with open(output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


def register(root) -> None:
    root.command("compose", context_settings={"allow_interspersed_args": False})(compose)
