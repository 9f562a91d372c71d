"""Issue 4: user-defined networks — bridges in the shared network namespace, veths, IPAM under
concurrency, names and aliases resolved by our name server, published ports with the client's
real address, connect/disconnect, tear-down. As the test user, real kernel, real slirp4netns."""

from __future__ import annotations

import json
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.integration.test_network import (_host_ip, _netns_client, get_in_netns, port_free,
                                            udp_ask_in_netns, udp_echo_args)
from tests.lib.checks import ok
from tests.lib.http import get, httpd
from tests.lib.registry import free_port
from tests.lib.user import pypod, user_info

pytestmark = pytest.mark.integration

# (busybox 1.35's wget crashes on a failed connection with -T: the tests use timeout(1))


def serve(name: str) -> str:
    """httpd answering its own name."""
    return httpd(name, verbose=True)


def fetch(ctr: str, url: str, tries: int = 20) -> subprocess.CompletedProcess:
    """wget URL from inside a running container (retrying while its server starts)."""
    return pypod("exec", ctr, "sh", "-c",
                 f"for i in $(seq {tries}); do timeout 3 wget -q -O - {url} && exit 0; sleep 0.2; done; "
                 f"exit 1")


def ip_of(ctr: str, net: str) -> str:
    return ok("inspect", "--format", f'{{{{(index .NetworkSettings.Networks "{net}").IPAddress}}}}',
              ctr).stdout.strip()


def test_names_and_aliases_both_ways_later_containers_and_other_networks(busybox):
    ok("network", "create", "front")
    ok("network", "create", "back")
    ok("run", "-d", "--name", "a", "--network", "front", "--network-alias", "web", busybox,
       "sh", "-c", serve("i-am-a"))
    ok("run", "-d", "--name", "b", "--network", "front", busybox, "sh", "-c", serve("i-am-b"))
    assert fetch("b", "http://a/").stdout == "i-am-a\n"
    assert fetch("b", "http://web/").stdout == "i-am-a\n"
    assert fetch("a", "http://b/").stdout == "i-am-b\n"
    # a container started later is found at once, from both sides
    ok("run", "-d", "--name", "c", "--network", "front", busybox, "sh", "-c", serve("i-am-c"))
    assert fetch("a", "http://c/").stdout == "i-am-c\n"
    assert fetch("c", "http://web/").stdout == "i-am-a\n"
    r = ok("run", "--rm", "--network", "front", busybox, "wget", "-q", "-O", "-", "http://c/")
    assert r.stdout == "i-am-c\n"
    # another network does not see these names
    r = pypod("run", "--rm", "--network", "back", busybox, "sh", "-c",
              "nslookup a; timeout 3 wget -q -O - http://a/")
    assert r.returncode != 0 and "i-am-a" not in r.stdout
    # a removed container is forgotten
    ok("rm", "-f", "c")
    r = pypod("exec", "a", "nslookup", "c")
    assert r.returncode != 0, r.stdout
    # /etc/resolv.conf points at the network's name server; /etc/hosts has our address
    info = json.loads(ok("network", "inspect", "front").stdout)[0]
    gw = info["subnets"][0]["gateway"]
    r = ok("exec", "a", "cat", "/etc/resolv.conf", "/etc/hosts")
    assert f"nameserver {gw}\n" in r.stdout and "search dns.podman" in r.stdout
    assert f"{ip_of('a', 'front')}\t" in r.stdout
    ps = ok("ps", "--format", "{{.Names}} {{.Networks}}").stdout
    assert "a front\n" in ps  # podman's psReporter joins the names with ","
    ok("rm", "-f", "a", "b")


def test_twenty_parallel_runs_get_twenty_addresses(busybox):
    ok("network", "create", "par")
    names = [f"p{i}" for i in range(20)]
    with ThreadPoolExecutor(20) as ex:
        results = list(ex.map(lambda n: pypod("run", "-d", "--name", n, "--network", "par",
                                              busybox, "sleep", "300"), names))
    try:
        for r in results:
            assert r.returncode == 0, r.stderr
        ips = [ip_of(n, "par") for n in names]
        assert len(set(ips)) == 20 and all(ips), ips
        # and the addresses are really on the containers' interfaces
        r = ok("exec", "p7", "ip", "-4", "-o", "addr", "show", "eth0")
        assert f"inet {ips[7]}/24" in r.stdout
        r = ok("exec", "p3", "cat", "/proc/sys/net/ipv4/ping_group_range")
        assert r.stdout.split() == ["0", "0"]  # podman's default sysctl
    finally:
        ok("rm", "-f", "-t", "0", *names)


def test_static_ip_mac_outbound_internal_and_inspect(busybox, host_server):
    ok("network", "create", "--subnet", "10.89.77.0/24", "--label", "team=x", "stat")
    r = ok("run", "--rm", "--network", "stat", "--ip", "10.89.77.42", "--mac-address",
           "92:d0:c6:0a:29:33", busybox, "sh", "-c", "ip -o addr show eth0; ip link show eth0; ip route")
    assert "inet 10.89.77.42/24" in r.stdout and "92:d0:c6:0a:29:33" in r.stdout
    assert "default via 10.89.77.1 dev eth0" in r.stdout
    # outbound through the shared namespace's NAT and slirp4netns
    hip = _host_ip()
    port = host_server(hip)
    r = ok("run", "--rm", "--network", "stat", busybox, "wget", "-q", "-O", "-", f"http://{hip}:{port}/")
    assert r.stdout.startswith("host-server saw ")
    # an address in use is refused, before the container starts
    ok("run", "-d", "--name", "holder", "--network", "stat", "--ip", "10.89.77.50", busybox,
       "sleep", "300")
    r = pypod("run", "--rm", "--network", "stat", "--ip", "10.89.77.50", busybox, "true")
    assert r.returncode == 125 and "10.89.77.50 is already allocated" in r.stderr
    info = json.loads(ok("inspect", "holder").stdout)[0]
    ep = info["NetworkSettings"]["Networks"]["stat"]
    assert ep["IPAddress"] == "10.89.77.50" and ep["Gateway"] == "10.89.77.1"
    assert ep["IPPrefixLen"] == 24 and len(ep["MacAddress"]) == 17
    assert info["HostConfig"]["NetworkMode"] == "bridge"
    ok("rm", "-f", "-t", "0", "holder")
    # --internal: no way out, but names still resolve inside
    ok("network", "create", "--internal", "sealed")
    ok("run", "-d", "--name", "in1", "--network", "sealed", busybox, "sh", "-c", serve("in1"))
    r = ok("run", "--rm", "--network", "sealed", busybox, "sh", "-c",
           f"timeout 3 wget -q -O - http://{hip}:{port}/ && echo escaped; ip route; "
           f"for i in 1 2 3 4 5 6 7 8 9 10; do timeout 3 wget -q -O - http://in1/ && exit 0; sleep 0.2; done")
    assert "escaped" not in r.stdout and "default" not in r.stdout and "in1\n" in r.stdout
    ok("rm", "-f", "-t", "0", "in1")


def test_published_port_on_user_network_keeps_client_address(busybox, shared_tmp):
    ok("network", "create", "pub")
    port, uport = free_port(), free_port()
    ok("run", "-d", "--name", "srv", "--network", "pub", "-p", f"{port}:80", busybox,
       "sh", "-c", serve("hello-from-ctr"))
    ok("run", "-d", "--name", "usrv", "--network", "pub", "-p", f"{uport}:9999/udp",
       *udp_echo_args(shared_tmp), busybox, "/usr/bin/python3", "/udpecho.py")
    ns, hip, nip, cleanup = _netns_client("u")
    try:
        assert get(f"http://127.0.0.1:{port}/") == "hello-from-ctr\n"
        assert ok("port", "srv").stdout == f"80/tcp -> 0.0.0.0:{port}\n"
        r = get_in_netns(ns, f"http://{hip}:{port}/")
        assert r.stdout == "hello-from-ctr\n", r.stderr
        logs = ok("logs", "srv").stdout + ok("logs", "srv").stderr
        assert f"[::ffff:{nip}]:" in logs, logs
        assert udp_ask_in_netns(ns, hip, uport) == f"seen ::ffff:{nip} ping"  # UDP too
    finally:
        cleanup()
        ok("rm", "-f", "-t", "0", "srv", "usrv")
    assert port_free(port)


def test_connect_disconnect_rm_and_teardown(busybox):
    info = user_info()
    ok("network", "create", "n1")
    ok("network", "create", "n2")
    ok("run", "-d", "--name", "x", "--network", "n1", busybox, "sh", "-c", serve("x"))
    ok("run", "-d", "--name", "y", "--network", "n2", busybox, "sh", "-c", serve("y"))
    r = pypod("exec", "y", "nslookup", "x")
    assert r.returncode != 0
    ok("network", "connect", "--alias", "ex", "n2", "x")
    assert fetch("y", "http://ex/").stdout == "x\n"
    r = ok("exec", "x", "ip", "-o", "link")
    assert " eth1@" in r.stdout
    assert set(json.loads(ok("inspect", "x").stdout)[0]["NetworkSettings"]["Networks"]) == {"n1", "n2"}
    ok("network", "disconnect", "n2", "x")
    assert " eth1@" not in ok("exec", "x", "ip", "-o", "link").stdout
    r = pypod("exec", "y", "nslookup", "ex")
    assert r.returncode != 0
    # a stopped container: connect takes effect at its next start
    ok("create", "--name", "later", "--network", "n1", busybox, "sh", "-c", "ip -o -4 addr show")
    ok("network", "connect", "n2", "later")
    out = ok("start", "-a", "later").stdout
    assert " eth0 " in out and " eth1 " in out
    ok("rm", "later")
    # rm refuses a network in use; -f removes its containers
    r = pypod("network", "rm", "n1")
    assert r.returncode != 0 and "associated containers" in r.stderr
    ok("network", "rm", "-f", "n1")
    assert pypod("container", "exists", "x").returncode == 1
    ok("rm", "-f", "-t", "0", "y")
    ok("network", "rm", "n2")
    holder = json.load(open(os.path.join(info.runtime_dir, "pypod", "netns", "holder.json")))
    r = subprocess.run(["nsenter", "-t", str(holder["pid"]), "-n", "ip", "-o", "link"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and "veth" not in r.stdout and "podman" not in r.stdout, r.stdout
    run = os.path.join(info.runtime_dir, "pypod")
    assert not os.path.exists(os.path.join(run, "networks", "n1"))
    # the holder ends itself once no container is left (PYPOD_NETNS_GRACE, default 10 s)
    state = os.path.join(run, "netns", "holder.json")
    end = time.time() + 30
    while os.path.exists(state) and time.time() < end:
        time.sleep(0.5)
    assert not os.path.exists(state)
    end = time.time() + 5  # (its outer process ends slirp4netns, then itself)
    while True:
        r = subprocess.run(["pgrep", "-u", str(info.uid), "-f", "pypod.network.holder"],
                           capture_output=True, text=True)
        if r.stdout == "" or time.time() > end:
            break
        time.sleep(0.1)
    assert r.stdout == "", r.stdout


def _spec(cid: str) -> dict:
    return json.load(open(os.path.join(user_info().home, ".local/share/pypod/storage/containers", cid,
                                       "spec.json")))


def test_connect_and_disconnect_derive_the_spec_as_a_create_does(busybox):
    """Issue 12: the spec of a container whose networks changed is derived again from its record
    (build_spec), not patched: the same endpoints and name servers as a fresh create's."""
    ok("network", "create", "sa")
    ok("network", "create", "sb")
    cid = ok("create", "--name", "cs", "--network", "sa", "--network", "sb", busybox, "true").stdout.strip()
    ok("network", "disconnect", "sa", "cs")
    fresh = ok("create", "--network", "sb", busybox, "true").stdout.strip()
    mine, theirs = _spec(cid), _spec(fresh)
    assert mine["net"] == theirs["net"] and [n["name"] for n, _ in mine["net"]["endpoints"]] == ["sb"]
    # the name server is sb's now (sa's gateway was the first one at create)
    assert mine["resolv_conf"] == theirs["resolv_conf"]
    gw = json.loads(ok("network", "inspect", "sb").stdout)[0]["subnets"][0]["gateway"]
    assert f"nameserver {gw}" in mine["resolv_conf"]
    ok("network", "connect", "sa", "cs")
    fresh = ok("create", "--network", "sb", "--network", "sa", busybox, "true").stdout.strip()
    mine, theirs = _spec(cid)["net"], _spec(fresh)["net"]
    # (the record's own entries differ: connect names the interface it picked, eth1)
    assert mine.pop("networks")["sa"]["interface"] == "eth1" and theirs.pop("networks")
    assert mine == theirs and [(n["name"], ep["ifname"]) for n, ep in mine["endpoints"]] == [
        ("sb", "eth0"), ("sa", "eth1")]
    ok("start", "-a", "cs")  # (it runs on both)
    ok("rm", "-a", "-f")
    ok("network", "rm", "sa", "sb")


def test_pasta_as_the_uplink_of_user_networks(busybox, host_server, shared_tmp):
    conf = shared_tmp / "containers.conf"
    conf.write_text('[network]\ndefault_rootless_network_cmd = "pasta"\n')
    os.chmod(conf, 0o644)
    env = {"CONTAINERS_CONF": str(conf)}
    ok("network", "create", "viapasta")
    # pasta gives the namespace the host's own address; its gateway address leads to the host's
    # loopback (pasta's default mapping)
    gw = subprocess.run(["ip", "-4", "route", "show", "default"], capture_output=True,
                        text=True).stdout.split()[2]
    port = host_server("127.0.0.1")
    r = ok("run", "--rm", "--network", "viapasta", busybox, "wget", "-q", "-O", "-",
           f"http://{gw}:{port}/", env=env)
    assert r.stdout.startswith("host-server saw 127.0.0.1")
    info = user_info()
    holder = json.load(open(os.path.join(info.runtime_dir, "pypod", "netns", "holder.json")))
    links = subprocess.run(["nsenter", "-t", str(holder["pid"]), "-n", "ip", "-o", "link"],
                           capture_output=True, text=True).stdout
    assert "tap0" not in links  # pasta's interface, not slirp4netns's
