"""One compose file after another into one model, as compose-go's loader does: per file
interpolate → include → extends → merge → unicity → validate → canonical; then defaults and paths."""

from __future__ import annotations

import copy
import os

from pypod.compose import canonical as canon
from pypod.compose import merge as merging
from pypod.compose import schema
from pypod.compose.errors import ComposeError, InterpolationError, ValidationError
from pypod.compose.interpolate import interpolate
from pypod.compose.normalize import rebase


class LoadContext:
    def __init__(self, env: dict, workdir: str, warn):
        self.env, self.workdir, self.warn = env, workdir, warn
        self.included: list[str] = []


def read_yaml(path: str) -> list:
    from pypod.compose.yamlfile import check_keys, load_documents

    try:
        if path == "-":
            text = _stdin_text()
        else:
            with open(path, encoding="utf-8") as f:
                text = f.read()
    except OSError as e:
        raise ComposeError(f"open {path}: {(e.strerror or str(e)).lower()}") from None
    except UnicodeDecodeError as e:
        raise ComposeError(f"yaml: {_utf8_error(e)}") from None
    docs = load_documents(text, path)
    for d in docs:
        if d is None:
            continue
        check_keys(d)
        if not isinstance(d, dict):
            raise ComposeError("top-level object must be a mapping")
    return [d for d in docs if d is not None]


def _utf8_error(e: UnicodeDecodeError) -> str:
    """go-yaml's words (what Docker Compose prints) for the bytes Python could not decode."""
    if e.reason == "invalid start byte":
        return "invalid leading UTF-8 octet"
    if e.reason == "unexpected end of data":
        return "incomplete UTF-8 octet sequence"
    first, second = e.object[e.start], e.object[e.start + 1] if e.start + 1 < len(e.object) else 0
    if (first == 0xED and second >= 0xA0) or (first == 0xF4 and second >= 0x90):
        return "invalid Unicode character"  # a surrogate, or past U+10FFFF
    return "invalid trailing UTF-8 octet"


_STDIN: list[str] = []


def _stdin_text() -> str:
    """`-f -`: the file comes from stdin, read once (the project name's look at it reads it too)."""
    import sys

    if not _STDIN:
        _STDIN.append(sys.stdin.read())
    return _STDIN[0]


def load_files(files: list[str], ctx: LoadContext) -> dict:
    model: dict = {}
    for path in files:
        for doc in read_yaml(path):
            model = _load_document(doc, path, model, ctx)
    canon.set_defaults(model)
    resolve_paths(model, ctx.workdir)
    return model


def _interpolate(raw: dict, path: str, ctx: LoadContext) -> dict:
    try:
        return interpolate(raw, ctx.env, ctx.warn)
    except InterpolationError as e:  # compose names the service and key; we add the file
        raise InterpolationError(f"{path}: {e.message}") from None


def _take_markers(value, at: tuple, found: list):
    """Unwrap `!override` values and drop `!reset` ones, noting where each was."""
    from pypod.compose.yamlfile import Override, Reset

    if isinstance(value, dict):
        for k in list(value):
            v = value[k]
            if isinstance(v, Reset):
                found.append(at + (k,))
                del value[k]
            elif isinstance(v, Override):
                found.append(at + (k,))
                value[k] = _take_markers(v.value, at + (k,), found)
            else:
                value[k] = _take_markers(v, at + (k,), found)
    elif isinstance(value, list):
        kept = []
        for i, v in enumerate(value):
            if isinstance(v, Reset):
                continue
            kept.append(_take_markers(v.value if isinstance(v, Override) else v, at + (i,), found))
        return kept
    return value


def _forget(model: dict, at: tuple) -> None:
    node = model
    for k in at[:-1]:
        node = node.get(k) if isinstance(node, dict) else None
        if node is None:
            return
    if isinstance(node, dict):
        node.pop(at[-1], None)


def _load_document(raw: dict, path: str, model: dict, ctx: LoadContext) -> dict:
    marked: list = []
    raw = _take_markers(raw, (), marked)
    for at in marked:  # what `!reset`/`!override` name is gone from the earlier files' model
        _forget(model, at)
    cfg = _interpolate(raw, path, ctx)
    _omit_empty_null(cfg)
    try:
        if "include" in cfg:
            _apply_include(cfg, path, ctx)
        _apply_extends(cfg, path, ctx, [])
        model = merging.merge(model, cfg)
        merging.enforce_unicity(model)
    except (TypeError, AttributeError, KeyError, ValueError, IndexError):
        # These steps come before the schema's check, as in compose-go, and take the types the
        # schema allows for granted: a value of the wrong type is what the schema names.
        _validate(cfg, path)
        raise ValidationError(f"validating {path}: a value has a type compose does not allow") from None
    _validate(model, path)
    if "version" in model:
        ctx.warn(f"{path}: the attribute `version` is obsolete, it will be ignored, please remove it to avoid "
                 "potential confusion")
        del model["version"]
    canon.canonical(model)
    merging.enforce_unicity(model)
    return model


def _validate(model: dict, path: str) -> None:
    try:
        schema.validate(model)
    except ValidationError as e:
        raise ValidationError(f"validating {path}: {e.message}") from None


def _omit_empty_null(cfg: dict) -> None:
    """`services:` with nothing under it reads as an empty mapping (compose-go's fixEmptyNotNull)."""
    for k in ("services", "networks", "volumes", "secrets", "configs"):
        if k in cfg and cfg[k] is None:
            cfg[k] = {}
        elif k in cfg and not isinstance(cfg[k], dict):
            raise ValidationError(f"{k} must be a mapping")


# -- extends -------------------------------------------------------------------------------------
def _apply_extends(cfg: dict, path: str, ctx: LoadContext, chain: list) -> None:
    services = cfg.get("services") or {}
    for name in list(services):
        services[name] = _extended(services, name, path, ctx, chain)


def _extended(services: dict, name: str, path: str, ctx: LoadContext, chain: list) -> dict:
    svc = services[name]
    if not isinstance(svc, dict) or "extends" not in svc:
        return svc
    ext = svc["extends"]
    if isinstance(ext, str):
        ext = {"service": ext}
    base_name = ext.get("service")
    key = (path, name)
    if key in chain:
        raise ComposeError(f"Circular reference with extends: {name} in {path}")
    if ext.get("file"):
        other = rebase(ext["file"], os.path.dirname(path))
        docs = read_yaml(other)
        other_cfg = _interpolate(docs[0] if docs else {}, other, ctx)
        _omit_empty_null(other_cfg)
        pool = other_cfg.get("services") or {}
        if base_name not in pool:
            raise ComposeError(f'cannot extend service "{name}" in {other}: service "{base_name}" not found')
        base = copy.deepcopy(_extended(pool, base_name, other, ctx, chain + [key]))
        if os.path.dirname(other) != os.path.dirname(path):
            _rebase_service(base, os.path.dirname(other))
    else:
        if base_name not in services:
            raise ComposeError(f'cannot extend service "{name}" in {path}: service "{base_name}" not found')
        base = copy.deepcopy(_extended(services, base_name, path, ctx, chain + [key]))
    base.pop("extends", None)
    own = {k: v for k, v in svc.items() if k != "extends"}
    merged = merging.merge({"services": {name: base}}, {"services": {name: own}})
    merged = merging.enforce_unicity(merged)
    return merged["services"][name]


def _rebase_service(svc: dict, base: str) -> None:
    """Paths in a service taken from another directory's file are relative to that directory."""
    b = svc.get("build")
    if isinstance(b, str):
        svc["build"] = {"context": b}
        b = svc["build"]
    if isinstance(b, dict) and isinstance(b.get("context"), str) and not _remote(b["context"]):
        b["context"] = rebase(b["context"], base)
    ef = svc.get("env_file")
    if isinstance(ef, str):
        svc["env_file"] = rebase(ef, base)
    elif isinstance(ef, list):
        svc["env_file"] = [rebase(e, base) if isinstance(e, str) else {**e, "path": rebase(e["path"], base)}
                           for e in ef]
    vols = svc.get("volumes")
    if isinstance(vols, list):
        for i, v in enumerate(vols):
            if isinstance(v, str):
                v = canon.parse_volume(v)
            if isinstance(v, dict) and v.get("type") == "bind" and v.get("source"):
                v["source"] = rebase(v["source"], base)
            vols[i] = v


# -- include -------------------------------------------------------------------------------------
def _apply_include(cfg: dict, path: str, ctx: LoadContext) -> None:
    from pypod.compose import dotenv

    entries = cfg.pop("include") or []
    here = os.path.dirname(path)
    for entry in entries:
        if isinstance(entry, str):
            entry = {"path": entry}
        paths = entry.get("path")
        paths = [paths] if isinstance(paths, str) else list(paths or [])
        files = [rebase(p, here) for p in paths]
        for f in files:
            if f in ctx.included or f == path:
                raise ComposeError(f"include cycle detected:\n{path}\n include {f}")
        workdir = rebase(entry["project_directory"], here) if entry.get("project_directory") else os.path.dirname(files[0])
        env = dict(ctx.env)
        env_files = entry.get("env_file")
        env_files = [env_files] if isinstance(env_files, str) else list(env_files or [])
        if not env_files and os.path.isfile(os.path.join(workdir, ".env")):
            env_files = [os.path.join(workdir, ".env")]
        for ef in env_files:
            vals = dotenv.read_file(rebase(ef, here), lambda k: ctx.env.get(k))
            for k, v in vals.items():
                if k not in ctx.env and v is not None:
                    env[k] = v
        sub = LoadContext(env, workdir, ctx.warn)
        sub.included = ctx.included + [path]
        imported = load_files(files, sub)
        for kind in ("services", "volumes", "networks", "secrets", "configs"):
            for name, res in (imported.get(kind) or {}).items():
                mine = cfg.setdefault(kind, {})
                if name in mine and mine[name] != res:
                    raise ComposeError(f"imported compose file {files[0]} defines conflicting {kind[:-1]} {name}")
                mine.setdefault(name, res)


# -- paths ---------------------------------------------------------------------------------------
def _remote(ctx: str) -> bool:
    return "://" in ctx or ctx.startswith(("git@", "github.com/")) or ctx.endswith(".git")


def resolve_paths(model: dict, workdir: str) -> None:
    for svc in (model.get("services") or {}).values():
        b = svc.get("build")
        if isinstance(b, dict) and isinstance(b.get("context"), str) and not _remote(b["context"]):
            b["context"] = rebase(b["context"], workdir)
        if isinstance(b, dict) and isinstance(b.get("additional_contexts"), dict):
            b["additional_contexts"] = {k: (rebase(v, workdir) if isinstance(v, str) and not _remote(v)
                                            and not v.startswith(("service:", "docker-image:", "oci-layout:"))
                                            else v) for k, v in b["additional_contexts"].items()}
        for ef in svc.get("env_file") or []:
            if isinstance(ef, dict) and isinstance(ef.get("path"), str):
                ef["path"] = rebase(ef["path"], workdir)
        if isinstance(svc.get("label_file"), list):
            svc["label_file"] = [rebase(p, workdir) for p in svc["label_file"]]
        dev = svc.get("develop")
        for w in (dev.get("watch") or []) if isinstance(dev, dict) else []:
            if isinstance(w, dict) and isinstance(w.get("path"), str):
                w["path"] = rebase(w["path"], workdir)
        for v in svc.get("volumes") or []:
            if isinstance(v, dict) and v.get("type") == "bind" and isinstance(v.get("source"), str):
                v["source"] = rebase(v["source"], workdir)
    for kind in ("secrets", "configs"):
        for res in (model.get(kind) or {}).values():
            if isinstance(res, dict) and isinstance(res.get("file"), str):
                res["file"] = rebase(res["file"], workdir)
