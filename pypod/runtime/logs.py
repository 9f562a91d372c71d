"""The k8s-file log format (podman's default log driver) and timestamps.

Each line: `<RFC3339Nano timestamp> stdout|stderr F|P <text>`; `P` marks a partial line (the
chunk ended without a newline; the rest follows on the next line). Timestamps are local time with
a numeric offset and nine fraction digits, like conmon's: 2024-05-01T12:00:00.123456789+02:00.
"""

from __future__ import annotations

import os
import time


def timestamp(ns: int | None = None) -> str:
    """RFC3339 with nanoseconds, local time, numeric offset."""
    if ns is None:
        ns = time.time_ns()
    sec, frac = divmod(ns, 1_000_000_000)
    tm = time.localtime(sec)
    off = tm.tm_gmtoff or 0
    sign = "+" if off >= 0 else "-"
    off = abs(off)
    return (f"{tm.tm_year:04d}-{tm.tm_mon:02d}-{tm.tm_mday:02d}T{tm.tm_hour:02d}:{tm.tm_min:02d}:"
            f"{tm.tm_sec:02d}.{frac:09d}{sign}{off // 3600:02d}:{off % 3600 // 60:02d}")


def format_chunk(stream: str, data: bytes, ts: str | None = None) -> bytes:
    """k8s-file lines for one chunk of output read from `stream` ("stdout" | "stderr")."""
    if not data:
        return b""
    t = (ts or timestamp()).encode()
    s = stream.encode()
    out = []
    parts = data.split(b"\n")
    last = parts.pop()  # b"" when data ends with a newline
    for p in parts:
        out.append(b"%s %s F %s\n" % (t, s, p))
    if last:
        out.append(b"%s %s P %s\n" % (t, s, last))
    return b"".join(out)


def parse_line(line: bytes | str) -> tuple[str, str, bool, bytes]:
    """(timestamp, stream, partial, text) of one k8s-file line (no trailing newline)."""
    if isinstance(line, str):
        line = line.encode()
    if line.endswith(b"\n"):
        line = line[:-1]
    ts, stream, tag, *rest = line.split(b" ", 3)
    text = rest[0] if rest else b""
    return ts.decode(), stream.decode(), tag == b"P", text


def read_log(path: str) -> list[tuple[str, str, bytes]]:
    """Re-assemble a k8s-file log: [(timestamp of the first piece, stream, bytes incl. '\\n')].
    A trailing partial line comes without its newline."""
    out: list[tuple[str, str, bytes]] = []
    pending: dict[str, tuple[str, bytes]] = {}
    try:
        with open(path, "rb") as f:
            for raw in f:
                if not raw.strip():
                    continue
                ts, stream, partial, text = parse_line(raw)
                pts, pbuf = pending.pop(stream, (ts, b""))
                if partial:
                    pending[stream] = (pts, pbuf + text)
                else:
                    out.append((pts, stream, pbuf + text + b"\n"))
    except FileNotFoundError:
        return out
    for stream, (ts, buf) in pending.items():
        out.append((ts, stream, buf))
    return out


class LogWriter:
    """Append-only k8s-file writer (no fsync: a log, not a record)."""

    def __init__(self, path: str, size_max: int = -1):
        self.fd = -1
        self.size_max = size_max  # > 0: truncate to empty rather than grow past it (conmon's)
        self.size = 0
        if path:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
            if size_max > 0:
                self.size = os.fstat(self.fd).st_size

    def write(self, stream: str, data: bytes) -> None:
        if self.fd < 0 or not data:
            return
        buf = format_chunk(stream, data)
        if self.size_max <= 0:
            self._write(buf)
            return
        for line in buf.splitlines(keepends=True):  # line by line, as conmon checks the size
            if self.size + len(line) > self.size_max:
                try:
                    os.ftruncate(self.fd, 0)
                except OSError:
                    pass
                self.size = 0
            self.size += len(line)
            self._write(line)

    def _write(self, buf: bytes) -> None:
        try:
            while buf:
                n = os.write(self.fd, buf)
                buf = buf[n:]
        except OSError:
            pass

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
