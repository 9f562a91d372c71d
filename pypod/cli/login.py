"""`pypod login` and `pypod logout`: credentials in podman's auth.json."""

from __future__ import annotations

import sys

from pypod.cli.params import Arg, Opt

from pypod.cli.render import out

TYPE_CHECKING = False  # typing costs start-up time; the names below are for annotations only
if TYPE_CHECKING:
    from typing import Optional


def _registry_host(arg: Optional[str]) -> str:
    from pypod.errors import InvalidArgument
    from pypod.image.auth import normalize_registry_key

    if not arg:
        from pypod.config import load_registries

        search = load_registries().search
        if not search:
            raise InvalidArgument("please provide a registry to log in to")
        return search[0]
    return normalize_registry_key(arg)


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
    from pypod.errors import InvalidArgument, PypodError
    from pypod.image import auth

    host = _registry_host(registry)
    if get_login:
        creds = auth.get_credentials(host, None, authfile=authfile)
        if not creds:
            raise PypodError(f"not logged into {host}")
        out(creds[0])
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
    _verify(host, username, password, tls_verify, cert_dir)
    auth.store_credentials(host, username, password, authfile=authfile)
    out("Login Succeeded!")


def _verify(host: str, username: str, password: str, tls_verify: Optional[str], cert_dir: Optional[str]) -> None:
    """Check the credentials against the registry's /v2/ endpoint (Basic, or a Bearer token)."""
    from pypod.config import load_registries
    from pypod.errors import AuthError, RegistryError
    from pypod.image.registry import RegistryClient

    insecure = load_registries().is_insecure(host)
    tv = None if tls_verify is None else tls_verify.lower() not in ("false", "0")
    client = RegistryClient(host, insecure=insecure, tls_verify=tv, creds=(username, password), cert_dir=cert_dir)
    try:
        client.ping()
        if client.challenge is None:
            return
        tok = client._token("", None)
        r = client.session.get(f"{client.base}/v2/", headers={"Authorization": tok} if tok else {}, timeout=30)
        if r.status_code == 401:
            raise AuthError(f"logging into \"{host}\": invalid username/password")
        if r.status_code >= 400:
            raise RegistryError(f"logging into \"{host}\": status {r.status_code}")
    except AuthError as e:
        if "invalid username/password" in e.message and not e.message.startswith("logging"):
            raise AuthError(f"logging into \"{host}\": invalid username/password") from None
        raise


def logout(
    registry: Optional[str] = Arg(None, metavar="[REGISTRY]"),
    all_: bool = Opt(False, "--all", "-a", help="Remove the cached credentials for all registries in the auth file"),
    authfile: Optional[str] = Opt(None, "--authfile", help="Path of the authentication file"),
):
    """Log out of a container registry."""
    from pypod.errors import PypodError
    from pypod.image import auth

    if all_:
        auth.remove_credentials(None, authfile=authfile, all=True)
        out("Removed login credentials for all registries")
        return
    host = _registry_host(registry)
    if not auth.remove_credentials(host, authfile=authfile):
        raise PypodError(f"not logged into {host}")
    out(f"Removed login credentials for {host}")


def register(root) -> None:
    root.command("login", help="Log in to a container registry")(login)
    root.command("logout", help="Log out of a container registry")(logout)
