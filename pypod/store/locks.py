"""A lock per container: podman's `lock; sync state; act; unlock`, with flock(2).

The lock is the file `lock` in the container's storage directory (containers/<id>/lock, beside
container.json, spec.json and state.json). It lives and dies with the container: `rm` renames the
directory out of the listing while holding the lock, so a command that was waiting for it wakes on
an inode that is no longer the container's lock — `acquire()` checks that and answers "gone".

Who holds it (every verb that changes a container), from the state check until the change is
recorded or the supervisor has taken over:
  start / run         until the supervisor reports the container started (then the supervisor
                      owns the container; it takes no lock before that, so it cannot deadlock
                      on the command that launched it)
  stop / kill / rm    while signalling and until pid 1 is dead; they drop it while the supervisor
                      records the exit (which needs the lock) and take it again to act on that
  restart, rename, attach/exec/healthcheck-run start, create's name reservation (the index lock)
  the supervisor      around its exit report and tear-down (network helper, mounts) and the
                      restart policy's next start, so nothing starts the container again while
                      the last run is still being torn down

Readers (ps, inspect, logs, wait) never take it: state.json is replaced atomically.

Lock order (nothing takes them the other way round, so nothing deadlocks):
    pods.lock (pod creation) → pod → container → containers.lock (the name index) → network / volume
    → state.lock; storage.lock (images and layers, store/images.py) is taken under any of them
    and nothing is taken under it (pod create makes the local pause image under it).
A command holds at most one container lock at a time. Nobody waits for a supervisor while holding
the container lock: the supervisor blocks on it to record an exit.

Descriptors: opened O_CLOEXEC, so a supervisor or container process started while it is held never
inherits it; release() unlocks explicitly (LOCK_UN) before closing, so a forked child that still
shares the open file description (the supervisor's set-up child, before its exec) cannot keep the
container locked.
"""

from __future__ import annotations

import fcntl
import os

LOCK_FILE = "lock"


class ContainerLock:
    """`with ContainerLock(container_dir) as held:` — held is False when the container is gone
    (its directory removed or moved away while we waited). Also acquire()/release() by hand:
    the supervisor and `stop` drop and retake it."""

    def __init__(self, container_dir: str | os.PathLike):
        self.path = os.path.join(os.fspath(container_dir), LOCK_FILE)
        self.fd = -1

    @property
    def held(self) -> bool:
        return self.fd >= 0

    def acquire(self, wait: bool = True) -> bool | None:
        """Take it: True held; False the container no longer exists; None busy (wait=False)."""
        if self.fd >= 0:
            return True
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        except (FileNotFoundError, NotADirectoryError):
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            # `rm` moved the directory (and this file with it) while we waited
            try:
                same = os.stat(self.path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        if not same:
            os.close(fd)
            return False
        self.fd = fd
        return True

    def release(self) -> None:
        if self.fd < 0:
            return
        fd, self.fd = self.fd, -1
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
