"""Port mappings (-p/-P), their renderings, and the --network mode parser."""

import pytest

from pypod.engine import networks as ne
from pypod.errors import InvalidArgument, PypodError
from pypod.network import ports
from pypod.network.pasta import port_args
from pypod.network.slirp import cidr_addresses


def m(ip, hp, cp, proto="tcp"):
    return {"host_ip": ip, "host_port": hp, "container_port": cp, "protocol": proto}


def test_parse_publish_forms():
    assert ports.parse_publish("8080:80") == [m("", 8080, 80)]
    assert ports.parse_publish("127.0.0.1:8080:80/udp") == [m("127.0.0.1", 8080, 80, "udp")]
    assert ports.parse_publish("127.0.0.1::80") == [m("127.0.0.1", 0, 80)]
    assert ports.parse_publish("80") == [m("", 0, 80)]
    assert ports.parse_publish("0.0.0.0:81:80") == [m("", 81, 80)]
    assert ports.parse_publish("[::1]:8080:80") == [m("::1", 8080, 80)]
    assert ports.parse_publish("8000-8002:80-82") == [m("", 8000, 80), m("", 8001, 81), m("", 8002, 82)]
    assert ports.parse_publish("53:53/tcp,udp") == [m("", 53, 53), m("", 53, 53, "udp")]


@pytest.mark.parametrize("bad", ["abc", "1-2:80", "70000:80", "80/sctp", "1.2.3:80:80", "a:b:c:d",
                                 "5-3:5-3"])
def test_parse_publish_rejects(bad):
    with pytest.raises(InvalidArgument):
        ports.parse_publish(bad)


def test_publish_all_and_conflicts():
    got = ports.parse_all(["8080:80"], {"80/tcp": {}, "443/tcp": {}, "53/udp": {}}, True)
    assert got == [m("", 8080, 80), m("", 0, 443), m("", 0, 53, "udp")]
    with pytest.raises(InvalidArgument):
        ports.parse_all(["8080:80", "8080:81"])


def test_assign_random_gives_distinct_free_ports():
    got = ports.assign_random([m("127.0.0.1", 0, 80), m("127.0.0.1", 0, 81)])
    assert all(1024 <= x["host_port"] <= 65535 for x in got)


def test_renderings_as_podman():
    ms = [m("127.0.0.1", 18080, 80), m("", 18081, 81), m("", 18082, 82), m("", 37017, 90, "udp"),
          m("::1", 9000, 90)]
    assert ports.format_ps(ms) == ("127.0.0.1:18080->80/tcp, 0.0.0.0:18081-18082->81-82/tcp, "
                                   "0.0.0.0:37017->90/udp, [::1]:9000->90/tcp")
    assert ports.format_port_lines(ms)[:2] == ["80/tcp -> 127.0.0.1:18080", "81/tcp -> 0.0.0.0:18081"]
    assert ports.format_port_lines(ms, "80") == ["127.0.0.1:18080"]
    assert ports.format_port_lines(ms, "90/udp") == ["0.0.0.0:37017"]
    assert ports.format_port_lines(ms, "99") == []
    assert ports.inspect_ports(ms)["81/tcp"] == [{"HostIp": "", "HostPort": "18081"}]
    assert ports.format_ps([]) == ""


def test_check_free_reports_in_use():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    p = s.getsockname()[1]
    try:
        with pytest.raises(PypodError, match=f"rootlessport listen tcp 127.0.0.1:{p}: bind: address "
                                             f"already in use"):
            ports.check_free([m("127.0.0.1", p, 80)])
    finally:
        s.close()


def test_pasta_port_args():
    assert port_args([m("", 8080, 80), m("::1", 53, 53, "udp")]) == ["-t", "8080:80", "-u", "::1/53:53"]


def test_network_modes():
    assert ne.parse_mode("none", True) == ("none", {})
    assert ne.parse_mode("host", True) == ("host", {})
    assert ne.parse_mode("slirp4netns:allow_host_loopback=true,mtu=1500,port_handler=slirp4netns",
                         True) == ("slirp4netns", {"allow_host_loopback": True, "mtu": 1500,
                                                   "port_handler": "slirp4netns"})
    assert ne.parse_mode("slirp4netns:cidr=10.5.0.0/24", True)[1] == {"cidr": "10.5.0.0/24"}
    assert ne.parse_mode("pasta:-4,--mtu,1500", True) == ("pasta", {"args": ["-4", "--mtu", "1500"]})
    assert ne.parse_mode("container:abc", True, lambda n: "ID-" + n) == ("container:ID-abc", {})
    assert ne.parse_mode("ns:/run/netns/x", True) == ("ns:/run/netns/x", {})
    for bad in ("slirp4netns:bogus=1", "slirp4netns:mtu=x", "ns:relative", "container:",
                "slirp4netns:cidr=10.0.0.0/30"):
        with pytest.raises(InvalidArgument):
            ne.parse_mode(bad, True)
    with pytest.raises(PypodError, match="unable to find network with name or ID nosuch"):
        ne.parse_mode("nosuch", True)


def test_default_mode_follows_containers_conf(tmp_path, monkeypatch):
    from pypod import config

    conf = tmp_path / "containers.conf"
    conf.write_text('[network]\ndefault_rootless_network_cmd = "pasta"\n')
    monkeypatch.setenv("CONTAINERS_CONF", str(conf))
    config.clear_caches()
    try:
        assert ne.parse_mode(None, True)[0] == "pasta"
    finally:
        config.clear_caches()


def test_slirp_addresses():
    assert cidr_addresses("10.0.2.0/24") == {"ip": "10.0.2.100", "gateway": "10.0.2.2",
                                             "dns": "10.0.2.3", "prefix": 24}
    assert cidr_addresses("10.9.0.0/16")["ip"] == "10.9.0.100"
