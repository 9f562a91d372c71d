"""A project's containers as the engine has them, found by Compose's labels (never by name), and
the progress lines Compose prints for what is done to them."""

from __future__ import annotations

import sys

from pypod.compose import plan


class Progress:
    """Compose's plain progress (` Container p-web-1  Started`), on stderr."""

    def __init__(self, stream=None, quiet: bool = False):
        self.stream = stream or sys.stderr
        self.quiet = quiet

    def __call__(self, kind: str, name: str, status: str) -> None:
        if not self.quiet:
            self.stream.write(f" {kind} {name}  {status}\n")
            self.stream.flush()


def number(rec) -> int:
    try:
        return int(rec.labels.get(plan.NUMBER) or 0)
    except ValueError:
        return 0


def service_of(rec) -> str:
    return rec.labels.get(plan.SERVICE, "")


def is_oneoff(rec) -> bool:
    return rec.labels.get(plan.ONEOFF) == "True"


def project_containers(ctx, project: str, services=None, *, oneoff: bool | None = False) -> list:
    """[ContainerView] of the project (every state), by service then number. oneoff: None for both
    the service containers and `run`'s."""
    from pypod.engine import containers as ce

    out = []
    for v in ce.list_containers(ctx, all_=True, filters=[f"label={plan.PROJECT}={project}"]):
        rec = v.record
        if oneoff is not None and is_oneoff(rec) != oneoff:
            continue
        if services is not None and service_of(rec) not in services:
            continue
        out.append(v)
    out.sort(key=lambda v: (service_of(v.record), number(v.record), v.record.name))
    return out


def running(view) -> bool:
    return view.state.get("status") in ("running", "paused", "stopping")


def stop(ctx, views, timeout, say) -> None:
    from pypod.engine import containers as ce

    for v in views:
        if not running(v):
            continue
        say("Container", v.record.name, "Stopping")
        ce.stop_container(ctx, v.record, timeout)
        say("Container", v.record.name, "Stopped")


def remove(ctx, views, timeout, say, volumes: bool = False) -> None:
    from pypod.engine import containers as ce

    for v in views:
        if running(v):
            say("Container", v.record.name, "Stopping")
            ce.stop_container(ctx, v.record, timeout)
            say("Container", v.record.name, "Stopped")
        say("Container", v.record.name, "Removing")
        rep = ce.remove_containers(ctx, [v.record.id], force=True, volumes=volumes)
        if rep.errors:
            raise rep.errors[0]
        say("Container", v.record.name, "Removed")


def in_stop_order(project_model: dict, views) -> list:
    """Dependents before what they depend on (the reverse of the start order); services the
    model no longer has (orphans) first."""
    order = plan.start_order(project_model.get("services") or {})
    rank = {s: i for i, s in enumerate(order)}
    return sorted(views, key=lambda v: (-rank.get(service_of(v.record), len(order)), number(v.record)))
