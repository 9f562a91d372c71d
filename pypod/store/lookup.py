"""Finding one record by what a user typed: its full ID, its name, or a unique prefix of its ID.

podman's rules (libpod's lookupContainerID and LookupPod, netavark's getNetwork, c/storage's image
ID index): a full ID wins, then a name, then the only ID that starts with the text. Which error an
ambiguous prefix raises is the caller's (each noun words it its own way, with its own exit code);
an image store says nothing and finds nothing then.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs start-up time: the names are for annotations only
if TYPE_CHECKING:
    from typing import Callable, Iterable, TypeVar

    R = TypeVar("R")
_HEX = frozenset("0123456789abcdef")


def is_hex(text: str, lo: int = 1, hi: int = 64) -> bool:
    """`lo` to `hi` lower-case hex digits: an ID or an ID prefix."""
    return lo <= len(text) <= hi and _HEX.issuperset(text)


def _id(r) -> str:
    return r.id


def _name(r) -> str:
    return r.name


def by_id_prefix(records: Iterable[R], prefix: str, ambiguous: Callable[[], Exception] | None,
                 id_of: Callable[[R], str] = _id) -> R | None:
    """The one record whose ID starts with `prefix` (lower-case hex), None if none does. Several:
    `ambiguous()` is raised, or None is the answer when `ambiguous` is None."""
    if not is_hex(prefix):
        return None
    hit = None
    for r in records:
        if id_of(r).startswith(prefix):
            if hit is not None:
                if ambiguous is None:
                    return None
                raise ambiguous()
            hit = r
    return hit


def by_name_or_id(records: Iterable[R], name: str, ambiguous: Callable[[], Exception], *,
                  get: Callable[[str], R | None] | None = None, id_of: Callable[[R], str] = _id,
                  name_of: Callable[[R], str] = _name) -> R | None:
    """The record `name` means: the one `get(name)` reads when `name` is a full ID, else the one
    named so (the scan of `records`, which may be lazy, stops there: names are unique), else the
    one whose ID `name` begins (several: `ambiguous()` is raised). Without `get`, a full ID is
    found as its own prefix."""
    if not name:
        return None
    if get is not None and is_hex(name, 64):
        rec = get(name)
        if rec is not None:
            return rec
    seen = []
    for r in records:
        if name_of(r) == name:
            return r
        seen.append(r)
    return by_id_prefix(seen, name, ambiguous, id_of)
