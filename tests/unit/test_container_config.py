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
    assert c.net.ports == [{"host_port": 8080, "container_port": 80}]
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


# -- the nested parts (store/container_config.py) -----------------------------------------------------
from pypod.store.container_config import (EndpointConfig, HealthConfig, Limits, LogOptions,  # noqa: E402
                                         MountConfig, NetConfig, Resources)
from pypod.store.container_config import plain  # noqa: E402

# container.json as the code before the typed parts wrote it (`run -d --name api --network front
# --network-alias web -p 8080:80 --health-cmd 'wget -q localhost' --health-retries 5
# --log-opt max-size=10k -m 64m -v data:/data busybox`)
TODAY = dict(OLD, options=None, config={
    "env": ["PATH=/bin"], "network": "bridge",
    "net": {"networks": {"front": {"aliases": ["web"], "ip": "", "mac": "", "interface": ""}},
            "ports": [{"host_ip": "", "host_port": 8080, "container_port": 80, "protocol": "tcp"}]},
    "healthcheck": {"test": ["CMD-SHELL", "wget -q localhost"], "interval": 30.0, "timeout": 30.0,
                    "retries": 5, "start_period": 0.0},
    "log_opts": {"max-size": "10000"},
    "resources": {"memory": "64m", "cpus": None, "pids_limit": None, "cpu_shares": None,
                  "memory_swap": None, "cpuset_cpus": None},
    "limits": {"memory": 67108864},
    "resolved_mounts": [{"type": "volume", "source": "/v/data/_data", "destination": "/data", "name": "data",
                         "anonymous": False, "rw": True, "options": ["rbind", "nosuid", "nodev"]}],
})
del TODAY["options"]


def test_each_part_states_its_defaults():
    h = HealthConfig(test=["CMD", "true"])
    assert (h.interval, h.timeout, h.start_period, h.retries) == (30.0, 30.0, 0.0, 3)
    assert h.enabled and h.argv() == ["true"]
    assert HealthConfig(test=["CMD-SHELL", "a", "b"]).argv() == ["/bin/sh", "-c", "a b"]
    assert not HealthConfig(test=["NONE"]).enabled and not HealthConfig(test=["CMD", "x"], interval=0).enabled
    assert HealthConfig(test=["CMD", "x"], interval=1.5, retries=2).inspect() == {
        "Test": ["CMD", "x"], "Interval": 1500000000, "Timeout": 30000000000, "StartPeriod": 0, "Retries": 2}
    n = NetConfig()
    assert (n.ports, n.networks, n.cidr, n.mtu, n.allow_host_loopback, n.port_handler, n.path, n.args) == \
        ([], {}, "10.0.2.0/24", 65520, False, "rootlessport", "", [])
    assert (n.endpoints, n.run_root, n.uplink) == ([], "", {})
    e = EndpointConfig()
    assert (e.aliases, e.ip, e.mac, e.interface) == ([], "", "", "")
    lo = LogOptions()
    assert (lo.path, lo.max_size, lo.max_bytes, lo.tag) == ("", "", 0, "")
    assert Resources().memory is None and Resources().cpus is None
    li = Limits()
    assert (li.memory, li.memory_swap, li.cpus, li.cpu_shares, li.pids_limit, li.cpuset_cpus) == (0, 0, 0.0, 0, 0, "")
    m = MountConfig()
    assert (m.type, m.options, m.rw, m.name, m.anonymous, m.chown, m.upperdir) == ("bind", [], True, "", False, None, "")


def test_each_part_round_trips_to_the_stored_dict():
    """What was recorded comes back as it was. Reading a field that was never recorded adds
    nothing but an empty list or dict (kept, so that appending to it sticks)."""
    stored = TODAY["config"]
    for cls, d in ((HealthConfig, stored["healthcheck"]), (NetConfig, stored["net"]),
                   (LogOptions, stored["log_opts"]), (Resources, stored["resources"]),
                   (Limits, stored["limits"]), (MountConfig, stored["resolved_mounts"][0])):
        assert cls.from_dict(json.loads(json.dumps(d))).to_dict() == d, cls.__name__
        part = cls.from_dict(json.loads(json.dumps(d)))
        for f in part._fields.values():
            assert plain(getattr(part, f.name)) == (d[f.key] if f.key in d else f.raw(cls()))
        added = {k: v for k, v in part.to_dict().items() if k not in d}
        assert all(v in ([], {}) for v in added.values()) and dict(part.to_dict(), **d) == part.to_dict()
    assert LogOptions(max_size="5").to_dict() == {"max-size": "5"}  # the stored name, not the attribute's
    assert HealthConfig(test=["CMD", "x"]).to_dict(full=True) == {
        "test": ["CMD", "x"], "interval": 30.0, "timeout": 30.0, "start_period": 0.0, "retries": 3}
    # a key this version does not know stays in the part's dict
    assert NetConfig.from_dict({"mtu": 1500, "newer": 1}).to_dict() == {"mtu": 1500, "newer": 1}


def test_a_record_of_today_loads_the_same_values_and_saves_the_same_dict(tmp_path):
    cdir = tmp_path / "containers" / TODAY["id"]
    cdir.mkdir(parents=True)
    (cdir / "container.json").write_text(json.dumps(TODAY))
    cs = ContainerStore(tmp_path)
    c = cs.get(TODAY["id"]).config
    assert c.healthcheck.test == ["CMD-SHELL", "wget -q localhost"] and c.healthcheck.retries == 5
    assert c.healthcheck.interval == 30.0 and c.healthcheck.argv() == ["/bin/sh", "-c", "wget -q localhost"]
    assert list(c.net.networks) == ["front"] and c.net.networks["front"].aliases == ["web"]
    assert c.net.networks["front"].interface == "" and c.net.ports[0]["host_port"] == 8080
    assert c.net.cidr == "10.0.2.0/24"  # never recorded: the default
    assert c.log_opts.max_bytes == 10000 and c.log_opts.path == ""
    assert c.resources.memory == "64m" and c.limits.memory == 67108864 and c.limits.cpus == 0.0
    m = c.resolved_mounts[0]
    assert (m.type, m.name, m.destination, m.rw, m.anonymous) == ("volume", "data", "/data", True, False)
    assert ContainerConfig().resolved_mounts is None and ContainerConfig().healthcheck is None
    # saved again: container.json's nested dicts are what they were
    rec = cs.get(TODAY["id"])
    cs.save(rec)
    again = json.loads((cdir / "container.json").read_text())["config"]
    for key in ("net", "healthcheck", "log_opts", "resources", "limits", "resolved_mounts"):
        assert again[key] == TODAY["config"][key], key


def test_writes_through_a_part_land_in_the_record():
    c = ContainerConfig.from_dict(json.loads(json.dumps(TODAY["config"])))
    c.resolved_mounts[0].anonymous = True
    c.net.networks = dict(c.net.networks, back=EndpointConfig(interface="eth1"))
    d = c.to_dict()
    assert d["resolved_mounts"][0]["anonymous"] is True
    assert d["net"]["networks"]["back"] == {"interface": "eth1"} and list(d["net"]["networks"]) == ["front", "back"]
    assert c.net.networks["back"].interface == "eth1"
