"""Kubernetes names from pypod's (pypod/kube/names.py): every result must be a valid DNS label."""

import re

import pytest

from pypod.kube import names

DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


@pytest.mark.parametrize("given, expected", [
    ("web", "web"),
    ("my_web", "myweb"),            # podman drops underscores: the names it accepts come out the same
    ("my_web.1", "myweb-1"),        # podman keeps the dot, which a container name may not have
    ("Upper_Case.X", "uppercase-x"),
    ("a..b--c", "a-b-c"),
    ("-lead.", "lead"),
    ("___", "container"),
    ("1web", "1web"),
])
def test_dns_label(given, expected):
    assert names.dns_label(given) == expected
    assert DNS_LABEL.fullmatch(expected)


def test_long_names_are_cut_to_63_without_a_trailing_dash():
    s = names.dns_label("a" * 62 + ".b" * 10)
    assert len(s) <= 63 and DNS_LABEL.fullmatch(s)
    pod = names.with_suffix("x" * 100, "-pod")
    assert len(pod) == 63 and pod.endswith("-pod") and DNS_LABEL.fullmatch(pod)


def test_service_name_starts_with_a_letter():
    assert names.service_name("web-pod") == "web-pod"
    assert names.service_name("1web-pod") == "svc-1web-pod"
    assert re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", names.service_name("9" * 80))


@pytest.mark.parametrize("source, index, expected", [
    ("/tmp/data", 0, "tmp-data-host-0"),           # podman's scheme
    ("/tmp/file.txt", 1, "tmp-file-txt-host-1"),   # podman: tmp-file.txt-host-1, not a DNS label
    ("/", 2, "root-host-2"),
    ("/srv/My_Data/", 0, "srv-mydata-host-0"),
])
def test_host_path_volume_names(source, index, expected):
    assert names.host_path_volume(source, index) == expected


def test_long_host_path_keeps_its_end():
    name = names.host_path_volume("/very/long/" + "deep/" * 30 + "leaf", 3)
    assert len(name) <= 63 and name.endswith("deep-leaf-host-3") and DNS_LABEL.fullmatch(name)


@pytest.mark.parametrize("key, ok", [
    ("io.podman.annotations.init/web", True),
    ("io.kubernetes.cri-o.TTY/web", True),     # an API server checks the prefix lower-cased
    ("bind-mount-options", True),
    ("my.org/note/web", False),                # two slashes: what podman writes for --annotation my.org/note
    ("bad_prefix/web", False),
    ("x/" + "n" * 64, False),
    ("-x", False),
])
def test_qualified_names(key, ok):
    assert names.is_qualified_name(key) is ok


def test_label_values():
    assert names.is_label_value("") and names.is_label_value("a.b_c-d")
    assert not names.is_label_value("has space") and not names.is_label_value("v" * 64)
