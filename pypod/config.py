"""Settings from registries.conf (v2, and v1 tolerated) and containers.conf.

registries.conf is read like containers/image's sysregistriesv2: `$CONTAINERS_REGISTRIES_CONF` alone
if set; else `~/.config/containers/registries.conf` with its `registries.conf.d` drop-ins if that file
exists; else `/etc/containers/registries.conf` with the drop-ins of `/etc/containers/registries.conf.d`
and then `~/.config/containers/registries.conf.d`. Drop-ins (`*.conf`, sorted) merge over the main
file: `[[registry]]` entries by prefix, `[aliases]` by key (an empty value removes an alias),
`unqualified-search-registries` and `short-name-mode` replace.

containers.conf is read like containers/common: `$CONTAINERS_CONF` alone if set; else
`/usr/share/containers/containers.conf`, `/etc/containers/containers.conf`, its `containers.conf.d`,
then (rootless) `~/.config/containers/containers.conf` and its `containers.conf.d`, merged table by
table; `$CONTAINERS_CONF_OVERRIDE` last.

Both are parsed once per process (the cache is keyed by the files' paths and mtimes, so tests that
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

    from pypod.image.reference import ImageReference

SYSTEM_REGISTRIES_CONF = Path("/etc/containers/registries.conf")
SYSTEM_REGISTRIES_CONF_D = Path("/etc/containers/registries.conf.d")
SYSTEM_CONTAINERS_CONFS = (Path("/usr/share/containers/containers.conf"),
                           Path("/etc/containers/containers.conf"))
SYSTEM_CONTAINERS_CONF_D = Path("/etc/containers/containers.conf.d")

# With no registries.conf anywhere (hosts without podman), short names still resolve to Docker Hub,
# like docker. A registries.conf that exists but sets no search registries gets podman's behaviour:
# no candidates. `RegistryConfig.search_origin` tells the two apart for messages.
DEFAULT_SEARCH_REGISTRIES = ("docker.io",)
BUILTIN_ORIGIN = "built-in default"

SHORT_NAME_MODES = ("disabled", "permissive", "enforcing")
PULL_FROM_MIRROR = ("all", "digest-only", "tag-only")

# podman's default capability set (containers/common default_capabilities).
DEFAULT_CAPABILITIES = (
    "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "NET_BIND_SERVICE",
    "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
)
DEFAULT_PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


# ---------------------------------------------------------------------------------------------
# TOML reading


def _read_toml(path: Path) -> dict[str, Any] | None:
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


def _drop_ins(directory: Path) -> list[Path]:
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


def _stat_key(paths: list[Path]) -> tuple:
    key = []
    for p in paths:
        try:
            st = os.stat(p)
            key.append((str(p), st.st_mtime_ns, st.st_size, st.st_ino))
        except OSError:
            key.append((str(p), None))
    return tuple(key)


def _expect(path: Path, where: str, value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    if isinstance(value, bool) and kind is int:
        raise PypodError(f"{path}: {where}: expected {what}")
    if not isinstance(value, kind):
        raise PypodError(f"{path}: {where}: expected {what}")
    return value


def _expect_str_list(path: Path, where: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PypodError(f"{path}: {where}: expected an array of strings")
    return list(value)


# ---------------------------------------------------------------------------------------------
# registries.conf


class RegistryEndpoint(Record):
    FIELDS = (
        ("location", ""),
        ("insecure", False),
        ("pull_from_mirror", "all"),  # mirrors only: "all", "digest-only", "tag-only"
    )


class RegistryEntry(Record):
    """One `[[registry]]` table (after v1 conversion and drop-in merging)."""

    FIELDS = (
        ("prefix", ""),
        ("location", ""),
        ("insecure", False),
        ("blocked", False),
        ("mirrors", list),
        ("mirror_by_digest_only", False),
        ("origin", ""),
    )

    @property
    def endpoint(self) -> RegistryEndpoint:
        return RegistryEndpoint(self.location, self.insecure)


def _parse_location(path: Path, value: str) -> str:
    """containers/image parseLocation: no URI scheme, trailing slashes dropped."""
    trimmed = value.rstrip("/")
    if trimmed.startswith(("http://", "https://")):
        raise PypodError(f"{path}: invalid location '{value}': URI schemes are not supported")
    return trimmed


def _match_prefix(ref: str, prefix: str) -> int:
    """containers/image refMatchingPrefix: the length of `ref` covered by `prefix`, or -1.

    A plain prefix must end at a boundary (":", "/", "@" or the end); a `*.example.com` prefix
    matches any subdomain in the host part only.
    """
    if prefix.startswith("*."):
        suffix = prefix[1:]
        index = ref.find(suffix)
        if index == -1 or "/" in ref[:index]:
            return -1
        index += len(suffix)
        if index == len(ref) or ref[index] in ":/@":
            return index
        return -1
    if len(ref) < len(prefix):
        return -1
    if len(ref) == len(prefix):
        return len(prefix) if ref == prefix else -1
    if not ref.startswith(prefix):
        return -1
    return len(prefix) if ref[len(prefix)] in ":/@" else -1


class _Partial(Record):
    """What one file says; merged in order into a RegistryConfig."""

    FIELDS = (
        ("path", None),
        ("search", None),
        ("short_name_mode", None),
        ("registries", list),
        ("aliases", dict),  # "" = remove
    )


_V2_KEYS = {"unqualified-search-registries", "short-name-mode", "registry", "aliases",
            "credential-helpers", "additional-layer-store-auth-helper"}
_REGISTRY_KEYS = {"prefix", "location", "insecure", "blocked", "mirror", "mirror-by-digest-only"}


def _parse_registry_table(path: Path, index: int, table: Any) -> RegistryEntry:
    where = f"registry[{index}]"
    _expect(path, where, table, dict, "a table")
    location = _parse_location(path, _expect(path, f"{where}.location", table.get("location", ""), str, "a string"))
    prefix = _expect(path, f"{where}.prefix", table.get("prefix", ""), str, "a string")
    if prefix == "":
        if location == "":
            raise PypodError(f"{path}: invalid condition: both location and prefix are unset")
        prefix = location
    else:
        prefix = _parse_location(path, prefix)
        if "*" in prefix and (not prefix.startswith("*.") or "*" in prefix[1:] or "/" in prefix
                              or ":" in prefix):
            raise PypodError(f"{path}: invalid prefix {prefix!r}: wildcards are only accepted as "
                             f"a leading \"*.\" of a host name, like *.example.com")
        if not prefix.startswith("*.") and location == "":
            raise PypodError(f"{path}: invalid condition: location is unset and prefix is not in "
                             f"the format: *.example.com")
    entry = RegistryEntry(
        prefix=prefix,
        location=location,
        insecure=_expect(path, f"{where}.insecure", table.get("insecure", False), bool, "a boolean"),
        blocked=_expect(path, f"{where}.blocked", table.get("blocked", False), bool, "a boolean"),
        mirror_by_digest_only=_expect(path, f"{where}.mirror-by-digest-only",
                                      table.get("mirror-by-digest-only", False), bool, "a boolean"),
        origin=str(path),
    )
    mirrors = table.get("mirror", [])
    _expect(path, f"{where}.mirror", mirrors, list, "an array of tables")
    for j, m in enumerate(mirrors):
        mwhere = f"{where}.mirror[{j}]"
        _expect(path, mwhere, m, dict, "a table")
        mloc = _parse_location(path, _expect(path, f"{mwhere}.location", m.get("location", ""), str, "a string"))
        if mloc == "":
            raise PypodError(f"{path}: invalid condition: mirror location is unset")
        pfm = _expect(path, f"{mwhere}.pull-from-mirror", m.get("pull-from-mirror", "all") or "all",
                      str, "a string")
        if pfm not in PULL_FROM_MIRROR:
            raise PypodError(f"{path}: unsupported pull-from-mirror value {pfm!r} for mirror {mloc!r}")
        if entry.mirror_by_digest_only and pfm != "all":
            raise PypodError(f"{path}: cannot set mirror usage mirror-by-digest-only for the registry "
                             f"({prefix}) and pull-from-mirror for per-mirror ({mloc}) at the same time")
        entry.mirrors.append(RegistryEndpoint(
            location=mloc,
            insecure=_expect(path, f"{mwhere}.insecure", m.get("insecure", False), bool, "a boolean"),
            pull_from_mirror=pfm,
        ))
    return entry


def _parse_registries_file(path: Path, data: dict[str, Any], force_v2: bool) -> _Partial:
    from pypod.image import reference

    out = _Partial(path=path)
    v1 = data.get("registries")
    v2_present = any(k in data for k in _V2_KEYS)
    if v1 is not None:
        if force_v2:
            raise PypodError(f"{path}: registry must be in v2 format but is in v1")
        if v2_present:
            raise PypodError(f"{path}: mixing sysregistry v1/v2 is not supported")
        _expect(path, "registries", v1, dict, "a table")
        seen: dict[str, RegistryEntry] = {}

        def get(loc: str) -> RegistryEntry:
            loc = _parse_location(path, loc)
            if loc not in seen:
                seen[loc] = RegistryEntry(prefix=loc, location=loc, origin=str(path))
                out.registries.append(seen[loc])
            return seen[loc]

        def v1_list(name: str) -> list[str] | None:
            table = v1.get(name)
            if table is None:
                return None
            _expect(path, f"registries.{name}", table, dict, "a table")
            if "registries" not in table:
                return None
            return _expect_str_list(path, f"registries.{name}.registries", table["registries"])

        for loc in v1_list("block") or []:
            get(loc).blocked = True
        for loc in v1_list("insecure") or []:
            get(loc).insecure = True
        out.search = v1_list("search")
    else:
        if "unqualified-search-registries" in data:
            out.search = _expect_str_list(path, "unqualified-search-registries",
                                          data["unqualified-search-registries"])
        if "short-name-mode" in data:
            mode = _expect(path, "short-name-mode", data["short-name-mode"], str, "a string")
            if mode not in SHORT_NAME_MODES:
                raise PypodError(f"{path}: invalid short name mode {mode!r}")
            out.short_name_mode = mode
        regs = data.get("registry", [])
        _expect(path, "registry", regs, list, "an array of tables")
        for i, table in enumerate(regs):
            out.registries.append(_parse_registry_table(path, i, table))
        aliases = data.get("aliases", {})
        _expect(path, "aliases", aliases, dict, "a table")
        for short, value in aliases.items():
            _expect(path, f"aliases.{short}", value, str, "a string")
            _validate_alias_key(path, short)
            out.aliases[short] = "" if value == "" else _parse_alias_value(path, value)

    if out.search is not None:
        cleaned = []
        for reg in out.search:
            loc = _parse_location(path, reg)
            if not reference.is_valid_domain(loc):
                raise PypodError(f"{path}: invalid unqualified-search-registries entry {loc!r}")
            cleaned.append(loc)
        out.search = cleaned

    # containers/image: one location mentioned twice must agree on insecure and blocked.
    by_location: dict[str, RegistryEntry] = {}
    for reg in out.registries:
        key = reg.location or reg.prefix
        other = by_location.setdefault(key, reg)
        for attr in ("insecure", "blocked"):
            if getattr(other, attr) != getattr(reg, attr):
                raise PypodError(f"{path}: registry '{key}' is defined multiple times with "
                                 f"conflicting '{attr}' setting")
    return out


def _validate_alias_key(path: Path, short: str) -> None:
    from pypod.errors import InvalidArgument
    from pypod.image import reference

    if not reference.is_short_name(short):
        raise PypodError(f"{path}: invalid short name {short!r}: must not contain registry")
    try:
        _, tag, digest = reference.parse_short(short)
    except InvalidArgument as e:
        raise PypodError(f"{path}: cannot parse short name: {short!r}: {e.message}") from None
    if digest is not None:
        raise PypodError(f"{path}: invalid short name {short!r}: must not contain digest")
    if tag is not None:
        raise PypodError(f"{path}: invalid short name {short!r}: must not contain tag")


def _parse_alias_value(path: Path, value: str) -> str:
    """A fully-qualified name without tag or digest, normalised (docker.io/alpine → …/library/alpine)."""
    from pypod.errors import InvalidArgument
    from pypod.image import reference

    if reference.is_short_name(value):
        raise PypodError(f"{path}: invalid alias {value!r}: must contain registry and repository")
    try:
        ref = reference.parse(value)
    except InvalidArgument as e:
        raise PypodError(f"{path}: parsing alias {value!r}: {e.message}") from None
    if ref.digest is not None:
        raise PypodError(f"{path}: invalid alias {value!r}: must not contain digest")
    if value.rsplit("/", 1)[-1].find(":") != -1:
        raise PypodError(f"{path}: invalid alias {value!r}: must not contain tag")
    return ref.name()


class RegistryConfig(Record):
    FIELDS = (
        ("search", list),
        ("aliases", dict),  # short name (no tag) → "registry/repo"
        ("registries", list),
        ("short_name_mode", "enforcing"),
        ("files", list),  # the files actually read, in order
        ("search_origin", ""),  # the file that set `search` (or BUILTIN_ORIGIN)
        ("alias_origins", dict),
    )

    def find(self, ref_name: str) -> RegistryEntry | None:
        """The `[[registry]]` whose prefix matches `ref_name` ("host[/path][:tag][@digest]") longest."""
        best: RegistryEntry | None = None
        best_len = 0
        for reg in self.registries:
            if _match_prefix(ref_name, reg.prefix) != -1 and len(reg.prefix) > best_len:
                best, best_len = reg, len(reg.prefix)
        return best

    def pull_sources(self, ref: ImageReference) -> list[tuple[RegistryEndpoint, ImageReference]]:
        """Where to pull `ref` from: mirrors first, then the primary location, each with `ref`
        rewritten (the matching prefix replaced by that endpoint's location; tag/digest kept)."""
        from pypod.errors import InvalidArgument
        from pypod.image import reference

        reg = self.find(ref.name())
        if reg is None:
            return [(RegistryEndpoint(ref.registry, False), ref)]
        digested = ref.digest is not None
        endpoints: list[RegistryEndpoint] = []
        if reg.mirror_by_digest_only:
            if digested:
                endpoints.extend(reg.mirrors)
        else:
            for m in reg.mirrors:
                if m.pull_from_mirror == "digest-only" and not digested:
                    continue
                if m.pull_from_mirror == "tag-only" and digested:
                    continue
                endpoints.append(m)
        endpoints.append(reg.endpoint)
        ref_string = str(ref)
        prefix_len = _match_prefix(ref_string, reg.prefix)
        out = []
        for ep in endpoints:
            if ep.location == "":  # a wildcard prefix without a location: the reference as is
                out.append((RegistryEndpoint(ref.registry, ep.insecure, ep.pull_from_mirror), ref))
                continue
            rewritten = ep.location + ref_string[prefix_len:]
            try:
                new_ref = reference.parse_name(rewritten)
            except InvalidArgument as e:
                raise PypodError(f"rewriting reference {ref_string} for {ep.location}: {e.message}") from None
            out.append((ep, new_ref))
        return out

    def endpoints(self, ref: ImageReference) -> list[tuple[RegistryEndpoint, str]]:
        """Like pull_sources, with each rewritten reference as its name "host/repository"
        (no tag or digest: those of `ref` apply unchanged)."""
        return [(ep, r.name()) for ep, r in self.pull_sources(ref)]

    def is_blocked(self, ref: ImageReference | str) -> bool:
        name = ref.name() if not isinstance(ref, str) else ref
        reg = self.find(name)
        return bool(reg and reg.blocked)

    def is_insecure(self, registry_host: str) -> bool:
        """Whether TLS verification is off for this host[:port] (a registry's or a mirror's)."""
        reg = self.find(registry_host)
        if reg is not None:
            return reg.insecure
        for r in self.registries:
            for ep in (r.endpoint, *r.mirrors):
                if ep.location.split("/", 1)[0] == registry_host:
                    return ep.insecure
        return False

    def resolve_short_name(self, short: str) -> list[ImageReference]:
        """Candidates for a short name, in order: its alias alone if there is one, else one per
        search registry (docker.io gets `library/` for single-component names); tag/digest kept.
        A name that is not short comes back parsed, alone."""
        from pypod.image import reference

        if not reference.is_short_name(short):
            return [reference.parse(short)]
        path, _tag, _digest = reference.parse_short(short)
        suffix = short[len(path):]
        alias = self.aliases.get(path)
        if alias:
            return [reference.parse(alias + suffix)]
        return [reference.parse(f"{reg}/{short}") for reg in self.search]


def _registries_files(path: str | None) -> tuple[list[Path], list[Path]]:
    """(main files, drop-in directories) to read, in order."""
    from pypod import paths

    if path:
        return [Path(path)], []
    env = os.environ.get("CONTAINERS_REGISTRIES_CONF")
    if env:
        return [Path(env)], []
    user_dir = paths.config_home() / "containers"
    user_file = user_dir / "registries.conf"
    if user_file.exists():
        return [user_file], [user_dir / "registries.conf.d"]
    return [SYSTEM_REGISTRIES_CONF], [SYSTEM_REGISTRIES_CONF_D, user_dir / "registries.conf.d"]


_registries_cache: dict[tuple, RegistryConfig] = {}


def load_registries(path: str | None = None) -> RegistryConfig:
    """The merged registries configuration (cached per process while the files are unchanged)."""
    mains, dirs = _registries_files(path)
    drop_ins = [p for d in dirs for p in _drop_ins(d)]
    key = (path, _stat_key(mains + drop_ins), tuple(str(d) for d in dirs))
    cached = _registries_cache.get(key)
    if cached is not None:
        return cached

    cfg = RegistryConfig()
    registries: dict[str, RegistryEntry] = {}
    search: list[str] | None = None
    for i, file in enumerate(mains + drop_ins):
        is_drop_in = i >= len(mains)
        data = _read_toml(file)
        if data is None:  # no main file (fine), or a drop-in removed since it was listed
            continue
        cfg.files.append(str(file))
        part = _parse_registries_file(file, data, force_v2=is_drop_in)
        for reg in part.registries:
            registries[reg.prefix] = reg
        if part.search is not None:
            search = part.search
            cfg.search_origin = str(file)
        if part.short_name_mode is not None:
            cfg.short_name_mode = part.short_name_mode
        for short, value in part.aliases.items():
            if value == "":
                cfg.aliases.pop(short, None)
                cfg.alias_origins.pop(short, None)
            else:
                cfg.aliases[short] = value
                cfg.alias_origins[short] = str(file)
    # containers/image keeps the merged entries sorted by prefix (deterministic order).
    cfg.registries = [registries[p] for p in sorted(registries)]
    if search is not None:
        cfg.search = search
    elif not cfg.files:
        cfg.search = list(DEFAULT_SEARCH_REGISTRIES)
        cfg.search_origin = BUILTIN_ORIGIN
    else:
        cfg.search_origin = cfg.files[0]
    _registries_cache[key] = cfg
    return cfg


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
        files = list(SYSTEM_CONTAINERS_CONFS) + _drop_ins(SYSTEM_CONTAINERS_CONF_D)
        if paths.is_rootless():
            user_dir = paths.config_home() / "containers"
            files += [user_dir / "containers.conf"] + _drop_ins(user_dir / "containers.conf.d")
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
    key = _stat_key(files)
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
        data = _read_toml(file)
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

    @property
    def short_name_mode(self) -> str:
        """From registries.conf (podman reads it there), loaded on first use."""
        return load_registries().short_name_mode


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
            value = _expect_str_list(where, label, value)
        elif kind == "str?":
            value = _expect(where, label, value, str, "a string") or None
        elif kind is int:
            value = _expect(where, label, value, int, "an integer")
        elif kind is bool:
            value = _expect(where, label, value, bool, "a boolean")
        else:
            value = _expect(where, label, value, str, "a string")
        setattr(cfg, attr, value)
    if cfg.stop_timeout < 0:
        raise PypodError(f"{origins.get(('engine', 'stop_timeout'))}: [engine] stop_timeout: must not be negative")
    if not re.fullmatch(r"[0-7]{1,4}", cfg.umask):
        raise PypodError(f"{origins.get(('containers', 'umask'))}: [containers] umask: "
                         f"invalid umask {cfg.umask!r}")
    return cfg


def clear_caches() -> None:
    """Forget parsed files (tests; a long-running API service after a config change)."""
    _registries_cache.clear()
    _containers_cache.clear()
