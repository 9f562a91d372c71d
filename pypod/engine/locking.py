"""The engine's side of the container lock (pypod.store.locks): take it, then sync — re-read the
record, which `rm` or `rename` may have changed while we waited.

    with locked(ctx, rec) as lk:   # lk.rec: the record as it is now
        ...                        # state check, act, record
        lk.release()               # early, e.g. before waiting for the supervisor
        lk.relock()                # and again (ContainerNotFound if removed meanwhile)

Lock order: pod → container → containers.lock → network/volume → state.lock; one container
at a time; never wait for a supervisor while holding it (it needs the lock to record an exit).

`rm -f` of a running container must let go of the lock while the supervisor records the exit;
it leaves a `removing` mark (its pid and start time) for that while, and every other verb that
takes the lock then finds the container gone — as with podman, whose `rm` holds the lock
throughout. A mark whose owner died (a killed `rm`) is ignored.
"""

from __future__ import annotations

import os

from pypod.errors import ContainerNotFound
from pypod.store.containers import ContainerRecord, ContainerStore
from pypod.store.locks import ContainerLock

REMOVING = "removing"


def gone(name: str) -> ContainerNotFound:
    return ContainerNotFound(f"no container with name or ID \"{name}\" found: no such container")


def _removal_owner_alive(path: str) -> bool:
    from pypod.linux import proc

    try:
        with open(path) as f:
            pid, _, start = f.read().partition(" ")
        return proc.alive(int(pid), int(start))
    except (OSError, ValueError):
        return False


class locked:
    """Hold the container's lock for a `with` block (a class: contextlib costs start-up)."""

    def __init__(self, ctx, rec: ContainerRecord):
        self.store = ContainerStore(ctx.graph_dir)
        self.rec = rec
        self.name = rec.name  # what the caller knew it as (for the error)
        self.dir = str(self.store.dir(rec.id))
        self.lock = ContainerLock(self.dir)
        self.removing = False  # we left the mark

    def relock(self) -> "locked":
        """Take the lock and sync the record; ContainerNotFound if it was removed (or is being)."""
        if not self.lock.acquire():
            raise gone(self.name)
        fresh = self.store.get(self.rec.id)
        if fresh is None or (not self.removing and
                             _removal_owner_alive(os.path.join(self.dir, REMOVING))):
            self.lock.release()
            raise gone(self.name)
        self.rec = fresh
        return self

    def mark_removing(self) -> None:
        """Before letting go of the lock in the middle of a removal."""
        if self.removing:
            return
        from pypod.linux import proc

        me = os.getpid()
        with open(os.path.join(self.dir, REMOVING), "w") as f:
            f.write(f"{me} {proc.starttime(me)}")
        self.removing = True

    def unmark_removing(self) -> None:
        """The removal failed (the container stays): others may act on it again."""
        if self.removing:
            self.removing = False
            try:
                os.unlink(os.path.join(self.dir, REMOVING))
            except OSError:
                pass

    def release(self) -> None:
        self.lock.release()

    def __enter__(self) -> "locked":
        return self.relock()

    def __exit__(self, *exc) -> None:
        self.lock.release()
