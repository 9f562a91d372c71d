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


def _cli_defaults() -> dict:
    from pypod.cli import container as cc

    return {n: p.default for n, p, _ in cc.create_params(lambda **kw: None).__pypod_params__}


def test_each_create_flag_fills_its_create_options_field():
    """create_params' table is the one declaration of the create/run flags: _kw_create moves every
    flag into CreateOptions by name (a flag without a field would fail here)."""
    from pypod.cli import container as cc

    kw = _cli_defaults()
    lists = {n for n, d in ce.CreateOptions.FIELDS if d is list}
    for name in kw:
        field = cc._FIELD_OF.get(name, name)
        kw[name] = ["v,w"] if field in lists else f"value-of-{name}"
    opts = cc._kw_create(kw)
    for name in kw:
        field = cc._FIELD_OF.get(name, name)
        if name in cc._RESOURCES:
            assert opts.resources[name] == f"value-of-{name}"
        elif field in ("cap_add", "cap_drop"):
            assert getattr(opts, field) == ["v", "w"]
        else:
            assert getattr(opts, field) == kw[name], name


def test_the_flags_defaults_are_create_options_defaults():
    from pypod.cli import container as cc

    kw = dict(_cli_defaults(), image="busybox", command=None)
    got, want = cc._kw_create(kw), ce.CreateOptions(image="busybox")
    differ = {n for n, _ in ce.CreateOptions.FIELDS if getattr(got, n) != getattr(want, n)}
    # --network repeats (a list; the engine takes its first), --memory & co. are grouped, and the
    # CLI records its own command line
    assert differ == {"network", "resources", "create_command"}
