"""`pypod system service`: the Docker-compatible REST API on a socket, while it is used."""

from __future__ import annotations

import sys

from pypod.cli.params import Arg, Opt

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional


def service(
    uri: Optional[str] = Arg(None, metavar="[URI]"),
    time_: int = Opt(5, "--time", "-t", help="Time until the service session expires in seconds. Use 0 to disable the timeout"),
):
    """Run an API service.

    Serve the Docker-compatible REST API on URI (unix://PATH, default
    $XDG_RUNTIME_DIR/pypod/pypod.sock; tcp://HOST:PORT; or the socket systemd passes) until it has
    been idle for --time seconds."""
    from pypod.api import server  # the API is a front end beside cli/: both stand on engine/
    from pypod.cli import state

    listener = server.listen(uri)
    for w in listener.warnings:
        sys.stderr.write(f"WARN[0000] {w}\n")
    server.serve(state.context(), listener, float(time_))


def register(root) -> None:
    root.group("system", "Manage pypod").command("service")(service)
