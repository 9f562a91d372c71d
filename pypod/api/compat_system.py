"""System routes: ping, version, info (what every client calls first), and the BuildKit probes."""

from __future__ import annotations

import os
import platform
import time

from pypod.api.router import route


@route("GET", "/_ping")
def ping(req, ctx) -> None:
    from pypod.api.server import API_VERSION

    extra = {"Builder-Version": "1", "Docker-Experimental": "false", "Swarm": "inactive",
             "Cache-Control": "no-cache, no-store, must-revalidate", "Pragma": "no-cache"}
    if req.h.command == "HEAD":
        req.h.send_response(200)
        req.h.common_headers()
        for k, v in extra.items():
            req.h.send_header(k, v)
        req.h.send_header("Content-Type", "text/plain; charset=utf-8")
        req.h.send_header("Content-Length", "0")
        req.h.end_headers()
        req.h.wfile.flush()
        return
    assert API_VERSION
    req.h.send_bytes(200, b"OK", "text/plain; charset=utf-8", extra)


def _version_body() -> dict:
    from pypod import __version__
    from pypod.api.server import API_VERSION, MIN_API_VERSION
    from pypod.engine import system

    rep = system.version_report()["Server"]
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    details = {"ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION, "Os": "linux", "Arch": arch,
               "KernelVersion": platform.release(), "GitCommit": "", "GoVersion": rep["GoVersion"],
               "BuildTime": rep["BuiltTime"], "Experimental": "false"}
    return {"Platform": {"Name": f"pypod {__version__}"},
            "Components": [{"Name": "Engine", "Version": __version__, "Details": details}],
            "Version": __version__, "ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION,
            "GitCommit": "", "GoVersion": rep["GoVersion"], "Os": "linux", "Arch": arch,
            "KernelVersion": platform.release(), "BuildTime": rep["BuiltTime"], "Experimental": False}


@route("GET", "/version")
def version(req, ctx) -> None:
    req.h.send_json(200, _version_body())


@route("GET", "/info")
def info(req, ctx) -> None:
    from pypod import __version__
    from pypod.engine import system

    rep = system.info_report(ctx)
    host, store = rep["Host"], rep["Store"]
    cs = store["ContainerStore"]
    dist = host.get("Distribution") or {}
    req.h.send_json(200, {
        "ID": "", "Name": host["Hostname"], "ServerVersion": __version__,
        "OperatingSystem": f"{dist.get('Distribution', 'linux')} {dist.get('Version', '')}".strip(),
        "OSType": "linux", "OSVersion": dist.get("Version", ""), "Architecture": platform.machine(),
        "KernelVersion": host["Kernel"], "NCPU": host["CPUs"], "MemTotal": host["MemTotal"],
        "Containers": cs["Number"], "ContainersRunning": cs["Running"], "ContainersPaused": cs["Paused"],
        "ContainersStopped": cs["Stopped"], "Images": store["ImageStore"]["Number"],
        "Driver": store["GraphDriverName"], "DriverStatus": [], "DockerRootDir": store["GraphRoot"],
        "Plugins": {"Volume": ["local"], "Network": ["bridge"], "Log": ["k8s-file", "json-file", "none"]},
        "CgroupDriver": "cgroupfs", "CgroupVersion": host["CgroupsVersion"].lstrip("v"),
        "LoggingDriver": host["LogDriver"], "Swarm": {"LocalNodeState": "inactive", "NodeID": "",
                                                      "ControlAvailable": False},
        "Runtimes": {"pypod": {"path": "pypod"}}, "DefaultRuntime": "pypod",
        "SecurityOptions": ["name=rootless"] if ctx.rootless else [],
        "IndexServerAddress": "https://index.docker.io/v1/", "RegistryConfig": {},
        "HttpProxy": os.environ.get("HTTP_PROXY", ""), "HttpsProxy": os.environ.get("HTTPS_PROXY", ""),
        "NoProxy": os.environ.get("NO_PROXY", ""), "Labels": [], "ExperimentalBuild": False,
        "Warnings": [],
    })


@route("POST", "/grpc")
def grpc(req, ctx) -> None:
    req.h.send_error_json(404, "BuildKit is not supported: use DOCKER_BUILDKIT=0 (the classic builder)")


@route("POST", "/session")
def session(req, ctx) -> None:
    grpc(req, ctx)


@route("GET", "/events")
def events(req, ctx) -> None:
    """Docker's event stream (JSON lines, flushed), filtered here: Compose follows its project's
    containers by label."""
    from pypod.engine import events as ev

    flt = []
    for k, values in req.filters().items():
        for v in values:
            if k == "event":  # Docker's names for podman's statuses
                v = {"die": "died", "destroy": "remove"}.get(v, v)
            flt.append(f"{k}={v}")
    since = float(req.q("since")) if req.q("since") else None
    until = float(req.q("until")) if req.q("until") else None
    follow = until is None or until > time.time()
    stream = req.h.start_stream()
    for e in ev.read(ctx, flt, since=since, until=until, follow=follow, stop=req.h.client_gone):
        try:
            stream.json(ev.docker(e))
        except OSError:
            return
    stream.close()


@route("GET", "/system/df")
def df(req, ctx) -> None:
    from pypod.engine import storage
    from pypod.units import parse_time

    du = storage.disk_usage(ctx)
    images = [{"Id": "sha256:" + r["rec"].id, "ParentId": "", "RepoTags": list(r["rec"].names) or None,
               "RepoDigests": [], "Created": int(parse_time(r["rec"].created)), "Size": r["size"],
               "SharedSize": r["shared"], "VirtualSize": r["size"], "Labels": {}, "Containers": r["containers"]}
              for r in du["images"]]
    containers = [{"Id": r["rec"].id, "Names": ["/" + r["rec"].name], "Image": r["rec"].image_name,
                   "ImageID": "sha256:" + r["rec"].image_id, "Command": " ".join(r["rec"].command),
                   "Created": int(parse_time(r["rec"].created)), "SizeRw": r["size"], "SizeRootFs": r["size"],
                   "State": r["status"], "Status": r["status"], "Labels": r["rec"].labels or {}, "Mounts": []}
                  for r in du["containers"]]
    volumes = [{"Name": r["rec"].name, "Driver": "local", "Mountpoint": "", "Labels": r["rec"].labels or {},
                "Scope": "local", "Options": {}, "UsageData": {"Size": r["size"], "RefCount": r["links"]}}
               for r in du["volumes"]]
    req.h.send_json(200, {"LayersSize": du["summary"][0][3], "Images": images, "Containers": containers,
                          "Volumes": volumes, "BuildCache": []})
