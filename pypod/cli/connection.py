"""`pypod system connection add|list|default|remove`: named API endpoints, as podman 4.3 keeps them."""

from __future__ import annotations

from pypod.cli.params import Arg, Opt
from pypod.cli.render import out, render

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional


def add(name: str = Arg(..., metavar="NAME"), destination: str = Arg(..., metavar="DESTINATION"),
        identity: Optional[str] = Opt(None, "--identity", help="path to SSH identity file"),
        port: int = Opt(22, "--port", "-p", help="SSH port number for destination"),
        socket_path: Optional[str] = Opt(None, "--socket-path", help="path to podman socket on remote host. (default '/run/podman/podman.sock' or '/run/user/{uid}/podman/podman.sock)"),
        default: bool = Opt(False, "--default", "-d", help="Set connection to be default")):
    """Record destination for the Podman service.

    DESTINATION is ssh://USER@HOST[:PORT]/PATH, unix://PATH or tcp://HOST:PORT."""
    from pypod.remote import connections

    uri = destination
    if "://" not in uri:  # podman: USER@HOST means ssh
        uri = f"ssh://{uri}" + (f":{port}" if port != 22 else "")
    if uri.startswith("ssh://") and socket_path and not uri.split("://", 1)[1].count("/"):
        uri += socket_path
    connections.add(name, uri, identity or "", default)


def list_(fmt: Optional[str] = Opt(None, "--format", "-f", help="Custom Go template for printing connections"),
          quiet: bool = Opt(False, "--quiet", "-q", help="Custom Go template for printing connections")):
    """List destination for the Podman service(s)."""
    from pypod.remote import connections

    dests, default = connections.load()
    rows = [{"Name": n + ("*" if n == default and not fmt else ""), "URI": d["uri"], "Identity": d["identity"],
             "Default": n == default} for n, d in sorted(dests.items())]
    if quiet:
        for n in sorted(dests):
            out(n)
        return
    render(rows, fmt, columns=[("NAME", "Name"), ("URI", "URI"), ("IDENTITY", "Identity")])


def default(name: str = Arg(..., metavar="NAME")):
    """Set named destination as default."""
    from pypod.remote import connections

    connections.set_default(name)


def remove(name: Optional[str] = Arg(None, metavar="NAME"),
           all_: bool = Opt(False, "--all", "-a", help="Remove all connections")):
    """Delete named destination."""
    from pypod.errors import InvalidArgument
    from pypod.remote import connections

    if not name and not all_:
        raise InvalidArgument("requires at least 1 arg(s), only received 0")
    connections.remove(name or "", all_)


def register(root) -> None:
    g = root.group("system", "Manage pypod").group("connection", "Manage remote API service destinations")
    g.command("add")(add)
    g.command("list")(list_)
    g.command("ls", hidden=True)(list_)
    g.command("default")(default)
    g.command("remove")(remove)
    g.command("rm", hidden=True)(remove)
