"""`pypod attach` / `pypod container attach`: join a running container's stdio."""

from __future__ import annotations

from pypod.cli.params import Arg, Opt

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional


def attach(
    container: Optional[str] = Arg(None, metavar="CONTAINER"),
    detach_keys: Optional[str] = Opt(None, "--detach-keys", help="Select the key sequence for detaching a container. Format is a single character [a-Z] or a comma separated sequence of `ctrl-<value>`, where `<value>` is one of: `a-z`, `@`, `^`, `[`, `\\`, `]`, `^` or `_`"),
    no_stdin: bool = Opt(False, "--no-stdin", help="Do not attach STDIN. The default is false"),
    sig_proxy: bool = Opt(True, "--sig-proxy", help="Proxy received signals to the process"),
    latest: bool = Opt(False, "--latest", "-l", help="Act on the latest container podman is aware of"),
):
    """Attach to a running container."""
    from pypod.cli import state
    from pypod.engine import containers
    from pypod.errors import ExitCode, InvalidArgument

    ctx = state.context()
    if latest:
        container = containers.latest_container(ctx)
    if not container:
        raise InvalidArgument("attach requires the name or id of one running container or the latest flag")
    rec = containers.get_container(ctx, container)
    code = containers.attach_container(ctx, rec, no_stdin=no_stdin, detach_keys=detach_keys,
                                       sig_proxy=sig_proxy)
    raise ExitCode(code)


def register(root) -> None:
    root.group("container", "Manage containers").command("attach")(attach)
    root.command("attach", help="Attach to a running container")(attach)
