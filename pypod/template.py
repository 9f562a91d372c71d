"""The Go text/template subset behind every ``--format``.

Podman renders ``--format`` with Go's text/template plus the functions of
containers/common ``pkg/report`` (join, json, lower, pad, split, title,
truncate, upper).  This module re-implements that language for Python data:
dicts (``.Field`` is a key lookup), lists, str, int, float, bool, None, and
plain objects (``.Field`` falls back to an attribute; a callable attribute is
called like a Go method).

Public API::

    Template(text).execute(data) -> str        render(text, data) -> str
    is_table(fmt)   normalize_format(fmt)       render_rows(fmt, rows, headers)
    format_table(rows)                          tabwrite(text)

Go semantics kept on purpose: ``<no value>`` for a missing map key, ``%v``
printing (``[a b]``, ``map[k:v]``, ``true``, ``1e+06``), truthiness, map
ranges in sorted key order, trim markers ``{{-`` / ``-}}``, error texts such
as ``template: ps:1: unexpected "}" in operand``.  Standard library only;
importing this module costs next to nothing.
"""

from __future__ import annotations

from pypod.tabwriter import format_table, tabwrite  # noqa: F401 (re-exported)

import re
from collections.abc import Mapping

__all__ = [
    "TemplateError",
    "Template",
    "render",
    "is_table",
    "normalize_format",
    "render_rows",
    "format_table",
    "tabwrite",
]


class TemplateError(ValueError):
    """A template that does not parse, or fails while executing (one-line message)."""


def _one_line(msg: str) -> str:
    return msg.replace("\r", "\\r").replace("\n", "\\n")


# ---------------------------------------------------------------------------
# sentinels and small helpers


class _Missing:
    """The value of a missing map key (Go's invalid reflect.Value)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<no value>"

    def __bool__(self) -> bool:
        return False


_MISSING = _Missing()
_NOFINAL = object()  # "no value piped in from the previous command"


class _HeaderValue(str):
    """A column header produced while rendering the header line of a table."""

    __slots__ = ()


_SPACES = " \t\r\n"
_BUILTIN_TYPES = (str, bytes, bytearray, int, float, bool, list, tuple, dict, set, frozenset)


def _go_type(v) -> str:
    if v is None or v is _MISSING:
        return "<nil>"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, (bytes, bytearray)):
        return "[]uint8"
    if isinstance(v, (list, tuple)):
        return "[]interface {}"
    if isinstance(v, Mapping):
        return "map[string]interface {}"
    return type(v).__name__


def _sort_keys(keys):
    def key(k):
        if isinstance(k, bool):
            return (0, int(k), "")
        if isinstance(k, (int, float)):
            return (1, k, "")
        if isinstance(k, str):
            return (2, 0, k)
        return (3, 0, str(k))

    return sorted(keys, key=key)


def _truth(v) -> bool:
    """Go's isTrue: false, 0, nil and empty string/slice/map are false."""
    if v is None or v is _MISSING:
        return False
    if isinstance(v, _HeaderValue):
        return True
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return v != 0
    if isinstance(v, (str, bytes, bytearray, list, tuple, dict, set, frozenset, Mapping)):
        return len(v) > 0
    return True


# ---------------------------------------------------------------------------
# Go-style quoting and fmt


_QUOTE_ESC = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def _escape_rune(ch: str, quote: str, ascii_only: bool = False) -> str:
    c = ord(ch)
    if ch == quote or ch == "\\":
        return "\\" + ch
    if 0xD800 <= c <= 0xDFFF:  # a lone surrogate: invalid UTF-8 in Go
        if 0xDC80 <= c <= 0xDCFF:  # surrogateescape'd byte
            return "\\x%02x" % (c - 0xDC00)
        return "\\ufffd"
    if ch.isprintable() and (not ascii_only or c < 0x80):
        return ch
    if ch in _QUOTE_ESC:
        return _QUOTE_ESC[ch]
    if c < 0x20 or c == 0x7F:
        return "\\x%02x" % c
    if c < 0x10000:
        return "\\u%04x" % c
    return "\\U%08x" % c


def _go_quote(s: str, ascii_only: bool = False) -> str:
    """strconv.Quote."""
    return '"' + "".join(_escape_rune(ch, '"', ascii_only) for ch in s) + '"'


def _go_quote_rune(n: int, ascii_only: bool = False) -> str:
    """strconv.QuoteRune."""
    if n < 0 or n > 0x10FFFF or 0xD800 <= n <= 0xDFFF:
        n = 0xFFFD
    return "'" + _escape_rune(chr(n), "'", ascii_only) + "'"


def _float_digits(a: float):
    """Shortest decimal digits of a positive finite float and the decimal point position."""
    r = repr(a)
    if "e" in r:
        mant, e = r.split("e")
        exp = int(e)
    else:
        mant, exp = r, 0
    ip, _, fp = mant.partition(".")
    ds = ip + fp
    dp = len(ip) + exp
    stripped = ds.lstrip("0")
    dp -= len(ds) - len(stripped)
    ds = stripped.rstrip("0")
    return (ds or "0"), dp


def _e_form(ds: str, exp: int, min_exp_digits: int = 2) -> str:
    s = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
    return s + "e" + ("-" if exp < 0 else "+") + str(abs(exp)).rjust(min_exp_digits, "0")


def _f_form(ds: str, dp: int) -> str:
    if dp <= 0:
        return "0." + "0" * (-dp) + ds
    if dp >= len(ds):
        return ds + "0" * (dp - len(ds))
    return ds[:dp] + "." + ds[dp:]


def _go_g(a: float) -> str:
    """strconv.FormatFloat(a, 'g', -1, 64) for a >= 0 finite (fmt's %v)."""
    if a == 0:
        return "0"
    ds, dp = _float_digits(a)
    exp = dp - 1
    if exp < -4 or exp >= 6:  # shortest: %e when exp < -4 || exp >= 6 (Go: eprec = 6)
        return _e_form(ds, exp)
    return _f_form(ds, dp)


def _is_neg(x: float) -> bool:
    return x < 0 or (x == 0 and repr(x).startswith("-"))


def _pad(s: str, width, flags: str) -> str:
    if width is None or len(s) >= width:
        return s
    if "-" in flags:
        return s + " " * (width - len(s))
    if "0" in flags:
        return "0" * (width - len(s)) + s
    return " " * (width - len(s)) + s


def _bad_verb(verb: str, a) -> str:
    if a is None or a is _MISSING:
        return "%!" + verb + "(<nil>)"
    return "%!" + verb + "(" + _go_type(a) + "=" + _fmt_arg(a, "v") + ")"


def _fmt_int(n: int, verb: str, flags: str, width, prec) -> str:
    nozero = flags.replace("0", "")
    if verb == "c":
        return _pad(chr(n) if 0 <= n <= 0x10FFFF and not 0xD800 <= n <= 0xDFFF else "\ufffd", width, nozero)
    if verb == "q":
        return _pad(_go_quote_rune(n, "+" in flags), width, nozero)
    if verb == "U":
        s = "U+%04X" % n if n >= 0 else "U+-%04X" % -n
        if "#" in flags and 0 <= n <= 0x10FFFF and chr(n).isprintable():
            s += " '" + chr(n) + "'"
        return _pad(s, width, nozero)
    a = abs(n)
    if verb in "dv":
        digits = str(a)
    elif verb == "x":
        digits = format(a, "x")
    elif verb == "X":
        digits = format(a, "X")
    elif verb in "oO":
        digits = format(a, "o")
    else:  # "b"
        digits = format(a, "b")
    if prec is not None:
        digits = "" if prec == 0 and a == 0 else digits.rjust(prec, "0")
    prefix = ""
    if verb == "O":
        prefix = "0o"
    elif "#" in flags:
        if verb == "x":
            prefix = "0x"
        elif verb == "X":
            prefix = "0X"
        elif verb == "b":
            prefix = "0b"
        elif verb == "o" and not digits.startswith("0"):
            prefix = "0"
    sign = "-" if n < 0 else ("+" if "+" in flags else (" " if " " in flags else ""))
    if "0" in flags and "-" not in flags and width is not None and prec is None:
        digits = digits.rjust(width - len(sign) - len(prefix), "0")
    return _pad(sign + prefix + digits, width, nozero)


def _fmt_float(x: float, verb: str, flags: str, width, prec) -> str:
    nozero = flags.replace("0", "")
    if x != x:
        sign = "+" if "+" in flags else (" " if " " in flags else "")
        return _pad(sign + "NaN", width, nozero)
    neg = _is_neg(x)
    if x in (float("inf"), float("-inf")):
        return _pad(("-" if neg else "+") + "Inf", width, nozero)
    a = abs(x)
    if verb in "vgG":
        body = _go_g(a) if prec is None else format(a, ".%dg" % prec)
    elif verb in "eE":
        body = format(a, ".%de" % (6 if prec is None else prec))
    else:  # f F
        body = format(a, ".%df" % (6 if prec is None else prec))
    if verb in "EG":
        body = body.upper()
    sign = "-" if neg else ("+" if "+" in flags else (" " if " " in flags else ""))
    if "0" in flags and "-" not in flags and width is not None:
        body = body.rjust(width - len(sign), "0")
    return _pad(sign + body, width, nozero)


def _fields_of(obj):
    """(name, value) pairs of a struct-like object (dataclass or plain object)."""
    dc = getattr(type(obj), "__dataclass_fields__", None)
    if dc is not None:
        return [(name, getattr(obj, name)) for name in dc]
    d = getattr(obj, "__dict__", None)
    if isinstance(d, dict):
        return [(k, v) for k, v in d.items() if not k.startswith("_")]
    return None


class GoTime(str):
    """A time stamp: RFC 3339 text in JSON (`{{json .Created}}`, inspect's output), but printed by a
    template as Go prints a time.Time (its String(): `2023-11-14 22:13:20 +0000 UTC`)."""

    def go_string(self) -> str:
        from pypod.units import go_time_text

        return go_time_text(self)


def _fmt_arg(a, verb: str, flags: str = "", width=None, prec=None) -> str:
    """Format one operand like Go's fmt with the given verb."""
    if isinstance(a, GoTime) and verb in "vsq":
        a = a.go_string()  # a fmt.Stringer
    if a is None or a is _MISSING:
        if verb == "v":
            return _pad("<nil>", width, flags.replace("0", ""))
        return _bad_verb(verb, a)
    if isinstance(a, bool):
        if verb in "tv":
            return _pad("true" if a else "false", width, flags.replace("0", ""))
        return _bad_verb(verb, a)
    if verb == "v" and "+" in flags and isinstance(a, (int, float)):
        flags = flags.replace("+", "")  # %+v: field names for structs, no signs for numbers
    if isinstance(a, int):
        if verb in "bcdoOqxXUv":
            return _fmt_int(a, verb, flags, width, prec)
        return _bad_verb(verb, a)
    if isinstance(a, float):
        if verb in "eEfFgGv":
            return _fmt_float(a, verb, flags, width, prec)
        return _bad_verb(verb, a)
    if isinstance(a, str):
        if verb in "vs":
            return _pad(a if prec is None else a[:prec], width, flags)
        if verb == "q":
            return _pad(_go_quote(a if prec is None else a[:prec], "+" in flags), width, flags)
        if verb in "xX":
            return _pad(_hex_bytes((a if prec is None else a[:prec]).encode("utf-8", "surrogateescape"), verb, flags), width, flags)
        return _bad_verb(verb, a)
    if isinstance(a, (bytes, bytearray)):
        if verb in "sqxX":
            return _fmt_arg(bytes(a).decode("utf-8", "surrogateescape"), verb, flags, width, prec)
        a = list(a)
    if isinstance(a, (list, tuple)):
        return "[" + " ".join(_fmt_arg(e, verb, flags, width, prec) for e in a) + "]"
    if isinstance(a, Mapping):
        parts = [
            _fmt_arg(k, verb, flags, width, prec) + ":" + _fmt_arg(a[k], verb, flags, width, prec)
            for k in _sort_keys(a.keys())
        ]
        return "map[" + " ".join(parts) + "]"
    fields = _fields_of(a)
    if fields is not None:
        if "+" in flags:
            return "{" + " ".join(k + ":" + _fmt_arg(v, verb, flags, width, prec) for k, v in fields) + "}"
        return "{" + " ".join(_fmt_arg(v, verb, flags, width, prec) for _, v in fields) + "}"
    return _pad(str(a), width, flags)


def _hex_bytes(b: bytes, verb: str, flags: str) -> str:
    fmt = "%02x" if verb == "x" else "%02X"
    prefix = ("0x" if verb == "x" else "0X") if "#" in flags else ""
    if " " in flags:
        return " ".join(prefix + fmt % c for c in b)
    return prefix + "".join(fmt % c for c in b)


def _sprintf(fmt: str, args) -> str:
    """Go's fmt.Sprintf for the common verbs (%v %s %d %q %x %X %t %f %e %g %c %o %b %U %%)."""
    out = []
    i, n, argnum = 0, len(fmt), 0
    while i < n:
        j = fmt.find("%", i)
        if j < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        i = j + 1
        flags = ""
        while i < n and fmt[i] in "+-# 0":
            flags += fmt[i]
            i += 1
        width = None
        if i < n and fmt[i] == "*":
            i += 1
            if argnum < len(args) and isinstance(args[argnum], int) and not isinstance(args[argnum], bool):
                width = args[argnum]
                if width < 0:
                    flags += "-"
                    width = -width
            else:
                out.append("%!(BADWIDTH)")
            argnum += 1
        else:
            s = i
            while i < n and fmt[i].isdigit():
                i += 1
            if i > s:
                width = int(fmt[s:i])
        prec = None
        if i < n and fmt[i] == ".":
            i += 1
            if i < n and fmt[i] == "*":
                i += 1
                if argnum < len(args) and isinstance(args[argnum], int) and not isinstance(args[argnum], bool):
                    prec = args[argnum] if args[argnum] >= 0 else None
                else:
                    out.append("%!(BADPREC)")
                argnum += 1
            else:
                s = i
                while i < n and fmt[i].isdigit():
                    i += 1
                prec = int(fmt[s:i]) if i > s else 0
        if i >= n:
            out.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        if verb == "%":
            out.append("%")
            continue
        if argnum >= len(args):
            out.append("%!" + verb + "(MISSING)")
            continue
        a = args[argnum]
        argnum += 1
        if verb == "T":
            out.append(_pad(_go_type(a), width, flags))
        else:
            out.append(_fmt_arg(a, verb, flags, width, prec))
    if argnum < len(args):
        extra = ", ".join(
            "<nil>" if a is None else _go_type(a) + "=" + _fmt_arg(a, "v") for a in args[argnum:]
        )
        out.append("%!(EXTRA " + extra + ")")
    return "".join(out)


def _sprint(args) -> str:
    out = []
    prev_string = False
    for i, a in enumerate(args):
        is_string = isinstance(a, str) and not isinstance(a, GoTime)
        if i > 0 and not is_string and not prev_string:
            out.append(" ")
        out.append(_fmt_arg(a, "v"))
        prev_string = is_string
    return "".join(out)


def _sprintln(args) -> str:
    return " ".join(_fmt_arg(a, "v") for a in args) + "\n"


# ---------------------------------------------------------------------------
# JSON like Go's encoding/json (podman's json function: Encoder with SetEscapeHTML(false))

# podman's `json` template function disables HTML escaping (containers/common
# pkg/report: enc.SetEscapeHTML(false)); plain json.Marshal would escape <, > and &.
JSON_ESCAPE_HTML = False

_JSON_ESC = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f",
             "\u2028": "\\u2028", "\u2029": "\\u2029", "<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}
_JSON_RES: dict = {}


def _json_re(escape_html: bool):
    r = _JSON_RES.get(escape_html)
    if r is None:
        chars = '\\x00-\\x1f"\\\\\u2028\u2029\ud800-\udfff' + ("<>&" if escape_html else "")
        r = _JSON_RES[escape_html] = re.compile("[" + chars + "]")
    return r


class _JSONUnsupported(Exception):
    pass


def _json_esc(m) -> str:
    ch = m.group(0)
    r = _JSON_ESC.get(ch)
    if r is not None:
        return r
    c = ord(ch)
    if 0xD800 <= c <= 0xDFFF:
        return "\\ufffd"
    return "\\u%04x" % c


def _json_str(s: str, escape_html: bool) -> str:
    return '"' + _json_re(escape_html).sub(_json_esc, s) + '"'


def _json_float(x: float) -> str:
    if x != x or x in (float("inf"), float("-inf")):
        raise _JSONUnsupported("unsupported value: %s" % _fmt_float(x, "v", "", None, None))
    if x == 0:
        return "-0" if _is_neg(x) else "0"
    a = abs(x)
    ds, dp = _float_digits(a)
    if a < 1e-6 or a >= 1e21:
        exp = dp - 1
        s = _e_form(ds, exp, 1 if exp < 0 else 2)
    else:
        s = _f_form(ds, dp)
    return ("-" if x < 0 else "") + s


def _json_encode(v, out: list, escape_html: bool) -> None:
    if v is None or v is _MISSING:
        out.append("null")
    elif isinstance(v, bool):
        out.append("true" if v else "false")
    elif isinstance(v, int):
        out.append(str(v))
    elif isinstance(v, float):
        out.append(_json_float(v))
    elif isinstance(v, str):
        out.append(_json_str(v, escape_html))
    elif isinstance(v, (bytes, bytearray)):
        import base64

        out.append('"' + base64.b64encode(bytes(v)).decode("ascii") + '"')
    elif isinstance(v, Mapping):
        out.append("{")
        first = True
        for k, val in v.items():
            if not first:
                out.append(",")
            first = False
            key = k if isinstance(k, str) else _fmt_arg(k, "v")
            out.append(_json_str(key, escape_html))
            out.append(":")
            _json_encode(val, out, escape_html)
        out.append("}")
    elif isinstance(v, (list, tuple, set, frozenset)):
        out.append("[")
        for i, e in enumerate(v):
            if i:
                out.append(",")
            _json_encode(e, out, escape_html)
        out.append("]")
    else:
        fields = _fields_of(v)
        if fields is not None:
            _json_encode(dict(fields), out, escape_html)
        else:
            out.append(_json_str(str(v), escape_html))


def _json_dumps(v, escape_html: bool = False) -> str:
    out: list = []
    _json_encode(v, out, escape_html)
    return "".join(out)


# ---------------------------------------------------------------------------
# lexer (mirrors text/template/parse/lex.go)

(
    _EOF, _ERROR, _TEXT, _LEFT, _RIGHT, _SPACE, _FIELD, _VAR, _IDENT, _STRING, _RAWSTRING,
    _NUMBER, _CHARCONST, _BOOL, _PIPE, _LPAREN, _RPAREN, _DECLARE, _ASSIGN, _CHAR, _KEYWORD,
) = range(21)

_KEYWORDS = frozenset(
    ["block", "break", "continue", "define", "else", "end", "if", "range", "nil", "template", "with"]
)


class _Tok:
    __slots__ = ("typ", "val", "pos")

    def __init__(self, typ, val, pos):
        self.typ, self.val, self.pos = typ, val, pos

    def __str__(self) -> str:
        if self.typ == _EOF:
            return "EOF"
        if self.typ == _ERROR:
            return self.val
        if self.typ == _KEYWORD:
            return "<%s>" % self.val
        if len(self.val) > 10:
            return _go_quote(self.val[:10]) + "..."
        return _go_quote(self.val)


def _is_alnum(c: str) -> bool:
    return c == "_" or c.isalnum()


def _rune_desc(c: str) -> str:
    """Go's %#U."""
    s = "U+%04X" % ord(c)
    return s + " '" + c + "'" if c.isprintable() else s


def _at_right_delim(text: str, p: int):
    """(is_delim, trim, end) at position p: "}}" or " -}}"."""
    if text.startswith("}}", p):
        return True, False, p + 2
    if p + 1 < len(text) and text[p] in _SPACES and text[p + 1] == "-" and text.startswith("}}", p + 2):
        return True, True, p + 4
    return False, False, p


def _at_terminator(text: str, p: int) -> bool:
    if p >= len(text):
        return True
    c = text[p]
    return c in _SPACES or c in ".,|:()" or text.startswith("}}", p)


def _scan_number(text: str, p: int):
    n = len(text)
    i = p
    if i < n and text[i] in "+-":
        i += 1
    digits = "0123456789_"
    if i < n and text[i] == "0":
        i += 1
        if i < n and text[i] in "xX":
            i += 1
            digits = "0123456789abcdefABCDEF_"
        elif i < n and text[i] in "oO":
            i += 1
            digits = "01234567_"
        elif i < n and text[i] in "bB":
            i += 1
            digits = "01_"
    while i < n and text[i] in digits:
        i += 1
    if i < n and text[i] == ".":
        i += 1
        while i < n and text[i] in digits:
            i += 1
    if len(digits) == 11 and i < n and text[i] in "eE":
        i += 1
        if i < n and text[i] in "+-":
            i += 1
        while i < n and text[i] in "0123456789_":
            i += 1
    if len(digits) == 23 and i < n and text[i] in "pP":
        i += 1
        if i < n and text[i] in "+-":
            i += 1
        while i < n and text[i] in "0123456789_":
            i += 1
    if i < n and text[i] == "i":
        i += 1
    if i < n and _is_alnum(text[i]):
        return i + 1, False
    return i, True


def _lex(text: str) -> list:
    toks: list = []
    n = len(text)
    pos = 0

    def add(typ, val, p):
        toks.append(_Tok(typ, val, p))

    while True:
        x = text.find("{{", pos)
        if x < 0:
            if pos < n:
                add(_TEXT, text[pos:], pos)
            add(_EOF, "", n)
            return toks
        after = x + 2
        trim_left = after + 1 < n and text[after] == "-" and text[after + 1] in _SPACES
        end = x
        if trim_left:
            end = pos + len(text[pos:x].rstrip(_SPACES))
        if end > pos:
            add(_TEXT, text[pos:end], pos)
        p = after + (2 if trim_left else 0)
        if text.startswith("/*", p):
            e = text.find("*/", p + 2)
            if e < 0:
                add(_ERROR, "unclosed comment", x)
                return toks
            ok, trim, q = _at_right_delim(text, e + 2)
            if not ok:
                add(_ERROR, "comment ends before closing delimiter", x)
                return toks
            pos = q
            if trim:
                while pos < n and text[pos] in _SPACES:
                    pos += 1
            continue
        add(_LEFT, "{{", x)
        depth = 0
        while True:
            ok, trim, q = _at_right_delim(text, p)
            if ok:
                if depth == 0:
                    add(_RIGHT, "}}", p)
                    pos = q
                    if trim:
                        while pos < n and text[pos] in _SPACES:
                            pos += 1
                    break
                add(_ERROR, "unclosed left paren", p)
                return toks
            if p >= n:
                add(_ERROR, "unclosed action", p)
                return toks
            c = text[p]
            start = p
            if c in _SPACES:
                while p < n and text[p] in _SPACES:
                    p += 1
                if text.startswith("-}}", p):  # " -}}": leave the space to the delimiter
                    p -= 1
                    if p == start:
                        continue
                add(_SPACE, text[start:p], start)
            elif c == "=":
                p += 1
                add(_ASSIGN, "=", start)
            elif c == ":":
                if not text.startswith(":=", p):
                    add(_ERROR, "expected :=", start)
                    return toks
                p += 2
                add(_DECLARE, ":=", start)
            elif c == "|":
                p += 1
                add(_PIPE, "|", start)
            elif c == '"' or c == "'":
                p += 1
                while True:
                    if p >= n or text[p] == "\n":
                        what = "quoted string" if c == '"' else "character constant"
                        add(_ERROR, "unterminated " + what, start)
                        return toks
                    ch = text[p]
                    p += 1
                    if ch == "\\":
                        if p >= n or text[p] == "\n":
                            what = "quoted string" if c == '"' else "character constant"
                            add(_ERROR, "unterminated " + what, start)
                            return toks
                        p += 1
                    elif ch == c:
                        break
                add(_STRING if c == '"' else _CHARCONST, text[start:p], start)
            elif c == "`":
                e = text.find("`", p + 1)
                if e < 0:
                    add(_ERROR, "unterminated raw quoted string", start)
                    return toks
                p = e + 1
                add(_RAWSTRING, text[start:p], start)
            elif c == "$" or (c == "." and not (p + 1 < n and text[p + 1] in "0123456789")):
                p += 1
                if _at_terminator(text, p):
                    if c == "$":
                        add(_VAR, "$", start)
                    else:
                        add(_KEYWORD, ".", start)
                    continue
                while p < n and _is_alnum(text[p]):
                    p += 1
                if not _at_terminator(text, p):
                    add(_ERROR, "bad character " + _rune_desc(text[p]), p)
                    return toks
                add(_VAR if c == "$" else _FIELD, text[start:p], start)
            elif c in "+-.0123456789":
                p, ok = _scan_number(text, p)
                if not ok:
                    add(_ERROR, "bad number syntax: " + _go_quote(text[start:p]), start)
                    return toks
                add(_NUMBER, text[start:p], start)
            elif _is_alnum(c):
                while p < n and _is_alnum(text[p]):
                    p += 1
                if not _at_terminator(text, p):
                    add(_ERROR, "bad character " + _rune_desc(text[p]), p)
                    return toks
                word = text[start:p]
                if word in _KEYWORDS:
                    add(_KEYWORD, word, start)
                elif word in ("true", "false"):
                    add(_BOOL, word, start)
                else:
                    add(_IDENT, word, start)
            elif c == "(":
                p += 1
                depth += 1
                add(_LPAREN, "(", start)
            elif c == ")":
                p += 1
                depth -= 1
                if depth < 0:
                    add(_ERROR, "unexpected right paren " + _rune_desc(c), start)
                    return toks
                add(_RPAREN, ")", start)
            elif ord(c) < 0x80 and c.isprintable():
                p += 1
                add(_CHAR, c, start)
            else:
                add(_ERROR, "unrecognized character in action: " + _rune_desc(c), start)
                return toks


# ---------------------------------------------------------------------------
# parse tree


class _Node:
    __slots__ = ("pos",)


class _List(_Node):
    __slots__ = ("nodes",)

    def __init__(self, pos):
        self.pos, self.nodes = pos, []

    def __str__(self):
        return "".join(str(n) for n in self.nodes)


class _Text(_Node):
    __slots__ = ("text",)

    def __init__(self, pos, text):
        self.pos, self.text = pos, text

    def __str__(self):
        return self.text


class _Pipe(_Node):
    __slots__ = ("decl", "is_assign", "cmds")

    def __init__(self, pos):
        self.pos, self.decl, self.is_assign, self.cmds = pos, [], False, []

    def __str__(self):
        s = ""
        if self.decl:
            s = ", ".join(self.decl) + (" = " if self.is_assign else " := ")
        return s + " | ".join(str(c) for c in self.cmds)


class _Action(_Node):
    __slots__ = ("pipe",)

    def __init__(self, pos, pipe):
        self.pos, self.pipe = pos, pipe

    def __str__(self):
        return "{{%s}}" % self.pipe


class _Command(_Node):
    __slots__ = ("args",)

    def __init__(self, pos):
        self.pos, self.args = pos, []

    def __str__(self):
        return " ".join("(%s)" % a if isinstance(a, _Pipe) else str(a) for a in self.args)


class _Field(_Node):
    __slots__ = ("idents",)

    def __init__(self, pos, idents):
        self.pos, self.idents = pos, idents

    def __str__(self):
        return "." + ".".join(self.idents)


class _Variable(_Node):
    __slots__ = ("idents",)

    def __init__(self, pos, idents):
        self.pos, self.idents = pos, idents

    def __str__(self):
        return ".".join(self.idents)


class _Chain(_Node):
    __slots__ = ("node", "fields")

    def __init__(self, pos, node, fields):
        self.pos, self.node, self.fields = pos, node, fields

    def __str__(self):
        s = "(%s)" % self.node if isinstance(self.node, _Pipe) else str(self.node)
        return s + "." + ".".join(self.fields)


class _Identifier(_Node):
    __slots__ = ("name",)

    def __init__(self, pos, name):
        self.pos, self.name = pos, name

    def __str__(self):
        return self.name


class _Dot(_Node):
    __slots__ = ()

    def __init__(self, pos):
        self.pos = pos

    def __str__(self):
        return "."


class _Nil(_Node):
    __slots__ = ()

    def __init__(self, pos):
        self.pos = pos

    def __str__(self):
        return "nil"


class _Const(_Node):
    """Bool, number and string literals."""

    __slots__ = ("value", "text")

    def __init__(self, pos, value, text):
        self.pos, self.value, self.text = pos, value, text

    def __str__(self):
        return self.text


class _Bool(_Const):
    __slots__ = ()


class _Number(_Const):
    __slots__ = ()


class _String(_Const):
    __slots__ = ()


class _Control(_Node):
    __slots__ = ("pipe", "list", "else_list")
    keyword = ""

    def __init__(self, pos, pipe, lst, else_list):
        self.pos, self.pipe, self.list, self.else_list = pos, pipe, lst, else_list

    def __str__(self):
        s = "{{%s %s}}%s" % (self.keyword, self.pipe, self.list)
        if self.else_list is not None:
            s += "{{else}}%s" % self.else_list
        return s + "{{end}}"


class _If(_Control):
    __slots__ = ()
    keyword = "if"


class _Range(_Control):
    __slots__ = ()
    keyword = "range"


class _With(_Control):
    __slots__ = ()
    keyword = "with"


class _Break(_Node):
    __slots__ = ()

    def __init__(self, pos):
        self.pos = pos

    def __str__(self):
        return "{{break}}"


class _Continue(_Node):
    __slots__ = ()

    def __init__(self, pos):
        self.pos = pos

    def __str__(self):
        return "{{continue}}"


class _End(_Node):
    __slots__ = ()

    def __init__(self, pos):
        self.pos = pos

    def __str__(self):
        return "{{end}}"


class _Else(_Node):
    __slots__ = ()

    def __init__(self, pos):
        self.pos = pos

    def __str__(self):
        return "{{else}}"


# ---------------------------------------------------------------------------
# literals


_UNQUOTE_ESC = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


def _go_unquote(q: str) -> str:
    """strconv.Unquote for "…", `…` and '…'; ValueError("invalid syntax") when malformed."""
    quote = q[0]
    if len(q) < 2 or q[-1] != quote:
        raise ValueError("invalid syntax")
    body = q[1:-1]
    if quote == "`":
        return body.replace("\r", "")
    out = []
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        i += 1
        if c == quote:
            raise ValueError("invalid syntax")
        if c != "\\":
            out.append(c)
            continue
        if i >= n:
            raise ValueError("invalid syntax")
        c = body[i]
        i += 1
        if c in _UNQUOTE_ESC:
            out.append(_UNQUOTE_ESC[c])
        elif c == quote:
            out.append(c)
        elif c in "xuU":
            k = {"x": 2, "u": 4, "U": 8}[c]
            h = body[i:i + k]
            if len(h) != k or any(ch not in "0123456789abcdefABCDEF" for ch in h):
                raise ValueError("invalid syntax")
            i += k
            v = int(h, 16)
            if c != "x" and (v > 0x10FFFF or 0xD800 <= v <= 0xDFFF):
                raise ValueError("invalid syntax")
            out.append(chr(v))
        elif c in "01234567":
            h = c + body[i:i + 2]
            if len(h) != 3 or any(ch not in "01234567" for ch in h):
                raise ValueError("invalid syntax")
            i += 2
            v = int(h, 8)
            if v > 255:
                raise ValueError("invalid syntax")
            out.append(chr(v))
        else:
            raise ValueError("invalid syntax")
    s = "".join(out)
    if quote == "'" and len(s) != 1:
        raise ValueError("invalid syntax")
    return s


def _parse_number(text: str):
    s = text.replace("_", "")
    body = s
    sign = 1
    if body[:1] in ("+", "-"):
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    low = body.lower()
    if not body or low.endswith("i"):
        raise ValueError(text)
    if low.startswith("0x"):
        if "." in low or "p" in low:
            return sign * float.fromhex(body)
        return sign * int(body[2:], 16)
    if low.startswith("0o"):
        return sign * int(body[2:], 8)
    if low.startswith("0b"):
        return sign * int(body[2:], 2)
    if "." in low or "e" in low:
        return sign * float(body)
    if len(body) > 1 and body[0] == "0":
        return sign * int(body, 8)
    return sign * int(body)


# ---------------------------------------------------------------------------
# parser (mirrors text/template/parse/parse.go)


class _Parser:
    def __init__(self, text: str, name: str):
        self.text = text
        self.name = name
        self.toks = _lex(text)
        self.i = 0
        self.last = self.toks[0]
        self.vars = ["$"]
        self.range_depth = 0
        self.action_line = 0

    # token stream
    def next(self) -> _Tok:
        t = self.toks[self.i] if self.i < len(self.toks) else self.toks[-1]
        self.i += 1
        self.last = t
        return t

    def backup(self) -> None:
        self.i -= 1

    def peek(self) -> _Tok:
        t = self.next()
        self.backup()
        return t

    def next_non_space(self) -> _Tok:
        while True:
            t = self.next()
            if t.typ != _SPACE:
                return t

    def peek_non_space(self) -> _Tok:
        t = self.next_non_space()
        self.backup()
        return t

    # errors
    def line_of(self, pos: int) -> int:
        return self.text.count("\n", 0, pos) + 1

    def errorf(self, msg: str):
        line = self.line_of(self.last.pos)
        raise TemplateError(_one_line("template: %s:%d: %s" % (self.name, line, msg)))

    def unexpected(self, tok: _Tok, context: str):
        if tok.typ == _ERROR:
            extra = ""
            line = self.line_of(tok.pos)
            if self.action_line and self.action_line != line:
                extra = " in action started at %s:%d" % (self.name, self.action_line)
                if tok.val.endswith(" action"):
                    extra = extra[len(" in action"):]
            self.errorf("%s%s" % (tok, extra))
        self.errorf("unexpected %s in %s" % (tok, context))

    def expect(self, typ, context: str) -> _Tok:
        t = self.next_non_space()
        if t.typ != typ:
            self.unexpected(t, context)
        return t

    # grammar
    def parse(self) -> _List:
        root = _List(0)
        while self.peek().typ != _EOF:
            n = self.text_or_action()
            if isinstance(n, (_End, _Else)):
                self.errorf("unexpected %s" % n)
            root.nodes.append(n)
        return root

    def item_list(self):
        lst = _List(self.peek_non_space().pos)
        while self.peek_non_space().typ != _EOF:
            n = self.text_or_action()
            if isinstance(n, (_End, _Else)):
                return lst, n
            lst.nodes.append(n)
        self.errorf("unexpected EOF")

    def text_or_action(self):
        t = self.next_non_space()
        if t.typ == _TEXT:
            return _Text(t.pos, t.val)
        if t.typ == _LEFT:
            self.action_line = self.line_of(t.pos)
            try:
                return self.action()
            finally:
                self.action_line = 0
        self.unexpected(t, "input")

    def action(self):
        t = self.next_non_space()
        if t.typ == _KEYWORD:
            k = t.val
            if k in ("block", "define", "template"):
                self.errorf("{{%s}} is not supported" % k)
            if k in ("break", "continue"):
                t2 = self.next_non_space()
                if t2.typ != _RIGHT:
                    self.unexpected(t2, "{{%s}}" % k)
                if self.range_depth == 0:
                    self.errorf("{{%s}} outside {{range}}" % k)
                return _Break(t.pos) if k == "break" else _Continue(t.pos)
            if k == "else":
                p = self.peek_non_space()
                if p.typ == _KEYWORD and p.val in ("if", "with"):
                    return _Else(p.pos)
                return _Else(self.expect(_RIGHT, "else").pos)
            if k == "end":
                return _End(self.expect(_RIGHT, "end").pos)
            if k == "if":
                return _If(t.pos, *self.parse_control("if"))
            if k == "range":
                return _Range(t.pos, *self.parse_control("range"))
            if k == "with":
                return _With(t.pos, *self.parse_control("with"))
        self.backup()
        t = self.peek()
        return _Action(t.pos, self.pipeline("command", _RIGHT))

    def parse_control(self, context: str):
        mark = len(self.vars)
        try:
            pipe = self.pipeline(context, _RIGHT)
            if context == "range":
                self.range_depth += 1
            lst, nxt = self.item_list()
            if context == "range":
                self.range_depth -= 1
            else_list = None
            if isinstance(nxt, _Else):
                p = self.peek()
                if context in ("if", "with") and p.typ == _KEYWORD and p.val == context:
                    self.next()
                    else_list = _List(nxt.pos)
                    cls = _If if context == "if" else _With
                    else_list.nodes.append(cls(p.pos, *self.parse_control(context)))
                else:
                    else_list, nxt = self.item_list()
                    if not isinstance(nxt, _End):
                        self.errorf("expected end; found %s" % nxt)
            return pipe, lst, else_list
        finally:
            del self.vars[mark:]

    def pipeline(self, context: str, end) -> _Pipe:
        pipe = _Pipe(self.peek_non_space().pos)
        while True:  # declarations
            v = self.peek_non_space()
            if v.typ != _VAR:
                break
            save = self.i
            self.next()
            nxt = self.peek_non_space()
            if nxt.typ in (_ASSIGN, _DECLARE):
                pipe.is_assign = nxt.typ == _ASSIGN
                self.next_non_space()
                pipe.decl.append(v.val)
                self.vars.append(v.val)
                break
            if nxt.typ == _CHAR and nxt.val == ",":
                self.next_non_space()
                pipe.decl.append(v.val)
                self.vars.append(v.val)
                if context == "range" and len(pipe.decl) < 2:
                    if self.peek_non_space().typ in (_VAR, _RIGHT, _RPAREN):
                        continue
                    self.errorf("range can only initialize variables")
                self.errorf("too many declarations in %s" % context)
            self.i = save
            break
        while True:
            t = self.next_non_space()
            if t.typ == end:
                self.check_pipeline(pipe, context)
                return pipe
            if t.typ in (_BOOL, _CHARCONST, _FIELD, _IDENT, _NUMBER, _RAWSTRING, _STRING, _VAR, _LPAREN) or (
                t.typ == _KEYWORD and t.val in (".", "nil")
            ):
                self.backup()
                pipe.cmds.append(self.command())
            else:
                self.unexpected(t, context)

    def check_pipeline(self, pipe: _Pipe, context: str) -> None:
        if not pipe.cmds:
            self.errorf("missing value for %s" % context)
        for i, c in enumerate(pipe.cmds[1:]):
            if isinstance(c.args[0], (_Const, _Dot, _Nil)):
                self.errorf("non executable command in pipeline stage %d" % (i + 2))

    def command(self) -> _Command:
        cmd = _Command(self.peek_non_space().pos)
        while True:
            self.peek_non_space()
            op = self.operand()
            if op is not None:
                cmd.args.append(op)
            t = self.next()
            if t.typ == _SPACE:
                continue
            if t.typ in (_RIGHT, _RPAREN):
                self.backup()
            elif t.typ != _PIPE:
                self.unexpected(t, "operand")
            break
        if not cmd.args:
            self.errorf("empty command")
        return cmd

    def operand(self):
        node = self.term()
        if node is None:
            return None
        if self.peek().typ == _FIELD:
            pos = self.peek().pos
            fields = []
            while self.peek().typ == _FIELD:
                fields.append(self.next().val[1:])
            if isinstance(node, _Field):
                node = _Field(node.pos, node.idents + fields)
            elif isinstance(node, _Variable):
                node = _Variable(node.pos, node.idents + fields)
            elif isinstance(node, (_Const, _Nil, _Dot)):
                self.errorf("unexpected . after term %s" % _go_quote(str(node)))
            else:
                node = _Chain(pos, node, fields)
        return node

    def term(self):
        t = self.next_non_space()
        typ = t.typ
        if typ == _IDENT:
            if t.val not in _FUNCS:
                self.errorf('function "%s" not defined' % t.val)
            return _Identifier(t.pos, t.val)
        if typ == _KEYWORD and t.val == ".":
            return _Dot(t.pos)
        if typ == _KEYWORD and t.val == "nil":
            return _Nil(t.pos)
        if typ == _VAR:
            if t.val not in self.vars:
                self.errorf('undefined variable "%s"' % t.val)
            return _Variable(t.pos, [t.val])
        if typ == _FIELD:
            return _Field(t.pos, [t.val[1:]])
        if typ == _BOOL:
            return _Bool(t.pos, t.val == "true", t.val)
        if typ == _CHARCONST:
            try:
                return _Number(t.pos, ord(_go_unquote(t.val)), t.val)
            except ValueError:
                self.errorf("malformed character constant: %s" % t.val)
        if typ == _NUMBER:
            try:
                return _Number(t.pos, _parse_number(t.val), t.val)
            except (ValueError, OverflowError):
                self.errorf("illegal number syntax: %s" % _go_quote(t.val))
        if typ == _LPAREN:
            return self.pipeline("parenthesized pipeline", _RPAREN)
        if typ in (_STRING, _RAWSTRING):
            try:
                return _String(t.pos, _go_unquote(t.val), t.val)
            except ValueError:
                self.errorf("invalid syntax")
        self.backup()
        return None


# ---------------------------------------------------------------------------
# functions


class _FnError(Exception):
    """Raised by a template function: reported as "error calling NAME: MSG"."""


class _ArgError(Exception):
    """A wrong argument type: reported as is (Go: "wrong type for value; ...")."""


def _want_str(v) -> str:
    if isinstance(v, str):
        return v
    if v is None:
        raise _ArgError("invalid value; expected string")
    raise _ArgError("wrong type for value; expected string; got %s" % _go_type(v))


def _want_int(v) -> int:
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    if isinstance(v, float) and v == int(v):
        return int(v)
    if v is None:
        raise _ArgError("invalid value; expected int")
    raise _ArgError("wrong type for value; expected int; got %s" % _go_type(v))


def _kind(v) -> str:
    if v is None or v is _MISSING:
        return "invalid"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    return "other"


def _fn_eq(a, *bs) -> bool:
    if not bs:
        raise _FnError("missing argument for comparison")
    ka = _kind(a)
    for b in bs:
        kb = _kind(b)
        if ka != kb:
            if ka != "invalid" and kb != "invalid":
                raise _FnError("incompatible types for comparison")
            continue
        if ka == "invalid":
            return True
        if ka == "other":
            if isinstance(a, (list, tuple, dict, set, Mapping)) or isinstance(b, (list, tuple, dict, set, Mapping)):
                raise _FnError("non-comparable type %s: %s" % (_fmt_arg(a, "v"), _go_type(a)))
        if a == b:
            return True
    return False


def _fn_ne(a, b) -> bool:
    return not _fn_eq(a, b)


def _fn_lt(a, b) -> bool:
    ka, kb = _kind(a), _kind(b)
    if ka in ("invalid", "other") or kb in ("invalid", "other"):
        raise _FnError("invalid type for comparison")
    if ka != kb:
        raise _FnError("incompatible types for comparison")
    if ka == "bool":
        raise _FnError("invalid type for comparison")
    return a < b


def _fn_le(a, b) -> bool:
    return _fn_lt(a, b) or _fn_eq(a, b)


def _fn_gt(a, b) -> bool:
    return not _fn_le(a, b)


def _fn_ge(a, b) -> bool:
    return not _fn_lt(a, b)


def _fn_not(a) -> bool:
    return not _truth(a)


def _zero_value_for(d):
    """The zero value Go's index returns for a missing key, guessed from the map's values."""
    types = {type(v) for v in d.values()}
    if not types or types == {str}:
        return ""
    if types == {bool}:
        return False
    if types == {int}:
        return 0
    if types == {float}:
        return 0.0
    return _MISSING


def _fn_index(item, *indexes):
    if not indexes:
        return item
    for ix in indexes:
        if item is None or item is _MISSING:
            item = {}  # a nil map: every key is missing
        if isinstance(item, (list, tuple, str, bytes, bytearray)):
            if not isinstance(ix, int) or isinstance(ix, bool):
                raise _FnError("cannot index slice/array with type %s" % _go_type(ix))
            seq = item.encode("utf-8", "surrogateescape") if isinstance(item, str) else item
            if ix < 0 or ix >= len(seq):
                raise _FnError("index out of range: %d" % ix)
            item = seq[ix]
        elif isinstance(item, Mapping):
            try:
                found = ix in item
            except TypeError:
                raise _FnError("value has type %s; should be string" % _go_type(ix)) from None
            item = item[ix] if found else _zero_value_for(item)
        else:
            raise _FnError("can't index item of type %s" % _go_type(item))
    return item


def _fn_slice(item, *indexes):
    if item is None or item is _MISSING:
        raise _FnError("slice of untyped nil")
    if len(indexes) > 3:
        raise _FnError("too many slice indexes: %d" % len(indexes))
    if not isinstance(item, (list, tuple, str)):
        raise _FnError("can't slice item of type %s" % _go_type(item))
    if isinstance(item, str) and len(indexes) == 3:
        raise _FnError("cannot 3-index slice a string")
    idx = [0, len(item)]
    for i, ix in enumerate(indexes[:2]):
        if not isinstance(ix, int) or isinstance(ix, bool):
            raise _FnError("cannot index slice/array with type %s" % _go_type(ix))
        if ix < 0 or ix > len(item):
            raise _FnError("index out of range: %d" % ix)
        idx[i] = ix
    if idx[0] > idx[1]:
        raise _FnError("invalid slice index: %d > %d" % (idx[0], idx[1]))
    return item[idx[0]:idx[1]]


def _fn_len(v) -> int:
    if v is None or v is _MISSING:
        return 0  # a nil slice/map (we cannot tell an untyped nil apart)
    if isinstance(v, str):
        return len(v.encode("utf-8", "surrogateescape"))
    if isinstance(v, (list, tuple, dict, bytes, bytearray, set, frozenset, Mapping)):
        return len(v)
    raise _FnError("len of type %s" % _go_type(v))


def _eval_args_str(args) -> str:
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return _sprint(args)


def _fn_html(*args) -> str:
    s = _eval_args_str(args)
    return (
        s.replace("&", "&amp;").replace("'", "&#39;").replace("<", "&lt;").replace(">", "&gt;")
        .replace('"', "&#34;").replace("\x00", "\ufffd")
    )


def _fn_js(*args) -> str:
    out = []
    for ch in _eval_args_str(args):
        if ch in "\\'\"":
            out.append("\\" + ch)
        elif ch in "<>&=`":
            out.append("\\u%04X" % ord(ch))
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append("\\u%04X" % ord(ch))
    return "".join(out)


def _fn_urlquery(*args) -> str:
    from urllib.parse import quote_plus

    return quote_plus(_eval_args_str(args), safe="")


def _fn_printf(fmt, *args) -> str:
    return _sprintf(_want_str(fmt), args)


def _fn_print(*args) -> str:
    return _sprint(args)


def _fn_println(*args) -> str:
    return _sprintln(args)


def _fn_join(elems, sep) -> str:
    sep = _want_str(sep)
    if elems is None:
        return ""
    if isinstance(elems, str) or not isinstance(elems, (list, tuple)):
        raise _ArgError("wrong type for value; expected []string; got %s" % _go_type(elems))
    return sep.join(e if isinstance(e, str) else _fmt_arg(e, "v") for e in elems)


def _fn_json(v) -> str:
    try:
        return _json_dumps(v, JSON_ESCAPE_HTML)
    except (_JSONUnsupported, RecursionError):
        return ""  # podman ignores the encoder's error and prints nothing


def _fn_lower(s) -> str:
    return _want_str(s).lower()


def _fn_upper(s) -> str:
    return _want_str(s).upper()


def _fn_title(s) -> str:
    """strings.Title: upper-case the first letter of every word, leave the rest alone."""
    out = []
    prev = " "
    for ch in _want_str(s):
        if prev.isascii():
            sep = not (prev.isalnum() or prev == "_")
        else:
            sep = not prev.isalnum() and prev.isspace()
        out.append(ch.upper() if sep else ch)
        prev = ch
    return "".join(out)


def _fn_pad(s, prefix, suffix) -> str:
    """podman's pad: PREFIX spaces before and SUFFIX spaces after a non-empty string."""
    s = _want_str(s)
    if s == "":
        return s
    return " " * max(_want_int(prefix), 0) + s + " " * max(_want_int(suffix), 0)


def _fn_split(s, sep) -> list:
    s, sep = _want_str(s), _want_str(sep)
    if sep == "":
        return list(s)
    return s.split(sep)


def _fn_truncate(s, n) -> str:
    """podman's truncate STRING LENGTH."""
    s, n = _want_str(s), _want_int(n)
    if n < 0:
        raise _FnError("slice bounds out of range [:%d]" % n)
    return s if len(s) < n else s[:n]


def _fn_trunc(n, s) -> str:
    """sprig's trunc LENGTH STRING (negative LENGTH keeps the end)."""
    n, s = _want_int(n), _want_str(s)
    if n < 0:
        return s[n:] if len(s) + n > 0 else s
    return s[:n]


def _fn_contains(s, substr) -> bool:
    return _want_str(substr) in _want_str(s)


def _fn_replace(s, old, new, n) -> str:
    """strings.Replace S OLD NEW N (N < 0: every occurrence)."""
    s, old, new, n = _want_str(s), _want_str(old), _want_str(new), _want_int(n)
    return s.replace(old, new, n if n >= 0 else -1)


def _fn_call(*args):
    raise _FnError("call is not supported")


# name -> (function, min args, max args or None)
_FUNCS = {
    "and": (None, 1, None),
    "or": (None, 1, None),
    "not": (_fn_not, 1, 1),
    "eq": (_fn_eq, 1, None),
    "ne": (_fn_ne, 2, 2),
    "lt": (_fn_lt, 2, 2),
    "le": (_fn_le, 2, 2),
    "gt": (_fn_gt, 2, 2),
    "ge": (_fn_ge, 2, 2),
    "index": (_fn_index, 1, None),
    "slice": (_fn_slice, 1, None),
    "len": (_fn_len, 1, 1),
    "print": (_fn_print, 0, None),
    "printf": (_fn_printf, 1, None),
    "println": (_fn_println, 0, None),
    "html": (_fn_html, 0, None),
    "js": (_fn_js, 0, None),
    "urlquery": (_fn_urlquery, 0, None),
    "call": (_fn_call, 1, None),
    # containers/common pkg/report DefaultFuncs
    "join": (_fn_join, 2, 2),
    "json": (_fn_json, 1, 1),
    "lower": (_fn_lower, 1, 1),
    "upper": (_fn_upper, 1, 1),
    "title": (_fn_title, 1, 1),
    "pad": (_fn_pad, 3, 3),
    "split": (_fn_split, 2, 2),
    "truncate": (_fn_truncate, 2, 2),
    # extras
    "trunc": (_fn_trunc, 2, 2),
    "contains": (_fn_contains, 2, 2),
    "replace": (_fn_replace, 4, 4),
}

# In a table's header line these return their (header) argument unchanged.
_HEADER_PASSTHRU = frozenset(["json", "index", "slice", "join", "split", "len"])


# ---------------------------------------------------------------------------
# execution


class _BreakSignal(Exception):
    pass


class _ContinueSignal(Exception):
    pass


def _camel_split(name: str) -> list:
    """github.com/fatih/camelcase Split (as vendored by containers/common)."""
    runs: list = []
    last = 0
    for ch in name:
        if ch.islower():
            cls = 1
        elif ch.isupper():
            cls = 2
        elif ch.isdigit():
            cls = 3
        else:
            cls = 4
        if cls == last and runs:
            runs[-1].append(ch)
        else:
            runs.append([ch])
        last = cls
    for i in range(len(runs) - 1):
        if runs[i] and runs[i][0].isupper() and runs[i + 1][0].islower():
            runs[i + 1].insert(0, runs[i].pop())
    return ["".join(r) for r in runs if r]


def _default_header(name: str) -> str:
    return " ".join(_camel_split(name)).upper()


class _State:
    def __init__(self, tmpl: "Template", data, headers=None):
        self.tmpl = tmpl
        self.out: list = []
        self.vars = [("$", data)]
        self.node = None
        self.headers = headers  # not None: rendering a table's header line

    # errors
    def error(self, msg: str):
        name = self.tmpl.name
        node = self.node
        if node is None:
            raise TemplateError(_one_line("template: %s: %s" % (name, msg)))
        text = self.tmpl.text[: node.pos]
        line = text.count("\n") + 1
        col = node.pos - (text.rfind("\n") + 1) if "\n" in text else node.pos
        ctx = str(node)
        if len(ctx) > 20:
            ctx = ctx[:20] + "..."
        raise TemplateError(
            _one_line('template: %s:%d:%d: executing "%s" at <%s>: %s' % (name, line, col, name, ctx, msg))
        )

    # variables
    def var_value(self, name: str):
        for n, v in reversed(self.vars):
            if n == name:
                return v
        self.error("undefined variable: %s" % name)

    def set_var(self, name: str, value) -> None:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                self.vars[i] = (name, value)
                return
        self.error("undefined variable: %s" % name)

    def header_for(self, name: str) -> _HeaderValue:
        h = self.headers.get(name)
        return _HeaderValue(h.upper() if isinstance(h, str) else _default_header(name))

    # walking
    def walk(self, dot, node) -> None:
        t = type(node)
        if t is _Text:
            self.out.append(node.text)
        elif t is _Action:
            self.node = node
            val = self.eval_top(dot, node.pipe)
            if not node.pipe.decl:
                self.out.append(self.print_value(val))
        elif t is _List:
            for n in node.nodes:
                self.walk(dot, n)
        elif t is _If or t is _With:
            mark = len(self.vars)
            try:
                val = self.eval_top(dot, node.pipe)
                if _truth(val):
                    self.walk(val if t is _With else dot, node.list)
                elif node.else_list is not None:
                    self.walk(dot, node.else_list)
            finally:
                del self.vars[mark:]
        elif t is _Range:
            self.walk_range(dot, node)
        elif t is _Break:
            raise _BreakSignal()
        elif t is _Continue:
            raise _ContinueSignal()
        else:  # pragma: no cover - the parser makes no other nodes
            self.error("unknown node: %s" % node)

    def eval_top(self, dot, pipe: _Pipe):
        if self.headers is None:
            return self.eval_pipeline(dot, pipe)
        try:
            return self.eval_pipeline(dot, pipe)
        except TemplateError:
            # A header line must not fail where a data row would not: fall back to
            # the header of the last field the pipeline names.
            name = _last_field(pipe)
            val = self.header_for(name) if name else _HeaderValue("")
            for v in pipe.decl:
                if pipe.is_assign:
                    self.set_var(v, val)
                else:
                    self.vars.append((v, val))
            return val

    def range_items(self, val):
        if val is None or val is _MISSING:
            return []
        if isinstance(val, _HeaderValue):
            return [(val, val)]
        if isinstance(val, bool):
            self.error("range can't iterate over %s" % _fmt_arg(val, "v"))
        if isinstance(val, int):  # lazily: memory must not grow with the number
            return zip(range(val), range(val)) if val > 0 else []
        if isinstance(val, (list, tuple)):
            return list(enumerate(val))
        if isinstance(val, Mapping):
            return [(k, val[k]) for k in _sort_keys(val.keys())]
        self.error("range can't iterate over %s" % _fmt_arg(val, "v"))

    def walk_range(self, dot, node: _Range) -> None:
        self.node = node
        mark = len(self.vars)
        try:
            val = self.eval_top(dot, node.pipe)
            items = self.range_items(val)
            decl = node.pipe.decl
            if isinstance(val, int) and not isinstance(val, bool) and len(decl) > 1:
                self.error("can't use %d to iterate over more than one variable" % val)
            if not items:
                if node.else_list is not None:
                    self.walk(dot, node.else_list)
                return
            for key, elem in items:
                if decl:
                    if node.pipe.is_assign:
                        if len(decl) > 1:
                            self.set_var(decl[0], key)
                            self.set_var(decl[1], elem)
                        else:
                            self.set_var(decl[0], elem)
                    else:
                        self.vars[-1] = (self.vars[-1][0], elem)
                        if len(decl) > 1:
                            self.vars[-2] = (self.vars[-2][0], key)
                inner = len(self.vars)
                try:
                    self.walk(elem, node.list)
                except _ContinueSignal:
                    pass
                except _BreakSignal:
                    break
                finally:
                    del self.vars[inner:]
        finally:
            del self.vars[mark:]

    def print_value(self, v) -> str:
        if v is None or v is _MISSING:
            return "<no value>"
        if isinstance(v, str) and not isinstance(v, GoTime):
            return str(v)
        return _fmt_arg(v, "v")

    # evaluation
    def eval_pipeline(self, dot, pipe: _Pipe):
        value = _NOFINAL
        for cmd in pipe.cmds:
            value = self.eval_command(dot, cmd, value)
        for name in pipe.decl:
            if pipe.is_assign:
                self.set_var(name, value)
            else:
                self.vars.append((name, value))
        return value

    def not_a_function(self, args, final) -> None:
        if (args is not None and len(args) > 1) or final is not _NOFINAL:
            self.error("can't give argument to non-function %s" % args[0])

    def eval_command(self, dot, cmd: _Command, final):
        first = cmd.args[0]
        t = type(first)
        if t is _Field:
            return self.eval_field_chain(dot, dot, first, first.idents, cmd.args, final)
        if t is _Chain:
            return self.eval_chain(dot, first, cmd.args, final)
        if t is _Identifier:
            return self.eval_function(dot, first, cmd, cmd.args, final)
        if t is _Pipe:
            self.not_a_function(cmd.args, final)
            return self.eval_pipeline(dot, first)
        if t is _Variable:
            return self.eval_variable(dot, first, cmd.args, final)
        self.node = first
        self.not_a_function(cmd.args, final)
        if t is _Dot:
            return dot
        if t is _Nil:
            self.error("nil is not a command")
        return first.value

    def eval_arg(self, dot, n):
        self.node = n
        t = type(n)
        if t is _Dot:
            return dot
        if t is _Nil:
            return None
        if t is _Field:
            return self.eval_field_chain(dot, dot, n, n.idents, None, _NOFINAL)
        if t is _Variable:
            return self.eval_variable(dot, n, None, _NOFINAL)
        if t is _Pipe:
            return self.eval_pipeline(dot, n)
        if t is _Identifier:
            return self.eval_function(dot, n, n, None, _NOFINAL)
        if t is _Chain:
            return self.eval_chain(dot, n, None, _NOFINAL)
        return n.value

    def eval_variable(self, dot, var: _Variable, args, final):
        self.node = var
        value = self.var_value(var.idents[0])
        if len(var.idents) == 1:
            self.not_a_function(args, final)
            return value
        return self.eval_field_chain(dot, value, var, var.idents[1:], args, final)

    def eval_chain(self, dot, chain: _Chain, args, final):
        self.node = chain
        if isinstance(chain.node, _Nil):
            self.error("indirection through explicit nil in %s" % chain)
        receiver = self.eval_arg(dot, chain.node)
        return self.eval_field_chain(dot, receiver, chain, chain.fields, args, final)

    def eval_field_chain(self, dot, receiver, node, idents, args, final):
        n = len(idents)
        for i in range(n - 1):
            self.node = node
            receiver = self.eval_field(dot, idents[i], None, _NOFINAL, receiver)
        self.node = node
        return self.eval_field(dot, idents[-1], args, final, receiver)

    def eval_field(self, dot, name: str, args, final, receiver):
        has_args = (args is not None and len(args) > 1) or final is not _NOFINAL
        if receiver is _MISSING:
            return _MISSING
        if self.headers is not None and isinstance(receiver, _HeaderValue):
            return self.header_for(name)
        if receiver is None:
            self.error("nil pointer evaluating interface {}.%s" % name)
        if isinstance(receiver, Mapping):
            if has_args:
                self.error("%s is not a method but has arguments" % name)
            try:
                return receiver[name]
            except KeyError:
                return _MISSING
            except TypeError:
                self.error("can't evaluate field %s in type %s" % (name, _go_type(receiver)))
        if not isinstance(receiver, _BUILTIN_TYPES) and not name.startswith("_"):
            try:
                attr = getattr(receiver, name)
            except AttributeError:
                attr = _MISSING
            except Exception as e:  # a failing property
                self.error("error calling %s: %s" % (name, e))
            if attr is not _MISSING:
                if callable(attr) and not isinstance(attr, type):
                    node = self.node
                    call_args = [self.eval_arg(dot, a) for a in (args[1:] if args else [])]
                    if final is not _NOFINAL:
                        call_args.append(final)
                    self.node = node
                    try:
                        return attr(*[None if a is _MISSING else a for a in call_args])
                    except TemplateError:
                        raise
                    except Exception as e:
                        self.error("error calling %s: %s" % (name, e))
                if has_args:
                    self.error("%s is not a method but has arguments" % name)
                return attr
        self.error("can't evaluate field %s in type %s" % (name, _go_type(receiver)))

    def eval_function(self, dot, ident: _Identifier, cmd, args, final):
        name = ident.name
        fn, lo, hi = _FUNCS[name]
        argnodes = args[1:] if args else []
        nargs = len(argnodes) + (final is not _NOFINAL)
        self.node = cmd
        if nargs < lo or (hi is not None and nargs > hi):
            if hi is None:
                self.error("wrong number of args for %s: want at least %d got %d" % (name, lo, nargs))
            self.error("wrong number of args for %s: want %d got %d" % (name, lo, nargs))
        if fn is None:  # and / or: evaluate lazily, return the deciding operand
            want = name == "or"
            v = None
            for a in argnodes:
                v = self.eval_arg(dot, a)
                if _truth(v) == want:
                    return v
            self.node = cmd
            return final if final is not _NOFINAL else v
        argv = [self.eval_arg(dot, a) for a in argnodes]
        if final is not _NOFINAL:
            argv.append(final)
        self.node = cmd
        argv = [None if a is _MISSING else a for a in argv]
        if self.headers is not None and name in _HEADER_PASSTHRU:
            for a in argv:
                if isinstance(a, _HeaderValue):
                    return a
        try:
            return fn(*argv)
        except _ArgError as e:
            self.error(str(e))
        except _FnError as e:
            self.error("error calling %s: %s" % (name, e))
        except TemplateError:
            raise
        except MemoryError:  # a width such as %0999999999999d
            self.error("error calling %s: the result is too large" % name)
        except Exception as e:  # pragma: no cover - defensive
            self.error("error calling %s: %s" % (name, e))


def _last_field(node):
    """The name of the last field a pipeline mentions (for header fallbacks)."""
    last = None
    if isinstance(node, _Pipe):
        for c in node.cmds:
            last = _last_field(c) or last
    elif isinstance(node, _Command):
        for a in node.args:
            last = _last_field(a) or last
    elif isinstance(node, _Field):
        last = node.idents[-1]
    elif isinstance(node, _Variable):
        last = node.idents[-1] if len(node.idents) > 1 else None
    elif isinstance(node, _Chain):
        last = node.fields[-1]
    return last


# ---------------------------------------------------------------------------
# public API


class Template:
    """A parsed template; ``execute`` renders it against Python data."""

    def __init__(self, text: str, name: str = "format"):
        if not isinstance(text, str):
            raise TemplateError("template: %s: template text must be a string" % name)
        self.text = text
        self.name = name
        self._root = _Parser(text, name).parse()

    def execute(self, data) -> str:
        st = _State(self, data)
        self._run(st, data)
        return "".join(st.out)

    def execute_header(self, headers: dict | None = None) -> str:
        """Render the header line of a table: every ``.Field`` becomes its column header."""
        st = _State(self, _HeaderValue(""), headers or {})
        self._run(st, st.vars[0][1])
        return "".join(st.out)

    def _run(self, st: _State, data) -> None:
        try:
            st.walk(data, self._root)
        except RecursionError:
            raise TemplateError("template: %s: data or template nested too deeply" % self.name) from None

    def __repr__(self) -> str:
        return "Template(%r)" % self.text


def render(text: str, data) -> str:
    """Parse TEXT and execute it against DATA."""
    return Template(text).execute(data)


def is_table(fmt: str) -> bool:
    """True when a --format asks for a table (``table {{.ID}}\\t{{.Names}}``)."""
    s = fmt.lstrip()
    if not s.startswith("table"):
        return False
    rest = s[5:]
    return rest == "" or rest[0].isspace() or rest[:2] in ("\\t", "\\n")


def _skip_action(s: str, i: int) -> int:
    """Index just past the "}}" closing the action whose body starts at I."""
    n = len(s)
    while i < n:
        if s.startswith("}}", i):
            return i + 2
        c = s[i]
        if c == '"' or c == "'":
            i += 1
            while i < n and s[i] != c and s[i] != "\n":
                i += 2 if s[i] == "\\" else 1
            i += 1
        elif c == "`":
            e = s.find("`", i + 1)
            i = n if e < 0 else e + 1
        elif s.startswith("/*", i):
            e = s.find("*/", i + 2)
            i = n if e < 0 else e + 2
        else:
            i += 1
    return n


def _map_text(s: str, fn) -> str:
    """Apply FN to the literal text of a template, leaving its actions alone."""
    out = []
    i, n = 0, len(s)
    while i < n:
        j = s.find("{{", i)
        if j < 0:
            out.append(fn(s[i:]))
            break
        out.append(fn(s[i:j]))
        k = _skip_action(s, j + 2)
        out.append(s[j:k])
        i = k
    return "".join(out)


def normalize_format(fmt: str) -> str:
    r"""Podman's NormalizeFormat: drop a leading ``table`` word, turn the two-character
    sequences ``\t`` and ``\n`` typed on a command line into TAB and NEWLINE.

    As podman does, a table format also turns spaces into column separators
    (``table {{.ID}} {{.Names}}`` == ``table {{.ID}}\t{{.Names}}``).  Only the
    literal text is rewritten: actions (and the strings inside them) are kept.
    """
    s = fmt
    table = is_table(s)
    if table:
        s = s.lstrip()[5:]
        if s[:1].isspace():
            s = s[1:]
        elif s[:2] in ("\\t", "\\n"):
            s = s[2:]

        def fix(t: str) -> str:
            return t.replace("\\t", "\t").replace("\\n", "\n").replace(" ", "\t")
    else:

        def fix(t: str) -> str:
            return t.replace("\\t", "\t").replace("\\n", "\n")

    return _map_text(s, fix)


_ENFORCED_RANGE = r"(?s){{\s*range\s*\.\s*}}.*{{\s*end\s*-?\s*}}"


def render_rows(fmt: str, rows: list, headers: dict | None = None, *, noheading: bool = False,
                align: bool | None = None, name: str = "format") -> str:
    """Render a list command's ``--format`` over ROWS, as podman does.

    ``table ...`` formats print a header line (each ``.Field`` replaced by
    HEADERS[field] upper-cased, else the field name split at camel case and
    upper-cased: ``.CreatedAt`` -> ``CREATED AT``), then one line per row, all
    aligned by ``tabwrite``.  Other formats print one line per row (a newline
    is added when the format does not end with one) and are not aligned, like
    podman (containers/common: user formats without ``table`` bypass the
    tabwriter).  A format containing ``{{range .}}...{{end}}`` is executed
    once against the whole list, like podman's EnforceRange.

    NOHEADING drops a table's header line (keep passing the ``table`` format:
    the rows are still aligned).  ALIGN forces (True) or suppresses (False)
    the tabwriter; None means podman's rule: tables only.
    """
    table = is_table(fmt)
    text = normalize_format(fmt)
    if not text.endswith("\n"):
        text += "\n"
    tmpl = Template(text, name=name)
    if table:
        out = []
        if not noheading:
            out.append(tmpl.execute_header(headers))
        for row in rows:
            out.append(tmpl.execute(row))
        text = "".join(out)
        return text if align is False else tabwrite(text)
    if re.search(_ENFORCED_RANGE, text):
        text = tmpl.execute(list(rows))
    else:
        text = "".join(tmpl.execute(row) for row in rows)
    return tabwrite(text) if align else text
