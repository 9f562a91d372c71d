"""The root command: global flags, lazy loading of the noun modules, the error boundary.

Only the module that serves the command being run is imported (start-up time is a feature); `--help`
without a command loads them all.
"""

from __future__ import annotations

import importlib
import sys
from typing import Optional

import typer

from pypod.cli import state

# noun → module; each module's register(root) adds `pypod NOUN ...` and its top-level aliases.
NOUNS = {
    "image": "pypod.cli.image",
    "system": "pypod.cli.system",
    "login": "pypod.cli.login",
    "container": "pypod.cli.container",
    "inspect": "pypod.cli.inspect",
}
# top-level command → the module that registers it
ALIASES = {
    "pull": "image", "images": "image", "rmi": "image", "tag": "image", "untag": "image",
    "history": "image", "import": "image", "push": "image", "save": "image", "load": "image",
    "version": "system", "info": "system",
    "logout": "login",
    "run": "container", "create": "container", "start": "container", "stop": "container",
    "kill": "container", "rm": "container", "ps": "container", "logs": "container", "exec": "container",
    "wait": "container", "restart": "container", "top": "container", "rename": "container",
    "pause": "container", "unpause": "container", "stats": "container", "healthcheck": "container",
    "port": "container", "export": "container", "commit": "container", "diff": "container",
    "cp": "container", "attach": "container", "mount": "container", "unmount": "container",
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
    stop_at_positional = verb in ("run", "create", "exec")
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


def build(argv: list[str]) -> typer.Typer:
    app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                      rich_markup_mode=None, context_settings={"help_option_names": ["-h", "--help"]},
                      help="Manage pods, containers and images (a podman-compatible, daemonless, rootless engine).")

    @app.callback()
    def root(
        root: Optional[str] = typer.Option(None, "--root", help="Path to the graph root directory"),
        runroot: Optional[str] = typer.Option(None, "--runroot", help="Path to the run root directory"),
        log_level: str = typer.Option("warn", "--log-level", help="Log messages at and above this level (trace, debug, info, warn, error, fatal, panic)"),
        storage_driver: Optional[str] = typer.Option(None, "--storage-driver", help="Storage driver (overlay)"),
        cgroup_manager: Optional[str] = typer.Option(None, "--cgroup-manager", hidden=True),
        events_backend: Optional[str] = typer.Option(None, "--events-backend", hidden=True),
        tmpdir: Optional[str] = typer.Option(None, "--tmpdir", hidden=True),
        version: bool = typer.Option(False, "--version", "-v", help="Print the version"),
    ):
        if log_level not in ("trace", "debug", "info", "warn", "warning", "error", "fatal", "panic"):
            from pypod.errors import InvalidArgument

            raise InvalidArgument(f'invalid log level "{log_level}"')
        if storage_driver and storage_driver not in ("overlay", "vfs"):
            from pypod.errors import InvalidArgument

            raise InvalidArgument(f'unsupported storage driver "{storage_driver}": use overlay')
        state.set_options(root=root, runroot=runroot, driver=storage_driver, log_level=log_level)
        if version:
            from pypod import __version__

            sys.stdout.write(f"pypod version {__version__}\n")
            raise typer.Exit(0)

    word = _command_word(argv)
    if word in NOUNS:
        wanted = [word]
    elif word in ALIASES:
        wanted = [ALIASES[word]]
    else:
        wanted = list(NOUNS)
    for noun in wanted:
        try:
            mod = importlib.import_module(NOUNS[noun])
        except ModuleNotFoundError as e:
            if e.name == NOUNS[noun]:
                continue
            raise
        mod.register(app)
    return app


def _usage_message(e) -> str:
    msg = e.format_message() if hasattr(e, "format_message") else str(e)
    if msg.startswith("No such option: "):
        return "unknown flag: " + msg[len("No such option: "):].split(" ")[0].rstrip(".")
    if msg.startswith("No such command"):
        name = msg.split("'")[1] if "'" in msg else msg
        return f"unrecognized command `pypod {name}`"
    if msg.startswith("Missing argument"):
        return "requires at least 1 arg(s), only received 0"
    return msg.rstrip(".")


def run(argv: list[str]) -> int:
    from pypod.cli.boundary import report

    debug = any(a in ("--log-level=debug", "--log-level=trace") for a in argv) or (
        "--log-level" in argv and argv.index("--log-level") + 1 < len(argv)
        and argv[argv.index("--log-level") + 1] in ("debug", "trace"))
    try:
        argv = hoist_global_options(argv)
        app = build(argv)
        cmd = typer.main.get_command(app)
        from typer._click import exceptions as cx

        try:
            rv = cmd.main(args=argv, prog_name="pypod", standalone_mode=False)
        except cx.NoArgsIsHelpError as e:
            e.ctx and sys.stdout.write(e.ctx.get_help() + "\n")
            return 0 if not argv else 125
        except cx.UsageError as e:
            word = _command_word(argv) or ""
            sys.stderr.write(f"Error: {_usage_message(e)}\n")
            sys.stderr.write(f"See 'pypod {word + ' ' if word else ''}--help'\n")
            return 125
        except typer.Abort:
            return 130
        except typer.Exit as e:
            return e.exit_code
        if isinstance(rv, int):
            return rv
        return 0
    except BaseException as e:  # the one boundary
        if isinstance(e, SystemExit):
            return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        return report(e, debug)
    finally:
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            pass
