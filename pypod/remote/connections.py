"""`system connection`: named API endpoints in podman 4.3's place and format.

podman 4.3 keeps them in the user's containers.conf: `[engine] active_service = "NAME"` and one
`[engine.service_destinations.NAME]` table each (`uri`, `identity`). pypod reads them from the
merged containers.conf and rewrites only those lines of the user's file, keeping the rest of it.
"""

from __future__ import annotations

import os
import re

from pypod.errors import InvalidArgument, NotFound


def _user_conf() -> str:
    """The file podman 4.3 writes them to: the user's containers.conf (root: the system's)."""
    from pypod import paths

    if not paths.is_rootless():
        return "/etc/containers/containers.conf"
    return os.path.join(str(paths.config_home()), "containers", "containers.conf")


def load() -> tuple[dict[str, dict], str]:
    """{name: {"uri", "identity"}} and the default's name."""
    from pypod.config import load_containers_conf

    engine = load_containers_conf().get("engine") or {}
    dests = {}
    for name, d in (engine.get("service_destinations") or {}).items():
        if isinstance(d, dict) and d.get("uri"):
            dests[name] = {"uri": str(d["uri"]), "identity": str(d.get("identity") or "")}
    return dests, str(engine.get("active_service") or "")


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def save(dests: dict[str, dict], default: str) -> None:
    path = _user_conf()
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        lines = []
    kept, table = [], ""
    for line in lines:
        m = re.match(r"\s*\[\s*([^\]]+?)\s*\]\s*$", line)
        if m:
            table = m.group(1)
        if table.startswith("engine.service_destinations"):
            continue  # ours to write
        if table == "engine" and re.match(r"\s*active_service\s*=", line):
            continue
        kept.append(line)
    out = []
    engine_seen = False
    for line in kept:
        out.append(line)
        if re.match(r"\s*\[\s*engine\s*\]\s*$", line):
            engine_seen = True
            if default:
                out.append(f"active_service = {_toml_str(default)}")
    if not engine_seen and (default or dests):
        out += ["", "[engine]"] + ([f"active_service = {_toml_str(default)}"] if default else [])
    for name, d in dests.items():
        out += ["", f"[engine.service_destinations.{_toml_str(name)}]", f"uri = {_toml_str(d['uri'])}"]
        if d.get("identity"):
            out.append(f"identity = {_toml_str(d['identity'])}")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    from pypod.store import db

    # the system's file stays readable to all (every user's podman and pypod read it)
    mode = 0o644 if path.startswith("/etc/") else 0o600
    db.write_atomic(path, ("\n".join(out).strip("\n") + "\n").encode(), mode=mode)
    from pypod import config

    config.clear_caches()


def add(name: str, uri: str, identity: str = "", make_default: bool = False) -> None:
    from urllib.parse import urlsplit

    u = urlsplit(uri)
    if u.scheme not in ("unix", "tcp", "ssh"):
        raise InvalidArgument(f"{uri}: unsupported URI scheme {u.scheme!r}: use unix, tcp or ssh")
    if u.scheme == "ssh" and not u.path:
        raise InvalidArgument(f"{uri}: an ssh URI names the remote socket: ssh://USER@HOST[:PORT]/PATH")
    dests, default = load()
    dests[name] = {"uri": uri, "identity": identity}
    save(dests, name if make_default or not default else default)


def remove(name: str, all_: bool = False) -> None:
    dests, default = load()
    if all_:
        save({}, "")
        return
    if name not in dests:
        raise NotFound(f"connection {name!r} not found")  # podman 4.3 says nothing; we say why
    del dests[name]
    save(dests, "" if default == name else default)


def set_default(name: str) -> None:
    dests, _ = load()
    if name not in dests:
        raise NotFound(f"{name!r} not found")
    save(dests, name)


def resolve(url: str | None, connection: str | None, want_remote: bool) -> tuple[str, str] | None:
    """The (uri, identity) the command talks to, or None for the local engine: --url, then
    --connection, then CONTAINER_HOST / CONTAINER_CONNECTION, then --remote's default."""
    url = url or os.environ.get("CONTAINER_HOST") or None
    if url:
        return url, os.environ.get("CONTAINER_SSHKEY", "")
    connection = connection or os.environ.get("CONTAINER_CONNECTION") or None
    if connection or want_remote:
        dests, default = load()
        name = connection or default
        if not name:
            raise InvalidArgument("no connection is configured: pypod system connection add NAME URI")
        if name not in dests:
            raise InvalidArgument(f"connection {name!r} not found: pypod system connection list")
        return dests[name]["uri"], dests[name]["identity"]
    return None
