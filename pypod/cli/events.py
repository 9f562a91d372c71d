"""`pypod events`: the event log, podman's way (filters, --since/--until, --stream, --format)."""

from __future__ import annotations

import sys

from pypod.cli.params import Opt

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Optional


def events(
    filters: List[str] = Opt([], "--filter", "-f", help="filter output"),
    fmt: Optional[str] = Opt(None, "--format", help="format the output using a Go template"),
    since: Optional[str] = Opt(None, "--since", help="show all events created since timestamp"),
    until: Optional[str] = Opt(None, "--until", help="show all events until timestamp"),
    stream: bool = Opt(True, "--stream", help="stream events and do not exit when returning the last known event"),
    no_trunc: bool = Opt(True, "--no-trunc", help="do not truncate the output"),
):
    """Show podman events."""
    from pypod.cli import state
    from pypod.cli.logs import _since
    from pypod.engine import events as ev

    t_since, t_until = _since(since), _since(until, "--until")
    renderer = None
    if fmt and fmt.strip() != "json":
        from pypod import template

        renderer = lambda e: template.render_rows(fmt, [e], {}).rstrip("\n")  # noqa: E731
    for e in ev.read(state.context(), filters, since=t_since, until=t_until, follow=stream):
        if fmt and fmt.strip() == "json":
            import json

            line = json.dumps(e, separators=(",", ":"))
        elif renderer:
            line = renderer(e)
        else:
            line = ev.human(e)
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def register(root) -> None:
    root.command("events", help="Show podman events")(events)
    root.group("system", "Manage pypod").command("events")(events)
