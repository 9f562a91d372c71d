"""`${VAR}` interpolation as compose-go's template package does it, and the type casts that follow.

`$$` is a literal `$`; `$NAME` and `${NAME}`; `${NAME:-default}` / `${NAME-default}` (empty or
unset / unset only); `${NAME:+alt}` / `${NAME+alt}`; `${NAME:?err}` / `${NAME?err}`. Defaults and
messages are themselves interpolated (nested `${A:-${B}}`). A `$` followed by anything else stays.
"""

from __future__ import annotations

import re

from pypod.compose.errors import InterpolationError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Mapping

_NAME = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")
_BRACED = re.compile(r"([_a-zA-Z][_a-zA-Z0-9]*)(?::?[-+?](.*))?\Z", re.S)
_OPS = (":?", "?", ":-", "-", ":+", "+")


class MissingRequired(Exception):
    def __init__(self, name: str, reason: str):
        self.name, self.reason = name, reason
        super().__init__(f"required variable {name} is missing a value" + (f": {reason}" if reason else ""))


class InvalidTemplate(Exception):
    def __init__(self, template: str):
        super().__init__(f'Invalid template: "{template}"')


def _closing(s: str, start: int) -> int:
    """Index of the `}` closing the `{` at s[start] (compose-go counts `{`, skipping the char after)."""
    depth = 0
    i = start
    while i < len(s):
        if s[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        if s[i] == "{":
            depth += 1
            i += 1
        i += 1
    return -1


def substitute(template: str, env: Mapping[str, str], warn: Callable[[str], None] | None = None) -> str:
    out: list[str] = []
    i, n = 0, len(template)
    while i < n:
        c = template[i]
        if c != "$" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        nxt = template[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
            continue
        m = _NAME.match(template, i + 1)
        if m:
            name = m.group(0)
            if name not in env and warn:
                warn(f'The "{name}" variable is not set. Defaulting to a blank string.')
            out.append(env.get(name, ""))
            i = m.end()
            continue
        if nxt != "{":
            out.append(c)
            i += 1
            continue
        # a braced reference: Go's regexp takes `${...}` up to the last `}`; compose-go then cuts at
        # the first balanced one, substituting the rest separately
        if template.rfind("}") < i + 2:
            raise InvalidTemplate(template)
        end = _closing(template, i + 1)
        if end < 0:
            raise InvalidTemplate(template)
        inner = template[i + 2:end]
        if not _BRACED.match(inner):
            raise InvalidTemplate(template)
        out.append(_braced(inner, env, warn))
        i = end + 1
    return "".join(out)


def _braced(inner: str, env: Mapping[str, str], warn) -> str:
    # the operator that appears first in the text wins (compose-go sorts them by position)
    found = [(inner.find(op), k, op) for k, op in enumerate(_OPS) if op in inner]
    if not found:
        if inner not in env and warn:
            warn(f'The "{inner}" variable is not set. Defaulting to a blank string.')
        return env.get(inner, "")
    found.sort()
    op = found[0][2]
    name, _, arg = inner.partition(op)
    value = env.get(name)
    if op in (":?", "?"):
        if value is None or (op == ":?" and value == ""):
            raise MissingRequired(name, substitute(arg, env, warn))
        return value
    if op in (":-", "-"):
        if value is None or (op == ":-" and value == ""):
            return substitute(arg, env, warn)
        return value
    # :+ / +
    if value is not None and (op == "+" or value != ""):
        return substitute(arg, env, warn)
    return value or ""


# -- the whole tree ------------------------------------------------------------------------------
def _to_bool(v: str):
    low = v.lower()
    if low in ("1", "t", "true", "y", "yes", "on"):
        return True
    if low in ("0", "f", "false", "n", "no", "off"):
        return False
    raise ValueError(f"invalid boolean: {v}")


def _to_int(v: str):
    try:
        return int(v)
    except ValueError:
        raise ValueError(f'strconv.Atoi: parsing "{v}": invalid syntax') from None


def _to_int64(v: str):
    try:
        return int(v)
    except ValueError:
        raise ValueError(f'strconv.ParseInt: parsing "{v}": invalid syntax') from None


def _to_float(v: str):
    try:
        return float(v)
    except ValueError:
        raise ValueError(f'strconv.ParseFloat: parsing "{v}": invalid syntax') from None


S = "services.*."
# path pattern → cast of an interpolated string (compose-go's interpolateTypeCastMapping)
CASTS = {
    S + "cpu_count": _to_int64, S + "cpu_percent": _to_float, S + "cpu_period": _to_int64,
    S + "cpu_quota": _to_int64, S + "cpu_rt_period": _to_int64, S + "cpu_rt_runtime": _to_int64,
    S + "cpus": _to_float, S + "cpu_shares": _to_int64, S + "init": _to_bool,
    S + "depends_on.*.required": _to_bool, S + "depends_on.*.restart": _to_bool,
    S + "deploy.replicas": _to_int, S + "deploy.update_config.parallelism": _to_int,
    S + "deploy.update_config.max_failure_ratio": _to_float,
    S + "deploy.rollback_config.parallelism": _to_int,
    S + "deploy.rollback_config.max_failure_ratio": _to_float,
    S + "deploy.restart_policy.max_attempts": _to_int,
    S + "deploy.placement.max_replicas_per_node": _to_int,
    S + "healthcheck.retries": _to_int, S + "healthcheck.disable": _to_bool,
    S + "oom_kill_disable": _to_bool, S + "oom_score_adj": _to_int64, S + "pids_limit": _to_int64,
    S + "ports.[].target": _to_int, S + "privileged": _to_bool, S + "read_only": _to_bool,
    S + "scale": _to_int, S + "stdin_open": _to_bool, S + "tty": _to_bool,
    S + "ulimits.*": _to_int, S + "ulimits.*.hard": _to_int, S + "ulimits.*.soft": _to_int,
    S + "volumes.[].read_only": _to_bool, S + "volumes.[].volume.nocopy": _to_bool,
    **{f"{top}.*.external": _to_bool for top in ("networks", "volumes", "secrets", "configs")},
    "networks.*.internal": _to_bool, "networks.*.attachable": _to_bool,
    "networks.*.enable_ipv4": _to_bool, "networks.*.enable_ipv6": _to_bool,
}


def matches(path: tuple[str, ...], pattern: str) -> bool:
    parts = pattern.split(".")
    if len(parts) != len(path):
        return False
    for p, q in zip(parts, path):
        if p == "*":
            continue
        if p == "[]":
            if not q.startswith("["):
                return False
            continue
        if p != q:
            return False
    return True


def _cast_for(path: tuple[str, ...]):
    for pattern, fn in CASTS.items():
        if matches(path, pattern):
            return fn
    return None


def show(path: tuple[str, ...]) -> str:
    return ".".join(path).replace(".[", "[")


def interpolate(tree, env: Mapping[str, str], warn=None, path: tuple[str, ...] = ()):
    """A copy of the YAML tree with every string interpolated (and cast where compose casts it)."""
    if isinstance(tree, dict):
        return {k: interpolate(v, env, warn, path + (str(k),)) for k, v in tree.items()}
    if isinstance(tree, list):
        return [interpolate(v, env, warn, path + (f"[{i}]",)) for i, v in enumerate(tree)]
    if isinstance(tree, str):
        where = show(path)
        try:
            value = substitute(tree, env, warn)
        except (MissingRequired, InvalidTemplate) as e:
            raise InterpolationError(f"error while interpolating {where}: {e}") from None
        cast = _cast_for(path)
        if cast is not None:
            try:
                return cast(value)
            except ValueError as e:
                raise InterpolationError(
                    f"error while interpolating {where}: failed to cast to expected type: {e}") from None
        return value
    return tree
