"""slirp4netns for a container's network namespace (run by the supervisor, outside every
container namespace; it joins the container's user and network namespaces itself).

Addressing as podman's: 10.0.2.0/24, the container 10.0.2.100 on tap0, gateway 10.0.2.2 (the
host's loopback when allow_host_loopback=true), DNS forwarder 10.0.2.3.

Published ports use slirp4netns's own forwarding (`add_hostfwd` on its API socket): the host
socket is slirp4netns's, and slirp hands the connection into the container with the client's
real source address (a loopback client appears as the gateway, 10.0.2.2). podman's default
"rootlessport" proxy replaces every source with an internal address instead.

Imports: cheap standard-library modules only (the supervisor imports this).
"""

from __future__ import annotations

import os
import select
import time

from pypod.store.container_config import NetConfig

API_SOCKET = "slirp4netns.sock"
LOG = "slirp4netns.log"
READY_TIMEOUT = 10.0


class NetError(Exception):
    def __init__(self, message: str, code: int = 125):
        super().__init__(message)
        self.message, self.code = message, code


def cidr_addresses(cidr: str) -> dict:
    """10.0.2.0/24 → guest .100, gateway .2, dns .3."""
    net, _, bits = cidr.partition("/")
    parts = [int(x) for x in net.split(".")]
    base = (parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]

    def ip(n: int) -> str:
        v = base + n
        return ".".join(str((v >> s) & 255) for s in (24, 16, 8, 0))

    return {"ip": ip(100), "gateway": ip(2), "dns": ip(3), "prefix": int(bits or 24)}


def find(name: str, extra: str | None = None) -> str | None:
    """The helper: containers.conf's network_cmd_path when set (and only it), else from PATH."""
    if extra:
        return extra if os.access(extra, os.X_OK) and not os.path.isdir(extra) else None
    for d in (os.environ.get("PATH") or "/usr/local/bin:/usr/bin:/bin").split(":") + \
            ["/usr/libexec/podman", "/usr/lib/podman", "/usr/sbin", "/sbin"]:
        p = os.path.join(d or ".", name)
        if os.access(p, os.X_OK) and not os.path.isdir(p):
            return p
    return None


def check_tun() -> None:
    try:
        fd = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
    except OSError as e:
        raise NetError(f"cannot open /dev/net/tun: {e.strerror}: rootless networking needs a "
                       f"TUN device the user can open (or use --network none|host)") from None
    os.close(fd)


class Slirp:
    """A running slirp4netns (child of the supervisor)."""

    def __init__(self, pid: int, exit_w: int, ready_r: int, cdir: str, opts: NetConfig):
        self.pid, self.exit_w, self.ready_r, self.cdir, self.opts = pid, exit_w, ready_r, cdir, opts
        self.addrs = cidr_addresses(opts.cidr)
        self.forwarder = None
        self.target = 0  # the container's pid 1

    # -------------------------------------------------------------- readiness
    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        if self.ready_r < 0:
            return  # ready already
        deadline = time.monotonic() + timeout
        p = select.poll()
        p.register(self.ready_r, select.POLLIN)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise NetError("slirp4netns did not get ready in time" + self._log_tail())
            if p.poll(int(left * 1000) + 1):
                data = os.read(self.ready_r, 16)
                os.close(self.ready_r)
                self.ready_r = -1
                if not data:
                    raise NetError("slirp4netns failed" + self._log_tail())
                return

    def _log_tail(self) -> str:
        try:
            with open(os.path.join(self.cdir, LOG), "rb") as f:
                lines = [x for x in f.read().decode(errors="replace").splitlines()
                         if x.strip() and not x.startswith(("WARNING: Support for IPv6", "*"))]
        except OSError:
            return ""
        return (": " + lines[-1].strip()) if lines else ""

    # -------------------------------------------------------------- the API socket
    def api(self, request: str) -> str:
        import socket

        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        here = os.open(".", os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.chdir(self.cdir)  # the socket's path may be longer than sun_path allows
            s.connect(API_SOCKET)
        finally:
            os.fchdir(here)
            os.close(here)
        try:
            s.sendall(request.encode())
            s.shutdown(socket.SHUT_WR)
            out = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                out += chunk
        finally:
            s.close()
        return out.decode(errors="replace")

    def add_ports(self, ports: list[dict]) -> None:
        """Through our forwarder (fast, the real client address, IPv6 too); with
        port_handler=slirp4netns through slirp4netns's own forwarding (IPv4 only)."""
        ours, fwds = list(ports), []
        if self.opts.port_handler == "slirp4netns":
            fwds, ours = list(ports), []
        for m in fwds:
            if ":" in (m.get("host_ip") or ""):
                raise NetError(f"slirp4netns cannot publish on the IPv6 address {m['host_ip']}: "
                               f"use the default port handler, or --network pasta")
        if ours:
            from pypod.network import forwarder

            self.forwarder = forwarder.start(ours, self.target, os.geteuid() != 0)
        if fwds:
            self.wait_ready()
            self._add_hostfwds(fwds)

    def _add_hostfwds(self, ports: list[dict]) -> None:
        from pypod import jsonlite

        for m in ports:
            host_ip = m.get("host_ip") or "0.0.0.0"
            req = jsonlite.dumps({"execute": "add_hostfwd", "arguments": {
                "proto": m.get("protocol") or "tcp", "host_addr": host_ip,
                "host_port": int(m["host_port"]), "guest_addr": self.addrs["ip"],
                "guest_port": int(m["container_port"])}})
            try:
                resp = self.api(req)
            except OSError as e:
                raise NetError(f"slirp4netns API: {e.strerror or e}") from None
            if '"error"' in resp:
                addr = f"[{host_ip}]" if ":" in host_ip else host_ip
                why = "address already in use" if _in_use(host_ip, int(m["host_port"]),
                                                            m.get("protocol") or "tcp") \
                    else resp.strip()
                raise NetError(f"rootlessport listen {m.get('protocol') or 'tcp'} "
                               f"{addr}:{m['host_port']}: bind: {why}", 126)  # podman: a start error

    # -------------------------------------------------------------- tear-down
    def begin_stop(self) -> None:
        """slirp4netns exits as soon as its exit fd closes; stop() waits for it."""
        if self.exit_w >= 0:
            os.close(self.exit_w)
            self.exit_w = -1

    def stop(self) -> None:
        if self.forwarder is not None:
            fw, self.forwarder = self.forwarder, None
            fw.stop()
        self.begin_stop()
        if self.ready_r >= 0:
            os.close(self.ready_r)
            self.ready_r = -1
        if not self.pid:
            return
        pid, self.pid = self.pid, 0
        try:
            for _ in range(200):  # it exits at once when the exit fd closes
                done, _st = os.waitpid(pid, os.WNOHANG)
                if done:
                    return
                time.sleep(0.005)
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        except (OSError, ChildProcessError):
            pass
        try:
            os.unlink(os.path.join(self.cdir, API_SOCKET))
        except OSError:
            pass


def _in_use(ip: str, port: int, proto: str) -> bool:
    import socket

    fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((ip, port))
        return False
    except OSError:
        return True
    finally:
        s.close()


def start(pid: int, cdir: str, opts: NetConfig) -> Slirp:
    """Spawn slirp4netns for the network namespace of `pid` (don't wait: wait_ready())."""
    exe = find("slirp4netns", opts.path or None)
    if exe is None:
        if opts.path:
            raise NetError(f"slirp4netns not found at {opts.path} (containers.conf "
                           f"network_cmd_path): fix the path, or use --network none|host")
        raise NetError("slirp4netns not found in $PATH: rootless networking needs it (apt-get "
                       "install slirp4netns), or use --network none|host")
    check_tun()
    argv = [exe, "--configure", f"--mtu={int(opts.mtu)}", f"--cidr={opts.cidr}"]
    if not opts.allow_host_loopback:
        argv.append("--disable-host-loopback")
    if opts.enable_ipv6:
        argv.append("--enable-ipv6")
    if opts.outbound_addr:
        argv.append(f"--outbound-addr={opts.outbound_addr}")
    if opts.outbound_addr6:
        argv.append(f"--outbound-addr6={opts.outbound_addr6}")
    if opts.ports:
        argv.append(f"--api-socket={API_SOCKET}")
    argv += ["--ready-fd=3", "--exit-fd=4", str(pid), "tap0"]
    ready_r, ready_w = os.pipe()
    exit_r, exit_w = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the forked child execs at once
        try:
            from pypod.linux.spawn import reset_signals

            reset_signals()
            os.chdir(cdir)
            log = os.open(LOG, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            null = os.open("/dev/null", os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(log, 1)
            os.dup2(log, 2)
            os.dup2(ready_w, 3)
            os.dup2(exit_r, 4)
            os.closerange(5, 1 << 16)
            os.setsid()
            os.execv(exe, argv)
        except BaseException:  # noqa: BLE001
            pass
        os._exit(127)
    os.close(ready_w)
    os.close(exit_r)
    os.set_inheritable(exit_w, False)
    sl = Slirp(child, exit_w, ready_r, cdir, opts)
    sl.target = pid
    return sl
