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
    followers = []
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
            followers.append((rec, path, offset, name_prefix))
    if len(followers) == 1:
        _follow(ctx, *followers[0], timestamps, t_until, out)
    elif followers:  # several (`pod logs -f`): one thread each, their lines kept whole
        import threading

        shared = _LockedOut(out)
        threads = [threading.Thread(target=_follow, args=(ctx, *f, timestamps, t_until, shared), daemon=True)
                   for f in followers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


class _LockedOut:
    """_Out for several followers: each write-and-flush of a batch under one lock."""

    def __init__(self, out: _Out):
        import threading

        self.out, self.lock = out, threading.Lock()

    def write(self, stream: str, data: bytes) -> None:
        with self.lock:
            self.out.write(stream, data)
            self.out.flush()

    def flush(self) -> None:
        with self.lock:
            self.out.flush()


def _follow(ctx, rec, path, offset: int, name_prefix: bytes, timestamps: bool, until: float | None,
            out: _Out) -> None:
    """Print new log lines until the container has stopped (and stays stopped: a restart goes on
    being followed) or is removed."""
    from pypod.engine.logs import follow_container
    from pypod.units import parse_time

    at_line_start = True
    for ts, stream, data in follow_container(ctx, rec, path, offset, grace=1.0, idle=out.flush):
        if until is not None and parse_time(ts) > until:
            break
        prefix = (name_prefix + (ts.encode() + b" " if timestamps else b"")) if at_line_start else b""
        out.write(stream, prefix + data)
        at_line_start = data.endswith(b"\n")
    out.flush()
