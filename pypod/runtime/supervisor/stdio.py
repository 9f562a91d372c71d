"""The container's streams (podman's conmon: ctr_stdio.c): the foreground's relay to the user's
stdout/stderr, the container's stdin (our own, a pty, or a pipe attach clients fill) with its
backlog, the detach keys, and what the poll loop watches for each."""

from __future__ import annotations

import os
import select

from pypod.runtime import outlet, protocol


class Stdio:
    """The Supervisor's streams (a mixin: the state is the Supervisor's, see core.py)."""

    def drain_to_log(self, fd: int) -> None:
        os.set_blocking(fd, False)
        try:
            while True:
                data = os.read(fd, 65536)
                if not data:
                    return
                self.log.write("stderr", data)
        except (BlockingIOError, OSError):
            return

    def close_master(self) -> None:
        if self.master >= 0:
            os.close(self.master)
            self.master = -1
            if self.stdin_backlog:  # (it was the terminal's)
                self.stdin_backlog = bytearray()
                self.rewatch_input()

    def open_relay(self) -> None:
        """Our stdout/stderr (the user's), written without ever blocking (outlet.py)."""
        one = outlet.open_nonblocking(1, self.cdir)
        two = one if one is not None and outlet.same_file(1, 2) else \
            outlet.open_nonblocking(2, self.cdir)
        self.relay_to = {f: o for f, o in ((1, one), (2, two)) if o is not None}

    def relay_fds(self) -> dict[int, outlet.Outlet]:
        return {o.fd: o for o in self.relay_to.values()}

    def relay_out(self, fd: int, data: bytes) -> None:
        o = self.relay_to.get(fd)
        if o is None:
            return
        if not o.write(data):
            self.relay_lost(o)
        elif o.pending:
            self.watch(o.fd)

    def relay_flush(self, fd: int) -> None:
        o = self.relay_fds().get(fd)
        if o is None:
            return
        if not o.flush():
            self.relay_lost(o)
        else:
            self.watch(fd)

    def relay_lost(self, o: outlet.Outlet) -> None:
        """The reader went away (keep logging), or fell SPILL_MAX behind (say so)."""
        if o.overflowed:
            self.say(protocol.WARNING, message=(
                f"the output of container {self.spec.get('name') or self.spec.get('id')} is no "
                f"longer relayed: its reader fell {outlet.SPILL_MAX >> 20} MiB behind (`logs` "
                "has all of it)"))
        self.poller_unregister(o.fd)
        for f in [f for f, x in self.relay_to.items() if x is o]:
            del self.relay_to[f]
        o.close()

    def close_relay(self) -> None:
        for o in {id(x): x for x in self.relay_to.values()}.values():
            self.poller_unregister(o.fd)
            o.close()
        self.relay_to = {}
        self.relay = False

    def outlet_fds(self) -> list[int]:
        out: set[int] = set()  # (stdout and stderr may share one outlet)
        for o in (*self.client_out.values(), *self.relay_to.values()):
            out.update(o.fds())
        return sorted(out)

    def watch(self, fd: int) -> None:
        """Poll fd for what it needs: input from an attach client, room for a backlog."""
        o = self.client_out.get(fd) or self.relay_fds().get(fd)
        mask = (select.POLLIN if fd in self.clients and not self.stdin_backlog else 0) | \
            (select.POLLOUT if o is not None and o.pending else 0)
        if mask:
            self.poller.register(fd, mask)  # (again: changes the mask)
        else:
            self.poller_unregister(fd)

    def poller_unregister(self, fd: int) -> None:
        try:
            self.poller.unregister(fd)
        except (KeyError, AttributeError):
            pass

    def relay_stdin(self) -> None:
        try:
            data = os.read(0, 65536)
        except OSError:
            data = b""
        if not data:  # EOF on our stdin: end of input for the terminal (^D)
            self.stdin_open = False
            self.poller_unregister(0)
            data = b"\x04"
            hit = False
        else:
            data, hit = self.detach.feed(data)
        if data:
            self.feed_stdin(data)
        if hit:
            self.detach_foreground()

    def stdin_target(self) -> int:
        return self.master if self.master >= 0 else self.stdin_w

    def feed_stdin(self, data: bytes) -> None:
        """Input for the container: what it does not take now waits in stdin_backlog, and no
        more input is read (attach clients, our stdin) until it has taken it."""
        fd = self.stdin_target()
        if fd < 0:
            return
        if not self.stdin_backlog:
            try:
                data = data[os.write(fd, data):]
            except BlockingIOError:
                pass
            except OSError:  # the container closed its stdin: nothing will read this
                return
        if data:
            self.stdin_backlog += data
            if len(self.stdin_backlog) == len(data):
                self.rewatch_input()

    def stdin_flush(self) -> None:
        try:
            del self.stdin_backlog[:os.write(self.stdin_target(), self.stdin_backlog)]
        except BlockingIOError:
            return
        except OSError:
            self.stdin_backlog = bytearray()
        if not self.stdin_backlog:
            if self.stdin_eof:
                self.close_stdin()
            self.rewatch_input()

    def close_stdin(self) -> None:
        """End the container's stdin pipe (its backlog is dropped)."""
        if self.stdin_w >= 0:
            self.poller_unregister(self.stdin_w)
            os.close(self.stdin_w)
            self.stdin_w = -1
        self.stdin_eof = False
        if self.stdin_backlog:
            self.stdin_backlog = bytearray()
            self.rewatch_input()

    def rewatch_input(self) -> None:
        """The backlog came or went: pause or resume reading input, poll the target for room."""
        if not hasattr(self, "poller"):
            return
        for fd in self.clients:
            self.watch(fd)
        if self.stdin_open:
            if self.stdin_backlog:
                self.poller_unregister(0)
            else:
                self.poller.register(0, select.POLLIN)
        target = self.stdin_target()
        if target >= 0:
            mask = (select.POLLIN if target == self.master else 0) | \
                (select.POLLOUT if self.stdin_backlog else 0)
            if mask:
                self.poller.register(target, mask)
            else:
                self.poller_unregister(target)

    def detach_foreground(self) -> None:
        """The detach keys: the launcher returns, the container runs on (logged, attachable)."""
        self.detached = True
        self.stdin_open = False
        self.poller_unregister(0)
        self.close_relay()
        null = os.open("/dev/null", os.O_RDWR)
        for f in (0, 1, 2):
            os.dup2(null, f)
        os.close(null)
        self.say("detached")
        if self.status_fd >= 0:
            os.close(self.status_fd)
            self.status_fd = -1
