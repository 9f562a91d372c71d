"""User-defined network records (`network create/ls/inspect/rm/prune/exists`) on a temp graph root.

The expected texts and shapes are podman 4.3.1's (netavark backend), observed with the real binary.
"""

import json
import threading

import pytest

from pypod.engine import networks as ne
from pypod.engine.context import Context
from pypod.errors import InvalidArgument, NotFound, PypodError, RemoveMissing
from pypod.store.container_config import ContainerConfig
from pypod.store.containers import ContainerRecord, ContainerStore


@pytest.fixture
def ctx(tmp_path, monkeypatch):
    # the host's own interfaces and addresses must not change which names/subnets a test gets
    monkeypatch.setattr(ne, "_host_subnets", lambda: [])
    monkeypatch.setattr(ne, "_host_interfaces", lambda: [])
    return Context(tmp_path / "storage", tmp_path / "run", rootless=True)


def _msg(exc_info) -> str:
    return exc_info.value.message


def _container(ctx, cid: str, *networks: str) -> None:
    """A container record on user networks, as `create --network NAME` writes it."""
    nets = {n: {"aliases": [], "ip": "", "mac": "", "interface": ""} for n in networks}
    ContainerStore(ctx.graph_root).save(ContainerRecord(
        id=cid, name=f"c-{cid[:6]}", created="2026-01-01T00:00:00Z",
        config=ContainerConfig(network="bridge", net={"networks": nets, "ports": []})))


def test_create_shape_matches_podman_inspect(ctx):
    rec = ne.create_network(ctx, "x", labels={"b": "2", "a": "1"}, options={"mtu": "1400"})
    assert list(rec) == ["name", "id", "driver", "network_interface", "created", "subnets",
                         "ipv6_enabled", "internal", "dns_enabled", "labels", "options", "ipam_options"]
    assert rec["name"] == "x" and len(rec["id"]) == 64 and int(rec["id"], 16) >= 0
    assert rec["driver"] == "bridge" and rec["network_interface"] == "podman1"
    assert rec["subnets"] == [{"subnet": "10.89.0.0/24", "gateway": "10.89.0.1"}]
    assert (rec["ipv6_enabled"], rec["internal"], rec["dns_enabled"]) == (False, False, True)
    assert list(rec["labels"]) == ["a", "b"]  # Go maps marshal sorted
    assert rec["options"] == {"mtu": "1400"} and rec["ipam_options"] == {"driver": "host-local"}
    # created: RFC 3339 with nanoseconds
    assert rec["created"][10] == "T" and "." in rec["created"]
    # the record on disk is that object
    assert json.loads((ctx.graph_root / "networks" / "x.json").read_text()) == rec
    # no labels/options: the keys are left out, as podman's omitempty
    plain = ne.create_network(ctx, "y")
    assert "labels" not in plain and "options" not in plain
    assert plain["subnets"][0]["subnet"] == "10.89.1.0/24" and plain["network_interface"] == "podman2"


def test_default_network_always_there(ctx):
    nets = ne.list_networks(ctx)
    assert [n["name"] for n in nets] == ["podman"]
    d = ne.get_network(ctx, "podman")
    assert d["id"] == ne.DEFAULT_NETWORK_ID and d["network_interface"] == "podman0"
    assert d["subnets"] == [{"subnet": "10.88.0.0/16", "gateway": "10.88.0.1"}]
    assert d["dns_enabled"] is False
    assert ne.find_network(ctx, "2f259b")["name"] == "podman"
    with pytest.raises(PypodError) as e:
        ne.create_network(ctx, "podman")
    assert _msg(e) == "network name podman already used: network already exists"
    # 10.88.0.0/16 is the default network's
    with pytest.raises(PypodError) as e:
        ne.create_network(ctx, "s", subnet="10.88.5.0/24")
    assert _msg(e) == "subnet 10.88.5.0/24 is already used on the host or by another config"


def test_list_order_lookup_and_missing(ctx):
    for n in ("zeta", "alpha", "q"):
        ne.create_network(ctx, n)
    assert [n["name"] for n in ne.list_networks(ctx)] == ["alpha", "podman", "q", "zeta"]
    a = ne.get_network(ctx, "alpha")
    assert ne.find_network(ctx, a["id"][:5])["name"] == "alpha"
    assert ne.find_network(ctx, "nope") is None
    with pytest.raises(NotFound) as e:
        ne.get_network(ctx, "nope")
    assert _msg(e) == "unable to find network with name or ID nope: network not found"
    assert e.value.exit_code == 125
    assert ne.network_exists(ctx, "q") and not ne.network_exists(ctx, "nope")


def test_generated_names_and_interfaces(ctx):
    ne.create_network(ctx, "named")              # podman1
    g1 = ne.create_network(ctx)                  # podman2 (name = interface)
    g2 = ne.create_network(ctx)
    assert (g1["name"], g1["network_interface"]) == ("podman2", "podman2")
    assert (g2["name"], g2["network_interface"]) == ("podman3", "podman3")
    ne.remove_network(ctx, "named")
    again = ne.create_network(ctx, "again")
    assert again["network_interface"] == "podman1"  # the lowest unused


def test_ignore_returns_existing(ctx):
    first = ne.create_network(ctx, "x")
    assert ne.create_network(ctx, "x", ignore=True) == first
    assert len(ne.list_networks(ctx)) == 2


def test_explicit_subnets_gateways_ranges(ctx):
    r = ne.create_network(ctx, "r1", subnet="10.91.0.5/24", ip_range="10.91.0.128/25")
    # the subnet is normalised; the range is podman 4.3's (first host .. broadcast)
    assert r["subnets"] == [{"subnet": "10.91.0.0/24", "gateway": "10.91.0.1",
                             "lease_range": {"start_ip": "10.91.0.129", "end_ip": "10.91.0.255"}}]
    g = ne.create_network(ctx, "g", subnet="10.95.0.0/24", gateway="10.95.0.254")
    assert g["subnets"][0]["gateway"] == "10.95.0.254"
    two = ne.create_network(ctx, "two", subnet=["192.168.0.0/16", "10.99.0.0/24"], gateway=["192.168.0.9"])
    assert two["subnets"] == [{"subnet": "192.168.0.0/16", "gateway": "192.168.0.9"},
                              {"subnet": "10.99.0.0/24", "gateway": "10.99.0.1"}]
    # internal with DNS off: no gateway (podman adds one only when not internal or DNS is on)
    i1 = ne.create_network(ctx, "i1", internal=True, disable_dns=True)
    assert i1["subnets"] == [{"subnet": "10.89.0.0/24"}] and i1["dns_enabled"] is False
    i2 = ne.create_network(ctx, "i2", internal=True)
    assert i2["subnets"][0]["gateway"] == "10.89.1.1" and i2["internal"] is True
    none = ne.create_network(ctx, "n", ipam_driver="none")
    assert "subnets" not in none and none["dns_enabled"] is False
    assert none["ipam_options"] == {"driver": "none"}


@pytest.mark.parametrize("kw, message", [
    (dict(subnet="10.89.0.0/24"), "subnet 10.89.0.0/24 is already used on the host or by another config"),
    (dict(subnet="10.89.0.128/25"), "subnet 10.89.0.128/25 is already used on the host or by another config"),
    (dict(subnet="0.0.0.0/0"), "subnet 0.0.0.0/0 is already used on the host or by another config"),
    (dict(subnet="foo"), "invalid CIDR address: foo"),
    (dict(subnet="10.97.0.0/33"), "invalid CIDR address: 10.97.0.0/33"),
    (dict(subnet="10.97.0.0"), "invalid CIDR address: 10.97.0.0"),
    (dict(subnet="10.90.0.0/24", gateway="10.91.0.1"), "gateway 10.91.0.1 not in subnet 10.90.0.0/24"),
    (dict(gateway="10.91.0.1"), "cannot set gateway or range without subnet"),
    (dict(ip_range="10.90.0.0/26"), "cannot set gateway or range without subnet"),
    (dict(subnet="10.92.0.0/24", ip_range="10.92.0.10-10.92.0.20"),
     "invalid CIDR address: 10.92.0.10-10.92.0.20"),
    (dict(subnet="10.93.0.0/24", ip_range="10.94.0.0/25"),
     "lease range start ip 10.94.0.1 not in subnet 10.93.0.0/24"),
    (dict(subnet="10.97.0.0/24", gateway=["10.97.0.1", "10.97.0.2"]), "cannot set more gateways than subnets"),
    (dict(subnet="10.97.0.0/24", ip_range=["10.97.0.0/26", "10.97.0.64/26"]),
     "cannot set more ranges than subnets"),
    (dict(driver="foo"), "unsupported driver foo: invalid argument"),
    (dict(options={"foo": "bar"}), "unsupported bridge network option foo"),
    (dict(options={"mtu": "abc"}), 'strconv.Atoi: parsing "abc": invalid syntax'),
    (dict(options={"mtu": "-5"}), "mtu -5 is less than zero"),
    (dict(options={"vlan": "5000"}), "vlan ID 5000 must be between 0 and 4094"),
    (dict(options={"isolate": "foo"}), 'strconv.ParseBool: parsing "foo": invalid syntax'),
    (dict(ipam_driver="foo"), 'unsupported ipam driver "foo"'),
    (dict(ipam_driver="dhcp"), "dhcp ipam driver is not yet supported with netavark"),
    (dict(ipam_driver="none", subnet="10.98.0.0/24"), "none ipam driver is set but subnets are given"),
])
def test_create_errors_are_podmans(ctx, kw, message):
    ne.create_network(ctx, "taken")  # 10.89.0.0/24
    with pytest.raises(PypodError) as e:
        ne.create_network(ctx, "new", **kw)
    assert _msg(e) == message and e.value.exit_code == 125
    assert ne.find_network(ctx, "new") is None


def test_name_checks(ctx):
    with pytest.raises(InvalidArgument) as e:
        ne.create_network(ctx, "bad name")
    assert _msg(e) == ("network name bad name invalid: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: "
                       "invalid argument")
    for mode in ("host", "none", "bridge", "slirp4netns"):
        with pytest.raises(InvalidArgument) as e:
            ne.create_network(ctx, mode)
        assert _msg(e) == f'cannot create network with name "{mode}" because it conflicts with a valid network mode'


def test_ipv6_refused_clearly(ctx):
    with pytest.raises(InvalidArgument) as e:
        ne.create_network(ctx, "v6", ipv6=True)
    assert "IPv4 only" in _msg(e) and e.value.hint
    with pytest.raises(InvalidArgument) as e:
        ne.create_network(ctx, "v6", subnet="fd00::/64")
    assert "IPv4 only" in _msg(e)


def test_options_normalised(ctx):
    rec = ne.create_network(ctx, "o", options={"mtu": "1500", "isolate": "1", "vlan": "5"})
    assert rec["options"] == {"isolate": "true", "mtu": "1500", "vlan": "5"}
    assert list(rec["options"]) == ["isolate", "mtu", "vlan"]
    assert ne.create_network(ctx, "o2", options={"mtu": ""})["options"] == {"mtu": ""}


def test_auto_subnet_skips_used_and_host_networks(ctx, monkeypatch):
    ne.create_network(ctx, "a", subnet="10.89.0.0/23")  # covers .0 and .1
    monkeypatch.setattr(ne, "_host_subnets", lambda: [(ne._ip4("10.89.2.0"), 24)])
    assert ne.create_network(ctx, "b")["subnets"][0]["subnet"] == "10.89.3.0/24"
    # a host address blocks an explicit subnet too
    monkeypatch.setattr(ne, "_host_subnets", lambda: [(ne._ip4("127.0.0.0"), 8)])
    with pytest.raises(PypodError) as e:
        ne.create_network(ctx, "c", subnet="127.0.0.0/8")
    assert _msg(e) == "subnet 127.0.0.0/8 is already used on the host or by another config"


def test_free_subnet_walks_the_pools():
    # all of 10.89.0.0/16 in use: the next pool (10.90.0.0/15) gives the next /24
    used = [(ne._ip4("10.89.0.0"), 16)]
    assert ne._cidr_str(ne._free_subnet(used)) == "10.90.0.0/24"
    with pytest.raises(PypodError) as e:
        ne._free_subnet([(ne._ip4("10.0.0.0"), 8)])
    assert _msg(e) == "could not find free subnet from subnet pools"


def test_concurrent_creates_never_share_a_subnet_or_interface(ctx):
    results, errors = [], []

    def make():
        try:
            results.append(ne.create_network(ctx))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=make) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 20
    assert len({r["name"] for r in results}) == 20
    assert len({r["network_interface"] for r in results}) == 20
    assert len({r["subnets"][0]["subnet"] for r in results}) == 20
    assert len({r["id"] for r in results}) == 20
    on_disk = [n for n in ne.list_networks(ctx) if n["name"] != "podman"]
    assert sorted(n["name"] for n in on_disk) == sorted(r["name"] for r in results)


def test_remove(ctx, tmp_path):
    ne.create_network(ctx, "x")
    leases = ctx.run_root / "networks" / "x"
    leases.mkdir(parents=True)
    (leases / "10.89.0.2").write_text("abc")
    assert ne.remove_network(ctx, "x") == "x"
    assert ne.find_network(ctx, "x") is None and not leases.exists()
    with pytest.raises(RemoveMissing) as e:
        ne.remove_network(ctx, "x")
    assert _msg(e) == "unable to find network with name or ID x: network not found"
    assert e.value.exit_code == 1
    with pytest.raises(PypodError) as e:
        ne.remove_network(ctx, "podman")
    assert _msg(e) == "default network podman cannot be removed" and e.value.exit_code == 125
    # by ID prefix
    y = ne.create_network(ctx, "y")
    assert ne.remove_network(ctx, y["id"][:8]) == "y"


def test_remove_in_use_refused_then_forced(ctx):
    ne.create_network(ctx, "x")
    ne.create_network(ctx, "other")
    cid = "ab" * 32
    _container(ctx, cid, "x", "other")
    assert ne.network_users(ctx) == {"x": [cid], "other": [cid]}
    with pytest.raises(ne.NetworkInUse) as e:
        ne.remove_network(ctx, "x")
    assert _msg(e) == ('"x" has associated containers with it. Use -f to forcibly delete containers '
                       'and pods: network is being used')
    assert e.value.exit_code == 2
    assert ne.find_network(ctx, "x") is not None
    assert ne.remove_network(ctx, "x", force=True) == "x"
    assert ne.find_network(ctx, "x") is None
    assert ContainerStore(ctx.graph_root).get(cid) is None  # -f removed the container
    assert ne.network_users(ctx) == {}


def test_filters(ctx):
    ne.create_network(ctx, "f1", labels={"a": "b", "c": "d"})
    ne.create_network(ctx, "x", labels={"a": "z"})
    ne.create_network(ctx, "r1")
    ne.create_network(ctx, "r3")
    _container(ctx, "cd" * 32, "x")
    all_ = ne.list_networks(ctx)

    def names(*filters):
        return [n["name"] for n in ne.filter_networks(ctx, all_, list(filters))]

    assert names("name=r") == ["r1", "r3"]
    assert names("name=^r1$", "name=x") == ["r1", "x"]
    assert names("driver=bridge") == ["f1", "podman", "r1", "r3", "x"]
    assert names("label=a") == ["f1", "x"]
    assert names("label=a=b") == ["f1"]
    assert names("label=a", "label=c") == ["f1"]  # labels: all must match
    assert names("label!=a") == ["podman", "r1", "r3"]
    assert names("dangling=true") == ["f1", "r1", "r3"]  # the default network never is
    assert names("dangling=false") == ["podman", "x"]
    assert names("id=" + ne.DEFAULT_NETWORK_ID[:6]) == ["podman"]
    assert names("until=1h") == []
    assert names("until=2999-01-01T00:00:00Z") == ["f1", "podman", "r1", "r3", "x"]
    with pytest.raises(InvalidArgument) as e:
        names("foo=bar")
    assert _msg(e) == 'invalid filter "foo"'
    with pytest.raises(InvalidArgument) as e:
        names("name")
    assert _msg(e) == "filter input must be in the form of filter=value: name is invalid"
    with pytest.raises(InvalidArgument) as e:
        names("dangling=maybe")
    assert _msg(e) == 'invalid dangling filter value "maybe"'


def test_prune(ctx):
    ne.create_network(ctx, "keep", labels={"k": "1"})
    ne.create_network(ctx, "used")
    ne.create_network(ctx, "b")
    ne.create_network(ctx, "a", labels={"k": "1"})
    _container(ctx, "ef" * 32, "used")
    with pytest.raises(InvalidArgument) as e:
        ne.prune_networks(ctx, ["name=x"])
    assert _msg(e) == 'invalid filter "name"'
    assert ne.prune_networks(ctx, ["until=1h"]) == []
    assert ne.prune_networks(ctx, ["label=k=1", "label!=zzz"]) == ["a", "keep"]
    assert ne.prune_networks(ctx) == ["b"]
    assert [n["name"] for n in ne.list_networks(ctx)] == ["podman", "used"]


# -- the CLI's Go views: --format templates over podman's Go field names ----------------------
def _render(fmt, recs, name="inspect"):
    from pypod.cli import network as cli

    return cli._user_template(fmt, name).execute([cli._GoNetwork(r) for r in recs])


def test_inspect_templates(ctx):
    rec = ne.create_network(ctx, "f1", subnet="10.96.0.0/24", ip_range="10.96.0.64/26",
                            labels={"a": "b", "c": "d"}, options={"mtu": "1400"})
    assert _render("{{range .Subnets}}{{.Subnet}} {{.Gateway}} {{.LeaseRange}} {{.LeaseRange.StartIP}}{{end}}",
                   [rec]) == "10.96.0.0/24 10.96.0.1 {10.96.0.65 10.96.0.127} 10.96.0.65\n"
    assert _render('{{json .Subnets}} {{index .Labels "a"}} {{json .Labels}} {{.Options}}', [rec]) == (
        '[{"subnet":"10.96.0.0/24","gateway":"10.96.0.1","lease_range":{"start_ip":"10.96.0.65",'
        '"end_ip":"10.96.0.127"}}] b {"a":"b","c":"d"} map[mtu:1400]\n')
    assert _render("{{.Name}} {{.ID}} {{.Driver}} {{.NetworkInterface}} {{.IPv6Enabled}} {{.Internal}} "
                   "{{.DNSEnabled}} {{.IPAMOptions}} {{.Labels}}", [rec]) == (
        f"f1 {rec['id']} bridge podman1 false false true map[driver:host-local] map[a:b c:d]\n")
    from pypod import template

    with pytest.raises(template.TemplateError) as e:
        _render("{{.Foo}}", [rec])
    assert str(e.value) == ('template: inspect:1:13: executing "inspect" at <.Foo>: '
                            "can't evaluate field Foo in type interface {}")


def test_ls_template_view(ctx):
    from pypod.cli import network as cli

    rec = ne.create_network(ctx, "f1", labels={"c": "d", "a": "b"})
    row = cli._ListPrintReport(rec, False)
    assert row.ID == rec["id"][:12] and row.Labels == "a=b,c=d"
    assert cli._ListPrintReport(rec, True).ID == rec["id"]
    # Go's time.Time String() of the record's RFC 3339 stamp
    assert cli._go_time("2026-11-28T00:59:19.890977755Z") == "2026-11-28 00:59:19.890977755 +0000 UTC"
    assert cli._go_time("2026-11-28T00:59:19.5Z") == "2026-11-28 00:59:19.5 +0000 UTC"
