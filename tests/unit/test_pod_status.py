"""Pure logic of pods: podman 4.3's pod status from its containers', and --share."""

from __future__ import annotations

import pytest

from pypod.engine import pod_reports, pods
from pypod.errors import InvalidArgument


@pytest.mark.parametrize("statuses,want", [
    ([], "Created"),
    (["running", "running"], "Running"),
    (["running", "exited"], "Degraded"),
    (["running", "created"], "Degraded"),
    (["exited", "exited"], "Exited"),
    (["exited", "created"], "Stopped"),
    (["paused", "paused"], "Paused"),
    (["created", "created"], "Created"),
    (["created", "paused"], "Created"),
])
def test_pod_status_as_podman(statuses, want):
    assert pods.pod_status(statuses) == want


def test_share_default_plus_and_none():
    assert pods._parse_share(None) == ["ipc", "net", "uts"]
    assert pods._parse_share("ipc") == ["ipc"]
    assert pods._parse_share("+ipc") == ["ipc", "net", "uts"]
    with pytest.raises(InvalidArgument, match="sharing the pid namespace in a pod is not supported"):
        pods._parse_share("+pid")
    assert pods._parse_share("none") == []


def test_share_rejects_unknown_namespace_in_podmans_words():
    with pytest.raises(InvalidArgument, match="invalid kernel namespace to share: bogus. Options are: "
                                              "cgroup, ipc, net, pid, uts or none"):
        pods._parse_share("net,bogus")


def test_pod_filter_checks_keys_and_statuses():
    with pytest.raises(InvalidArgument, match="nope is an invalid filter"):
        pod_reports.PodFilter(["nope=1"])
    with pytest.raises(InvalidArgument, match="bad is not a valid status"):
        pod_reports.PodFilter(["status=bad"])
    row = {"Id": "abc123", "Name": "web", "Status": "Running", "Labels": {"a": "1"},
           "ContainerStatuses": "running"}
    assert pod_reports.PodFilter(["name=we", "label=a=1", "status=running"]).match(row, [])
    assert not pod_reports.PodFilter(["label=a=2"]).match(row, [])
