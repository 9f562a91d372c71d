"""Signal names and numbers as podman parses them (`-s KILL`, `SIGTERM`, `9`)."""

from __future__ import annotations

import signal as _signal

from pypod.errors import InvalidArgument


def parse_signal(text: str | int | None, default: int = _signal.SIGTERM) -> int:
    """podman's rules: a leading dash is dropped (`-1`, `-INT`), names with or without SIG, in any
    case; numbers beyond 64 are their own error."""
    if text is None or text == "":
        return default
    if isinstance(text, int):
        return text
    raw = text[1:] if text.startswith("-") else text
    t = raw.strip().upper()
    if t.lstrip("+").isdigit():
        n = int(t)
        if n == 0:
            raise InvalidArgument(f"invalid signal: {raw}")
        if n > 64:
            raise InvalidArgument("valid signals are 1 through 64")
        return n
    if not t.startswith("SIG"):
        t = "SIG" + t
    if t.startswith("SIGRTMIN+") or t.startswith("SIGRTMAX-"):
        base, _, off = t[3:].partition("+" if "+" in t else "-")
        try:
            n = int(off)
        except ValueError:
            raise InvalidArgument(f"invalid signal: {raw}") from None
        return (_signal.SIGRTMIN + n) if "+" in t else (_signal.SIGRTMAX - n)
    try:
        return int(getattr(_signal.Signals, t))
    except AttributeError:
        raise InvalidArgument(f"invalid signal: {raw}") from None


def signal_name(n: int) -> str:
    try:
        return _signal.Signals(n).name
    except ValueError:
        return str(n)
