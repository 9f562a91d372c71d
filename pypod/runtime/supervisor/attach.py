"""The attach socket's clients (podman's conmon: conn_sock.c): accept, their framed input (stdin,
resize, close), the container's output to each without ever blocking, the exit, and the hand-over
of readers still behind when the container exits."""

from __future__ import annotations

import _signal
import os

from pypod.linux import libc, terminal
from pypod.runtime import attach as rattach
from pypod.runtime import outlet, protocol
from pypod.runtime.supervisor.base import FORWARDED, devnull


class Attach:
    """The Supervisor's attach clients (a mixin: the state is the Supervisor's, see core.py)."""

    def attach_accept(self) -> None:
        fd = rattach.accept_fd(self.attach_sock)
        if fd >= 0:
            self.clients[fd] = rattach.FrameReader()
            # a client that stops reading falls behind (then is dropped), never holds us up
            self.client_out[fd] = outlet.Outlet(fd, self.cdir)
            self.watch(fd)

    def attach_drop(self, fd: int) -> None:
        self.poller_unregister(fd)
        self.clients.pop(fd, None)
        o = self.client_out.pop(fd, None)
        if o is not None:
            o.close()
        else:
            try:
                os.close(fd)
            except OSError:
                pass

    def attach_send(self, fd: int, msg: bytes) -> None:
        o = self.client_out[fd]
        if not o.write(msg):
            self.attach_drop(fd)
        elif o.pending:
            self.watch(fd)

    def attach_flush(self, fd: int) -> None:
        if not self.client_out[fd].flush():
            self.attach_drop(fd)
        else:
            self.watch(fd)

    def attach_broadcast(self, stream: str, data: bytes) -> None:
        msg = rattach.frame(rattach.OUT if stream == "stdout" else rattach.ERR, data)
        for fd in list(self.clients):
            self.attach_send(fd, msg)

    def attach_input(self, fd: int) -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.attach_drop(fd)
            return
        try:
            frames = self.clients[fd].feed(data)
        except rattach.FrameError:  # a broken client: it goes, not our memory
            self.attach_drop(fd)
            return
        for kind, payload in frames:
            if kind == rattach.IN:
                self.feed_stdin(payload)
            elif kind == rattach.RESIZE and self.master >= 0:
                try:
                    rows, cols = (int(x) for x in payload.split())
                except ValueError:
                    continue
                terminal.set_winsize(self.master, rows, cols)
            elif kind == rattach.CLOSE_IN and self.master < 0 and self.stdin_w >= 0:
                if self.stdin_backlog:
                    self.stdin_eof = True  # once the container has taken the rest
                else:
                    self.close_stdin()

    def attach_exit(self, code: int) -> None:
        """EXIT to every client, behind its backlog; the caught-up ones are closed, the others
        are left to hand_over()."""
        for fd in list(self.clients):
            self.attach_send(fd, rattach.frame(rattach.EXIT, str(code).encode()))
            if fd in self.client_out and not self.client_out[fd].pending:
                self.attach_drop(fd)
        self.close_stdin()

    def hand_over(self, code: int) -> bool:
        """Readers still behind when the container exits get their backlog from a forked child,
        so that the exit is recorded and reported, and the supervisor goes on (or ends), whatever
        they do. True when the child reports the exit to the launcher (after the foreground's
        output)."""
        clients = [fd for fd, o in self.client_out.items() if o.pending]
        fg = any(o.pending for o in self.relay_to.values())
        if not clients and not fg:
            return False
        behind = [self.client_out[fd] for fd in clients]
        if fg:
            behind += list({id(o): o for o in self.relay_to.values()}.values())
        if os.fork() == 0:
            self._flush_and_exit(behind, code if fg else None, behind[:len(clients)])
        for fd in clients:  # the child's now
            self.attach_drop(fd)
        if fg:
            self.close_relay()
            if self.status_fd >= 0:
                os.close(self.status_fd)
                self.status_fd = -1
        return fg

    def _flush_and_exit(self, behind: list, code: int | None, clients: list) -> None:
        """The flusher child; never returns."""
        try:
            _signal.set_wakeup_fd(-1)
            for name in ("SIGCHLD", *FORWARDED):
                _signal.signal(getattr(_signal, name), _signal.SIG_DFL)
            keep = {fd for o in behind for fd in o.fds()}
            if code is not None and self.status_fd >= 0:
                keep.add(self.status_fd)
            null = devnull()
            for f in (0, 1, 2):
                os.dup2(null, f)
            for name in os.listdir("/proc/self/fd"):
                fd = int(name)
                if fd > 2 and fd not in keep:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            try:
                libc.set_process_name("pypod-flush")
            except OSError:
                pass
            outlet.drain(behind, discard_input=tuple(clients))
            if code is not None and self.status_fd >= 0:
                protocol.send(self.status_fd, protocol.EXIT, code=code)
        finally:
            os._exit(0)
