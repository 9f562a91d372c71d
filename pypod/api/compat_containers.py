"""Container routes in Docker's shapes, over the engine's container functions."""

from __future__ import annotations

import json
import struct
import time

from pypod.api.http import BodyReader, HTTPError, StreamWriter
from pypod.api.router import route
from pypod.api.shape import ANY, MapOf, check


def _engine():
    from pypod.engine import containers

    return containers


def lookup(ctx, name: str):
    """{name}: a full id, a unique id prefix, or a name with or without the leading '/'."""
    rec = _engine().find_container(ctx, name.lstrip("/"))
    if rec is None:
        raise HTTPError(404, f"No such container: {name}")
    return rec


def _docker_ports(rec) -> list[dict]:
    out = []
    for m in rec.config.net.ports:
        out.append({"IP": m.get("host_ip") or "0.0.0.0", "PrivatePort": m["container_port"],
                    "PublicPort": m["host_port"], "Type": m["protocol"]})
    for key in rec.config.expose:
        port, _, proto = key.partition("/")
        if not any(p["PrivatePort"] == int(port) for p in out):
            out.append({"PrivatePort": int(port), "Type": proto or "tcp"})
    return out


def _network_mode(rec, nets: list[str] | None = None) -> str:
    from pypod.engine import containers

    nets = containers.network_names(rec) if nets is None else nets
    if nets and nets[0] == "podman":
        return "bridge"  # Docker's default network, as podman's service shows it
    return nets[0] if nets else "default"


def _summary(ctx, view) -> dict:
    ce = _engine()
    rec, st = view.record, view.state
    status = st.get("status", "created")
    if status == "stopped":
        status = "exited"
    nets = ce.network_names(rec)
    return {
        "Id": rec.id, "Names": ["/" + rec.name], "Image": rec.image_name,
        "ImageID": "sha256:" + rec.image_id if rec.image_id else "", "Command": " ".join(rec.command),
        "Created": int(ce.parse_time(rec.created)), "Ports": _docker_ports(rec), "Labels": rec.labels or {},
        "State": status, "Status": _docker_status(ce.status_text(st)), "HostConfig": {"NetworkMode": _network_mode(rec, nets)},
        "NetworkSettings": {"Networks": {n: {"NetworkID": _network_id(ctx, n)} for n in nets}},
        "Mounts": _summary_mounts(rec),
    }


def _network_id(ctx, name: str) -> str:
    """Docker Compose compares these with its networks' ids (a mismatch recreates the container)."""
    from pypod.engine import networks as netmod

    net = netmod.find_network(ctx, name)
    return net["id"] if net else name


def _summary_mounts(rec) -> list:
    """The list's Mounts (Compose checks that each service volume is mounted, else recreates)."""
    from pypod.engine.mounts import inspect_mounts

    return [{k: m.get(k, "") for k in ("Type", "Name", "Source", "Destination", "Driver", "Mode", "RW",
                                        "Propagation")}
            for m in inspect_mounts(rec.config.resolved_mounts or [])]


def _docker_status(text: str) -> str:
    """podman 4.3 says "Up 5 seconds ago"; Docker (and its clients' tables) "Up 5 seconds"."""
    if text.startswith("Up ") and " ago" in text:
        return text.replace(" ago", "", 1)
    return text


@route("GET", "/containers/json")
def list_containers(req, ctx) -> None:
    ce = _engine()
    all_ = req.qbool("all")
    limit = req.qint("limit", -1)
    views = ce.list_containers(ctx, all_=all_, filters=req.filter_args(),
                               last=limit if limit and limit > 0 else -1)
    req.h.send_json(200, [_summary(ctx, v) for v in views])


def _docker_inspect(ctx, rec) -> dict:
    ce = _engine()
    d = json.loads(json.dumps(ce.inspect_container(ctx, rec), default=str))
    st = d["State"]
    if st["Status"] == "stopped":
        st["Status"] = "exited"
    state = {k: st.get(k) for k in ("Status", "Running", "Paused", "Restarting", "OOMKilled", "Dead", "Pid",
                                      "ExitCode", "Error", "StartedAt", "FinishedAt")}
    if "Health" in st:
        state["Health"] = st["Health"]
    cfg = d["Config"]
    ep = rec.entrypoint
    ports = {}
    for key, binds in (d["NetworkSettings"].get("Ports") or {}).items():
        ports[key] = [{"HostIp": b.get("HostIp") or "0.0.0.0", "HostPort": b.get("HostPort", "")}
                      for b in binds] if binds else None
    from pypod.signals import signal_name

    sig = cfg.get("StopSignal")
    config = {
        "Hostname": cfg["Hostname"], "Domainname": "", "User": cfg.get("User") or "",
        "AttachStdin": False, "AttachStdout": False, "AttachStderr": False,
        "ExposedPorts": {k: {} for k in ports} or None, "Tty": cfg["Tty"], "OpenStdin": cfg["OpenStdin"],
        "StdinOnce": False, "Env": cfg.get("Env") or [], "Cmd": rec.cmd or None, "Image": rec.image_name,
        "Volumes": None, "WorkingDir": cfg.get("WorkingDir") or "", "Entrypoint": list(ep) if ep else None,
        "OnBuild": None, "Labels": rec.labels or {},
        "StopSignal": signal_name(sig) if isinstance(sig, int) else (sig or "SIGTERM"),
        "StopTimeout": cfg.get("StopTimeout"),
    }
    if "Healthcheck" in cfg:
        config["Healthcheck"] = cfg["Healthcheck"]
    hc = dict(d["HostConfig"])
    if hc["LogConfig"].get("Type") == "k8s-file":
        # clients read logs through the API only for drivers they know (docker-py: json-file)
        hc["LogConfig"] = {"Type": "json-file", "Config": {}}
    hc["NetworkMode"] = _network_mode(rec)
    hc["PortBindings"] = {k: v for k, v in ports.items() if v}
    nets = d["NetworkSettings"].get("Networks") or {}
    mounts = []
    for m in d.get("Mounts") or []:
        mounts.append({"Type": m.get("Type", "bind"), "Name": m.get("Name", ""), "Source": m.get("Source", ""),
                       "Destination": m.get("Destination", ""), "Driver": m.get("Driver", ""),
                       "Mode": m.get("Mode", ""), "RW": m.get("RW", True),
                       "Propagation": m.get("Propagation", "")})
    return {
        "Id": rec.id, "Created": d["Created"], "Path": d["Path"], "Args": d["Args"], "State": state,
        "Image": "sha256:" + rec.image_id if rec.image_id else "", "ResolvConfPath": d["ResolvConfPath"],
        "HostnamePath": d["HostnamePath"], "HostsPath": d["HostsPath"],
        "LogPath": d["HostConfig"]["LogConfig"].get("Path", ""),
        "Name": "/" + rec.name, "RestartCount": d["RestartCount"], "Driver": "overlay", "Platform": "linux",
        "MountLabel": "", "ProcessLabel": "", "AppArmorProfile": "", "ExecIDs": d.get("ExecIDs") or None,
        "HostConfig": hc, "GraphDriver": d["GraphDriver"], "Mounts": mounts, "Config": config,
        "NetworkSettings": {"Bridge": "", "SandboxID": "", "Ports": ports, "SandboxKey": d["NetworkSettings"]["SandboxKey"],
                            "Networks": nets, "IPAddress": "", "IPPrefixLen": 0, "Gateway": "",
                            "MacAddress": ""},
    }


@route("GET", "/containers/{name}/json")
def inspect(req, ctx) -> None:
    req.h.send_json(200, _docker_inspect(ctx, lookup(ctx, req.params["name"])))


# -- create ------------------------------------------------------------------------------------
_STRS = [str]
CREATE_BODY = {  # the fields create_options reads (api/shape.py)
    "Image": str, "Cmd": (str, _STRS), "Entrypoint": (str, _STRS), "Env": _STRS, "WorkingDir": str,
    "User": str, "Hostname": str, "Labels": MapOf(str), "StopSignal": str, "StopTimeout": int,
    "OpenStdin": bool, "Tty": bool, "ExposedPorts": MapOf(ANY),
    "Healthcheck": {"Test": _STRS, "Interval": int, "Timeout": int, "StartPeriod": int, "Retries": int},
    "HostConfig": {
        "PortBindings": MapOf([{"HostIp": str, "HostPort": str}]),
        "RestartPolicy": {"Name": str, "MaximumRetryCount": int}, "NetworkMode": str,
        "Mounts": [{"Type": str, "Source": str, "Target": str, "ReadOnly": bool}],
        "AutoRemove": bool, "Binds": _STRS, "PublishAllPorts": bool, "CapAdd": _STRS, "CapDrop": _STRS,
        "Privileged": bool, "SecurityOpt": _STRS, "Dns": _STRS, "DnsSearch": _STRS, "DnsOptions": _STRS,
        "ExtraHosts": _STRS, "ReadonlyRootfs": bool, "Init": bool, "Tmpfs": MapOf(str),
        "VolumesFrom": _STRS, "GroupAdd": _STRS},
    "NetworkingConfig": {"EndpointsConfig": MapOf({"Aliases": _STRS})},
}


def create_options(body: dict, name: str | None):
    """Docker's create body as the engine's CreateOptions (unknown fields and nulls ignored; a
    field of the wrong type is a 400, as Docker's decoder answers)."""
    from pypod.engine.containers import CreateOptions

    check(body, CREATE_BODY)
    hc = body.get("HostConfig") or {}
    image = body.get("Image") or ""
    if not image:
        raise HTTPError(400, "config.Image is required: the image to create the container from")
    publish = []
    for key, binds in (hc.get("PortBindings") or {}).items():
        for b in binds or [{}]:
            ip = (b or {}).get("HostIp") or ""
            hp = (b or {}).get("HostPort") or ""
            publish.append(f"{ip}:{hp}:{key}" if ip else (f"{hp}:{key}" if hp else key))
    labels = [f"{k}={v}" for k, v in (body.get("Labels") or {}).items()]
    restart = (hc.get("RestartPolicy") or {}).get("Name") or "no"
    retries = (hc.get("RestartPolicy") or {}).get("MaximumRetryCount") or 0
    if restart == "on-failure" and retries:
        restart = f"on-failure:{retries}"
    mode = hc.get("NetworkMode") or ""
    networks = list(((body.get("NetworkingConfig") or {}).get("EndpointsConfig") or {}).keys())
    network = None
    if mode and mode not in ("default", "bridge", "podman"):
        network = mode
    elif networks and networks[0] not in ("default", "bridge", "podman"):
        network = networks[0]
    aliases = []
    for ep in ((body.get("NetworkingConfig") or {}).get("EndpointsConfig") or {}).values():
        aliases += [a for a in (ep or {}).get("Aliases") or [] if a]
    mounts = []
    for m in hc.get("Mounts") or []:
        parts = [f"type={m.get('Type', 'volume')}"]
        if m.get("Source"):
            parts.append(f"source={m['Source']}")
        parts.append(f"destination={m.get('Target', '')}")
        if m.get("ReadOnly"):
            parts.append("ro=true")
        mounts.append(",".join(parts))
    entry = body.get("Entrypoint")
    if isinstance(entry, str):  # Docker's strslice: one string is a one-word list
        entry = [entry] if entry else []
    cmd = body.get("Cmd") or []
    if isinstance(cmd, str):
        cmd = [cmd]
    health = body.get("Healthcheck") or {}
    test = health.get("Test") or []
    kw = dict(
        image=image, command=list(cmd), name=name or None,
        entrypoint=json.dumps(entry) if entry is not None else None, env=list(body.get("Env") or []),
        workdir=body.get("WorkingDir") or None, user=body.get("User") or None,
        hostname=body.get("Hostname") or None, labels=labels, stop_signal=body.get("StopSignal") or None,
        stop_timeout=body.get("StopTimeout"), restart=restart, rm=bool(hc.get("AutoRemove")),
        interactive=bool(body.get("OpenStdin")), tty=bool(body.get("Tty")), network=network,
        volumes=list(hc.get("Binds") or []), mounts=mounts, publish=publish,
        publish_all=bool(hc.get("PublishAllPorts")), cap_add=list(hc.get("CapAdd") or []),
        cap_drop=list(hc.get("CapDrop") or []), privileged=bool(hc.get("Privileged")),
        security_opt=list(hc.get("SecurityOpt") or []), dns=list(hc.get("Dns") or []),
        dns_search=list(hc.get("DnsSearch") or []), dns_option=list(hc.get("DnsOptions") or []),
        add_host=list(hc.get("ExtraHosts") or []), read_only=bool(hc.get("ReadonlyRootfs")),
        init=bool(hc.get("Init")), network_aliases=aliases, expose=list((body.get("ExposedPorts") or {}).keys()),
        tmpfs=[f"{k}:{v}" if v else k for k, v in (hc.get("Tmpfs") or {}).items()],
        volumes_from=list(hc.get("VolumesFrom") or []), group_add=list(hc.get("GroupAdd") or []),
        pull="never",  # Docker's create never pulls: a 404 makes the client pull, then create again
        docker_default_network=network is None,  # podman's `podman` bridge: `network connect` works
    )
    if test and test[0] in ("CMD", "CMD-SHELL"):
        kw["health_cmd"] = json.dumps(test[1:]) if test[0] == "CMD" else test[1]
        for key, field in (("Interval", "health_interval"), ("Timeout", "health_timeout"),
                           ("StartPeriod", "health_start_period")):
            if health.get(key):
                kw[field] = f"{health[key] / 1e9}s"
        if health.get("Retries"):
            kw["health_retries"] = health["Retries"]
    elif test and test[0] == "NONE":
        kw["no_healthcheck"] = True
    return CreateOptions(**kw)


@route("POST", "/containers/create")
def create(req, ctx) -> None:
    from pypod.errors import ImageNotFound

    opts = create_options(req.h.json_body(), req.q("name"))
    try:
        rec = _engine().create(ctx, opts)
    except ImageNotFound:
        raise HTTPError(404, f"No such image: {opts.image}") from None
    req.h.send_json(201, {"Id": rec.id, "Warnings": []})


# -- lifecycle ---------------------------------------------------------------------------------
def _status(ctx, rec) -> str:
    return _engine().state_of(ctx, rec).get("status", "created")


@route("POST", "/containers/{name}/start")
def start(req, ctx) -> None:
    rec = lookup(ctx, req.params["name"])
    # the engine decides under the container's lock: None when it was already running
    started = _engine().start_container(ctx, rec)
    req.h.send_bytes(304 if started is None else 204, b"")


@route("POST", "/containers/{name}/stop")
def stop(req, ctx) -> None:
    rec = lookup(ctx, req.params["name"])
    if _status(ctx, rec) not in ("running", "paused", "stopping"):
        req.h.send_bytes(304, b"")
        return
    _engine().stop_container(ctx, rec, req.qint("t", req.qint("timeout")))
    req.h.send_bytes(204, b"")


@route("POST", "/containers/{name}/restart")
def restart(req, ctx) -> None:
    rec = lookup(ctx, req.params["name"])
    _engine().stop_container(ctx, rec, req.qint("t", req.qint("timeout")))
    _engine().start_container(ctx, rec)
    req.h.send_bytes(204, b"")


@route("POST", "/containers/{name}/kill")
def kill(req, ctx) -> None:
    from pypod.signals import parse_signal

    rec = lookup(ctx, req.params["name"])
    if _status(ctx, rec) not in ("running", "paused", "stopping"):
        raise HTTPError(409, f"Cannot kill container: {req.params['name']}: Container {rec.id} is not running")
    _engine().kill_container(ctx, rec, parse_signal(req.q("signal") or "KILL"))
    req.h.send_bytes(204, b"")


@route("DELETE", "/containers/{name}")
def remove(req, ctx) -> None:
    rec = lookup(ctx, req.params["name"])
    force = req.qbool("force")
    if not force and _status(ctx, rec) in ("running", "paused", "stopping"):
        raise HTTPError(409, f"You cannot remove a running container {rec.id}. Stop the container before "
                             "attempting removal or force remove")
    rep = _engine().remove_containers(ctx, [rec.id], force=force, volumes=req.qbool("v"))
    if rep.errors:
        raise rep.errors[0]
    req.h.send_bytes(204, b"")


@route("POST", "/containers/{name}/rename")
def rename(req, ctx) -> None:
    rec = lookup(ctx, req.params["name"])
    new = req.q("name")
    if not new:
        raise HTTPError(400, "a new name is required (?name=)")
    _engine().rename(ctx, rec, new)
    req.h.send_bytes(204, b"")


@route("POST", "/containers/{name}/resize")
def resize(req, ctx) -> None:
    rec = lookup(ctx, req.params["name"])
    h, w = req.qint("h", 0), req.qint("w", 0)
    if h and w:
        from pypod.engine import console

        try:
            console.resize(ctx, rec, h, w)
        except OSError:
            status = _status(ctx, rec)
            if status != "created":
                # podman's 409: Docker's CLI retries a refused resize (a size dropped in
                # silence leaves the container's terminal at 0x0)
                raise HTTPError(409, f"can only resize created or running containers: "
                                     f"container {rec.id} is {status}") from None
            # not started: the size comes with the attach
    req.h.send_bytes(200, b"")


@route("POST", "/containers/{name}/wait")
def wait(req, ctx) -> None:
    """Headers at once (the CLI waits for them before it starts the container), the body when
    the condition holds: not-running (default), next-exit, removed."""
    ce = _engine()
    rec = lookup(ctx, req.params["name"])
    cond = req.q("condition") or "not-running"
    if cond not in ("not-running", "next-exit", "removed"):
        raise HTTPError(400, f"invalid condition {cond!r}: use not-running, next-exit or removed")
    stream = req.h.start_stream()
    code = None
    cdir = ce.store(ctx).dir(rec.id)
    first = ce.state_of(ctx, rec)
    # next-exit: an exit after this request (a run that ends before we look counts too: its
    # finish time is not the one the container had when asked)
    before = first.get("finished_at") if first.get("status") not in ("created",) else None
    while True:
        if not cdir.exists():
            if code is None:
                code = ce.last_exit_code(ctx, rec.id)
            break
        st = ce.state_of(ctx, rec)
        status = st.get("status")
        running = status in ("running", "paused", "stopping")
        if not running and status != "created" or (status == "created" and cond == "not-running"):
            code = st.get("exit_code") or 0
            if cond == "not-running" or (cond == "next-exit" and status != "created"
                                         and st.get("finished_at") != before):
                break
        if req.h.client_gone():
            stream.closed = True
            return
        time.sleep(0.05)
    stream.json({"StatusCode": code or 0, "Error": None})
    stream.close()


# -- logs and attach -----------------------------------------------------------------------------
def frame(stream: str, data: bytes) -> bytes:
    """Docker's multiplexed frame: stream byte, three zeros, the length (big-endian), the data."""
    return struct.pack(">BxxxI", 2 if stream == "stderr" else 1, len(data)) + data


def follow_log(ctx, rec, *, follow: bool, since=None, until=None, tail: int = -1, gone=None):
    """(timestamp, stream, bytes) records of the container's log; with follow, new ones until the
    container has stopped."""
    ce = _engine()
    path = ce.log_path(ctx, rec)
    if path is None:
        raise HTTPError(501, f"container {rec.name} uses the '{rec.config.log_driver}' log driver: "
                             "there is no log to read")
    records, offset = ce.read_logs(path, since=since, until=until, tail=tail)
    yield from records
    if follow:
        from pypod.engine.logs import follow_container

        yield from follow_container(ctx, rec, path, offset, gone=gone, wait_start=True)


@route("GET", "/containers/{name}/logs")
def logs(req, ctx) -> None:
    rec = lookup(ctx, req.params["name"])
    want_out, want_err = req.qbool("stdout"), req.qbool("stderr")
    if not (want_out or want_err):
        raise HTTPError(400, "you must choose at least one stream (stdout=1 or stderr=1)")
    tail = req.q("tail")
    tail_n = -1 if tail in (None, "", "all") else req.qint("tail")
    since = float(req.q("since")) if req.q("since") not in (None, "", "0") else None
    until = float(req.q("until")) if req.q("until") not in (None, "", "0") else None
    timestamps, tty = req.qbool("timestamps"), bool(rec.config.tty)
    stream = req.h.start_stream("application/vnd.docker.raw-stream" if tty else
                                "application/vnd.docker.multiplexed-stream")
    try:
        at_start = True
        for ts, which, data in follow_log(ctx, rec, follow=req.qbool("follow"), since=since,
                                          until=until, tail=tail_n, gone=req.h.client_gone):
            if (which == "stderr" and not want_err) or (which != "stderr" and not want_out):
                continue
            if timestamps and at_start:
                data = ts.encode() + b" " + data
            at_start = data.endswith(b"\n")
            stream.write(data if tty else frame(which, data))
    except OSError:
        return
    stream.close()


@route("POST", "/containers/{name}/attach")
def attach(req, ctx) -> None:
    """The container's output from its first byte (read from its log, which the supervisor
    writes from the start), its stdin through the supervisor's attach socket."""
    import threading

    rec = lookup(ctx, req.params["name"])
    tty = bool(rec.config.tty)
    want_in = req.qbool("stdin")
    want_out, want_err = req.qbool("stdout"), req.qbool("stderr")
    logs_too = req.qbool("logs")
    status = _status(ctx, rec)
    from pypod.engine import events

    events.container(ctx, rec, "attach")
    sock = req.h.hijack("application/vnd.docker.raw-stream" if tty else
                        "application/vnd.docker.multiplexed-stream")
    ce = _engine()
    # before start: everything; after: only what comes next (unless logs=1)
    start_offset = status == "created" or logs_too
    stop = threading.Event()
    if want_in:
        threading.Thread(target=_pump_stdin, args=(ctx, rec, req.h.rfile, stop), daemon=True).start()
    try:
        from pypod.engine.logs import follow_container

        path = ce.log_path(ctx, rec)
        skip = path.stat().st_size if not start_offset and path and path.exists() else 0
        # (no gone(): a half-closed socket is no sign the client has left)
        for _, which, data in (follow_container(ctx, rec, path, skip, wait_start=True) if path else ()):
            if (which == "stderr" and not want_err) or (which != "stderr" and not want_out):
                continue
            sock.sendall(data if tty else frame(which, data))
    except OSError:
        pass
    finally:
        stop.set()
        try:
            import socket

            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _pump_stdin(ctx, rec, rfile, stop) -> None:
    """The client's stdin to the container (once it runs), closed at the client's half-close."""
    from pypod.engine import console

    stdin = console.open_stdin(ctx, rec, stop=stop.is_set)
    if stdin is None:
        return
    try:
        while not stop.is_set():
            b = rfile.read1(65536)
            if not b:
                break
            stdin.write(b)
        stdin.close_input()
    except OSError:
        pass


# -- archive (docker cp) -------------------------------------------------------------------------
def _path_stat(ctx, rec, path: str) -> dict:
    from pypod.engine import cp

    st = cp.stat_path(ctx, rec, path)
    if st is None:
        raise HTTPError(404, f"Could not find the file {path} in container {rec.name}")
    return st


def _stat_header(st: dict) -> dict:
    import base64

    return {"X-Docker-Container-Path-Stat": base64.b64encode(json.dumps(st).encode()).decode()}


@route("HEAD", "/containers/{name}/archive")
def archive_head(req, ctx) -> None:
    rec = lookup(ctx, req.params["name"])
    st = _path_stat(ctx, rec, req.q("path") or "/")
    req.h.send_bytes(200, b"", extra=_stat_header(st))


@route("GET", "/containers/{name}/archive")
def archive_get(req, ctx) -> None:
    from pypod.engine import cp

    rec = lookup(ctx, req.params["name"])
    path = req.q("path") or "/"
    st = _path_stat(ctx, rec, path)
    req.h.connection.settimeout(None)
    req.h.send_response(200)
    req.h.common_headers()
    for k, v in _stat_header(st).items():
        req.h.send_header(k, v)
    req.h.send_header("Content-Type", "application/x-tar")
    req.h.send_header("Transfer-Encoding", "chunked")
    req.h.end_headers()
    from pypod.api.http import Stream

    stream = Stream(req.h)
    try:
        cp.copy_from_container(ctx, rec, path, "-", out=StreamWriter(stream))
    except Exception:  # noqa: BLE001 - headers are out: end the connection, the client sees it cut
        req.h.close_connection = True
        return
    stream.close()


@route("PUT", "/containers/{name}/archive")
def archive_put(req, ctx) -> None:
    from pypod.engine import cp

    rec = lookup(ctx, req.params["name"])
    path = req.q("path") or "/"
    st = _path_stat(ctx, rec, path)
    if not st["mode"] & (1 << 31):
        raise HTTPError(400, f"extraction point is not a directory: {path}")
    # without copyUIDGID the files are root's in the container (Docker's `cp` without -a)
    cp.copy_to_container(ctx, rec, "-", path, stdin=BodyReader(req.h), tar_ids=req.qbool("copyUIDGID"),
                         overwrite=not req.qbool("noOverwriteDirNonDir"))
    req.h.send_bytes(200, b"")


@route("GET", "/containers/{name}/top")
def top(req, ctx) -> None:
    rows = _engine().top(ctx, lookup(ctx, req.params["name"]))
    req.h.send_json(200, {"Titles": rows[0] if rows else [], "Processes": rows[1:]})


@route("GET", "/containers/{name}/export")
def export(req, ctx) -> None:
    from pypod.engine import transport

    rec = lookup(ctx, req.params["name"])
    stream = req.h.start_stream("application/x-tar")
    try:
        transport.export_container(ctx, rec.id, StreamWriter(stream))
    except Exception:  # noqa: BLE001 - the headers are out: cut the stream, the client sees it
        req.h.close_connection = True
        return
    stream.close()


@route("POST", "/containers/prune")
def prune(req, ctx) -> None:
    flt = req.filter_args()
    gone = _engine().prune(ctx, flt)
    req.h.send_json(200, {"ContainersDeleted": gone or [], "SpaceReclaimed": 0})
