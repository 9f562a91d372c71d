"""The shapes of the JSON bodies the API reads, checked before a handler touches them.

Docker decodes a body into Go structs, so a field of the wrong type is a 400 ("json: cannot
unmarshal string into Go struct field ... of type ..."), never a crash. A shape here says the same:
a type (str, bool, int, float: any number), [SHAPE] for an array, {"Field": SHAPE, ...} for an
object (fields not named are not read, so not checked), MapOf(SHAPE) for an object with any keys,
a tuple for "any of these" (Docker's strslice: a string or an array of them), ANY for anything.
A null object field is Go's zero value and passes; a null inside an array or map does not.
"""

from __future__ import annotations

from pypod.api.http import HTTPError

ANY = object()


class MapOf:
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


def check(value, shape, where: str = "body") -> None:
    """Raise HTTPError 400 naming the first place where `value` does not have `shape`."""
    if shape is ANY:
        return
    if isinstance(shape, tuple):
        for alternative in shape:
            try:
                check(value, alternative, where)
                return
            except HTTPError:
                pass
        raise _wrong(value, where, " or ".join(_describe(s) for s in shape))
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            raise _wrong(value, where, "an object")
        for key, field in shape.items():
            if value.get(key) is not None:
                check(value[key], field, f"{where}.{key}")
        return
    if isinstance(shape, MapOf):
        if not isinstance(value, dict):
            raise _wrong(value, where, "an object")
        for key, item in value.items():
            check(item, shape.value, f"{where}[{key!r}]")
        return
    if isinstance(shape, list):
        if not isinstance(value, list):
            raise _wrong(value, where, "an array")
        for i, item in enumerate(value):
            check(item, shape[0], f"{where}[{i}]")
        return
    if shape is float:
        fits = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif shape is int:
        fits = isinstance(value, int) and not isinstance(value, bool)
    else:
        fits = isinstance(value, shape)
    if not fits:
        raise _wrong(value, where, _describe(shape))


_JSON_NAMES = ((bool, "a boolean"), (int, "a number"), (float, "a number"), (str, "a string"),
               (list, "an array"), (dict, "an object"))


def _describe(shape) -> str:
    if isinstance(shape, (dict, MapOf)):
        return "an object"
    if isinstance(shape, list):
        return "an array"
    if shape is int:
        return "an integer"
    return dict(_JSON_NAMES).get(shape, "a value")


def _wrong(value, where: str, expected: str) -> HTTPError:
    got = "null" if value is None else next((n for t, n in _JSON_NAMES if isinstance(value, t)), "a value")
    return HTTPError(400, f"invalid request body: {where} must be {expected}, not {got}")
