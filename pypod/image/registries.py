"""registries.conf (v2, and v1 tolerated): search registries, short-name aliases, mirrors,
insecure and blocked registries.

It is read like containers/image's sysregistriesv2: `$CONTAINERS_REGISTRIES_CONF` alone if set;
else `~/.config/containers/registries.conf` with its `registries.conf.d` drop-ins if that file
exists; else `/etc/containers/registries.conf` with the drop-ins of `/etc/containers/registries.conf.d`
and then `~/.config/containers/registries.conf.d`. Drop-ins (`*.conf`, sorted) merge over the main
file: `[[registry]]` entries by prefix, `[aliases]` by key (an empty value removes an alias),
`unqualified-search-registries` and `short-name-mode` replace. Parsed once per process (the cache is
keyed by the files' paths and mtimes).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pypod.config import drop_in_files, expect, expect_str_list, read_toml, stat_key
from pypod.errors import PypodError

if TYPE_CHECKING:
    from pypod.image.reference import ImageReference

SYSTEM_REGISTRIES_CONF = Path("/etc/containers/registries.conf")
SYSTEM_REGISTRIES_CONF_D = Path("/etc/containers/registries.conf.d")

# With no registries.conf anywhere (hosts without podman), short names still resolve to Docker Hub,
# like docker. A registries.conf that exists but sets no search registries gets podman's behaviour:
# no candidates. `RegistryConfig.search_origin` tells the two apart for messages.
DEFAULT_SEARCH_REGISTRIES = ("docker.io",)
BUILTIN_ORIGIN = "built-in default"

SHORT_NAME_MODES = ("disabled", "permissive", "enforcing")
PULL_FROM_MIRROR = ("all", "digest-only", "tag-only")


@dataclass
class RegistryEndpoint:
    location: str
    insecure: bool = False
    pull_from_mirror: str = "all"  # mirrors only: "all", "digest-only", "tag-only"


@dataclass
class RegistryEntry:
    """One `[[registry]]` table (after v1 conversion and drop-in merging)."""

    prefix: str
    location: str
    insecure: bool = False
    blocked: bool = False
    mirrors: list[RegistryEndpoint] = field(default_factory=list)
    mirror_by_digest_only: bool = False
    origin: str = ""

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


@dataclass
class _Partial:
    """What one file says; merged in order into a RegistryConfig."""

    path: Path
    search: list[str] | None = None
    short_name_mode: str | None = None
    registries: list[RegistryEntry] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)  # "" = remove


_V2_KEYS = {"unqualified-search-registries", "short-name-mode", "registry", "aliases",
            "credential-helpers", "additional-layer-store-auth-helper"}
_REGISTRY_KEYS = {"prefix", "location", "insecure", "blocked", "mirror", "mirror-by-digest-only"}


def _parse_registry_table(path: Path, index: int, table: Any) -> RegistryEntry:
    where = f"registry[{index}]"
    expect(path, where, table, dict, "a table")
    location = _parse_location(path, expect(path, f"{where}.location", table.get("location", ""), str, "a string"))
    prefix = expect(path, f"{where}.prefix", table.get("prefix", ""), str, "a string")
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
        insecure=expect(path, f"{where}.insecure", table.get("insecure", False), bool, "a boolean"),
        blocked=expect(path, f"{where}.blocked", table.get("blocked", False), bool, "a boolean"),
        mirror_by_digest_only=expect(path, f"{where}.mirror-by-digest-only",
                                      table.get("mirror-by-digest-only", False), bool, "a boolean"),
        origin=str(path),
    )
    mirrors = table.get("mirror", [])
    expect(path, f"{where}.mirror", mirrors, list, "an array of tables")
    for j, m in enumerate(mirrors):
        mwhere = f"{where}.mirror[{j}]"
        expect(path, mwhere, m, dict, "a table")
        mloc = _parse_location(path, expect(path, f"{mwhere}.location", m.get("location", ""), str, "a string"))
        if mloc == "":
            raise PypodError(f"{path}: invalid condition: mirror location is unset")
        pfm = expect(path, f"{mwhere}.pull-from-mirror", m.get("pull-from-mirror", "all") or "all",
                      str, "a string")
        if pfm not in PULL_FROM_MIRROR:
            raise PypodError(f"{path}: unsupported pull-from-mirror value {pfm!r} for mirror {mloc!r}")
        if entry.mirror_by_digest_only and pfm != "all":
            raise PypodError(f"{path}: cannot set mirror usage mirror-by-digest-only for the registry "
                             f"({prefix}) and pull-from-mirror for per-mirror ({mloc}) at the same time")
        entry.mirrors.append(RegistryEndpoint(
            location=mloc,
            insecure=expect(path, f"{mwhere}.insecure", m.get("insecure", False), bool, "a boolean"),
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
        expect(path, "registries", v1, dict, "a table")
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
            expect(path, f"registries.{name}", table, dict, "a table")
            if "registries" not in table:
                return None
            return expect_str_list(path, f"registries.{name}.registries", table["registries"])

        for loc in v1_list("block") or []:
            get(loc).blocked = True
        for loc in v1_list("insecure") or []:
            get(loc).insecure = True
        out.search = v1_list("search")
    else:
        if "unqualified-search-registries" in data:
            out.search = expect_str_list(path, "unqualified-search-registries",
                                          data["unqualified-search-registries"])
        if "short-name-mode" in data:
            mode = expect(path, "short-name-mode", data["short-name-mode"], str, "a string")
            if mode not in SHORT_NAME_MODES:
                raise PypodError(f"{path}: invalid short name mode {mode!r}")
            out.short_name_mode = mode
        regs = data.get("registry", [])
        expect(path, "registry", regs, list, "an array of tables")
        for i, table in enumerate(regs):
            out.registries.append(_parse_registry_table(path, i, table))
        aliases = data.get("aliases", {})
        expect(path, "aliases", aliases, dict, "a table")
        for short, value in aliases.items():
            expect(path, f"aliases.{short}", value, str, "a string")
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


@dataclass
class RegistryConfig:
    search: list[str] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)  # short name (no tag) → "registry/repo"
    registries: list[RegistryEntry] = field(default_factory=list)
    short_name_mode: str = "enforcing"
    files: list[str] = field(default_factory=list)  # the files actually read, in order
    search_origin: str = ""  # the file that set `search` (or BUILTIN_ORIGIN)
    alias_origins: dict[str, str] = field(default_factory=dict)

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
    drop_ins = [p for d in dirs for p in drop_in_files(d)]
    key = (path, stat_key(mains + drop_ins), tuple(str(d) for d in dirs))
    cached = _registries_cache.get(key)
    if cached is not None:
        return cached

    cfg = RegistryConfig()
    registries: dict[str, RegistryEntry] = {}
    search: list[str] | None = None
    for i, file in enumerate(mains + drop_ins):
        is_drop_in = i >= len(mains)
        data = read_toml(file)
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


def clear_cache() -> None:
    """Forget parsed files (tests; a long-running API service after a config change)."""
    _registries_cache.clear()
