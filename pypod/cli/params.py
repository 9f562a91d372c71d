"""Commands declared once, typer-style, parsed without importing typer.

Every command is a plain function whose parameters default to `Opt(...)`/`Arg(...)` — the same shape
as typer's `typer.Option`/`typer.Argument`. On the hot path (every command a script runs) a small
parser here reads those declarations and calls the function: it speaks cobra's (podman's) flag
syntax and costs a few milliseconds, where importing typer and building its click tree costs well
over 100 ms. `--help` (cli/help.py) and shell completion (cli/complete.py) read the same
declarations.
"""

from __future__ import annotations


from pypod.errors import InvalidArgument

TYPE_CHECKING = False  # typing costs start-up time; the names below are for annotations only
if TYPE_CHECKING:
    from typing import Any, Callable

REQUIRED = ...


class Param:
    def __init__(self, default: Any = None, *decls: str, help: str = "", hidden: bool = False,
                 metavar: str | None = None, flag_value: str | None = None, is_flag: bool | None = None):
        self.default = default
        self.decls = decls
        self.help = help
        self.hidden = hidden
        self.metavar = metavar
        self.flag_value = flag_value  # an option whose value may be left out (--tls-verify)


class Opt(Param):
    pass


class Arg(Param):
    pass


class Command:
    def __init__(self, name: str, fn: Callable, help: str | None, hidden: bool, interspersed: bool,
                 help_flags: tuple[str, ...]):
        self.name = name
        self.fn = fn
        self.help = help or (fn.__doc__ or "").strip().splitlines()[0] if (help or fn.__doc__) else ""
        self.hidden = hidden
        self.interspersed = interspersed
        self.help_flags = help_flags
        self._params: list[tuple[str, Param, str]] | None = None

    def params(self) -> list[tuple[str, Param, str]]:
        """(python name, declaration, annotation text) for each parameter, in order."""
        if self._params is None:
            sig = getattr(self.fn, "__pypod_params__", None)
            if sig is None:
                code = self.fn.__code__
                names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
                defaults = dict(zip(names[len(names) - len(self.fn.__defaults__ or ()):], self.fn.__defaults__ or ()))
                defaults.update(self.fn.__kwdefaults__ or {})
                ann = self.fn.__annotations__
                sig = [(n, defaults[n], ann_text(ann.get(n, "str"))) for n in names if isinstance(defaults.get(n), Param)]
            self._params = sig
        return self._params


def ann_text(ann) -> str:
    """An annotation as text (modules with `from __future__ import annotations` already have text)."""
    if isinstance(ann, str):
        return ann
    if isinstance(ann, type):
        return ann.__name__
    return str(ann).replace("typing.", "")


class Group:
    """A set of commands and sub-groups (`pypod image ...`), typer.Typer's registration API."""

    def __init__(self, help: str = "", no_args_is_help: bool = True):
        self.help = help
        self.commands: dict[str, Command] = {}
        self.groups: dict[str, Group] = {}
        self.callback_fn: Callable | None = None

    def command(self, name: str | None = None, *, help: str | None = None, hidden: bool = False,
                context_settings: dict | None = None):
        cs = context_settings or {}

        def deco(fn):
            n = name or fn.__name__.replace("_", "-")
            self.commands[n] = Command(n, fn, help, hidden, cs.get("allow_interspersed_args", True),
                                       tuple(cs.get("help_option_names", ("-h", "--help"))))
            return fn

        return deco

    def add_typer(self, group: "Group", name: str) -> None:
        self.groups[name] = group

    def group(self, name: str, help: str = "") -> "Group":
        """The sub-group `name` (created on first use): several modules add verbs to one noun."""
        g = self.groups.get(name)
        if g is None:
            g = self.groups[name] = Group(help=help)
        elif help and not g.help:
            g.help = help
        return g

    def callback(self):
        def deco(fn):
            self.callback_fn = fn
            return fn

        return deco


# -- parsing -------------------------------------------------------------------------------------
class UsageError(InvalidArgument):
    def __init__(self, message: str, command_path: str, hint: str = ""):
        super().__init__(message, hint=hint or f"See '{command_path} --help'")


class HelpRequested(Exception):
    pass


_TRUE = {"true", "1", "t", "yes", "y", "on"}
_FALSE = {"false", "0", "f", "no", "n", "off"}


def _kind(ann: str) -> tuple[str, bool]:
    """(scalar type name, is a list) from an annotation's text."""
    a = ann.replace("typing.", "").replace(" ", "")
    if a.startswith("Optional["):
        a = a[len("Optional["):-1]
    is_list = a.startswith(("List[", "list["))
    if is_list:
        a = a[5:-1]
    return (a if a in ("bool", "int", "float") else "str"), is_list


def _convert(value: str, kind: str, flag: str, cmd_path: str):
    if kind == "int":
        try:
            return int(value)
        except ValueError:
            raise UsageError(f"invalid argument \"{value}\" for \"{flag}\" flag: strconv.ParseInt: parsing "
                             f"\"{value}\": invalid syntax", cmd_path) from None
    if kind == "float":
        try:
            return float(value)
        except ValueError:
            raise UsageError(f"invalid argument \"{value}\" for \"{flag}\" flag: invalid syntax", cmd_path) from None
    if kind == "bool":
        v = value.lower()
        if v in _TRUE:
            return True
        if v in _FALSE:
            return False
        raise UsageError(f"invalid argument \"{value}\" for \"{flag}\" flag: strconv.ParseBool: parsing "
                         f"\"{value}\": invalid syntax", cmd_path)
    return value


def parse(cmd: Command, argv: list[str], cmd_path: str) -> dict:
    params = cmd.params()
    values: dict[str, Any] = {}
    flags: dict[str, tuple[str, Param, str, bool]] = {}
    positionals: list[tuple[str, Param, str, bool]] = []
    for name, p, ann in params:
        kind, is_list = _kind(ann)
        if isinstance(p, Opt):
            for d in p.decls:
                flags[d] = (name, p, kind, is_list)
            values[name] = [] if is_list else (None if p.default is REQUIRED else p.default)
            if is_list and isinstance(p.default, list) and p.default:
                values[name] = list(p.default)
        else:
            positionals.append((name, p, kind, is_list))
    args: list[str] = []
    i = 0
    only_args = False
    while i < len(argv):
        a = argv[i]
        i += 1
        if only_args or a == "-" or not a.startswith("-"):
            args.append(a)
            if not cmd.interspersed and not only_args:
                # run/create/exec: after the first argument, the rest is the container's command
                args.extend(argv[i:])
                break
            continue
        if a == "--":
            only_args = True
            continue
        if a in cmd.help_flags:
            raise HelpRequested()
        if a.startswith("--"):
            name_part, eq, inline = a.partition("=")
            if name_part not in flags:
                raise UsageError(f"unknown flag: {name_part}", cmd_path)
            i = _take(flags[name_part], name_part, inline if eq else None, argv, i, values, cmd_path)
            continue
        # short flags, possibly combined (-it, -qa, -n5, -e X)
        j = 1
        while j < len(a):
            flag = "-" + a[j]
            if flag not in flags:
                if flag in cmd.help_flags:
                    raise HelpRequested()
                raise UsageError(f"unknown shorthand flag: '{a[j]}' in {a}", cmd_path)
            name, p, kind, is_list = flags[flag]
            rest = a[j + 1:]
            if kind == "bool" and p.flag_value is None:
                if rest.startswith("="):
                    values[name] = _convert(rest[1:], "bool", flag, cmd_path)
                    break
                values[name] = True
                j += 1
                continue
            inline = rest[1:] if rest.startswith("=") else (rest or None)
            i = _take(flags[flag], flag, inline, argv, i, values, cmd_path, f"'{a[j]}' in {a}")
            break
    # podman's checkAllLatestAndIDs, for every command with --latest whose arguments are containers
    # (exec's, top's and port's further arguments are a command, descriptors, a port)
    latest = bool(values.get("latest")) and cmd.name not in _LATEST_WITH_ARGS
    if latest:
        if args:
            raise UsageError("--latest and containers cannot be used together", cmd_path)
        if values.get("all_"):
            raise UsageError("--all and --latest cannot be used together", cmd_path)
    _check_count(positionals, len(args), cmd_path, latest)
    k = 0
    for name, p, kind, is_list in positionals:
        if is_list:
            rest = args[k:]
            k = len(args)
            values[name] = [_convert(x, kind, name, cmd_path) for x in rest] if rest else (
                None if p.default is REQUIRED else p.default)
        elif k < len(args):
            values[name] = _convert(args[k], kind, name, cmd_path)
            k += 1
        else:
            values[name] = p.default
    return values


_LATEST_WITH_ARGS = ("exec", "top", "port", "ps", "list", "ls")  # (ps -a -l is podman's too)


def _check_count(positionals, n: int, cmd_path: str, latest: bool = False) -> None:
    """cobra's argument validators, in their words (scripts and podman's tests match them).
    With --latest the container argument is the latest container: none may be given."""
    lo = 0 if latest else sum(1 for _, p, _, _ in positionals if p.default is REQUIRED)
    hi = None if any(is_list for *_, is_list in positionals) else len(positionals)
    if lo <= n and (hi is None or n <= hi):
        return
    if hi == 0:
        raise UsageError(f"`{cmd_path}` takes no arguments", cmd_path)
    if lo == hi:
        raise UsageError(f"accepts {lo} arg(s), received {n}", cmd_path)
    if n < lo:
        raise UsageError(f"requires at least {lo} arg(s), only received {n}", cmd_path)
    if lo:
        raise UsageError(f"accepts between {lo} and {hi} arg(s), received {n}", cmd_path)
    raise UsageError(f"accepts at most {hi} arg(s), received {n}", cmd_path)


def _take(spec, flag: str, inline: str | None, argv: list[str], i: int, values: dict, cmd_path: str,
          shown: str = "") -> int:
    """Store the flag's value; `shown` is how pflag names a short flag in its errors ('h' in -h)."""
    name, p, kind, is_list = spec
    if kind == "bool" and p.flag_value is None:
        values[name] = True if inline is None else _convert(inline, "bool", flag, cmd_path)
        return i
    if inline is None:
        if p.flag_value is not None:
            value = p.flag_value
        elif i < len(argv):
            value = argv[i]
            i += 1
        else:
            raise UsageError(f"flag needs an argument: {shown or flag}", cmd_path)
    else:
        value = inline
    v = _convert(value, kind if kind != "bool" else "str", flag, cmd_path)
    if is_list:
        values[name].append(v)
    else:
        values[name] = v
    return i


def invoke(cmd: Command, argv: list[str], cmd_path: str):
    values = parse(cmd, argv, cmd_path)
    return cmd.fn(**values)
