"""The container's typed configuration (store/container_config.py): what create records, read back
by attribute, and the records written before it (an untyped "options" dict) still load."""

from __future__ import annotations

import json

from pypod.store.container_config import ContainerConfig
from pypod.store.containers import ContainerRecord, ContainerStore

# container.json as the previous version wrote it (an excerpt of a real `run -d --name web -p 8080:80
# --restart on-failure:3 busybox`): everything beyond the command in "options"
OLD = {
    "id": "a" * 64, "name": "web", "image_id": "b" * 64, "image_name": "localhost/busybox:latest",
    "created": "2026-12-01T10:00:00.000000000Z", "command": ["sh"], "entrypoint": [], "cmd": ["sh"],
    "labels": {}, "annotations": {}, "rootfs": None,
    "options": {"env": ["PATH=/bin"], "workdir": "/", "user": "", "workdir_given": False, "hostname": "",
                "stop_signal": 15, "stop_timeout": 10, "restart": "on-failure", "restart_max": 3, "rm": False,
                "tty": True, "network": "slirp4netns",
                "net": {"kind": "slirp4netns", "ports": [{"host_port": 8080, "container_port": 80}]},
                "log_driver": "k8s-file", "log_opts": {"max-size": "1000"}, "umask": "0027",
                "resolved_mounts": [], "a_name_no_longer_known": 1},
}


def test_a_record_of_the_previous_version_loads_into_the_typed_config(tmp_path):
    cdir = tmp_path / "containers" / OLD["id"]
    cdir.mkdir(parents=True)
    (cdir / "container.json").write_text(json.dumps(OLD))
    rec = ContainerStore(tmp_path).get(OLD["id"])
    c = rec.config
    assert isinstance(c, ContainerConfig)
    assert (c.restart, c.restart_max, c.tty, c.network, c.umask) == ("on-failure", 3, True, "slirp4netns", "0027")
    assert c.net["ports"] == [{"host_port": 8080, "container_port": 80}]
    # never recorded then: the one default, stated in ContainerConfig
    assert (c.read_only_tmpfs, c.passwd, c.cap_add, c.healthcheck, c.seccomp) == (True, True, [], None, None)
    assert not hasattr(rec, "options")


def test_the_config_is_written_under_config_and_reads_back_equal(tmp_path):
    cs = ContainerStore(tmp_path)
    rec = ContainerRecord(id="c" * 64, name="x", config=ContainerConfig(env=["A=1"], rm=True, network="none",
                                                                        resolved_mounts=[]))
    cs.save(rec)
    on_disk = json.loads((cs.dir(rec.id) / "container.json").read_text())
    assert "options" not in on_disk and on_disk["config"]["env"] == ["A=1"]
    assert cs.get(rec.id) == rec


def test_an_unknown_name_in_the_config_is_left_out():
    c = ContainerRecord.from_dict({"id": "d" * 64, "config": {"rm": True, "from_a_newer_pypod": 1}}).config
    assert c.rm is True and not hasattr(c, "from_a_newer_pypod")


def test_a_default_list_is_the_records_own():
    """Defaults are filled when first read (ps loads a config per container): a list default must
    not be shared between records, and what is appended to it is saved."""
    c = ContainerConfig()
    c.cap_add.append("NET_ADMIN")
    assert c.to_dict()["cap_add"] == ["NET_ADMIN"] and ContainerConfig().cap_add == []
