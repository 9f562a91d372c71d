"""The holder of a user's shared network namespace: podman's rootless-netns, netavark and
aardvark-dns in one short-lived process pair.

    python -I -S -c … pypod.network.holder --run-root RUN --ready-fd 3 [--userns-dir D] [--options J]

Started by the first container that joins a user network (rootlessnet.ensure_holder, under the
user-network lock); it ends itself once no container holds an address on any user network for
GRACE seconds. Two processes:

- the outer one (the user, outside every namespace) runs slirp4netns (or pasta) for the namespace
  — the uplink — and ends it when the core exits;
- the core joins the shared user namespace (registering there as a holder), unshares a network
  namespace and owns everything in it: a bridge per user network (its gateway address on it),
  the veth of each container (the other end moved into the container's own network namespace,
  configured there: address, MAC, default route), nftables NAT out through the uplink, the
  isolation of --internal networks, and the name server on each network's gateway address
  (pypod.network.dns) that answers with the names and aliases of the network's live leases.

Doing the veth work here (one long-lived process with pyroute2 imported once) keeps a container's
start on a user network at a few milliseconds of netlink instead of a fresh pyroute2 import.
"""

from __future__ import annotations

import json
import os
import select
import socket
import sys
import time

from pypod.network import rootlessnet, slirp
from pypod.network.slirp import NetError
from pypod.store.container_config import NetConfig

GRACE = float(os.environ.get("PYPOD_NETNS_GRACE") or 10)
TICK = 0.5


def _report(fd: int, msg: dict) -> None:
    if fd >= 0:
        try:
            os.write(fd, json.dumps(msg).encode() + b"\n")
        except OSError:
            pass


class Core:
    def __init__(self, run_root: str, uplink_dns: list[str]):
        from pyroute2 import IPRoute

        from pypod.network import dns

        self.run_root = run_root
        self.dir = rootlessnet.netns_dir(run_root)
        self.ipr = IPRoute()
        self.own = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        self.nets: dict[str, dict] = {}   # bridge → its endpoint request (network, subnet, …)
        self.gw2net: dict[str, str] = {}  # gateway address → network name (for the resolver)
        self.uplink = ""
        self.nft = slirp.find("nft")
        self.dns = dns.Server(self.lookup, uplink_dns)
        self._cache: dict[str, tuple] = {}
        self.ctl: socket.socket | None = None

    # -- the namespace -----------------------------------------------------------------------------
    def setup(self) -> None:
        lo = self.ipr.link_lookup(ifname="lo")
        if lo:
            self.ipr.link("set", index=lo[0], state="up")
        with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
            f.write("1")
        for r in self.ipr.get_default_routes(family=socket.AF_INET):
            idx = r.get_attr("RTA_OIF")
            if idx:
                self.uplink = self.ipr.get_links(idx)[0].get_attr("IFLA_IFNAME")
                break
        if self.nft is None:
            raise NetError("nft not found: user networks need nftables for their outbound NAT "
                           "(apt-get install nftables), or use the default network")
        self.apply_nft()

    def apply_nft(self) -> None:
        """The whole table, rebuilt: NAT out through the uplink, --internal bridges cut off."""
        rules = []
        for br, n in sorted(self.nets.items()):
            if n.get("internal"):
                rules += [f'iifname "{br}" oifname != "{br}" drop',
                          f'oifname "{br}" iifname != "{br}" drop']
        post = f'oifname "{self.uplink}" masquerade' if self.uplink else ""
        text = ("table ip pypod\ndelete table ip pypod\ntable ip pypod {\n"
                "  chain postrouting {\n    type nat hook postrouting priority 100; policy accept;\n"
                f"    {post}\n  }}\n"
                "  chain forward {\n    type filter hook forward priority 0; policy accept;\n" +
                "".join(f"    {r}\n" for r in rules) + "  }\n}\n")
        import subprocess

        p = subprocess.run([self.nft, "-f", "-"], input=text.encode(), capture_output=True)
        if p.returncode != 0:
            raise NetError("nftables in the network namespace: " +
                           (p.stderr.decode(errors="replace").strip().splitlines() or ["failed"])[-1])

    def ensure_network(self, ep: dict) -> None:
        br = ep["bridge"]
        have = self.nets.get(br)
        if have and (have["subnet"], have["gateway"], have["network"], have["internal"],
                     have["dns"]) == (ep["subnet"], ep["gateway"], ep["network"], ep["internal"],
                                      ep["dns"]):
            return
        if have:
            self.drop(br)
        idx = self.ipr.link_lookup(ifname=br)
        if not idx:
            self.ipr.link("add", ifname=br, kind="bridge")
            idx = self.ipr.link_lookup(ifname=br)
        self.ipr.addr("add", index=idx[0], address=ep["gateway"], prefixlen=ep["prefix"])
        self.ipr.link("set", index=idx[0], state="up")
        self.nets[br] = {k: ep[k] for k in ("network", "subnet", "gateway", "internal", "dns",
                                            "prefix")}
        self.gw2net[ep["gateway"]] = ep["network"]
        if ep["internal"]:
            self.apply_nft()
        if ep["dns"]:
            self.dns.bind(ep["gateway"])  # (an IPv4 address is usable as soon as it is added)

    def drop(self, br: str) -> None:
        n = self.nets.pop(br, None)
        if n:
            self.gw2net.pop(n["gateway"], None)
            if n.get("dns"):
                self.dns.unbind(n["gateway"])
        idx = self.ipr.link_lookup(ifname=br)
        if idx:
            self.ipr.link("del", index=idx[0])
        if n and n.get("internal"):
            self.apply_nft()

    # -- containers --------------------------------------------------------------------------------
    def attach(self, req: dict) -> dict:
        from pyroute2 import IPRoute

        from pypod.linux import libc

        pid = int(req["pid"])
        eps = req.get("endpoints") or []
        for ep in eps:
            self.ensure_network(ep)
        cfd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            libc.setns(cfd, libc.CLONE_NEWNET)
            try:
                ipc = IPRoute()
            finally:
                libc.setns(self.own, libc.CLONE_NEWNET)
            out = {}
            try:
                lo = ipc.link_lookup(ifname="lo")
                if lo:
                    ipc.link("set", index=lo[0], state="up")
                routed = bool(ipc.get_default_routes(family=socket.AF_INET))
                for ep in eps:
                    host_if = "veth" + os.urandom(4).hex()
                    if ipc.link_lookup(ifname=ep["ifname"]):
                        raise NetError(f"interface {ep['ifname']} already exists in the container")
                    self.ipr.link("add", ifname=host_if, kind="veth",
                                  peer={"ifname": ep["ifname"], "net_ns_fd": cfd})
                    hidx = self.ipr.link_lookup(ifname=host_if)[0]
                    bidx = self.ipr.link_lookup(ifname=ep["bridge"])[0]
                    self.ipr.link("set", index=hidx, master=bidx, state="up")
                    cidx = ipc.link_lookup(ifname=ep["ifname"])[0]
                    if ep.get("mac"):
                        ipc.link("set", index=cidx, address=ep["mac"])
                    ipc.addr("add", index=cidx, address=ep["ip"], prefixlen=ep["prefix"])
                    ipc.link("set", index=cidx, state="up")
                    if not routed and not ep["internal"]:
                        ipc.route("add", dst="0.0.0.0/0", gateway=ep["gateway"])
                        routed = True
                    mac = ipc.get_links(cidx)[0].get_attr("IFLA_ADDRESS")
                    out[ep["network"]] = {"ifname": ep["ifname"], "mac": mac, "host_if": host_if}
            finally:
                ipc.close()
        finally:
            os.close(cfd)
        return {"ok": True, "interfaces": out}

    def detach(self, req: dict) -> dict:
        from pyroute2 import IPRoute

        from pypod.linux import libc

        cfd = os.open(f"/proc/{int(req['pid'])}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            libc.setns(cfd, libc.CLONE_NEWNET)
            try:
                ipc = IPRoute()
            finally:
                libc.setns(self.own, libc.CLONE_NEWNET)
            try:
                idx = ipc.link_lookup(ifname=req["ifname"])
                if idx:
                    ipc.link("del", index=idx[0])  # its veth peer on the bridge goes with it
            finally:
                ipc.close()
        finally:
            os.close(cfd)
        return {"ok": True}

    # -- the resolver's data -------------------------------------------------------------------------
    def lookup(self, local_ip: str):
        from pypod.network import ipam

        name = self.gw2net.get(local_ip)
        if name is None:
            return None
        leases = rootlessnet.live_leases(self.run_root, name)
        return ipam.names_table(leases)

    # -- requests ------------------------------------------------------------------------------------
    def serve_request(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            data = b""
            while not data.endswith(b"\n"):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            try:
                req = json.loads(data or b"{}")
                op = req.get("op")
                if op == "attach":
                    resp = self.attach(req)
                elif op == "detach":
                    resp = self.detach(req)
                elif op == "drop":
                    self.drop(req["bridge"])
                    resp = {"ok": True}
                elif op == "ping":
                    resp = {"ok": True, "pid": os.getpid()}
                else:
                    resp = {"ok": False, "error": f"unknown request {op!r}"}
            except NetError as e:
                resp = {"ok": False, "error": e.message}
            except Exception as e:  # noqa: BLE001 - a request's failure must not end the holder
                from pypod.errors import describe

                resp = {"ok": False, "error": describe(e)}
            conn.sendall(json.dumps(resp).encode() + b"\n")
        except OSError:
            pass
        finally:
            conn.close()

    def listen(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        here = os.open(".", os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.chdir(self.dir)
            try:
                os.unlink(rootlessnet.CTL)
            except FileNotFoundError:
                pass
            s.bind(rootlessnet.CTL)
        finally:
            os.fchdir(here)
            os.close(here)
        s.listen(64)
        self.ctl = s

    def idle_exit_due(self, last_busy: float) -> tuple[bool, float]:
        with rootlessnet.locked(self.run_root):
            if rootlessnet.any_live_lease(self.run_root):
                return False, time.monotonic()
            if time.monotonic() - last_busy < GRACE:
                return False, last_busy
            # gone for the clients before the lock is released: the next one starts a new holder
            for n in (rootlessnet.HOLDER_STATE, rootlessnet.CTL):
                try:
                    os.unlink(os.path.join(self.dir, n))
                except FileNotFoundError:
                    pass
            return True, last_busy

    def loop(self) -> None:
        last_busy = time.monotonic()
        next_tick = time.monotonic() + 1.0
        while True:
            fds = [self.ctl.fileno(), *self.dns.fileno_set()]
            ready, _, _ = select.select(fds, [], [], TICK)
            for fd in ready:
                if fd == self.ctl.fileno():
                    try:
                        conn, _ = self.ctl.accept()
                    except OSError:
                        continue
                    self.serve_request(conn)
                    last_busy = time.monotonic()
                else:
                    self.dns.handle(fd)
            self.dns.expire()
            if time.monotonic() >= next_tick:
                next_tick = time.monotonic() + 1.0
                done, last_busy = self.idle_exit_due(last_busy)
                if done:
                    return


def _core(run_root: str, userns_dir: str | None, ready: int, to_outer: int, from_outer: int,
          kind: str) -> None:
    """The core process; never returns."""
    from pypod.linux import libc, userns
    from pypod.linux.proc import starttime

    code = 0
    try:
        if userns.in_userns_required():
            userns.enter(holder_dir=userns_dir, register=True)
            os.setresgid(0, 0, 0)
            os.setresuid(0, 0, 0)
            libc.prctl(libc.PR_SET_DUMPABLE, 1)  # the user's helpers open our /proc/PID/ns/*
        libc.unshare(libc.CLONE_NEWNET)
        os.write(to_outer, b"n")
        os.close(to_outer)
        answer = b""
        while not answer.endswith(b"\n"):
            chunk = os.read(from_outer, 4096)
            if not chunk:
                break
            answer += chunk
        msg = json.loads(answer or b"{}")
        if not msg.get("ok"):
            raise NetError(msg.get("error") or "the uplink helper failed", int(msg.get("code") or 125))
        upstream = ["10.0.2.3"] if kind == "slirp4netns" else _host_nameservers()
        core = Core(run_root, upstream)
        core.setup()
        core.listen()
        me = {"pid": os.getpid(), "start": starttime(os.getpid())}
        rootlessnet.write_state(os.path.join(core.dir, rootlessnet.HOLDER_STATE), me)
        _report(ready, me)
        os.close(ready)
        ready = -1
        core.loop()
    except NetError as e:
        _report(ready, {"error": e.message, "code": e.code})
        code = 1
    except Exception as e:  # noqa: BLE001
        from pypod.errors import describe

        _report(ready, {"error": f"user network namespace: {describe(e)}"})
        code = 1
    os._exit(code)


def _host_nameservers() -> list[str]:
    out = []
    try:
        with open("/etc/resolv.conf") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "nameserver" and ":" not in parts[1] \
                        and not parts[1].startswith("127."):
                    out.append(parts[1])
    except OSError:
        pass
    return out or ["10.0.2.3"]


def main(argv: list[str]) -> None:
    run_root, userns_dir, ready, opts = "", None, -1, {}
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == "--run-root":
            run_root = args.pop(0)
        elif a == "--userns-dir":
            userns_dir = args.pop(0)
        elif a == "--ready-fd":
            ready = int(args.pop(0))
        elif a == "--options":
            opts = json.loads(args.pop(0))
    os.setsid()
    if os.fork():
        os._exit(0)  # the spawner reaps this one; the holder is nobody's child but init's
    import signal

    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    kind = opts.get("kind") or "slirp4netns"
    to_outer_r, to_outer_w = os.pipe()
    from_outer_r, from_outer_w = os.pipe()
    core = os.fork()
    if core == 0:
        os.close(to_outer_r)
        os.close(from_outer_w)
        _core(run_root, userns_dir, ready, to_outer_w, from_outer_r, kind)
    os.close(to_outer_w)
    os.close(from_outer_r)
    os.close(ready)
    if os.read(to_outer_r, 1) != b"n":
        os.waitpid(core, 0)
        os._exit(1)
    helper = None
    try:
        d = rootlessnet.netns_dir(run_root)
        # the uplink's settings: a NetConfig's (engine/containers/spec._uplink_options) and its kind
        net = NetConfig.view({k: v for k, v in opts.items() if k != "kind"})
        if kind == "pasta":
            from pypod.network import pasta

            helper = pasta.start(core, d, NetConfig(args=net.args, path=net.path))
        else:
            helper = slirp.start(core, d, net)
        helper.wait_ready()
        _report(from_outer_w, {"ok": True})
    except NetError as e:
        _report(from_outer_w, {"error": e.message, "code": e.code})
    os.close(from_outer_w)
    while True:
        try:
            os.waitpid(core, 0)
            break
        except InterruptedError:
            continue
        except ChildProcessError:
            break
    if helper is not None:
        helper.stop()
    sys.exit(0)
