"""`.env` / `--env-file` / `env_file:` parsing, as compose-go's dotenv reads them.

`KEY=VALUE`, an optional `export ` prefix, `#` comments (inline after a space in unquoted values),
'single' quotes literal, "double" quotes with escapes; unquoted and double-quoted values are
interpolated against the variables read so far and the lookup given.
"""

from __future__ import annotations

import re

from pypod.compose.errors import ComposeError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

_KEY = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.\-\[\]]*)\s*(=|:)?\s*")
_ESC = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"', "$": "\\$", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}


def parse(text: str, lookup: Callable[[str], str | None], filename: str = ".env") -> dict[str, str | None]:
    """The variables of one file; a bare `KEY` takes its value from lookup (absent: left out)."""
    from pypod.compose.interpolate import InvalidTemplate, MissingRequired, substitute

    if text.startswith("\ufeff"):
        text = text[1:]
    out: dict[str, str | None] = {}
    lines = text.replace("\r\n", "\n").split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        m = _KEY.match(line)
        if not m:
            raise ComposeError(f"failed to read {filename}: line {i}: unexpected character in variable name {stripped!r}")
        key = m.group(1)
        if not m.group(2):
            if line[m.end():].strip() and not line[m.end():].strip().startswith("#"):
                raise ComposeError(f"failed to read {filename}: line {i}: unexpected character in variable name {stripped!r}")
            v = lookup(key)
            if v is not None:
                out[key] = v
            continue
        rest = line[m.end():]
        interpolate = True
        if rest[:1] in ("'", '"'):
            q = rest[0]
            body = rest[1:]
            # a quoted value may run over several lines
            while True:
                end = _closing_quote(body, q)
                if end >= 0 or i >= len(lines):
                    break
                body += "\n" + lines[i]
                i += 1
            value = body[:end] if end >= 0 else body
            if q == "'":
                interpolate = False
            else:
                value = re.sub(r"\\(.)", lambda mm: _ESC.get(mm.group(1), "\\" + mm.group(1)), value)
        else:
            value = rest
            hash_at = re.search(r"\s#", value)
            if hash_at:
                value = value[:hash_at.start()]
            value = value.strip()
        if interpolate:
            env = _Chain(out, lookup)
            try:
                value = substitute(value, env)
            except (MissingRequired, InvalidTemplate) as e:
                raise ComposeError(f"failed to read {filename}: {e}") from None
        out[key] = value
    return out


class _Chain(dict):
    """What a value in the file sees: the variables read before it, else the lookup."""

    def __init__(self, local: dict, lookup):
        super().__init__()
        self.local, self.lookup = local, lookup

    def _get(self, k):
        v = self.lookup(k)
        if v is not None:
            return v
        return self.local.get(k)

    def __contains__(self, k):
        return self._get(k) is not None

    def get(self, k, default=None):
        v = self._get(k)
        return default if v is None else v


def _closing_quote(s: str, q: str) -> int:
    i = 0
    while i < len(s):
        if s[i] == "\\" and q == '"':
            i += 2
            continue
        if s[i] == q:
            return i
        i += 1
    return -1


def read_file(path: str, lookup, shown: str | None = None) -> dict[str, str | None]:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise ComposeError(f"env file {path} not found: stat {path}: no such file or directory") from None
    except OSError as e:
        raise ComposeError(f"failed to read {path}: {e.strerror}") from None
    return parse(text, lookup, shown or path)
