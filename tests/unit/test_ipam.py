"""IPAM for user networks: pure allocation over a lease table."""

from __future__ import annotations

import pytest

from pypod.network import ipam

NET = {"name": "n", "subnets": [{"subnet": "10.89.3.0/24", "gateway": "10.89.3.1"}]}


def test_lowest_free_skips_gateway_and_held():
    leases = {"10.89.3.2": {"id": "a"}, "10.89.3.4": {"id": "b"}}
    assert ipam.allocate(NET, leases, "c") == "10.89.3.3"
    assert ipam.allocate(NET, {}, "c") == "10.89.3.2"


def test_own_lease_is_kept_and_wanted_address_checked():
    leases = {"10.89.3.7": {"id": "c"}}
    assert ipam.allocate(NET, leases, "c") == "10.89.3.7"
    assert ipam.allocate(NET, leases, "d", "10.89.3.9") == "10.89.3.9"
    with pytest.raises(ipam.IpamError, match="already allocated to container ID c"):
        ipam.allocate(NET, leases, "d", "10.89.3.7")
    with pytest.raises(ipam.IpamError, match="not in the subnet"):
        ipam.allocate(NET, leases, "d", "10.90.0.5")
    with pytest.raises(ipam.IpamError, match="gateway"):
        ipam.allocate(NET, leases, "d", "10.89.3.1")


def test_lease_range_and_exhaustion():
    net = {"name": "r", "subnets": [{"subnet": "10.89.4.0/24", "gateway": "10.89.4.1",
                                     "lease_range": {"start_ip": "10.89.4.10", "end_ip": "10.89.4.11"}}]}
    a = ipam.allocate(net, {}, "a")
    b = ipam.allocate(net, {a: {"id": "a"}}, "b")
    assert (a, b) == ("10.89.4.10", "10.89.4.11")
    with pytest.raises(ipam.IpamError, match="could not find free IP"):
        ipam.allocate(net, {a: {"id": "a"}, b: {"id": "b"}}, "c")


def test_dead_leases_are_pruned_and_names_table():
    leases = {"10.89.3.2": {"id": "a" * 64, "name": "Web", "aliases": ["api"], "pid": 1},
              "10.89.3.3": {"id": "b" * 64, "name": "db", "aliases": ["api"], "pid": 2}}
    live = ipam.prune(leases, lambda v: v["pid"] == 1)
    assert list(live) == ["10.89.3.2"]
    t = ipam.names_table(leases)
    assert t["web"] == ["10.89.3.2"] and t["api"] == ["10.89.3.2", "10.89.3.3"]
    assert t["a" * 12] == ["10.89.3.2"]


def test_ps_json_ports_fold_ranges_as_podman():
    from pypod.network.ports import json_ports

    m = [{"host_ip": "", "host_port": 8000 + i, "container_port": 80 + i, "protocol": "tcp"}
         for i in range(3)] + [{"host_ip": "127.0.0.1", "host_port": 9000, "container_port": 53,
                                "protocol": "udp"}]
    assert json_ports(m) == [
        {"host_ip": "", "container_port": 80, "host_port": 8000, "range": 3, "protocol": "tcp"},
        {"host_ip": "127.0.0.1", "container_port": 53, "host_port": 9000, "range": 1, "protocol": "udp"}]
    assert json_ports([]) is None
