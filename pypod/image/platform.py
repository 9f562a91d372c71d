"""The platform to pull: the host's by default, as Go's GOARCH names it."""

from __future__ import annotations

import platform as _platform
from dataclasses import dataclass

_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm",
         "armv6l": "arm", "i686": "386", "i386": "386", "ppc64le": "ppc64le", "s390x": "s390x",
         "riscv64": "riscv64"}


def host_arch() -> str:
    m = _platform.machine()
    return _ARCH.get(m, m)


@dataclass
class Platform:
    os: str = "linux"
    architecture: str = ""
    variant: str = ""

    def __post_init__(self):
        if not self.architecture:
            self.architecture = host_arch()
            if self.architecture == "arm" and not self.variant:
                self.variant = "v7"

    @classmethod
    def parse(cls, text: str | None, os_: str | None = None, arch: str | None = None,
              variant: str | None = None) -> "Platform":
        p = cls()
        if text:
            parts = text.split("/")
            if len(parts) < 2 or len(parts) > 3 or not all(parts):
                from pypod.errors import InvalidArgument

                raise InvalidArgument(f"invalid platform syntax for --platform={text!r}: use OS/ARCH[/VARIANT]")
            p = cls(parts[0], parts[1], parts[2] if len(parts) == 3 else "")
        if os_:
            p.os = os_
        if arch:
            p.architecture = _ARCH.get(arch, arch)
        if variant is not None and variant != "":
            p.variant = variant
        return p

    def __str__(self) -> str:
        return f"{self.os}/{self.architecture}" + (f"/{self.variant}" if self.variant else "")

    def matches(self, entry: dict) -> bool:
        if entry.get("os", "linux") != self.os or entry.get("architecture") != self.architecture:
            return False
        if self.variant:
            v = entry.get("variant", "")
            # arm64 images often omit "v8"
            return v == self.variant or (not v and self.architecture == "arm64" and self.variant == "v8")
        return True


def select_manifest(index: dict, want: Platform) -> dict | None:
    """The manifest descriptor of an index for a platform; the variant is a preference when not given."""
    cands = [m for m in index.get("manifests", []) if m.get("platform") and want.matches(m["platform"])]
    if not cands:
        return None
    if not want.variant and want.architecture == "arm":
        cands.sort(key=lambda m: m["platform"].get("variant", ""), reverse=True)
    return cands[0]
