"""Reading a container's k8s-file log (pypod.runtime.logs writes it) without loading it.

A log can be gigabytes: `--tail N` finds where its last N lines start by reading backwards from the
end, the rest streams forwards in fixed blocks; memory holds a block and a line, never the log.
"""

from __future__ import annotations

from pathlib import Path
from pypod.units import parse_time

TYPE_CHECKING = False  # (importing typing costs ~4 ms of every command that imports the engine)
if TYPE_CHECKING:
    from typing import BinaryIO, Iterator

BLOCK = 1 << 16  # backwards: most tails are a few lines
FORWARD_BLOCK = 1 << 20

Record = tuple[str, str, bytes]  # (timestamp, stream, text with "\n" when the line is complete)


def parse_log_line(line: bytes) -> tuple[str, str, bool, bytes] | None:
    """A k8s-file line → (timestamp, stream, full, text-without-newline)."""
    try:
        ts, stream, tag, rest = line.rstrip(b"\n").split(b" ", 3)
    except ValueError:
        parts = line.rstrip(b"\n").split(b" ", 3)
        if len(parts) == 3:
            ts, stream, tag = parts
            rest = b""
        else:
            return None
    return ts.decode(), stream.decode(), tag == b"F", rest


def read_logs(path: Path, *, since: float | None = None, until: float | None = None,
              tail: int = -1) -> tuple[Iterator[Record], int]:
    """The complete log records of `path` (a lazy iterator) and the offset just past the last
    complete line, where following goes on. `tail` >= 0: only the last `tail` lines (a line is its
    partial pieces and the piece that ends it)."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return iter(()), 0
    try:
        end = _end_of_last_line(f)
        start = 0 if tail < 0 else _tail_start(f, end, tail, since, until)
    except BaseException:
        f.close()
        raise
    return _records(f, start, end, since, until), end


def _end_of_last_line(f: BinaryIO) -> int:
    """The offset just past the last newline (a line being written is not read yet)."""
    pos = f.seek(0, 2)
    while pos > 0:
        start = max(0, pos - BLOCK)
        f.seek(start)
        i = f.read(pos - start).rfind(b"\n")
        if i >= 0:
            return start + i + 1
        pos = start
    return 0


def lines_backwards(f: BinaryIO, end: int) -> Iterator[tuple[int, bytes]]:
    """(offset, line with its newline) of the lines in [0, end), the last first; `end` is just
    past a newline (or 0)."""
    rest = b""  # [pos, pos + len(rest)): what is read and not given yet; it ends with a newline
    pos = end
    while pos > 0:
        start = max(0, pos - BLOCK)
        f.seek(start)
        rest = f.read(pos - start) + rest
        pos = start
        i = len(rest) - 1  # the newline ending the next line to give
        while True:
            j = rest.rfind(b"\n", 0, i)
            if j < 0:
                break
            yield pos + j + 1, rest[j + 1:i + 1]
            i = j
        rest = rest[:i + 1]  # the start of a line that begins before `pos`, or the first line
    if rest:
        yield 0, rest


def _tail_start(f: BinaryIO, end: int, tail: int, since, until) -> int:
    """Where the last `tail` lines (of those --since/--until keep) begin."""
    if tail == 0:
        return end
    count = 0
    for off, line in lines_backwards(f, end):
        p = parse_log_line(line)
        if p is None or not p[2] or not _kept(p[0], since, until):
            continue
        count += 1
        if count > tail:
            return off + len(line)
    return 0


_SECONDS: dict[str, float] = {}  # "date T time +zone" to the second → Unix seconds


def _time_of(ts: str) -> float:
    """parse_time, fast for the log's own form (2024-05-01T12:00:00.123456789+02:00): the lines
    of one second share the parsed second (--since over a big log parses every line)."""
    if len(ts) != 35 or ts[19] != "." or not ts[20:29].isdigit():
        return parse_time(ts)
    key = ts[:19] + ts[29:]
    sec = _SECONDS.get(key)
    if sec is None:
        if len(_SECONDS) > 4096:
            _SECONDS.clear()
        sec = _SECONDS[key] = parse_time(key)
    return sec + int(ts[20:29]) / 1e9


def _kept(ts: str, since: float | None, until: float | None) -> bool:
    if since is None and until is None:
        return True
    t = _time_of(ts)
    return not ((since is not None and t < since) or (until is not None and t > until))


def _records(f: BinaryIO, start: int, end: int, since, until) -> Iterator[Record]:
    with f:
        f.seek(start)
        left = end - start
        pending = b""
        while left > 0:
            chunk = f.read(min(FORWARD_BLOCK, left))
            if not chunk:
                break  # truncated under us (log-size-max): what was there is all there is
            left -= len(chunk)
            # split on "\n" only: bytes.splitlines() would also cut at the "\r" of terminal output
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()
            for line in lines:
                p = parse_log_line(line)
                if p is None:
                    continue
                ts, stream, full, text = p
                if _kept(ts, since, until):
                    yield ts, stream, text + b"\n" if full else text


def follow_lines(path, offset: int = 0, *, done, poll: float = 0.05) -> Iterator[bytes]:
    """The lines (without their "\n") written to `path` from `offset` on, as they come, read in
    bounded blocks. When nothing new is there, done() says whether to stop: it is asked only
    after a read found nothing, so what was written before it said yes is all given. The file is
    held open, so what was written to it is read even once it is deleted (`run --rm`: the log
    goes with the container, maybe before the reader has caught up). A file that shrinks
    (truncated: log-size-max) is read again from its start, a replaced one (rotated) from the new
    file's start once the old one is drained; a missing one is waited for. The one follow loop of
    `logs -f`, the API's logs and attach, and `events`."""
    import os
    import time

    f, pending = None, b""
    try:
        while True:
            if f is None:
                try:
                    f = open(path, "rb")
                except FileNotFoundError:
                    pass
            chunk = b""
            if f is not None:
                if os.fstat(f.fileno()).st_size < offset:
                    offset, pending = 0, b""
                f.seek(offset)
                chunk = f.read(FORWARD_BLOCK)
            if chunk:
                offset += len(chunk)
                lines = (pending + chunk).split(b"\n")
                pending = lines.pop()
                yield from lines
                continue
            if f is not None and _replaced(path, f):
                f.close()
                f, offset, pending = None, 0, b""
                continue
            if done():
                return
            time.sleep(poll)
    finally:
        if f is not None:
            f.close()


def _replaced(path, f) -> bool:
    """Is another file at `path` now than the one open as f? (Gone altogether: no — the open
    one is all there is.)"""
    import os

    try:
        return os.stat(path).st_ino != os.fstat(f.fileno()).st_ino
    except FileNotFoundError:
        return False


def follow_container(ctx, rec, path, offset: int, *, gone=None, grace: float = 0.5,
                     wait_start: bool = False, idle=None) -> Iterator[Record]:
    """The container's log records written from `offset` on, as they come, until it has been
    stopped for `grace` seconds with nothing more written (a restart in between goes on being
    followed), it is removed, or gone() says the reader has left. wait_start: a container not
    started yet is followed too (an attach made before start). idle(): called whenever all
    that is written has been given (the CLI flushes its output there, not per line)."""
    import time

    from pypod.engine import containers as ce

    stopped_since = [None]

    def done() -> bool:
        if idle is not None:
            idle()
        if (gone is not None and gone()) or not ce.container_exists(ctx, rec):
            return True
        status = ce.state_of(ctx, rec).get("status")
        if status in ("running", "paused", "stopping") or (wait_start and status == "created"):
            stopped_since[0] = None
            return False
        if stopped_since[0] is None:
            stopped_since[0] = time.monotonic()
        return time.monotonic() - stopped_since[0] > grace

    for line in follow_lines(path, offset, done=done):
        p = parse_log_line(line)
        if p:
            ts, stream, full, text = p
            yield ts, stream, text + b"\n" if full else text
