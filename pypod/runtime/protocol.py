"""Typed messages between the processes of a container, one JSON object per line on a pipe.

  container init (pid 1) / exec child → supervisor / exec helper, on a CLOEXEC "status" pipe:
      Error{code, message}    set-up or execve failed (EOF without a message: execve succeeded)
      Warning{message}        a fallback worth saying once (e.g. fuse-overlayfs)
      Ready{}                 pid 1 has pivoted and waits for "go" (the supervisor opens the
                              -t pty on its devpts in between)
  set-up child → supervisor:
      Pid{pid}                the container's pid 1 (host pid)
  supervisor / exec helper → launcher (CLI), on fd 3 of the supervisor:
      Started{pid, supervisor_pid}
      Error{code, message}    start failed: 125 set-up, 126 cannot invoke, 127 not found
      Warning{message}
      Exit{code}              the container exited (after all of its output was relayed)
"""

from __future__ import annotations

import os

from pypod import jsonlite

STARTED = "started"
ERROR = "error"
WARNING = "warning"
EXIT = "exit"
PID = "pid"
READY = "ready"


def encode(kind: str, **fields) -> bytes:
    fields["type"] = kind
    return (jsonlite.dumps(fields) + "\n").encode()


def send(fd: int, kind: str, **fields) -> bool:
    """Write one message (atomically: < PIPE_BUF); False if the reader is gone."""
    data = encode(kind, **fields)
    try:
        while data:
            n = os.write(fd, data)
            data = data[n:]
        return True
    except (BrokenPipeError, OSError):
        return False


class Reader:
    """Reads messages from a pipe; next() blocks, returns None at EOF."""

    def __init__(self, fd: int):
        self.fd = fd
        self.buf = b""
        self.eof = False

    def feed(self) -> bool:
        """One read(); False at EOF (for use with poll)."""
        try:
            chunk = os.read(self.fd, 65536)
        except InterruptedError:  # pragma: no cover - PEP 475 retries
            return True
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def pop(self) -> dict | None:
        """A complete buffered message, or None."""
        i = self.buf.find(b"\n")
        if i < 0:
            return None
        line, self.buf = self.buf[:i], self.buf[i + 1:]
        try:
            msg = jsonlite.loads(line)
        except ValueError:
            return {"type": ERROR, "code": 125, "message": f"garbled message: {line[:200]!r}"}
        return msg if isinstance(msg, dict) else None

    def next(self) -> dict | None:
        while True:
            m = self.pop()
            if m is not None:
                return m
            if self.eof or not self.feed():
                return None

    def all(self) -> list[dict]:
        out = []
        while True:
            m = self.next()
            if m is None:
                return out
            out.append(m)
