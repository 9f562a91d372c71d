"""A run's end (podman's conmon: ctr_exit.c): reaping, the exit record and report, the `died`
event, the restart policy's decision, the tear-down and the --rm clean-up."""

from __future__ import annotations

import _signal
import os
import time

from pypod.linux import userns
from pypod.runtime import logs, protocol
from pypod.runtime import state as statemod


class Exit:
    """The Supervisor's exit handling (a mixin: the state is the Supervisor's, see core.py)."""

    def record_exit(self, code: int) -> None:
        """Record, announce and tear down the run that ended with code. Under the container's
        lock: no verb acts on the container while its last run is recorded and torn down. Whoever
        holds the lock now does not wait for us (stop and rm wait for pid 1's death under it, then
        let go)."""
        self.lock.acquire()
        restart = self.should_restart(code)
        if self.net is not None:  # its exit (namespace teardown) overlaps the record from here
            self._net_driver().begin_stop(self.net)
        # Publish (atomic rename), report, then make it durable: the launcher need not
        # wait for the journal commit.
        self.write_state(fsync=False, status="exited", pid=0, exit_code=code,
                         finished_at=logs.timestamp(),
                         supervisor_pid=self.me if restart else 0,
                         health=self.health)
        self.died_event(code)
        self.attach_exit(code)
        if not self.hand_over(code):
            self.say(protocol.EXIT, code=code)
        self.release_mnt()  # (the mount namespace's teardown: tens of ms, as slirp4netns's exit)
        self.stop_net()
        if self.spec.get("limits"):
            from pypod.linux import cgroups

            cgroups.remove(cgroups.paths(self.spec.get("id") or "", self.spec["limits"]))
        if restart or not self.doomed():
            statemod.persist(self.cdir)

    def doomed(self) -> bool:
        """Is the container removed once we let go (--rm, or an `rm` waiting for us)? Then the
        exit record need not be made durable (two fsyncs: ~10 ms, far more under I/O load)."""
        return bool(self.spec.get("auto_remove")) or \
            os.path.exists(os.path.join(self.cdir, statemod.REMOVING_MARKER))

    def reap(self, block_for: int = 0) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, 0 if block_for else os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.pid1:
                self.pid1_status = status
            elif pid == self.hc_pid:
                self.health_done(status)
            if block_for and pid == block_for:
                return

    def should_restart(self, code: int) -> bool:
        policy = (self.spec.get("restart_policy") or "no").split(":")[0]
        if policy in ("", "no") or self.stop_requested():
            return False
        if policy in ("always", "unless-stopped"):
            return True
        if policy == "on-failure":
            limit = int(self.spec.get("restart_max") or 0)
            tail = (self.spec.get("restart_policy") or "").partition(":")[2]
            if not limit and tail.isdigit():  # "on-failure:N" given as one string
                limit = int(tail)
            return code != 0 and (limit <= 0 or self.restart_count < limit)
        return False

    def died_event(self, code: int) -> None:
        """The `died` event (Docker's `die`), with the exit code and the container's labels."""
        if not self.spec.get("events_dir"):
            return
        from pypod.store import events

        ev = self.spec.get("event") or {}
        events.emit(self.spec["events_dir"], "container", "died", id_=self.spec.get("id", ""),
                    name=self.spec.get("name", ""), image=ev.get("image", ""),
                    attributes=ev.get("labels") or {}, exit_code=code)

    def release_mnt(self) -> None:
        if self.mnt_fd >= 0:
            fd, self.mnt_fd = self.mnt_fd, -1
            _drop_last_ref(fd)
        if self.fuse_pid:
            pid, self.fuse_pid = self.fuse_pid, 0
            try:
                os.kill(pid, _signal.SIGTERM)
                for _ in range(500):
                    done, _st = os.waitpid(pid, os.WNOHANG)
                    if done:
                        break
                    time.sleep(0.002)
                else:
                    os.kill(pid, 9)
                    os.waitpid(pid, 0)
            except (OSError, ChildProcessError):
                pass

    def unregister(self) -> None:
        if self.rootless and self.holder_dir and self.pid1:
            userns.unregister_holder(self.holder_dir, self.pid1)

    def cleanup(self) -> None:
        argv = self.spec.get("cleanup_argv")
        if not (self.spec.get("auto_remove") and argv):
            return
        if self.cleanup_if_detached and not self.detached:
            return  # the foreground `run --rm` removes it itself
        try:
            null = [(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0)]
            pid = os.posix_spawnp(argv[0], argv, dict(os.environ), file_actions=null)
            os.waitpid(pid, 0)
        except OSError:
            pass


def _drop_last_ref(fd: int) -> None:
    """Close the last reference to a dead container's mount namespace in a forked child: the
    close unmounts everything in it (an RCU grace period or more, tens of ms under load), which
    would otherwise hold the exit report's lock, and with it the `rm` or `run --rm` waiting.
    Nothing of the host is mounted there; what it held is only the container's own tree."""
    r, w = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(r)
        os.close(w)
        os.close(fd)
        return
    if pid == 0:
        try:
            _signal.set_wakeup_fd(-1)
            # nothing but the namespace and the pipe: no reader of the status pipe or of a
            # foreground's stdout may wait for us, no lock of the container be held by us
            null = os.open("/dev/null", os.O_RDWR)
            for f in (0, 1, 2):
                os.dup2(null, f)
            lo, hi = sorted((r, fd))
            os.closerange(3, lo)
            os.closerange(lo + 1, hi)
            os.closerange(hi + 1, 1 << 20)
            # (still titled pypod-conmon ID: a leak of ours is found as the supervisor's would be)
            os.read(r, 1)  # EOF once the supervisor has closed its copy: ours is the last
        finally:
            os._exit(0)  # (the exit closes fd: the namespace is torn down here)
    os.close(r)
    os.close(fd)
    os.close(w)
