"""More verbs of `pypod compose`: pause/unpause, events, cp, push, version — each over the same
engine calls as pypod's own command of that name (its errors in its words; Compose's exit 1)."""

from __future__ import annotations

import sys

from pypod.cli.compose_verbs import _ctx, _project, _say, _views
from pypod.cli.params import Arg, Opt

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Optional


def pause(popts=None, services: List[str] = Arg([], metavar="[SERVICE...]")):
    """Pause services."""
    from pypod.cli import container as cc

    ctx, project = _ctx(), _project(popts)
    views = _views(ctx, project, services, all_=False)
    if views:  # pypod's `pause` refusal (no cgroup to freeze here), as Compose passes the engine's on
        cc.pause(names=[v.record.id for v in views], all_=False)
        say = _say()
        for v in views:
            say("Container", v.record.name, "Paused")
    return 0


def unpause(popts=None, services: List[str] = Arg([], metavar="[SERVICE...]")):
    """Unpause services."""
    from pypod.cli import container as cc

    ctx, project = _ctx(), _project(popts)
    views = _views(ctx, project, services, all_=False)
    if views:
        cc.unpause(names=[v.record.id for v in views], all_=False)
        say = _say()
        for v in views:
            say("Container", v.record.name, "Unpaused")
    return 0


def compose_event(ev: dict) -> dict | None:
    """A container event of the log as Compose's (pkg/api Event): one-off containers left out,
    Compose's own labels dropped from the attributes."""
    from pypod.compose import plan

    if ev.get("Type") != "container":
        return None
    attrs = {str(k): str(v) for k, v in (ev.get("Attributes") or {}).items()}
    if attrs.get(plan.ONEOFF) == "True":
        return None
    service = attrs.get(plan.SERVICE, "")
    attrs = {k: v for k, v in attrs.items() if not k.startswith("com.docker.compose.")}
    attrs.setdefault("image", ev.get("Image", ""))
    attrs.setdefault("name", ev.get("Name", ""))
    from pypod.engine.events import _DOCKER_ACTION

    status = _DOCKER_ACTION.get(ev.get("Status", ""), ev.get("Status", ""))
    return {"time": ev.get("Time", ""), "service": service, "id": ev.get("ID", ""), "action": status,
            "attributes": attrs}


def event_line(e: dict, as_json: bool) -> str:
    """Compose's line: JSON (Go's time.Time: RFC 3339, nanoseconds, local zone) or its text."""
    import re
    from datetime import datetime

    from pypod.units import parse_time

    m = re.search(r"\.(\d+)", e["time"])
    frac = (m.group(1) if m else "").ljust(9, "0")[:9]  # Go truncates, never rounds
    when = datetime.fromtimestamp(int(parse_time(re.sub(r"\.\d+", "", e["time"])))).astimezone()
    if as_json:
        import json

        z = when.strftime("%z")
        zone = "Z" if z in ("+0000", "") else f"{z[:3]}:{z[3:]}"
        nanos = frac.rstrip("0")
        shown = dict(e, time=when.strftime("%Y-%m-%dT%H:%M:%S") + (f".{nanos}" if nanos else "") + zone,
                     type="container")
        keys = ("action", "attributes", "id", "service", "time", "type")  # Go marshals a map sorted
        return json.dumps({k: shown[k] for k in keys}, separators=(",", ":"))
    attrs = ", ".join(f"{k}={v}" for k, v in sorted(e["attributes"].items()))
    return f"{when.strftime('%Y-%m-%d %H:%M:%S')}.{frac[:6]} container {e['action']} {e['id']} ({attrs})"


def events(popts=None, as_json: bool = Opt(False, "--json", help="Output events as a stream of json objects"),
           services: List[str] = Arg([], metavar="[SERVICE...]")):
    """Receive real time events from containers."""
    import time

    from pypod.compose import plan
    from pypod.compose.errors import ComposeError
    from pypod.engine import events as ev

    ctx, project = _ctx(), _project(popts)
    for s in services or []:
        if s not in project.model["services"]:
            raise ComposeError(f"no such service: {s}")
    # like Docker's stream: from now on, until interrupted
    for raw in ev.read(ctx, [f"label={plan.PROJECT}={project.name}", "type=container"], since=time.time(),
                       follow=True):
        e = compose_event(raw)
        if e is None or (services and e["service"] not in services):
            continue
        sys.stdout.write(event_line(e, as_json) + "\n")
        sys.stdout.flush()


def cp(popts=None, index: int = Opt(0, "--index", help="Index of the container if service has multiple replicas"),
       all_: bool = Opt(False, "--all", help="Include containers created by the run command"),
       archive: bool = Opt(False, "--archive", "-a", help="Archive mode (copy all uid/gid information)"),
       follow_link: bool = Opt(False, "--follow-link", "-L", help="Always follow symbol link in SRC_PATH"),
       src: str = Arg(..., metavar="SERVICE:SRC_PATH"), dest: str = Arg(..., metavar="DEST_PATH")):
    """Copy files/folders between a service container and the local filesystem."""
    from pypod.compose.containers import number
    from pypod.compose.errors import ComposeError
    from pypod.engine import cp as eng

    def split(arg):
        service, colon, path = arg.partition(":")
        return (service, path) if colon and "/" not in service and service else (None, arg)

    (s_svc, s_path), (d_svc, d_path) = split(src), split(dest)
    if (s_svc is None) == (d_svc is None):
        raise ComposeError("copying between services is not supported" if s_svc else
                           "must specify at least one container source")
    service = s_svc or d_svc
    ctx, project = _ctx(), _project(popts)
    views = _views(ctx, project, [service], oneoff=None if all_ else False)
    if index:
        views = [v for v in views if number(v.record) == index]
        if not views:
            raise ComposeError(f"service \"{service}\" is not running container #{index}")
    elif not views:
        raise ComposeError(f"no container found for service \"{service}\"")
    if s_svc:  # from a service: its first container; to one: every container of it
        views = views[:1]
    for v in views:
        a = f"{v.record.id}:{s_path}" if s_svc else s_path
        b = f"{v.record.id}:{d_path}" if d_svc else d_path
        eng.copy(ctx, a, b, archive=archive, overwrite=False, stdin=sys.stdin.buffer, stdout=sys.stdout.buffer)
    return 0


def push(popts=None, ignore_push_failures: bool = Opt(False, "--ignore-push-failures", help="Push what it can and ignores images with push failures"),
         include_deps: bool = Opt(False, "--include-deps", help="Also push images of services declared as dependencies"),
         quiet: bool = Opt(False, "--quiet", "-q", help="Push without printing progress information"),
         services: List[str] = Arg([], metavar="[SERVICE...]")):
    """Push service images."""
    from pypod.compose import up as upmod
    from pypod.engine import transport

    ctx, project = _ctx(), _project(popts)
    names = upmod.selected(project, list(services or []), with_deps=include_deps)
    say = _say(quiet)
    for s in names:
        svc = project.model["services"][s]
        if not svc.get("build") or not svc.get("image"):
            continue  # Compose pushes what it builds under a name of the file's choosing
        say("Service", s, "Pushing")
        try:
            transport.push(ctx, transport.PushRequest(svc["image"], quiet=True))
        except Exception as e:  # noqa: BLE001 - Compose's --ignore-push-failures covers any failure
            if not ignore_push_failures:
                raise
            sys.stderr.write(f"WARN[0000] failed to push {svc['image']}: {e}\n")
            continue
        say("Service", s, "Pushed")
    return 0


def version(popts=None, fmt: str = Opt("pretty", "--format", "-f", help="Format the output. Values: [pretty | json]"),
            short: bool = Opt(False, "--short", help="Shows only Compose's version number")):
    """Show the pypod compose version information."""
    from pypod.compose.errors import ComposeError
    from pypod.engine.system import version_report

    v = version_report()["Client"]["Version"]
    if short:
        sys.stdout.write(f"{v}\n")
    elif fmt == "json":
        sys.stdout.write(f'{{"version":"v{v}"}}\n')
    elif fmt == "pretty":
        sys.stdout.write(f"pypod compose version v{v}\n")
    else:
        raise ComposeError(f"invalid format {fmt!r}: use pretty or json")
    return 0


VERBS = {"pause": pause, "unpause": unpause, "events": events, "cp": cp, "push": push, "version": version}
