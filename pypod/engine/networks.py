"""Networks: the container's --network mode, and the network objects (`network ls/inspect/…`).

Modes (podman's): none | host | private | slirp4netns[:opts] | pasta[:opts] | container:NAME |
ns:PATH | bridge/default (the rootless default: containers.conf's default_rootless_network_cmd,
slirp4netns unless set) | NAME of a network (`podman`, the default, or a user-defined one).
"""

from __future__ import annotations

from pypod.errors import Conflict, InvalidArgument, NotFound, PypodError

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


def container_ip(mode: str, net) -> tuple[str, str, int]:
    """(ip, gateway, prefix) a container gets, as far as known before it runs (net: NetConfig)."""
    if mode == "slirp4netns":
        from pypod.network.slirp import cidr_addresses

        a = cidr_addresses(net.cidr)
        return a["ip"], a["gateway"], a["prefix"]
    return "", "", 0


def host_ip() -> str:
    """The host's first non-loopback IPv4 address (host.containers.internal), or ""."""
    import _socket as socket  # (socket.py adds ~5 ms of enum set-up to every create)

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
# Records are podman's `network inspect` objects (netavark format), one file per network under
# `<graph root>/networks/` (pypod.store.networks). The runtime (bridges, leases, DNS) reads them
# through find_network/get_network; this half only makes, lists and removes the records.

DEFAULT_NETWORK_ID = "2f259bab93aaaaa2542ba43ef33eb990d0999ee1b9924b557b7be53c0b7a1bb9"
DEFAULT_INTERFACE = "podman0"
# podman's abi NetworkCreate refuses these (they are --network modes); pasta as podman ≥ 4.4.
RESERVED_NAMES = ("none", "host", "bridge", "private", "slirp4netns", "pasta", "container", "ns")
NAME_PATTERN = "[a-zA-Z0-9][a-zA-Z0-9_.-]*"
# containers.conf's default_subnet_pools: 10.89.0.0/24 … 10.255.255.0/24.
SUBNET_POOLS = (("10.89.0.0", 16), ("10.90.0.0", 15), ("10.92.0.0", 14), ("10.96.0.0", 11),
                ("10.128.0.0", 9))
POOL_PREFIX = 24
NETWORK_FILTERS = ("name", "id", "driver", "label", "label!", "until", "dangling")
PRUNE_FILTERS = ("label", "label!", "until")


class NetworkNotFound(NotFound):
    pass


class NetworkExists(Conflict):
    exit_code = 125


class NetworkInUse(Conflict):
    """`network rm` of a network that containers use, without -f: podman exits 2."""

    exit_code = 2


def _store(ctx):
    from pypod.store.networks import NetworkStore

    return NetworkStore(ctx.graph_root)


def default_network_record(ctx=None) -> dict:
    """podman's `podman` network (inspect JSON): never stored, made afresh on each call as podman
    does (so its `created` is now)."""
    from pypod.units import rfc3339_nano

    return {
        "name": DEFAULT_NETWORK, "id": DEFAULT_NETWORK_ID, "driver": "bridge",
        "network_interface": DEFAULT_INTERFACE, "created": rfc3339_nano(),
        "subnets": [{"subnet": DEFAULT_SUBNET, "gateway": "10.88.0.1"}],
        "ipv6_enabled": False, "internal": False, "dns_enabled": False,
        "ipam_options": {"driver": "host-local"},
    }


def list_networks(ctx) -> list[dict]:
    """Every network, the default one included, by name (podman's order)."""
    nets = [n for n in _store(ctx).list() if n.get("name") != DEFAULT_NETWORK]
    nets.append(default_network_record(ctx))
    return sorted(nets, key=lambda n: n["name"])


def _lookup(nets: list[dict], name_or_id: str) -> dict | None:
    """podman's getNetwork: an exact name, else a unique ID prefix."""
    from pypod.store.lookup import by_name_or_id

    return by_name_or_id(nets, name_or_id, lambda: PypodError(f"more than one result for network ID {name_or_id}"),
                         id_of=lambda n: n.get("id", ""), name_of=lambda n: n["name"])


def find_network(ctx, name_or_id: str) -> dict | None:
    """The network (inspect JSON) by name or ID prefix, the default `podman` one included; None if
    there is none (PypodError when an ID prefix is ambiguous)."""
    if name_or_id == DEFAULT_NETWORK:
        return default_network_record(ctx)
    rec = _store(ctx).get(name_or_id)
    if rec is not None:
        return rec
    return _lookup(list_networks(ctx), name_or_id)


def get_network(ctx, name_or_id: str) -> dict:
    rec = find_network(ctx, name_or_id)
    if rec is None:
        raise NetworkNotFound(f"unable to find network with name or ID {name_or_id}: network not found")
    return rec


def network_exists(ctx, name_or_id: str) -> bool:
    try:
        return find_network(ctx, name_or_id) is not None
    except PypodError:
        return False


def network_users(ctx) -> dict[str, list[str]]:
    """network name → ids of the containers whose record puts them on it
    (`config.net.networks`, podman's `Networks()` of a container)."""
    from pypod.engine.containers import store

    out: dict[str, list[str]] = {}
    for rec in store(ctx).list():
        for n in rec.config.net.networks:
            if rec.id not in out.setdefault(n, []):
                out[n].append(rec.id)
    return out


# -- create ---------------------------------------------------------------------------------------
def _ip4(text: str) -> int:
    """A dotted IPv4 address → int (ValueError otherwise)."""
    import ipaddress

    return int(ipaddress.IPv4Address(text))


def _ip_str(n: int) -> str:
    return f"{n >> 24 & 255}.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"


def _is_ipv6(text: str) -> bool:
    return ":" in text


def _ipv4_only(what: str) -> PypodError:
    fix = "leave out --ipv6" if what == "--ipv6" else "use IPv4 addresses"
    return InvalidArgument(f"{what}: IPv6 is not supported, pypod networks are IPv4 only",
                           hint=f"To create an IPv4 network, {fix} (e.g. --subnet 10.90.0.0/24, or no "
                                f"--subnet for a free one).")


def _parse_cidr(text: str) -> tuple[int, int]:
    """Go's net.ParseCIDR for IPv4 → (network address, prefix length); podman's message if bad."""
    addr, slash, plen = (text or "").partition("/")
    if slash and _is_ipv6(addr):
        raise _ipv4_only(f"subnet {text}")
    try:
        if not slash or not plen.isdigit() or not 0 <= int(plen) <= 32:
            raise ValueError
        ip = _ip4(addr)
    except ValueError:
        raise InvalidArgument(f"invalid CIDR address: {text}") from None
    p = int(plen)
    mask = (0xFFFFFFFF << (32 - p)) & 0xFFFFFFFF
    return ip & mask, p


def _cidr_str(net: tuple[int, int]) -> str:
    return f"{_ip_str(net[0])}/{net[1]}"


def _span(net: tuple[int, int]) -> tuple[int, int]:
    """(first, last) address of a network."""
    return net[0], net[0] + (1 << (32 - net[1])) - 1


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    a0, a1 = _span(a)
    b0, b1 = _span(b)
    return a0 <= b1 and b0 <= a1


def _first_ip(net: tuple[int, int]) -> int:
    """podman's FirstIPInSubnet: the network address + 1 (the address itself for a /32)."""
    return net[0] if net[1] == 32 else net[0] + 1


def _last_ip(net: tuple[int, int]) -> int:
    """podman's LastIPInSubnet: the broadcast address (the address itself for a /32)."""
    return _span(net)[1]


def _host_subnets() -> list[tuple[int, int]]:
    """The IPv4 networks of this host's interfaces (podman's getLiveNetworkSubnets, which keeps a new
    network off a LAN the host is on: containers could not reach it any more)."""
    import fcntl
    import socket
    import struct

    out: list[tuple[int, int]] = []
    try:
        names = [n for _, n in socket.if_nameindex()]
    except OSError:
        return out
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for n in names:
            req = struct.pack("256s", n.encode()[:15])
            try:
                addr = int.from_bytes(fcntl.ioctl(s.fileno(), 0x8915, req)[20:24], "big")  # SIOCGIFADDR
                mask = int.from_bytes(fcntl.ioctl(s.fileno(), 0x891B, req)[20:24], "big")  # SIOCGIFNETMASK
            except OSError:
                continue
            out.append((addr & mask, bin(mask).count("1")))
    finally:
        s.close()
    return out


def _host_interfaces() -> list[str]:
    import socket

    try:
        return [n for _, n in socket.if_nameindex()]
    except OSError:
        return []


def _free_subnet(used: list[tuple[int, int]]) -> tuple[int, int]:
    """podman's GetFreeIPv4NetworkSubnet: the first /24 of the pools that no used network overlaps."""
    step = 1 << (32 - POOL_PREFIX)
    for base, plen in SUBNET_POOLS:
        start, end = _span((_ip4(base), plen))
        cand = start
        while cand + step - 1 <= end:
            hit = next((u for u in used if _overlaps((cand, POOL_PREFIX), u)), None)
            if hit is None:
                return cand, POOL_PREFIX
            # skip past the network in the way (a /16 in use skips 256 candidates at once)
            cand = max(cand + step, (_span(hit)[1] + 1) // step * step)
    raise PypodError("could not find free subnet from subnet pools")


def _free_device_name(nets: list[dict]) -> str:
    """podman's GetFreeDeviceName: podman<N>, the lowest N ≥ 1 that no network's name or bridge and no
    host interface has (podman0 is the default network's)."""
    taken = {n.get("network_interface") for n in nets} | {n["name"] for n in nets}
    taken.update(_host_interfaces())
    i = 1
    while f"podman{i}" in taken:
        i += 1
    return f"podman{i}"


def _go_atoi(text: str) -> int:
    import re

    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise InvalidArgument(f'strconv.Atoi: parsing "{text}": invalid syntax')
    return int(text)


def _check_bridge_options(options: dict) -> dict:
    """podman's bridge options: mtu, vlan, isolate (normalised to true/false); anything else is an error."""
    out = dict(options)
    for k, v in options.items():
        if k == "mtu":
            if v != "" and _go_atoi(v) < 0:
                raise InvalidArgument(f"mtu {v} is less than zero")
        elif k == "vlan":
            if v != "":
                n = _go_atoi(v)
                if not 0 <= n <= 4094:
                    raise InvalidArgument(f"vlan ID {n} must be between 0 and 4094")
        elif k == "isolate":
            if v in ("1", "t", "T", "TRUE", "true", "True"):
                out[k] = "true"
            elif v in ("0", "f", "F", "FALSE", "false", "False"):
                out[k] = "false"
            else:
                raise InvalidArgument(f'strconv.ParseBool: parsing "{v}": invalid syntax')
        else:
            raise InvalidArgument(f"unsupported bridge network option {k}")
    return out


def _as_list(v) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        return [v] if v else []
    return [x for x in v if x]


def create_network(ctx, name: str | None = None, *, subnet=None, gateway=None, ip_range=None,
                   internal: bool = False, labels: dict | None = None, options: dict | None = None,
                   disable_dns: bool = False, driver: str = "bridge", ipv6: bool = False,
                   ignore: bool = False, ipam_driver: str | None = None) -> dict:
    """`network create`, podman's checks in podman's order. subnet/gateway/ip_range: one value or a
    list (the i-th gateway and range go with the i-th subnet). Returns the record (with --ignore and
    an existing name: the existing network's)."""
    import re

    subnets, gateways, ranges = _as_list(subnet), _as_list(gateway), _as_list(ip_range)
    if ipv6:
        raise _ipv4_only("--ipv6")
    # what podman's CLI checks (cmd/podman/networks/create.go)
    wanted: list[dict] = []
    if subnets:
        if len(gateways) > len(subnets):
            raise InvalidArgument("cannot set more gateways than subnets")
        if len(ranges) > len(subnets):
            raise InvalidArgument("cannot set more ranges than subnets")
        for i, s in enumerate(subnets):
            item: dict = {"net": _parse_cidr(s)}
            if i < len(ranges):
                if _is_ipv6(ranges[i]):
                    raise _ipv4_only(f"ip range {ranges[i]}")
                r = _parse_cidr(ranges[i])
                item["range"] = (_first_ip(r), _last_ip(r))
            if i < len(gateways):
                if _is_ipv6(gateways[i]):
                    raise _ipv4_only(f"gateway {gateways[i]}")
                try:
                    item["gateway"] = _ip4(gateways[i])
                except ValueError:
                    raise InvalidArgument(f'invalid argument "{gateways[i]}" for "--gateway" flag: invalid '
                                          f'string being converted to IP address: {gateways[i]}') from None
            wanted.append(item)
    elif ranges or gateways:
        raise InvalidArgument("cannot set gateway or range without subnet")
    if name in RESERVED_NAMES:
        raise InvalidArgument(f'cannot create network with name "{name}" because it conflicts with a '
                              f'valid network mode')
    ipam = ipam_driver or ""
    dns = not disable_dns and ipam != "none"  # podman: no IPAM, no DNS
    st = _store(ctx)
    with st.lock():
        nets = list_networks(ctx)
        if name:
            if not re.fullmatch(NAME_PATTERN, name):
                raise InvalidArgument(f"network name {name} invalid: names must match {NAME_PATTERN}: "
                                      f"invalid argument")
            existing = next((n for n in nets if n["name"] == name), None)
            if existing is not None:
                if ignore:
                    return existing
                raise NetworkExists(f"network name {name} already used: network already exists")
        if ipam not in ("", "host-local", "none"):
            if ipam == "dhcp":
                raise PypodError("dhcp ipam driver is not yet supported with netavark")
            raise InvalidArgument(f'unsupported ipam driver "{ipam}"')
        if ipam == "none" and wanted:
            raise InvalidArgument("none ipam driver is set but subnets are given")
        driver = driver or "bridge"
        if driver != "bridge":
            hint = ("pypod makes bridge networks only: leave out --driver"
                    if driver in ("macvlan", "ipvlan") else None)
            raise InvalidArgument(f"unsupported driver {driver}: invalid argument", hint=hint)
        interface = _free_device_name(nets)
        if not name:
            name = interface  # podman: a generated name is also the bridge's name
        used = [_parse_cidr(s["subnet"]) for n in nets for s in n.get("subnets") or []
                if not _is_ipv6(s.get("subnet", ""))]
        used += _host_subnets()
        if ipam != "none" and not wanted:
            wanted.append({"net": _free_subnet(used)})
        opts = _check_bridge_options(dict(options or {}))
        add_gateway = not internal or dns
        out_subnets = []
        for w in wanted:
            net = w["net"]
            text = _cidr_str(net)
            if any(_overlaps(net, u) for u in used):
                raise PypodError(f"subnet {text} is already used on the host or by another config")
            lo, hi = _span(net)
            s: dict = {"subnet": text}
            if "gateway" in w:
                if not lo <= w["gateway"] <= hi:
                    raise PypodError(f"gateway {_ip_str(w['gateway'])} not in subnet {text}")
                s["gateway"] = _ip_str(w["gateway"])
            elif add_gateway:
                s["gateway"] = _ip_str(_first_ip(net))
            if "range" in w:
                start, end = w["range"]
                if not lo <= start <= hi:
                    raise PypodError(f"lease range start ip {_ip_str(start)} not in subnet {text}")
                if not lo <= end <= hi:
                    raise PypodError(f"lease range end ip {_ip_str(end)} not in subnet {text}")
                s["lease_range"] = {"start_ip": _ip_str(start), "end_ip": _ip_str(end)}
            out_subnets.append(s)
        import secrets

        from pypod.units import rfc3339_nano

        ids = {n["id"] for n in nets}
        nid = secrets.token_hex(32)
        while any(i.startswith(nid) for i in ids):
            nid = secrets.token_hex(32)
        rec: dict = {"name": name, "id": nid, "driver": driver, "network_interface": interface,
                     "created": rfc3339_nano()}
        if out_subnets:
            rec["subnets"] = out_subnets
        rec.update({"ipv6_enabled": False, "internal": bool(internal), "dns_enabled": dns})
        # podman's Go maps: JSON keys sorted
        if labels:
            rec["labels"] = dict(sorted(labels.items()))
        if opts:
            rec["options"] = dict(sorted(opts.items()))
        from pypod import faults; faults.point("network.create")
        rec["ipam_options"] = {"driver": "none" if ipam == "none" else "host-local"}
        st.save(rec)
    from pypod.engine import events

    events.network(ctx, "create", rec["name"], id_=rec.get("id", ""))
    return rec


# -- filters --------------------------------------------------------------------------------------
def _until(values: list[str]) -> float:
    """podman's ComputeUntilTimestamp: one value; a Unix time, a Go duration (that long ago) or a
    date/time stamp."""
    import time

    from pypod.units import parse_duration, parse_time

    if len(values) != 1:
        raise InvalidArgument("specify exactly one timestamp for until")
    v = values[0].strip()
    try:
        return float(v)
    except ValueError:
        pass
    try:
        return time.time() - parse_duration(v)
    except PypodError:
        pass
    t = parse_time(v)
    if not t:
        import datetime as dt

        try:
            t = dt.datetime.fromisoformat(v).timestamp()
        except ValueError:
            raise InvalidArgument(f"unable to parse until filter value {v!r}: use a Unix time, "
                                  f"a duration (e.g. 24h) or an RFC 3339 date") from None
    return t


def _match_labels(values: list[str], labels: dict) -> bool:
    """containers/common MatchLabelFilters: every KEY[=VALUE] must be present."""
    for f in values:
        k, eq, v = f.partition("=")
        if k not in labels or (eq and v != "" and labels[k] != v):
            return False
    return True


def parse_filters(filters: list[str] | None, allowed=NETWORK_FILTERS) -> dict[str, list[str]]:
    by: dict[str, list[str]] = {}
    for f in filters or []:
        k, eq, v = f.partition("=")
        if not eq:
            raise InvalidArgument(f"filter input must be in the form of filter=value: {f} is invalid")
        k = k.strip()
        if k not in allowed:
            raise InvalidArgument(f'invalid filter "{k}"')
        by.setdefault(k, []).append(v)
    return by


def filter_networks(ctx, nets: list[dict], filters: list[str] | None,
                    allowed=NETWORK_FILTERS) -> list[dict]:
    """podman's network filters: name (regex), id (regex), driver; label / label! (all must match);
    until; dangling (no container uses it; the default network never is). Values of one key are
    alternatives (labels: all required), different keys all apply."""
    import re

    from pypod.units import parse_time

    by = parse_filters(filters, allowed)
    if not by:
        return list(nets)
    checks = []
    for k, vals in by.items():
        if k in ("name", "id"):
            try:
                pats = [re.compile(v) for v in vals]
            except re.error as e:
                raise InvalidArgument(f"invalid {k} filter {vals!r}: {e}") from None
            key = "name" if k == "name" else "id"
            checks.append(lambda n, pats=pats, key=key: any(p.search(n.get(key, "")) for p in pats))
        elif k == "driver":
            checks.append(lambda n, vals=vals: n.get("driver") in vals)
        elif k == "label":
            checks.append(lambda n, vals=vals: _match_labels(vals, n.get("labels") or {}))
        elif k == "label!":
            checks.append(lambda n, vals=vals: not _match_labels(vals, n.get("labels") or {}))
        elif k == "until":
            t0 = _until(vals)
            checks.append(lambda n, t0=t0: parse_time(n.get("created", "")) < t0)
        elif k == "dangling":
            if len(vals) != 1:
                raise InvalidArgument(f'invalid dangling filter value "{"".join(vals)}"')
            v = vals[0]
            if v in ("1", "t", "T", "TRUE", "true", "True"):
                want = True
            elif v in ("0", "f", "F", "FALSE", "false", "False"):
                want = False
            else:
                raise InvalidArgument(f'invalid dangling filter value "{v}"')
            used = set(network_users(ctx)) | {DEFAULT_NETWORK}
            checks.append(lambda n, want=want, used=used: (n["name"] not in used) == want)
    return [n for n in nets if all(c(n) for c in checks)]


# -- remove / prune -------------------------------------------------------------------------------
def _drop(ctx, name: str) -> bool:
    """Delete a network's record and its runtime leases directory."""
    import shutil

    st = _store(ctx)
    rec = st.get(name)
    with st.lock():
        gone = st.delete(name)
    shutil.rmtree(ctx.run_root / "networks" / name, ignore_errors=True)
    if rec and rec.get("network_interface"):
        from pypod.network import rootlessnet

        if rootlessnet.holder_state(str(ctx.run_root)):  # its bridge (and name server) go now
            try:
                rootlessnet.request(str(ctx.run_root), {"op": "drop",
                                                        "bridge": rec["network_interface"]})
            except rootlessnet.NetError:
                pass
    return gone


def remove_network(ctx, name: str, force: bool = False, timeout: int | None = None) -> str:
    """`network rm NAME`: refuses while containers use it (NetworkInUse, exit 2) unless `force`,
    which removes those containers first. Returns the network's name."""
    from pypod.errors import RemoveMissing

    rec = find_network(ctx, name)
    if rec is None and _store(ctx).damaged(name):  # an unreadable record: remove what is there
        _drop(ctx, name)
        return name
    if rec is None:
        raise RemoveMissing(f"unable to find network with name or ID {name}: network not found")
    if rec["name"] == DEFAULT_NETWORK:
        raise PypodError(f"default network {DEFAULT_NETWORK} cannot be removed")
    cids = network_users(ctx).get(rec["name"]) or []
    if cids:
        if not force:
            raise NetworkInUse(f'"{name}" has associated containers with it. Use -f to forcibly delete '
                               f'containers and pods: network is being used')
        from pypod.engine.containers import remove_containers

        rep = remove_containers(ctx, cids, force=True, ignore=True, timeout=timeout)
        if rep.errors:
            raise rep.errors[-1]
    if not _drop(ctx, rec["name"]):
        raise RemoveMissing(f"unable to find network with name or ID {name}: network not found")
    from pypod.engine import events

    events.network(ctx, "remove", rec["name"], id_=rec.get("id", ""))
    return rec["name"]


def prune_candidates(ctx, filters: list[str] | None = None) -> list[dict]:
    """The user networks `network prune` would remove: no container uses them, filters match."""
    nets = [n for n in list_networks(ctx) if n["name"] != DEFAULT_NETWORK]
    nets = filter_networks(ctx, nets, filters, allowed=PRUNE_FILTERS)
    used = network_users(ctx)
    return [n for n in nets if not used.get(n["name"])]


def prune_networks(ctx, filters: list[str] | None = None) -> list[str]:
    """`network prune`: remove the unused user networks (never `podman`); their names."""
    out = []
    for n in prune_candidates(ctx, filters):
        if _drop(ctx, n["name"]):
            out.append(n["name"])
    import os

    from pypod.store import db

    st = _store(ctx)
    with st.lock():  # a record write killed before its rename
        for tmp in db.dead_temps(st.root):
            os.unlink(tmp)
    return out
