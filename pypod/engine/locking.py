"""The engine's side of the container lock (pypod.store.locks): take it, then sync — re-read the
record, which `rm` or `rename` may have changed while we waited.

    with locked(ctx, rec) as lk:   # lk.rec: the record as it is now
        ...                        # state check, act, record
        lk.release()               # early, e.g. before waiting for the supervisor
        lk.relock()                # and again (ContainerNotFound if removed meanwhile)

Lock order: pod → container → containers.lock → network/volume → state.lock; one container
at a time; never wait for a supervisor while holding it (it needs the lock to record an exit).
"""

from __future__ import annotations

from pypod.errors import ContainerNotFound
from pypod.store.containers import ContainerRecord, ContainerStore
from pypod.store.locks import ContainerLock


def gone(name: str) -> ContainerNotFound:
    return ContainerNotFound(f"no container with name or ID \"{name}\" found: no such container")


class locked:
    """Hold the container's lock for a `with` block (a class: contextlib costs start-up)."""

    def __init__(self, ctx, rec: ContainerRecord):
        self.store = ContainerStore(ctx.graph_root)
        self.rec = rec
        self.name = rec.name  # what the caller knew it as (for the error)
        self.lock = ContainerLock(self.store.dir(rec.id))

    def relock(self) -> "locked":
        """Take the lock and sync the record; ContainerNotFound if it was removed."""
        if not self.lock.acquire():
            raise gone(self.name)
        fresh = self.store.get(self.rec.id)
        if fresh is None:
            self.lock.release()
            raise gone(self.name)
        self.rec = fresh
        return self

    def release(self) -> None:
        self.lock.release()

    def __enter__(self) -> "locked":
        return self.relock()

    def __exit__(self, *exc) -> None:
        self.lock.release()
