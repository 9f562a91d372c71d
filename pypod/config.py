"""Settings from containers.conf, and the TOML reading that image/registries.py (registries.conf)
shares.

containers.conf is read like containers/common: `$CONTAINERS_CONF` alone if set; else
`/usr/share/containers/containers.conf`, `/etc/containers/containers.conf`, its `containers.conf.d`,
then (rootless) `~/.config/containers/containers.conf` and its `containers.conf.d`, merged table by
table; `$CONTAINERS_CONF_OVERRIDE` last.

It is parsed once per process (the cache is keyed by the files' paths and mtimes, so tests that
swap files or environment variables see the change). Only the standard library is imported here.
"""

from __future__ import annotations

import os
from pathlib import Path

from pypod.errors import PypodError
from pypod.record import Record

TYPE_CHECKING = False  # typing costs start-up time; the names below are for annotations only

if TYPE_CHECKING:
    from typing import Any

SYSTEM_CONTAINERS_CONFS = (Path("/usr/share/containers/containers.conf"),
                           Path("/etc/containers/containers.conf"))
SYSTEM_CONTAINERS_CONF_D = Path("/etc/containers/containers.conf.d")

# podman's default capability set (containers/common default_capabilities).
DEFAULT_CAPABILITIES = (
    "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "NET_BIND_SERVICE",
    "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
)
DEFAULT_PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


# ---------------------------------------------------------------------------------------------
# TOML reading


def read_toml(path: Path) -> dict[str, Any] | None:
    """The parsed file, None if it does not exist; bad TOML is a one-line PypodError."""
    import tomllib

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise PypodError(f"{path}: is a directory") from None
    except OSError as e:
        raise PypodError(f"{path}: {e.strerror or e}") from None
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise PypodError(f"{path}: not UTF-8: {e.reason}") from None
    except tomllib.TOMLDecodeError as e:
        msg = " ".join(str(e).split())
        raise PypodError(f"{path}: {msg}") from None


def drop_in_files(directory: Path) -> list[Path]:
    """`*.conf` files directly in a directory, in name order (subdirectories are not walked)."""
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return []
    except NotADirectoryError:
        return []
    except OSError as e:
        raise PypodError(f"reading {directory}: {e.strerror or e}") from None
    out = []
    for name in names:
        p = directory / name
        if name.endswith(".conf") and not p.is_dir():
            out.append(p)
    return out


def stat_key(paths: list[Path]) -> tuple:
    key = []
    for p in paths:
        try:
            st = os.stat(p)
            key.append((str(p), st.st_mtime_ns, st.st_size, st.st_ino))
        except OSError:
            key.append((str(p), None))
    return tuple(key)


def expect(path: Path, where: str, value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    if isinstance(value, bool) and kind is int:
        raise PypodError(f"{path}: {where}: expected {what}")
    if not isinstance(value, kind):
        raise PypodError(f"{path}: {where}: expected {what}")
    return value


def expect_str_list(path: Path, where: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PypodError(f"{path}: {where}: expected an array of strings")
    return list(value)


# ---------------------------------------------------------------------------------------------
# containers.conf


def _containers_conf_files() -> list[Path]:
    from pypod import paths

    env = os.environ.get("CONTAINERS_CONF")
    if env:
        p = Path(env)
        if not p.exists():
            raise PypodError(f"CONTAINERS_CONF file: stat {p}: no such file or directory")
        files = [p]
    else:
        files = list(SYSTEM_CONTAINERS_CONFS) + drop_in_files(SYSTEM_CONTAINERS_CONF_D)
        if paths.is_rootless():
            user_dir = paths.config_home() / "containers"
            files += [user_dir / "containers.conf"] + drop_in_files(user_dir / "containers.conf.d")
    override = os.environ.get("CONTAINERS_CONF_OVERRIDE")
    if override:
        files.append(Path(override))
    return files


def _merge_tables(into: dict[str, Any], update: dict[str, Any]) -> None:
    for k, v in update.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            _merge_tables(into[k], v)
        else:
            into[k] = v


_containers_cache: dict[tuple, tuple[dict[str, Any], dict[tuple[str, str], str]]] = {}


def _load_containers_conf() -> tuple[dict[str, Any], dict[tuple[str, str], str]]:
    files = _containers_conf_files()
    key = stat_key(files)
    cached = _containers_cache.get(key)
    if cached is not None:
        return cached
    stored = _read_parsed_cache(key)
    if stored is not None:
        _containers_cache[key] = stored
        return stored
    merged: dict[str, Any] = {}
    origins: dict[tuple[str, str], str] = {}  # (table, key) → the file that set it last
    for file in files:
        data = read_toml(file)
        if data is None:
            continue
        for table, values in data.items():
            if isinstance(values, dict):
                for k in values:
                    origins[(table, k)] = str(file)
        _merge_tables(merged, data)
    _containers_cache[key] = (merged, origins)
    _write_parsed_cache(key, merged, origins)
    return merged, origins


# The merged containers.conf is also kept across processes, as JSON in the run root, under the
# same key (the files' paths, mtimes, sizes, inodes): importing tomllib and parsing the 24 KB
# /usr/share/containers/containers.conf would otherwise cost every `create` and `run` ~10 ms.
_PARSED_CACHE = "containers-conf.json"


def _parsed_cache_path() -> str | None:
    from pypod import paths

    try:
        return os.path.join(paths.default_run_root(), _PARSED_CACHE)
    except Exception:  # noqa: BLE001 - no run root: no cache
        return None


def _read_parsed_cache(key: tuple):
    from pypod import jsonlite

    path = _parsed_cache_path()
    if not path:
        return None
    try:
        with open(path, "rb") as f:
            d = jsonlite.loads(f.read())
        if d.get("key") != jsonlite.loads(jsonlite.dumps(key)):
            return None
        return d["merged"], {(t, k): f for t, k, f in d["origins"]}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _write_parsed_cache(key: tuple, merged: dict, origins: dict) -> None:
    from pypod import jsonlite

    path = _parsed_cache_path()
    if not path or not os.path.isdir(os.path.dirname(path)):
        return
    try:
        text = jsonlite.dumps({"key": key, "merged": merged,
                               "origins": [[t, k, f] for (t, k), f in origins.items()]})
    except (TypeError, ValueError):  # e.g. a TOML date: not JSON, not cached
        return
    from pypod.store import db

    try:
        db.write_atomic(path, text.encode(), 0o600, fsync=False)
    except OSError:
        pass


def load_containers_conf() -> dict[str, Any]:
    """The merged containers.conf as a plain dict (a copy: mutate freely)."""
    import copy

    return copy.deepcopy(_load_containers_conf()[0])


class EngineConfig(Record):
    """The containers.conf keys pypod uses, with podman's defaults (pypod's where they differ)."""

    FIELDS = (
        # [network]
        ("default_rootless_network_cmd", "slirp4netns"),
        ("default_network", "podman"),
        ("default_subnet", "10.88.0.0/16"),
        # [engine]
        ("network_cmd_path", None),
        ("network_cmd_options", list),
        ("helper_binaries_dir", list),
        ("stop_timeout", 10),
        ("events_logger", "file"),
        ("image_default_transport", "docker://"),
        ("image_volume_mode", "bind"),
        ("runtime", ""),            # the OCI runtime's name: checked (engine.ociruntime), not used
        # [containers]
        ("default_ulimits", list),
        ("env", lambda: [DEFAULT_PATH_ENV, "TERM=xterm"]),
        ("default_capabilities", None),  # None: DEFAULT_CAPABILITIES
        ("default_sysctls", list),
        ("dns_servers", list),
        ("dns_searches", list),
        ("dns_options", list),
        ("init", False),
        ("init_path", None),
        ("http_proxy", True),
        ("no_hosts", False),
        ("base_hosts_file", ""),
        ("log_driver", "k8s-file"),
        ("log_size_max", -1),
        ("pids_limit", 2048),
        ("shm_size", "65536k"),
        ("tz", None),
        ("umask", "0022"),
    )

    @property
    def capabilities(self) -> list[str]:
        return list(self.default_capabilities if self.default_capabilities is not None
                    else DEFAULT_CAPABILITIES)


# (table, key, attribute, kind): kind is str, int, bool, "list" (of strings) or "str?" (empty → None)
_ENGINE_KEYS = (
    ("network", "default_rootless_network_cmd", "default_rootless_network_cmd", str),
    ("network", "default_network", "default_network", str),
    ("network", "default_subnet", "default_subnet", str),
    ("engine", "network_cmd_path", "network_cmd_path", "str?"),
    ("engine", "network_cmd_options", "network_cmd_options", "list"),
    ("engine", "helper_binaries_dir", "helper_binaries_dir", "list"),
    ("engine", "stop_timeout", "stop_timeout", int),
    ("engine", "events_logger", "events_logger", str),
    ("engine", "image_default_transport", "image_default_transport", str),
    ("engine", "image_volume_mode", "image_volume_mode", str),
    ("engine", "runtime", "runtime", str),
    ("engine", "init_path", "init_path", "str?"),  # older place; [containers] wins
    ("containers", "default_ulimits", "default_ulimits", "list"),
    ("containers", "env", "env", "list"),
    ("containers", "default_capabilities", "default_capabilities", "list"),
    ("containers", "default_sysctls", "default_sysctls", "list"),
    ("containers", "dns_servers", "dns_servers", "list"),
    ("containers", "dns_searches", "dns_searches", "list"),
    ("containers", "dns_options", "dns_options", "list"),
    ("containers", "init", "init", bool),
    ("containers", "init_path", "init_path", "str?"),
    ("containers", "http_proxy", "http_proxy", bool),
    ("containers", "no_hosts", "no_hosts", bool),
    ("containers", "base_hosts_file", "base_hosts_file", str),
    ("containers", "log_driver", "log_driver", str),
    ("containers", "log_size_max", "log_size_max", int),
    ("containers", "pids_limit", "pids_limit", int),
    ("containers", "shm_size", "shm_size", str),
    ("containers", "tz", "tz", "str?"),
    ("containers", "umask", "umask", str),
)


def engine_config() -> EngineConfig:
    """The typed view of containers.conf; a wrongly typed value names its file and key."""
    import re

    raw, origins = _load_containers_conf()
    cfg = EngineConfig()
    for table, key, attr, kind in _ENGINE_KEYS:
        section = raw.get(table)
        if not isinstance(section, dict) or key not in section:
            continue
        value = section[key]
        where = Path(origins.get((table, key), "containers.conf"))
        label = f"[{table}] {key}"
        if kind == "list":
            value = expect_str_list(where, label, value)
        elif kind == "str?":
            value = expect(where, label, value, str, "a string") or None
        elif kind is int:
            value = expect(where, label, value, int, "an integer")
        elif kind is bool:
            value = expect(where, label, value, bool, "a boolean")
        else:
            value = expect(where, label, value, str, "a string")
        setattr(cfg, attr, value)
    if cfg.stop_timeout < 0:
        raise PypodError(f"{origins.get(('engine', 'stop_timeout'))}: [engine] stop_timeout: must not be negative")
    if not re.fullmatch(r"[0-7]{1,4}", cfg.umask):
        raise PypodError(f"{origins.get(('containers', 'umask'))}: [containers] umask: "
                         f"invalid umask {cfg.umask!r}")
    return cfg


def clear_caches() -> None:
    """Forget parsed files (tests; a long-running API service after a config change)."""
    _containers_cache.clear()
