"""Networks: the container's --network mode, and the network objects (`network ls/inspect/…`).

Modes (podman's): none | host | private | slirp4netns[:opts] | pasta[:opts] | container:NAME |
ns:PATH | bridge/default (the rootless default: containers.conf's default_rootless_network_cmd,
slirp4netns unless set) | NAME of a network (only `podman`, the default network, today).
"""

from __future__ import annotations

from pypod.errors import InvalidArgument, PypodError

SLIRP_OPTS = ("allow_host_loopback", "cidr", "enable_ipv6", "mtu", "outbound_addr",
              "outbound_addr6", "port_handler")
DEFAULT_NETWORK = "podman"
DEFAULT_SUBNET = "10.88.0.0/16"


def _bool(key: str, v: str) -> bool:
    if v.lower() in ("true", "1", "yes", ""):
        return True
    if v.lower() in ("false", "0", "no"):
        return False
    raise InvalidArgument(f"invalid value {v!r} for slirp4netns option {key}: use true or false")


def parse_slirp_options(text: str) -> dict:
    net: dict = {}
    for item in [x for x in (text or "").split(",") if x]:
        k, _, v = item.partition("=")
        if k not in SLIRP_OPTS:
            raise InvalidArgument(f"unknown option for slirp4netns: {item}")
        if k in ("allow_host_loopback", "enable_ipv6"):
            net[k] = _bool(k, v)
        elif k == "mtu":
            try:
                net[k] = int(v)
            except ValueError:
                raise InvalidArgument(f"invalid slirp4netns mtu {v!r}") from None
        elif k == "port_handler":
            if v not in ("rootlessport", "slirp4netns"):
                raise InvalidArgument(f"unknown port_handler for slirp4netns: {v!r}")
            net[k] = v
        elif k == "cidr":
            import ipaddress

            try:
                n = ipaddress.IPv4Network(v)
            except ValueError:
                raise InvalidArgument(f"invalid slirp4netns cidr {v!r}") from None
            if n.num_addresses < 128:
                raise InvalidArgument(f"slirp4netns cidr {v!r} is too small: it needs "
                                      f"room for .100")
            net[k] = str(n)
        else:
            net[k] = v
    return net


def _conf_mentions_network_cmd() -> bool:
    """Could a containers.conf set default_rootless_network_cmd / network_cmd_*? A cheap scan of
    the files pypod.config reads (a false positive only costs the full parse)."""
    import os

    env = os.environ.get("CONTAINERS_CONF")
    if env:
        files = [env]
    else:
        from pypod import paths

        files = ["/usr/share/containers/containers.conf", "/etc/containers/containers.conf"]
        dirs = ["/etc/containers/containers.conf.d"]
        if paths.is_rootless():
            user = os.path.join(str(paths.config_home()), "containers")
            files.append(os.path.join(user, "containers.conf"))
            dirs.append(os.path.join(user, "containers.conf.d"))
        for d in dirs:
            try:
                files += [os.path.join(d, n) for n in sorted(os.listdir(d)) if n.endswith(".conf")]
            except OSError:
                pass
    if os.environ.get("CONTAINERS_CONF_OVERRIDE"):
        files.append(os.environ["CONTAINERS_CONF_OVERRIDE"])
    for f in files:
        try:
            with open(f, "rb") as fh:
                if b"network_cmd" in fh.read():
                    return True
        except FileNotFoundError:
            continue
        except OSError:
            return True  # let the full parser say what is wrong
    return False


def parse_mode(text: str | None, rootless: bool, lookup_container=None) -> tuple[str, dict]:
    """--network TEXT → (spec mode, helper settings)."""
    mode = (text or "").strip()
    if mode in ("", "default", "bridge", DEFAULT_NETWORK):
        if not _conf_mentions_network_cmd():
            return "slirp4netns", {}  # (not importing pypod.config: ~80 ms of start-up)
        from pypod.config import engine_config

        cfg = engine_config()
        cmd = cfg.default_rootless_network_cmd or "slirp4netns"
        net: dict = {}
        if cfg.network_cmd_path:
            net["path"] = cfg.network_cmd_path
        if cmd == "pasta":
            net["args"] = list(cfg.network_cmd_options or [])
            return "pasta", net
        if cmd != "slirp4netns":
            raise InvalidArgument(f"containers.conf: default_rootless_network_cmd {cmd!r}: "
                                  f"use slirp4netns or pasta")
        net.update(parse_slirp_options(",".join(cfg.network_cmd_options or [])))
        return "slirp4netns", net
    if mode in ("none", "host", "private"):
        return mode, {}
    name, sep, opts = mode.partition(":")
    if name == "slirp4netns":
        return "slirp4netns", parse_slirp_options(opts)
    if name == "pasta":
        args = [a for a in opts.split(",") if a] if sep else []
        return "pasta", {"args": args}
    if name == "container":
        if not opts:
            raise InvalidArgument("container: network mode needs a container name or ID")
        if lookup_container is None:
            return f"container:{opts}", {}
        return f"container:{lookup_container(opts)}", {}
    if name == "ns":
        if not opts.startswith("/"):
            raise InvalidArgument(f"invalid network namespace path {opts!r}: must be absolute")
        return f"ns:{opts}", {}
    if sep or "," in mode:
        raise InvalidArgument(f"invalid network mode {mode!r}")
    raise PypodError(f"unable to find network with name or ID {mode}: network not found")


def uses_ports(mode: str) -> bool:
    return mode in ("slirp4netns", "pasta")


def display_mode(mode: str, rootless: bool) -> str:
    """HostConfig.NetworkMode as podman prints it."""
    if mode == "private":
        return "slirp4netns" if rootless else "bridge"
    if mode.startswith("ns:"):
        return mode
    return mode


def container_ip(mode: str, net: dict) -> tuple[str, str, int]:
    """(ip, gateway, prefix) a container gets, as far as known before it runs."""
    if mode == "slirp4netns":
        from pypod.network.slirp import cidr_addresses

        a = cidr_addresses(net.get("cidr") or "10.0.2.0/24")
        return a["ip"], a["gateway"], a["prefix"]
    return "", "", 0


def host_ip() -> str:
    """The host's first non-loopback IPv4 address (host.containers.internal), or ""."""
    import socket

    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))  # no packet is sent: just the route's source address
        ip = s.getsockname()[0]
        return "" if ip.startswith("127.") else ip
    except OSError:
        pass
    finally:
        s.close()
    try:
        with open("/proc/net/fib_trie") as f:
            text = f.read()
    except OSError:
        return ""
    prev = ""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("/32 host LOCAL") and prev and not prev.startswith("127."):
            return prev
        if line.startswith("|--"):
            prev = line[3:].strip()
    return ""


# -- network objects ------------------------------------------------------------------------------

def default_network_record(rootless: bool) -> dict:
    """podman's `podman` network (inspect JSON)."""
    return {
        "name": DEFAULT_NETWORK, "id": "2f259bab93aaaaa2542ba43ef33eb990d0999ee1b9924b557b7be53c0b7a1bb9",
        "driver": "bridge", "network_interface": "podman0", "created": "2026-01-01T00:00:00Z",
        "subnets": [{"subnet": DEFAULT_SUBNET, "gateway": "10.88.0.1"}],
        "ipv6_enabled": False, "internal": False, "dns_enabled": False,
        "ipam_options": {"driver": "host-local"},
    }


def list_networks(rootless: bool) -> list[dict]:
    return [default_network_record(rootless)]


def find_network(name: str, rootless: bool) -> dict | None:
    for n in list_networks(rootless):
        if n["name"] == name or (len(name) >= 3 and n["id"].startswith(name)):
            return n
    return None
