"""Which compose files, which project directory, which project name (Compose v2's rules)."""

from __future__ import annotations

import os
import re

from pypod.compose.errors import ComposeError

CANDIDATES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
OVERRIDES = ("compose.override.yaml", "compose.override.yml", "docker-compose.override.yaml",
             "docker-compose.override.yml")


def find_default_files(start: str) -> list[str]:
    """The first of compose.yaml … docker-compose.yml found walking up from start, plus its override."""
    d = os.path.abspath(start)
    while True:
        for name in CANDIDATES:
            p = os.path.join(d, name)
            if os.path.isfile(p):
                files = [p]
                base = "docker-compose" if name.startswith("docker-compose") else "compose"
                for ov in OVERRIDES:
                    if ov.startswith(base + ".") and os.path.isfile(os.path.join(d, ov)):
                        files.append(os.path.join(d, ov))
                        break
                return files
        parent = os.path.dirname(d)
        if parent == d:
            raise ComposeError("no configuration file provided: not found")
        d = parent


def resolve_files(files: list[str], env: dict[str, str], cwd: str, search_from: str | None = None) -> list[str]:
    """-f files (absolute), else COMPOSE_FILE (split on COMPOSE_PATH_SEPARATOR), else discovery
    from `search_from` (--project-directory, as Compose v2 looks there) or the current directory."""
    if not files and env.get("COMPOSE_FILE"):
        files = [f for f in env["COMPOSE_FILE"].split(env.get("COMPOSE_PATH_SEPARATOR") or os.pathsep) if f]
    if not files:
        return find_default_files(search_from or cwd)
    out = []
    for f in files:
        if f == "-":
            out.append(f)
            continue
        p = os.path.abspath(os.path.join(cwd, f))
        if not os.path.exists(p):
            raise ComposeError(f"open {p}: no such file or directory")
        out.append(p)
    return out


_NOT_NAME = re.compile(r"[^a-z0-9_-]")


def normalize_project_name(s: str) -> str:
    return _NOT_NAME.sub("", s.lower()).lstrip("_-")


def check_project_name(name: str) -> str:
    if normalize_project_name(name) != name or not name:
        raise ComposeError(f'invalid project name "{name}": must consist only of lowercase alphanumeric '
                           "characters, hyphens, and underscores as well as start with a letter or number")
    return name
