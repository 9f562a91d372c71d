"""pypod's output next to podman's (Debian's podman 4.3, installed by scripts/test), same user, same image."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.lib.user import pypod, run_as_user

pytestmark = pytest.mark.integration

PODMAN = shutil.which("podman") or "/usr/bin/podman"


def podman(*args, timeout=180):
    return run_as_user([PODMAN, *args], timeout=timeout)


@pytest.fixture
def both(clean_storage, registry):
    ref = registry["busybox"]
    podman("rm", "-a", "-f")
    podman("rmi", "-a", "-f")  # podman's storage is not wiped by clean_storage
    r = podman("pull", "-q", ref)
    assert r.returncode == 0, r.stderr
    assert pypod("pull", "-q", ref).returncode == 0
    yield ref
    podman("rmi", "-a", "-f")


def test_images_table_and_templates_match(both):
    ours, theirs = pypod("images").stdout.splitlines(), podman("images").stdout.splitlines()
    assert ours[0] == theirs[0]  # the header, spacing included
    assert ours[1].split()[:3] == theirs[1].split()[:3]  # repository, tag, image id
    fmt = "{{.Repository}}|{{.Tag}}|{{.ID}}|{{.Digest}}|{{.CreatedSince}}"
    assert pypod("images", "--format", fmt).stdout == podman("images", "--format", fmt).stdout
    fmt = "table {{.ID}}\t{{.Repository}}"
    assert pypod("images", "--format", fmt).stdout == podman("images", "--format", fmt).stdout
    assert pypod("images", "-q").stdout == podman("images", "-q").stdout


def test_images_json_and_inspect_have_podmans_keys(both):
    ours = json.loads(pypod("images", "--format", "json").stdout)[0]
    theirs = json.loads(podman("images", "--format", "json").stdout)[0]
    assert set(theirs) <= set(ours)
    for key in ("Id", "RepoDigests", "Digest", "Names", "Created", "CreatedAt"):
        assert ours[key] == theirs[key], key
    ours = json.loads(pypod("image", "inspect", both).stdout)[0]
    theirs = json.loads(podman("image", "inspect", both).stdout)[0]
    assert set(theirs) - {"Parent"} <= set(ours)
    for key in ("Id", "Digest", "RepoTags", "RepoDigests", "Created", "Architecture", "Os", "RootFS", "Config",
                "ManifestType", "User", "History"):
        assert ours[key] == theirs[key], key
    fmt = "{{.Id}} {{.Os}}/{{.Architecture}} {{json .Config.Cmd}} {{index .RepoTags 0}}"
    assert pypod("image", "inspect", "--format", fmt, both).stdout == \
        podman("image", "inspect", "--format", fmt, both).stdout


def test_errors_and_exit_codes_match(both):
    for args in (["rmi", "nosuch:image"], ["image", "exists", "nosuch"], ["rm", "nosuchctr"],
                 ["inspect", "nosuchthing"], ["logs", "nosuchctr"]):
        o, t = pypod(*args), podman(*args)
        assert o.returncode == t.returncode, (args, o.stderr, t.stderr)
        assert o.stderr.splitlines()[-1:] == t.stderr.splitlines()[-1:] or args[0] == "inspect", (args, o.stderr, t.stderr)


def test_ps_columns_match(both):
    assert pypod("ps").stdout.splitlines()[0] == podman("ps").stdout.splitlines()[0]


NET_ERROR_CASES = [
    ["network", "create", "pypodconf-a"],  # exists
    ["network", "create", "bad name"],
    ["network", "create", "host"],
    ["network", "create", "--subnet", "10.199.0.0/24", "pypodconf-b"],  # overlaps pypodconf-a
    ["network", "create", "--subnet", "foo", "pypodconf-b"],
    ["network", "create", "--subnet", "10.198.0.0/24", "--gateway", "10.197.0.1", "pypodconf-b"],
    ["network", "create", "--gateway", "10.197.0.1", "pypodconf-b"],
    ["network", "create", "--subnet", "10.198.0.0/24", "--ip-range", "10.197.0.0/25", "pypodconf-b"],
    ["network", "create", "-o", "foo=bar", "pypodconf-b"],
    ["network", "create", "-d", "foo", "pypodconf-b"],
    ["network", "rm", "pypodconf-nosuch"],
    ["network", "rm", "podman"],
    ["network", "inspect", "pypodconf-nosuch"],
    ["network", "exists", "pypodconf-nosuch"],
    ["network", "ls", "--filter", "foo=bar"],
    ["network", "prune", "-f", "--filter", "name=x"],
]


def test_network_objects_match(clean_storage):
    """`network create/inspect/ls/rm` and their errors, next to podman's (explicit subnets: the
    automatic ones depend on what else each has)."""
    names = ["pypodconf-a", "pypodconf-b"]
    try:
        for tool in (pypod, podman):
            r = tool("network", "create", "--subnet", "10.199.0.0/16", "--ip-range", "10.199.3.0/24",
                     "--label", "b=2", "--label", "a=1", "-o", "mtu=1400", "pypodconf-a")
            assert (r.returncode, r.stdout) == (0, "pypodconf-a\n"), r.stderr
        ours = json.loads(pypod("network", "inspect", "pypodconf-a").stdout)[0]
        theirs = json.loads(podman("network", "inspect", "pypodconf-a").stdout)[0]
        assert list(ours) == list(theirs)
        for key in set(theirs) - {"id", "created", "network_interface"}:
            assert ours[key] == theirs[key], key
        fmt = "{{.Name}}|{{.Driver}}|{{.Options}}|{{.Internal}}|{{.DNSEnabled}}"
        assert pypod("network", "ls", "--filter", "name=pypodconf", "--format", fmt).stdout == \
            podman("network", "ls", "--filter", "name=pypodconf", "--format", fmt).stdout
        # (podman prints the labels in Go's random map order: compare them as a set)
        labels = [set(tool("network", "ls", "--filter", "name=pypodconf", "--format",
                           "{{.Labels}}").stdout.strip().split(",")) for tool in (pypod, podman)]
        assert labels[0] == labels[1] == {"a=1", "b=2"}
        fmt = "{{range .Subnets}}{{.Subnet}} {{.Gateway}} {{.LeaseRange}}{{end}} {{json .Labels}}"
        assert pypod("network", "inspect", "--format", fmt, "pypodconf-a").stdout == \
            podman("network", "inspect", "--format", fmt, "pypodconf-a").stdout
        assert pypod("network", "ls").stdout.splitlines()[0] == podman("network", "ls").stdout.splitlines()[0]
        for args in NET_ERROR_CASES:
            o, t = pypod(*args), podman(*args)
            assert o.returncode == t.returncode, (args, o.stderr, t.stderr)
            assert o.stderr.splitlines()[-1:] == t.stderr.splitlines()[-1:], (args, o.stderr, t.stderr)
    finally:
        podman("network", "rm", "-f", *names)
