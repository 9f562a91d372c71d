"""`--change` instructions (import, commit): Dockerfile-style edits of an image config."""

from __future__ import annotations

import json
import shlex

from pypod.errors import InvalidArgument

ALLOWED = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "STOPSIGNAL", "USER", "VOLUME",
           "WORKDIR")


def _list_arg(value: str) -> list[str]:
    v = value.strip()
    if v.startswith("["):
        try:
            out = json.loads(v)
        except ValueError:
            raise InvalidArgument(f"invalid JSON in change: {value}") from None
        if not isinstance(out, list) or not all(isinstance(x, str) for x in out):
            raise InvalidArgument(f"invalid JSON array in change: {value}")
        return out
    return ["/bin/sh", "-c", v]


def _pairs(value: str) -> list[tuple[str, str]]:
    parts = shlex.split(value)
    if len(parts) == 2 and "=" not in parts[0]:
        return [(parts[0], parts[1])]
    if parts and "=" not in parts[0]:
        # legacy `ENV key value with spaces`
        k, _, v = value.strip().partition(" ")
        return [(k, v.strip())]
    out = []
    for p in parts:
        k, sep, v = p.partition("=")
        if not sep:
            raise InvalidArgument(f"invalid key=value pair {p!r} in change")
        out.append((k, v))
    return out


def apply_changes(config: dict, changes: list[str]) -> dict:
    """Apply each change to an OCI `config` section (a dict: Cmd, Env, ...); returns it."""
    for change in changes:
        instr, _, value = change.strip().partition(" ")
        if not instr:
            continue
        if "=" in instr and not value:  # podman also accepts `CMD=...`
            instr, _, value = change.partition("=")
        word = instr.upper()
        if word not in ALLOWED:
            raise InvalidArgument(f"invalid change {change!r}: {word} is not a valid instruction "
                                  f"(valid: {', '.join(ALLOWED)})")
        value = value.strip()
        if word == "CMD":
            config["Cmd"] = _list_arg(value)
        elif word == "ENTRYPOINT":
            config["Entrypoint"] = _list_arg(value)
        elif word == "ENV":
            env = config.setdefault("Env", [])
            for k, v in _pairs(value):
                env[:] = [e for e in env if e.split("=", 1)[0] != k] + [f"{k}={v}"]
        elif word == "LABEL":
            labels = config.setdefault("Labels", {})
            for k, v in _pairs(value):
                labels[k] = v
        elif word == "EXPOSE":
            ports = config.setdefault("ExposedPorts", {})
            for p in value.split():
                ports[p if "/" in p else f"{p}/tcp"] = {}
        elif word == "VOLUME":
            vols = config.setdefault("Volumes", {})
            for v in (_list_arg(value) if value.startswith("[") else value.split()):
                vols[v] = {}
        elif word == "USER":
            config["User"] = value
        elif word == "WORKDIR":
            config["WorkingDir"] = value
        elif word == "STOPSIGNAL":
            config["StopSignal"] = value
        elif word == "ONBUILD":
            config.setdefault("OnBuild", []).append(value)
    return config
