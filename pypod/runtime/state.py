"""CONTAINER_DIR/state.json: the runtime state of a container, kept by its supervisor.

Schema (every key always present):
  status            "created" | "running" | "exited" | "stopped" | "paused"
  pid               host pid of the container's pid 1 (0 when not running)
  supervisor_pid    host pid of the supervisor (0 when none)
  started_at        RFC3339Nano local time of the last start ("" never)
  finished_at       RFC3339Nano of the last exit ("" never)
  exit_code         last exit code (128+N when killed by signal N); None before the first exit
  oom_killed        false (no cgroups)
  error             the start error message ("" none)
  restart_count     restarts done by the restart policy since the last `start`
  health            None, or {"status": "starting|healthy|unhealthy", "failing_streak": n,
                    "log": [{"start", "end", "exit_code", "output"}] (last 5)}
  boot_id           /proc/sys/kernel/random/boot_id when written
  exec_ids          []
  pid_starttime, supervisor_starttime   /proc/PID/stat start times (pid reuse guard)
  rootless          whether the container runs in a user namespace
  fuse_pid, fuse_starttime   the fuse-overlayfs daemon when the kernel refused overlayfs

Writes are atomic (temp file, fsync, rename) under an fcntl lock on CONTAINER_DIR/state.lock.
read_state() corrects stale state: "running"/"paused" with a dead supervisor (kill -9; the
container dies with it) or from an earlier boot reads as "exited" (exit code 137 when unknown),
and the correction is persisted.
"""

from __future__ import annotations

import fcntl
import os

from pypod.linux import proc
from pypod import faults, jsonlite
from pypod.runtime.logs import timestamp

STATE_FILE = "state.json"
LOCK_FILE = "state.lock"
STOP_MARKER = "stop-requested"  # written by stop(): the supervisor must not restart
REMOVING_MARKER = "removing"  # written by rm (engine.locking.REMOVING) while it waits for us

RUNNING_STATES = ("running", "paused")


def default_state() -> dict:
    return {
        "status": "created", "pid": 0, "supervisor_pid": 0, "started_at": "", "finished_at": "",
        "exit_code": None, "oom_killed": False, "error": "", "restart_count": 0, "health": None,
        "boot_id": proc.boot_id(), "exec_ids": [], "pid_starttime": None,
        "supervisor_starttime": None, "rootless": os.geteuid() != 0, "fuse_pid": 0,
        "fuse_starttime": None,
    }


class StateLock:
    """fcntl.flock on CONTAINER_DIR/state.lock (a context manager)."""

    def __init__(self, container_dir: str, shared: bool = False):
        self.path = os.path.join(container_dir, LOCK_FILE)
        self.shared = shared
        self.fd = -1

    def __enter__(self) -> "StateLock":
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc) -> None:
        os.close(self.fd)  # releases the lock
        self.fd = -1


def _load(container_dir: str) -> dict | None:
    try:
        with open(os.path.join(container_dir, STATE_FILE), "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None
    try:
        st = jsonlite.loads(data)
    except ValueError:
        return None
    return st if isinstance(st, dict) else None


def write_state(container_dir: str, state: dict, *, fsync: bool = True) -> None:
    """Atomically replace state.json (caller holds the lock for read-modify-write)."""
    path = os.path.join(container_dir, STATE_FILE)
    tmp = f"{path}.{os.getpid()}.tmp"
    data = jsonlite.dumps(state).encode()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        while data:
            data = data[os.write(fd, data):]
        faults.point("state.write")
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)


def persist(container_dir: str) -> None:
    """fsync state.json and its directory (after a write_state(fsync=False))."""
    for path, flags in ((os.path.join(container_dir, STATE_FILE), os.O_RDONLY),
                        (container_dir, os.O_RDONLY | os.O_DIRECTORY)):
        try:
            fd = os.open(path, flags | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)


def update_state(container_dir: str, changes: dict | None = None, *, fsync: bool = True,
                 **kw) -> dict:
    """Merge changes into state.json under the lock; returns the new state."""
    with StateLock(container_dir):
        st = default_state()
        st.update(_load(container_dir) or {})
        if changes:
            st.update(changes)
        st.update(kw)
        st["boot_id"] = proc.boot_id()
        write_state(container_dir, st, fsync=fsync)
        return st


def _stale(st: dict) -> bool:
    if st.get("status") not in RUNNING_STATES:
        return False
    if st.get("boot_id") and st.get("boot_id") != proc.boot_id():
        return True
    return not proc.alive(st.get("supervisor_pid"), st.get("supervisor_starttime"))


def read_state(container_dir: str) -> dict:
    """The container's state, corrected (and the correction persisted) when stale."""
    st = default_state()
    loaded = _load(container_dir)
    if loaded is None:
        return st
    st.update(loaded)
    if not _stale(st):
        return st
    with StateLock(container_dir):
        st = default_state()
        st.update(_load(container_dir) or {})
        if _stale(st):
            # The supervisor records every exit; without it the container was SIGKILLed with it
            # (PDEATHSIG) or died with the machine.
            fuse, fuse_start = st.get("fuse_pid"), st.get("fuse_starttime")
            if fuse and proc.alive(fuse, fuse_start):
                try:  # a fuse-overlayfs daemon the dead supervisor could not end
                    os.kill(fuse, 15)
                except OSError:
                    pass
            st.update(status="exited", pid=0, supervisor_pid=0, pid_starttime=None,
                      fuse_pid=0, fuse_starttime=None,
                      supervisor_starttime=None, exit_code=137, boot_id=proc.boot_id(),
                      finished_at=timestamp())
            try:
                write_state(container_dir, st)
            except OSError:
                pass
    return st


def stop_requested(container_dir: str) -> bool:
    return os.path.exists(os.path.join(container_dir, STOP_MARKER))


def is_running(st: dict) -> bool:
    return st.get("status") in RUNNING_STATES
