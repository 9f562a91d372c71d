"""Human sizes and durations as podman (docker/go-units) prints them, and time stamps."""

from __future__ import annotations

import time

# No datetime or re at import: `pypod images` and `ps` format times with the time module alone.

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


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def _digits(text: str, lo: int, hi: int) -> int:
    if not text.isdigit() or not text.isascii():
        raise ValueError(text)
    n = int(text)
    if not lo <= n <= hi:
        raise ValueError(text)
    return n


def parse_time(text: str) -> float:
    """RFC 3339 (with nanoseconds, Z or offset; no zone = local time) → Unix seconds; 0.0 when
    empty or unparseable."""
    try:
        sec, frac, _ = _parse_rfc3339(text)
    except ValueError:
        return 0.0
    return sec + (float("0." + frac) if frac else 0.0)


def go_time_text(text: str) -> str:
    """Go's time.Time String() of an RFC 3339 time stamp, in the zone it was written in (as a
    time Go decoded from JSON): `2023-11-14 22:13:20.5 +0000 UTC`; the text itself if unparseable."""
    try:
        sec, frac, off = _parse_rfc3339(text)
    except ValueError:
        return text
    frac = frac[:9].rstrip("0")
    if off is None:
        tm = time.localtime(sec)
        zone = time.strftime("%z %Z", tm)
    else:
        tm = time.gmtime(sec + off)
        sign, a = ("-", -off) if off < 0 else ("+", off)
        num = f"{sign}{a // 3600:02d}{a % 3600 // 60:02d}"
        zone = f"{num} {'UTC' if off == 0 and text.strip()[-1:] in 'Zz' else num}"
    stamp = f"{tm.tm_year:04d}-{tm.tm_mon:02d}-{tm.tm_mday:02d} {tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d}"
    return stamp + (f".{frac}" if frac else "") + " " + zone


def _parse_rfc3339(text: str) -> tuple[int, str, int | None]:
    """(whole Unix seconds, the fraction's digits, the zone's offset in seconds or None for local
    time); ValueError if it is not a time."""
    if not text:
        raise ValueError("empty time")
    t = text.strip()
    date, _, clock = t.partition("T") if "T" in t else t.partition(" ")
    ys, ms, ds = date.split("-")
    y, mo, d = _digits(ys, 1, 9999), _digits(ms, 1, 12), _digits(ds, 1, 31)
    off = None
    if clock.endswith(("Z", "z")):
        clock, off = clock[:-1], 0
    else:
        i = max(clock.rfind("+"), clock.rfind("-"))
        if i > 0:
            oh, _, om = clock[i + 1:].partition(":")
            off = (_digits(oh, 0, 23) * 3600 + _digits(om or "0", 0, 59) * 60) * (-1 if clock[i] == "-" else 1)
            clock = clock[:i]
    hms, _, frac = clock.partition(".") if clock else ("00:00:00", "", "")
    hs, mis, ss = hms.split(":")
    h, mi, sec = _digits(hs, 0, 23), _digits(mis, 0, 59), _digits(ss, 0, 60)
    if frac and not (frac.isdigit() and frac.isascii()):
        raise ValueError(frac)
    if off is None:  # no zone: local time, as datetime.fromisoformat(...).timestamp()
        return int(time.mktime((y, mo, d, h, mi, sec, 0, 0, -1))), frac, None
    return _days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off, frac, off


def _zone(tm: time.struct_time) -> str:
    off = time.strftime("%z", tm)
    return "Z" if off in ("+0000", "-0000", "") else f"{off[:3]}:{off[3:]}"


def rfc3339_nano(ts: float | None = None, utc: bool = False) -> str:
    """Go's time.RFC3339Nano for a Unix time, in local time like podman (trailing zeros trimmed)."""
    ts = time.time() if ts is None else ts
    ns = int(round((ts % 1) * 1e9))
    sec = int(ts)
    if ns >= 1_000_000_000:
        sec, ns = sec + 1, ns - 1_000_000_000
    tm = time.gmtime(sec) if utc else time.localtime(sec)
    frac = f".{ns:09d}".rstrip("0") if ns else ""
    return time.strftime("%Y-%m-%dT%H:%M:%S", tm) + frac + _zone(tm)


def go_time(ts: float) -> str:
    """Go's time.Time String(): `2024-01-02 15:04:05.123456789 +0000 UTC` (podman's CreatedAt)."""
    tm = time.localtime(int(ts))
    ns = int(round((ts % 1) * 1e9))
    frac = f".{ns:09d}".rstrip("0") if ns else ""
    return time.strftime("%Y-%m-%d %H:%M:%S", tm) + frac + time.strftime(" %z %Z", tm)


def parse_size(text: str) -> int:
    """'64m', '1g', '512k', '100' → bytes (binary units, as docker's RAMInBytes)."""
    import re

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgtpKMGTP]?)[iI]?[bB]?\s*", text or "")
    if not m:
        from pypod.errors import InvalidArgument

        raise InvalidArgument(f"invalid size: {text!r}")
    mult = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}[m.group(2).lower()]
    return int(float(m.group(1)) * mult)


def parse_duration(text: str) -> float:
    """Go durations ('30s', '1m30s', '500ms', '2h') and plain seconds → seconds."""
    import re

    t = (text or "").strip()
    if re.fullmatch(r"\d+(\.\d+)?", t):
        return float(t)
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", t)
    if not parts or "".join(a + b for a, b in parts) != t:
        from pypod.errors import InvalidArgument

        raise InvalidArgument(f'time: invalid duration "{text}"')
    mult = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    return sum(float(a) * mult[b] for a, b in parts)
