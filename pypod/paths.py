"""Where pypod keeps things: storage (graph root), runtime state (run root), config files.

Rootless: storage under $XDG_DATA_HOME/pypod, runtime state under $XDG_RUNTIME_DIR/pypod. A missing,
foreign or unwritable XDG_RUNTIME_DIR (after su, in cron or CI) is never fatal: we fall back to a
private 0700 directory /tmp/pypod-run-$UID and say so once.
"""

from __future__ import annotations

import os
import stat

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

# The directories the read-only commands need (storage, runtime) are plain strings: importing
# pathlib (with urllib.parse and ipaddress) costs `pypod images` ~7 ms. Config and credential
# files are Paths.


def is_rootless() -> bool:
    return os.geteuid() != 0


def home_dir() -> str:
    home = os.environ.get("HOME")
    if home:
        return home
    import pwd

    return pwd.getpwuid(os.getuid()).pw_dir


def data_home() -> str:
    return os.environ.get("XDG_DATA_HOME") or os.path.join(home_dir(), ".local", "share")


def config_home() -> Path:
    from pathlib import Path

    return Path(os.environ.get("XDG_CONFIG_HOME") or os.path.join(home_dir(), ".config"))


def _usable_runtime_dir(path: str | None) -> bool:
    if not path:
        return False
    try:
        st = os.stat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and os.access(path, os.W_OK | os.X_OK)


def _private_dir(path: str) -> str:
    """Create (or check) a 0700 directory we own; refuse one someone else planted."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        from pypod.errors import PypodError

        raise PypodError(f"runtime directory {path} is not a directory owned by uid {os.getuid()}",
                         hint=f"remove it, or set XDG_RUNTIME_DIR to a directory you own")
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)
    return path


def user_runtime_dir() -> str:
    """The user's runtime base ($XDG_RUNTIME_DIR or the private fallback)."""
    if not is_rootless():
        return "/run"
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if _usable_runtime_dir(xdg):
        return xdg  # type: ignore[return-value]
    fallback = _private_dir(f"/tmp/pypod-run-{os.getuid()}")
    marker = os.path.join(fallback, ".runtime-dir-notice")
    if marker not in _pending_notices and not os.path.exists(marker):
        why = "is not set" if not xdg else f"({xdg}) is not a directory owned by uid {os.getuid()}"
        _pending_notices[marker] = f"XDG_RUNTIME_DIR {why}: using {fallback} for runtime state"
    return fallback


# Fallbacks to say once (marker file → warning). paths prints nothing: the engine's Context takes
# them (take_notices) and reports them; the marker is made when they are taken, so a notice no
# caller took is said next time.
_pending_notices: dict[str, str] = {}


def take_notices() -> list[str]:
    """The fallback warnings not said yet; from now on they count as said."""
    out = []
    for marker, message in list(_pending_notices.items()):
        out.append(message)
        try:
            os.close(os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
        except OSError:
            pass
    _pending_notices.clear()
    return out


def _unshare_dir(var: str) -> str | None:
    """Inside `pypod unshare` we are uid 0 of the user's namespace, but the storage is still
    the user's: `pypod unshare` passes its paths down (as podman's _CONTAINERS_* variables)."""
    if os.geteuid() == 0 and os.environ.get("_CONTAINERS_USERNS_CONFIGURED") == "done":
        return os.environ.get(var) or None
    return None


def default_graph_root() -> str:
    if not is_rootless():
        return _unshare_dir("_PYPOD_UNSHARE_GRAPHROOT") or "/var/lib/pypod/storage"
    return os.path.join(data_home(), "pypod", "storage")


def default_run_root() -> str:
    if not is_rootless():
        return _unshare_dir("_PYPOD_UNSHARE_RUNROOT") or "/run/pypod"
    return os.path.join(user_runtime_dir(), "pypod")


def auth_file_candidates() -> list[Path]:
    """Where credentials are read, in podman's order."""
    from pathlib import Path

    out: list[Path] = []
    env = os.environ.get("REGISTRY_AUTH_FILE")
    if env:
        out.append(Path(env))
    out.append(default_auth_file())
    out.append(Path(home_dir(), ".docker", "config.json"))
    return out


def default_auth_file() -> Path:
    """podman's auth.json place: $XDG_RUNTIME_DIR/containers/auth.json (root: /run/containers/0)."""
    from pathlib import Path

    env = os.environ.get("REGISTRY_AUTH_FILE")
    if env:
        return Path(env)
    if not is_rootless():
        return Path("/run/containers/0/auth.json")
    return Path(user_runtime_dir(), "containers", "auth.json")
