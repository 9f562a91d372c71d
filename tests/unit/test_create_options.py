"""Pure checks of create/run options against podman 4.3's rules and messages."""

import pytest

from pypod.engine import containers as ce
from pypod.errors import InvalidArgument


def test_sizes_as_go_units():
    assert ce._decimal_size("10m") == 10_000_000 and ce._decimal_size("2k") == 2000
    assert ce._decimal_size("512") == 512 and ce._decimal_size("1.5MB") == 1_500_000
    assert [ce._go_human_size(n) for n in (0, 2000, 10_000_000, 10_485_760)] == ["0B", "2kB", "10MB", "10.49MB"]
    with pytest.raises(InvalidArgument):
        ce._decimal_size("ten")


def test_sysctls_allowed_and_refused():
    assert ce._sysctls(["net.ipv4.ip_forward=1", "kernel.shmmax=100", "fs.mqueue.msg_max=20"]) == {
        "net.ipv4.ip_forward": "1", "kernel.shmmax": "100", "fs.mqueue.msg_max": "20"}
    assert ce._sysctls(["net.ipv4.ping_group_range=0 0"]) == {"net.ipv4.ping_group_range": "0 0"}
    for bad, msg in (("bad", "bad is invalid, sysctl values must be in the form of KEY=VALUE"),
                     ("kernel.hostname=x", "sysctl 'kernel.hostname' is not allowed"),
                     ("vm.swappiness=1", "sysctl 'vm.swappiness' is not allowed"),
                     ("net..x=1", "sysctl 'net..x' is not allowed")):
        with pytest.raises(InvalidArgument) as e:
            ce._sysctls([bad])
        assert str(e.value) == msg


def test_expose_ranges():
    assert ce._exposed(["80", "53/udp", "9000-9002"]) == {
        "80/tcp": {}, "53/udp": {}, "9000/tcp": {}, "9001/tcp": {}, "9002/tcp": {}}
    for bad in ("foo", "80/xyz", "0", "9-3", "70000"):
        with pytest.raises(InvalidArgument):
            ce._exposed([bad])


def test_add_host_checks():
    assert ce._check_add_host("db:10.0.0.2") == ("db", "10.0.0.2")
    assert ce._check_add_host("v6:::1") == ("v6", "::1")
    for bad, msg in (("bad", 'bad format for add-host: "bad"'), (":1.1.1.1", 'bad format for add-host: ":1.1.1.1"'),
                     ("a:1.2.3", 'invalid IP address in add-host: "1.2.3"')):
        with pytest.raises(InvalidArgument) as e:
            ce._check_add_host(bad)
        assert str(e.value) == msg


def test_hosts_entries_parse_as_podman():
    text = "# comment\n127.0.0.1 localhost  # trailing\n10.0.0.9\n::1\tip6-localhost ip6-loopback\n"
    assert ce._hosts_entries(text) == [("127.0.0.1", ["localhost"]), ("::1", ["ip6-localhost", "ip6-loopback"])]
