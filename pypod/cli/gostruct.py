"""Report rows as --format templates see them in podman: Go structs, not maps.

A template over a Go map prints `<no value>` for a missing key; over a struct, an unknown field is an
error (`can't evaluate field Foo in type images.imageReporter`, exit 125). podman's list and inspect
reports are structs, so scripts with a typo fail loudly there; rows wrapped here do the same.
"""

from __future__ import annotations


class GoStruct:
    """Fields from a dict, read as attributes by the template engine (an unknown one is an error)."""

    def __init__(self, fields: dict):
        self.__dict__.update(fields)

    def get(self, name: str, default=None):  # the default table reads cells with .get()
        return self.__dict__.get(name, default)

    def fields(self) -> dict:
        return dict(self.__dict__)


def struct_type(go_name: str) -> type:
    """A GoStruct subclass named as podman's type, so that template errors read as podman's."""
    return type(go_name, (GoStruct,), {})


ImageReporter = struct_type("images.imageReporter")
HistoryReporter = struct_type("images.historyReporter")
# podman executes inspect templates on an `interface {}` holding the image's ImageData
ImageData = struct_type("interface {}")


def image_inspect(data: dict) -> GoStruct:
    """An image's inspect JSON as its template sees it: podman's struct field is `ID`, and
    podman also accepts the JSON key `Id`."""
    return ImageData({**data, "ID": data.get("Id", "")})
