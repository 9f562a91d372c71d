"""A small HTTP/1.1 client for a Docker-compatible API endpoint: unix, tcp, or ssh.

ssh goes through the system `ssh` client, as podman and docker do: a forwarding of a local unix
socket (in a private temp dir) to the remote one, alive as long as this process needs it.
Responses are read as they come (chunked or sized), so streams never sit in memory whole.
"""

from __future__ import annotations

import json
import os
import socket
import urllib.parse

from pypod.errors import PypodError


class RemoteError(PypodError):
    """The endpoint answered with an error: its status and Docker's {"message"}."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        if status == 404:
            self.exit_code = 125


def _recv_line(sock: socket.socket, buf: bytearray) -> bytes:
    while b"\n" not in buf:
        b = sock.recv(65536)
        if not b:
            raise PypodError("the API endpoint closed the connection")
        buf += b
    i = buf.index(b"\n") + 1
    line = bytes(buf[:i])
    del buf[:i]
    return line


class Response:
    def __init__(self, sock: socket.socket, buf: bytearray):
        self.sock, self.buf = sock, buf
        status_line = _recv_line(sock, buf).decode("latin-1")
        parts = status_line.split(" ", 2)
        self.status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        self.headers: dict[str, str] = {}
        while True:
            line = _recv_line(sock, buf).decode("latin-1").rstrip("\r\n")
            if not line:
                break
            k, _, v = line.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        self.chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
        self.left = int(self.headers.get("content-length", "-1") or -1)

    def chunks(self):
        """The body as it arrives."""
        if self.status in (101, 204, 304):
            return
        if self.chunked:
            while True:
                size = int(_recv_line(self.sock, self.buf).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    _recv_line(self.sock, self.buf)
                    return
                while len(self.buf) < size + 2:
                    b = self.sock.recv(65536)
                    if not b:
                        raise PypodError("the API endpoint closed the connection mid-stream")
                    self.buf += b
                data = bytes(self.buf[:size])
                del self.buf[:size + 2]
                yield data
        elif self.left >= 0:
            left = self.left
            if self.buf:
                data = bytes(self.buf[:left])
                del self.buf[:left]
                left -= len(data)
                yield data
            while left > 0:
                b = self.sock.recv(min(left, 65536))
                if not b:
                    raise PypodError("the API endpoint closed the connection mid-body")
                left -= len(b)
                yield b
        else:
            if self.buf:
                yield bytes(self.buf)
                self.buf.clear()
            while True:
                b = self.sock.recv(65536)
                if not b:
                    return
                yield b

    def read(self) -> bytes:
        return b"".join(self.chunks())

    def json(self):
        data = self.read()
        return json.loads(data) if data.strip() else None

    def lines(self):
        """JSON-lines streams (pull, events): one object per line."""
        pending = b""
        for c in self.chunks():
            pending += c
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                if line.strip():
                    yield json.loads(line)
        if pending.strip():
            yield json.loads(pending)


class Endpoint:
    """Where the API is: connect() gives a fresh connected socket."""

    def __init__(self, uri: str, identity: str | None = None):
        self.uri = uri
        self.identity = identity
        self._tunnel = None
        u = urllib.parse.urlsplit(uri)
        self.scheme = u.scheme
        if u.scheme == "unix":
            self.path = u.path or u.netloc
        elif u.scheme == "tcp":
            self.host, self.port = u.hostname or "127.0.0.1", u.port or 2375
        elif u.scheme == "ssh":
            self.ssh = u
        else:
            raise PypodError(f"{uri}: unsupported URL: use unix://PATH, tcp://HOST:PORT or "
                             "ssh://USER@HOST[:PORT]/PATH/TO/SOCKET")

    def connect(self) -> socket.socket:
        try:
            if self.scheme == "tcp":
                return socket.create_connection((self.host, self.port), timeout=30)
            path = self.path if self.scheme == "unix" else self._ssh_tunnel()
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            return s
        except OSError as e:
            raise PypodError(f"unable to connect to the API at {self.uri}: {e.strerror or e}",
                             hint="is `pypod system service` (or podman's, or dockerd) running there?") from None

    def _ssh_tunnel(self) -> str:
        """ssh -L LOCAL.sock:REMOTE.sock, started once; it ends with us (a pipe to its stdin)."""
        if self._tunnel is not None:
            return self._tunnel[1]
        import subprocess
        import tempfile
        import time

        u = self.ssh
        d = tempfile.mkdtemp(prefix="pypod-ssh-")
        local = os.path.join(d, "api.sock")
        argv = ["ssh", "-o", "BatchMode=yes", "-o", "ExitOnForwardFailure=yes", "-o", "StreamLocalBindUnlink=yes",
                "-N", "-T", "-L", f"{local}:{u.path}"]
        if u.port:
            argv += ["-p", str(u.port)]
        if self.identity:
            argv += ["-i", self.identity]
        argv.append(f"{u.username}@{u.hostname}" if u.username else str(u.hostname))
        p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        end = time.monotonic() + 20
        while not os.path.exists(local):
            if p.poll() is not None:
                err = p.stderr.read().decode(errors="replace").strip().splitlines()
                raise PypodError(f"ssh to {u.hostname} failed: {err[-1] if err else 'exit ' + str(p.returncode)}")
            if time.monotonic() > end:
                p.kill()
                raise PypodError(f"ssh to {u.hostname}: no forwarding after 20 s")
            time.sleep(0.02)
        import atexit

        atexit.register(_end_tunnel, p, d)
        self._tunnel = (p, local)
        return local

    # -- requests ----------------------------------------------------------------------------
    def request(self, method: str, path: str, *, query: dict | None = None, body=None,
                headers: dict | None = None, check: bool = True) -> Response:
        sock = self.connect()
        self._send(sock, method, path, query, body, headers)
        resp = Response(sock, bytearray())
        if check and resp.status >= 400:
            raise_for(resp)
        return resp

    def hijack(self, method: str, path: str, *, query: dict | None = None, body=None) -> tuple[socket.socket, bytes]:
        """Attach/exec start: the raw connection after the 101 (or 200), and bytes already read."""
        sock = self.connect()
        self._send(sock, method, path, query, body, {"Connection": "Upgrade", "Upgrade": "tcp"})
        resp = Response(sock, bytearray())
        if resp.status >= 400:
            raise_for(resp)
        sock.settimeout(None)
        return sock, bytes(resp.buf)

    @staticmethod
    def _send(sock, method, path, query, body, headers) -> None:
        if query:
            q = urllib.parse.urlencode({k: v for k, v in query.items() if v is not None}, doseq=True)
            path = f"{path}?{q}"
        data = b""
        h = {"Host": "api.moby.localhost", "User-Agent": "pypod"}
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        h["Content-Length"] = str(len(data))
        h.update(headers or {})
        head = f"{method} /v1.41{path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
        sock.settimeout(None)
        sock.sendall(head.encode() + data)


def raise_for(resp: Response) -> None:
    try:
        msg = (resp.json() or {}).get("message") or ""
    except (ValueError, AttributeError):
        msg = ""
    raise RemoteError(resp.status, msg or f"the API endpoint answered {resp.status}")


def _end_tunnel(p, d) -> None:
    import shutil

    try:
        p.terminate()
        p.wait(5)
    except Exception:  # noqa: BLE001 - best effort at exit
        pass
    shutil.rmtree(d, ignore_errors=True)
