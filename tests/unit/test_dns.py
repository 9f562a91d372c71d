"""The user-network name server: wire format helpers, and real sockets on 127.0.0.x high ports."""

import os
import random
import select
import socket
import struct
import threading
import time

import pytest

from pypod.network import dns

# ---------------------------------------------------------------------------------------------
# helpers


def answers_of(packet):
    """(id, flags, question count, [(type, value)]) of a response; A as dotted, PTR as a name."""
    qid, flags, qd, an = struct.unpack_from("!HHHH", packet)
    pos = 12
    for _ in range(qd):
        _, pos = dns.read_name(packet, pos)
        pos += 4
    out = []
    for _ in range(an):
        _, pos = dns.read_name(packet, pos)
        rtype, _cls, _ttl, size = struct.unpack_from("!HHIH", packet, pos)
        pos += 10
        rdata = packet[pos:pos + size]
        if rtype == dns.TYPE_A:
            out.append((rtype, socket.inet_ntoa(rdata)))
        elif rtype == dns.TYPE_PTR:
            labels, _ = dns.read_name(packet, pos)
            out.append((rtype, b".".join(labels).decode()))
        else:
            out.append((rtype, rdata))
        pos += size
    return qid, flags, qd, out


def rcode(packet):
    return struct.unpack_from("!H", packet, 2)[0] & 0xF


class FakeUpstream:
    """A UDP server standing in for the host's resolver: answers NXDOMAIN, an A record, or nothing."""

    def __init__(self, ip, mode):
        self.mode = mode
        self.seen = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((ip, 0))
        self.sock.settimeout(0.05)
        self.addr = "{}:{}".format(*self.sock.getsockname())
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                packet, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            q = dns.parse_query(packet)
            self.seen.append((packet, q))
            if q is None or self.mode == "silent":
                continue
            qid, flags, _, _, _, question = q
            if self.mode == "answer":
                reply = dns.build_response(qid, flags, question, dns.NOERROR,
                                           [(dns.TYPE_A, 60, socket.inet_aton("93.184.216.34"))], aa=False)
            else:
                reply = dns.build_response(qid, flags, question, dns.NXDOMAIN, aa=False)
            self.sock.sendto(reply, peer)

    def close(self):
        self._stop.set()
        self._thread.join()
        self.sock.close()


def ask(ip, port, packet, timeout=3.0):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(packet, (ip, port))
        data, peer = s.recvfrom(65535)
        assert peer == (ip, port)   # the answer comes from the address asked
        return data


def ask_tcp(ip, port, packet, timeout=3.0):
    with socket.create_connection((ip, port), timeout=timeout) as s:
        s.sendall(struct.pack("!H", len(packet)) + packet)
        buf = b""
        while len(buf) < 2 or len(buf) < 2 + struct.unpack_from("!H", buf)[0]:
            chunk = s.recv(65535)
            assert chunk, "connection closed before the answer"
            buf += chunk
        return buf[2:]


NET2 = {"web": ["10.89.0.5"], "db": ["10.89.0.6"], "shared": ["10.89.0.5", "10.89.0.6"],
        "many": [f"10.89.2.{i}" for i in range(1, 41)]}
NET3 = {"cache": ["10.89.1.7"], "cache-alias": ["10.89.1.7"]}


class Running:
    """A Server on 127.0.0.2 and 127.0.0.3 (one "network" each) driven by serve_forever in a thread."""

    def __init__(self, upstreams, timeout=0.3):
        self.tables = {"127.0.0.2": {k: list(v) for k, v in NET2.items()},
                       "127.0.0.3": {k: list(v) for k, v in NET3.items()}}
        self.lookups = []

        def lookup(ip):
            self.lookups.append(ip)
            return self.tables.get(ip)

        self.server = dns.Server(lookup, upstreams, timeout=timeout)
        for _ in range(50):
            self.port = random.randint(20000, 60000)
            try:
                self.server.bind("127.0.0.2", self.port)
                self.server.bind("127.0.0.3", self.port)
                break
            except OSError:
                self.server.unbind("127.0.0.2")
                self.server.unbind("127.0.0.3")
        else:
            pytest.fail("no free port")
        self.stop_r, self.stop_w = os.pipe()
        self.thread = threading.Thread(target=self.server.serve_forever, args=(self.stop_r,), daemon=True)
        self.thread.start()

    def ask(self, ip, name, qtype=dns.TYPE_A, qid=None, tcp=False):
        qid = random.randint(0, 0xFFFF) if qid is None else qid
        packet = dns.make_query(name, qtype, qid)
        reply = (ask_tcp if tcp else ask)(ip, self.port, packet)
        assert struct.unpack_from("!H", reply)[0] == qid
        return reply

    def close(self):
        os.write(self.stop_w, b"x")
        self.thread.join(5)
        assert not self.thread.is_alive()
        self.server.close()
        os.close(self.stop_r)
        os.close(self.stop_w)


@pytest.fixture
def nxdomain_upstream():
    up = FakeUpstream("127.0.0.4", "nxdomain")
    yield up
    up.close()


@pytest.fixture
def srv(nxdomain_upstream):
    r = Running([nxdomain_upstream.addr])
    yield r
    r.close()


# ---------------------------------------------------------------------------------------------
# wire format


def test_query_round_trip_keeps_case_and_question():
    packet = dns.make_query("Web.DNS.podman", dns.TYPE_AAAA, qid=0xBEEF)
    qid, flags, qname, qtype, qclass, question = dns.parse_query(packet)
    assert (qid, flags, qname, qtype, qclass) == (0xBEEF, dns.RD, "Web.DNS.podman", dns.TYPE_AAAA, dns.CLASS_IN)
    assert question == packet[12:]


@pytest.mark.parametrize("packet", [
    b"",
    b"\x00" * 11,
    struct.pack("!HHHHHH", 1, dns.QR, 1, 0, 0, 0) + b"\x01a\x00\x00\x01\x00\x01",     # a response
    struct.pack("!HHHHHH", 1, 0, 0, 0, 0, 0),                                       # no question
    struct.pack("!HHHHHH", 1, 0, 2, 0, 0, 0) + b"\x01a\x00\x00\x01\x00\x01" * 2,    # two questions
    struct.pack("!HHHHHH", 1, 0, 1, 0, 0, 0) + b"\x05ab",                           # label cut short
    struct.pack("!HHHHHH", 1, 0, 1, 0, 0, 0) + b"\x01a\x00\x00\x01",                # qclass missing
    struct.pack("!HHHHHH", 1, 0, 1, 0, 0, 0) + b"\x41a\x00\x00\x01\x00\x01",        # label type 0x40
    struct.pack("!HHHHHH", 1, 0, 1, 0, 0, 0) + (b"\x3f" + b"a" * 63) * 4 + b"\x00\x00\x01\x00\x01",  # > 255
    struct.pack("!HHHHHH", 1, 0, 1, 0, 0, 0) + b"\xc0\x0c\x00\x01\x00\x01",         # points at itself
    struct.pack("!HHHHHH", 1, 0, 1, 0, 0, 0) + b"\xc0\x20\x00\x01\x00\x01",         # points forward
])
def test_parse_query_rejects(packet):
    assert dns.parse_query(packet) is None


def test_read_name_follows_backward_pointers():
    msg = b"\x00" * 12 + b"\x03foo\x03com\x00" + b"\x03www\xc0\x0c" + b"\x01x\xc0\x15"
    assert dns.read_name(msg, 12) == ([b"foo", b"com"], 21)
    assert dns.read_name(msg, 21) == ([b"www", b"foo", b"com"], 27)
    assert dns.read_name(msg, 27) == ([b"x", b"www", b"foo", b"com"], 31)    # a chain of two


@pytest.mark.parametrize("msg", [
    b"\x00" * 12 + b"\xc0\x0c",                         # itself
    b"\x00" * 12 + b"\x01a\xc0\x0c",                    # back to its own start
    b"\x00" * 12 + b"\x01a\xc0\x10\x01b\xc0\x0c",       # two names pointing at each other
    b"\x00" * 12 + b"\xc0",                             # pointer cut short
])
def test_read_name_rejects_loops(msg):
    assert dns.read_name(msg, 12) is None


def test_read_name_caps_length_through_pointers():
    # 4 × 63-byte labels reached by a chain of pointers: over 255 bytes once expanded.
    msg = b"\x00" * 12 + b"\x3f" + b"a" * 63 + b"\x00"
    starts = [12]
    for _ in range(4):
        starts.append(len(msg))
        msg += b"\x3f" + b"b" * 63 + struct.pack("!H", 0xC000 | starts[-2])
    assert dns.read_name(msg, starts[2]) is not None
    assert dns.read_name(msg, starts[4]) is None


def test_parse_query_survives_garbage():
    rng = random.Random(1234)
    base = dns.make_query("some.name.example", dns.TYPE_A, 7)
    for _ in range(3000):
        packet = bytearray(base)
        for _ in range(rng.randint(1, 6)):
            packet[rng.randrange(len(packet))] = rng.randrange(256)
        packet = bytes(packet[:rng.randint(0, len(packet))])
        dns.parse_query(packet)                                  # must return, never raise
        dns.parse_query(bytes(rng.randrange(256) for _ in range(rng.randint(0, 40))))


def test_build_response_flags_and_records():
    q = dns.make_query("web", qid=42)
    _, flags, _, _, _, question = dns.parse_query(q)
    reply = dns.build_response(42, flags, question, dns.NOERROR,
                               [(dns.TYPE_A, 0, socket.inet_aton("10.89.0.5"))])
    qid, rflags, qd, answers = answers_of(reply)
    assert (qid, qd, answers) == (42, 1, [(dns.TYPE_A, "10.89.0.5")])
    assert rflags & dns.QR and rflags & dns.RA and rflags & dns.RD and rflags & dns.AA
    assert reply[12:12 + len(question)] == question
    no_rd = dns.build_response(1, 0, question, dns.NXDOMAIN, aa=False)
    assert struct.unpack_from("!H", no_rd, 2)[0] == dns.QR | dns.RA | dns.NXDOMAIN


def test_build_response_truncates_to_limit():
    _, flags, _, _, _, question = dns.parse_query(dns.make_query("many"))
    records = [(dns.TYPE_A, 0, bytes([10, 0, 0, i])) for i in range(100)]
    reply = dns.build_response(1, flags, question, answers=records, limit=512)
    assert len(reply) <= 512
    _, rflags, _, answers = answers_of(reply)
    assert rflags & dns.TC and 0 < len(answers) < 100


@pytest.mark.parametrize(("qname", "ip"), [
    ("5.0.89.10.in-addr.arpa", "10.89.0.5"),
    ("5.0.89.10.IN-ADDR.ARPA.", "10.89.0.5"),
    ("0.0.0.0.in-addr.arpa", "0.0.0.0"),
    ("0.89.10.in-addr.arpa", None),
    ("256.0.89.10.in-addr.arpa", None),
    ("05.0.89.10.in-addr.arpa", None),
    ("a.0.89.10.in-addr.arpa", None),
    ("1.5.0.89.10.in-addr.arpa", None),
    ("5.0.89.10.ip6.arpa", None),
    ("web", None),
])
def test_ptr_name_to_ip(qname, ip):
    assert dns.ptr_name_to_ip(qname) == ip


def test_encode_name():
    assert dns.encode_name("web.dns.podman.") == b"\x03web\x03dns\x06podman\x00"
    assert dns.encode_name(".") == b"\x00"
    assert dns.encode_name("a..b") is None
    assert dns.encode_name("x" * 64) is None
    assert dns.encode_name("é") is None


# ---------------------------------------------------------------------------------------------
# real sockets


def test_a_for_a_name_on_its_network(srv):
    _, flags, _, answers = answers_of(srv.ask("127.0.0.2", "web"))
    assert answers == [(dns.TYPE_A, "10.89.0.5")]
    assert rcode(srv.ask("127.0.0.2", "web")) == dns.NOERROR
    assert flags & dns.QR and flags & dns.RA and flags & dns.RD
    assert answers_of(srv.ask("127.0.0.3", "cache-alias"))[3] == [(dns.TYPE_A, "10.89.1.7")]
    assert "127.0.0.2" in srv.lookups and "127.0.0.3" in srv.lookups


def test_case_insensitive_and_search_domain(srv):
    for name in ("WEB", "Web.Dns.Podman", "web.dns.podman."):
        reply = srv.ask("127.0.0.2", name)
        assert answers_of(reply)[3] == [(dns.TYPE_A, "10.89.0.5")], name
        assert dns.parse_query(dns.make_query(name))[5] in reply      # question echoed as asked


def test_several_addresses_for_a_shared_alias(srv):
    got = sorted(v for _, v in answers_of(srv.ask("127.0.0.2", "shared.dns.podman"))[3])
    assert got == ["10.89.0.5", "10.89.0.6"]


def test_aaaa_and_other_types_of_a_known_name_are_empty_noerror(srv, nxdomain_upstream):
    for qtype in (dns.TYPE_AAAA, 15):
        reply = srv.ask("127.0.0.2", "web", qtype)
        assert rcode(reply) == dns.NOERROR
        assert answers_of(reply)[3] == []
    assert nxdomain_upstream.seen == []


def test_ptr_for_an_address_of_the_network(srv):
    got = answers_of(srv.ask("127.0.0.2", "6.0.89.10.in-addr.arpa", dns.TYPE_PTR))[3]
    assert sorted(got) == [(dns.TYPE_PTR, "db"), (dns.TYPE_PTR, "shared")]
    # another network's address is not ours to answer: upstream says NXDOMAIN
    assert rcode(srv.ask("127.0.0.2", "7.1.89.10.in-addr.arpa", dns.TYPE_PTR)) == dns.NXDOMAIN


def test_name_of_another_network_is_forwarded_not_resolved(srv, nxdomain_upstream):
    reply = srv.ask("127.0.0.2", "cache", qid=0x1234)
    assert rcode(reply) == dns.NXDOMAIN and answers_of(reply)[3] == []
    assert [q[2] for _, q in nxdomain_upstream.seen] == ["cache"]
    assert rcode(srv.ask("127.0.0.3", "web")) == dns.NXDOMAIN
    assert answers_of(srv.ask("127.0.0.3", "cache"))[3] == [(dns.TYPE_A, "10.89.1.7")]


def test_unknown_name_in_our_domain_is_nxdomain_here(srv, nxdomain_upstream):
    reply = srv.ask("127.0.0.2", "cache.dns.podman")
    assert rcode(reply) == dns.NXDOMAIN
    assert struct.unpack_from("!H", reply, 2)[0] & dns.AA
    assert nxdomain_upstream.seen == []


def test_container_started_later_resolves_at_once(srv):
    assert rcode(srv.ask("127.0.0.2", "late")) == dns.NXDOMAIN
    srv.tables["127.0.0.2"]["late"] = ["10.89.0.9"]
    assert answers_of(srv.ask("127.0.0.2", "late"))[3] == [(dns.TYPE_A, "10.89.0.9")]
    del srv.tables["127.0.0.2"]["web"]
    assert rcode(srv.ask("127.0.0.2", "web")) == dns.NXDOMAIN


def test_upstream_answer_is_relayed_with_the_clients_id():
    up = FakeUpstream("127.0.0.4", "answer")
    r = Running([up.addr])
    try:
        for qid in (1, 0xFFFF, 0x5555):
            reply = r.ask("127.0.0.2", "Example.COM", qid=qid)
            assert answers_of(reply)[3] == [(dns.TYPE_A, "93.184.216.34")]
            assert dns.parse_query(dns.make_query("Example.COM"))[5] in reply
        assert len(up.seen) == 3
        assert all(q[2] == "Example.COM" for _, q in up.seen)
    finally:
        r.close()
        up.close()


def test_silent_upstream_gives_servfail_after_the_timeout():
    up = FakeUpstream("127.0.0.4", "silent")
    r = Running([up.addr], timeout=0.3)
    try:
        start = time.monotonic()
        reply = r.ask("127.0.0.2", "example.com")
        took = time.monotonic() - start
        assert rcode(reply) == dns.SERVFAIL and 0.25 <= took < 2
        # a single label nobody upstream could know: NXDOMAIN rather than SERVFAIL
        assert rcode(r.ask("127.0.0.2", "nosuchcontainer")) == dns.NXDOMAIN
        assert not r.server._pending
    finally:
        r.close()
        up.close()


def test_next_upstream_is_asked_when_the_first_is_silent():
    silent = FakeUpstream("127.0.0.4", "silent")
    good = FakeUpstream("127.0.0.5", "answer")
    r = Running([silent.addr, "not-an-address", "::1", good.addr], timeout=0.6)
    try:
        reply = r.ask("127.0.0.2", "example.org")
        assert answers_of(reply)[3] == [(dns.TYPE_A, "93.184.216.34")]
        assert len(silent.seen) == 1 and len(good.seen) == 1
    finally:
        r.close()
        silent.close()
        good.close()


def test_no_upstreams():
    r = Running([])
    try:
        assert rcode(r.ask("127.0.0.2", "example.com")) == dns.SERVFAIL
        assert rcode(r.ask("127.0.0.2", "other")) == dns.NXDOMAIN
        assert answers_of(r.ask("127.0.0.2", "web"))[3] == [(dns.TYPE_A, "10.89.0.5")]
    finally:
        r.close()


def test_never_forwards_to_itself():
    r = Running([])
    try:
        r.server.set_upstreams([f"127.0.0.2:{r.port}"])
        assert rcode(r.ask("127.0.0.2", "example.com")) == dns.SERVFAIL
    finally:
        r.close()


def test_malformed_packets_are_dropped_and_serving_goes_on(srv):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.3)
        for junk in (b"", b"\x00", os.urandom(300), b"\x00" * 12 + b"\xc0\x0c\x00\x01\x00\x01",
                     dns.build_response(1, 0, dns.make_query("web")[12:])):
            s.sendto(junk, ("127.0.0.2", srv.port))
        with pytest.raises(TimeoutError):
            s.recvfrom(512)
    assert answers_of(srv.ask("127.0.0.2", "web"))[3] == [(dns.TYPE_A, "10.89.0.5")]


def test_a_failing_lookup_means_no_local_names_not_a_dead_server(srv):
    class Broken:
        def get(self, ip):
            raise RuntimeError("holder table broken")

    good, srv.tables = srv.tables, Broken()
    assert rcode(srv.ask("127.0.0.2", "web")) == dns.NXDOMAIN      # forwarded, upstream says no
    srv.tables = good
    assert answers_of(srv.ask("127.0.0.2", "web"))[3] == [(dns.TYPE_A, "10.89.0.5")]


def test_other_opcodes_are_not_implemented(srv):
    packet = bytearray(dns.make_query("web", qid=9))
    packet[2] |= 0x10                   # opcode 2 (STATUS)
    reply = ask("127.0.0.2", srv.port, bytes(packet))
    assert rcode(reply) == dns.NOTIMP


def test_big_answer_is_truncated_on_udp_and_whole_on_tcp(srv):
    udp = srv.ask("127.0.0.2", "many")
    assert len(udp) <= 512 and struct.unpack_from("!H", udp, 2)[0] & dns.TC
    tcp = srv.ask("127.0.0.2", "many", tcp=True)
    assert not struct.unpack_from("!H", tcp, 2)[0] & dns.TC
    assert len(answers_of(tcp)[3]) == 40


def test_tcp_local_and_forwarded(srv):
    assert answers_of(srv.ask("127.0.0.2", "db", tcp=True))[3] == [(dns.TYPE_A, "10.89.0.6")]
    assert rcode(srv.ask("127.0.0.3", "db", tcp=True)) == dns.NXDOMAIN


def test_tcp_several_queries_on_one_connection_and_half_close(srv):
    with socket.create_connection(("127.0.0.2", srv.port), timeout=3) as s:
        queries = [dns.make_query("web", qid=1), dns.make_query("example.net", qid=2)]
        s.sendall(b"".join(struct.pack("!H", len(q)) + q for q in queries))
        s.shutdown(socket.SHUT_WR)     # the forwarded answer must still arrive
        buf = b""
        while chunk := s.recv(4096):
            buf += chunk
    replies = []
    while buf:
        n = struct.unpack_from("!H", buf)[0]
        replies.append(buf[2:2 + n])
        buf = buf[2 + n:]
    assert sorted((struct.unpack_from("!H", r)[0], rcode(r)) for r in replies) == [(1, 0), (2, dns.NXDOMAIN)]


def test_slow_tcp_client_does_not_block_udp(srv):
    with socket.create_connection(("127.0.0.2", srv.port), timeout=3) as s:
        s.sendall(b"\x00\x40\x00")      # a length and one byte, then nothing
        start = time.monotonic()
        assert answers_of(srv.ask("127.0.0.2", "web"))[3] == [(dns.TYPE_A, "10.89.0.5")]
        assert time.monotonic() - start < 1


def test_bind_is_idempotent_and_unbind_frees_the_address(nxdomain_upstream):
    r = Running([nxdomain_upstream.addr])
    assert answers_of(r.ask("127.0.0.2", "web"))[3] == [(dns.TYPE_A, "10.89.0.5")]
    r.close()                           # single-threaded: (un)bind from the thread that serves
    server, port = r.server, r.port
    server.bind("127.0.0.2", port)
    server.bind("127.0.0.3", port)
    try:
        fds = sorted(server.fileno_set())
        server.bind("127.0.0.2", port)
        assert sorted(server.fileno_set()) == fds
        server.unbind("127.0.0.3")
        server.unbind("127.0.0.3")
        assert len(server.fileno_set()) == len(fds) - 2
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.3", port))     # free again
        with pytest.raises(OSError):
            server.bind("192.0.2.1", port)  # not an address of this host
        assert len(server.fileno_set()) == len(fds) - 2
    finally:
        server.close()
    assert server.fileno_set() == []


def test_driven_by_the_holders_own_loop():
    """What the holder does: poll fileno_set(), handle() the readable ones, expire() now and then."""
    tables = {"127.0.0.2": {"web": ["10.89.0.5"]}}
    server = dns.Server(tables.get, [], timeout=0.2)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.2", 0))
        port = probe.getsockname()[1]
    server.bind("127.0.0.2", port)
    server.handle(12345)                # an unknown descriptor: ignored
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
            c.sendto(dns.make_query("web", qid=77), ("127.0.0.2", port))
            ready, _, _ = select.select(server.fileno_set(), [], [], 2)
            for fd in ready:
                server.handle(fd)
            server.expire()
            c.settimeout(2)
            reply = c.recv(512)
        qid, _, _, answers = answers_of(reply)
        assert (qid, answers) == (77, [(dns.TYPE_A, "10.89.0.5")])
    finally:
        server.close()
