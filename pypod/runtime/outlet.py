"""Output to a reader that may stall: an attach client, or a foreground run's stdout/stderr.

The supervisor must never block on a reader: one that stops reading (a pipe nobody drains, a
paused `less`) would freeze the container's output, its log, and the supervisor's own loop, and
with it `stop`. An Outlet never blocks: what the reader has not taken waits in memory (up to
MEMORY_MAX), then in an unnamed spill file in the container's directory, so that a slow pipeline
consumer still gets every byte, in order. Past SPILL_MAX of backlog the reader is given up
(`lost`): the container's log has everything.

This module stays lean: the supervisor imports it.
"""

from __future__ import annotations

import errno
import os
import stat

MEMORY_MAX = 1 << 20
SPILL_MAX = 256 << 20
GUARDED_CHUNK = 512


class Outlet:
    """A non-blocking writer with a bounded backlog; it owns `fd`. How a write avoids blocking
    (`how`): "nonblock" fd is O_NONBLOCK (or a regular file); "sock" send() with MSG_DONTWAIT;
    "nowait" pwritev(RWF_NOWAIT) (a pipe whose description is shared); "guarded" only what
    poll() promises room for (a shared terminal, or a pipe on a kernel without RWF_NOWAIT)."""

    def __init__(self, fd: int, spill_dir: str, *, how: str = "nonblock", sock=None):
        self.fd = fd
        self.how = how
        self.sock = sock
        self.spill_dir = spill_dir
        self.mem = bytearray()
        self.spill = -1
        self.spill_r = self.spill_w = 0  # the spill file's unread range
        self.lost = False  # gone (EPIPE, …) or too far behind: nothing more is written
        self.overflowed = False  # (too far behind)

    @property
    def pending(self) -> bool:
        return bool(self.mem) or self.spill_w > self.spill_r

    def write(self, data: bytes) -> bool:
        """Write what the reader takes now, queue the rest; False once the reader is lost."""
        if self.lost:
            return False
        if not self.pending:
            n = self._send(data)
            if n is None:
                return False
            data = data[n:]
        if data:
            self._queue(data)
        return not self.lost

    def flush(self) -> bool:
        """On POLLOUT: write what the reader takes; False once it is lost."""
        while not self.lost:
            if not self.mem:
                if self.spill_w == self.spill_r:
                    return True
                try:
                    chunk = os.pread(self.spill, min(MEMORY_MAX, self.spill_w - self.spill_r),
                                     self.spill_r)
                except OSError:
                    chunk = b""
                if not chunk:  # an I/O error, or the file was cut under us
                    self._give_up()
                    break
                self.spill_r += len(chunk)
                if self.spill_r == self.spill_w:  # all read: start the file again
                    try:
                        os.ftruncate(self.spill, 0)
                    except OSError:
                        pass
                    self.spill_r = self.spill_w = 0
                self.mem += chunk
            n = self._send(self.mem)
            if n is None:
                break
            if n == 0:
                return True
            del self.mem[:n]
        return False

    def close(self) -> None:
        """Close the reader's fd and the spill file; the backlog is dropped."""
        self._drop_backlog()
        if self.sock is not None:
            self.sock.detach()  # the fd is closed below, once
            self.sock = None
        if self.fd >= 0:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = -1

    def fds(self) -> list[int]:
        return [f for f in (self.fd, self.spill) if f >= 0]

    # ---------------------------------------------------------------- internals
    def _send(self, data) -> int | None:
        """Bytes taken (0: the reader is full), None when it is gone."""
        try:
            if self.how == "sock":
                import _socket

                return self.sock.send(data, _socket.MSG_DONTWAIT)
            if self.how == "nowait":
                try:
                    return os.pwritev(self.fd, [data], -1, os.RWF_NOWAIT)
                except OSError as e:
                    if e.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                        raise
                    self.how = "guarded"
            if self.how == "guarded":
                import select

                p = select.poll()
                p.register(self.fd, select.POLLOUT)
                ev = p.poll(0)
                if not ev:
                    return 0
                if not ev[0][1] & select.POLLOUT:  # POLLERR/POLLHUP: the reader is gone
                    raise BrokenPipeError(errno.EPIPE, "the reader is gone")
                # a pipe takes PIPE_BUF bytes when it polls writable; a terminal, less is safer
                data = data[:GUARDED_CHUNK]
            return os.write(self.fd, data)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError:
            self._give_up()
            return None

    def _queue(self, data: bytes) -> None:
        # once spilling, everything new goes behind what was spilled (order is kept)
        if self.spill_w == self.spill_r and len(self.mem) + len(data) <= MEMORY_MAX:
            self.mem += data
            return
        if self.spill_w - self.spill_r + len(data) > SPILL_MAX or not self._open_spill():
            self.overflowed = True
            self._give_up()
            return
        try:
            os.pwrite(self.spill, data, self.spill_w)
        except OSError:  # the disk is full: give this reader up, not the container
            self.overflowed = True
            self._give_up()
            return
        self.spill_w += len(data)

    def _open_spill(self) -> bool:
        if self.spill >= 0:
            return True
        try:  # unnamed: nothing is left behind, whatever happens to us
            self.spill = os.open(self.spill_dir, os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, 0o600)
            return True
        except OSError:
            pass
        path = os.path.join(self.spill_dir, f".spill-{os.getpid()}-{id(self)}")
        try:
            self.spill = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR | os.O_CLOEXEC, 0o600)
            os.unlink(path)
            return True
        except OSError:
            return False

    def _give_up(self) -> None:
        self.lost = True
        self._drop_backlog()

    def _drop_backlog(self) -> None:
        if self.spill >= 0:
            os.close(self.spill)
            self.spill = -1
        self.mem = bytearray()
        self.spill_r = self.spill_w = 0


def open_nonblocking(fd: int, spill_dir: str) -> Outlet | None:
    """An Outlet on one of our standard streams, shared with whoever started us: its open file
    description must stay as it is (O_NONBLOCK on it would break the other writers). A pipe or a
    terminal is opened anew (its own description, non-blocking) where we may (not a pipe or
    terminal of another user's, after su/runuser); a socket is sent to with MSG_DONTWAIT; a
    regular file never blocks. None: nothing to write to."""
    try:
        st = os.fstat(fd)
    except OSError:
        return None
    if stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode):
        try:
            nfd = os.open(f"/proc/self/fd/{fd}",
                          os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
            return Outlet(nfd, spill_dir)
        except OSError as e:
            if e.errno == errno.ENXIO:  # a pipe with no reader left
                return None
        nfd = os.dup(fd)
        os.set_inheritable(nfd, False)
        return Outlet(nfd, spill_dir, how="nowait" if stat.S_ISFIFO(st.st_mode) else "guarded")
    nfd = os.dup(fd)
    os.set_inheritable(nfd, False)
    if stat.S_ISSOCK(st.st_mode):
        import _socket

        return Outlet(nfd, spill_dir, how="sock", sock=_socket.socket(fileno=nfd))
    return Outlet(nfd, spill_dir)


def same_file(a: int, b: int) -> bool:
    """fd a and b are the same pipe/terminal/file (2>&1): one Outlet keeps their order."""
    try:
        sa, sb = os.fstat(a), os.fstat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def drain(outlets: list[Outlet], discard_input: tuple = ()) -> None:
    """Block until every outlet has written its backlog or lost its reader (the flusher a
    supervisor leaves behind when its container exits before a slow reader caught up).
    discard_input: the outlets (sockets) whose input is read and dropped (an attach client
    blocked sending input would never read its output)."""
    import select

    while True:
        live = [o for o in outlets if o.pending and not o.lost]
        if not live:
            return
        p = select.poll()
        for o in live:
            p.register(o.fd, select.POLLOUT | (select.POLLIN if o in discard_input else 0))
        ready = dict(p.poll())
        for o in live:
            ev = ready.get(o.fd, 0)
            if ev & select.POLLIN:
                try:
                    if not os.read(o.fd, 1 << 16):
                        o._give_up()  # the client has gone
                        continue
                except BlockingIOError:
                    pass
                except OSError:
                    o._give_up()
                    continue
            if ev & ~select.POLLIN:
                o.flush()
