"""Human sizes and durations as podman (docker/go-units) prints them, and time stamps."""

from __future__ import annotations

import datetime as _dt
import re
import time

_DEC = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"]


def _g3(x: float) -> str:
    s = f"{x:.3g}"
    if "e" in s:  # %g switches to exponent form for >= 1000: podman never gets there (units step first)
        s = str(int(round(x)))
    return s


def human_size(size: float) -> str:
    """go-units HumanSizeWithPrecision(size, 3): decimal units, 3 significant digits."""
    i = 0
    size = float(size)
    while size >= 1000.0 and i < len(_DEC) - 1:
        size /= 1000.0
        i += 1
    return f"{_g3(size)} {_DEC[i]}"


def human_duration(seconds: float) -> str:
    """go-units HumanDuration."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


def since(ts: float, now: float | None = None) -> str:
    return human_duration((now or time.time()) - ts) + " ago"


_FRAC = re.compile(r"\.(\d+)")


def parse_time(text: str) -> float:
    """RFC 3339 (with nanoseconds, Z or offset) → Unix seconds; 0.0 when empty or unparseable."""
    if not text:
        return 0.0
    t = text.strip().replace("Z", "+00:00")
    m = _FRAC.search(t)
    frac = 0.0
    if m:
        frac = float("0." + m.group(1))
        t = t[: m.start()] + t[m.end():]
    try:
        return _dt.datetime.fromisoformat(t).timestamp() + frac
    except ValueError:
        return 0.0


def rfc3339_nano(ts: float | None = None, utc: bool = False) -> str:
    """Go's time.RFC3339Nano for a Unix time, in local time like podman (trailing zeros trimmed)."""
    ts = time.time() if ts is None else ts
    ns = int(round((ts % 1) * 1e9))
    sec = int(ts)
    if ns >= 1_000_000_000:
        sec, ns = sec + 1, ns - 1_000_000_000
    d = _dt.datetime.fromtimestamp(sec, _dt.timezone.utc if utc else None).astimezone(
        _dt.timezone.utc if utc else None)
    base = d.strftime("%Y-%m-%dT%H:%M:%S")
    frac = f".{ns:09d}".rstrip("0") if ns else ""
    off = d.strftime("%z")
    tz = "Z" if off in ("+0000", "") and utc else f"{off[:3]}:{off[3:]}" if off else "Z"
    if off == "+0000":
        tz = "Z"
    return base + frac + tz


def go_time(ts: float) -> str:
    """Go's time.Time String(): `2024-01-02 15:04:05.123456789 +0000 UTC` (podman's CreatedAt)."""
    d = _dt.datetime.fromtimestamp(int(ts)).astimezone()
    ns = int(round((ts % 1) * 1e9))
    frac = f".{ns:09d}".rstrip("0") if ns else ""
    return d.strftime("%Y-%m-%d %H:%M:%S") + frac + d.strftime(" %z %Z")


def parse_size(text: str) -> int:
    """'64m', '1g', '512k', '100' → bytes (binary units, as docker's RAMInBytes)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgtpKMGTP]?)[iI]?[bB]?\s*", text or "")
    if not m:
        from pypod.errors import InvalidArgument

        raise InvalidArgument(f"invalid size: {text!r}")
    mult = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}[m.group(2).lower()]
    return int(float(m.group(1)) * mult)


def parse_duration(text: str) -> float:
    """Go durations ('30s', '1m30s', '500ms', '2h') and plain seconds → seconds."""
    t = (text or "").strip()
    if re.fullmatch(r"\d+(\.\d+)?", t):
        return float(t)
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", t)
    if not parts or "".join(a + b for a, b in parts) != t:
        from pypod.errors import InvalidArgument

        raise InvalidArgument(f'time: invalid duration "{text}"')
    mult = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    return sum(float(a) * mult[b] for a, b in parts)
