"""`pypod system service`: listen, serve, and end when idle (podman's `system service --time`).

No other pypod process keeps running for it: containers it starts belong to their supervisors
exactly as from the CLI, so ending the service never stops a container.
"""

from __future__ import annotations

import os
import socket
import socketserver
import threading
import time

from pypod.api.http import Activity, Handler
from pypod.errors import InvalidArgument

API_VERSION = "1.41"      # what we advertise: every client recorded works at 1.41 (DOCKER-API.md)
MIN_API_VERSION = "1.24"


def default_socket_path() -> str:
    from pypod import paths

    return os.path.join(paths.user_runtime_dir(), "pypod", "pypod.sock")


class _Server(socketserver.ThreadingMixIn, socketserver.BaseServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, sock: socket.socket, ctx):
        from pypod.api.router import Router

        super().__init__(sock.getsockname(), Handler)
        self.socket = sock
        self.ctx = ctx
        self.api_version = API_VERSION
        self.activity = Activity()
        self.router = Router(ctx)

    def fileno(self) -> int:
        return self.socket.fileno()

    def get_request(self):
        conn, addr = self.socket.accept()
        return conn, addr or ("unix", 0)

    def shutdown_request(self, request) -> None:
        try:
            request.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        request.close()

    def server_close(self) -> None:
        self.socket.close()


class Listener:
    """A listening socket, what to call it, and the warnings to show before serving."""

    def __init__(self, sock: socket.socket, name: str, warnings: list[str]):
        self.sock, self.name, self.warnings = sock, name, warnings


def listen(uri: str | None) -> Listener:
    """The listening socket for URI (unix://PATH, tcp://HOST:PORT, or LISTEN_FDS from systemd)."""
    warnings: list[str] = []
    if not uri and os.environ.get("LISTEN_FDS") and os.environ.get("LISTEN_PID") == str(os.getpid()):
        if int(os.environ["LISTEN_FDS"]) < 1:
            raise InvalidArgument("LISTEN_FDS is set but passes no socket")
        sock = socket.socket(fileno=3)
        for k in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"):
            os.environ.pop(k, None)
        return Listener(sock, "the socket passed by systemd (LISTEN_FDS)", warnings)
    uri = uri or f"unix://{default_socket_path()}"
    if uri.startswith("unix://") or uri.startswith("unix:"):
        path = uri[len("unix://"):] if uri.startswith("unix://") else uri[len("unix:"):]
        if not path.startswith("/"):
            path = os.path.abspath(path)
        d = os.path.dirname(path)
        os.makedirs(d, mode=0o700, exist_ok=True)
        if path == default_socket_path():
            # pypod's run root (meant 0700; a makedirs of one of its subdirectories may have made
            # it 0755): the default socket sits in a directory that is the user's alone
            st = os.stat(d)
            if st.st_uid == os.getuid() and st.st_mode & 0o077:
                os.chmod(d, 0o700)
        if os.path.exists(path):
            # a socket left by a service that is gone may be replaced; a live one may not
            probe = socket.socket(socket.AF_UNIX)
            try:
                probe.connect(path)
                probe.close()
                raise InvalidArgument(f"{path}: a service is already listening on this socket")
            except (ConnectionRefusedError, FileNotFoundError):
                os.unlink(path)
            finally:
                probe.close()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)  # the socket is the user's alone (0600), from its first moment
        try:
            sock.bind(path)
        finally:
            os.umask(old)
        sock.listen(128)
        return Listener(sock, f"unix://{path}", warnings)
    if uri.startswith("tcp://"):
        hostport = uri[len("tcp://"):].rstrip("/")
        host, _, port = hostport.rpartition(":")
        host = host.strip("[]") or "127.0.0.1"
        try:
            portn = int(port)
        except ValueError:
            raise InvalidArgument(f"{uri}: a tcp URI needs a port (tcp://HOST:PORT)") from None
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, portn))
        except OSError as e:
            sock.close()
            raise InvalidArgument(f"{uri}: cannot listen: {e.strerror}") from None
        sock.listen(128)
        if not (host.startswith("127.") or host in ("localhost", "::1")):
            warnings.append(f"Using the Docker API on tcp://{host}:{portn}: anyone who can reach it can "
                            "act as you (it is unauthenticated): bind to 127.0.0.1 or use a unix socket")
        return Listener(sock, f"tcp://{host}:{portn}", warnings)
    raise InvalidArgument(f"{uri}: unsupported URI: use unix://PATH or tcp://HOST:PORT")


class _RecentReporter:
    """The service's Reporter: it keeps only the latest warnings and notices (a service that runs
    for days must not grow with them); handlers read what their call added."""

    def __init__(self, keep: int = 200):
        import collections

        from pypod.report import Progress

        self.warnings = collections.deque(maxlen=keep)
        self.notices = collections.deque(maxlen=keep)
        self._progress = Progress

    def warn(self, message: str, elapsed: int = 0) -> None:
        self.warnings.append(message)

    def notice(self, text: str) -> None:
        self.notices.append(text)

    def progress(self, quiet: bool = False):
        return self._progress(True)  # progress lines are the CLI's; the API streams its own


def serve(ctx, listener: Listener, idle_timeout: float) -> None:
    """Serve until `idle_timeout` seconds pass with no request or stream (0: forever)."""
    ctx.reporter = _RecentReporter()
    sock = listener.sock
    server = _Server(sock, ctx)
    path = sock.getsockname() if sock.family == socket.AF_UNIX else None
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    t.start()

    class _Stop(Exception):
        pass

    import signal

    def stop(signum, frame):
        for s in ENDING:
            signal.signal(s, signal.SIG_IGN)
        raise _Stop()

    # SIGTERM, SIGHUP and ^C end it as the idle timer does: the socket file goes with it (as
    # podman's). (runuser, su and a closing terminal send SIGHUP.)
    ENDING = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    old = {s: signal.signal(s, stop) for s in ENDING}
    try:
        while True:
            time.sleep(0.2)
            if idle_timeout > 0 and server.activity.idle_for() >= idle_timeout:
                break
    except _Stop:
        pass
    finally:
        server.shutdown()
        server.server_close()
        if path and isinstance(path, str) and os.path.exists(path):
            try:
                os.unlink(path)
            except OSError:
                pass
        for s, h in old.items():  # (only now: a second SIGTERM must not cut the clean-up short)
            signal.signal(s, h)
