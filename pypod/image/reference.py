"""Image references, normalised the way podman (containers/image's docker reference) does it.

`busybox` → `docker.io/library/busybox:latest`; a first component with a "." or ":" or equal to
"localhost" is a registry (`localhost/x`, `localhost:5000/foo/bar`, `quay.io/org/app`); anything
else lives on docker.io. The grammar is distribution's reference grammar; error texts are the ones
podman prints (`invalid reference format`, `repository name must be lowercase`, …).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from pypod.errors import InvalidArgument

DEFAULT_REGISTRY = "docker.io"
LEGACY_DEFAULT_REGISTRY = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"
DOCKER_TRANSPORT = "docker://"
NAME_TOTAL_LENGTH_MAX = 255

# distribution/reference/regexp.go, in Python. `-+` instead of `[-]*` matches the same language
# without the backtracking blow-up of a star between two `+` groups.
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|-+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_IPV6 = r"\[[a-fA-F0-9:]+\]"
_DOMAIN = rf"(?:{_DOMAIN_NAME}|{_IPV6})(?::[0-9]+)?"
_PATH = rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

_REFERENCE_RE = re.compile(rf"((?:{_DOMAIN}/)?{_PATH})(?::({_TAG}))?(?:@({_DIGEST}))?")
_NAME_RE = re.compile(rf"(?:({_DOMAIN})/)?({_PATH})")
_DOMAIN_RE = re.compile(_DOMAIN)
_PATH_RE = re.compile(_PATH)
_TAG_RE = re.compile(_TAG)
_FULL_ID_RE = re.compile(r"[a-f0-9]{64}")
_ID_RE = re.compile(r"[a-f0-9]{3,64}")

# go-digest: the algorithms it knows and their hex lengths; hex must be lowercase.
_DIGEST_HEX_LEN = {"sha256": 64, "sha384": 96, "sha512": 128}
_LOWER_HEX_RE = re.compile(r"[a-f0-9]+")


@dataclass(frozen=True)
class ImageReference:
    """A fully-qualified reference: registry, repository path, and a tag and/or a digest."""

    registry: str
    repository: str
    tag: str | None = DEFAULT_TAG
    digest: str | None = None

    def name(self) -> str:
        """`docker.io/library/busybox`: the name without tag or digest."""
        return f"{self.registry}/{self.repository}"

    def __str__(self) -> str:
        out = self.name()
        if self.tag is not None:
            out += f":{self.tag}"
        if self.digest is not None:
            out += f"@{self.digest}"
        return out

    def with_tag(self, tag: str) -> ImageReference:
        """The same name with this tag (a digest, if any, is kept, like docker's WithTag)."""
        if not _TAG_RE.fullmatch(tag):
            raise InvalidArgument(f"invalid tag {tag!r}: invalid reference format")
        return replace(self, tag=tag)

    def with_digest(self, digest: str) -> ImageReference:
        """The same name with this digest (a tag, if any, is kept)."""
        validate_digest(digest)
        return replace(self, digest=digest)

    def without_tag(self) -> ImageReference:
        """Only the digest (podman ignores the tag of `name:tag@digest` when pulling)."""
        return replace(self, tag=None) if self.digest else self

    @property
    def familiar(self) -> str:
        """Docker's short form: `busybox:latest`, `myorg/app:1`; other registries unchanged."""
        name = self.name()
        if self.registry == DEFAULT_REGISTRY:
            path = self.repository
            if path.startswith(OFFICIAL_REPO_PREFIX) and "/" not in path[len(OFFICIAL_REPO_PREFIX):]:
                path = path[len(OFFICIAL_REPO_PREFIX):]
            name = path
        if self.tag is not None:
            name += f":{self.tag}"
        if self.digest is not None:
            name += f"@{self.digest}"
        return name


def validate_digest(digest: str) -> None:
    """go-digest's Validate: `algorithm:hex`, known algorithm, exact lowercase hex length."""
    algorithm, sep, hexpart = digest.partition(":")
    if not sep or not algorithm or not hexpart:
        raise InvalidArgument("invalid checksum digest format")
    want = _DIGEST_HEX_LEN.get(algorithm)
    if want is None:
        if not re.fullmatch(_DIGEST, digest):
            raise InvalidArgument("invalid checksum digest format")
        raise InvalidArgument("unsupported digest algorithm")
    if len(hexpart) != want:
        raise InvalidArgument("invalid checksum digest length")
    if not _LOWER_HEX_RE.fullmatch(hexpart):
        raise InvalidArgument("invalid checksum digest format")


def _match(text: str) -> re.Match[str]:
    """distribution's reference.Parse: the grammar, the length limit, the digest."""
    m = _REFERENCE_RE.fullmatch(text)
    if m is None:
        if not text:
            raise InvalidArgument("repository name must have at least one component")
        if _REFERENCE_RE.fullmatch(text.lower()) is not None:
            raise InvalidArgument("repository name must be lowercase")
        raise InvalidArgument("invalid reference format")
    if len(m.group(1)) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidArgument(f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters")
    if m.group(3) is not None:
        validate_digest(m.group(3))
    return m


def _has_registry(first: str) -> bool:
    return "." in first or ":" in first or first == "localhost"


def _split_domain(text: str) -> tuple[str, str]:
    """containers/image splitDockerDomain: (registry, remainder) with docker.io defaults."""
    i = text.find("/")
    if i == -1 or not _has_registry(text[:i]):
        domain, remainder = DEFAULT_REGISTRY, text
    else:
        domain, remainder = text[:i], text[i + 1:]
    if domain == LEGACY_DEFAULT_REGISTRY:
        domain = DEFAULT_REGISTRY
    if domain == DEFAULT_REGISTRY and "/" not in remainder:
        remainder = OFFICIAL_REPO_PREFIX + remainder
    return domain, remainder


def parse(text: str) -> ImageReference:
    """Parse and fully qualify a reference like podman; the tag defaults to `latest` without a digest."""
    if text.startswith(DOCKER_TRANSPORT):
        text = text[len(DOCKER_TRANSPORT):]
    if not text:
        raise InvalidArgument("repository name must have at least one component")
    if _FULL_ID_RE.fullmatch(text):
        raise InvalidArgument(f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings")
    domain, remainder = _split_domain(text)
    remote_name = remainder.split(":", 1)[0]
    if remote_name.lower() != remote_name:
        raise InvalidArgument("repository name must be lowercase")
    m = _match(f"{domain}/{remainder}")
    tag, digest = m.group(2), m.group(3)
    if tag is None and digest is None:
        tag = DEFAULT_TAG
    return ImageReference(registry=domain, repository=remainder[: len(m.group(1)) - len(domain) - 1],
                          tag=tag, digest=digest)


def parse_name(text: str) -> ImageReference:
    """Parse a reference that must already be fully qualified ("host/path[:tag][@digest]"), with no
    docker.io or `library/` added and no default tag (containers/image's ParseNamed without the
    canonical-form check). Used for rewritten mirror references."""
    m = _match(text)
    nm = _NAME_RE.fullmatch(m.group(1))
    if nm is None or nm.group(1) is None:  # pragma: no cover - _match already accepted it
        raise InvalidArgument("invalid reference format")
    return ImageReference(registry=nm.group(1), repository=nm.group(2), tag=m.group(2), digest=m.group(3))


def is_short_name(text: str) -> bool:
    """True when no registry is given: `busybox`, `library/busybox`, `myorg/app:1`.

    `docker://…` is never short: the docker transport always qualifies with docker.io.
    """
    if text.startswith(DOCKER_TRANSPORT):
        return False
    i = text.find("/")
    return i == -1 or not _has_registry(text[:i])


def parse_short(text: str) -> tuple[str, str | None, str | None]:
    """(path, tag, digest) of a short name, validated, without normalisation: tag stays None if absent."""
    if not is_short_name(text):
        raise InvalidArgument(f"{text!r} is not a short name: it names a registry")
    m = _match(text)
    return m.group(1), m.group(2), m.group(3)


def looks_like_id(text: str) -> bool:
    """3..64 lowercase hex (an image or container id or its prefix), or `sha256:` + a full id."""
    if text.startswith("sha256:"):
        return _FULL_ID_RE.fullmatch(text[len("sha256:"):]) is not None
    return _ID_RE.fullmatch(text) is not None


def is_valid_tag(tag: str) -> bool:
    return _TAG_RE.fullmatch(tag) is not None


def is_valid_domain(text: str) -> bool:
    """A registry host[:port] as the grammar allows it (used to validate search registries)."""
    return _DOMAIN_RE.fullmatch(text) is not None
