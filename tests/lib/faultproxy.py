"""An HTTP proxy in front of a registry that injects faults on demand (stdlib only).

    proxy = FaultProxy("http://127.0.0.1:5000").start()
    proxy.host                          -> "localhost:PORT" (use it as the registry host)
    proxy.corrupt_blobs(digest=None)    flip one byte of GET /v2/*/blobs/<digest> bodies (all if None)
    proxy.cut_after(n, digest=None, times=1)   send n body bytes of a blob, then drop the connection
    proxy.fail_next(status=500, times=1, match="/blobs/")   answer `status` instead of forwarding
    proxy.reset()                       forward everything faithfully again
    proxy.log                           [(method, path, status), ...] of every request seen

The Host header is forwarded unchanged, so the registry writes upload Locations that point back
at the proxy. Response bodies are streamed; a corrupted body keeps its length.
"""

from __future__ import annotations

import http.client
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from .http import Background
from .registry import RUNNING_HOSTS

BLOB_GET = re.compile(r"^/v2/.+/blobs/(sha256:[0-9a-f]{64})$")
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
              "trailers", "transfer-encoding", "upgrade"}


class FaultProxy:
    def __init__(self, upstream: str, timeout: float = 120):
        u = urlsplit(upstream if "://" in upstream else "http://" + upstream)
        self.upstream_host = u.hostname
        self.upstream_port = u.port or 80
        self.timeout = timeout
        self.lock = threading.Lock()
        self.log: list[tuple[str, str, int]] = []
        self.port: int | None = None
        self._server: Background | None = None
        self.reset()

    @property
    def host(self) -> str:
        return f"localhost:{self.port}"

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}"

    # -- fault controls --

    def reset(self) -> None:
        with self.lock:
            self._corrupt: set[str] | None = set()   # None means every blob
            self._corrupt_offset: int | None = None
            self._cuts: list[list] = []              # [digest|None, nbytes, times_left]
            self._fails: list[list] = []             # [match, status, times_left]
            self.corrupted: list[str] = []           # digests actually corrupted
            self.cut: list[str] = []

    def corrupt_blobs(self, digest: str | None = None, offset: int | None = None) -> None:
        """Flip one byte (at `offset`, default the middle) of matching blob bodies."""
        with self.lock:
            if digest is None:
                self._corrupt = None
            elif self._corrupt is not None:
                self._corrupt.add(digest)
            self._corrupt_offset = offset

    def cut_after(self, nbytes: int, digest: str | None = None, times: int = 1) -> None:
        with self.lock:
            self._cuts.append([digest, nbytes, times])

    def fail_next(self, status: int = 500, times: int = 1, match: str = "") -> None:
        """Answer `status` to the next `times` requests whose path contains `match`."""
        with self.lock:
            self._fails.append([match, status, times])

    def _take_fail(self, path: str) -> int | None:
        with self.lock:
            for f in self._fails:
                if f[0] in path and f[2] > 0:
                    f[2] -= 1
                    return f[1]
        return None

    def _take_cut(self, digest: str) -> int | None:
        with self.lock:
            for c in self._cuts:
                if (c[0] is None or c[0] == digest) and c[2] > 0:
                    c[2] -= 1
                    return c[1]
        return None

    def _should_corrupt(self, digest: str) -> bool:
        with self.lock:
            return self._corrupt is None or digest in self._corrupt

    # -- HTTP --

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _body(self) -> bytes | None:
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    out = bytearray()
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return bytes(out)
                        out += self.rfile.read(size)
                        self.rfile.readline()
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else None

            def _handle(self):
                path = self.path
                body = self._body()
                status = proxy._take_fail(urlsplit(path).path)
                if status is not None:
                    raw = (b'{"errors":[{"code":"UNKNOWN","message":"injected fault"}]}')
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(raw)
                    proxy.log.append((self.command, path, status))
                    return
                conn = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port,
                                                  timeout=proxy.timeout)
                try:
                    headers = {k: v for k, v in self.headers.items()
                               if k.lower() not in HOP_BY_HOP and k.lower() != "content-length"}
                    if body is not None:
                        headers["Content-Length"] = str(len(body))
                    conn.request(self.command, path, body=body, headers=headers)
                    resp = conn.getresponse()
                    proxy.log.append((self.command, path, resp.status))
                    m = BLOB_GET.match(urlsplit(path).path)
                    digest = m.group(1) if m and self.command == "GET" else None
                    length = resp.getheader("Content-Length")
                    self.send_response(resp.status)
                    for k, v in resp.getheaders():
                        if k.lower() not in HOP_BY_HOP:
                            self.send_header(k, v)
                    if length is None and self.command != "HEAD" and resp.status not in (204, 304):
                        # Unknown length: delimit the body by closing the connection.
                        self.send_header("Connection", "close")
                        self.close_connection = True
                    self.end_headers()
                    if self.command == "HEAD":
                        return
                    cut = proxy._take_cut(digest) if digest and resp.status == 200 else None
                    corrupt = (digest is not None and resp.status == 200
                               and proxy._should_corrupt(digest))
                    total = int(length) if length else None
                    flip_at = proxy._corrupt_offset
                    if flip_at is None:
                        flip_at = (total // 2) if total else 0
                    sent = 0
                    while True:
                        chunk = resp.read(65536)
                        if not chunk:
                            break
                        if corrupt and sent <= flip_at < sent + len(chunk):
                            b = bytearray(chunk)
                            b[flip_at - sent] ^= 0xFF
                            chunk = bytes(b)
                            proxy.corrupted.append(digest)
                        if cut is not None and sent + len(chunk) >= cut:
                            self.wfile.write(chunk[:cut - sent])
                            self.wfile.flush()
                            proxy.cut.append(digest)
                            self.close_connection = True
                            try:
                                self.connection.shutdown(socket.SHUT_RDWR)
                            except OSError:
                                pass
                            return
                        self.wfile.write(chunk)
                        sent += len(chunk)
                except (ConnectionError, socket.timeout, http.client.HTTPException) as e:
                    proxy.log.append((self.command, path, 502))
                    try:
                        self.send_error(502, f"upstream: {e}")
                    except OSError:
                        pass
                finally:
                    conn.close()

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        return Handler

    def start(self) -> "FaultProxy":
        self._server = Background(self._handler(), name="fault-proxy")
        self.port = self._server.port
        RUNNING_HOSTS.append(self.host)
        return self

    def stop(self) -> None:
        if self._server:
            self._server.close()
            self._server = None
        if self.port and self.host in RUNNING_HOSTS:
            RUNNING_HOSTS.remove(self.host)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
