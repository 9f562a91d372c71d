"""Containerfile parsing: directives, comments, line continuations (with the `escape` character),
heredocs, exec and shell forms, instruction flags, stages and ARG scoping, variable expansion."""

from __future__ import annotations

import json
import re

from pypod.errors import PypodError

INSTRUCTIONS = ("ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
                "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR")
# instructions whose arguments get ${VAR} substitution (RUN/CMD/ENTRYPOINT leave it to the shell)
EXPANDED = ("ADD", "COPY", "ENV", "EXPOSE", "FROM", "LABEL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR", "ARG",
            )
HEREDOC_INSTRUCTIONS = ("RUN", "COPY", "ADD")
# ARGs every build knows without declaring them (their values are not persisted)
PREDEFINED_ARGS = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
                   "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "TARGETPLATFORM", "TARGETOS", "TARGETARCH",
                   "TARGETVARIANT", "BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT")

_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9_-]*)\s*=\s*(.*?)\s*$")
_HEREDOC = re.compile(r"<<(-?)\s*([\"']?)([a-zA-Z_][a-zA-Z0-9_]*)\2")


class ParseError(PypodError):
    http_status = 400  # a bad Containerfile is the client's


class Heredoc:
    __slots__ = ("name", "content", "expand", "chomp")

    def __init__(self, name: str, content: str, expand: bool, chomp: bool):
        self.name, self.content, self.expand, self.chomp = name, content, expand, chomp

    def __repr__(self):
        return f"Heredoc({self.name!r}, {self.content!r})"


class Instruction:
    """One instruction: `cmd` upper-cased, `flags` (--name=value before the arguments), `rest` the
    argument text, `original` the instruction as written (continuations joined), `line` 1-based."""

    __slots__ = ("cmd", "flags", "rest", "original", "line", "heredocs")

    def __init__(self, cmd: str, flags: dict, rest: str, original: str, line: int, heredocs=None):
        self.cmd, self.flags, self.rest, self.original, self.line = cmd, flags, rest, original, line
        self.heredocs = heredocs or []

    def json_args(self) -> list[str] | None:
        """The exec form's list, or None for the shell form."""
        t = self.rest.strip()
        if not t.startswith("["):
            return None
        try:
            v = json.loads(t)
        except ValueError:
            return None
        if isinstance(v, list) and all(isinstance(x, str) for x in v):
            return v
        return None

    def __repr__(self):
        return f"Instruction({self.cmd} {self.flags} {self.rest!r} @{self.line})"


class Stage:
    __slots__ = ("index", "name", "base", "platform", "instructions", "from_instr")

    def __init__(self, index: int, name: str | None, base: str, platform: str | None, from_instr: Instruction):
        self.index, self.name, self.base, self.platform = index, name, base, platform
        self.from_instr = from_instr
        self.instructions: list[Instruction] = []


class Containerfile:
    __slots__ = ("directives", "escape", "meta_args", "stages")

    def __init__(self):
        self.directives: dict[str, str] = {}
        self.escape = "\\"
        self.meta_args: list[Instruction] = []   # ARGs before the first FROM
        self.stages: list[Stage] = []


# -- lines → instructions ---------------------------------------------------------------------
def _directives(lines: list[str]) -> tuple[dict, int]:
    found: dict[str, str] = {}
    i = 0
    for i, line in enumerate(lines):
        m = _DIRECTIVE.match(line.strip()) if line.strip().startswith("#") else None
        if not m:
            return found, i
        key = m.group(1).lower()
        if key in found:
            raise ParseError(f"only one {key} parser directive can be used")
        found[key] = m.group(2)
    return found, len(lines)


def _ends_with_escape(line: str, esc: str) -> tuple[bool, str]:
    s = line.rstrip()
    if s.endswith(esc):
        return True, s[:-1]
    return False, line


def split_instructions(text: str) -> tuple[dict, str, list[Instruction]]:
    lines = text.replace("\r\n", "\n").split("\n")
    directives, start = _directives(lines)
    esc = directives.get("escape", "\\")
    if esc not in ("\\", "`"):
        raise ParseError(f"invalid escape token '{esc}' does not match ` or \\")
    out: list[Instruction] = []
    i = start
    n = len(lines)
    while i < n:
        raw = lines[i]
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        first = i + 1
        parts: list[str] = []
        cont, body = _ends_with_escape(raw, esc)
        parts.append(body.strip() if not cont else body.lstrip())
        i += 1
        while cont and i < n:
            nxt = lines[i]
            i += 1
            s = nxt.strip()
            if not s or s.startswith("#"):  # comments and empty lines inside a continuation are dropped
                continue
            cont, body = _ends_with_escape(nxt, esc)
            parts.append(body.rstrip() if not cont else body)  # leading blanks kept, as buildah does
        joined = "".join(parts).strip()
        word, _, rest = joined.partition(" ")
        if "\t" in word:
            word, _, rest2 = word.partition("\t")
            rest = rest2 + " " + rest
        cmd = word.upper()
        rest = rest.strip()
        flags: dict[str, str] = {}
        if cmd in ("ADD", "COPY", "FROM", "RUN", "HEALTHCHECK"):
            while rest.startswith("--"):
                tok, _, remainder = rest.partition(" ")
                if tok == "--":
                    break
                name, sep, value = tok[2:].partition("=")
                flags[name] = value if sep else "true"
                rest = remainder.lstrip()
        heredocs: list[Heredoc] = []
        if cmd in HEREDOC_INSTRUCTIONS and "<<" in rest and not rest.startswith("["):
            for m in _HEREDOC.finditer(rest):
                name, chomp, quoted = m.group(3), m.group(1) == "-", bool(m.group(2))
                body_lines = []
                while i < n:
                    ln = lines[i]
                    i += 1
                    check = ln.lstrip("\t") if chomp else ln
                    if check == name:
                        break
                    body_lines.append(ln.lstrip("\t") if chomp else ln)
                else:
                    raise ParseError(f"unterminated heredoc {name} (line {first})")
                content = "\n".join(body_lines) + "\n" if body_lines else ""
                heredocs.append(Heredoc(name, content, not quoted, chomp))
        out.append(Instruction(cmd, flags, rest, joined, first, heredocs))
    return directives, esc, out


def parse(text: str) -> Containerfile:
    cf = Containerfile()
    cf.directives, cf.escape, instrs = split_instructions(text)
    stage: Stage | None = None
    for ins in instrs:
        if ins.cmd not in INSTRUCTIONS:
            raise ParseError(f"Build error: Unknown instruction: \"{ins.cmd}\" (line {ins.line})", )
        if ins.cmd == "FROM":
            words = ins.rest.split()
            if not words:
                raise ParseError(f"FROM requires either one or three arguments (line {ins.line})")
            name = None
            if len(words) == 3 and words[1].lower() == "as":
                name = words[2].lower()
            elif len(words) != 1:
                raise ParseError(f"FROM requires either one or three arguments (line {ins.line})")
            stage = Stage(len(cf.stages), name, words[0], ins.flags.get("platform"), ins)
            cf.stages.append(stage)
        elif stage is None:
            if ins.cmd != "ARG":
                raise ParseError(f"no FROM statement found before {ins.cmd} (line {ins.line})")
            cf.meta_args.append(ins)
        else:
            stage.instructions.append(ins)
    if not cf.stages:
        raise ParseError("no FROM statement found")
    return cf


# -- words, quoting, expansion ----------------------------------------------------------------
def expand(text: str, env: dict, escape: str = "\\") -> str:
    """Docker's variable substitution: $V, ${V}, ${V:-default}, ${V:+alt}, \\$ for a literal $;
    quotes are kept (words() removes them)."""
    out = []
    i, n = 0, len(text)
    in_single = False
    while i < n:
        c = text[i]
        if c == escape and i + 1 < n:
            if text[i + 1] == "$":
                out.append("$")
            else:
                out.append(c + text[i + 1])
            i += 2
            continue
        if c == "'":
            in_single = not in_single
            out.append(c)
            i += 1
            continue
        if c == "$" and not in_single and i + 1 < n:
            if text[i + 1] == "{":
                end = _close_brace(text, i + 2)
                if end < 0:
                    raise ParseError(f"missing '}}' in {text!r}")
                inner = text[i + 2:end]
                m = re.match(r"^([a-zA-Z_][a-zA-Z0-9_]*)(?:(:?[-+])(.*))?$", inner, re.S)
                if not m:
                    raise ParseError(f"bad substitution: ${{{inner}}}")
                name, op, word = m.group(1), m.group(2), m.group(3)
                val = env.get(name)
                if op in (":-", "-"):
                    if val is None or (op == ":-" and val == ""):
                        val = expand(word, env, escape)
                elif op in (":+", "+"):
                    val = expand(word, env, escape) if (val is not None and (op == "+" or val != "")) else ""
                out.append(val or "")
                i = end + 1
                continue
            m = re.match(r"[a-zA-Z_][a-zA-Z0-9_]*", text[i + 1:])
            if m:
                out.append(env.get(m.group(0)) or "")
                i += 1 + len(m.group(0))
                continue
        out.append(c)
        i += 1
    return "".join(out)


def _close_brace(text: str, i: int) -> int:
    depth = 1
    while i < len(text):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def words(text: str, escape: str = "\\") -> list[str]:
    """Split on whitespace honouring quotes and the escape character; quotes are removed."""
    out: list[str] = []
    cur: list[str] = []
    have = False
    quote = None
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if quote:
            if c == quote:
                quote = None
            elif c == escape and quote == '"' and i + 1 < n and text[i + 1] in ('"', escape, "$"):
                i += 1
                cur.append(text[i])
            else:
                cur.append(c)
        elif c in "\"'":
            quote = c
            have = True
        elif c == escape and i + 1 < n:
            i += 1
            cur.append(text[i])
            have = True
        elif c.isspace():
            if have or cur:
                out.append("".join(cur))
                cur, have = [], False
        else:
            cur.append(c)
        i += 1
    if quote:
        raise ParseError(f"unmatched quote in {text!r}")
    if have or cur:
        out.append("".join(cur))
    return out


def key_values(text: str, cmd: str, escape: str = "\\") -> list[tuple[str, str]]:
    """ENV/LABEL arguments: `k=v k2="v 2"` or the legacy `k value with spaces`."""
    ws = words(text, escape)
    if not ws:
        raise ParseError(f"{cmd} requires at least one argument")
    if "=" not in ws[0]:
        k, _, v = text.strip().partition(" ")
        if cmd == "LABEL" and not v:
            raise ParseError(f"LABEL requires at least one argument")
        if not v.strip():
            raise ParseError(f"{cmd} names can not be blank" if not k else f"{cmd} {k} requires a value")
        vv = words(v, escape)
        return [(words(k, escape)[0], " ".join(vv) if len(vv) > 1 else (vv[0] if vv else ""))]
    out = []
    for w in ws:
        k, sep, v = w.partition("=")
        if not sep:
            raise ParseError(f"Syntax error - can't find = in \"{w}\". Must be of the form: name=value")
        if not k:
            raise ParseError(f"{cmd} names can not be blank")
        out.append((k, v))
    return out


def arg_spec(text: str, escape: str = "\\") -> list[tuple[str, str | None]]:
    """ARG name[=default] ...; None when no default."""
    out = []
    for w in words(text, escape):
        k, sep, v = w.partition("=")
        if not k:
            raise ParseError("ARG names can not be blank")
        out.append((k, v if sep else None))
    if not out:
        raise ParseError("ARG requires exactly one argument")
    return out
