"""How compose files merge (`-f a -f b`, extends) and the short → long syntax, as compose-go does
(the end results are compared with Docker Compose v2 in tests/conformance/test_compose_config.py)."""

from __future__ import annotations

import pytest

from pypod.compose.canonical import canonical, parse_ports, parse_volume
from pypod.compose.discovery import normalize_project_name
from pypod.compose.errors import ComposeError
from pypod.compose.merge import enforce_unicity, merge
from pypod.compose.units import format_duration, parse_bytes, parse_duration


def _merged(a, b):
    return enforce_unicity(merge({"services": {"web": a}}, {"services": {"web": b}}))["services"]["web"]


def test_scalars_replaced_mappings_merged():
    got = _merged({"image": "a", "healthcheck": {"interval": "1s", "retries": 2}},
                  {"image": "b", "healthcheck": {"retries": 5}})
    assert got == {"image": "b", "healthcheck": {"interval": "1s", "retries": 5}}


def test_command_entrypoint_and_healthcheck_test_replaced_whole():
    got = _merged({"command": ["a", "b"], "entrypoint": "x y", "healthcheck": {"test": ["CMD", "a"]}},
                  {"command": ["c"], "entrypoint": ["z"], "healthcheck": {"test": ["CMD", "b"]}})
    assert got == {"command": ["c"], "entrypoint": ["z"], "healthcheck": {"test": ["CMD", "b"]}}


def test_environment_map_and_list_merge_by_key_last_wins():
    got = _merged({"environment": {"A": "base", "B": "base", "N": 1}},
                  {"environment": ["B=override", "C=new"]})
    # a mapping becomes sorted KEY=VALUE entries, then the override's entries replace by key
    assert got["environment"] == ["A=base", "B=override", "N=1", "C=new"]


def test_ports_volumes_and_lists_keep_one_entry_per_identity():
    got = _merged({"ports": ["8080:80"], "volumes": ["./a:/a"], "cap_add": ["NET_ADMIN"], "expose": [80]},
                  {"ports": ["8080:80", "8443:443"], "volumes": ["./b:/a", "./c:/c"],
                   "cap_add": ["NET_ADMIN", "SYS_TIME"], "expose": ["80", 90]})
    assert got["ports"] == ["8080:80", "8443:443"]
    assert got["volumes"] == ["./b:/a", "./c:/c"]  # same target: the later mount wins in place
    assert got["cap_add"] == ["NET_ADMIN", "SYS_TIME"]
    assert got["expose"] == ["80", 90]


def test_depends_on_and_networks_lists_merge_as_mappings():
    got = _merged({"depends_on": ["db"], "networks": ["front"]},
                  {"depends_on": {"cache": {"condition": "service_healthy"}}, "networks": {"back": {"aliases": ["w"]}}})
    assert got["depends_on"] == {"db": {"condition": "service_started", "required": True},
                                 "cache": {"condition": "service_healthy"}}
    assert got["networks"] == {"front": None, "back": {"aliases": ["w"]}}


def test_build_string_merges_with_mapping():
    assert _merged({"build": "."}, {"build": {"args": ["X=1"]}}) == {"build": {"context": ".", "args": ["X=1"]}}


def test_extra_hosts_deduplicated_dns_concatenated():
    got = _merged({"extra_hosts": ["a:1.1.1.1"], "dns": "1.1.1.1"},
                  {"extra_hosts": ["a:1.1.1.1", "b:2.2.2.2"], "dns": ["8.8.8.8"]})
    assert got == {"extra_hosts": ["a:1.1.1.1", "b:2.2.2.2"], "dns": ["1.1.1.1", "8.8.8.8"]}


def test_logging_options_merge_only_for_the_same_driver():
    same = _merged({"logging": {"driver": "json-file", "options": {"a": "1"}}},
                   {"logging": {"driver": "json-file", "options": {"b": "2"}}})
    assert same["logging"]["options"] == {"a": "1", "b": "2"}
    other = _merged({"logging": {"driver": "json-file", "options": {"a": "1"}}},
                    {"logging": {"driver": "syslog"}})
    assert other["logging"] == {"driver": "syslog"}


def test_type_mismatch_is_refused():
    with pytest.raises(ComposeError, match="cannot override services.web.deploy"):
        _merged({"deploy": {"replicas": 1}}, {"deploy": ["x"]})


@pytest.mark.parametrize("spec,expected", [
    ("3000", [{"mode": "ingress", "target": 3000, "protocol": "tcp"}]),
    ("8000:80", [{"mode": "ingress", "target": 80, "published": "8000", "protocol": "tcp"}]),
    ("127.0.0.1::5000", [{"mode": "ingress", "host_ip": "127.0.0.1", "target": 5000, "protocol": "tcp"}]),
    ("6060:6060/UDP", [{"mode": "ingress", "target": 6060, "published": "6060", "protocol": "udp"}]),
    ("[::1]:6001:6001", [{"mode": "ingress", "host_ip": "::1", "target": 6001, "published": "6001",
                          "protocol": "tcp"}]),
    ("9090-9091:8080-8081", [{"mode": "ingress", "target": 8080, "published": "9090", "protocol": "tcp"},
                             {"mode": "ingress", "target": 8081, "published": "9091", "protocol": "tcp"}]),
    ("9000-9001:80", [{"mode": "ingress", "target": 80, "published": "9000-9001", "protocol": "tcp"}]),
])
def test_port_short_syntax(spec, expected):
    assert parse_ports(spec) == expected


def test_port_ranges_must_agree():
    with pytest.raises(ComposeError):
        parse_ports("1-3:1-2")


@pytest.mark.parametrize("spec,expected", [
    ("/anon", {"type": "volume", "target": "/anon", "volume": {}}),
    ("data:/d:ro", {"type": "volume", "source": "data", "target": "/d", "volume": {}, "read_only": True}),
    ("data:/d:nocopy", {"type": "volume", "source": "data", "target": "/d", "volume": {"nocopy": True}}),
    ("./x:/x/", {"type": "bind", "source": "./x", "target": "/x", "bind": {"create_host_path": True}}),
    ("~/h:/h:z,rshared", {"type": "bind", "source": "~/h", "target": "/h",
                          "bind": {"selinux": "z", "propagation": "rshared", "create_host_path": True}}),
])
def test_volume_short_syntax(spec, expected):
    assert parse_volume(spec) == expected


def test_volume_spec_errors():
    with pytest.raises(ComposeError, match="too many colons"):
        parse_volume("a:b:c:d")
    with pytest.raises(ComposeError, match="empty section"):
        parse_volume("a::b")


def test_canonical_long_forms():
    model = canonical({"services": {"web": {
        "build": ".", "depends_on": ["db"], "env_file": "a.env", "networks": ["n"], "secrets": ["s"],
        "extends": "base", "dns": "1.1.1.1"}},
        "volumes": {"v": {"external": {"name": "real"}}}, "include": ["other.yaml"]})
    web = model["services"]["web"]
    assert web["build"] == {"context": "."}
    assert web["depends_on"] == {"db": {"condition": "service_started", "required": True}}
    assert web["env_file"] == [{"path": "a.env", "required": True}]
    assert web["networks"] == {"n": None} and web["secrets"] == [{"source": "s"}]
    assert web["extends"] == {"service": "base"} and web["dns"] == ["1.1.1.1"]
    assert model["volumes"]["v"] == {"external": True, "name": "real"}
    assert model["include"] == [{"path": "other.yaml"}]


@pytest.mark.parametrize("text,ns,shown", [
    ("90s", 90 * 10**9, "1m30s"), ("1m30s", 90 * 10**9, "1m30s"), ("1h", 3600 * 10**9, "1h0m0s"),
    ("500ms", 5 * 10**8, "500ms"), ("1.5s", 15 * 10**8, "1.5s"), ("0s", 0, "0s"), ("1h2m3s", 3723 * 10**9, "1h2m3s"),
])
def test_durations_as_go_prints_them(text, ns, shown):
    assert parse_duration(text, "x") == ns
    assert format_duration(ns) == shown


def test_sizes_are_binary_multiples():
    assert parse_bytes("512M", "x") == 512 << 20
    assert parse_bytes("1g", "x") == 1 << 30
    assert parse_bytes("1.5gb", "x") == 3 << 29
    assert parse_bytes(1000, "x") == 1000
    with pytest.raises(ComposeError):
        parse_bytes("lots", "x")


@pytest.mark.parametrize("raw,name", [("My_Project.Name", "my_projectname"), ("__x-Y", "x-y"), ("a b", "ab")])
def test_project_names_normalised(raw, name):
    assert normalize_project_name(raw) == name
