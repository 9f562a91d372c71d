"""The lock per container (pypod.store.locks): exclusive, gone with the container, not kept by an
inherited copy of its descriptor, and settling() — when a verb must wait for the supervisor."""

import fcntl
import os
import threading

from pypod.runtime import launch
from pypod.store.locks import ContainerLock

DEAD_PID = 2 ** 22 + 12345  # above pid_max's usual range: never alive


def test_exclusive_until_released(tmp_path):
    a, b = ContainerLock(tmp_path), ContainerLock(tmp_path)
    assert a.acquire() and a.held
    assert b.acquire(wait=False) is None  # busy
    a.release()
    assert not a.held
    assert b.acquire(wait=False) is True
    b.release()


def test_not_inheritable(tmp_path):
    a = ContainerLock(tmp_path)
    a.acquire()
    try:
        assert fcntl.fcntl(a.fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
    finally:
        a.release()


def test_release_unlocks_even_if_a_copy_of_the_fd_lives_on(tmp_path):
    """A child forked while the lock is held (the supervisor's set-up child before its exec)
    shares the open file description: closing our fd alone would leave the container locked."""
    a, b = ContainerLock(tmp_path), ContainerLock(tmp_path)
    a.acquire()
    copy = os.dup(a.fd)
    try:
        a.release()
        assert b.acquire(wait=False) is True
        b.release()
    finally:
        os.close(copy)


def test_removed_container_is_gone(tmp_path):
    cdir = tmp_path / "c"
    cdir.mkdir()
    a = ContainerLock(cdir)
    a.acquire()
    os.rename(cdir, tmp_path / ".rm-c")  # what `rm` does while holding it
    a.release()
    assert ContainerLock(cdir).acquire() is False


def test_a_waiter_wakes_to_gone_when_the_container_was_removed(tmp_path):
    cdir = tmp_path / "c"
    cdir.mkdir()
    holder, waiter = ContainerLock(cdir), ContainerLock(cdir)
    holder.acquire()
    got = []
    t = threading.Thread(target=lambda: got.append(waiter.acquire()))
    t.start()
    try:
        t.join(0.2)
        assert t.is_alive()  # waiting for the holder
        os.rename(cdir, tmp_path / ".rm-c")
    finally:
        holder.release()
        t.join(5)
    assert got == [False] and not waiter.held


def test_settling_needs_a_live_supervisor_and_a_dead_pid1():
    me = os.getpid()
    # no supervisor: nothing to wait for, whatever the record says
    assert not launch.settling({"status": "running", "pid": DEAD_PID, "supervisor_pid": DEAD_PID})
    # running, pid 1 alive: running
    assert not launch.settling({"status": "running", "pid": me, "supervisor_pid": me})
    # running on record, pid 1 dead, supervisor alive: it is recording the exit
    assert launch.settling({"status": "running", "pid": DEAD_PID, "supervisor_pid": me})
    # exited, supervisor alive: a restart policy's next run is coming (or the tear-down)
    assert launch.settling({"status": "exited", "pid": 0, "supervisor_pid": me})


def _container(tmp_path):
    from pypod.engine.context import Context
    from pypod.store.containers import ContainerRecord, ContainerStore

    ctx = Context(tmp_path / "storage", tmp_path / "run")
    rec = ContainerRecord(id="c" * 64, name="web")
    ContainerStore(ctx.graph_root).save(rec)
    return ctx, rec


def test_a_removal_in_progress_reads_as_gone_to_others(tmp_path):
    import pytest

    from pypod.engine.locking import locked
    from pypod.errors import ContainerNotFound

    ctx, rec = _container(tmp_path)
    remover = locked(ctx, rec).relock()
    remover.mark_removing()
    remover.release()  # (waiting for the supervisor's exit report)
    with pytest.raises(ContainerNotFound, match='no container with name or ID "web" found'):
        locked(ctx, rec).relock()
    remover.relock()  # the remover itself goes on
    remover.unmark_removing()  # (its removal failed: the container stays)
    remover.release()
    with locked(ctx, rec) as lk:
        assert lk.rec.name == "web"


def test_a_dead_removers_mark_is_ignored(tmp_path):
    from pypod.engine.locking import REMOVING, locked

    ctx, rec = _container(tmp_path)
    with open(os.path.join(locked(ctx, rec).dir, REMOVING), "w") as f:
        f.write(f"{DEAD_PID} 1")  # a `rm` killed half-way
    with locked(ctx, rec) as lk:
        assert lk.rec.id == rec.id
