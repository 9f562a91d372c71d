"""cobra's completion protocol, as podman speaks it: `pypod __complete WORDS... PARTIAL`.

The shell scripts (`pypod completion bash|zsh|fish`, and completions/) only call this: each line
printed is a candidate (`value<TAB>description`; `__completeNoDesc` leaves descriptions out), the
last line `:N` is cobra's directive (0 default: the shell may complete files; 4 no files).
What is completed comes from the same declarations the parser uses, and the names from the engine.
"""

from __future__ import annotations

import sys

from pypod.cli.params import Arg, Opt, _kind

DEFAULT, NO_SPACE, NO_FILES = 0, 2, 4
_DIRECTIVE_NAMES = {DEFAULT: "ShellCompDirectiveDefault", NO_FILES: "ShellCompDirectiveNoFileComp",
                    NO_SPACE: "ShellCompDirectiveNoSpace"}

# what an option's value names (the rest: files, or free text)
_VALUE_KINDS = {"--network": "network", "--net": "network", "--volumes-from": "container",
                "--pod": None}


def _arg_kind(metavar: str) -> str | None:
    m = metavar.upper()
    for word, kind in (("CONTAINER", "container"), ("IMAGE", "image"), ("NETWORK", "network"),
                       ("VOLUME", "volume")):
        if word in m:
            return kind
    if "NAME|ID" in m:
        return "container"
    return None


def _names(kind: str | None, typed: str) -> list[str]:
    if kind is None:
        return []
    from pypod.cli import state
    from pypod.engine.completion import candidates

    try:
        return candidates(state.context(), kind, typed)
    except Exception:  # noqa: BLE001 - a broken store must never break the user's shell
        return []


def complete(words: list[str], describe: bool) -> int:
    from pypod.cli.app import build
    from pypod.cli.help import _first_line

    typed = words[-1] if words else ""
    done = words[:-1]
    root = build(done[:1] if done else [])
    node, path_len = root, 0
    for w in done:
        if w.startswith("-"):
            continue
        if hasattr(node, "groups") and w in node.groups:
            node = node.groups[w]
            path_len += 1
        elif hasattr(node, "commands") and w in node.commands:
            node = node.commands[w]
            path_len += 1
            break
        else:
            break
    out: list[tuple[str, str]] = []
    directive = NO_FILES
    if hasattr(node, "commands"):  # a group: its commands (and sub-groups)
        if not typed.startswith("-"):
            out += [(n, _first_line(c.help)) for n, c in node.commands.items() if not c.hidden]
            out += [(n, _first_line(g.help)) for n, g in node.groups.items()]
            if node is root:
                out.append(("help", "Help about any command"))
            out.sort()
    else:
        params = node.params()
        flags = {d: (p, ann) for _, p, ann in params if isinstance(p, Opt) for d in p.decls}
        prev = done[-1] if done else ""
        takes_value = prev in flags and not (_kind(flags[prev][1])[0] == "bool"
                                             and flags[prev][0].flag_value is None)
        if takes_value:
            kind = _VALUE_KINDS.get(next(d for d in flags[prev][0].decls if d.startswith("--")), "")
            if kind == "":
                directive = DEFAULT  # a path or free text: let the shell offer files
            else:
                out += [(n, "") for n in _names(kind, typed)]
        elif typed.startswith("-"):
            for _, p, _ in params:
                if isinstance(p, Opt) and not p.hidden:
                    out += [(d, (p.help or "").strip()) for d in p.decls]
        else:
            # which positional this word is: count the plain words after the command
            n_pos, skip = 0, False
            for w in done[_index_after(done, path_len):]:
                if skip:
                    skip = False
                elif w.startswith("-"):
                    skip = w in flags and "=" not in w and not (
                        _kind(flags[w][1])[0] == "bool" and flags[w][0].flag_value is None)
                else:
                    n_pos += 1
            args = [(p, ann) for _, p, ann in params if isinstance(p, Arg)]
            kind = None
            for i, (p, ann) in enumerate(args):
                if i == n_pos or (i < n_pos and _kind(ann)[1] and i == len(args) - 1):
                    kind = _arg_kind(p.metavar or "")
                    if kind is None and p.metavar and "[COMMAND" in p.metavar.upper():
                        directive = DEFAULT
                    break
            else:
                directive = DEFAULT if not args else NO_FILES
            out += [(n, "") for n in _names(kind, typed)]
    for value, desc in out:
        if value.startswith(typed):
            sys.stdout.write(f"{value}\t{desc}\n" if describe and desc else f"{value}\n")
    sys.stdout.write(f":{directive}\n")
    sys.stderr.write(f"Completion ended with directive: {_DIRECTIVE_NAMES.get(directive, directive)}\n")
    return 0


def _index_after(done: list[str], path_len: int) -> int:
    """The index in `done` just past the command path's words (flags before it skipped)."""
    seen = 0
    for i, w in enumerate(done):
        if not w.startswith("-"):
            seen += 1
            if seen == path_len:
                return i + 1
    return len(done)
