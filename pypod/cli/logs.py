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


def _write(stream: str, data: bytes, prefix: bytes) -> None:
    target = sys.stderr.buffer if stream == "stderr" else sys.stdout.buffer
    target.write(prefix + data)
    target.flush()


def show_logs(ctx, names: list[str], *, follow: bool, tail: int, since: str | None, until: str | None,
              timestamps: bool, with_names: bool) -> None:
    from pypod.engine import containers as ce

    t_since, t_until = _since(since), _since(until, "--until")
    recs = [ce.get_container(ctx, n) for n in names]
    multi = len(recs) > 1  # podman 4.3: prefixes only with several containers, --names: names not ids
    for rec in recs:
        path = ce.log_path(ctx, rec)
        if path is None:
            raise PypodError(f"this container is using the '{ce.log_driver(rec)}' log driver, "
                             f"cannot read logs: this container is not logging output")
        name_prefix = ((rec.name if with_names else rec.id[:12]).encode() + b" ") if multi else b""
        records, offset = ce.read_logs(path, since=t_since, until=t_until, tail=tail)
        at_line_start = True
        for ts, stream, data in records:
            prefix = (name_prefix + (ts.encode() + b" " if timestamps else b"")) if at_line_start else b""
            _write(stream, data, prefix)
            at_line_start = data.endswith(b"\n")
        if follow and len(recs) == 1:
            _follow(ctx, rec, path, offset, name_prefix, timestamps, t_until)


def _follow(ctx, rec, path, offset: int, name_prefix: bytes, timestamps: bool, until: float | None) -> None:
    """Print new log lines until the container has stopped (and stays stopped) or is removed."""
    from pypod.engine import containers as ce
    from pypod.units import parse_time

    pending = b""
    quiet_since = None
    at_line_start = True
    while True:
        try:
            with open(path, "rb") as f:
                f.seek(offset)
                chunk = f.read()
        except FileNotFoundError:
            if not ce.container_exists(ctx, rec):
                return
            chunk = b""
        if chunk:
            offset += len(chunk)
            data = pending + chunk
            lines = data.split(b"\n")
            pending = lines.pop()
            for line in lines:
                p = ce.parse_log_line(line + b"\n")
                if not p:
                    continue
                ts, stream, full, text = p
                if until is not None and parse_time(ts) > until:
                    return
                prefix = (name_prefix + (ts.encode() + b" " if timestamps else b"")) if at_line_start else b""
                out = text + (b"\n" if full else b"")
                _write(stream, out, prefix)
                at_line_start = full
            quiet_since = None
            continue
        if not ce.container_exists(ctx, rec):
            return
        st = ce.state_of(ctx, rec)
        if st.get("status") not in ("running", "paused", "stopping"):
            # Keep following across a restart (restart policies, `pypod restart`): give it a moment.
            if quiet_since is None:
                quiet_since = time.time()
            elif time.time() - quiet_since > 1.0:
                return
        else:
            quiet_since = None
        time.sleep(0.1)
