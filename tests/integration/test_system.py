"""`version` and `info`: the fields scripts read from podman's."""

from __future__ import annotations

import json

import pytest
import yaml

from pypod import __version__
from tests.lib import user
from tests.lib.user import pypod

pytestmark = pytest.mark.integration


def test_version(test_user):
    r = pypod("--version")
    assert (r.returncode, r.stdout) == (0, f"pypod version {__version__}\n")
    lines = dict(l.split(":", 1) for l in pypod("version").stdout.splitlines() if ":" in l)
    assert {"Version", "API Version", "Built", "OS/Arch"} <= {k.strip() for k in lines}
    assert pypod("version", "--format", "{{.Client.Version}} {{.Server.Version}}").stdout.split() == [__version__] * 2
    assert json.loads(pypod("version", "--format", "json").stdout)["Client"]["Version"] == __version__


def test_info(clean_storage):
    fmt = ("{{.Host.OCIRuntime.Name}}|{{.Host.Security.Rootless}}|{{.Store.GraphRoot}}|{{.Store.RunRoot}}|"
           "{{.Store.GraphDriverName}}|{{.Host.CgroupsVersion}}|{{.Host.LogDriver}}|{{.Version.Version}}")
    parts = pypod("info", "--format", fmt).stdout.strip().split("|")
    assert parts[0] == "pypod" and parts[1] == "true"
    assert parts[2] == f"{clean_storage.home}/.local/share/pypod/storage"
    assert parts[3] == f"{clean_storage.runtime_dir}/pypod"
    assert parts[4] == "overlay" and parts[5] in ("v1", "v2") and parts[6] == "k8s-file"
    assert parts[7] == __version__
    data = yaml.safe_load(pypod("info").stdout)
    assert data["store"]["graphRoot"] == parts[2] and data["host"]["security"]["rootless"] is True
    assert json.loads(pypod("info", "--format", "json").stdout)["host"]["ociRuntime"]["name"] == "pypod"
    uidmap = json.loads(pypod("info", "--format", "{{json .Host.IDMappings.UIDMap}}").stdout)
    assert uidmap[0] == {"container_id": 0, "host_id": clean_storage.uid, "size": 1}
    assert uidmap[1]["host_id"] == user.subid_range()[0]
    # --root and --runroot move storage, as podman's global flags do
    assert pypod("--root", "/tmp/pypod-x-root", "info", "--format", "{{.Store.GraphRoot}}").stdout.strip() \
        == "/tmp/pypod-x-root"
