"""The published-port forwarder for TCP and UDP (podman's "rootlessport", but keeping the client's
address).

Forked by the supervisor once the container's pid 1 exists (before "go"):
  1. binds and listens on every published TCP host port, in the host's network namespace — a
     port in use is reported before the container runs;
  2. joins the container's user namespace (rootless) and network namespace: sockets made from
     now on live in the container's namespace, the listeners stay on the host;
  3. sets up, inside the container's namespace (where it is root), a policy route that delivers
     replies *from* loopback back to local sockets:
         ip rule add from 127.0.0.1/8 iif lo table 4242
         ip route add local 0.0.0.0/0 dev lo table 4242      (and the same for ::1)
     so it can connect to the server over the container's loopback from a socket bound
     (IP_TRANSPARENT) to the client's real address: the server sees the real peer, and its
     replies come back to the forwarder;
  4. says "ok" (or the error) on the ready pipe, then relays each connection with splice(2) in
     two threads (half-closes passed on), until the supervisor closes the `alive` pipe or kills it.

Only traffic from the container's loopback addresses is affected by the rule: the container's own
outbound connections (from 10.0.2.100) route as before.
"""

from __future__ import annotations

import os
import socket
import threading

TABLE = "4242"
IP_TRANSPARENT = 19
IPV6_TRANSPARENT = 75
CHUNK = 1 << 20


def _ip(exe: str, *args: str) -> int:
    null = [(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
            (os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0)]
    pid = os.posix_spawn(exe, [exe, *args], {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
                         file_actions=null)
    _, st = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(st)


def setup_routes(v6: bool) -> bool:
    """The loopback policy route (see above); False if it could not be made."""
    from pypod.network.slirp import find

    exe = find("ip")
    if exe is None:
        return False
    _ip(exe, "link", "set", "lo", "up")
    ok = _ip(exe, "rule", "add", "from", "127.0.0.0/8", "iif", "lo", "table", TABLE) == 0 and \
        _ip(exe, "route", "add", "local", "0.0.0.0/0", "dev", "lo", "table", TABLE) == 0
    if v6:
        ok = ok and _ip(exe, "-6", "rule", "add", "from", "::1", "iif", "lo", "table", TABLE) == 0 \
            and _ip(exe, "-6", "route", "add", "local", "::/0", "dev", "lo", "table", TABLE) == 0
    return ok


def listen(ip: str, port: int) -> socket.socket:
    v6 = ":" in ip
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if v6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((ip or "0.0.0.0", port))
    s.listen(1024)
    return s


def _splice(src: socket.socket, dst: socket.socket) -> None:
    r, w = os.pipe()
    try:
        try:
            import fcntl

            fcntl.fcntl(w, 1031, CHUNK)  # F_SETPIPE_SZ
        except OSError:
            pass
        sfd, dfd = src.fileno(), dst.fileno()
        while True:
            n = os.splice(sfd, w, CHUNK)
            if n == 0:
                break
            while n:
                n -= os.splice(r, dfd, n)
    except OSError:
        pass
    finally:
        os.close(r)
        os.close(w)
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def _connect(peer: tuple, port: int, transparent: bool) -> socket.socket:
    """A socket in the container's namespace to its loopback:port, from the client's address."""
    v6 = ":" in peer[0] and not peer[0].startswith("::ffff:")
    if transparent:
        try:
            s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_STREAM)
            try:
                if v6:
                    s.setsockopt(socket.IPPROTO_IPV6, IPV6_TRANSPARENT, 1)
                else:
                    s.setsockopt(socket.SOL_IP, IP_TRANSPARENT, 1)
                s.bind((peer[0], 0))
                s.connect(("::1" if v6 else "127.0.0.1", port))
                return s
            except OSError:
                s.close()
        except OSError:
            pass
    # the plain way (the server sees a loopback peer): no transparency, or a v4-only server
    return socket.create_connection(("127.0.0.1", port))


def _serve(c: socket.socket, peer: tuple, port: int, transparent: bool) -> None:
    import time

    u = None
    for delay in (0.05, 0.2, 0.5, 1.0, 0):  # a server with a short listen queue: try again
        try:
            u = _connect(peer, port, transparent)
            break
        except OSError:
            if delay:
                time.sleep(delay)
    if u is None:
        c.close()
        return
    t = threading.Thread(target=_splice, args=(u, c), daemon=True)
    t.start()
    _splice(c, u)
    t.join()
    c.close()
    u.close()


UDP_IDLE = 60.0  # seconds without a reply before a UDP client's mapping is dropped


def _udp_socket(peer: tuple, port: int, transparent: bool) -> socket.socket:
    """A UDP socket in the container's namespace, connected to its loopback:port and bound to
    the client's own address and port (IP_TRANSPARENT): the server sees the real client, and its
    replies come back here through the loopback policy route."""
    ip = peer[0][7:] if peer[0].startswith("::ffff:") else peer[0]
    v6 = ":" in ip
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
    try:
        if transparent:
            try:
                if v6:
                    s.setsockopt(socket.IPPROTO_IPV6, IPV6_TRANSPARENT, 1)
                else:
                    s.setsockopt(socket.SOL_IP, IP_TRANSPARENT, 1)
                s.bind((ip, peer[1]))
            except OSError:
                s.close()
                s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
        s.connect(("::1" if v6 else "127.0.0.1", port))
        return s
    except OSError:
        s.close()
        raise


def _udp_back(u: socket.socket, hs: socket.socket, peer: tuple, clients: dict) -> None:
    """Replies of the server to one client, until it is quiet for UDP_IDLE."""
    u.settimeout(UDP_IDLE)
    while True:
        try:
            data = u.recv(65535)
        except OSError:  # (socket.timeout too)
            break
        try:
            hs.sendto(data, peer)
        except OSError:
            pass
    clients.pop(peer, None)
    u.close()


def _udp_loop(hs: socket.socket, port: int, transparent: bool) -> None:
    clients: dict = {}
    while True:
        try:
            data, peer = hs.recvfrom(65535)
        except OSError:
            return
        u = clients.get(peer)
        if u is None:
            try:
                u = _udp_socket(peer, port, transparent)
            except OSError:
                continue
            clients[peer] = u
            threading.Thread(target=_udp_back, args=(u, hs, peer, clients), daemon=True).start()
        try:
            u.send(data)
        except OSError:
            pass


def listen_udp(ip: str, port: int) -> socket.socket:
    v6 = ":" in ip
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
    if v6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((ip or "0.0.0.0", port))
    return s


def _accept_loop(ls: socket.socket, port: int, transparent: bool) -> None:
    while True:
        try:
            c, peer = ls.accept()
        except OSError:
            return
        threading.Thread(target=_serve, args=(c, peer, port, transparent), daemon=True).start()


def run(ports: list[dict], pid: int, rootless: bool, ready_w: int, alive_r: int) -> None:
    """In the forked child; never returns."""
    try:
        socks = []
        any_v6 = [any(":" in (m.get("host_ip") or "") for m in ports)]
        for m in ports:
            ip = m.get("host_ip") or ""
            proto = m.get("protocol") or "tcp"
            bind = listen if proto == "tcp" else listen_udp
            try:
                socks.append((bind(ip, int(m["host_port"])), int(m["container_port"]), proto))
                if not ip:  # all addresses: IPv6 too, as podman's rootlessport (if the host has it)
                    try:
                        socks.append((bind("::", int(m["host_port"])), int(m["container_port"]),
                                      proto))
                        any_v6[0] = True
                    except OSError as e6:
                        if e6.errno not in (97, 99):  # EAFNOSUPPORT, EADDRNOTAVAIL: no IPv6
                            raise
            except OSError as e:
                addr = f"[{ip}]" if ":" in ip else (ip or "0.0.0.0")
                os.write(ready_w, f"rootlessport listen {proto} {addr}:{m['host_port']}: bind: "
                                  f"{(e.strerror or str(e)).lower()}\n".encode())
                os._exit(1)
        from pypod.linux import libc

        if rootless:
            fd = os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
            libc.setns(fd, libc.CLONE_NEWUSER)
            os.close(fd)
            os.setresgid(0, 0, 0)
            os.setresuid(0, 0, 0)
        fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        libc.setns(fd, libc.CLONE_NEWNET)
        os.close(fd)
        transparent = setup_routes(any_v6[0])
        try:
            libc.set_process_name("pypod-ports")
        except OSError:
            pass
        for s, port, proto in socks:
            loop = _accept_loop if proto == "tcp" else _udp_loop
            threading.Thread(target=loop, args=(s, port, transparent), daemon=True).start()
        os.write(ready_w, b"ok\n")
        os.close(ready_w)
    except BaseException as e:  # noqa: BLE001
        try:
            from pypod.errors import describe

            os.write(ready_w, f"port forwarder: {describe(e)}\n".encode())
        except OSError:
            pass
        os._exit(1)
    try:
        while os.read(alive_r, 1):
            pass
    except OSError:
        pass
    os._exit(0)


class Forwarder:
    def __init__(self, pid: int, alive_w: int):
        self.pid, self.alive_w = pid, alive_w

    def stop(self) -> None:
        if self.alive_w >= 0:
            os.close(self.alive_w)
            self.alive_w = -1
        pid, self.pid = self.pid, 0
        if pid:
            try:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
            except (OSError, ChildProcessError):
                pass


def start(ports: list[dict], pid: int, rootless: bool) -> Forwarder:
    """Fork the forwarder for the container whose pid 1 is `pid`; returns once it listens and
    is set up, or raises NetError with podman's message."""
    from pypod.network.slirp import NetError

    ready_r, ready_w = os.pipe()
    alive_r, alive_w = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the forked forwarder
        keep = {0, 1, 2, ready_w, alive_r}
        for name in os.listdir("/proc/self/fd"):  # nothing of the supervisor's but our pipes
            fd = int(name)
            if fd not in keep:
                try:
                    os.close(fd)
                except OSError:
                    pass
        try:
            from pypod.linux.spawn import reset_signals

            reset_signals()
            os.setsid()
        except OSError:
            pass
        run(ports, pid, rootless, ready_w, alive_r)
    os.close(ready_w)
    os.close(alive_r)
    msg = b""
    while True:
        chunk = os.read(ready_r, 4096)
        if not chunk:
            break
        msg += chunk
        if msg.endswith(b"\n"):
            break
    os.close(ready_r)
    fw = Forwarder(child, alive_w)
    if msg.strip() != b"ok":
        fw.stop()
        text = msg.decode(errors="replace").strip() or "the port forwarder failed"
        # a busy port fails the start, not the create: podman's 126, the container is kept
        raise NetError(text, 126 if text.startswith("rootlessport listen") else 125)
    return fw
