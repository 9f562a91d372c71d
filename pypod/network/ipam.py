"""Address management for user networks: pure logic over a network's lease table.

A lease table maps an IPv4 address to the container holding it:
    {"10.89.0.2": {"id": CID, "name": NAME, "aliases": [...], "pid": SUPERVISOR, "start": T}}
The caller holds the network lock while it reads, changes and writes the table (see
rootlessnet.py), so two concurrent `run`s never get one address. A lease whose supervisor is
gone (crash, kill -9, reboot) is free again: `alive` tells.
"""

from __future__ import annotations

import ipaddress


class IpamError(Exception):
    pass


def _range(net: dict) -> tuple[int, int, int, int]:
    """(first usable, last usable, gateway, prefix) as integers for a network's first subnet."""
    sub = (net.get("subnets") or [{}])[0]
    n = ipaddress.IPv4Network(sub["subnet"], strict=False)
    gw = int(ipaddress.IPv4Address(sub.get("gateway") or n[1]))
    lo, hi = int(n.network_address) + 1, int(n.broadcast_address) - 1
    lr = sub.get("lease_range") or {}
    if lr.get("start_ip"):
        lo = max(lo, int(ipaddress.IPv4Address(lr["start_ip"])))
    if lr.get("end_ip"):
        hi = min(hi, int(ipaddress.IPv4Address(lr["end_ip"])))
    return lo, hi, gw, n.prefixlen


def prune(leases: dict, alive) -> dict:
    """The leases whose holder still lives."""
    return {ip: v for ip, v in leases.items() if alive(v)}


def allocate(net: dict, leases: dict, cid: str, want: str = "") -> str:
    """An address for container `cid` on `net`: its current lease, the wanted one, or the lowest
    free one. Raises IpamError. Does not change `leases`."""
    lo, hi, gw, _ = _range(net)
    sub = ipaddress.IPv4Network((net.get("subnets") or [{}])[0]["subnet"], strict=False)
    if want:
        try:
            a = ipaddress.IPv4Address(want)
        except ValueError:
            raise IpamError(f"{want!r} is not an IPv4 address") from None
        if a not in sub:
            raise IpamError(f"requested ip address {want} is not in the subnet {sub} of network "
                            f"{net.get('name')}")
        if int(a) == gw or a in (sub.network_address, sub.broadcast_address):
            raise IpamError(f"requested ip address {want} is the gateway or a reserved address "
                            f"of network {net.get('name')}")
        held = leases.get(want)
        if held and held.get("id") != cid:
            raise IpamError(f"requested ip address {want} is already allocated to container ID "
                            f"{held.get('id')}")
        return want
    for ip, v in leases.items():
        if v.get("id") == cid:
            return ip
    for i in range(lo, hi + 1):
        if i == gw:
            continue
        ip = str(ipaddress.IPv4Address(i))
        if ip not in leases:
            return ip
    raise IpamError(f"could not find free IP address in subnet {sub} of network "
                    f"{net.get('name')}: all addresses are in use")


def names_table(leases: dict) -> dict[str, list[str]]:
    """name/alias (lower case) → addresses, for the resolver."""
    out: dict[str, list[str]] = {}
    for ip, v in sorted(leases.items(), key=lambda kv: ipaddress.IPv4Address(kv[0])):
        for n in [v.get("name") or "", (v.get("id") or "")[:12], *(v.get("aliases") or [])]:
            n = n.lower().rstrip(".")
            if n and ip not in out.setdefault(n, []):
                out[n].append(ip)
    return out
