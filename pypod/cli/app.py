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
    from typing import List, Optional

# noun → the modules whose register(root) add `pypod NOUN ...` verbs (and their top-level aliases);
# a module not written yet is skipped.
NOUNS = {
    "image": ("pypod.cli.image", "pypod.cli.build", "pypod.cli.transport"),
    "system": ("pypod.cli.system", "pypod.cli.storage", "pypod.cli.service", "pypod.cli.connection",
               "pypod.cli.events"),
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
    "events": ("pypod.cli.events",),
    "compose": ("pypod.cli.compose",),
    "kube": ("pypod.cli.kube",),
    "generate": ("pypod.cli.kube",),
    "play": ("pypod.cli.kube",),
    "pod": ("pypod.cli.pod",),
    "manifest": ("pypod.cli.manifest",),
}
# top-level command → the module that registers it
ALIASES = {
    "pull": "image", "images": "image", "rmi": "image", "tag": "image", "untag": "image",
    "history": "image", "import": "image",
    "build": "build", "commit": "build", "buildx": "build",
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
               "--runtime", "--conmon", "--identity", "--storage-opt", "--module", "--runtime-flag"}


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

    root = Group(help="Manage pods, containers and images")

    @root.callback()
    def root_options(
        root: Optional[str] = Opt(None, "--root", help="Path to the graph root directory"),
        runroot: Optional[str] = Opt(None, "--runroot", help="Path to the run root directory"),
        log_level: str = Opt("warn", "--log-level", help="Log messages at and above this level (trace, debug, info, warn, error, fatal, panic)"),
        storage_driver: Optional[str] = Opt(None, "--storage-driver", help="Storage driver (overlay)"),
        cgroup_manager: Optional[str] = Opt(None, "--cgroup-manager", hidden=True),
        events_backend: Optional[str] = Opt(None, "--events-backend", hidden=True),
        tmpdir: Optional[str] = Opt(None, "--tmpdir", hidden=True),
        runtime: Optional[str] = Opt(None, "--runtime", help="Path to the OCI-compatible binary used to run containers (pypod: its own supervisor; a name is only checked)"),
        version: bool = Opt(False, "--version", "-v", help="Print the version"),
        url: Optional[str] = Opt(None, "--url", help="URL to access a Docker-compatible API service (CONTAINER_HOST): unix://PATH, tcp://HOST:PORT, ssh://USER@HOST[:PORT]/PATH"),
        connection: Optional[str] = Opt(None, "--connection", "-c", help="Connection to use for the remote service (CONTAINER_CONNECTION)"),
        identity: Optional[str] = Opt(None, "--identity", help="path to SSH identity file, (CONTAINER_SSHKEY)"),
        remote: bool = Opt(False, "--remote", "-r", help="Access the remote service through the default connection"),
        noout: bool = Opt(False, "--noout", help="do not output to stdout"),
        runtime_flag: List[str] = Opt([], "--runtime-flag", help="add global flags for the container runtime"),
    ):
        from pypod.errors import ExitCode, InvalidArgument

        if runtime is not None:
            from pypod.engine import ociruntime

            ociruntime.check(runtime)
        if log_level not in ("trace", "debug", "info", "warn", "warning", "error", "fatal", "panic"):
            raise InvalidArgument(f'invalid log level "{log_level}"')
        if storage_driver and storage_driver not in ("overlay", "vfs"):
            raise InvalidArgument(f'unsupported storage driver "{storage_driver}": use overlay')
        state.set_options(root=root, runroot=runroot, driver=storage_driver, log_level=log_level, url=url,
                          connection=connection, identity=identity, remote=remote, runtime_flags=runtime_flag)
        if noout:  # podman's --noout: what the command prints goes nowhere (errors still show)
            import os

            null = os.open(os.devnull, os.O_WRONLY)
            sys.stdout.flush()
            os.dup2(null, 1)
            os.close(null)
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
    """podman's help for the command path in argv (options and `--help` are ignored)."""
    from pypod.cli import help as helptext
    from pypod.cli.params import UsageError

    words = [a for a in argv if not a.startswith("-")]
    root = build(words[:1] if words else [])
    node, path = root, "pypod"
    for w in words:
        if isinstance(node, type(root)) and w in node.groups:
            node, path = node.groups[w], f"{path} {w}"
        elif isinstance(node, type(root)) and w in node.commands:
            node, path = node.commands[w], f"{path} {w}"
        elif node is root and w == "help":
            sys.stdout.write(helptext.HELP_COMMAND)
            return 0
        else:
            raise UsageError(f"unrecognized command `{path} {w}`", path,
                             f"Try '{path} --help' for more information")
    if node is root:
        text = helptext.render_group(root, path, _root_command(root).params())
    elif isinstance(node, type(root)):
        text = helptext.render_group(node, path)
    else:
        text = helptext.render_command(node, path)
    sys.stdout.write(text)
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
    if word in ("__complete", "__completeNoDesc"):  # the shell completion scripts' one call
        from pypod.cli.complete import complete

        return complete(post, describe=word == "__complete")
    if word == "help":  # cobra's help command: `pypod help [COMMAND...]`
        return _show_help(post)
    if word is None:  # podman: the help, then an error
        _show_help(["--help"])
        sys.stderr.write("Error: missing command 'pypod COMMAND'\n")
        return 125
    path = f"pypod {word}"
    if word in root.groups:
        group, words, rest = root.groups[word], [word], post
        while True:  # down the groups (`pypod system connection add`)
            sub = next((a for a in rest if not a.startswith("-")), None)
            gpath = " ".join(words)
            if sub is None:
                if any(a in ("-h", "--help") for a in rest):
                    return _show_help([*words, "--help"])
                _show_help([*words, "--help"])
                sys.stderr.write(f"Error: missing command 'pypod {gpath} COMMAND'\n")
                return 125
            rest = rest[:rest.index(sub)] + rest[rest.index(sub) + 1:]
            if sub in group.groups:
                group = group.groups[sub]
                words.append(sub)
                continue
            if sub not in group.commands:
                raise UsageError(f"unrecognized command `pypod {gpath} {sub}`", f"pypod {gpath}",
                                 f"Try 'pypod {gpath} --help' for more information")
            cmd = group.commands[sub]
            path = f"pypod {gpath} {sub}"
            break
    elif word in root.commands:
        cmd = root.commands[word]
        rest = post
    else:
        from pypod.cli.help import suggestions

        near = suggestions(word, sorted([*root.groups, *root.commands, "help"]))
        also = "".join(f"\t{n}\n" for n in near)
        raise UsageError(f"unrecognized command `pypod {word}`", "pypod",
                         (f"\nDid you mean this?\n{also}\n" if near else "")
                         + "Try 'pypod --help' for more information")
    target = _remote_target(path)
    try:
        if target is not None:  # the same flags, parsed alike; the verb served by the endpoint
            from pypod.cli.params import parse
            from pypod.remote.commands import run_remote
            from pypod.remote.transport import Endpoint

            return run_remote(Endpoint(*target), path.split(" ", 1)[1], parse(cmd, rest, path))
        rv = invoke(cmd, rest, path)
    except HelpRequested:
        return _show_help(path.split()[1:] + ["--help"])
    return rv if isinstance(rv, int) else 0


def _interrupt_once(signum, frame):
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def _remote_target(path: str) -> tuple[str, str] | None:
    """(uri, identity) when this command goes to a remote API endpoint (--url, --connection,
    CONTAINER_HOST/CONTAINER_CONNECTION, --remote); None for the local engine."""
    o = state._options
    if path.startswith(("pypod system connection", "pypod system service")):
        return None
    import os

    if not (o.get("url") or o.get("connection") or o.get("remote") or os.environ.get("CONTAINER_HOST")
            or os.environ.get("CONTAINER_CONNECTION")):
        return None  # the usual case costs no import
    from pypod.remote import connections

    target = connections.resolve(o.get("url"), o.get("connection"), bool(o.get("remote")))
    if target is not None and o.get("identity"):
        target = (target[0], o["identity"])
    return target


def _root_command(root):
    from pypod.cli.params import Command

    return Command("pypod", root.callback_fn, None, False, True, ("-h", "--help"))


def run(argv: list[str]) -> int:
    from pypod.cli.boundary import report

    debug = any(a in ("--log-level=debug", "--log-level=trace") for a in argv) or (
        "--log-level" in argv and argv.index("--log-level") + 1 < len(argv)
        and argv[argv.index("--log-level") + 1] in ("debug", "trace"))
    import signal

    # The first Ctrl-C interrupts; from then on we are on the way out, and a second one must not
    # interrupt the exit with a traceback of its own (podman exits quietly however often it is
    # pressed). The handler ignores SIGINT before it raises, so there is no window between them.
    signal.signal(signal.SIGINT, _interrupt_once)
    try:
        return dispatch(hoist_global_options(argv))
    except BaseException as e:  # the one boundary
        if isinstance(e, SystemExit):
            return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        try:
            return report(e, debug)
        except KeyboardInterrupt:
            return 130
    finally:
        try:
            sys.stdout.flush()
        except (BrokenPipeError, KeyboardInterrupt):
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
