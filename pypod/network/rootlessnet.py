"""User networks, the client side: the shared network namespace's holder, address leases, and
the requests a supervisor (or `network connect`) sends to the holder.

Layout under the runtime root (RUN = $XDG_RUNTIME_DIR/pypod):
    RUN/netns/lock          one fcntl lock for all of it: the holder's state, every lease table
    RUN/netns/holder.json   {"pid", "start"}: the holder's process (its namespaces are the shared ones)
    RUN/netns/ctl.sock      the holder's request socket (one JSON line each way)
    RUN/netns/holder.log    its stderr
    RUN/networks/NAME/leases.json   address → {"id", "name", "aliases", "pid", "start"}

A lease is held by the container's supervisor (pid + start time): when that process is gone, the
address is free again, so a crash never leaks one. The holder lives while some lease does (plus a
short grace, so that a script's run after run does not rebuild the namespace each time).

Imports: cheap standard-library modules only (the supervisor imports this).
"""

from __future__ import annotations

import json
import os
import socket
import time

from pypod.network.slirp import NetError
from pypod.store import db

HOLDER_STATE = "holder.json"
IP_TOKEN = "@PYPOD-IP@"  # in a bridge container's hosts text: its address, known at start
CTL = "ctl.sock"
READY_TIMEOUT = 20.0


def netns_dir(run_root: str) -> str:
    return os.path.join(run_root, "netns")


def leases_path(run_root: str, network: str) -> str:
    return os.path.join(run_root, "networks", network, "leases.json")


def locked(run_root: str):
    """The user-network lock (blocking, exclusive), a context manager."""
    d = netns_dir(run_root)
    os.makedirs(d, 0o700, exist_ok=True)
    return db.locked(os.path.join(d, "lock"))


def write_state(path: str, obj) -> None:
    """Runtime state (no fsync: a reboot ends every lease and the holder anyway)."""
    os.makedirs(os.path.dirname(path), 0o700, exist_ok=True)
    db.write_json(path, obj, 0o600, fsync=False)


def lease_alive(v: dict) -> bool:
    from pypod.linux import proc

    return proc.alive(v.get("pid"), v.get("start"))


def read_leases(run_root: str, network: str) -> dict:
    return db.read_json(leases_path(run_root, network)) or {}


def live_leases(run_root: str, network: str) -> dict:
    from pypod.network import ipam

    return ipam.prune(read_leases(run_root, network), lease_alive)


def any_live_lease(run_root: str) -> bool:
    try:
        names = os.listdir(os.path.join(run_root, "networks"))
    except OSError:
        return False
    return any(live_leases(run_root, n) for n in names)


# -- the holder ------------------------------------------------------------------------------------

def holder_state(run_root: str) -> dict | None:
    from pypod.linux import proc

    st = db.read_json(os.path.join(netns_dir(run_root), HOLDER_STATE))
    if st and proc.alive(st.get("pid"), st.get("start")):
        return st
    return None


def _spawn_holder(run_root: str, userns_dir: str | None, opts: dict) -> dict:
    """Start the holder (it daemonizes) and wait for its ready line. Call under the lock."""
    from pypod.linux.spawn import lean_python_argv

    d = netns_dir(run_root)
    args = ["--run-root", run_root, "--ready-fd", "3", "--options", json.dumps(opts)]
    if userns_dir:
        args += ["--userns-dir", userns_dir]
    argv = lean_python_argv("pypod.network.holder", args, site=True)  # pyroute2
    r, w = os.pipe()
    log = os.open(os.path.join(d, "holder.log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC,
                  0o600)
    actions = [(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
               (os.POSIX_SPAWN_DUP2, log, 1), (os.POSIX_SPAWN_DUP2, log, 2),
               (os.POSIX_SPAWN_DUP2, w, 3)]
    try:
        pid = os.posix_spawn(argv[0], argv, dict(os.environ), file_actions=actions)
    except OSError as e:
        os.close(r)
        os.close(w)
        os.close(log)
        raise NetError(f"cannot start the network namespace holder: {e.strerror}") from None
    os.close(w)
    os.close(log)
    data = b""
    deadline = time.monotonic() + READY_TIMEOUT
    import select

    try:
        while not data.endswith(b"\n") and time.monotonic() < deadline:
            if not select.select([r], [], [], max(0.0, deadline - time.monotonic()))[0]:
                break
            chunk = os.read(r, 4096)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(r)
        try:
            os.waitpid(pid, 0)  # the first process exits once the holder has forked away
        except ChildProcessError:
            pass
    try:
        msg = json.loads(data or b"{}")
    except ValueError:
        msg = {}
    if msg.get("error"):
        raise NetError(msg["error"], int(msg.get("code") or 125))
    if not msg.get("pid"):
        tail = ""
        try:
            with open(os.path.join(d, "holder.log"), errors="replace") as f:
                lines = [x for x in f.read().splitlines() if x.strip()]
            tail = f": {lines[-1]}" if lines else ""
        except OSError:
            pass
        raise NetError("the network namespace holder did not start" + tail)
    return msg


def ensure_holder(run_root: str, userns_dir: str | None, opts: dict) -> dict:
    """The live holder's state, starting one if needed. Call under the lock."""
    st = holder_state(run_root)
    if st is None:
        st = _spawn_holder(run_root, userns_dir, opts)
    return st


def request(run_root: str, req: dict, timeout: float = 20.0) -> dict:
    """One request to the holder; raises NetError with its error text."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    s.settimeout(timeout)
    here = os.open(".", os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.chdir(netns_dir(run_root))  # the path may be longer than sun_path allows
        s.connect(CTL)
    except OSError as e:
        s.close()
        raise NetError(f"the network namespace holder: {e.strerror or e}") from None
    finally:
        os.fchdir(here)
        os.close(here)
    try:
        s.sendall(json.dumps(req).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError as e:
        raise NetError(f"the network namespace holder: {e.strerror or e}") from None
    finally:
        s.close()
    try:
        resp = json.loads(data or b"{}")
    except ValueError:
        resp = {}
    if not resp.get("ok"):
        raise NetError(resp.get("error") or "the network namespace holder did not answer")
    return resp


# -- a container's endpoints -------------------------------------------------------------------------

def endpoint_request(net: dict, ep: dict) -> dict:
    """The holder's view of one endpoint: bridge, addresses, DNS."""
    sub = (net.get("subnets") or [{}])[0]
    return {"network": net["name"], "bridge": net.get("network_interface") or "",
            "subnet": sub.get("subnet"), "gateway": sub.get("gateway"),
            "internal": bool(net.get("internal")), "dns": bool(net.get("dns_enabled")),
            "ip": ep["ip"], "prefix": int(sub["subnet"].split("/")[1]), "mac": ep.get("mac") or "",
            "ifname": ep["ifname"]}


def lease(run_root: str, userns_dir: str | None, opts: dict, owner: dict,
          endpoints: list[tuple[dict, dict]]) -> dict:
    """Under the lock: make sure the holder runs, and lease an address on every network.
    owner: {"id", "name", "pid", "start"}; endpoints: (network record, {"aliases", "ip", "mac",
    "ifname"}) — "ip" is filled in. Returns the holder state."""
    from pypod.network import ipam

    with locked(run_root):
        st = ensure_holder(run_root, userns_dir, opts)
        for net, ep in endpoints:
            path = leases_path(run_root, net["name"])
            table = ipam.prune(db.read_json(path) or {}, lease_alive)
            for ip in [ip for ip, v in table.items() if v.get("id") == owner["id"]]:
                if ep.get("want") and ip != ep["want"]:
                    del table[ip]  # a restart with another --ip (connect)
            try:
                ep["ip"] = ipam.allocate(net, table, owner["id"], ep.get("want") or "")
            except ipam.IpamError as e:
                raise NetError(f"IPAM error: {e}") from None
            table[ep["ip"]] = {"id": owner["id"], "name": owner.get("name") or "",
                               "aliases": list(ep.get("aliases") or []), "pid": owner["pid"],
                               "start": owner["start"]}
            write_state(path, table)
    return st


def release(run_root: str, cid: str, networks: list[str] | None = None) -> None:
    """Give back the container's addresses (all networks, or the ones named)."""
    try:
        names = networks if networks is not None else os.listdir(os.path.join(run_root, "networks"))
    except OSError:
        return
    with locked(run_root):
        for n in names:
            path = leases_path(run_root, n)
            table = db.read_json(path)
            if not table:
                continue
            keep = {ip: v for ip, v in table.items() if v.get("id") != cid and lease_alive(v)}
            if keep != table:
                write_state(path, keep)


class BridgeNet:
    """A running container's endpoints on user networks (the supervisor's network handle)."""

    def __init__(self, run_root: str, cid: str, endpoints: list[dict], pid: int):
        self.run_root, self.cid, self.endpoints, self.target = run_root, cid, endpoints, pid
        self.forwarder = None
        self.interfaces: dict = {}

    def attach(self) -> None:
        resp = request(self.run_root, {"op": "attach", "pid": self.target,
                                       "endpoints": self.endpoints})
        self.interfaces = resp.get("interfaces") or {}

    def add_ports(self, ports: list[dict]) -> None:
        if ports:
            from pypod.network import forwarder

            self.forwarder = forwarder.start(ports, self.target, os.geteuid() != 0)

    def wait_ready(self) -> None:
        pass

    def stop(self) -> None:
        if self.forwarder is not None:
            fw, self.forwarder = self.forwarder, None
            fw.stop()
        # the veths go with the container's network namespace; the addresses go back now
        release(self.run_root, self.cid)
