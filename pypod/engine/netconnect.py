"""`network connect` / `network disconnect`: a container joins or leaves a user network — in its
record, and, while it runs, at once (an address leased for its supervisor, a veth added or
removed by the shared namespace's holder)."""

from __future__ import annotations

from pypod.engine.context import Context
from pypod.errors import InvalidArgument, PypodError


def _running_state(ctx: Context, rec) -> dict | None:
    from pypod.engine import containers as ce
    from pypod.runtime import state as statemod

    st = ce.state_of(ctx, rec)
    return st if statemod.is_running(st) and st.get("pid") else None


def connect(ctx: Context, network: str, container: str, *, aliases: list[str] | None = None,
            ip: str | None = None, mac: str | None = None) -> None:
    import ipaddress

    from pypod.engine import containers as ce
    from pypod.engine import networks as netmod

    net = netmod.get_network(ctx, network)
    rec = ce.get_container(ctx, container)
    o = rec.config
    if o.network != "bridge":
        raise PypodError(f"\"{o.network or 'slirp4netns'}\" is not supported: "
                         f"network connect is only possible for containers on user-defined networks")
    if ip:
        try:
            ipaddress.IPv4Address(ip)
        except ValueError:
            raise InvalidArgument(f"{ip} is not an IPv4 address") from None
    networks = o.net.networks
    if net["name"] in networks:
        raise PypodError(f"container {rec.id} is already connected to network "
                         f"\"{net['name']}\": network is already connected")
    used = {ep.interface or f"eth{i}" for i, ep in enumerate(networks.values())}
    i = 0
    while f"eth{i}" in used:
        i += 1
    from pypod.store.container_config import EndpointConfig

    ep = EndpointConfig(aliases=list(aliases or []), ip=ip or "", mac=mac or "", interface=f"eth{i}")
    st = _running_state(ctx, rec)
    if st is not None:
        _attach_live(ctx, rec, st, net, ep)
    _set_endpoint(ctx, rec.id, net["name"], ep)
    from pypod.engine import events

    events.network(ctx, "connect", net["name"], container_id=rec.id)


def _attach_live(ctx: Context, rec, st: dict, net: dict, ep: dict) -> None:
    from pypod.linux import proc
    from pypod.network import rootlessnet

    owner = {"id": rec.id, "name": rec.name, "pid": st.get("supervisor_pid"),
             "start": st.get("supervisor_starttime") or proc.starttime(st.get("supervisor_pid") or 0)}
    lease_ep = {"aliases": ep.aliases, "want": ep.ip, "mac": ep.mac, "ifname": ep.interface}
    run_root = str(ctx.run_root)
    from pypod.engine.containers import _uplink_options

    try:
        rootlessnet.lease(run_root, _userns_dir(ctx), _uplink_options(), owner, [(net, lease_ep)])
        req = rootlessnet.endpoint_request(net, lease_ep)
        resp = rootlessnet.request(run_root, {"op": "attach", "pid": int(st["pid"]),
                                              "endpoints": [req]})
    except rootlessnet.NetError as e:
        rootlessnet.release(run_root, rec.id, [net["name"]])
        raise PypodError(e.message) from None
    i = (resp.get("interfaces") or {}).get(net["name"]) or {}
    _set_live(ctx, rec.id, net["name"], {"ip": req["ip"], "prefix": req["prefix"],
                                         "gateway": req["gateway"], "mac": i.get("mac") or "",
                                         "ifname": req["ifname"]})


def _set_endpoint(ctx: Context, cid: str, network: str, ep) -> None:
    """The record's endpoint on `network` (an EndpointConfig; None: none), and the stored spec
    derived again from the record (build_spec, as create derives it): the next start (or
    restart) attaches what the record says."""
    from pypod.engine import containers as ce

    with ce.store(ctx).lock():
        fresh = ce.get_container(ctx, cid)
        nets = dict(fresh.config.net.networks)
        if ep is None:
            nets.pop(network, None)
        else:
            nets[network] = ep
        fresh.config.net.networks = nets
        ce.store(ctx).save(fresh)
    ce.derive_spec(ctx, fresh, fsync=True)


def _set_live(ctx: Context, cid: str, network: str, info: dict | None) -> None:
    """A running container's state: its address on `network` (None: gone)."""
    from pypod.runtime import state as statemod

    cdir = str(ctx.containers_dir / cid)
    nets = dict(statemod.read_state(cdir).get("networks") or {})
    if info is None:
        nets.pop(network, None)
    else:
        nets[network] = info
    statemod.update_state(cdir, {"networks": nets})


def _userns_dir(ctx: Context) -> str | None:
    return str(ctx.run_root / "userns") if ctx.rootless else None


def disconnect(ctx: Context, network: str, container: str, *, force: bool = False) -> None:
    from pypod.engine import containers as ce
    from pypod.engine import networks as netmod
    from pypod.network import rootlessnet

    net = netmod.get_network(ctx, network)
    rec = ce.get_container(ctx, container)
    networks = rec.config.net.networks
    if net["name"] not in networks:
        raise PypodError(f"container {rec.id} is not connected to network {net['name']}")
    st = _running_state(ctx, rec)
    if st is not None:
        live = (st.get("networks") or {}).get(net["name"]) or {}
        ifname = live.get("ifname") or networks[net["name"]].interface
        try:
            if ifname:
                rootlessnet.request(str(ctx.run_root), {"op": "detach", "pid": int(st["pid"]),
                                                        "ifname": ifname})
        except rootlessnet.NetError as e:
            if not force:
                raise PypodError(e.message) from None
        rootlessnet.release(str(ctx.run_root), rec.id, [net["name"]])
        _set_live(ctx, rec.id, net["name"], None)
    _set_endpoint(ctx, rec.id, net["name"], None)
    from pypod.engine import events

    events.network(ctx, "disconnect", net["name"], container_id=rec.id)
