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

    ctx = _ctx()
    args = list(args or [])
    if all_:
        if len(args) > 1 or (args and latest):
            raise InvalidArgument("the `port` command accepts at most a PORT argument with --all")
        want = args[0] if args else None
        for v in ce.list_containers(ctx):
            for line in ce.port_lines(v.record, want):
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
    lines = ce.port_lines(rec, want)
    if want and not lines:
        raise PypodError(f'failed to find published port "{want}"')
    for line in lines:
        out(line)


# -- network ------------------------------------------------------------------------------------
def _ne():
    from pypod.engine import networks as ne

    return ne


def _kv(items: list[str]) -> dict:
    """podman's GetAllLabels: KEY=VALUE, or KEY alone for an empty value."""
    d: dict = {}
    for item in items or []:
        k, _, v = item.partition("=")
        d[k] = v
    return d


def _is_json(fmt: str | None) -> bool:
    """podman's report.IsJSON: `json` or `{{json .}}` means the JSON document, not a template."""
    import re

    return bool(fmt) and re.fullmatch(r"\s*(json|\{\{\s*json\s*\.?\s*\}\})\s*", fmt) is not None


def _split_commas(items: list[str]) -> list[str]:
    return [x for item in items or [] for x in item.split(",") if x]


def create(
    name: Optional[str] = Arg(None, metavar="[NAME]"),
    disable_dns: bool = Opt(False, "--disable-dns", help="disable dns plugin"),
    driver: str = Opt("bridge", "--driver", "-d", help="driver to manage the network (only bridge)"),
    gateways: List[str] = Opt([], "--gateway", help="IPv4 gateway for the subnet"),
    internal: bool = Opt(False, "--internal", help="restrict external access from this network"),
    ip_ranges: List[str] = Opt([], "--ip-range", help="allocate container IP from range (CIDR)"),
    ipam_driver: Optional[str] = Opt(None, "--ipam-driver", help="IP Address Management Driver (host-local or none)"),
    ipv6: bool = Opt(False, "--ipv6", help="enable IPv6 networking (not supported: pypod networks are IPv4 only)"),
    labels: List[str] = Opt([], "--label", help="set metadata on a network"),
    opts: List[str] = Opt([], "--opt", "-o", help="Set driver specific options (mtu, vlan, isolate)"),
    subnets: List[str] = Opt([], "--subnet", help="subnets in CIDR format"),
    ignore: bool = Opt(False, "--ignore", help="Don't fail if a network with this name already exists"),
):
    """create networks for containers and pods"""
    import ipaddress

    from pypod.cli.params import UsageError

    gws = _split_commas(gateways)  # podman's --gateway is an ipSlice: commas separate values
    for g in gws:
        try:
            ipaddress.ip_address(g)
        except ValueError:
            raise UsageError(f'invalid argument "{g}" for "--gateway" flag: invalid string being converted '
                             f'to IP address: {g}', "pypod network create") from None
    rec = _ne().create_network(_ctx(), name or None, subnet=subnets, gateway=gws, ip_range=ip_ranges,
                               internal=internal, labels=_kv(labels), options=_kv(opts),
                               disable_dns=disable_dns, driver=driver, ipv6=ipv6, ignore=ignore,
                               ipam_driver=ipam_driver)
    out(rec["name"])


# Go views of a network for --format: podman renders templates over its Go struct (types.Network),
# so fields are Go names (.Name .ID .NetworkInterface .Subnets .IPv6Enabled .DNSEnabled .IPAMOptions
# …), while `{{json .X}}` prints podman's JSON (these objects keep the JSON keys as attributes).
def _go_time(created: str, monotonic: bool = False) -> str:
    """An RFC 3339 stamp as Go's time.Time String(): `2026-01-02 15:04:05.123456789 +0000 UTC`."""
    import datetime as dt
    import re

    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", created or "")
    if not m:
        return created or ""
    base, frac, tz = m.groups()
    d = dt.datetime.fromisoformat(base + ("+00:00" if tz == "Z" else tz))
    d = d.astimezone(dt.timezone.utc) if tz == "Z" else d.astimezone()
    frac = (frac or "").rstrip("0")
    text = d.strftime("%Y-%m-%d %H:%M:%S") + (f".{frac}" if frac else "")
    text += " +0000 UTC" if tz == "Z" else d.strftime(" %z %Z")
    if monotonic:  # podman makes the default network on each call: time.Now() keeps its m=+… reading
        import time

        text += f" m=+{time.process_time():.9f}"
    return text


class _GoLeaseRange:
    def __init__(self, d: dict):
        self.__dict__.update(d)

    StartIP = property(lambda self: self.__dict__.get("start_ip"))
    EndIP = property(lambda self: self.__dict__.get("end_ip"))


class _GoSubnet:
    def __init__(self, d: dict):
        self.__dict__.update(d)
        if isinstance(d.get("lease_range"), dict):
            self.__dict__["lease_range"] = _GoLeaseRange(d["lease_range"])

    Subnet = property(lambda self: self.__dict__.get("subnet"))
    Gateway = property(lambda self: self.__dict__.get("gateway"))
    LeaseRange = property(lambda self: self.__dict__.get("lease_range"))


class _GoNetwork:
    def __init__(self, rec: dict, no_trunc: bool = True):
        self.__dict__.update(rec)
        self.__dict__["subnets"] = [_GoSubnet(s) for s in rec.get("subnets") or []]
        self._no_trunc = no_trunc

    Name = property(lambda self: self.__dict__.get("name", ""))
    Driver = property(lambda self: self.__dict__.get("driver", ""))
    NetworkInterface = property(lambda self: self.__dict__.get("network_interface", ""))
    Subnets = property(lambda self: self.__dict__["subnets"])
    IPv6Enabled = property(lambda self: bool(self.__dict__.get("ipv6_enabled")))
    Internal = property(lambda self: bool(self.__dict__.get("internal")))
    DNSEnabled = property(lambda self: bool(self.__dict__.get("dns_enabled")))
    Labels = property(lambda self: dict(self.__dict__.get("labels") or {}))
    Options = property(lambda self: dict(self.__dict__.get("options") or {}))
    IPAMOptions = property(lambda self: dict(self.__dict__.get("ipam_options") or {}))

    @property
    def ID(self) -> str:
        i = self.__dict__.get("id", "")
        return i if self._no_trunc else i[:12]

    @property
    def Created(self) -> str:
        return _go_time(self.__dict__.get("created", ""), monotonic=self.Name == _ne().DEFAULT_NETWORK)


class _ListPrintReport(_GoNetwork):
    """podman's network.ListPrintReports: Labels as `k=v,k2=v2`, the ID cut to 12 unless --no-trunc."""

    @property
    def Labels(self) -> str:  # type: ignore[override]
        labels = self.__dict__.get("labels") or {}
        return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


# the Go type names podman's template errors show ("can't evaluate field X in type …")
_GoNetwork.__name__ = "interface {}"
_ListPrintReport.__name__ = "network.ListPrintReports"
_GoSubnet.__name__ = "types.Subnet"
_GoLeaseRange.__name__ = "types.LeaseRange"

def _user_template(fmt: str, name: str):
    """podman's report.Parse(OriginUser, …) of a non-table format: normalised, newline-terminated
    and, unless it ranges over `.` itself, wrapped in `{{range .}}…{{end -}}` to run once over the
    list (which is why podman's template errors count columns from that prefix)."""
    import re

    from pypod import template

    text = template.normalize_format(fmt)
    if not text.endswith("\n"):
        text += "\n"
    if not re.search(r"(?s){{\s*range\s*\.\s*}}.*{{\s*end\s*-?\s*}}", text):
        text = "{{range .}}" + text + "{{end -}}"
    return template.Template(text, name=name)


LS_HEADERS = {"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "IPv6": "IPV6"}


def ls(
    fmt: Optional[str] = Opt(None, "--format", help="Pretty-print networks to JSON or using a Go template"),
    filters: List[str] = Opt([], "--filter", "-f", help="Provide filter values (e.g. 'name=podman')"),
    noheading: bool = Opt(False, "--noheading", help="Do not print headers"),
    no_trunc: bool = Opt(False, "--no-trunc", help="Do not truncate the network ID"),
    quiet: bool = Opt(False, "--quiet", "-q", help="display only names"),
):
    """List networks"""
    ne = _ne()
    ctx = _ctx()
    nets = ne.filter_networks(ctx, ne.list_networks(ctx), filters)
    if quiet:
        for n in nets:
            out(n["name"])
        return
    if _is_json(fmt):
        out(go_json(nets, indent=2))
        return
    if not fmt:
        rows = [{"ID": n["id"] if no_trunc else n["id"][:12], "Name": n["name"], "Driver": n["driver"]}
                for n in nets]
        render(rows, None, columns=NET_COLUMNS, noheading=noheading)
        return
    from pypod import template
    from pypod.errors import InvalidArgument

    rows = [_ListPrintReport(n, no_trunc) for n in nets]
    try:
        if template.is_table(fmt):
            sys.stdout.write(template.render_rows(fmt, rows, LS_HEADERS, noheading=noheading, name="ls"))
        else:
            sys.stdout.write(_user_template(fmt, "ls").execute(rows))
    except template.TemplateError as e:
        raise InvalidArgument(str(e)) from None


def inspect(
    names: List[str] = Arg(..., metavar="NETWORK [NETWORK...]"),
    fmt: Optional[str] = Opt(None, "--format", "-f", help="Pretty-print network to JSON or using a Go template"),
):
    """Displays the network configuration for one or more networks."""
    from pypod.errors import PypodError

    ne = _ne()
    ctx = _ctx()
    found, errors = [], []
    for name in names:
        try:
            found.append(ne.get_network(ctx, name))
        except PypodError as e:
            errors.append(f"inspecting object: network {name}: {e.message}")
    if fmt and not _is_json(fmt):
        from pypod import template

        try:
            tmpl = _user_template(fmt, "inspect")
        except template.TemplateError as e:
            raise PypodError(str(e)) from None
        try:
            sys.stdout.write(tmpl.execute([_GoNetwork(n) for n in found]))
        except template.TemplateError as e:
            raise PypodError(f"inspecting object: printing inspect output: {e}") from None
    else:
        out(go_json(found, indent=5) if found else "[]")
    if errors:
        # podman: the first failure is the error; the others are logged before it
        for msg in errors[1:]:
            sys.stderr.write(f"error {msg}\n")
        raise PypodError(errors[0])


def exists(name: str = Arg(..., metavar="NETWORK")):
    """Check if a network exists."""
    from pypod.errors import ExitCode

    raise ExitCode(0 if _ne().network_exists(_ctx(), name) else 1)


def rm(
    names: List[str] = Arg(..., metavar="NETWORK [NETWORK...]"),
    force: bool = Opt(False, "--force", "-f", help="remove any containers using network"),
    timeout: Optional[int] = Opt(None, "--time", "-t", help="Seconds to wait for running containers to stop before killing the container"),
):
    """Remove networks"""
    from pypod.errors import PypodError, RemoveMissing

    if timeout is not None and not force:
        raise PypodError("--force option must be specified to use the --time option")
    ne = _ne()
    ctx = _ctx()
    errors: list = []
    for name in names:
        try:
            ne.remove_network(ctx, name, force=force, timeout=timeout)
        except ne.NetworkInUse:
            raise  # podman stops at a network in use, with only that error (exit 2)
        except PypodError as e:
            if not (force and isinstance(e, RemoveMissing)):  # podman: -f ignores a missing network
                errors.append(e)
            continue
        out(name)
    if errors:
        for e in errors[:-1]:
            sys.stderr.write(f"Error: {e.message}\n")
        last = errors[-1]
        last.exit_code = 1 if any(isinstance(e, RemoveMissing) for e in errors) else 125  # podman's
        raise last


def prune(
    filters: List[str] = Opt([], "--filter", help="Provide filter values (e.g. 'label=<key>=<value>')"),
    force: bool = Opt(False, "--force", "-f", help="do not prompt for confirmation"),
):
    """Prune unused networks"""
    ne = _ne()
    ctx = _ctx()
    ne.parse_filters(filters, ne.PRUNE_FILTERS)
    if not force:
        sys.stdout.write("WARNING! This will remove all networks not used by at least one container.\n"
                         "Are you sure you want to continue? [y/N] ")
        sys.stdout.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return
    for name in ne.prune_networks(ctx, filters):
        out(name)


def connect(
    network: str = Arg(..., metavar="NETWORK"),
    container: str = Arg(..., metavar="CONTAINER"),
    alias: List[str] = Opt([], "--alias", help="network scoped alias for container"),
    ip: Optional[str] = Opt(None, "--ip", help="set a static ipv4 address for this container network"),
    mac_address: Optional[str] = Opt(None, "--mac-address", help="set a static mac address for this container network"),
):
    """Add container to a network."""
    from pypod.engine import netconnect

    netconnect.connect(_ctx(), network, container, aliases=alias, ip=ip, mac=mac_address)


def disconnect(
    network: str = Arg(..., metavar="NETWORK"),
    container: str = Arg(..., metavar="CONTAINER"),
    force: bool = Opt(False, "--force", "-f", help="force removal of container from network"),
):
    """Disconnect a container from a network."""
    from pypod.engine import netconnect

    netconnect.disconnect(_ctx(), network, container, force=force)


def register(root) -> None:
    app = root.group("network", "Manage networks")
    for name, fn, extra in [("create", create, {}), ("ls", ls, {}), ("list", ls, {"hidden": True}),
                            ("inspect", inspect, {}), ("exists", exists, {}), ("rm", rm, {}),
                            ("remove", rm, {"hidden": True}), ("prune", prune, {}),
                            ("connect", connect, {}), ("disconnect", disconnect, {})]:
        app.command(name, **extra)(fn)
    root.command("port", help="List port mappings or a specific mapping for the container")(port)
    _ = sys
