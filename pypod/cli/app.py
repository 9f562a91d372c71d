"""The root command: global flags, lazy loading of the noun modules, the error boundary.

Only the module that serves the command being run is imported (start-up time is a feature); `--help`
without a command loads them all.
"""

from __future__ import annotations

import importlib
import sys

from pypod.cli import state

TYPE_CHECKING = False  # typing costs start-up time; the names below are for annotations only
if TYPE_CHECKING:
    from typing import Optional

# noun → the modules whose register(root) add `pypod NOUN ...` verbs (and their top-level aliases);
# a module not written yet is skipped.
NOUNS = {
    "image": ("pypod.cli.image", "pypod.cli.build", "pypod.cli.transport"),
    "system": ("pypod.cli.system", "pypod.cli.storage"),
    "login": ("pypod.cli.login",),
    "container": ("pypod.cli.container", "pypod.cli.build", "pypod.cli.transport", "pypod.cli.storage",
                  "pypod.cli.attach"),
    "inspect": ("pypod.cli.inspect",),
    "completion": ("pypod.cli.completion",),
    "build": ("pypod.cli.build",),
    "transport": ("pypod.cli.transport",),
    "network": ("pypod.cli.network",),
    "port": ("pypod.cli.network",),
    "volume": ("pypod.cli.volume",),
    "storage": ("pypod.cli.storage",),
}
# top-level command → the module that registers it
ALIASES = {
    "pull": "image", "images": "image", "rmi": "image", "tag": "image", "untag": "image",
    "history": "image", "import": "image",
    "build": "build", "commit": "build",
    "push": "transport", "save": "transport", "load": "transport", "export": "transport", "diff": "transport",
    "version": "system", "info": "system",
    "logout": "login",
    "run": "container", "create": "container", "start": "container", "stop": "container",
    "kill": "container", "rm": "container", "ps": "container", "logs": "container", "exec": "container",
    "wait": "container", "restart": "container", "top": "container", "rename": "container",
    "pause": "container", "unpause": "container", "stats": "container", "healthcheck": "container",
    "attach": "container",
    "cp": "storage", "mount": "storage", "unmount": "storage", "umount": "storage", "unshare": "storage",
}

# global options that take a value (to find the command word in argv without parsing)
_VALUE_OPTS = {"--root", "--runroot", "--log-level", "--storage-driver", "--cgroup-manager",
               "--connection", "-c", "--url", "--events-backend", "--network-cmd-path", "--tmpdir",
               "--runtime", "--conmon", "--identity", "--storage-opt", "--module"}


def _command_word(argv: list[str]) -> str | None:
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            return None
        if a.startswith("-"):
            if a in _VALUE_OPTS:
                i += 2
                continue
            i += 1
            continue
        return a
    return None


_GLOBAL_VALUE_OPTS = {"--root", "--runroot", "--log-level", "--storage-driver", "--cgroup-manager",
                      "--events-backend", "--tmpdir"}


def hoist_global_options(argv: list[str]) -> list[str]:
    """podman takes global flags after the command too (`pypod images --log-level=debug`): move them
    in front, scanning only the options that precede the command's first positional argument."""
    word = _command_word(argv)
    if word is None:
        return argv
    i = argv.index(word) + 1
    verb = word
    if word in NOUNS and i < len(argv) and not argv[i].startswith("-"):
        verb = argv[i]
        i += 1
    # these take a command line after their first argument: stop at it
    stop_at_positional = verb in ("run", "create", "exec", "unshare")
    head, rest, moved = argv[:i], [], []
    j = i
    while j < len(argv):
        a = argv[j]
        if a == "--" or (stop_at_positional and not a.startswith("-")):
            rest.extend(argv[j:])
            break
        name = a.split("=", 1)[0]
        if name in _GLOBAL_VALUE_OPTS:
            if "=" in a:
                moved.append(a)
                j += 1
            else:
                moved.extend(argv[j:j + 2])
                j += 2
            continue
        rest.append(a)
        j += 1
    return moved + head + rest if moved else argv


def _root_group():
    from pypod.cli.params import Group, Opt

    root = Group(help="Manage pods, containers and images (a podman-compatible, daemonless, rootless engine).")

    @root.callback()
    def root_options(
        root: Optional[str] = Opt(None, "--root", help="Path to the graph root directory"),
        runroot: Optional[str] = Opt(None, "--runroot", help="Path to the run root directory"),
        log_level: str = Opt("warn", "--log-level", help="Log messages at and above this level (trace, debug, info, warn, error, fatal, panic)"),
        storage_driver: Optional[str] = Opt(None, "--storage-driver", help="Storage driver (overlay)"),
        cgroup_manager: Optional[str] = Opt(None, "--cgroup-manager", hidden=True),
        events_backend: Optional[str] = Opt(None, "--events-backend", hidden=True),
        tmpdir: Optional[str] = Opt(None, "--tmpdir", hidden=True),
        version: bool = Opt(False, "--version", "-v", help="Print the version"),
    ):
        from pypod.errors import ExitCode, InvalidArgument

        if log_level not in ("trace", "debug", "info", "warn", "warning", "error", "fatal", "panic"):
            raise InvalidArgument(f'invalid log level "{log_level}"')
        if storage_driver and storage_driver not in ("overlay", "vfs"):
            raise InvalidArgument(f'unsupported storage driver "{storage_driver}": use overlay')
        state.set_options(root=root, runroot=runroot, driver=storage_driver, log_level=log_level)
        if version:
            from pypod import __version__

            sys.stdout.write(f"pypod version {__version__}\n")
            raise ExitCode(0)

    return root


def build(argv: list[str]):
    """The root group with the modules that serve this command line registered."""
    root = _root_group()
    word = _command_word(argv)
    if word in NOUNS:
        wanted = [word]
    elif word in ALIASES:
        wanted = [ALIASES[word]]
    else:
        wanted = list(NOUNS)
    seen = set()
    for noun in wanted:
        for modname in NOUNS[noun]:
            if modname in seen:
                continue
            seen.add(modname)
            try:
                mod = importlib.import_module(modname)
            except ModuleNotFoundError as e:
                if e.name == modname:
                    continue
                raise
            mod.register(root)
    return root


def _show_help(argv: list[str]) -> int:
    """Help is rendered by typer, from the same declarations (the slow path is fine here)."""
    from pypod.cli.params import to_typer

    root = build(argv if _command_word(argv) else [])
    app = to_typer(root)
    import typer

    cmd = typer.main.get_command(app)
    try:
        cmd.main(args=argv, prog_name="pypod", standalone_mode=False)
    except typer.Exit as e:
        return e.exit_code
    except Exception as e:  # a usage error while rendering help: say it plainly
        sys.stderr.write(f"Error: {e}\n")
        return 125
    return 0


def dispatch(argv: list[str]) -> int:
    from pypod.cli.params import HelpRequested, UsageError, invoke, parse

    root = build(argv)
    word = _command_word(argv)
    pre = argv[: argv.index(word)] if word else argv
    post = argv[argv.index(word) + 1:] if word else []
    root_cmd = _root_command(root)
    try:
        parse_values = parse(root_cmd, pre, "pypod")
    except HelpRequested:
        return _show_help(["--help"])
    root.callback_fn(**parse_values)
    if word is None:  # podman: the help, then an error
        _show_help(["--help"])
        sys.stderr.write("Error: missing command 'pypod COMMAND'\n")
        return 125
    path = f"pypod {word}"
    if word in root.groups:
        group = root.groups[word]
        sub = next((a for a in post if not a.startswith("-")), None)
        if sub is None:
            if any(a in ("-h", "--help") for a in post):
                return _show_help([word, "--help"])
            _show_help([word, "--help"])
            sys.stderr.write(f"Error: missing command 'pypod {word} COMMAND'\n")
            return 125
        if sub not in group.commands:
            raise UsageError(f"unrecognized command `pypod {word} {sub}`", f"pypod {word}",
                             f"Try 'pypod {word} --help' for more information")
        cmd = group.commands[sub]
        rest = post[:post.index(sub)] + post[post.index(sub) + 1:]
        path = f"pypod {word} {sub}"
    elif word in root.commands:
        cmd = root.commands[word]
        rest = post
    else:
        raise UsageError(f"unrecognized command `pypod {word}`", "pypod",
                         "Try 'pypod --help' for more information")
    try:
        rv = invoke(cmd, rest, path)
    except HelpRequested:
        return _show_help(path.split()[1:] + ["--help"])
    return rv if isinstance(rv, int) else 0


def _root_command(root):
    from pypod.cli.params import Command

    return Command("pypod", root.callback_fn, None, False, True, ("-h", "--help"))


def run(argv: list[str]) -> int:
    from pypod.cli.boundary import report

    debug = any(a in ("--log-level=debug", "--log-level=trace") for a in argv) or (
        "--log-level" in argv and argv.index("--log-level") + 1 < len(argv)
        and argv[argv.index("--log-level") + 1] in ("debug", "trace"))
    try:
        return dispatch(hoist_global_options(argv))
    except BaseException as e:  # the one boundary
        if isinstance(e, SystemExit):
            return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        return report(e, debug)
    finally:
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            pass
        _warn_damaged()


def _warn_damaged() -> None:
    """Name every unreadable record a command came across (it was skipped or shown in part)."""
    db = sys.modules.get("pypod.store.db")  # not imported: no record was read
    if db is None or not db.damaged:
        return
    for line in damaged_lines(db.damaged):
        sys.stderr.write(f"WARN[0000] {line}\n")
    db.damaged.clear()


def damaged_lines(damaged) -> list[str]:
    fix = {"image": "`pypod rmi -f {short}` or ", "container": "`pypod rm -f {short}` or ",
           "volume": "`pypod volume rm -f {ident}` or ", "network": "`pypod network rm {ident}` or "}
    what = {"container": "state unreadable", "layer": "content missing"}
    out = []
    for kind, ident, name, path in damaged:
        named = f" (name {name})" if name and name != ident else ""
        cmd = fix.get(kind, "").format(short=ident[:12], ident=ident)
        out.append(f"{kind} {ident}{named}: {what.get(kind, 'record unreadable')} ({path}): {cmd}"
                   f"`pypod system check --repair` removes it")
    return out
