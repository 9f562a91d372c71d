"""Typed views over the plain dicts a record keeps on disk (ContainerConfig and its parts).

A Typed object holds the dict as read (`_values`, never copied on load: `ps` loads one per
container) and each field is a descriptor that returns the stored value or, when it was never
recorded, the default its class states once in FIELDS. What is stored stays plain JSON data:
a nested value (the healthcheck, `net`, each mount) is kept as its dict and given out as a typed
view of that very dict, made on first read and cached in `_views` (so writes through a view land
in the record, and to_dict() has nothing to convert back).

FIELDS: (name, default) or (name, default, key) where key is the stored name when it is not a
Python name ("max-size"). A callable default is a factory (list, dict: the record's own copy). A
default may also be Nested(C) (a C view of a stored dict; {} when unset), Optional(C) (None when
unset), ListOf(C) / DictOf(C) (a list / dict of C views; `none=True`: None when unset).
"""

from __future__ import annotations

_MISSING = object()


class _Kind:
    """How a field's stored plain value is viewed (and what it is when unset)."""

    __slots__ = ("cls", "none")

    def __init__(self, cls, none: bool = False):
        self.cls, self.none = cls, none

    def default(self):
        return None if self.none else self.empty()

    def empty(self):
        return {}

    def view(self, v):
        return self.cls.view(v)


class Nested(_Kind):
    pass


class Optional(_Kind):
    def __init__(self, cls):
        super().__init__(cls, none=True)


class ListOf(_Kind):
    def empty(self):
        return []

    def view(self, v):
        return [self.cls.view(x) for x in v]


class DictOf(_Kind):
    def view(self, v):
        return {k: self.cls.view(x) for k, x in v.items()}


def plain(v):
    """A value as it is stored: views turned back into their dicts (those dicts themselves)."""
    if isinstance(v, Typed):
        return v._values
    if isinstance(v, list):
        return [plain(x) for x in v]
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    return v


class Field:
    __slots__ = ("name", "key", "default", "kind")

    def __init__(self, name: str, default, key: str | None = None):
        self.name, self.key = name, key or name
        self.kind = default if isinstance(default, _Kind) else None
        self.default = default.default if self.kind else default

    def raw(self, obj):
        """The stored (plain) value, the default when unset."""
        values = obj._values
        v = values.get(self.key, _MISSING)
        if v is _MISSING:
            d = self.default
            if not callable(d):
                return d
            v = d()
            if v is not None:  # kept: a list or dict default is this record's own (appends stick)
                values[self.key] = v
        return v

    def __get__(self, obj, cls=None):
        if obj is None:
            return self
        if self.kind is None:
            return self.raw(obj)
        views = obj._views
        if views is None:
            views = obj._views = {}
        try:
            return views[self.key]
        except KeyError:
            v = self.raw(obj)
            w = views[self.key] = None if v is None else self.kind.view(v)
            return w

    def __set__(self, obj, value) -> None:
        obj._values[self.key] = plain(value)
        if obj._views:
            obj._views.pop(self.key, None)


class Typed:
    """Subclasses state FIELDS; the descriptors are made when the class is."""

    FIELDS: tuple = ()
    __slots__ = ("_values", "_views")

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        fields = {}
        for entry in cls.FIELDS:
            f = Field(*entry)
            fields[f.name] = f
            setattr(cls, f.name, f)
        cls._fields = fields

    def __init__(self, **values):
        unknown = values.keys() - self._fields.keys()
        if unknown:
            raise TypeError(f"{type(self).__name__}: unknown fields {', '.join(sorted(unknown))}")
        fields = self._fields
        self._values = {fields[k].key: plain(v) for k, v in values.items()}
        self._views = None

    @classmethod
    def view(cls, d: dict):
        """A view of `d` itself (not copied): writes through it change `d`."""
        if isinstance(d, cls):
            return d
        obj = cls.__new__(cls)
        obj._values, obj._views = d, None
        return obj

    @classmethod
    def from_dict(cls, d: dict):
        """As stored (a copy of the top level); a key this version does not know is kept."""
        return cls.view(dict(d))

    def to_dict(self, full: bool = False) -> dict:
        """The stored dict (a deep copy): what was recorded, and with full=True every field,
        unset ones at their defaults."""
        if full:
            return {f.key: plain(f.raw(self)) for f in self._fields.values()}
        return plain(self._values)

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and Typed.to_dict(self, True) == Typed.to_dict(other, True)

    def __repr__(self) -> str:
        inner = ", ".join(f"{f.name}={f.raw(self)!r}" for f in self._fields.values() if f.key in self._values)
        return f"{type(self).__name__}({inner})"
