"""Events: what the engine records (store/events.py is the log), and how they are read back —
podman's filters and text, and Docker's shape for the API."""

from __future__ import annotations

from pypod.engine.context import Context
from pypod.errors import InvalidArgument
from pypod.store import events as log

FILTER_KEYS = ("container", "event", "image", "label", "type", "volume", "network", "since", "until")


def container(ctx: Context, rec, status: str, **extra) -> None:
    """A container event: its labels and image and name in the attributes (Docker's clients,
    Compose among them, filter on the labels)."""
    attrs = dict(rec.labels or {})
    attrs.update({k: str(v) for k, v in extra.items() if k != "exit_code"})
    log.emit(ctx.run_dir, "container", status, id_=rec.id, name=rec.name, image=rec.image_name,
             attributes=attrs, exit_code=extra.get("exit_code"))


def image(ctx: Context, status: str, id_: str, name: str = "") -> None:
    log.emit(ctx.run_dir, "image", status, id_=id_, name=name)


def volume(ctx: Context, status: str, name: str) -> None:
    log.emit(ctx.run_dir, "volume", status, name=name)


def network(ctx: Context, status: str, name: str, id_: str = "", container_id: str = "") -> None:
    log.emit(ctx.run_dir, "network", status, id_=container_id or id_, name=name,
             attributes={"network": name})


class EventFilter:
    """podman's `events --filter KEY=VALUE` (several values of one key: any of them)."""

    def __init__(self, items: list[str]):
        self.want: dict[str, list[str]] = {}
        for it in items:
            k, sep, v = it.partition("=")
            if not sep or k not in FILTER_KEYS or k in ("since", "until"):
                raise InvalidArgument(f"{it}: invalid filter: use one of "
                                      + ", ".join(k for k in FILTER_KEYS if k not in ("since", "until")))
            self.want.setdefault(k, []).append(v)

    def match(self, ev: dict) -> bool:
        t = ev.get("Type", "")
        for k, values in self.want.items():
            if k == "type" and t not in values:
                return False
            if k == "event" and ev.get("Status") not in values and not (
                    "remove" in values and ev.get("Status") == "destroy"):
                return False
            if k == "container" and (t != "container" or not any(
                    v in (ev.get("Name"), ev.get("ID")) or (len(v) >= 3 and ev.get("ID", "").startswith(v))
                    for v in values)):
                return False
            if k == "image" and not any(v in (ev.get("Image"), ev.get("Name"), ev.get("ID")) for v in values):
                return False
            if k in ("volume", "network") and (t != k or ev.get("Name") not in values):
                return False
            if k == "label":
                attrs = ev.get("Attributes") or {}
                for v in values:
                    lk, sep, lv = v.partition("=")
                    if lk not in attrs or (sep and attrs[lk] != lv):
                        return False
        return True


def read(ctx: Context, filters: list[str] | None = None, since: float | None = None,
         until: float | None = None, follow: bool = True, stop=None):
    """Matching events: those already logged (from `since`), then new ones while following,
    until `until` passes or stop() says so."""
    import time

    from pypod.units import parse_time

    flt = EventFilter(filters or [])

    def done() -> bool:
        return (until is not None and time.time() > until) or (stop is not None and stop())

    for ev in _logged(ctx, follow, done):
        t = parse_time(ev.get("Time", ""))
        if since is not None and t < since:
            continue
        if until is not None and t > until:
            if not follow:
                return
            continue
        if flt.match(ev):
            yield ev


def _logged(ctx: Context, follow: bool, done):
    """Events in the order written: the rotated file, the current one, then (follow) new ones as
    they come until done() says so."""
    from pypod.engine.logs import follow_lines

    path = log.log_path(ctx.run_dir)
    for p, stop in ((path + ".1", lambda: True), (path, lambda: not follow or done())):
        for line in follow_lines(p, done=stop, poll=0.1):
            ev = log.parse(line)
            if ev:
                yield ev


def human(ev: dict) -> str:
    """podman 4.3's line for an event (libpod/events ToHumanReadable)."""
    from pypod.units import go_time_text

    when = go_time_text(ev.get("Time", ""))
    t, status = ev.get("Type", ""), ev.get("Status", "")
    if t in ("container", "pod"):  # (podman: a pod's line has an empty image too)
        text = f"{when} {t} {status} {ev.get('ID', '')} (image={ev.get('Image', '')}, name={ev.get('Name', '')}"
        for k, v in (ev.get("Attributes") or {}).items():
            text += f", {k}={v}"
        return text + ")"
    if t == "network":
        return f"{when} {t} {status} {ev.get('ID', '')} (container={ev.get('ID', '')}, name={ev.get('Name', '')})"
    if t == "image":
        return f"{when} {t} {status} {ev.get('ID', '')} {ev.get('Name', '')}"
    return f"{when} {t} {status} {ev.get('Name', '')}"


# Docker's names for podman's statuses where they differ
_DOCKER_ACTION = {"remove": "destroy", "cleanup": "cleanup", "died": "die"}


def docker(ev: dict) -> dict:
    """The event in Docker's shape (the API's /events stream)."""
    from pypod.units import parse_time

    t = ev.get("Type", "")
    action = _DOCKER_ACTION.get(ev.get("Status", ""), ev.get("Status", ""))
    if t == "image" and action == "destroy":
        action = "delete"  # Docker's word for an image's removal
    attrs = {str(k): str(v) for k, v in (ev.get("Attributes") or {}).items()}
    if t == "container":
        attrs.setdefault("image", ev.get("Image", ""))
        attrs.setdefault("name", ev.get("Name", ""))
        if "ContainerExitCode" in ev:
            attrs["exitCode"] = str(ev["ContainerExitCode"])
        actor = ev.get("ID", "")
    elif t in ("volume", "network"):
        actor = ev.get("Name", "") if t == "volume" else (ev.get("Attributes") or {}).get("network", ev.get("Name", ""))
        if t == "network" and ev.get("ID"):
            attrs["container"] = ev["ID"]
        attrs.setdefault("name", ev.get("Name", ""))
    else:
        actor = ev.get("ID", "") or ev.get("Name", "")
        attrs.setdefault("name", ev.get("Name", ""))
    ts = parse_time(ev.get("Time", ""))
    out = {"Type": t, "Action": action, "Actor": {"ID": actor, "Attributes": attrs}, "scope": "local",
           "time": int(ts), "timeNano": int(ts * 1e9)}
    if t == "container":
        out.update(status=action, id=actor, **{"from": ev.get("Image", "")})
    return out
