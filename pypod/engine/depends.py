"""Containers that depend on another: they use its namespaces (`--net=container:ID`). podman
refuses to remove a container its dependents still need; `rm --depend` removes them first.
Pure logic over the container records (the caller lists them once)."""

from __future__ import annotations


def dependents(records: list, rec) -> list:
    """The containers that join `rec`'s network namespace."""
    want = f"container:{rec.id}"
    return [r for r in records if r.config.network == want]


def with_dependents(records: list, targets: list[tuple[str, object]]) -> list[tuple[str, object]]:
    """`rm --depend`: every target preceded by its dependents (theirs first, each once)."""
    out: list[tuple[str, object]] = []
    seen: set[str] = set()

    def add(given: str, rec) -> None:
        if rec.id in seen:
            return
        seen.add(rec.id)
        for d in dependents(records, rec):
            add(d.id, d)
        out.append((given, rec))

    for given, rec in targets:
        add(given, rec)
    return out


def refusal(records: list, rec, removing: set[str]):
    """The error for removing `rec` while a dependent that is not being removed needs it."""
    from pypod.errors import PypodError

    left = [d.id for d in dependents(records, rec) if d.id not in removing]
    if not left:
        return None
    return PypodError(f"container {rec.id} has dependent containers which must be removed before it: "
                      f"{','.join(left)}: container already exists (`pypod rm --depend` removes them too)")
