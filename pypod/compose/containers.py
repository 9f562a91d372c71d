"""A project's containers as the engine has them, found by Compose's labels (never by name), and
the progress lines Compose prints for what is done to them."""

from __future__ import annotations

import sys

from pypod.compose import plan


class Progress:
    """Compose's plain progress (` Container p-web-1  Started`), on stderr."""

    def __init__(self, stream=None, quiet: bool = False):
        import threading

        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.lock = threading.Lock()  # containers of one level are stopped by several threads

    def __call__(self, kind: str, name: str, status: str) -> None:
        if not self.quiet:
            with self.lock:
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


def _each(fn, views) -> None:
    """fn(view) for each, at the same time (Compose stops a level of the graph in parallel:
    a down of N containers that ignore SIGTERM takes one timeout, not N); the first error raised."""
    views = list(views)
    if len(views) <= 1:
        for v in views:
            fn(v)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(8, len(views))) as pool:
        for f in [pool.submit(fn, v) for v in views]:
            f.result()


def _stop_one(ctx, v, timeout, say) -> None:
    from pypod.engine import containers as ce

    say("Container", v.record.name, "Stopping")
    ce.stop_container(ctx, v.record, timeout)
    say("Container", v.record.name, "Stopped")


def stop(ctx, views, timeout, say, levels=None) -> None:
    """Stop the running ones; `levels` (from in_stop_order) are stopped one after the other."""
    for level in levels or [views]:
        _each(lambda v: _stop_one(ctx, v, timeout, say), [v for v in level if running(v) and v in views])


def remove(ctx, views, timeout, say, volumes: bool = False, levels=None) -> None:
    """Stop (level after level: dependents stopped before what they depend on) and remove. A
    level's removals run while the next level stops: only the stop order is Compose's promise."""
    from pypod.engine import containers as ce

    def rm(v):
        say("Container", v.record.name, "Removing")
        rep = ce.remove_containers(ctx, [v.record.id], force=True, volumes=volumes)
        if rep.errors:
            raise rep.errors[0]
        say("Container", v.record.name, "Removed")

    levels = [[v for v in level if v in views] for level in levels or [views]]
    if sum(map(len, levels)) <= 1:
        for v in [v for level in levels for v in level]:
            if running(v):
                _stop_one(ctx, v, timeout, say)
            rm(v)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        pending = []
        for level in levels:
            _each(lambda v: _stop_one(ctx, v, timeout, say), [v for v in level if running(v)])
            pending += [pool.submit(rm, v) for v in level]
        for f in pending:
            f.result()


def in_stop_order(project_model: dict, views) -> list:
    """Dependents before what they depend on (the reverse of the start order); services the
    model no longer has (orphans) first."""
    return [v for level in stop_levels(project_model, views) for v in level]


def stop_levels(project_model: dict, views) -> list[list]:
    """The views in groups that can stop together: a service's group comes before those of
    what it depends on; orphans in the first."""
    services = project_model.get("services") or {}
    depth: dict[str, int] = {}

    def d(name: str, seen=()) -> int:
        if name not in depth:
            deps = [x for x in plan.dependencies(services[name]) if x in services and x not in seen]
            depth[name] = 1 + max([d(x, seen + (name,)) for x in deps] or [0])
        return depth[name]

    plan.start_order(services)  # refuses a cycle
    top = max([d(s) for s in services] or [0]) + 1
    groups: dict[int, list] = {}
    for v in views:
        s = service_of(v.record)
        groups.setdefault(d(s) if s in services else top, []).append(v)
    return [sorted(groups[k], key=lambda v: (service_of(v.record), number(v.record)))
            for k in sorted(groups, reverse=True)]
