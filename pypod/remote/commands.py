"""The verbs a remote user needs, over any Docker-compatible endpoint (pypod's service, podman's,
dockerd): the same flags as the local commands (parsed from the same declarations) and the same
tables, templates and exit codes, built from the API's answers.
"""

from __future__ import annotations

import json
import os
import struct
import sys
import time

from pypod.cli.render import go_json, out, render
from pypod.errors import ExitCode, InvalidArgument, PypodError
from pypod.remote.transport import Endpoint, RemoteError

VERBS: dict[str, object] = {}


def verb(*paths: str):
    def deco(fn):
        for p in paths:
            VERBS[p] = fn
        return fn

    return deco


def _since(ts: float) -> str:
    from pypod.units import since

    return since(ts) if ts else ""


# -- system ------------------------------------------------------------------------------------
@verb("version")
def version(ep: Endpoint, fmt=None, **_) -> None:
    from pypod import __version__

    srv = ep.request("GET", "/version").json()
    if fmt:
        from pypod import template

        data = {"Client": {"Version": __version__, "APIVersion": "1.41", "OsArch": f"linux/{srv.get('Arch', '')}"},
                "Server": {"Version": srv.get("Version", ""), "APIVersion": srv.get("ApiVersion", ""),
                           "OsArch": f"{srv.get('Os', '')}/{srv.get('Arch', '')}"}}
        out(go_json(data) if fmt.strip() == "json" else template.render_rows(fmt, [data], {}).rstrip("\n"))
        return
    out(f"Client:       pypod\nVersion:      {__version__}\nAPI Version:  1.41\n\n"
        f"Server:       {(srv.get('Platform') or {}).get('Name', '')}\nVersion:      {srv.get('Version', '')}\n"
        f"API Version:  {srv.get('ApiVersion', '')}\nOS/Arch:      {srv.get('Os', '')}/{srv.get('Arch', '')}")


@verb("info", "system info")
def info(ep: Endpoint, fmt=None, **_) -> None:
    data = ep.request("GET", "/info").json()
    if fmt and fmt.strip() != "json":
        from pypod import template

        out(template.render_rows(fmt, [data], {}).rstrip("\n"))
        return
    if fmt:
        out(go_json(data))
        return
    import yaml

    sys.stdout.write(yaml.safe_dump(data, default_flow_style=False, sort_keys=False))


# -- containers ---------------------------------------------------------------------------------
def _ports(ports: list[dict]) -> str:
    parts = []
    for p in ports or []:
        if p.get("PublicPort"):
            parts.append(f"{p.get('IP') or '0.0.0.0'}:{p['PublicPort']}->{p['PrivatePort']}/{p.get('Type', 'tcp')}")
        else:
            parts.append(f"{p['PrivatePort']}/{p.get('Type', 'tcp')}")
    return ", ".join(parts)


def _ps_row(c: dict, no_trunc: bool) -> dict:
    cmd = c.get("Command", "")
    if not no_trunc and len(cmd) > 17:
        cmd = cmd[:17] + "..."
    names = [n.lstrip("/") for n in c.get("Names") or []]
    return {"ID": c["Id"] if no_trunc else c["Id"][:12], "Id": c["Id"], "Image": c.get("Image", ""),
            "ImageID": c.get("ImageID", ""), "Command": cmd, "CreatedHuman": _since(c.get("Created", 0)),
            "Created": c.get("Created", 0), "Status": c.get("Status", ""), "State": c.get("State", ""),
            "Ports": _ports(c.get("Ports")), "Names": names[0] if names else "", "Labels": c.get("Labels") or {}}


def _filters(items: list[str]) -> str | None:
    if not items:
        return None
    d: dict[str, list[str]] = {}
    for f in items:
        k, _, v = f.partition("=")
        d.setdefault(k, []).append(v)
    return json.dumps(d)


@verb("ps", "container ps", "container list", "container ls")
def ps(ep: Endpoint, all_=False, quiet=False, last=-1, no_trunc=False, fmt=None, filters=(), noheading=False,
       latest=False, **_) -> None:
    from pypod.cli.container import PS_COLUMNS

    q = {"all": "1" if all_ or last >= 0 or latest else None, "filters": _filters(list(filters))}
    if last >= 0 or latest:
        q["limit"] = str(1 if latest else last)
    rows = ep.request("GET", "/containers/json", query=q).json() or []
    rows.sort(key=lambda c: c.get("Created", 0))  # podman 4.3 lists the oldest first
    if quiet:
        for c in rows:
            out(c["Id"] if no_trunc else c["Id"][:12])
        return
    if fmt and fmt.strip() == "json":
        out(go_json(rows, indent=2))
        return
    render([_ps_row(c, no_trunc) for c in rows], fmt, columns=PS_COLUMNS, noheading=noheading)


def _each(names, fn) -> None:
    failed = None
    for n in names:
        try:
            fn(n)
            out(n)
        except PypodError as e:
            if failed is not None:
                sys.stderr.write(f"Error: {failed.message}\n")
            failed = e
    if failed is not None:
        raise failed


def _no_such(e: RemoteError, name: str) -> PypodError:
    if e.status == 404:
        from pypod.errors import ContainerNotFound

        return ContainerNotFound(f'no container with name or ID "{name}" found: no such container')
    return e


def _post_each(ep: Endpoint, names, action: str, query: dict) -> None:
    """POST /containers/NAME/ACTION for each name, echoed as podman does; a missing one is
    podman's no-such-container error."""
    def one(n):
        try:
            ep.request("POST", f"/containers/{n}/{action}", query=query)
        except RemoteError as e:
            raise _no_such(e, n) from None

    _each(list(names or []), one)


@verb("stop", "container stop")
def stop(ep: Endpoint, names=(), timeout=None, **_) -> None:
    _post_each(ep, names, "stop", {"t": timeout})


@verb("kill", "container kill")
def kill(ep: Endpoint, names=(), signal="KILL", **_) -> None:
    _post_each(ep, names, "kill", {"signal": signal})


@verb("rm", "container rm")
def rm(ep: Endpoint, names=(), force=False, volumes=False, ignore=False, **_) -> None:
    def one(n):
        try:
            ep.request("DELETE", f"/containers/{n}", query={"force": "1" if force else None,
                                                          "v": "1" if volumes else None})
        except RemoteError as e:
            if e.status == 404:
                if ignore:
                    return
                from pypod.errors import RemoveMissing

                raise RemoveMissing(f'no container with ID or name "{n}" found: no such container') from None
            if e.status == 409:
                e.exit_code = 2
            raise

    _each(list(names or []), one)


@verb("start", "container start")
def start(ep: Endpoint, names=(), **_) -> None:
    _each(list(names or []), lambda n: ep.request("POST", f"/containers/{n}/start", check=False))


@verb("inspect", "container inspect")
def inspect(ep: Endpoint, names=(), fmt=None, **_) -> None:
    results, missing = [], []
    for n in names or []:
        found = None
        for path in (f"/containers/{n}/json", f"/images/{n}/json", f"/volumes/{n}", f"/networks/{n}"):
            r = ep.request("GET", path, check=False)
            if r.status == 200:
                found = r.json()
                break
            r.read()
        if found is None:
            missing.append(n)
        else:
            results.append(found)
    if fmt and fmt.strip() != "json":
        from pypod import template

        sys.stdout.write(template.render_rows(fmt, results, {}))
    else:
        out(go_json(results))
    if missing:
        raise PypodError(f"no such object: \"{missing[-1]}\"")


def _demux(data: bytes, pending: bytearray):
    """Docker's multiplexed frames → (stream, payload) as they complete."""
    pending += data
    while len(pending) >= 8:
        kind, n = struct.unpack(">BxxxI", pending[:8])
        if len(pending) < 8 + n:
            break
        yield kind, bytes(pending[8:8 + n])
        del pending[:8 + n]


def _write(kind: int, payload: bytes) -> None:
    f = sys.stderr.buffer if kind == 2 else sys.stdout.buffer
    f.write(payload)
    f.flush()


@verb("logs", "container logs")
def logs(ep: Endpoint, names=(), follow=False, tail=-1, timestamps=False, since=None, until=None, **_) -> None:
    for n in names or []:
        try:
            c = ep.request("GET", f"/containers/{n}/json").json()
        except RemoteError as e:
            raise _no_such(e, n) from None
        q = {"stdout": "1", "stderr": "1", "follow": "1" if follow else None,
             "tail": "all" if tail is None or tail < 0 else str(tail), "timestamps": "1" if timestamps else None}
        resp = ep.request("GET", f"/containers/{n}/logs", query=q)
        tty = bool((c.get("Config") or {}).get("Tty"))
        pending = bytearray()
        for chunk in resp.chunks():
            if tty:
                _write(1, chunk)
            else:
                for kind, payload in _demux(chunk, pending):
                    _write(kind, payload)


def _image_exists(ep: Endpoint, image: str) -> bool:
    r = ep.request("GET", f"/images/{image}/json", check=False)
    r.read()
    return r.status == 200


def _pull(ep: Endpoint, image: str, quiet: bool) -> None:
    name, tag = image, ""
    last = image.rsplit("/", 1)[-1]
    if "@" in image:
        name, tag = image.split("@", 1)
    elif ":" in last:
        name, tag = image.rsplit(":", 1)
    if not quiet:
        sys.stderr.write(f"Trying to pull {image}...\n")
    resp = ep.request("POST", "/images/create", query={"fromImage": name, "tag": tag or "latest"})
    for msg in resp.lines():
        if msg.get("error"):
            raise PypodError(f"initializing source docker://{image}: {msg['error']}")
        if not quiet and msg.get("status", "").startswith(("Digest:", "Status:")):
            sys.stderr.write(msg["status"] + "\n")


@verb("pull", "image pull")
def pull(ep: Endpoint, name=None, names=None, quiet=False, **_) -> None:
    image = name or (names[0] if names else None)
    if not image:
        raise InvalidArgument("requires at least 1 arg(s), only received 0")
    _pull(ep, image, quiet)
    out(ep.request("GET", f"/images/{image}/json").json()["Id"].removeprefix("sha256:"))


@verb("images", "image list", "image ls")
def images(ep: Endpoint, quiet=False, fmt=None, noheading=False, no_trunc=False, all_=False, **_) -> None:
    from pypod.cli.image import IMAGE_COLUMNS
    from pypod.units import human_size

    rows = []
    for img in ep.request("GET", "/images/json", query={"all": "1" if all_ else None}).json() or []:
        iid = img["Id"].removeprefix("sha256:")
        for t in img.get("RepoTags") or ["<none>:<none>"]:
            repo, _, tag = t.rpartition(":")
            rows.append({"Repository": repo, "Tag": tag, "ID": iid if no_trunc else iid[:12], "Id": iid,
                         "CreatedSince": _since(img.get("Created", 0)), "Size": human_size(img.get("Size", 0)),
                         "Created": img.get("Created", 0), "Labels": img.get("Labels") or {}})
    if quiet:
        for r in dict.fromkeys(r["ID"] for r in rows):
            out(r)
        return
    render(rows, fmt, columns=IMAGE_COLUMNS, noheading=noheading)


def _create_body(o: dict) -> dict:
    env = list(o.get("env") or [])
    labels = dict(x.split("=", 1) if "=" in x else (x, "") for x in o.get("label") or [])
    binds, port_bindings, exposed = list(o.get("volume") or []), {}, {}
    for p in o.get("publish") or []:
        parts = p.split(":")
        cport = parts[-1] if "/" in parts[-1] else parts[-1] + "/tcp"
        host_ip = parts[0] if len(parts) == 3 else ""
        host_port = parts[-2] if len(parts) >= 2 else ""
        port_bindings.setdefault(cport, []).append({"HostIp": host_ip, "HostPort": host_port})
        exposed[cport] = {}
    body = {"Image": o["image"], "Cmd": list(o.get("command") or []) or None, "Env": env, "Labels": labels,
            "Tty": bool(o.get("tty")), "OpenStdin": bool(o.get("interactive")),
            "AttachStdin": bool(o.get("interactive")), "AttachStdout": True, "AttachStderr": True,
            "StdinOnce": bool(o.get("interactive")), "WorkingDir": o.get("workdir") or "",
            "User": o.get("user") or "", "Hostname": o.get("hostname") or "", "ExposedPorts": exposed,
            "HostConfig": {"Binds": binds, "PortBindings": port_bindings, "AutoRemove": bool(o.get("rm")),
                           "NetworkMode": (o.get("network") or ["default"])[0],
                           "RestartPolicy": {"Name": (o.get("restart") or "no").split(":")[0]}}}
    if o.get("entrypoint") is not None:
        ep_ = o["entrypoint"]
        body["Entrypoint"] = json.loads(ep_) if ep_.strip().startswith("[") else ([ep_] if ep_ else [])
    return body


def _create(ep: Endpoint, o: dict) -> str:
    body = _create_body(o)
    q = {"name": o.get("name")}
    try:
        return ep.request("POST", "/containers/create", query=q, body=body).json()["Id"]
    except RemoteError as e:
        if e.status != 404 or (o.get("pull") == "never"):
            raise
    _pull(ep, o["image"], bool(o.get("quiet")))
    return ep.request("POST", "/containers/create", query=q, body=body).json()["Id"]


@verb("create", "container create")
def create(ep: Endpoint, image=None, command=None, **o) -> None:
    o.update(image=image, command=command)
    out(_create(ep, o))


def _relay(sock, early: bytes, tty: bool, interactive: bool) -> None:
    """A hijacked attach/exec connection: our stdin to it (half-closed at EOF) when interactive,
    its output to our stdout/stderr (demultiplexed unless a tty) until it closes."""
    if interactive:
        import threading

        def pump():
            try:
                while True:
                    b = os.read(0, 65536)
                    if not b:
                        break
                    sock.sendall(b)
                import socket

                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass

        threading.Thread(target=pump, daemon=True).start()
    pending, data = bytearray(), early
    while True:
        if data:
            if tty:
                _write(1, data)
            else:
                for kind, payload in _demux(data, pending):
                    _write(kind, payload)
        data = sock.recv(65536)
        if not data:
            return


@verb("run", "container run")
def run(ep: Endpoint, image=None, command=None, detach=False, **o) -> None:
    """create → attach (before start: every byte) → start → wait, as Docker's CLI does."""
    o.update(image=image, command=command)
    cid = _create(ep, o)
    if detach:
        ep.request("POST", f"/containers/{cid}/start")
        out(cid)
        return
    tty, interactive = bool(o.get("tty")), bool(o.get("interactive"))
    sock, early = ep.hijack("POST", f"/containers/{cid}/attach",
                            query={"stream": "1", "stdout": "1", "stderr": "1", "stdin": "1" if interactive else None})
    # next-exit even with --rm: podman 4.3 answers condition=removed with 0 whatever the code
    # (its #18889); the exit comes before the removal anyway
    waiter = ep.request("POST", f"/containers/{cid}/wait", query={"condition": "next-exit"})
    ep.request("POST", f"/containers/{cid}/start")
    old = None
    if tty and os.isatty(0):
        import termios
        import tty as ttymod

        old = termios.tcgetattr(0)
        ttymod.setraw(0, termios.TCSANOW)
        try:
            rows, cols = os.get_terminal_size(0).lines, os.get_terminal_size(0).columns
            ep.request("POST", f"/containers/{cid}/resize", query={"h": rows, "w": cols}, check=False).read()
        except OSError:
            pass
    try:
        _relay(sock, early, tty, interactive)
    finally:
        if old is not None:
            import termios

            termios.tcsetattr(0, termios.TCSADRAIN, old)
        sock.close()
    res = waiter.json() or {}
    raise ExitCode(int(res.get("StatusCode") or 0))


@verb("exec", "container exec")
def exec_(ep: Endpoint, container=None, command=(), interactive=False, tty=False, env=(), user=None,
          workdir=None, detach=False, **_) -> None:
    body = {"Cmd": list(command or []), "Env": list(env or []), "User": user or "", "WorkingDir": workdir or "",
            "Tty": bool(tty), "AttachStdin": bool(interactive), "AttachStdout": True, "AttachStderr": True}
    try:
        eid = ep.request("POST", f"/containers/{container}/exec", body=body).json()["Id"]
    except RemoteError as e:
        raise _no_such(e, container) if e.status == 404 else e from None
    if detach:
        ep.request("POST", f"/exec/{eid}/start", body={"Detach": True, "Tty": bool(tty)}).read()
        out(eid)
        return
    sock, data = ep.hijack("POST", f"/exec/{eid}/start", body={"Detach": False, "Tty": bool(tty)})
    _relay(sock, data, tty, interactive)
    sock.close()
    for _ in range(100):
        st = ep.request("GET", f"/exec/{eid}/json").json()
        if not st.get("Running"):
            raise ExitCode(int(st.get("ExitCode") or 0))
        time.sleep(0.05)
    raise ExitCode(0)


@verb("volume ls", "volume list")
def volume_ls(ep: Endpoint, quiet=False, fmt=None, noheading=False, **_) -> None:
    vols = (ep.request("GET", "/volumes").json() or {}).get("Volumes") or []
    if quiet:
        for v in vols:
            out(v["Name"])
        return
    render([{"Name": v["Name"], "Driver": v.get("Driver", "local"), "Labels": v.get("Labels") or {},
             "Mountpoint": v.get("Mountpoint", "")} for v in vols], fmt,
           columns=[("DRIVER", "Driver"), ("VOLUME NAME", "Name")], noheading=noheading)


@verb("network ls", "network list")
def network_ls(ep: Endpoint, quiet=False, fmt=None, noheading=False, no_trunc=False, **_) -> None:
    from pypod.cli.network import NET_COLUMNS

    nets = ep.request("GET", "/networks").json() or []
    if quiet:
        for n in nets:
            out(n["Name"])
        return
    render([{"ID": n["Id"] if no_trunc else n["Id"][:12], "Name": n["Name"], "Driver": n.get("Driver", ""),
             "Labels": n.get("Labels") or {}} for n in nets], fmt, columns=NET_COLUMNS, noheading=noheading)


def run_remote(ep: Endpoint, path: str, values: dict) -> int:
    fn = VERBS.get(path)
    if fn is None:
        raise InvalidArgument(f"`pypod {path}` is not available with a remote connection "
                              f"(available: {', '.join(sorted(VERBS))})")
    try:
        fn(ep, **values)
    except ExitCode as e:
        return e.code
    return 0
