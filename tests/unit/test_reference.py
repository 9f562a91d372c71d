"""Image references, normalised as podman 4.3 does (error texts checked against `podman pull`)."""

from __future__ import annotations

import pytest

from pypod.errors import InvalidArgument
from pypod.image import reference
from pypod.image.reference import ImageReference, is_short_name, looks_like_id, parse, parse_short

HEX = "0123456789abcdef" * 4
DIGEST = f"sha256:{HEX}"


@pytest.mark.parametrize("text, want", [
    ("busybox", "docker.io/library/busybox:latest"),
    ("busybox:1.36", "docker.io/library/busybox:1.36"),
    ("library/busybox", "docker.io/library/busybox:latest"),
    ("myorg/app:1", "docker.io/myorg/app:1"),
    ("docker.io/busybox", "docker.io/library/busybox:latest"),
    ("index.docker.io/busybox", "docker.io/library/busybox:latest"),
    ("docker://busybox", "docker.io/library/busybox:latest"),
    ("docker://quay.io/org/app:v2", "quay.io/org/app:v2"),
    ("localhost/x", "localhost/x:latest"),
    ("localhost:5000/foo/bar", "localhost:5000/foo/bar:latest"),
    ("quay.io/org/app", "quay.io/org/app:latest"),
    ("registry.example.com:8443/a/b/c:TAG_1.x-y", "registry.example.com:8443/a/b/c:TAG_1.x-y"),
    ("[::1]:5000/x", "[::1]:5000/x:latest"),
    ("foo:5000", "docker.io/library/foo:5000"),  # no "/": a tag, not a port
    ("a__b/c-d--e.f", "docker.io/a__b/c-d--e.f:latest"),
])
def test_normalises_like_podman(text, want):
    assert str(parse(text)) == want


def test_fields_of_a_short_name():
    ref = parse("busybox")
    assert ref == ImageReference("docker.io", "library/busybox", "latest", None)
    assert ref.name() == "docker.io/library/busybox"
    assert ref.familiar == "busybox:latest"


def test_digest_only_reference_has_no_tag():
    ref = parse(f"localhost:5000/foo/bar@{DIGEST}")
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == ("localhost:5000", "foo/bar", None, DIGEST)
    assert str(ref) == f"localhost:5000/foo/bar@{DIGEST}"


def test_tag_and_digest_together_are_kept():
    ref = parse(f"busybox:1.36@{DIGEST}")
    assert (ref.tag, ref.digest) == ("1.36", DIGEST)
    assert str(ref) == f"docker.io/library/busybox:1.36@{DIGEST}"
    assert str(ref.without_tag()) == f"docker.io/library/busybox@{DIGEST}"


def test_localhost_is_a_registry_without_library():
    ref = parse("localhost/x")
    assert (ref.registry, ref.repository) == ("localhost", "x")


@pytest.mark.parametrize("text, message", [
    ("Foo", "repository name must be lowercase"),
    ("foo/Bar", "repository name must be lowercase"),
    ("docker.io/Foo", "repository name must be lowercase"),
    ("a:b:c", "invalid reference format"),
    ("a/b:c:d", "invalid reference format"),
    ("busybox:", "invalid reference format"),
    ("foo bar", "invalid reference format"),
    ("busybox\n", "invalid reference format"),
    ("-busybox", "invalid reference format"),
    ("busybox@sha256:abc", "invalid reference format"),
    (f"busybox@sha256:{HEX.upper()}", "invalid checksum digest format"),
    (f"busybox@sha256:{HEX}ab", "invalid checksum digest length"),
    (f"busybox@md5:{HEX[:32]}", "unsupported digest algorithm"),
    ("", "repository name must have at least one component"),
    ("a" * 64, "cannot specify 64-byte hexadecimal strings"),
    ("busybox:" + "t" * 129, "invalid reference format"),
    ("x.io/" + "a" * 260, "repository name must not be more than 255 characters"),
    ("foo..bar:1/x", "invalid reference format"),
])
def test_malformed_references(text, message):
    with pytest.raises(InvalidArgument) as e:
        parse(text)
    assert message in e.value.message
    assert e.value.exit_code == 125


def test_long_tag_limit():
    assert parse("busybox:" + "t" * 128).tag == "t" * 128


def test_sha512_digest():
    d = "sha512:" + "ab" * 64
    assert parse(f"quay.io/x@{d}").digest == d


def test_with_tag_and_with_digest():
    ref = parse("quay.io/org/app:1")
    assert str(ref.with_tag("2")) == "quay.io/org/app:2"
    assert str(ref.with_digest(DIGEST)) == f"quay.io/org/app:1@{DIGEST}"
    with pytest.raises(InvalidArgument):
        ref.with_tag("bad tag")
    with pytest.raises(InvalidArgument):
        ref.with_digest("sha256:nothex")


def test_familiar_forms():
    assert parse("myorg/app:1").familiar == "myorg/app:1"
    assert parse("quay.io/org/app").familiar == "quay.io/org/app:latest"
    assert parse(f"busybox@{DIGEST}").familiar == f"busybox@{DIGEST}"


@pytest.mark.parametrize("text, short", [
    ("busybox", True),
    ("busybox:1", True),
    ("library/busybox", True),
    ("myorg/app:1", True),
    ("localhost:5000", True),  # podman: a short name with tag 5000
    ("localhost/x", False),
    ("localhost:5000/x", False),
    ("quay.io/x", False),
    ("docker.io/busybox", False),
    ("docker://busybox", False),
])
def test_is_short_name(text, short):
    assert is_short_name(text) is short


def test_parse_short_does_not_normalise():
    assert parse_short("busybox") == ("busybox", None, None)
    assert parse_short("library/busybox:1") == ("library/busybox", "1", None)
    assert parse_short(f"myorg/app@{DIGEST}") == ("myorg/app", None, DIGEST)
    with pytest.raises(InvalidArgument):
        parse_short("Busybox")
    with pytest.raises(InvalidArgument):
        parse_short("quay.io/x")


@pytest.mark.parametrize("text, is_id", [
    ("abc", True),
    ("ab", False),
    (HEX, True),
    (HEX + "0", False),
    (f"sha256:{HEX}", True),
    ("sha256:abc", False),
    ("ABC", False),
    ("busybox", False),
])
def test_looks_like_id(text, is_id):
    assert looks_like_id(text) is is_id


def test_parse_name_keeps_what_it_is_given():
    ref = reference.parse_name("mirror.local/ns/busybox:1")
    assert ref == ImageReference("mirror.local", "ns/busybox", "1", None)
