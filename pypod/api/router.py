"""Paths to handlers: every route bare and under `/v{X.Y}/`, errors as Docker's JSON.

Handlers are registered with @route(METHOD, PATTERN) in the compat_* modules; a pattern's
`{name}` matches one path segment, `{name:.*}` the rest (image names hold `/` and `:`).
"""

from __future__ import annotations

import json
import re
import urllib.parse

from pypod.api.http import HTTPError

_ROUTES: list[tuple[str, re.Pattern, object]] = []
_VERSION = re.compile(r"^/v([0-9][0-9A-Za-z.-]*)(/.*)$")


def route(method: str, pattern: str):
    rx = "^" + re.sub(r"\{(\w+)(?::([^}]*))?\}",
                      lambda m: f"(?P<{m.group(1)}>{m.group(2) or '[^/]+'})", pattern) + "$"

    def deco(fn):
        _ROUTES.append((method, re.compile(rx), fn))
        return fn

    return deco


def _version_tuple(v: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in v.split("."))
    except ValueError:
        raise HTTPError(400, f"invalid API version {v!r}") from None


def truthy(value: str | None) -> bool:
    """Docker's boolean query values: true unless "", 0, no, false or none (any case)."""
    return value is not None and value.strip().lower() not in ("", "0", "no", "false", "none")


def parse_filters(text: str | None) -> dict[str, list[str]]:
    """`filters` in both shapes clients send: {"k":{"v":true}} and {"k":["v"]}."""
    if not text:
        return {}
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError):
        raise HTTPError(400, f"invalid filters: {text[:200]!r} is not JSON") from None
    if not isinstance(raw, dict):
        raise HTTPError(400, "invalid filters: a JSON object is needed")
    out: dict[str, list[str]] = {}
    for k, v in raw.items():
        if isinstance(v, dict):
            out[k] = [str(x) for x, on in v.items() if on]
        elif isinstance(v, list):
            out[k] = [str(x) for x in v]
        elif isinstance(v, str):
            out[k] = [v]
        else:
            raise HTTPError(400, f"invalid filters: the value of {k!r} must be a list or an object")
    return out


class Request:
    """What a handler sees: the connection handler, path parameters and the query."""

    def __init__(self, h, params: dict, query: dict[str, list[str]], version: str):
        self.h, self.params, self.query, self.version = h, params, query, version

    def q(self, name: str, default: str | None = None) -> str | None:
        v = self.query.get(name)
        return v[-1] if v else default

    def qbool(self, name: str, default: bool = False) -> bool:
        v = self.q(name)
        return default if v is None else truthy(v)

    def qint(self, name: str, default: int | None = None) -> int | None:
        v = self.q(name)
        if v is None or v == "":
            return default
        try:
            return int(v)
        except ValueError:
            raise HTTPError(400, f"invalid value for {name}: {v!r} is not an integer") from None

    def filters(self) -> dict[str, list[str]]:
        return parse_filters(self.q("filters"))

    def filter_args(self) -> list[str]:
        """Docker's filters as the `KEY=VALUE` list the engine's (and `--filter`'s) take."""
        return [f"{k}={v}" for k, values in self.filters().items() for v in values]


class Router:
    def __init__(self, ctx):
        from pypod.api import (compat_containers, compat_exec, compat_images, compat_system,  # noqa: F401
                               compat_volumes)  # (importing them registers their routes)

        self.ctx = ctx

    def dispatch(self, h) -> None:
        from pypod.api.server import API_VERSION, MIN_API_VERSION

        try:
            url = urllib.parse.urlsplit(h.path)
            path = urllib.parse.unquote(url.path) or "/"
            version = API_VERSION
            m = _VERSION.match(path)
            if m:
                version, path = m.group(1), m.group(2)
                if _version_tuple(version) > _version_tuple(API_VERSION):
                    raise HTTPError(400, f"client version {version} is too new. Maximum supported API "
                                         f"version is {API_VERSION}")
                if _version_tuple(version) < _version_tuple(MIN_API_VERSION):
                    raise HTTPError(400, f"client version {version} is too old. Minimum supported API "
                                         f"version is {MIN_API_VERSION}, please upgrade your client to a "
                                         "newer version")
            path = path.rstrip("/") or "/"
            method = h.command
            query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
            allowed = False
            for meth, rx, fn in _ROUTES:
                mm = rx.match(path)
                if not mm:
                    continue
                if meth != method and not (method == "HEAD" and meth == "GET"):  # HEAD: GET's, bodiless
                    allowed = True
                    continue
                fn(Request(h, mm.groupdict(), query, version), self.ctx)
                return
            if allowed:
                raise HTTPError(405, f"method {h.command} not allowed on {path}")
            raise HTTPError(404, f"page not found: {h.command} {path}")
        except HTTPError as e:
            self._error(h, e.status, e.message)
        except Exception as e:  # noqa: BLE001 - the one boundary of a request
            status, message = error_status(e)
            self._error(h, status, message)

    @staticmethod
    def _error(h, status: int, message: str) -> None:
        if getattr(h, "_responded", False):
            h.close_connection = True
            return
        try:
            h.send_error_json(status, message)
        except OSError:
            h.close_connection = True


def error_status(e: BaseException) -> tuple[int, str]:
    """A pypod error as an HTTP status and Docker's message (an internal one as 500)."""
    from pypod import errors

    if isinstance(e, errors.PypodError):
        status = getattr(e, "http_status", None)
        if status is None:
            if isinstance(e, errors.NotFound):
                status = 404
            elif isinstance(e, errors.Conflict):
                status = 409
            elif isinstance(e, errors.InvalidArgument):
                status = 400
            else:
                status = 500
        return status, e.message
    if isinstance(e, OSError):
        return 500, f"{e.strerror or e}" + (f": {e.filename}" if getattr(e, "filename", None) else "")
    return 500, f"internal error: {e}"
