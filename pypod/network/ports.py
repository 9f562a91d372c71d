"""Published ports: parsing `-p`/`-P`, picking random host ports, checking that a host port is
free, and podman's renderings of them (`ps` Ports column, `port`, inspect's Ports/PortBindings).

A port mapping is a plain dict (stored in the container record and the spec):
    {"host_ip": "" | "127.0.0.1" | "::1", "host_port": 8080, "container_port": 80,
     "protocol": "tcp" | "udp"}
one per port (ranges are expanded; the renderings group them again as podman does).
"""

from __future__ import annotations

import socket

from pypod.errors import InvalidArgument, PypodError

PROTOCOLS = ("tcp", "udp")


def _port(text: str, what: str) -> tuple[int, int]:
    """'80' → (80, 80); '8000-8002' → (8000, 8002)."""
    lo, sep, hi = text.partition("-")
    try:
        a = int(lo)
        b = int(hi) if sep else a
    except ValueError:
        raise InvalidArgument(f"invalid {what} port {text!r}: must be a number or a range "
                              f"(e.g. 8000-8002)") from None
    if not (0 < a <= 65535 and 0 < b <= 65535):
        raise InvalidArgument(f"invalid {what} port {text!r}: ports are 1 to 65535")
    if b < a:
        raise InvalidArgument(f"invalid {what} port range {text!r}: the end is before the start")
    return a, b


def parse_publish(spec: str) -> list[dict]:
    """One `-p [ip:][hostPort:]containerPort[/proto]` → mappings (host_port 0: pick one)."""
    text, _, proto = spec.partition("/")
    proto = (proto or "tcp").lower()
    for p in proto.split(","):
        if p not in PROTOCOLS:
            raise InvalidArgument(f"invalid protocol {p!r} in port mapping {spec!r}: use tcp or udp")
    host_ip = ""
    if text.startswith("["):  # [ipv6]:host:container
        end = text.find("]")
        if end < 0:
            raise InvalidArgument(f"invalid IPv6 address in port mapping {spec!r}")
        host_ip = text[1:end]
        rest = text[end + 1:]
        if not rest.startswith(":"):
            raise InvalidArgument(f"invalid port mapping {spec!r}")
        parts = ["", *rest[1:].split(":")]
        if len(parts) == 2:
            parts = ["", "", parts[1]]
    else:
        parts = text.split(":")
    if len(parts) == 1:
        host, ctr = "", parts[0]
    elif len(parts) == 2:
        host, ctr = parts
    elif len(parts) == 3:
        ip, host, ctr = parts
        host_ip = host_ip or ip
    else:
        raise InvalidArgument(f"invalid port mapping {spec!r}: use [ip:][hostPort:]containerPort")
    if host_ip:
        try:
            socket.inet_pton(socket.AF_INET6 if ":" in host_ip else socket.AF_INET, host_ip)
        except OSError:
            raise InvalidArgument(f"invalid IP address {host_ip!r} in port mapping {spec!r}") \
                from None
    if host_ip in ("0.0.0.0",):
        host_ip = ""
    c0, c1 = _port(ctr, "container")
    n = c1 - c0 + 1
    if host:
        h0, h1 = _port(host, "host")
        if h1 - h0 + 1 != n:
            raise InvalidArgument(f"host and container port ranges of {spec!r} differ in length")
        hosts = list(range(h0, h1 + 1))
    else:
        hosts = [0] * n
    out = []
    for p in proto.split(","):
        for i in range(n):
            out.append({"host_ip": host_ip, "host_port": hosts[i], "container_port": c0 + i,
                        "protocol": p})
    return out


def parse_all(specs: list[str], exposed: dict | None = None, publish_all: bool = False) -> list[dict]:
    """Every -p, plus -P's random ports for the image's EXPOSEd ports (ExposedPorts keys)."""
    out: list[dict] = []
    for s in specs or []:
        out.extend(parse_publish(s))
    if publish_all:
        have = {(m["container_port"], m["protocol"]) for m in out}
        for key in sorted(exposed or {}):
            port, _, proto = key.partition("/")
            proto = proto or "tcp"
            try:
                cp = int(port)
            except ValueError:
                continue
            if (cp, proto) not in have and proto in PROTOCOLS:
                out.append({"host_ip": "", "host_port": 0, "container_port": cp,
                            "protocol": proto})
    seen = set()
    for m in out:
        if m["host_port"]:
            key = (m["host_ip"], m["host_port"], m["protocol"])
            if key in seen:
                raise InvalidArgument(f"conflicting port mappings for host port {m['host_port']}/"
                                      f"{m['protocol']}")
            seen.add(key)
    return out


def _family(ip: str) -> int:
    return socket.AF_INET6 if ":" in ip else socket.AF_INET


def _bind(ip: str, port: int, proto: str) -> socket.socket:
    fam = _family(ip) if ip else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
    if proto == "tcp":
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ip or ("0.0.0.0" if fam == socket.AF_INET else "::"), port))
    return s


def assign_random(mappings: list[dict]) -> list[dict]:
    """Give every host_port 0 a free port (asked of the kernel, as podman does)."""
    for m in mappings:
        if not m["host_port"]:
            try:
                s = _bind(m["host_ip"], 0, m["protocol"])
            except OSError as e:
                raise PypodError(f"cannot pick a free host port on {m['host_ip'] or '0.0.0.0'}: "
                                 f"{e.strerror}") from None
            m["host_port"] = s.getsockname()[1]
            s.close()
    return mappings


def check_free(mappings: list[dict]) -> None:
    """A host port in use is an error before the container starts (podman's wording)."""
    for m in mappings:
        try:
            s = _bind(m["host_ip"], m["host_port"], m["protocol"])
        except OSError as e:
            ip = m["host_ip"] or "0.0.0.0"
            addr = f"[{ip}]" if ":" in ip else ip
            raise PypodError(f"rootlessport listen {m['protocol']} {addr}:{m['host_port']}: bind: "
                             f"{(e.strerror or str(e)).lower()}") from None
        s.close()


# ---------------------------------------------------------------- renderings

def _groups(mappings: list[dict]) -> list[tuple[dict, int]]:
    """Consecutive mappings (host and container port both +1, same ip and protocol) → (first, n)."""
    out: list[tuple[dict, int]] = []
    for m in mappings:
        if out:
            first, n = out[-1]
            if (first["host_ip"], first["protocol"]) == (m["host_ip"], m["protocol"]) and \
                    first["host_port"] + n == m["host_port"] and \
                    first["container_port"] + n == m["container_port"]:
                out[-1] = (first, n + 1)
                continue
        out.append((m, 1))
    return out


def _host_ip(m: dict) -> str:
    ip = m["host_ip"] or "0.0.0.0"
    return f"[{ip}]" if ":" in ip else ip


def format_ps(mappings: list[dict]) -> str:
    """`ps` Ports: 127.0.0.1:8080->80/tcp, 0.0.0.0:8000-8002->80-82/tcp"""
    parts = []
    for m, n in _groups(mappings or []):
        if n == 1:
            parts.append(f"{_host_ip(m)}:{m['host_port']}->{m['container_port']}/{m['protocol']}")
        else:
            parts.append(f"{_host_ip(m)}:{m['host_port']}-{m['host_port'] + n - 1}->"
                         f"{m['container_port']}-{m['container_port'] + n - 1}/{m['protocol']}")
    return ", ".join(parts)


def format_port_lines(mappings: list[dict], want: str | None = None) -> list[str]:
    """`port CTR` lines (80/tcp -> 0.0.0.0:8080), or with PORT[/proto] just HOSTIP:PORT."""
    if want:
        port, _, proto = want.partition("/")
        proto = proto or "tcp"
        try:
            p = int(port)
        except ValueError:
            raise InvalidArgument(f"invalid port {want!r}") from None
        return [f"{_host_ip(m)}:{m['host_port']}" for m in mappings or []
                if m["container_port"] == p and m["protocol"] == proto]
    return [f"{m['container_port']}/{m['protocol']} -> {_host_ip(m)}:{m['host_port']}"
            for m in mappings or []]


def inspect_ports(mappings: list[dict]) -> dict:
    """NetworkSettings.Ports / HostConfig.PortBindings: {"80/tcp": [{"HostIp", "HostPort"}]}."""
    out: dict = {}
    for m in mappings or []:
        out.setdefault(f"{m['container_port']}/{m['protocol']}", []).append(
            {"HostIp": m["host_ip"], "HostPort": str(m["host_port"])})
    return out


def json_ports(mappings: list[dict]) -> list[dict] | None:
    """`ps --format json` Ports as podman's: consecutive mappings folded into ranges; None if none."""
    out: list[dict] = []
    for m in mappings or []:
        last = out[-1] if out else None
        if last and last["host_ip"] == m["host_ip"] and last["protocol"] == m["protocol"] and \
                m["container_port"] == last["container_port"] + last["range"] and \
                m["host_port"] == last["host_port"] + last["range"]:
            last["range"] += 1
            continue
        out.append({"host_ip": m["host_ip"], "container_port": m["container_port"],
                    "host_port": m["host_port"], "range": 1, "protocol": m["protocol"]})
    return out or None
