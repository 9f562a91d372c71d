"""Issue 4: rootless networking — slirp4netns, published ports (with the client's real source
address), `port`, `ps` Ports, --network none/host, inspect fields. As the test user, real
kernel, real slirp4netns."""

from __future__ import annotations

import json
import socket
import subprocess
import threading

import pytest

from tests.lib.checks import ok
from tests.lib.http import get, httpd
from tests.lib.registry import free_port
from tests.lib.user import pypod

pytestmark = pytest.mark.integration

HTTPD = httpd("hello-from-ctr", verbose=True)


def port_free(port: int, ip: str = "0.0.0.0") -> bool:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT of our own client is fine
    try:
        s.bind((ip, port))
        s.listen()
        return True
    except OSError:
        return False
    finally:
        s.close()


def test_published_port_port_ps_inspect_and_release(busybox):
    port = free_port()
    cid = ok("run", "-d", "--name", "web", "-p", f"127.0.0.1:{port}:80", "-p", "18400-18401:81-82",
             busybox, "sh", "-c", HTTPD).stdout.strip()
    try:
        assert get(f"http://127.0.0.1:{port}/") == "hello-from-ctr\n"
        assert ok("port", "web").stdout == (f"80/tcp -> 127.0.0.1:{port}\n81/tcp -> 0.0.0.0:18400\n"
                                            f"82/tcp -> 0.0.0.0:18401\n")
        assert ok("port", "web", "80").stdout == f"127.0.0.1:{port}\n"
        r = pypod("port", "web", "99")
        assert r.returncode == 125 and r.stderr == 'Error: failed to find published port "99"\n'
        assert ok("port", "-a").stdout.startswith(f"{cid[:12]}\t80/tcp -> 127.0.0.1:{port}\n")
        ports = ok("ps", "--format", "{{.Ports}}").stdout
        assert ports == f"127.0.0.1:{port}->80/tcp, 0.0.0.0:18400-18401->81-82/tcp\n"
        assert f"127.0.0.1:{port}->80/tcp" in ok("ps").stdout
        info = json.loads(ok("inspect", "web").stdout)[0]
        assert info["HostConfig"]["NetworkMode"] == "slirp4netns"
        want = {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}],
                "81/tcp": [{"HostIp": "", "HostPort": "18400"}],
                "82/tcp": [{"HostIp": "", "HostPort": "18401"}]}
        assert info["HostConfig"]["PortBindings"] == want
        assert info["NetworkSettings"]["Ports"] == want
        # the host port is taken while it runs: a second container cannot have it (podman 4.3:
        # created, then its start fails with 126; --rm removes it again)
        r = pypod("run", "--rm", "-p", f"127.0.0.1:{port}:80", busybox, "true")
        assert r.returncode == 126
        assert r.stderr.strip().splitlines()[-1] == (
            f"Error: rootlessport listen tcp 127.0.0.1:{port}: bind: address already in use")
        assert ok("ps", "-a", "--format", "{{.Names}}").stdout == "web\n"  # (--rm: gone again)
    finally:
        ok("rm", "-f", "web")
    assert port_free(port, "127.0.0.1") and port_free(18400)


def test_random_ports_and_publish_all_udp(busybox):
    ok("create", "--name", "r", "-p", "80", "-p", "53/udp", busybox, "true")
    lines = ok("port", "r").stdout.splitlines()
    assert [l.split(" -> ")[0] for l in lines] == ["80/tcp", "53/udp"]
    for l in lines:
        host, _, p = l.split(" -> ")[1].rpartition(":")
        assert host == "0.0.0.0" and 1024 <= int(p) <= 65535
    r = pypod("create", "-p", "1-2:80", busybox, "true")
    assert r.returncode == 125 and "differ in length" in r.stderr


def _netns_client(tag: str):
    """A network namespace with a veth to the host: (ns name, host side ip, ns side ip, cleanup)."""
    ns, hv, nv = f"pyt{tag}", f"pyt{tag}h", f"pyt{tag}n"
    hip, nip = "192.168.231.1", "192.168.231.2"
    subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    subprocess.run(["ip", "link", "del", hv], capture_output=True)
    for cmd in (["ip", "netns", "add", ns], ["ip", "link", "add", hv, "type", "veth", "peer", "name", nv],
                ["ip", "link", "set", nv, "netns", ns], ["ip", "addr", "add", f"{hip}/24", "dev", hv],
                ["ip", "link", "set", hv, "up"],
                ["ip", "netns", "exec", ns, "ip", "addr", "add", f"{nip}/24", "dev", nv],
                ["ip", "netns", "exec", ns, "ip", "link", "set", nv, "up"],
                ["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"]):
        subprocess.run(cmd, check=True, capture_output=True)

    def cleanup():
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        subprocess.run(["ip", "link", "del", hv], capture_output=True)

    return ns, hip, nip, cleanup


def get_in_netns(ns: str, url: str) -> subprocess.CompletedProcess:
    """GET url from a client in network namespace `ns` (retrying while the server starts)."""
    code = f"""
import urllib.request, time
for i in range(100):
    try:
        print(urllib.request.urlopen({url!r}, timeout=5).read().decode(), end=""); break
    except OSError: time.sleep(0.1)
"""
    return subprocess.run(["ip", "netns", "exec", ns, "python3", "-c", code], capture_output=True,
                          text=True, timeout=30)


UDP_ECHO = """
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", 9999))
while True:
    data, peer = s.recvfrom(65535)
    s.sendto(b"seen " + peer[0].encode() + b" " + data, peer)
"""


def udp_echo_args(shared_tmp) -> list[str]:
    """run arguments for a UDP echo server on :9999 that answers with the address it saw (the
    host's python3, bound in: busybox has no UDP server)."""
    script = shared_tmp / "udpecho.py"
    script.write_text(UDP_ECHO)
    script.chmod(0o644)
    return ["-v", "/usr:/usr:ro", "-v", "/lib:/lib:ro", "-v", "/lib64:/lib64:ro",
            "-v", f"{script}:/udpecho.py:ro"]


def udp_ask_in_netns(ns: str, ip: str, port: int) -> str:
    """Send one datagram from network namespace `ns` (retrying while the server starts)."""
    code = f"""
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.5)
for i in range(40):
    s.sendto(b"ping", ({ip!r}, {port}))
    try:
        print(s.recvfrom(1000)[0].decode()); break
    except OSError:
        pass
"""
    r = subprocess.run(["ip", "netns", "exec", ns, "python3", "-c", code], capture_output=True,
                       text=True, timeout=60)
    return r.stdout.strip()


def test_udp_published_port_keeps_the_client_address(busybox, shared_tmp):
    port = free_port()
    ok("run", "-d", "--name", "udp", "-p", f"{port}:9999/udp", *udp_echo_args(shared_tmp), busybox,
       "/usr/bin/python3", "/udpecho.py")
    ns, hip, nip, cleanup = _netns_client("c")
    try:
        assert udp_ask_in_netns(ns, hip, port) == f"seen ::ffff:{nip} ping"
    finally:
        cleanup()
        ok("rm", "-f", "-t", "0", "udp")


def test_server_sees_the_real_client_address(busybox):
    port, port6 = free_port(), free_port()
    ok("run", "-d", "--name", "src", "-p", f"{port}:80", "-p", f"[::1]:{port6}:80", busybox,
       "sh", "-c", HTTPD)
    ns, hip, nip, cleanup = _netns_client("a")
    try:
        r = get_in_netns(ns, f"http://{hip}:{port}/")
        assert r.stdout == "hello-from-ctr\n", r.stderr
        # a loopback client is itself, over IPv6 too
        assert get(f"http://127.0.0.1:{port}/") == "hello-from-ctr\n"
        assert get(f"http://[::1]:{port6}/") == "hello-from-ctr\n"
        logs = ok("logs", "src").stdout + ok("logs", "src").stderr
        assert f"[::ffff:{nip}]:" in logs, logs
        assert "[::ffff:127.0.0.1]:" in logs and "[::1]:" in logs
        assert "10.0.2.2" not in logs and "10.0.2.100" not in logs
    finally:
        cleanup()
        ok("rm", "-f", "src")


def _host_ip() -> str:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect(("192.0.2.1", 9))  # no packet is sent: the route's source address
    ip = s.getsockname()[0]
    s.close()
    return ip


def test_default_network_addresses_outbound_and_none(busybox, host_server):
    r = ok("run", "--rm", "--name", "netcheck", busybox, "sh", "-c",
           "ip -4 -o addr show tap0; ip route; cat /etc/hosts /etc/resolv.conf")
    assert "inet 10.0.2.100/24" in r.stdout
    assert "default via 10.0.2.2 dev tap0" in r.stdout
    hosts = [l for l in r.stdout.splitlines() if l.startswith("10.0.2.100\t")]
    assert len(hosts) == 1 and hosts[0].endswith(" netcheck")  # /etc/hosts: our own name
    assert "\thost.containers.internal\n" in r.stdout
    assert r.stdout.split("nameserver ")[1].startswith("10.0.2.3")
    # outbound TCP to a (non-loopback) host address
    hip = _host_ip()
    p = host_server(hip)
    r = ok("run", "--rm", busybox, "wget", "-q", "-O", "-", f"http://{hip}:{p}/")
    assert r.stdout.startswith("host-server saw ")
    # the host's loopback through the gateway: only with allow_host_loopback=true
    lp = host_server("127.0.0.1")
    r = pypod("run", "--rm", busybox, "wget", "-q", "-T", "2", "-O", "-", f"http://10.0.2.2:{lp}/")
    assert r.returncode != 0
    r = ok("run", "--rm", "--network", "slirp4netns:allow_host_loopback=true", busybox,
           "sh", "-c", f"wget -q -O - http://10.0.2.2:{lp}/ && grep host.containers.internal /etc/hosts")
    assert r.stdout.startswith("host-server saw 127.0.0.1\n")
    assert r.stdout.endswith("10.0.2.2\thost.containers.internal\n")
    # none: only lo
    r = ok("run", "--rm", "--network", "none", busybox, "ip", "-o", "link")
    assert [l.split(":")[1].strip() for l in r.stdout.splitlines()] == ["lo"]
    # host: the host's interfaces
    r = ok("run", "--rm", "--network", "host", busybox, "ip", "-o", "link")
    assert len(r.stdout.splitlines()) > 1
    ok("create", "--network", "none", "--name", "n", busybox, "true")
    info = json.loads(ok("inspect", "n").stdout)[0]
    assert info["HostConfig"]["NetworkMode"] == "none" and info["NetworkSettings"]["Ports"] == {}
    r = pypod("run", "--rm", "--network", "slirp4netns:bogus=1", busybox, "true")
    assert r.returncode == 125 and r.stderr == "Error: unknown option for slirp4netns: bogus=1\n"
    r = pypod("run", "--rm", "--network", "nosuchnet", busybox, "true")
    assert r.returncode == 125 and "nosuchnet" in r.stderr


def test_network_container_mode_and_ls(busybox):
    ok("run", "-d", "--name", "a", busybox, "sh", "-c", HTTPD)
    try:
        r = ok("run", "--rm", "--network", "container:a", busybox, "sh", "-c",
               "for i in 1 2 3 4 5 6 7 8 9; do wget -q -O - http://127.0.0.1/ && exit 0; sleep 0.2; "
               "done; exit 1")
        assert r.stdout == "hello-from-ctr\n"
    finally:
        ok("rm", "-f", "a")
    assert ok("network", "ls").stdout == "NETWORK ID    NAME        DRIVER\n2f259bab93aa  podman      bridge\n"
    assert pypod("network", "exists", "podman").returncode == 0
    assert pypod("network", "exists", "nope").returncode == 1
    assert json.loads(ok("network", "inspect", "podman").stdout)[0]["name"] == "podman"


def test_forwarder_concurrency_half_close_and_large_transfers(busybox):
    """50 concurrent connections, each half-closed by the client right after its request and
    answered with 4 MB (busybox httpd: a fork per connection, a listen queue of 9)."""
    port = free_port()
    ok("run", "-d", "--name", "big", "-p", f"127.0.0.1:{port}:80", busybox, "sh", "-c",
       "mkdir /w && head -c 4000000 /dev/zero | tr '\\0' x > /w/big && exec httpd -f -p 80 -h /w")
    results = []

    def one(i):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
                s.settimeout(60)
                s.sendall(b"GET /big HTTP/1.0\r\n\r\n")
                s.shutdown(socket.SHUT_WR)
                got = bytearray()
                while True:
                    b = s.recv(1 << 16)
                    if not b:
                        break
                    got += b
            head, _, body = bytes(got).partition(b"\r\n\r\n")
            results.append(head.split(b"\r\n")[0].endswith(b" 200 OK") and body == b"x" * 4_000_000)
        except OSError as e:
            results.append(repr(e))

    try:
        assert len(get(f"http://127.0.0.1:{port}/big")) == 4_000_000
        threads = [threading.Thread(target=one, args=(i,)) for i in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert results.count(True) == 50, results
    finally:
        ok("rm", "-f", "big")
    assert port_free(port, "127.0.0.1")


def test_pasta_and_a_missing_helper(busybox, shared_tmp):
    port = free_port()
    ok("run", "-d", "--name", "pw", "--network", "pasta", "-p", f"{port}:80", busybox, "sh", "-c",
       HTTPD)
    ns, hip, nip, cleanup = _netns_client("b")
    try:
        r = get_in_netns(ns, f"http://{hip}:{port}/")
        assert r.stdout == "hello-from-ctr\n", r.stderr
        logs = ok("logs", "pw").stdout + ok("logs", "pw").stderr
        assert f"[::ffff:{nip}]:" in logs, logs
        assert ok("inspect", "--format", "{{.HostConfig.NetworkMode}}", "pw").stdout == "pasta\n"
    finally:
        cleanup()
        ok("rm", "-f", "pw")
    assert port_free(port)
    # containers.conf names a helper that is not there: one line naming it, 125
    conf = shared_tmp / "containers.conf"
    conf.write_text('[engine]\nnetwork_cmd_path = "/nonexistent/slirp4netns"\n')
    conf.chmod(0o644)
    r = pypod("run", "--rm", busybox, "true", env={"CONTAINERS_CONF": str(conf)})
    assert r.returncode == 125
    assert r.stderr == ("Error: slirp4netns not found at /nonexistent/slirp4netns (containers.conf "
                        "network_cmd_path): fix the path, or use --network none|host\n")
    assert ok("run", "--rm", "--network", "none", busybox, "true",
              env={"CONTAINERS_CONF": str(conf)}).returncode == 0


def _dns_answer(query: bytes, ip: str) -> bytes:
    """A minimal DNS responder: every A question gets `ip` (TTL 5)."""
    qid, qd = query[:2], query[12:]
    end = qd.index(b"\0") + 5
    question = qd[:end]
    qtype = question[-4:-2]
    header = qid + b"\x81\x80" + b"\x00\x01" + (b"\x00\x01" if qtype == b"\x00\x01" else b"\x00\x00") \
        + b"\x00\x00\x00\x00"
    answer = b""
    if qtype == b"\x00\x01":
        answer = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x05\x00\x04" + socket.inet_aton(ip)
    return header + question + answer


def test_outbound_udp_and_dns(busybox):
    hip = _host_ip()
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind((hip, 53))
    srv.settimeout(0.2)
    seen = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                data, addr = srv.recvfrom(2048)
            except OSError:
                continue
            seen.append(addr[0])
            try:
                srv.sendto(_dns_answer(data, "192.0.2.77"), addr)
            except (ValueError, IndexError, OSError):
                pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        r = ok("run", "--rm", "--dns", hip, busybox, "sh", "-c",
               "cat /etc/resolv.conf; nslookup some.test.example")
        assert f"nameserver {hip}\n" in r.stdout and "10.0.2.3" not in r.stdout
        assert "192.0.2.77" in r.stdout, r.stdout
        assert seen and all(a == hip for a in seen)  # slirp's outbound UDP, from the host's address
    finally:
        stop.set()
        t.join()
        srv.close()
