"""Kubernetes names from pypod's: container and volume names allow `_`, `.` and capitals, which a
Kubernetes DNS label (RFC 1123: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63) does not."""

from __future__ import annotations

import re

MAX_LABEL = 63
_BAD = re.compile(r"[^a-z0-9-]+")


def dns_label(name: str, limit: int = MAX_LABEL, fallback: str = "container") -> str:
    """A valid DNS label for `name`. Underscores are dropped, as podman does (`my_web` → `myweb`,
    so names podman accepts come out the same); any other invalid run becomes one `-`
    (`my_web.1` → `myweb-1`)."""
    s = _BAD.sub("-", name.replace("_", "").lower())
    s = re.sub(r"-{2,}", "-", s)[:limit].strip("-")
    return s or fallback


def with_suffix(base: str, suffix: str) -> str:
    """`base` + `suffix` still a DNS label: the base is cut, not the suffix."""
    return dns_label(base, MAX_LABEL - len(suffix)) + suffix


def service_name(name: str) -> str:
    """A Service's name is an RFC 1035 label: it must also start with a letter."""
    s = dns_label(name)
    return s if s[0].isalpha() else with_suffix("svc-" + s, "")


def host_path_volume(source: str, index: int) -> str:
    """podman's name for a bind mount's volume: the path with `/` → `-`, `root` for `/`, then
    `-host-N`; made a DNS label (`/tmp/file.txt` → `tmp-file-txt-host-0`). A long path keeps its
    end, the part that tells mounts apart."""
    base = "root" if source.strip("/") == "" else source.strip("/").replace("/", "-")
    suffix = f"-host-{index}"
    s = dns_label(base, limit=10_000, fallback="path")
    room = MAX_LABEL - len(suffix)
    if len(s) > room:
        s = s[-room:].lstrip("-") or "path"
    return s + suffix


_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_NAME_PART = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")


def is_qualified_name(key: str) -> bool:
    """A valid label or annotation key: [PREFIX/]NAME, PREFIX a DNS subdomain (an API server checks
    annotation keys lower-cased), NAME at most 63 of [-A-Za-z0-9_.] starting and ending alphanumeric."""
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _SUBDOMAIN.fullmatch(prefix.lower())):
        return False
    return len(name) <= MAX_LABEL and bool(_NAME_PART.fullmatch(name))


def is_label_value(value: str) -> bool:
    return value == "" or (len(value) <= MAX_LABEL and bool(_NAME_PART.fullmatch(value)))
