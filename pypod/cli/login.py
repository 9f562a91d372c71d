"""`pypod login` and `pypod logout`: credentials in podman's auth.json."""

from __future__ import annotations

import sys

from pypod.cli.params import Arg, Opt

from pypod.cli.render import out

TYPE_CHECKING = False  # typing costs start-up time; the names below are for annotations only
if TYPE_CHECKING:
    from typing import Optional


def login(
    registry: Optional[str] = Arg(None, metavar="[REGISTRY]"),
    username: Optional[str] = Opt(None, "--username", "-u", help="Username for registry"),
    password: Optional[str] = Opt(None, "--password", "-p", help="Password for registry"),
    password_stdin: bool = Opt(False, "--password-stdin", help="Take the password from stdin"),
    authfile: Optional[str] = Opt(None, "--authfile", help="Path of the authentication file"),
    tls_verify: Optional[str] = Opt(None, "--tls-verify", flag_value="true", is_flag=False,
                                             help="Require HTTPS and verify certificates when contacting registries"),
    cert_dir: Optional[str] = Opt(None, "--cert-dir", help="Use certificates at the specified path to access the registry"),
    get_login: bool = Opt(False, "--get-login", help="Return the current login user for the registry"),
):
    """Log in to a container registry."""
    from pypod.engine import login as eng
    from pypod.errors import InvalidArgument

    host = eng.registry_host(registry)
    if get_login:
        out(eng.current_login(host, authfile))
        return
    if password_stdin:
        if password:
            raise InvalidArgument("can't specify both --password-stdin and --password")
        password = sys.stdin.readline().rstrip("\n")
    if not username:
        if not sys.stdin.isatty():
            raise InvalidArgument("username is required: use --username")
        username = input("Username: ")
    if password is None:
        if not sys.stdin.isatty():
            raise InvalidArgument("password is required: use --password or --password-stdin")
        import getpass

        password = getpass.getpass("Password: ")
    if not username or not password:
        raise InvalidArgument("username and password are required")
    eng.login(host, username, password, authfile=authfile, tls_verify=tls_verify, cert_dir=cert_dir)
    out("Login Succeeded!")


def logout(
    registry: Optional[str] = Arg(None, metavar="[REGISTRY]"),
    all_: bool = Opt(False, "--all", "-a", help="Remove the cached credentials for all registries in the auth file"),
    authfile: Optional[str] = Opt(None, "--authfile", help="Path of the authentication file"),
):
    """Log out of a container registry."""
    from pypod.engine import login as eng

    if all_:
        eng.logout(None, authfile=authfile, all_=True)
        out("Removed login credentials for all registries")
        return
    host = eng.registry_host(registry)
    eng.logout(host, authfile=authfile)
    out(f"Removed login credentials for {host}")


def register(root) -> None:
    root.command("login", help="Log in to a container registry")(login)
    root.command("logout", help="Log out of a container registry")(logout)
