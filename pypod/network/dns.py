"""The name server of user-defined networks (our aardvark-dns), standard library only.

Containers on a user network have the network's gateway address (10.89.0.1 on bridge podman1,
…) as their nameserver and `dns.podman` as a search domain. The network namespace holder binds a
`Server` to port 53 of each gateway address and keeps it for its own lifetime: there is no daemon
of our own, the server lives and dies with the holder, inside the namespace the bridges are in.

Per query the socket it arrived on tells the network (one socket per gateway address, so no
IP_PKTINFO), and `lookup(gateway_ip)` gives that network's current name → [ipv4] table:
  - A for a container name or alias of that network (`name` or `name.dns.podman`, any case):
    every address of the name; AAAA and other types for a known name: NOERROR with no answers
    (NXDOMAIN would make resolvers drop the A answer too);
  - PTR for an address of that network: the names that have it, as aardvark does;
  - an unknown name under `dns.podman`: NXDOMAIN here (the zone is ours, nobody upstream knows it);
  - anything else is relayed to the upstream servers, unchanged but for a fresh random id,
    without blocking other queries (a table of pending forwards, expired by `expire`).
    No answer within `timeout`: SERVFAIL — or NXDOMAIN for a single-label name, which no public
    server could have resolved anyway. Names of other networks are unknown here, so they are
    forwarded like any other name and do not resolve.
Malformed packets are dropped. TCP is served too (length-prefixed, one or more queries per
connection); its sockets are non-blocking like the rest, so a slow TCP client holds up nobody.
"""

from __future__ import annotations

import os
import select
import socket
import struct
import time
from collections.abc import Callable

DOMAIN = "dns.podman"
TTL = 0                 # records change as containers come and go; the server is one hop away
TIMEOUT = 2.0           # how long a forwarded query may wait for upstream

TYPE_A, TYPE_PTR, TYPE_AAAA, TYPE_ANY = 1, 12, 28, 255
CLASS_IN, CLASS_ANY = 1, 255
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5
QR, AA, TC, RD, RA = 0x8000, 0x0400, 0x0200, 0x0100, 0x0080
OPCODE_MASK = 0x7800

UDP_LIMIT = 512         # no EDNS on our own answers: a bigger one is truncated (TC) and retried on TCP
MAX_PENDING = 1024      # forwards in flight; the oldest is failed to make room
MAX_TCP = 64            # open TCP clients; the least recently active is dropped to make room
TCP_IDLE = 5.0          # an idle TCP client is closed after this many seconds
UDP_BURST = 64          # datagrams read per handle() call, so one busy socket cannot starve others

_ARPA = ".in-addr.arpa"
_SUFFIX = "." + DOMAIN

Lookup = Callable[[str], "dict[str, list[str]] | None"]


# ---------------------------------------------------------------------------------------------
# Wire format (RFC 1035), pure


def read_name(packet: bytes, offset: int) -> tuple[list[bytes], int] | None:
    """The labels of the name at `offset` and the offset just past it, or None if malformed.

    Compression pointers are followed only backwards, each one before the previous jump's
    target, so a loop (or a pointer into itself) is rejected instead of spinning forever.
    """
    labels: list[bytes] = []
    total = 1
    pos = offset
    floor = offset          # every pointer must go strictly below this
    end = None              # where the name ends in the packet (after the first pointer)
    while True:
        if pos >= len(packet):
            return None
        n = packet[pos]
        if n & 0xC0 == 0xC0:
            if pos + 1 >= len(packet):
                return None
            target = ((n & 0x3F) << 8) | packet[pos + 1]
            if target >= floor:
                return None
            if end is None:
                end = pos + 2
            floor = pos = target
            continue
        if n & 0xC0:
            return None     # 0x40 / 0x80: obsolete label types
        if n == 0:
            return labels, (end if end is not None else pos + 1)
        total += n + 1
        if total > 255 or pos + 1 + n > len(packet):
            return None
        labels.append(packet[pos + 1:pos + 1 + n])
        pos += 1 + n


def encode_name(name: str) -> bytes | None:
    """A dotted name in wire form (uncompressed), or None if it cannot be one."""
    name = name.strip(".")
    out = bytearray()
    for label in name.split(".") if name else []:     # "" or ".": the root
        try:
            raw = label.encode("ascii")
        except UnicodeEncodeError:
            return None
        if not raw or len(raw) > 63:
            return None
        out += bytes([len(raw)]) + raw
    out += b"\x00"
    return bytes(out) if len(out) <= 255 else None


def _question(packet: bytes) -> tuple[str, int, int, bytes] | None:
    """The single question of a message: (qname, qtype, qclass, question in wire form)."""
    if len(packet) < 12 or struct.unpack_from("!H", packet, 4)[0] != 1:
        return None
    parsed = read_name(packet, 12)
    if parsed is None:
        return None
    labels, pos = parsed
    if pos + 4 > len(packet):
        return None
    qtype, qclass = struct.unpack_from("!HH", packet, pos)
    # Re-encoded without pointers (so it can be echoed anywhere), keeping the client's case:
    # resolvers doing 0x20 randomisation compare it byte for byte.
    wire = b"".join(bytes([len(x)]) + x for x in labels) + b"\x00" + struct.pack("!HH", qtype, qclass)
    return ".".join(x.decode("latin-1") for x in labels), qtype, qclass, wire


def parse_query(packet: bytes) -> tuple[int, int, str, int, int, bytes] | None:
    """(id, flags, qname, qtype, qclass, question_bytes) of a query, or None if it is not one.

    qname is dotted, without the trailing dot, in the client's case; question_bytes is the
    question section in uncompressed wire form, ready to be echoed in a response.
    """
    try:
        if len(packet) < 12:
            return None
        qid, flags = struct.unpack_from("!HH", packet, 0)
        if flags & QR:
            return None
        q = _question(packet)
        if q is None:
            return None
        return (qid, flags, *q)
    except (struct.error, IndexError, ValueError):
        return None


def build_response(qid: int, flags: int, question: bytes, rcode: int = NOERROR,
                   answers: list[tuple[int, int, bytes]] | tuple = (), *,
                   aa: bool = True, limit: int | None = None) -> bytes:
    """A response to the query (qid, flags) echoing `question`.

    `answers` are (rtype, ttl, rdata), all owned by the question's name (a pointer to offset
    12). QR and RA are set, the opcode and RD copied from the query. If the message would be
    longer than `limit`, answers are left off and TC set.
    """
    out_flags = QR | RA | (flags & (OPCODE_MASK | RD)) | (rcode & 0xF) | (AA if aa else 0)
    records = [b"\xc0\x0c" + struct.pack("!HHIH", rtype, CLASS_IN, ttl & 0xFFFFFFFF, len(rdata)) + rdata
               for rtype, ttl, rdata in answers]
    size = 12 + len(question) + sum(map(len, records))
    if limit is not None and size > limit:
        out_flags |= TC
        while records and size > limit:
            size -= len(records.pop())
    header = struct.pack("!HHHHHH", qid, out_flags, 1 if question else 0, len(records), 0, 0)
    return header + question + b"".join(records)


def make_query(qname: str, qtype: int = TYPE_A, qid: int = 0, rd: bool = True) -> bytes:
    """A query for `qname` (for tests and health checks)."""
    name = encode_name(qname)
    if name is None:
        raise ValueError(f"not a domain name: {qname!r}")
    return struct.pack("!HHHHHH", qid, RD if rd else 0, 1, 0, 0, 0) + name + struct.pack("!HH", qtype, CLASS_IN)


def ptr_name_to_ip(qname: str) -> str | None:
    """'5.0.89.10.in-addr.arpa' → '10.89.0.5'; None for anything that is not a full IPv4 one."""
    name = qname.lower().rstrip(".")
    if not name.endswith(_ARPA):
        return None
    parts = name[:-len(_ARPA)].split(".")
    if len(parts) != 4:
        return None
    for p in parts:
        if not (p.isdigit() and p.isascii()) or str(int(p)) != p or int(p) > 255:
            return None
    return ".".join(reversed(parts))


def _parse_upstream(spec: str) -> tuple[str, int] | None:
    host, _, port = spec.strip().partition(":")
    try:
        socket.inet_pton(socket.AF_INET, host)
        num = int(port) if port else 53
    except (OSError, ValueError):
        return None     # IPv6 or garbage from a host resolv.conf: not usable from here
    return (host, num) if 0 < num < 65536 else None


# ---------------------------------------------------------------------------------------------
# The server


class _Conn:
    """One TCP client."""

    __slots__ = ("buf", "deadline", "eof", "local_ip", "pending", "sock")

    def __init__(self, sock: socket.socket, local_ip: str, deadline: float) -> None:
        self.sock = sock
        self.local_ip = local_ip
        self.buf = b""
        self.deadline = deadline
        self.pending = 0        # forwards still owed to this client
        self.eof = False


class _Forward:
    """A query relayed upstream, waiting for its answer."""

    __slots__ = ("client", "deadline", "flags", "index", "key", "packet", "qid", "question",
                 "retry_at", "sent", "single", "upstreams")

    def __init__(self, client, qid, flags, question, key, single, packet, upstreams, deadline):
        self.client = client        # ("udp", socket, addr) or ("tcp", _Conn)
        self.qid = qid
        self.flags = flags
        self.question = question
        self.key = key              # (qname lowercased, qtype, qclass): the answer must match it
        self.single = single        # single-label name: NXDOMAIN when upstream fails
        self.packet = packet        # the client's query with our id
        self.upstreams = upstreams
        self.index = -1             # upstream tried last
        self.sent: set[tuple[str, int]] = set()
        self.retry_at = 0.0
        self.deadline = deadline


class Server:
    """The DNS server for the gateway addresses it is bound to.

    Either run `serve_forever`, or poll `fileno_set()` (asking again each turn: TCP clients come
    and go), call `handle(fd)` for each readable one, and `expire()` every half second or so.
    Not thread-safe: one thread drives it.
    """

    def __init__(self, lookup: Lookup, upstreams: list[str], *,
                 timeout: float = TIMEOUT, ttl: int = TTL) -> None:
        self._lookup = lookup
        self._timeout = timeout
        self._ttl = ttl
        self._upstreams: list[tuple[str, int]] = []
        self.set_upstreams(upstreams)
        self._bound: dict[str, tuple[int, socket.socket, socket.socket]] = {}   # ip → port, udp, tcp
        self._handlers: dict[int, Callable[[], None]] = {}
        self._conns: dict[int, _Conn] = {}
        self._pending: dict[int, _Forward] = {}
        self._fwd: socket.socket | None = None

    # -- wiring -----------------------------------------------------------------------------

    def set_upstreams(self, upstreams: list[str]) -> None:
        """Replace the upstream servers ("ip" or "ip:port"; unusable entries are skipped)."""
        parsed = (_parse_upstream(u) for u in upstreams)
        self._upstreams = [u for u in parsed if u is not None]

    def bind(self, ip: str, port: int = 53) -> None:
        """Serve UDP and TCP on ip:port (again for the same address: nothing). Raises OSError."""
        if ip in self._bound and self._bound[ip][0] == port:
            return
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            udp.setblocking(False)
            udp.bind((ip, port))
            tcp.setblocking(False)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.bind((ip, port))
            tcp.listen(64)
            if self._fwd is None:
                # Made here, not in __init__, so that it lives in the namespace we serve in.
                fwd = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                fwd.setblocking(False)
                self._fwd = fwd
                self._handlers[fwd.fileno()] = self._on_upstream
        except BaseException:
            udp.close()
            tcp.close()
            raise
        self.unbind(ip)     # moved to another port: the old sockets go only once the new ones are up
        self._bound[ip] = (port, udp, tcp)
        self._handlers[udp.fileno()] = lambda: self._on_udp(udp, ip)
        self._handlers[tcp.fileno()] = lambda: self._on_accept(tcp, ip)

    def unbind(self, ip: str) -> None:
        """Stop serving on ip, closing its sockets and its TCP clients."""
        entry = self._bound.pop(ip, None)
        if entry is None:
            return
        for sock in entry[1:]:
            self._handlers.pop(sock.fileno(), None)
            sock.close()
        for conn in [c for c in self._conns.values() if c.local_ip == ip]:
            self._close(conn)

    def close(self) -> None:
        """Unbind everything and drop the forwards in flight."""
        for ip in list(self._bound):
            self.unbind(ip)
        self._pending.clear()
        if self._fwd is not None:
            self._handlers.pop(self._fwd.fileno(), None)
            self._fwd.close()
            self._fwd = None

    def fileno_set(self) -> list[int]:
        """The descriptors to watch for reading right now."""
        return list(self._handlers)

    def handle(self, fd: int) -> None:
        """Service one readable descriptor; an unknown one is ignored. Never raises."""
        handler = self._handlers.get(fd)
        if handler is None:
            return
        try:
            handler()
        except Exception:  # noqa: BLE001, S110 - one bad packet or client must not end the holder's loop
            pass

    def expire(self) -> None:
        """Move on or give up on slow forwards; close idle TCP clients."""
        now = time.monotonic()
        for nid, fw in list(self._pending.items()):
            if now >= fw.deadline:
                del self._pending[nid]
                self._fail(fw)
            elif now >= fw.retry_at and fw.index + 1 < len(fw.upstreams):
                self._send_upstream(nid, fw, now)
        for conn in list(self._conns.values()):
            if now >= conn.deadline and conn.pending == 0:
                self._close(conn)

    def next_deadline(self) -> float | None:
        """When `expire` next has work (time.monotonic()), or None if it has none."""
        # Only what expire() would act on: a past time here would make serve_forever spin.
        times = [min(fw.deadline, fw.retry_at) for fw in self._pending.values()]
        times += [c.deadline for c in self._conns.values() if c.pending == 0]
        return min(times) if times else None

    def serve_forever(self, stop_fd: int | None = None) -> None:
        """Serve until stop_fd is readable or closed (or forever without one)."""
        while True:
            poller = select.poll()
            for fd in self.fileno_set():
                poller.register(fd, select.POLLIN)
            if stop_fd is not None:
                poller.register(stop_fd, select.POLLIN)
            due = self.next_deadline()
            wait = None if due is None else max(0, int((due - time.monotonic()) * 1000) + 1)
            try:
                events = poller.poll(wait)
            except InterruptedError:
                continue
            for fd, _ in events:
                if fd == stop_fd:
                    return
                self.handle(fd)
            self.expire()

    # -- receiving --------------------------------------------------------------------------

    def _on_udp(self, sock: socket.socket, local_ip: str) -> None:
        for _ in range(UDP_BURST):
            try:
                packet, addr = sock.recvfrom(65535)
            except BlockingIOError:
                return
            except OSError:
                continue    # an ICMP error queued on the socket: read past it
            try:
                self._query(local_ip, packet, ("udp", sock, addr), UDP_LIMIT)
            except Exception:  # noqa: BLE001, S110 - drop this packet, keep reading the others
                pass

    def _on_accept(self, listener: socket.socket, local_ip: str) -> None:
        for _ in range(16):
            try:
                sock, _addr = listener.accept()
            except BlockingIOError:
                return
            except OSError:
                continue
            if len(self._conns) >= MAX_TCP:
                self._close(min(self._conns.values(), key=lambda c: c.deadline))
            sock.setblocking(False)
            # Room for a whole answer in the kernel, so replying never waits for the client.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 17)
            conn = _Conn(sock, local_ip, time.monotonic() + TCP_IDLE)
            self._conns[sock.fileno()] = conn
            self._handlers[sock.fileno()] = lambda conn=conn: self._on_conn(conn)

    def _on_conn(self, conn: _Conn) -> None:
        try:
            data = conn.sock.recv(65537 - len(conn.buf))
        except BlockingIOError:
            return
        except OSError:
            self._close(conn)
            return
        if not data:
            conn.eof = True
            self._handlers.pop(conn.sock.fileno(), None)    # nothing more to read
            if conn.pending == 0 or conn.buf:
                self._close(conn)
            return
        conn.buf += data
        conn.deadline = time.monotonic() + TCP_IDLE
        while len(conn.buf) >= 2:
            size = struct.unpack_from("!H", conn.buf)[0]
            if size < 12:
                self._close(conn)
                return
            if len(conn.buf) < 2 + size:
                break
            packet, conn.buf = conn.buf[2:2 + size], conn.buf[2 + size:]
            self._query(conn.local_ip, packet, ("tcp", conn), None)

    def _on_upstream(self) -> None:
        assert self._fwd is not None
        for _ in range(UDP_BURST):
            try:
                packet, addr = self._fwd.recvfrom(65535)
            except BlockingIOError:
                return
            except OSError:
                continue
            if len(packet) < 12:
                continue
            nid, flags = struct.unpack_from("!HH", packet, 0)
            fw = self._pending.get(nid)
            # Only the server we asked, answering the question we asked, is believed.
            if fw is None or addr not in fw.sent or not flags & QR:
                continue
            q = _question(packet)
            if q is None or (q[0].lower(), q[1], q[2]) != fw.key:
                continue
            if (flags & 0xF) in (SERVFAIL, REFUSED) and fw.index + 1 < len(fw.upstreams):
                self._send_upstream(nid, fw, time.monotonic())
                continue
            del self._pending[nid]
            self._reply(fw.client, struct.pack("!H", fw.qid) + packet[2:], forwarded=True)

    # -- answering --------------------------------------------------------------------------

    def _query(self, local_ip: str, packet: bytes, client, limit: int | None) -> None:
        q = parse_query(packet)
        if q is None:
            return
        qid, flags, qname, qtype, qclass, question = q
        if flags & OPCODE_MASK:
            self._reply(client, build_response(qid, flags, question, NOTIMP, aa=False))
            return
        answers = self._resolve(local_ip, qname, qtype, qclass)
        if answers is not None:
            rcode, records = answers
            self._reply(client, build_response(qid, flags, question, rcode, records, limit=limit))
            return
        self._forward(client, packet, q)

    def _table(self, local_ip: str) -> dict[str, list[str]]:
        try:
            table = self._lookup(local_ip)
        except Exception:  # noqa: BLE001 - a broken table means "no local names", not no DNS
            return {}
        return table or {}

    def _resolve(self, local_ip: str, qname: str, qtype: int, qclass: int):
        """(rcode, answers) if the name is ours to answer, None to forward it."""
        if qclass not in (CLASS_IN, CLASS_ANY):
            return None
        name = qname.lower().rstrip(".")
        ours = name.endswith(_SUFFIX)
        if ours:
            name = name[:-len(_SUFFIX)]
        table = self._table(local_ip)
        if name and name in table:
            if qtype not in (TYPE_A, TYPE_ANY):
                return NOERROR, []
            records = []
            for ip in table[name]:
                try:
                    records.append((TYPE_A, self._ttl, socket.inet_pton(socket.AF_INET, ip)))
                except (OSError, TypeError):
                    pass
            return NOERROR, records
        if qtype in (TYPE_PTR, TYPE_ANY):
            ip = ptr_name_to_ip(name)
            if ip is not None:
                names = [encode_name(n) for n, ips in table.items() if ip in ips]
                records = [(TYPE_PTR, self._ttl, n) for n in names if n is not None]
                if records:
                    return NOERROR, records
        if ours or name == DOMAIN:
            return (NXDOMAIN if name != DOMAIN else NOERROR), []
        return None

    def _forward(self, client, packet: bytes, q) -> None:
        qid, flags, qname, qtype, qclass, question = q
        name = qname.rstrip(".")
        single = bool(name) and "." not in name
        listening = {(ip, port) for ip, (port, _, _) in self._bound.items()}
        upstreams = [u for u in self._upstreams if u not in listening]    # never to ourselves
        now = time.monotonic()
        if len(self._pending) >= MAX_PENDING:
            oldest = next(iter(self._pending))
            self._fail(self._pending.pop(oldest))
        nid = int.from_bytes(os.urandom(2), "big")
        while nid in self._pending:
            nid = int.from_bytes(os.urandom(2), "big")
        fw = _Forward(client, qid, flags, question, (qname.lower(), qtype, qclass), single,
                      struct.pack("!H", nid) + packet[2:], upstreams, now + self._timeout)
        if client[0] == "tcp":
            client[1].pending += 1
        self._pending[nid] = fw
        self._send_upstream(nid, fw, now)

    def _send_upstream(self, nid: int, fw: _Forward, now: float) -> None:
        """Send to the next upstream that takes it; fail the query if none does."""
        # Each upstream gets an equal share of the time before the next one is asked.
        share = self._timeout / max(1, len(fw.upstreams))
        while fw.index + 1 < len(fw.upstreams) and self._fwd is not None:
            fw.index += 1
            addr = fw.upstreams[fw.index]
            try:
                self._fwd.sendto(fw.packet, addr)
            except OSError:
                continue
            fw.sent.add(addr)
            more = fw.index + 1 < len(fw.upstreams)
            fw.retry_at = now + share if more else fw.deadline
            return
        if not fw.sent:
            self._pending.pop(nid, None)
            self._fail(fw)
        else:
            fw.retry_at = fw.deadline   # all asked: wait for any of them until the deadline

    def _fail(self, fw: _Forward) -> None:
        rcode = NXDOMAIN if fw.single else SERVFAIL
        self._reply(fw.client, build_response(fw.qid, fw.flags, fw.question, rcode, aa=False),
                    forwarded=True)

    def _reply(self, client, data: bytes, forwarded: bool = False) -> None:
        if client[0] == "udp":
            try:
                client[1].sendto(data, client[2])
            except OSError:
                pass    # the client is gone or its socket was unbound: nothing to tell anyone
            return
        conn: _Conn = client[1]
        if forwarded:
            conn.pending -= 1
        if conn.sock.fileno() < 0:
            return
        framed = struct.pack("!H", len(data)) + data
        try:
            sent = conn.sock.send(framed)
        except OSError:
            sent = -1
        if sent != len(framed) or (conn.eof and conn.pending <= 0):
            self._close(conn)   # never buffer for a client that does not read

    def _close(self, conn: _Conn) -> None:
        fd = conn.sock.fileno()
        if fd >= 0:
            if self._conns.get(fd) is conn:
                del self._conns[fd]
                self._handlers.pop(fd, None)
            conn.sock.close()
