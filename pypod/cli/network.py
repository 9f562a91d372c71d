"""`pypod network ...` and the top-level `pypod port`."""

from __future__ import annotations

import sys

from pypod.cli import state
from pypod.cli.params import Arg, Opt
from pypod.cli.render import go_json, out, render

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Optional

NET_COLUMNS = [("NETWORK ID", "ID"), ("NAME", "Name"), ("DRIVER", "Driver")]


def _ctx():
    return state.context()


# -- port ---------------------------------------------------------------------------------------
def port(
    args: List[str] = Arg(None, metavar="CONTAINER [PORT]"),
    all_: bool = Opt(False, "--all", "-a", help="Display port information for all containers"),
    latest: bool = Opt(False, "--latest", "-l", help="Act on the latest container pypod is aware of"),
):
    """List port mappings or a specific mapping for the container."""
    from pypod.engine import containers as ce
    from pypod.errors import InvalidArgument, PypodError
    from pypod.network.ports import format_port_lines

    ctx = _ctx()
    args = list(args or [])
    if all_:
        if len(args) > 1 or (args and latest):
            raise InvalidArgument("the `port` command accepts at most a PORT argument with --all")
        want = args[0] if args else None
        for v in ce.list_containers(ctx):
            ports = (v.record.options.get("net") or {}).get("ports") or []
            for line in format_port_lines(ports, want):
                out(f"{v.record.id[:12]}\t{line}")
        return
    if latest:
        name = ce.latest_container(ctx)
        want = args[0] if args else None
        if len(args) > 1:
            raise InvalidArgument("`port` accepts at most one PORT with --latest")
    else:
        if not args:
            raise InvalidArgument("you must supply a running container name or id")
        if len(args) > 2:
            raise InvalidArgument("`port` accepts at most 2 arguments")
        name = args[0]
        want = args[1] if len(args) > 1 else None
    rec = ce.get_container(ctx, name)
    ports = (rec.options.get("net") or {}).get("ports") or []
    lines = format_port_lines(ports, want)
    if want and not lines:
        raise PypodError(f'failed to find published port "{want}"')
    for line in lines:
        out(line)


# -- network ------------------------------------------------------------------------------------
def _row(n: dict) -> dict:
    return {"ID": n["id"][:12], "Name": n["name"], "Driver": n["driver"],
            "Labels": n.get("labels") or {}, "Internal": n.get("internal", False),
            "IPv6Enabled": n.get("ipv6_enabled", False), "DNSEnabled": n.get("dns_enabled", False),
            "NetworkInterface": n.get("network_interface", ""), "Created": n.get("created", ""),
            "Subnets": n.get("subnets") or [], "Options": n.get("options") or {}}


def _networks() -> list[dict]:
    from pypod.engine import networks as ne
    from pypod.units import rfc3339_nano

    nets = ne.list_networks(_ctx().rootless)
    for n in nets:
        if n["name"] == ne.DEFAULT_NETWORK:
            n["created"] = rfc3339_nano()  # podman: the default network is made on each call
    return nets


def _match(n: dict, filters: list[str]) -> bool:
    import re

    from pypod.errors import InvalidArgument

    by: dict[str, list[str]] = {}
    for f in filters:
        k, sep, v = f.partition("=")
        if not sep:
            raise InvalidArgument(f"invalid filter {f!r}")
        by.setdefault(k, []).append(v)
    for k, vals in by.items():
        if k == "name":
            if not any(re.search(v, n["name"]) for v in vals):
                return False
        elif k == "id":
            if not any(n["id"].startswith(v) for v in vals):
                return False
        elif k == "driver":
            if n["driver"] not in vals:
                return False
        elif k == "label":
            labels = n.get("labels") or {}
            for v in vals:
                lk, s2, lv = v.partition("=")
                if lk not in labels or (s2 and labels[lk] != lv):
                    return False
        elif k in ("dangling", "until"):
            continue
        else:
            raise InvalidArgument(f"invalid filter {k!r}")
    return True


def ls(
    fmt: Optional[str] = Opt(None, "--format", help="Pretty-print networks to JSON or using a Go template"),
    filters: List[str] = Opt([], "--filter", "-f", help="Provide filter values (e.g. 'name=podman')"),
    noheading: bool = Opt(False, "--noheading", help="Do not print headers"),
    no_trunc: bool = Opt(False, "--no-trunc", help="Do not truncate the network ID"),
    quiet: bool = Opt(False, "--quiet", "-q", help="display only names"),
):
    """List networks."""
    nets = [n for n in _networks() if _match(n, filters)]
    if quiet:
        for n in nets:
            out(n["name"])
        return
    rows = []
    for n in nets:
        r = _row(n)
        if no_trunc:
            r["ID"] = n["id"]
        rows.append(r)
    render(rows, fmt, columns=NET_COLUMNS, noheading=noheading,
           json_rows=lambda: nets)
    if fmt and fmt.strip().lower() == "json":
        return


def inspect(
    names: List[str] = Arg(..., metavar="NETWORK [NETWORK...]"),
    fmt: Optional[str] = Opt(None, "--format", "-f", help="Pretty-print network to JSON or using a Go template"),
):
    """Displays the network configuration for one or more networks."""
    from pypod.errors import NotFound, PypodError

    nets = _networks()
    found, missing = [], []
    for name in names:
        hit = next((n for n in nets if n["name"] == name or
                    (len(name) >= 3 and n["id"].startswith(name))), None)
        if hit is None:
            missing.append(name)
        else:
            found.append(hit)
    if fmt and fmt.strip().lower() != "json":
        from pypod import template

        for n in found:
            try:
                out(template.render(fmt, n))
            except template.TemplateError as e:
                raise PypodError(str(e)) from None
    else:
        out(go_json(found, indent=5))
    if missing:
        err = NotFound(f"inspecting object: network {missing[0]}: unable to find network with name "
                       f"or ID {missing[0]}: network not found")
        raise err


def exists(name: str = Arg(..., metavar="NETWORK")):
    """Check if a network exists."""
    from pypod.errors import ExitCode

    nets = _networks()
    raise ExitCode(0 if any(n["name"] == name or n["id"] == name for n in nets) else 1)


def register(root) -> None:
    app = root.group("network", "Manage networks")
    for name, fn, extra in [("ls", ls, {}), ("list", ls, {"hidden": True}), ("inspect", inspect, {}),
                            ("exists", exists, {})]:
        app.command(name, **extra)(fn)
    root.command("port", help="List port mappings or a specific mapping for the container")(port)
    _ = sys
