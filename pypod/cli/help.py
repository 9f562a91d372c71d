"""`--help` as podman prints it (cobra's layout and pflag's option lines), from the declarations.

Scripts and podman's own test walker (test/system/015-help.bats) read this text: the line after
`Usage:` is the synopsis (`pypod NOUN VERB [options] ARGS`, `[command]` for a group), a group lists
`Available Commands:`, and `Options:` appears exactly when the synopsis says `[options]`.
Rendering here costs no typer import.
"""

from __future__ import annotations

from pypod.cli.params import REQUIRED, Arg, Command, Group, Opt, _kind

ROOT_SHORT = "Manage pods, containers and images"


def _first_line(text: str) -> str:
    return (text or "").strip().splitlines()[0].rstrip(".") if (text or "").strip() else ""


def _description(cmd: Command) -> str:
    doc = (cmd.fn.__doc__ or "").strip()
    rest = "\n".join(doc.splitlines()[1:]).strip() if doc else ""
    return " ".join(rest.split()) if rest else _first_line(cmd.help)


def _flag_type(p: Opt, ann: str) -> str:
    if p.metavar and not p.metavar.startswith("<"):
        return p.metavar
    kind, is_list = _kind(ann)
    if kind == "bool" and p.flag_value is None:
        return ""
    if is_list:
        return "strings"
    return {"int": "int", "float": "float"}.get(kind, "string")


def _default_text(p: Opt, ann: str) -> str:
    kind, is_list = _kind(ann)
    d = p.default
    if d is None or d is REQUIRED or d is False or d == "" or d == [] or d == 0 and kind != "bool":
        return ""
    if is_list:
        return f" (default [{','.join(str(x) for x in d)}])"
    if kind == "bool":
        return " (default true)" if d is True else ""
    if kind in ("int", "float"):
        return f" (default {d})"
    return f' (default "{d}")'


def flag_lines(params, extra: list[tuple[str, str, str]] = ()) -> list[str]:
    """pflag's FlagUsages: sorted by long name, `  -s, --long type` padded, then the usage."""
    rows = []
    for name, p, ann in params:
        if not isinstance(p, Opt) or p.hidden:
            continue
        longs = [d for d in p.decls if d.startswith("--")]
        shorts = [d for d in p.decls if not d.startswith("--")]
        if not longs:
            continue
        head = f"  {shorts[0]}, {longs[0]}" if shorts else f"      {longs[0]}"
        t = _flag_type(p, ann)
        if t:
            head += f" {t}"
        if p.flag_value is not None:
            head += f'[="{p.flag_value}"]'
        rows.append((longs[0], head, (p.help or "").strip() + _default_text(p, ann)))
    for long, head, usage in extra:
        rows.append((long, head, usage))
    rows.sort(key=lambda r: r[0])
    width = max((len(h) for _, h, _ in rows), default=0)
    return [f"{h}{' ' * (width - len(h))}   {u}".rstrip() for _, h, u in rows]


def synopsis(cmd: Command, path: str) -> str:
    has_opts = any(isinstance(p, Opt) and not p.hidden for _, p, _ in cmd.params())
    args = []
    for name, p, ann in cmd.params():
        if isinstance(p, Arg) and not p.hidden:
            mv = p.metavar or name.upper()
            _, is_list = _kind(ann)
            if p.metavar is None:
                mv = f"{mv} [{mv}...]" if is_list else mv
                if p.default is not REQUIRED:
                    mv = f"[{mv}]"
            args.append(mv)
    return " ".join([path] + (["[options]"] if has_opts else []) + args)


def _commands_block(group: Group) -> list[str]:
    entries = [(n, _first_line(c.help)) for n, c in group.commands.items() if not c.hidden]
    entries += [(n, _first_line(g.help)) for n, g in group.groups.items()]
    entries.sort()
    pad = max([11] + [len(n) for n, _ in entries])
    return [f"  {n.ljust(pad)} {h}".rstrip() for n, h in entries]


def render_group(group: Group, path: str, root_params=None) -> str:
    """A group's help (`pypod --help`, `pypod image --help`)."""
    out = []
    if root_params is not None:
        out += [ROOT_SHORT, "", "Usage:", f"  {path} [options] [command]", ""]
    else:
        short = _first_line(group.help)
        out += [short, "", "Description:", f"  {short}", "", "Usage:", f"  {path} [command]", ""]
    out += ["Available Commands:", *_commands_block(group), ""]
    if root_params is not None:
        out += ["Options:", *flag_lines(root_params, [("--help", "      --help", "Help for pypod")]), ""]
    return "\n".join(out) + "\n"


def render_command(cmd: Command, path: str) -> str:
    short = _first_line(cmd.help)
    out = [short, "", "Description:", f"  {_description(cmd)}", "", "Usage:", f"  {synopsis(cmd, path)}", ""]
    lines = flag_lines(cmd.params())
    if lines:
        out += ["Options:", *lines, ""]
    return "\n".join(out) + "\n"


HELP_COMMAND = ("Help provides help for any command in the application.\n"
                "Simply type pypod help [path to command] for full details.\n\n"
                "Usage:\n  pypod help [command] [flags]\n\n")


# podman's top-level commands are registered package by package (cmd/podman/containers, images,
# ..., pods, system, volumes) and cobra suggests in registration order: `psx` → ps, push, pod.
_PACKAGE_ORDER = (
    ("attach commit container cp create diff exec export init inspect kill logs mount pause port ps "
     "rename restart rm run start stats stop top unmount unpause update wait"),
    "generate", "healthcheck",
    "build buildx history image images import load pull push rmi save search tag untag",
    "kube", "machine", "manifest", "network", "play", "pod", "secret",
    "events info login logout system version", "volume",
)
_RANK = {name: i for i, names in enumerate(_PACKAGE_ORDER) for name in names.split()}


def suggestions(typed: str, names) -> list[str]:
    """cobra's SuggestionsFor: names within Levenshtein distance 2, or that start with `typed`,
    in podman's registration order (by package, then by name)."""
    out = []
    t = typed.lower()
    for n in sorted(names, key=lambda n: (_RANK.get(n, len(_PACKAGE_ORDER)), n)):
        if _distance(t, n.lower()) <= 2 or n.lower().startswith(t):
            out.append(n)
    return out


def _distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]
