"""Fault injection for the crash tests (tests/faults/): `PYPOD_FAULT=NAME[@N]` makes the process
SIGKILL itself the Nth time (default 1st) it reaches `point(NAME)` — as `kill -9`, the OOM killer or
a lost machine would stop it there. The variable is read once, at import; unset, a point costs one
global lookup and a comparison. Helper processes (the unpack worker) inherit the variable and
count their own hits. The points and what they check: tests/faults/test_faults.py.
"""

from __future__ import annotations

import os

_WANT = os.environ.get("PYPOD_FAULT") or None
_hits: dict[str, int] = {}


def point(name: str) -> None:
    if _WANT is None:
        return
    want, _, nth = _WANT.partition("@")
    if name != want:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] == (int(nth) if nth.isdigit() else 1):
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
