"""JSON through the C accelerator `_json` directly.

`import json` pulls in `re` (and with it enum, functools, collections …): ~10 ms and ~1 MiB in a
fresh interpreter on a slow host. The supervisor and the reading of records (`images`, `ps`) only
need compact dumps and loads of trusted documents, which `_json`'s C scanner and encoder do alone.
"""

from __future__ import annotations

import _json


class _DecodeContext:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo: dict = {}

    @staticmethod
    def parse_constant(name: str) -> float:
        return {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}[name]


_scan = _json.make_scanner(_DecodeContext())


def _default(o):
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


_encode = _json.make_encoder(None, _default, _json.encode_basestring, None, ":", ",",
                             False, False, True)

_WS = " \t\n\r"


def loads(s: str | bytes):
    if isinstance(s, (bytes, bytearray)):
        s = s.decode()
    s = s.strip(_WS)
    try:
        obj, end = _scan(s, 0)
    except StopIteration as e:
        raise ValueError(f"invalid JSON at offset {e.value}") from None
    except SystemError:
        # An error inside an object or array (a truncated file): the C scanner wants to raise
        # json.decoder.JSONDecodeError, which is not imported, and fails with a SystemError.
        raise ValueError("invalid JSON (truncated?)") from None
    if end != len(s):
        raise ValueError(f"extra data in JSON at offset {end}")
    return obj


def dumps(obj) -> str:
    return "".join(_encode(obj, 0))
