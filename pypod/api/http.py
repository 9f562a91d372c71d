"""The HTTP layer: one request at a time per connection (HTTP/1.1 keep-alive), with limits.

A request must arrive whole within REQUEST_TIMEOUT (a slowloris connection is dropped), its
headers within http.server's limits (65,536 bytes a line, 100 lines), and a body no larger than
its handler allows. Responses are JSON, a chunked stream flushed per message, or a hijacked raw
connection (attach, exec start), as Docker's clients expect.
"""

from __future__ import annotations

import http.server
import json
import socket
import time

REQUEST_TIMEOUT = 30.0       # seconds for a whole request line, headers and body to arrive
MAX_JSON_BODY = 4 << 20      # create/exec/network bodies are small; refuse more than this


class HTTPError(Exception):
    """A response the handler chose instead of its result: status and Docker's {"message"}."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pypod"
    sys_version = ""

    # -- the request -----------------------------------------------------------------------
    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(REQUEST_TIMEOUT)

    def handle_one_request(self) -> None:
        try:
            self.connection.settimeout(REQUEST_TIMEOUT)
        except OSError:
            self.close_connection = True
            return
        try:
            super().handle_one_request()
        except (socket.timeout, ConnectionError, BrokenPipeError):
            self.close_connection = True

    def log_message(self, fmt, *args) -> None:  # no access log on stderr: the service is quiet
        pass

    def send_response(self, code, message=None) -> None:
        self._responded = True
        super().send_response(code, message)

    def _dispatch(self) -> None:
        self._responded = False
        self._body = None
        self.server.activity.begin()
        try:
            self.server.router.dispatch(self)
        finally:
            self.server.activity.end()
            if self._body is None and (self.headers.get("Content-Length") not in (None, "0")
                                       or self.headers.get("Transfer-Encoding")):
                self.close_connection = True  # a body nobody read: the next request can't follow it

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _dispatch

    def body(self, limit: int = MAX_JSON_BODY) -> bytes:
        """The request body (Content-Length or chunked), at most `limit` bytes."""
        if getattr(self, "_body", None) is None:
            self._body = b"".join(self.body_chunks(limit))
        return self._body

    def _exactly(self, n: int):
        """The next n bytes of the body, as they arrive."""
        while n:
            b = self.rfile.read(min(n, 1 << 16))
            if not b:
                self.close_connection = True
                raise HTTPError(400, "request body ended early")
            n -= len(b)
            yield b

    def body_chunks(self, limit: int | None = None):
        """The body as it arrives, in pieces (uploads: build contexts, image archives)."""
        self._body = b""  # (being read: it is no longer waiting in the connection)
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" not in te:
            try:
                left = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                raise HTTPError(400, "invalid Content-Length") from None
            if left < 0 or (limit is not None and left > limit):
                self.close_connection = True
                raise HTTPError(413, f"request body too large ({left} bytes; at most {limit})")
            yield from self._exactly(left)
            return
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip() or b"x", 16)
            except ValueError:
                self.close_connection = True
                raise HTTPError(400, "malformed chunked body") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return
            total += size
            if limit is not None and total > limit:
                self.close_connection = True
                raise HTTPError(413, f"request body too large (more than {limit} bytes)")
            yield from self._exactly(size)
            self.rfile.readline(8)

    def json_body(self, shape=None) -> dict:
        """The body as a JSON object; checked against `shape` (pypod.api.shape) when given."""
        raw = self.body()
        if not raw.strip():
            return {}
        try:
            v = json.loads(raw)
        except ValueError as e:
            raise HTTPError(400, f"invalid JSON in the request body: {e}") from None
        except RecursionError:  # the C decoder's answer to [[[[... nested past Python's limit
            raise HTTPError(400, "invalid JSON in the request body: nested too deeply") from None
        if not isinstance(v, dict):
            raise HTTPError(400, "the request body must be a JSON object")
        if shape is not None:
            from pypod.api.shape import check

            check(v, shape)
        return v

    def client_gone(self) -> bool:
        """Has the client closed the connection? (Docker's CLI abandons `wait?condition=next-exit`
        of `run -d`: a stream nobody reads must not keep the service busy.)"""
        import select

        try:
            r, _, _ = select.select([self.connection], [], [], 0)
            return bool(r) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    # -- responses ---------------------------------------------------------------------------
    def common_headers(self) -> None:
        from pypod import __version__

        self.send_header("Api-Version", self.server.api_version)
        self.send_header("Ostype", "linux")
        self.send_header("Server", f"pypod/{__version__} (linux)")

    def send_bytes(self, status: int, data: bytes, ctype: str = "application/json",
                   extra: dict | None = None) -> None:
        self.send_response(status)
        self.common_headers()
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        if status not in (204, 304):
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD" and status not in (204, 304):
            self.wfile.write(data)
        self.wfile.flush()

    def send_json(self, status: int, value) -> None:
        self.send_bytes(status, json.dumps(value).encode() + b"\n")

    def send_error_json(self, status: int, message: str) -> None:
        self.send_json(status, {"message": message})

    def start_stream(self, ctype: str = "application/json", status: int = 200) -> "Stream":
        """Chunked response whose pieces reach the client as they are written."""
        self.connection.settimeout(None)
        self.send_response(status)
        self.common_headers()
        self.send_header("Content-Type", ctype)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        return Stream(self)

    def hijack(self, ctype: str = "application/vnd.docker.raw-stream") -> socket.socket:
        """Attach/exec start: answer 101 (200 without an Upgrade header), then the raw socket."""
        self.connection.settimeout(None)
        upgrade = (self.headers.get("Upgrade") or "").lower() == "tcp"
        head = ("HTTP/1.1 101 UPGRADED\r\n" if upgrade else "HTTP/1.1 200 OK\r\n")
        head += f"Content-Type: {ctype}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
        head += f"Api-Version: {self.server.api_version}\r\n\r\n"
        self.wfile.write(head.encode())
        self.wfile.flush()
        self._responded = True
        self.close_connection = True
        return self.connection


class Stream:
    """The writer of a chunked response; each write is one flushed chunk."""

    def __init__(self, handler: Handler):
        self.h = handler
        self.closed = False

    def write(self, data: bytes) -> None:
        if not data or self.closed:
            return
        self.h.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.h.wfile.flush()

    def json(self, value) -> None:
        self.write(json.dumps(value).encode() + b"\n")

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self.h.wfile.write(b"0\r\n\r\n")
                self.h.wfile.flush()
            except OSError:
                self.h.close_connection = True


class StreamWriter:
    """A file's `write` over a chunked response (the engine writes tar streams to it)."""

    def __init__(self, stream: Stream):
        self.stream = stream

    def write(self, data) -> int:
        self.stream.write(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass


class BodyReader:
    """A file's `read(n)` over a request body as it arrives (the engine reads tar streams)."""

    def __init__(self, h: Handler):
        self.it, self.buf = h.body_chunks(), b""

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self.buf) < n:
            try:
                self.buf += next(self.it)
            except StopIteration:
                break
        out, self.buf = (self.buf, b"") if n < 0 else (self.buf[:n], self.buf[n:])
        return out


class Activity:
    """Requests and streams in progress, and when the last one ended (the idle timer)."""

    def __init__(self):
        import threading

        self.lock = threading.Lock()
        self.active = 0
        self.last = time.monotonic()

    def begin(self) -> None:
        with self.lock:
            self.active += 1

    def end(self) -> None:
        with self.lock:
            self.active -= 1
            self.last = time.monotonic()

    def idle_for(self) -> float:
        with self.lock:
            return 0.0 if self.active else time.monotonic() - self.last
