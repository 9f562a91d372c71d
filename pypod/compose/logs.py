"""Several containers' logs on one stream with Compose's `web-1  | ` prefixes (coloured on a
terminal): `compose logs [-f]` and an attached `compose up`. Reads the k8s-file logs the
supervisors write, as `pypod logs` does; no thread per container, one polling loop."""

from __future__ import annotations

import sys
import time

COLOURS = ("36", "33", "32", "35", "34", "96", "93", "92", "95", "94")  # Compose's rotation


def short_name(project: str, rec) -> str:
    """`web-1` for p-web-1 (Compose drops the project prefix)."""
    return rec.name[len(project) + 1:] if rec.name.startswith(project + "-") else rec.name


class Printer:
    def __init__(self, names: list[str], colour: bool, prefix: bool = True, timestamps: bool = False,
                 out=None):
        self.width = max([len(n) for n in names] or [0])
        self.colour = colour
        self.prefix = prefix
        self.timestamps = timestamps
        self.out = out or sys.stdout.buffer
        self.colours: dict[str, str] = {}

    def _prefix(self, name: str) -> bytes:
        if not self.prefix:
            return b""
        text = f"{name.ljust(self.width)}  | "
        if self.colour:
            c = self.colours.setdefault(name, COLOURS[len(self.colours) % len(COLOURS)])
            text = f"\x1b[{c}m{text}\x1b[0m"
        return text.encode()

    def add(self, name: str) -> None:
        self.width = max(self.width, len(name))

    def line(self, name: str, ts: str, data: bytes) -> None:
        stamp = (ts.encode() + b" ") if self.timestamps else b""
        self.out.write(self._prefix(name) + stamp + data)

    def flush(self) -> None:
        try:
            self.out.flush()
        except BrokenPipeError:
            pass

    def note(self, text: str) -> None:
        self.out.write(text.encode() + b"\n")
        self.flush()


class Tail:
    """One container's log, read forwards from an offset: complete lines only."""

    def __init__(self, ctx, rec, name: str, offset: int = 0):
        from pypod.engine import containers as ce

        self.ctx, self.rec, self.name = ctx, rec, name
        self.path = ce.log_path(ctx, rec)
        self.offset = offset
        self.pending = b""
        self.at_start = True
        self.done = False
        self.quiet_since: float | None = None

    def read(self, printer: Printer) -> bool:
        from pypod.engine.logs import FORWARD_BLOCK, parse_log_line

        if self.path is None:
            return False
        try:
            with open(self.path, "rb") as f:
                if f.seek(0, 2) < self.offset:
                    self.offset, self.pending = 0, b""
                f.seek(self.offset)
                chunk = f.read(FORWARD_BLOCK)
        except FileNotFoundError:
            return False
        if not chunk:
            return False
        self.offset += len(chunk)
        lines = (self.pending + chunk).split(b"\n")
        self.pending = lines.pop()
        for raw in lines:
            p = parse_log_line(raw)
            if not p:
                continue
            ts, _stream, full, text = p
            if self.at_start:
                printer.line(self.name, ts, text + (b"\n" if full else b""))
            else:
                printer.out.write(text + (b"\n" if full else b""))
            self.at_start = full
        return True


def end_offset(ctx, rec) -> int:
    """Where the log ends now (an attached `up` shows only what comes after)."""
    from pypod.engine import containers as ce

    path = ce.log_path(ctx, rec)
    try:
        return path.stat().st_size if path else 0
    except FileNotFoundError:
        return 0


def print_existing(ctx, tails: list[Tail], printer: Printer, tail: int = -1) -> None:
    """What the logs hold now (the last `tail` lines of each); each Tail left at its end."""
    from pypod.engine.logs import read_logs

    for t in tails:
        if t.path is None:
            continue
        records, offset = read_logs(t.path, tail=tail)
        at_start = True
        for ts, _stream, data in records:
            if at_start:
                printer.line(t.name, ts, data)
            else:
                printer.out.write(data)
            at_start = data.endswith(b"\n")
        t.offset = offset
    printer.flush()


def follow(ctx, tails: list[Tail], printer: Printer, *, on_exit=None, announce: bool = True,
           poll: float = 0.1) -> None:
    """Print new lines until every container has stopped (a restart within a second is waited
    for). on_exit(tail, code) is called as each one stops; it returns True to stop following."""
    from pypod.engine import containers as ce

    while True:
        busy = False
        for t in tails:
            if t.done:
                continue
            if t.read(printer):
                busy = True
                t.quiet_since = None
                continue
            if not ce.container_exists(ctx, t.rec):
                t.done = True
                continue
            st = ce.state_of(ctx, t.rec)
            if st.get("status") in ("running", "paused", "stopping", "created"):
                t.quiet_since = None
                continue
            now = time.monotonic()
            if t.quiet_since is None:
                t.quiet_since = now
                continue
            if now - t.quiet_since < 0.3:  # the last lines and a restart policy's next run
                continue
            t.done = True
            code = st.get("exit_code")
            if announce:
                printer.note(f"{t.name} exited with code {code if code is not None else 0}")
            if on_exit and on_exit(t, code or 0):
                printer.flush()
                return
        printer.flush()
        if all(t.done for t in tails):
            return
        if not busy:
            time.sleep(poll)
