"""Where pypod keeps things: storage (graph root), runtime state (run root), config files.

Rootless: storage under $XDG_DATA_HOME/pypod, runtime state under $XDG_RUNTIME_DIR/pypod. A missing,
foreign or unwritable XDG_RUNTIME_DIR (after su, in cron or CI) is never fatal: we fall back to a
private 0700 directory /tmp/pypod-run-$UID and say so once.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path


def is_rootless() -> bool:
    return os.geteuid() != 0


def home_dir() -> Path:
    home = os.environ.get("HOME")
    if home:
        return Path(home)
    import pwd

    return Path(pwd.getpwuid(os.getuid()).pw_dir)


def data_home() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME")
    return Path(xdg) if xdg else home_dir() / ".local" / "share"


def config_home() -> Path:
    xdg = os.environ.get("XDG_CONFIG_HOME")
    return Path(xdg) if xdg else home_dir() / ".config"


def _usable_runtime_dir(path: str | None) -> bool:
    if not path:
        return False
    try:
        st = os.stat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and os.access(path, os.W_OK | os.X_OK)


def _private_dir(path: Path) -> Path:
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


def user_runtime_dir() -> Path:
    """The user's runtime base ($XDG_RUNTIME_DIR or the private fallback)."""
    if not is_rootless():
        return Path("/run")
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if _usable_runtime_dir(xdg):
        return Path(xdg)  # type: ignore[arg-type]
    fallback = _private_dir(Path(f"/tmp/pypod-run-{os.getuid()}"))
    marker = fallback / ".runtime-dir-notice"
    if not marker.exists():
        why = "is not set" if not xdg else f"({xdg}) is not a directory owned by uid {os.getuid()}"
        print(f"WARN[0000] XDG_RUNTIME_DIR {why}: using {fallback} for runtime state", file=sys.stderr)
        try:
            marker.touch()
        except OSError:
            pass
    return fallback


def _unshare_dir(var: str) -> Path | None:
    """Inside `pypod unshare` we are uid 0 of the user's namespace, but the storage is still
    the user's: `pypod unshare` passes its paths down (as podman's _CONTAINERS_* variables)."""
    if os.geteuid() == 0 and os.environ.get("_CONTAINERS_USERNS_CONFIGURED") == "done":
        v = os.environ.get(var)
        return Path(v) if v else None
    return None


def default_graph_root() -> Path:
    if not is_rootless():
        return _unshare_dir("_PYPOD_UNSHARE_GRAPHROOT") or Path("/var/lib/pypod/storage")
    return data_home() / "pypod" / "storage"


def default_run_root() -> Path:
    if not is_rootless():
        return _unshare_dir("_PYPOD_UNSHARE_RUNROOT") or Path("/run/pypod")
    return user_runtime_dir() / "pypod"


def auth_file_candidates() -> list[Path]:
    """Where credentials are read, in podman's order."""
    out: list[Path] = []
    env = os.environ.get("REGISTRY_AUTH_FILE")
    if env:
        out.append(Path(env))
    out.append(default_auth_file())
    out.append(home_dir() / ".docker" / "config.json")
    return out


def default_auth_file() -> Path:
    """podman's auth.json place: $XDG_RUNTIME_DIR/containers/auth.json (root: /run/containers/0)."""
    env = os.environ.get("REGISTRY_AUTH_FILE")
    if env:
        return Path(env)
    if not is_rootless():
        return Path("/run/containers/0/auth.json")
    return user_runtime_dir() / "containers" / "auth.json"
