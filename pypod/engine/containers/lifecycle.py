"""The verbs that change a container's state: start, stop, kill, wait, rm, prune, rename.

They hold the container's lock (pypod.engine.locking) from the state check until the change is
recorded or the supervisor has taken over; ps/inspect/logs/wait do not lock. Order: pod →
container → containers.lock → network/volume; never wait for a supervisor while holding it (it
takes the lock to record an exit).
"""

from __future__ import annotations

import os
import re
import signal as _signal
import time

from pypod.engine import events
from pypod.engine.cleanup import remove_tree
from pypod.engine.context import Context
from pypod.errors import (Conflict, ContainerNotFound, ContainerStateImproper, InvalidArgument, PypodError,
                          RemoveMissing)
from pypod.record import Record
from pypod.store.containers import ContainerRecord
from pypod.engine.containers.lookup import find_container, own_containers, state_of, store
from pypod.engine.containers.spec import stored_spec
from pypod.engine.containers.views import PsFilter


def _launch_error(e) -> PypodError:
    code = getattr(e, "exit_code", 125) or 125
    msg = getattr(e, "message", None) or str(e)
    from pypod.errors import CommandCannotInvoke, CommandNotFound

    cls = {127: CommandNotFound, 126: CommandCannotInvoke}.get(code, PypodError)
    err = cls(msg)
    err.exit_code = code
    return err


def _check_detach_keys(keys: str | None) -> str | None:
    from pypod.runtime import attach as rattach

    try:
        rattach.parse_detach_keys(keys)
    except rattach.DetachKeysError as e:
        raise InvalidArgument(str(e)) from None
    return keys


def prepare_supervisor() -> None:
    """Fork the supervisor-to-be now, while this process is small and single-threaded (a CLI
    about to start a container; see runtime/launch.py's DESIGN note): its imports overlap with
    the container's creation."""
    from pypod.engine import supervise
    from pypod.runtime import launch

    launch.prefork(supervise.main)


def start_container(ctx: Context, rec: ContainerRecord, *, attach: bool = False, interactive: bool = False,
                    detach_keys: str | None = None) -> int | None:
    """Start a created or stopped container; attached: wait and return its exit code; None when
    it was running already (podman 4.3 then prints nothing and exits 0).
    Holds the container's lock from the state check until the supervisor reports the container
    started, so of concurrent starts one launches it and the others find it running."""
    from pypod.engine.locking import locked
    from pypod.runtime import launch

    keys = _check_detach_keys(detach_keys)
    if rec.config.pod:
        from pypod.engine import pods

        pods.start_infra_of(ctx, rec)
    lk = locked(ctx, rec)
    cdir = str(store(ctx).dir(rec.id))
    for attempt in range(3):
        with lk:
            rec = lk.rec
            st = state_of(ctx, rec)
            if attempt < 2 and launch.settling(st):
                # its last run is being recorded and torn down: the supervisor needs the lock
                lk.release()
                launch.wait_settled(cdir)
                continue
            if st.get("status") in ("running", "paused"):
                if attach:
                    raise ContainerStateImproper(f"container {rec.id} is already running: container state improper")
                return None
            spec = stored_spec(ctx, rec)  # (as create wrote it: a start never rewrites it)
            if st.get("status", "created") != "created":  # a restart: :U again (create did the first)
                from pypod.engine.mounts import reapply_chown

                reapply_chown(ctx, rec.config.resolved_mounts or [])
            try:
                started = launch.start(spec, cdir, foreground=attach, warn=ctx.reporter.warn,
                                       detach_keys=keys, open_stdin=interactive)
            except launch.LaunchError as e:
                raise _launch_error(e) from None
        break
    events.container(ctx, rec, "start")
    if attach:
        return started.wait()
    return 0


def _remove_after_run(ctx: Context, rec: ContainerRecord) -> None:
    """A foreground `run --rm`: under the lock, which the supervisor holds until the run is torn down."""
    from pypod.engine.locking import locked

    try:
        with locked(ctx, rec):
            _destroy(ctx, rec.id)
    except ContainerNotFound:  # removed meanwhile
        return
    if rec.config.resolved_mounts:  # (volumes' imports only for a container with mounts)
        from pypod.engine.volumes import remove_anonymous

        remove_anonymous(ctx, rec)


# -- stop / kill / restart ---------------------------------------------------------------------
def stop_container(ctx: Context, rec: ContainerRecord, timeout: int | None = None) -> None:
    """Under the container's lock until pid 1 is dead (a concurrent start waits, then starts it
    again or finds it running); then without it until the supervisor has recorded the exit."""
    from pypod.engine.locking import locked
    from pypod.runtime import launch
    from pypod.signals import signal_name

    cdir = str(store(ctx).dir(rec.id))
    with locked(ctx, rec) as lk:
        rec = lk.rec
        st = state_of(ctx, rec)
        if st.get("status") not in ("running", "paused", "stopping") and not launch.settling(st):
            _mark_stopped_by_user(ctx, rec)
            return
        o = rec.config
        t = o.stop_timeout if timeout is None else timeout
        killed, stopped = launch.signal_stop(cdir, t, o.stop_signal)
        lk.release()  # the supervisor records the exit under it
        launch.settle_stop(cdir, stopped)  # (a wedged supervisor is ended; never a false success)
    events.container(ctx, rec, "stop")
    if killed and t > 0:
        ctx.reporter.warn(f"StopSignal {signal_name(o.stop_signal)} failed to stop container "
                          f"{rec.name} in {t} seconds, resorting to SIGKILL", elapsed=t)


def _mark_stopped_by_user(ctx: Context, rec: ContainerRecord) -> None:
    pass


def kill_container(ctx: Context, rec: ContainerRecord, sig: int) -> None:
    from pypod.engine.locking import locked
    from pypod.runtime import launch

    st = state_of(ctx, rec)
    if st.get("status") == "running" and st.get("stopping"):
        # A stop holds the lock while it waits for pid 1 to die; podman waits unlocked and lets
        # a kill through meanwhile ("a user may have decided to kill the container after all").
        # The signal goes to the pid the state names, checked by its start time: no lock needed.
        launch.kill(str(store(ctx).dir(rec.id)), sig)
    else:
        with locked(ctx, rec) as lk:
            rec = lk.rec
            st = state_of(ctx, rec)
            if st.get("status") not in ("running", "paused"):
                raise PypodError(f"can only kill running containers. {rec.id} is in state "  # podman: 125
                                 f"{st.get('status')}: container state improper")
            launch.kill(str(store(ctx).dir(rec.id)), sig)
    from pypod.signals import signal_name

    events.container(ctx, rec, "kill", signal=signal_name(sig).removeprefix("SIG"))


def wait_container(ctx: Context, rec: ContainerRecord, conditions: list[str] | None = None,
                   interval: float = 0.25) -> int:
    from pypod.runtime import launch

    conds = conditions or ["stopped", "exited"]
    for c in conds:
        if c not in ("created", "running", "paused", "stopped", "exited", "healthy", "unhealthy", "configured",
                     "removing", "stopping", "unknown"):
            raise InvalidArgument(f"unknown container state: {c}: invalid argument")
    return launch.wait(str(store(ctx).dir(rec.id)), conds, interval)


# -- remove -------------------------------------------------------------------------------------
class RmReport(Record):
    FIELDS = (("removed", list), ("errors", list))
    __slots__ = tuple(n for n, _ in FIELDS)


def remove_containers(ctx: Context, names: list[str], *, force: bool = False, ignore: bool = False,
                      timeout: int | None = None, all_: bool = False, volumes: bool = False,
                      depend: bool = False) -> RmReport:
    rep = RmReport()
    from pypod.engine import depends
    from pypod.engine.cleanup import reap_orphans

    reap_orphans(ctx)  # what a killed `rm` (or pull) left
    targets: list[tuple[str, ContainerRecord]] = []
    if all_:
        targets = [(r.id, r) for r in own_containers(ctx)]
    else:
        for n in names:
            rec = find_container(ctx, n)
            if rec is None:
                if not (ignore or force):  # podman 4.3: rm -f of a missing name is no error
                    rep.errors.append(RemoveMissing(f"no container with name or ID \"{n}\" found: no such container"))
                continue
            targets.append((n, rec))
    records = store(ctx).list()
    if depend:
        targets = depends.with_dependents(records, targets)
    removing = {r.id for _, r in targets}
    for given, rec in targets:
        try:
            if rec.config.infra:  # only with its pod (rm -a: the pod goes too)
                from pypod.engine import pods

                pods.remove_infra(ctx, rec, all_, force, timeout)
                rep.removed.append(given)
                continue
            refused = depends.refusal(records, rec, removing)
            if refused is not None:
                raise refused
            _remove_one(ctx, rec, force, timeout)
            rep.removed.append(given)
            if volumes or rec.config.rm:
                from pypod.engine.volumes import remove_anonymous

                remove_anonymous(ctx, rec)
        except PypodError as e:
            rep.errors.append(e)
    return rep


EXIT_CODE_KEEP = 300  # seconds an exit code outlives its container (podman keeps them 5 minutes)


def _keep_exit_code(ctx: Context, cid: str) -> None:
    """Remember the exit code of a container about to be removed: a Docker client that waits
    for condition=removed (`docker run --rm`) asks for it after the container is gone."""
    from pypod.runtime.state import read_state

    code = (read_state(str(store(ctx).dir(cid))) or {}).get("exit_code")
    if code is None:
        return
    d = os.path.join(ctx.run_dir, "exits")
    try:
        os.makedirs(d, mode=0o700, exist_ok=True)
        now = time.time()
        with os.scandir(d) as it:
            for e in it:  # bounded: old ones go as new ones come
                if now - e.stat().st_mtime > EXIT_CODE_KEEP:
                    os.unlink(e.path)
        with open(os.path.join(d, cid), "w") as f:
            f.write(str(int(code)))
    except OSError:
        pass


def last_exit_code(ctx: Context, cid: str) -> int | None:
    """The exit code of a container removed in the last EXIT_CODE_KEEP seconds."""
    try:
        with open(os.path.join(ctx.run_dir, "exits", cid)) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return None


def _remove_one(ctx: Context, rec: ContainerRecord, force: bool, timeout: int | None) -> None:
    """Stop (with force) and remove one container under its lock. The lock is dropped while the supervisor records the exit and tears the run down;
    a `start` that slips in then is stopped again."""
    from pypod.engine.locking import locked
    from pypod.runtime import launch

    cdir = str(store(ctx).dir(rec.id))
    try:
        with locked(ctx, rec) as lk:
            try:
                for _ in range(100):
                    st = state_of(ctx, lk.rec)
                    running, settling = st.get("status") in ("running", "paused", "stopping"), launch.settling(st)
                    if not running and not settling:
                        break
                    stp = None
                    if force:  # (settling: only the stop marker, against a restart policy)
                        sig = _signal.SIGKILL if (timeout is None or timeout == 0) else \
                            lk.rec.config.stop_signal
                        _, stp = launch.signal_stop(cdir, timeout or 0, sig)
                    elif not settling:
                        raise ContainerStateImproper(
                            f"cannot remove container {rec.id} as it is running - running or paused containers "
                            "cannot be removed without force: container state improper")
                    lk.mark_removing()  # a start in the meantime finds it gone
                    lk.release()
                    if stp is not None:  # a wedged supervisor is ended there, or an error says why
                        launch.settle_stop(cdir, stp)
                    else:
                        launch.wait_settled(cdir)
                    lk.relock()
                if lk.rec.config.damaged:  # its state may be unreadable too
                    from pypod.engine.cleanup import kill_supervisors

                    kill_supervisors(cdir)
                _destroy(ctx, rec.id)
            except BaseException:
                lk.unmark_removing()
                raise
    except ContainerNotFound:
        pass  # removed under us (podman: no error)


def _destroy(ctx: Context, cid: str) -> None:
    _keep_exit_code(ctx, cid)
    cs = store(ctx)
    rec = cs.get(cid)  # (for its event: name, image, labels)
    with cs.lock():
        dead = cs.trash(cid)
    if dead is not None and rec is not None:
        events.container(ctx, rec, "remove")
    from pypod import faults; faults.point("rm")
    if dead is not None:
        remove_tree(ctx, dead)


def prune(ctx: Context, filters: list[str] | None = None) -> list[str]:
    flt = PsFilter(filters or [])
    out = []
    from pypod.engine.locking import locked
    from pypod.runtime import launch
    from pypod.store.containers import live_work

    for rec in own_containers(ctx):  # (a build's RUN container may be between run and removal)
        if live_work(rec):  # a RUN step of a build in progress
            continue
        if rec.config.infra:  # a pod's: it goes with its pod (podman's prune leaves it too)
            from pypod.engine import pods

            if pods.store(ctx).get(rec.config.pod) is not None:
                continue
        if rec.config.damaged:
            # its record is unreadable: nothing to keep it for (even running); killed and removed
            if not filters and not remove_containers(ctx, [rec.id], force=True).errors:
                out.append(rec.id)
            continue
        try:
            with locked(ctx, rec) as lk:  # a start racing the prune keeps its container
                st = state_of(ctx, lk.rec)
                if st.get("status") in ("running", "paused", "stopping") or launch.settling(st):
                    continue
                if not flt.match(ctx, lk.rec, st):
                    continue
                _destroy(ctx, rec.id)
        except ContainerNotFound:  # removed meanwhile
            continue
        out.append(rec.id)
    from pypod.engine.cleanup import reap_orphans

    reap_orphans(ctx, thorough=True)
    return out


def rename(ctx: Context, rec: ContainerRecord, new: str) -> None:
    if not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*", new):
        raise InvalidArgument(f"container name {new!r}: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*")
    from pypod.engine.locking import locked

    cs = store(ctx)
    with locked(ctx, rec), cs.lock():  # (container, then the name index)
        for r in cs.list():
            if r.name == new:
                raise Conflict(f"renaming container {rec.id}: name {new} already in use, cannot rename "
                               f"container {rec.id}: container already exists")
        rec = cs.get(rec.id)
        rec.name = new
        cs.save(rec)
