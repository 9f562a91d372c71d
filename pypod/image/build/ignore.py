""".containerignore / .dockerignore with Docker's semantics (moby/patternmatcher): paths are cleaned
and relative to the context, `*` and `?` stay within one path component, `**` spans any number of
them, `!pattern` re-includes, the last matching pattern wins, and a pattern that matches a
directory matches everything below it. Which excluded directories are looked into at all is
buildah's rule (may_contain_included)."""

from __future__ import annotations

import os
import posixpath
import re


class Pattern:
    __slots__ = ("text", "exclusion", "regex", "dirs")

    def __init__(self, text: str, exclusion: bool):
        self.text, self.exclusion = text, exclusion
        try:
            self.regex = re.compile(_to_regex(text))
        except re.error:  # `[]`, `[z-a]`: Go's filepath.ErrBadPattern
            from pypod.errors import PypodError

            raise PypodError(f"invalid ignore pattern {text!r}: syntax error in pattern") from None
        self.dirs = text.split("/")


def _to_regex(pattern: str) -> str:
    out = ["^"]
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            if i + 1 < n and pattern[i + 1] == "*":
                i += 1
                # `**/` at the start or middle: zero or more directories
                if i + 1 < n and pattern[i + 1] == "/":
                    i += 1
                    out.append("(.*/)?")
                else:
                    out.append(".*")
            else:
                out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = pattern.find("]", i + 1)
            if j < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1:j]
                if body.startswith("^") or body.startswith("!"):
                    body = "^" + body[1:]
                body = body.replace("\\", "\\\\")
                # literal in a Go class; Python would warn (FutureWarning) of nested sets
                body = "".join("\\" + ch if ch in "[&~|" else ch for ch in body)
                out.append("[" + body + "]")
                i = j
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    out.append("$")
    return "".join(out)


def _clean(p: str) -> str:
    p = posixpath.normpath(p.strip())
    p = p.lstrip("/")
    return "." if p in ("", ".") else p


def parse_ignore(text: str) -> list[Pattern]:
    pats = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        excl = line.startswith("!")
        if excl:
            line = line[1:].strip()
            if not line:
                continue
        cleaned = _clean(line)
        if cleaned == ".":
            continue
        pats.append(Pattern(cleaned, excl))
    return pats


class Matcher:
    def __init__(self, patterns: list[Pattern]):
        self.patterns = patterns
        self.has_exclusions = any(p.exclusion for p in patterns)

    def excluded(self, rel: str) -> bool:
        """Whether `rel` (relative to the context, '/'-separated) is left out."""
        if not self.patterns:
            return False
        rel = _clean(rel)
        parts = rel.split("/")
        matched = False
        for p in self.patterns:
            if p.exclusion != matched:  # only a pattern that could change the outcome
                continue
            hit = bool(p.regex.match(rel))
            if not hit and len(p.dirs) < len(parts):
                hit = bool(p.regex.match("/".join(parts[:len(p.dirs)])))
            if hit:
                matched = not p.exclusion
        return matched

    def may_contain_included(self, rel_dir: str) -> bool:
        """An excluded directory is still walked only when an exception (`!`) names a path below
        it literally, as buildah's copier decides: `!*/keep` re-includes `dir/keep` only in a
        directory that some `!dir/...` opened (buildah#3486), so `COPY dir` of an excluded `dir`
        fails there, as with podman."""
        if not self.has_exclusions:
            return False
        rel_dir = _clean(rel_dir)
        return any(p.exclusion and p.text.startswith(rel_dir + "/") for p in self.patterns)


def load(context_dir: str, containerfile: str | None = None) -> Matcher:
    """The context's ignore file: .containerignore, else .dockerignore (podman's order)."""
    for name in (".containerignore", ".dockerignore"):
        path = os.path.join(context_dir, name)
        if os.path.isfile(path):
            with open(path, encoding="utf-8", errors="replace") as f:
                return Matcher(parse_ignore(f.read()))
    return Matcher([])
