"""Plain data records for the hot path.

`dataclasses` costs ~10 ms to import (it pulls in `inspect`) and ~1 ms per class to build; every
pypod command pays start-up, so the records that `images`, `ps` and `run` touch use this instead.
"""

from __future__ import annotations


class Record:
    """Subclasses list FIELDS as (name, default) pairs; a callable default is a factory (list, dict)."""

    __slots__ = ()
    FIELDS: tuple = ()

    def __init__(self, *args, **kw):
        if args:  # positional: in FIELDS order, as a dataclass takes them
            if len(args) > len(self.FIELDS):
                raise TypeError(f"{type(self).__name__}: {len(args)} positional arguments")
            for (name, _), value in zip(self.FIELDS, args):
                if name in kw:
                    raise TypeError(f"{type(self).__name__}: {name} given twice")
                kw[name] = value
        for name, default in self.FIELDS:
            if name in kw:
                value = kw.pop(name)
            else:
                value = default() if callable(default) else default
            setattr(self, name, value)
        if kw:
            raise TypeError(f"{type(self).__name__}: unknown fields {', '.join(sorted(kw))}")

    def to_dict(self) -> dict:
        return {name: getattr(self, name) for name, _ in self.FIELDS}

    @classmethod
    def from_dict(cls, d: dict):
        return cls(**{name: d[name] for name, _ in cls.FIELDS if name in d})

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items())
        return f"{type(self).__name__}({inner})"
