"""The container spec: pure data, JSON round trip."""

import json

from pypod import jsonlite
from pypod.runtime.spec import ContainerSpec, Mount, ProcessSpec, RootfsSpec


def _spec() -> ContainerSpec:
    return ContainerSpec(
        id="a" * 64, name="web", hostname="aaaaaaaaaaaa",
        rootfs=RootfsSpec(lower=["/l/2", "/l/1"], upper="/c/upper", work="/c/work"),
        process=ProcessSpec(args=["sh", "-c", "echo hi"], env=["PATH=/bin", "A=é"], cwd="/w",
                            user="alice:staff", stdin=True, capabilities=["CHOWN"]),
        mounts=[Mount("bind", "/src", "/dst", ["ro", "rbind"]),
                Mount("tmpfs", "tmpfs", "/t", ["size=1m"])],
        network="none", hosts="127.0.0.1 localhost\n", restart_policy="on-failure",
        restart_max=3, healthcheck={"test": ["CMD-SHELL", "true"], "interval": 1.5},
        auto_remove=True, cleanup_argv=["pypod", "rm", "-f", "x"], log_path="/c/ctr.log",
        annotations={"k": "v"})


def test_round_trip_through_json():
    s = _spec()
    d = json.loads(json.dumps(s.to_dict()))
    assert ContainerSpec.from_dict(d) == s
    assert ContainerSpec.from_dict(jsonlite.loads(jsonlite.dumps(s.to_dict()))) == s


def test_defaults_and_unknown_keys():
    d = {"id": "x", "name": "n", "hostname": "h", "rootfs": {"path": "/r"},
         "process": {"args": ["true"]}, "future_field": 1}
    s = ContainerSpec.from_dict(d)
    assert s.rootfs.path == "/r" and s.rootfs.lower == [] and not s.rootfs.readonly
    assert s.process.cwd == "/" and s.process.user == "" and s.process.capabilities is None
    assert s.network == "private" and s.stop_signal == 15 and s.stop_timeout == 10
    assert s.restart_policy == "no" and s.mounts == [] and s.hostname_file
