"""Registry credentials in podman's auth.json place and format.

Reading follows containers/image (pkg/docker/config): the files of `paths.auth_file_candidates()`
in order (`--authfile` replaces the list); in each, the keys `registry/repo/path`, then its parents,
then `registry` are tried exactly, then any key that normalises to the registry (URL keys such as
`https://index.docker.io/v1/` in ~/.docker/config.json); the first file with a matching entry wins.

Writing touches one file only: `--authfile`, else `paths.default_auth_file()`, replaced atomically
(temp file, fsync, rename) with mode 0600 in a 0700 directory, every other entry and key kept.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pypod.errors import InvalidArgument, PypodError

DOCKER_IO = "docker.io"
# Hosts that mean Docker Hub in auth files (docker writes https://index.docker.io/v1/).
_DOCKER_HUB_HOSTS = {"docker.io", "index.docker.io", "registry-1.docker.io"}


class Credentials(tuple):
    """`(username, password)`, unpackable as a pair, plus the entry's `identity_token` (an OAuth2
    refresh token, docker's `identitytoken`) when the file has one. `key` and `source` say which
    auth-file entry and file the credentials came from."""

    identity_token: str | None
    key: str | None
    source: Path | None

    def __new__(cls, username: str, password: str, identity_token: str | None = None,
                key: str | None = None, source: Path | None = None) -> Credentials:
        self = super().__new__(cls, (username, password))
        self.identity_token = identity_token or None
        self.key = key
        self.source = source
        return self

    @property
    def username(self) -> str:
        return self[0]

    @property
    def password(self) -> str:
        return self[1]

    def __repr__(self) -> str:  # never print a secret by accident
        return f"Credentials(username={self[0]!r}, password=***{', identity_token=***' if self.identity_token else ''})"


def normalize_registry_key(s: str) -> str:
    """An auth-file key or `login` argument as a key: "https://index.docker.io/v1/" and "docker.io"
    → "docker.io". A URL keeps only its host[:port]; trailing "/" go; Docker Hub host aliases become
    docker.io; a namespaced key ("quay.io/org") keeps its path."""
    key = s.strip()
    had_scheme = False
    for scheme in ("https://", "http://"):
        if key.startswith(scheme):
            key = key[len(scheme):]
            had_scheme = True
            break
    if had_scheme:
        key = key.split("/", 1)[0]
    key = key.rstrip("/")
    host, sep, rest = key.partition("/")
    if host in _DOCKER_HUB_HOSTS:
        host = DOCKER_IO
    return host + sep + rest


def parse_creds(text: str) -> tuple[str, str]:
    """`--creds user[:password]` → (user, password); the password may be empty (callers prompt)."""
    user, _, password = text.partition(":")
    if not user:
        raise InvalidArgument("--creds: the username must not be empty (use --creds USERNAME[:PASSWORD])")
    return user, password


def check_auth_file(authfile: str | os.PathLike[str] | None) -> None:
    """podman's check of an explicit `--authfile` for reading commands (pull, push, search…)."""
    if authfile is None or authfile == "":
        return
    try:
        os.stat(authfile)
    except OSError as e:
        raise PypodError(f"checking authfile: stat {authfile}: {(e.strerror or str(e)).lower()}") from None


# ---------------------------------------------------------------------------------------------
# reading


def _read_auth_file(path: Path) -> dict[str, Any] | None:
    import json

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (NotADirectoryError, IsADirectoryError):
        raise PypodError(f"reading {path}: not a regular file") from None
    except OSError as e:
        raise PypodError(f"reading {path}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise PypodError(f"unmarshaling JSON at {str(path)!r}: not UTF-8") from None
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise PypodError(f"unmarshaling JSON at {str(path)!r}: {e}") from None
    if not isinstance(data, dict):
        raise PypodError(f"unmarshaling JSON at {str(path)!r}: not a JSON object")
    return data


def _auths(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    auths = data.get("auths") or {}
    if not isinstance(auths, dict):
        raise PypodError(f"unmarshaling JSON at {str(path)!r}: \"auths\" is not an object")
    return auths


def _lookup_keys(key: str) -> list[str]:
    """"r/a/b" → ["r/a/b", "r/a", "r"] (containers/image authKeyLookupOrder)."""
    out = [key]
    while "/" in key:
        key = key.rsplit("/", 1)[0]
        out.append(key)
    return out


def _find_entry(auths: dict[str, Any], key: str, registry: str) -> tuple[str, Any] | None:
    for k in _lookup_keys(key):
        if k in auths:
            return k, auths[k]
    # Legacy and URL keys: compare as registries (only keys that normalise to a bare host match).
    for k, v in auths.items():
        if normalize_registry_key(k) == registry:
            return k, v
    return None


def _decode_entry(path: Path, key: str, entry: Any) -> Credentials | None:
    """An entry's credentials, or None for an empty entry (docker's marker for a helper)."""
    import base64
    import binascii

    if not isinstance(entry, dict):
        raise PypodError(f"unmarshaling JSON at {str(path)!r}: entry {key!r} is not an object")
    token = entry.get("identitytoken") or None
    if token is not None and not isinstance(token, str):
        raise PypodError(f"{path}: entry {key!r}: \"identitytoken\" is not a string")
    auth = entry.get("auth") or ""
    if not isinstance(auth, str):
        raise PypodError(f"{path}: entry {key!r}: \"auth\" is not a string")
    username = password = ""
    if auth:
        try:
            decoded = base64.b64decode(auth, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise PypodError(f"{path}: entry {key!r}: \"auth\" is not valid base64 of user:password") from None
        user, sep, pw = decoded.partition(":")
        if sep:
            username, password = user, pw.strip("\x00")
        elif token is None:
            # docker skips an auth without ":" (containers/image warns and moves on)
            return None
    elif token is None:
        return None
    if token is not None and not username:
        username = "<token>"  # docker's convention for an identity token in a username field
    return Credentials(username, password, identity_token=token, key=key, source=path)


def _helper_error(path: Path, registry: str, helper: str) -> PypodError:
    return PypodError(
        f"{path}: credentials for {registry} are kept by the credential helper "
        f"\"docker-credential-{helper}\", which pypod does not support",
        hint=f"run `pypod login {registry}` to store them in pypod's auth file, or use --creds")


def get_credentials(registry: str, repository: str | None = None,
                    authfile: str | os.PathLike[str] | None = None) -> Credentials | None:
    """(username, password) for `registry` (and `repository`, for namespaced entries), or None.

    The result is a `Credentials`: a 2-tuple with `.identity_token` (use it as an OAuth2 refresh
    token when set). A credential helper configured for the registry raises a PypodError.
    """
    from pypod import paths

    registry = normalize_registry_key(registry)
    key = f"{registry}/{repository.strip('/')}" if repository else registry
    files = [Path(authfile)] if authfile else paths.auth_file_candidates()
    for path in files:
        data = _read_auth_file(path)
        if not data:
            continue
        helpers = data.get("credHelpers") or {}
        if isinstance(helpers, dict):
            for host, helper in helpers.items():
                if normalize_registry_key(host) == registry:
                    raise _helper_error(path, registry, str(helper))
        found = _find_entry(_auths(path, data), key, registry)
        if found is None:
            continue
        creds = _decode_entry(path, found[0], found[1])
        if creds is not None:
            return creds
        store = data.get("credsStore")
        if store:
            raise _helper_error(path, registry, str(store))
    return None


# ---------------------------------------------------------------------------------------------
# writing


def _target(authfile: str | os.PathLike[str] | None) -> Path:
    from pypod import paths

    return Path(authfile) if authfile else paths.default_auth_file()


def _make_dirs(directory: Path) -> None:
    """Create missing directories with mode 0700 each (Go's MkdirAll(dir, 0700))."""
    missing = []
    d = directory
    while not d.exists():
        missing.append(d)
        if d.parent == d:
            break
        d = d.parent
    for d in reversed(missing):
        try:
            os.mkdir(d, 0o700)
        except FileExistsError:
            pass
        except OSError as e:
            raise PypodError(f"creating {d}: {e.strerror or e}") from None


def _write_atomic(path: Path, data: dict[str, Any]) -> None:
    import json

    from pypod.store.db import write_atomic

    _make_dirs(path.parent)
    body = json.dumps(data, indent="\t").encode("utf-8")
    try:
        write_atomic(path, body, 0o600, sync_dir=True)
    except OSError as e:
        raise PypodError(f"writing {path}: {e.strerror or e}") from None


def _login_key(registry: str) -> str:
    """The auth-file key for `login`/`logout` ARG: host[:port] or a namespace without tag/digest."""
    from pypod.image import reference

    key = normalize_registry_key(registry)
    if not key:
        raise InvalidArgument("a registry must be given")
    host, sep, rest = key.partition("/")
    if sep:
        try:
            ref = reference.parse(key)
        except InvalidArgument as e:
            raise InvalidArgument(f"parse reference from {key!r}: {e.message}") from None
        if "@" in rest or ":" in rest:
            raise InvalidArgument(f"reference \"{ref}\" contains tag or digest")
    elif "@" in key:
        raise InvalidArgument(f"reference \"{key}\" contains tag or digest")
    return key


def store_credentials(registry: str, username: str, password: str,
                      authfile: str | os.PathLike[str] | None = None) -> Path:
    """Save credentials (podman login) in the auth file; returns that file."""
    import base64

    if not username:
        raise InvalidArgument("username must not be empty")
    if ":" in username:
        raise InvalidArgument("username must not contain \":\"")
    key = _login_key(registry)
    path = _target(authfile)
    data = _read_auth_file(path) or {}
    auths = dict(_auths(path, data))
    # One entry per registry: drop other spellings of this key (e.g. https://index.docker.io/v1/).
    for k in [k for k in auths if k != key and normalize_registry_key(k) == key]:
        del auths[k]
    auth = base64.b64encode(f"{username}:{password}".encode("utf-8")).decode("ascii")
    auths[key] = {"auth": auth}
    data["auths"] = auths
    _write_atomic(path, data)
    return path


def remove_credentials(registry: str | None, authfile: str | os.PathLike[str] | None = None,
                       all: bool = False) -> bool:
    """Forget credentials (podman logout) in the auth file; True if something was removed.

    `all` empties `auths` (other keys stay). Without a registry, the first search registry of
    registries.conf is used, as podman does. False means "not logged into <registry>" (callers
    print `Error: not logged into …`, exit 125).
    """
    path = _target(authfile)
    if all:
        data = _read_auth_file(path)
        if data is None:
            return False
        had = bool(_auths(path, data))
        data["auths"] = {}
        _write_atomic(path, data)
        return had
    if not registry:
        from pypod.image.registries import load_registries

        search = load_registries().search
        if not search:
            raise InvalidArgument("no registries found in registries.conf, a registry must be provided")
        registry = search[0]
    key = _login_key(registry)
    data = _read_auth_file(path)
    if not data:
        return False
    auths = dict(_auths(path, data))
    doomed = [k for k in auths if k == key or normalize_registry_key(k) == key]
    if not doomed:
        return False
    for k in doomed:
        del auths[k]
    data["auths"] = auths
    _write_atomic(path, data)
    return True
