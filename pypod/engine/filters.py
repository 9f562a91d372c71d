"""`--filter KEY=VALUE` lists as podman parses them for ps and pod ps (one place for the checks
and their messages)."""

from __future__ import annotations

from pypod.errors import InvalidArgument


def parse(items: list[str], keys: tuple[str, ...], statuses: tuple[str, ...]) -> dict[str, list[str]]:
    """KEY → the values given for it (several: any of them); an unknown key or status is refused."""
    out: dict[str, list[str]] = {}
    for item in items:
        k, sep, v = item.partition("=")
        if not sep:
            raise InvalidArgument(f"invalid filter {item!r}: must be in the format \"filter=value\"")
        if k not in keys:
            raise InvalidArgument(f"{k} is an invalid filter")
        if k == "status" and v not in statuses:
            raise InvalidArgument(f"{v} is not a valid status")
        out.setdefault(k, []).append(v)
    return out
