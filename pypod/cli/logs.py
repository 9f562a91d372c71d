"""`pypod logs`: read (and follow) the k8s-file logs the supervisor writes."""

from __future__ import annotations

import sys
import time

from pypod.errors import PypodError


def _since(value: str | None, flag: str = "--since") -> float | None:
    if not value:
        return None
    from pypod.errors import InvalidArgument
    from pypod.units import parse_duration, parse_time

    t = parse_time(value)
    if t:
        return t
    try:
        return float(value) if value.replace(".", "", 1).isdigit() else time.time() - parse_duration(value)
    except InvalidArgument:
        raise InvalidArgument(f'parsing {flag} "{value}": unable to interpret time value') from None


class _Out:
    """stdout/stderr, buffered: flushed when the stream changes (their order is kept) and when a
    batch is written — a flush per line made a big log's output crawl."""

    def __init__(self):
        self.last = None

    def write(self, stream: str, data: bytes) -> None:
        target = sys.stderr.buffer if stream == "stderr" else sys.stdout.buffer
        if self.last is not None and self.last is not target:
            self.flush()
        self.last = target
        self._guarded(target.write, target, data)

    def flush(self) -> None:
        if self.last is not None:
            self._guarded(self.last.flush, self.last)

    @staticmethod
    def _guarded(call, target, *args) -> None:
        try:
            call(*args)
        except BrokenPipeError:
            # the reader went away (`| head`): what is still buffered goes nowhere, quietly
            import os

            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, target.fileno())
            os.close(devnull)
            raise


def show_logs(ctx, names: list[str], *, follow: bool, tail: int, since: str | None, until: str | None,
              timestamps: bool, with_names: bool) -> None:
    from pypod.engine import containers as ce
    from pypod.engine.logs import read_logs

    t_since, t_until = _since(since), _since(until, "--until")
    recs = [ce.get_container(ctx, n) for n in names]
    multi = len(recs) > 1  # podman 4.3: prefixes only with several containers, --names: names not ids
    out = _Out()
    followers: list[_Follower] = []
    for rec in recs:
        path = ce.log_path(ctx, rec)
        if path is None:
            raise PypodError(f"this container is using the '{ce.log_driver(rec)}' log driver, "
                             f"cannot read logs: this container is not logging output")
        name_prefix = ((rec.name if with_names else rec.id[:12]).encode() + b" ") if multi else b""
        records, offset = read_logs(path, since=t_since, until=t_until, tail=tail)
        at_line_start = True
        for ts, stream, data in records:
            prefix = (name_prefix + (ts.encode() + b" " if timestamps else b"")) if at_line_start else b""
            out.write(stream, prefix + data)
            at_line_start = data.endswith(b"\n")
        out.flush()
        if follow:
            followers.append(_Follower(ctx, rec, path, offset, name_prefix, timestamps, t_until, out))
    _follow_all(followers)


def _follow_all(followers: list) -> None:
    """Print new log lines of every container, in the order they come, until each has stopped
    (and stays stopped) or is removed (podman's `logs -f c1 c2`)."""
    while followers:
        busy = False
        for f in list(followers):
            state = f.step()
            if state == "done":
                followers.remove(f)
            busy = busy or state == "more"
        if followers and not busy:
            time.sleep(0.1)


class _Follower:
    """One container's log being followed: step() reads what is new ("more"), finds nothing
    ("idle") or sees the container gone or stopped for good ("done")."""

    def __init__(self, ctx, rec, path, offset: int, name_prefix: bytes, timestamps: bool,
                 until: float | None, out: _Out):
        self.ctx, self.rec, self.path, self.offset = ctx, rec, path, offset
        self.name_prefix, self.timestamps, self.until, self.out = name_prefix, timestamps, until, out
        self.pending = b""
        self.quiet_since: float | None = None
        self.at_line_start = True

    def step(self) -> str:
        from pypod.engine import containers as ce
        from pypod.engine.logs import FORWARD_BLOCK, parse_log_line
        from pypod.units import parse_time

        try:
            with open(self.path, "rb") as f:
                if f.seek(0, 2) < self.offset:
                    self.offset = 0  # truncated (log-size-max): it starts again
                    self.pending = b""
                f.seek(self.offset)
                chunk = f.read(FORWARD_BLOCK)  # a block at a time, however fast it grows
        except FileNotFoundError:
            if not ce.container_exists(self.ctx, self.rec):
                return "done"
            chunk = b""
        if chunk:
            self.offset += len(chunk)
            lines = (self.pending + chunk).split(b"\n")
            self.pending = lines.pop()
            for line in lines:
                p = parse_log_line(line)
                if not p:
                    continue
                ts, stream, full, text = p
                if self.until is not None and parse_time(ts) > self.until:
                    self.out.flush()
                    return "done"
                prefix = (self.name_prefix + (ts.encode() + b" " if self.timestamps else b"")) \
                    if self.at_line_start else b""
                self.out.write(stream, prefix + text + (b"\n" if full else b""))
                self.at_line_start = full
            self.out.flush()
            self.quiet_since = None
            return "more"
        if not ce.container_exists(self.ctx, self.rec):
            return "done"
        st = ce.state_of(self.ctx, self.rec)
        if st.get("status") not in ("running", "paused", "stopping"):
            # Keep following across a restart (restart policies, `pypod restart`): give it a moment.
            if self.quiet_since is None:
                self.quiet_since = time.time()
            elif time.time() - self.quiet_since > 1.0:
                return "done"
        else:
            self.quiet_since = None
        return "idle"
