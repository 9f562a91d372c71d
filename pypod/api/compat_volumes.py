"""Volume and network routes in Docker's shapes."""

from __future__ import annotations

from pypod.api.http import HTTPError
from pypod.api.shape import MapOf
from pypod.api.router import route


def _volumes():
    from pypod.engine import volumes

    return volumes


def _volume_json(ctx, rec) -> dict:
    d = _volumes().inspect_volume(ctx, rec)
    return {"Name": d["Name"], "Driver": d["Driver"], "Mountpoint": d["Mountpoint"],
            "CreatedAt": d["CreatedAt"], "Labels": d["Labels"] or {}, "Options": d["Options"] or {},
            "Scope": "local", "Status": {}}


def _volume(ctx, name: str):
    rec = _volumes().vstore(ctx).get(name)
    if rec is None:
        raise HTTPError(404, f"get {name}: no such volume")
    return rec


@route("GET", "/volumes")
def list_volumes(req, ctx) -> None:
    flt = req.filter_args()
    req.h.send_json(200, {"Volumes": [_volume_json(ctx, r) for r in _volumes().list_volumes(ctx, flt)],
                          "Warnings": []})


@route("POST", "/volumes/create")
def create_volume(req, ctx) -> None:
    body = req.h.json_body({"Name": str, "Driver": str, "Labels": MapOf(str), "DriverOpts": MapOf(str)})
    rec = _volumes().create_volume(ctx, body.get("Name") or None, labels=body.get("Labels") or {},
                                   options=body.get("DriverOpts") or {},
                                   driver=body.get("Driver") or "local", ignore=True)
    req.h.send_json(201, _volume_json(ctx, rec))


@route("GET", "/volumes/{name}")
def inspect_volume(req, ctx) -> None:
    req.h.send_json(200, _volume_json(ctx, _volume(ctx, req.params["name"])))


@route("DELETE", "/volumes/{name}")
def remove_volume(req, ctx) -> None:
    rec = _volume(ctx, req.params["name"])
    rep = _volumes().remove_volumes(ctx, [rec.name], force=req.qbool("force"))
    if rep.errors:
        raise rep.errors[0]
    req.h.send_bytes(204, b"")


@route("POST", "/volumes/prune")
def prune_volumes(req, ctx) -> None:
    flt = req.filter_args()
    gone = _volumes().prune_volumes(ctx, flt)
    req.h.send_json(200, {"VolumesDeleted": gone, "SpaceReclaimed": 0})


# -- networks ----------------------------------------------------------------------------------
def _networks():
    from pypod.engine import networks

    return networks


def _network_json(ctx, net: dict) -> dict:
    from pypod.engine import containers as ce

    name = net.get("name", "")
    members = {}
    for rec in ce.store(ctx).list():
        if name in ce.network_names(rec):
            st = ce.state_of(ctx, rec)
            live = ((st.get("networks") or {}).get(name) or {}) if st.get("status") in ("running", "paused") else {}
            ip = f"{live['ip']}/{live.get('prefix', 24)}" if live.get("ip") else ""
            members[rec.id] = {"Name": rec.name, "EndpointID": "", "MacAddress": live.get("mac") or "",
                               "IPv4Address": ip, "IPv6Address": ""}
    ipam = [{"Subnet": s.get("subnet", ""), "Gateway": s.get("gateway", "")} for s in net.get("subnets") or []]
    return {"Name": name, "Id": net.get("id", ""), "Created": net.get("created", ""), "Scope": "local",
            "Driver": net.get("driver", "bridge"), "EnableIPv6": bool(net.get("ipv6_enabled")),
            "IPAM": {"Driver": "default", "Options": {}, "Config": ipam},
            "Internal": bool(net.get("internal")), "Attachable": False, "Ingress": False,
            "ConfigFrom": {"Network": ""}, "ConfigOnly": False, "Containers": members,
            "Options": net.get("options") or {}, "Labels": net.get("labels") or {}}


def _network(ctx, name: str) -> dict:
    net = _networks().find_network(ctx, name)
    if net is None:
        raise HTTPError(404, f"network {name} not found")
    return net


@route("GET", "/networks")
def list_networks(req, ctx) -> None:
    ne = _networks()
    flt = req.filter_args()
    nets = ne.filter_networks(ctx, ne.list_networks(ctx), flt) if flt else ne.list_networks(ctx)
    req.h.send_json(200, [_network_json(ctx, n) for n in nets])


@route("GET", "/networks/{name}")
def inspect_network(req, ctx) -> None:
    req.h.send_json(200, _network_json(ctx, _network(ctx, req.params["name"])))


@route("POST", "/networks/create")
def create_network(req, ctx) -> None:
    body = req.h.json_body({"Name": str, "Driver": str, "Internal": bool, "EnableIPv6": bool,
                            "Labels": MapOf(str), "Options": MapOf(str),
                            "IPAM": {"Config": [{"Subnet": str, "Gateway": str}]}})
    name = body.get("Name") or ""
    if not name:
        raise HTTPError(400, "a network name is required (Name)")
    if _networks().find_network(ctx, name) is not None:
        raise HTTPError(409, f"network with name {name} already exists")
    cfg = ((body.get("IPAM") or {}).get("Config") or [])
    net = _networks().create_network(
        ctx, name, subnet=[c["Subnet"] for c in cfg if c.get("Subnet")] or None,
        gateway=[c["Gateway"] for c in cfg if c.get("Gateway")] or None,
        internal=bool(body.get("Internal")), labels=body.get("Labels") or {},
        options=body.get("Options") or {}, driver=body.get("Driver") or "bridge",
        ipv6=bool(body.get("EnableIPv6")))
    req.h.send_json(201, {"Id": net.get("id", ""), "Warning": ""})


@route("DELETE", "/networks/{name}")
def remove_network(req, ctx) -> None:
    net = _network(ctx, req.params["name"])
    _networks().remove_network(ctx, net["name"])
    req.h.send_bytes(204, b"")


@route("POST", "/networks/{name}/connect")
def connect(req, ctx) -> None:
    from pypod.engine import netconnect

    net = _network(ctx, req.params["name"])
    body = req.h.json_body({"Container": str, "EndpointConfig": {
        "Aliases": [str], "IPAMConfig": {"IPv4Address": str}}})
    ep = body.get("EndpointConfig") or {}
    ip = ((ep.get("IPAMConfig") or {}).get("IPv4Address")) or None
    netconnect.connect(ctx, net["name"], body.get("Container") or "", aliases=list(ep.get("Aliases") or []),
                       ip=ip)
    req.h.send_bytes(200, b"")


@route("POST", "/networks/{name}/disconnect")
def disconnect(req, ctx) -> None:
    from pypod.engine import netconnect

    net = _network(ctx, req.params["name"])
    body = req.h.json_body({"Container": str, "Force": bool})
    netconnect.disconnect(ctx, net["name"], body.get("Container") or "", force=bool(body.get("Force")))
    req.h.send_bytes(200, b"")


@route("POST", "/networks/prune")
def prune_networks(req, ctx) -> None:
    flt = req.filter_args()
    req.h.send_json(200, {"NetworksDeleted": _networks().prune_networks(ctx, flt)})
