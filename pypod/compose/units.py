"""Durations and byte sizes as Compose reads and prints them (Go's time.Duration, docker's units)."""

from __future__ import annotations

import re

from pypod.compose.errors import ComposeError

_DUR = re.compile(r"([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h)")
_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000,
       "h": 3_600_000_000_000}


def parse_duration(value, where: str) -> int:
    """Nanoseconds from `1m30s`, `90s`, `1.5h`, `500ms` (time.ParseDuration)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value * 1_000_000_000)
    s = str(value).strip()
    sign = -1 if s.startswith("-") else 1
    s = s.lstrip("+-")
    if s == "0":
        return 0
    pos, total = 0, 0.0
    for m in _DUR.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _NS[m.group(2)]
        pos = m.end()
    if pos != len(s) or not s:
        unit = re.match(r"[0-9.]+([^0-9.]+)", s[pos:])
        if unit and unit.group(1) not in _NS:
            raise ComposeError(f'{where}: time: unknown unit "{unit.group(1)}" in duration "{value}"')
        raise ComposeError(f'{where}: time: invalid duration "{value}"')
    return sign * int(round(total))


def format_duration(ns: int) -> str:
    """Go's Duration.String()."""
    if ns == 0:
        return "0s"
    neg = ns < 0
    ns = abs(ns)
    if ns < 1_000_000_000:
        if ns < 1_000:
            s = f"{ns}ns"
        elif ns < 1_000_000:
            s = _frac(ns, 1_000) + "µs"
        else:
            s = _frac(ns, 1_000_000) + "ms"
        return ("-" if neg else "") + s
    h, rem = divmod(ns, 3_600_000_000_000)
    m, rem = divmod(rem, 60_000_000_000)
    sec = _frac(rem, 1_000_000_000)
    out = ""
    if h:
        out = f"{h}h{m}m"
    elif m:
        out = f"{m}m"
    return ("-" if neg else "") + out + sec + "s"


def _frac(n: int, unit: int) -> str:
    whole, frac = divmod(n, unit)
    if not frac:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}." + f"{frac:0{digits}d}".rstrip("0")


_BYTES = re.compile(r"^([0-9]*\.?[0-9]+)\s*([kmgtpKMGTP]?)([bB]?)$")
_MULT = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def parse_bytes(value, where: str) -> int:
    """Bytes from 512m, 1g, 1000, 1.5GB (docker's RAMInBytes: binary multiples)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    s = str(value).strip()
    m = _BYTES.match(s)
    if not m:
        raise ComposeError(f"{where}: invalid size: '{value}'")
    return int(float(m.group(1)) * _MULT[m.group(2).lower()])
