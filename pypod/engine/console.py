"""A running container's console, reached without the CLI's terminal (the API's attach, resize
and exec resize): its supervisor's attach socket and frames (runtime/attach.py) behind engine
functions."""

from __future__ import annotations

import os

from pypod.engine.context import Context


def _connect(ctx: Context, rec):
    """A connection to the container's supervisor; OSError when none listens. Made without chdir
    (the API's service is threaded): through /proc/self/fd, which also keeps the path short."""
    import socket

    from pypod.engine import containers as ce
    from pypod.runtime import attach as rattach

    fd = os.open(str(ce.store(ctx).dir(rec.id)), os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            s.connect(f"/proc/self/fd/{fd}/{rattach.SOCKET}")
        except OSError:
            s.close()
            raise
        return s
    finally:
        os.close(fd)


def resize(ctx: Context, rec, rows: int, cols: int) -> None:
    """Set the container's terminal size; OSError when its supervisor does not listen (not
    started, or gone)."""
    from pypod.runtime import attach as rattach

    with _connect(ctx, rec) as conn:
        conn.sendall(rattach.frame(rattach.RESIZE, f"{rows} {cols}".encode()))


class Stdin:
    """The container's stdin through its supervisor: write, then close_input() at the client's
    end of input. What the supervisor sends back on this connection is read and dropped (the
    output reaches clients from the log), so that it never waits on us."""

    def __init__(self, conn):
        import threading

        self.conn = conn
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        try:
            while self.conn.recv(65536):
                pass
        except OSError:
            pass

    def write(self, data: bytes) -> None:
        from pypod.runtime import attach as rattach

        self.conn.sendall(rattach.frame(rattach.IN, data))

    def close_input(self) -> None:
        from pypod.runtime import attach as rattach

        self.conn.sendall(rattach.frame(rattach.CLOSE_IN))


def open_stdin(ctx: Context, rec, *, timeout: float = 60, stop=None) -> Stdin | None:
    """The running container's stdin, once it runs (waited for up to `timeout` seconds, or until
    stop() says so); None if it never did."""
    import time

    from pypod.engine import containers as ce

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not (stop is not None and stop()):
        if ce.state_of(ctx, rec).get("status") == "running":
            try:
                return Stdin(_connect(ctx, rec))
            except OSError:
                pass
        time.sleep(0.05)
    return None
