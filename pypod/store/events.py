"""The event log: one append-only file of JSON lines per user, in podman's file-logger format.

Written by the engine (create, start, stop, kill, remove, pull, tag, ...) and by supervisors
(die); read by `pypod events` and the API's /events (engine/events.py follows it). Each event is one line written with one
O_APPEND write under an fcntl lock, so concurrent writers never interleave. Past MAX_BYTES the
file is rotated once (events.log.1), so it stays bounded.
"""

from __future__ import annotations

import fcntl
import json
import os
import time

MAX_BYTES = 4 << 20


def log_path(run_dir: str) -> str:
    return os.path.join(run_dir, "events", "events.log")


def _now_rfc3339() -> str:
    ns = time.time_ns()
    s, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + f".{frac:09d}Z"


def emit(run_dir: str, type_: str, status: str, *, id_: str = "", name: str = "", image: str = "",
         attributes: dict | None = None, exit_code: int | None = None) -> None:
    """Append one event; never raises (an event that cannot be written must not fail the verb)."""
    ev = {"ID": id_, "Image": image, "Name": name, "Status": status, "Time": _now_rfc3339(), "Type": type_,
          "Attributes": dict(attributes or {})}
    if exit_code is not None:
        ev["ContainerExitCode"] = int(exit_code)
    line = (json.dumps(ev, separators=(",", ":")) + "\n").encode()
    path = log_path(run_dir)
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if os.fstat(fd).st_size + len(line) > MAX_BYTES:
                os.replace(path, path + ".1")  # readers following the old file see it end
                os.close(fd)
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
                fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, line)
        finally:
            os.close(fd)
    except OSError:
        pass


def parse(line: bytes) -> dict | None:
    """One line of the log as an event; None for a torn or foreign line (skipped)."""
    try:
        ev = json.loads(line)
    except ValueError:
        return None
    return ev if isinstance(ev, dict) and ev.get("Status") else None
