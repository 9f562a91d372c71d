"""Signal names and numbers as podman parses them (`-s KILL`, `SIGTERM`, `9`)."""

from __future__ import annotations

import signal as _signal

from pypod.errors import InvalidArgument


def parse_signal(text: str | int | None, default: int = _signal.SIGTERM) -> int:
    if text is None or text == "":
        return default
    if isinstance(text, int):
        return text
    t = text.strip().upper()
    if t.isdigit():
        n = int(t)
        if 0 < n < 65:
            return n
        raise InvalidArgument(f"invalid signal: {text}")
    if not t.startswith("SIG"):
        t = "SIG" + t
    if t.startswith("SIGRTMIN+") or t.startswith("SIGRTMAX-"):
        base, _, off = t[3:].partition("+" if "+" in t else "-")
        try:
            n = int(off)
        except ValueError:
            raise InvalidArgument(f"invalid signal: {text}") from None
        return (_signal.SIGRTMIN + n) if "+" in t else (_signal.SIGRTMAX - n)
    try:
        return int(getattr(_signal.Signals, t))
    except AttributeError:
        raise InvalidArgument(f"invalid signal: {text}") from None


def signal_name(n: int) -> str:
    try:
        return _signal.Signals(n).name
    except ValueError:
        return str(n)
