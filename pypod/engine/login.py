"""Registry credentials: `login` (checked against the registry, then kept in podman's auth.json),
`logout`, and the login a registry has. The CLI prompts and prints; this does the rest."""

from __future__ import annotations

from pypod.errors import AuthError, InvalidArgument, PypodError, RegistryError


def registry_host(arg: str | None) -> str:
    """The auth.json key for a login/logout argument (none: the first search registry)."""
    from pypod.image.auth import normalize_registry_key

    if not arg:
        from pypod.image.registries import load_registries

        search = load_registries().search
        if not search:
            raise InvalidArgument("please provide a registry to log in to")
        return search[0]
    return normalize_registry_key(arg)


def current_login(host: str, authfile: str | None) -> str:
    """The user name stored for `host` (`login --get-login`)."""
    from pypod.image import auth

    creds = auth.get_credentials(host, None, authfile=authfile)
    if not creds:
        raise PypodError(f"not logged into {host}")
    return creds[0]


def login(host: str, username: str, password: str, *, authfile: str | None, tls_verify: str | None,
          cert_dir: str | None) -> None:
    """Check the credentials against the registry, then store them."""
    from pypod.image import auth

    _verify(host, username, password, tls_verify, cert_dir)
    auth.store_credentials(host, username, password, authfile=authfile)


def logout(host: str | None, *, authfile: str | None, all_: bool = False) -> None:
    """Forget the credentials of `host` (all of them with all_)."""
    from pypod.image import auth

    if all_:
        auth.remove_credentials(None, authfile=authfile, all=True)
    elif not auth.remove_credentials(host, authfile=authfile):
        raise PypodError(f"not logged into {host}")


def _verify(host: str, username: str, password: str, tls_verify: str | None, cert_dir: str | None) -> None:
    """Check the credentials against the registry's /v2/ endpoint (Basic, or a Bearer token)."""
    from pypod.image.registries import load_registries
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
