"""A compose project from the command line's options: files, project directory, environment
(.env / --env-file under the process environment), name, profiles → the normalised model."""

from __future__ import annotations

import os

from pypod.compose import discovery, dotenv
from pypod.compose.errors import ComposeError


# plain classes, not dataclasses: importing dataclasses (inspect, ast) costs every compose
# command ~30 ms of start-up
class ProjectOptions:
    def __init__(self, files=None, project_name: str | None = None, project_directory: str | None = None,
                 env_files=None, profiles=None, cwd: str | None = None, environ: dict | None = None):
        self.files, self.project_name, self.project_directory = list(files or []), project_name, project_directory
        self.env_files, self.profiles = list(env_files or []), list(profiles or [])
        self.cwd, self.environ = cwd, environ


class Project:
    def __init__(self, name: str, workdir: str, files: list, model: dict, warnings: list, profiles=None):
        self.name, self.workdir, self.files = name, workdir, files
        self.model = model  # what `docker compose config` prints
        self.warnings = warnings
        self.profiles = list(profiles or [])  # every profile a service names, enabled or not


def load_project(opts: ProjectOptions) -> Project:
    from pypod.compose.loader import LoadContext, load_files

    cwd = opts.cwd or os.getcwd()
    osenv = dict(os.environ if opts.environ is None else opts.environ)
    given_dir = os.path.abspath(os.path.join(cwd, opts.project_directory)) if opts.project_directory else None
    explicit = [os.path.join(cwd, f) for f in opts.env_files]
    early: list[str] = []
    if not opts.files:  # COMPOSE_FILE and friends may come from the .env of where we stand
        early = explicit or _existing(os.path.join(given_dir or cwd, ".env"))
    files = discovery.resolve_files(opts.files, _with_env_files(osenv, early), cwd, given_dir)
    if given_dir:
        workdir = given_dir
    else:  # the first file's directory; the current one for a file read from stdin
        workdir = cwd if files[0] == "-" else os.path.dirname(files[0])
    env = _with_env_files(osenv, explicit or _existing(os.path.join(workdir, ".env")) or early)
    warnings: list[str] = []
    name = _project_name(opts, env, files, workdir)
    env["COMPOSE_PROJECT_NAME"] = name
    ctx = LoadContext(env, workdir, warnings.append)
    model = load_files(files, ctx)
    if not model:
        raise ComposeError("empty compose file")
    profiles = opts.profiles or [p for p in env.get("COMPOSE_PROFILES", "").split(",") if p]
    declared = sorted({p for s in (model.get("services") or {}).values() for p in (s.get("profiles") or [])})
    out = build_output(model, name, env, profiles, workdir)
    return Project(name, workdir, files, out, _dedupe(warnings), declared)


def _existing(path: str) -> list[str]:
    return [path] if os.path.isfile(path) else []


def _with_env_files(osenv: dict, env_files: list[str]) -> dict:
    """The process environment over the variables of the env files (later files win)."""
    env = dict(osenv)
    for ef in env_files:
        if not os.path.isfile(ef):
            raise ComposeError(f"couldn't find env file: {ef}")
        for k, v in dotenv.read_file(ef, lambda k: osenv.get(k) if k in osenv else env.get(k)).items():
            if k not in osenv and v is not None:
                env[k] = v
    return env


def _dedupe(items):
    seen, out = set(), []
    for i in items:
        if i not in seen:
            seen.add(i)
            out.append(i)
    return out


def _project_name(opts, env, files, workdir) -> str:
    if opts.project_name:
        return discovery.check_project_name(opts.project_name)
    if env.get("COMPOSE_PROJECT_NAME"):
        return discovery.check_project_name(env["COMPOSE_PROJECT_NAME"])
    from pypod.compose.interpolate import InvalidTemplate, MissingRequired, substitute
    from pypod.compose.loader import read_yaml

    from_file = ""
    for f in files:
        try:
            docs = read_yaml(f)
        except ComposeError:
            break
        for d in docs:
            if isinstance(d.get("name"), str) and d["name"]:
                from_file = d["name"]
    if from_file:
        try:
            from_file = substitute(from_file, env)
        except (MissingRequired, InvalidTemplate) as e:
            raise ComposeError(f"error while interpolating name: {e}") from None
        from_file = discovery.normalize_project_name(from_file)
    if from_file:
        return from_file
    name = discovery.normalize_project_name(os.path.basename(workdir.rstrip("/")) or "")
    if not name:
        raise ComposeError("project name must not be empty")
    return name


def build_output(model: dict, name: str, env: dict, profiles: list[str], workdir: str) -> dict:
    from pypod.compose import normalize as norm
    from pypod.compose.consistency import check_consistency

    model = norm.normalize(model, name, env)
    services = model.get("services") or {}
    active = {n: s for n, s in services.items() if _enabled(s, profiles)}
    check_consistency(model, active)

    def env_files(entries):
        merged: dict = {}
        for e in entries:
            p = e["path"] if isinstance(e, dict) else e
            required = e.get("required", True) if isinstance(e, dict) else True
            if not os.path.exists(p):
                if required:
                    raise ComposeError(f"env file {p} not found: stat {p}: no such file or directory")
                continue
            merged.update(dotenv.read_file(p, lambda k: env.get(k)))
        return merged

    out: dict = {"name": name}
    out["services"] = {n: norm.service_output(n, active[n], env_files) for n in sorted(active)}
    used = _used_resources(active)
    for kind in ("networks", "volumes", "secrets", "configs"):
        top = {k: v for k, v in (model.get(kind) or {}).items() if k in used[kind]}
        if top:
            out[kind] = {k: norm.resource_output(kind, v) for k, v in sorted(top.items())}
    for k in sorted(model):
        if k.startswith("x-"):
            out[k] = model[k]
    return out


def _used_resources(services: dict) -> dict:
    """What the active services use: `config` prints no other network, volume, secret or config
    (compose-go's WithoutUnnecessaryResources)."""
    used: dict = {"networks": set(), "volumes": set(), "secrets": set(), "configs": set()}
    for svc in services.values():
        used["networks"].update(svc.get("networks") or {})
        for v in svc.get("volumes") or []:
            if isinstance(v, dict) and v.get("type") == "volume" and v.get("source"):
                used["volumes"].add(v["source"])
        for kind in ("secrets", "configs"):
            for ref in svc.get(kind) or []:
                used[kind].add(ref.get("source") if isinstance(ref, dict) else ref)
        b = svc.get("build")
        if isinstance(b, dict):
            for ref in b.get("secrets") or []:
                used["secrets"].add(ref.get("source") if isinstance(ref, dict) else ref)
    return used


def _enabled(svc: dict, profiles: list[str]) -> bool:
    wanted = svc.get("profiles") or []
    if not wanted:
        return True
    return "*" in profiles or any(p in profiles for p in wanted)
