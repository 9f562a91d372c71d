"""Image routes in Docker's shapes (image names hold `/` and `:`: the routes match them greedily)."""

from __future__ import annotations

from pypod.api.http import BodyReader, HTTPError, StreamWriter
from pypod.api.router import route


def _images():
    from pypod.engine import images

    return images


def lookup(ctx, name: str):
    rec = _images().find_image(ctx, name)
    if rec is None:
        raise HTTPError(404, f"No such image: {name}")
    return rec


@route("GET", "/images/json")
def list_images(req, ctx) -> None:
    from pypod.units import parse_time

    ie = _images()
    using = ie.containers_using(ctx)
    seen: dict[str, dict] = {}
    flt = req.filter_args()
    for row in ie.list_images(ctx, all_=req.qbool("all"), filters=flt):
        rec = row.record
        item = seen.get(rec.id)
        if item is None:
            cfg = ctx.images.config(rec.id)
            item = seen[rec.id] = {
                "Id": "sha256:" + rec.id, "ParentId": "", "RepoTags": [],
                "RepoDigests": ie.repo_digests(rec), "Created": int(parse_time(rec.created)),
                "Size": ctx.images.size(rec), "SharedSize": -1, "VirtualSize": ctx.images.size(rec),
                "Labels": (cfg.get("config") or {}).get("Labels") or {},
                "Containers": len(using.get(rec.id, [])),
            }
        if row.tag != "<none>":
            item["RepoTags"].append(f"{row.repository}:{row.tag}")
    for item in seen.values():
        item["RepoTags"] = item["RepoTags"] or None
    req.h.send_json(200, list(seen.values()))


def _docker_config(c: dict) -> dict:
    return {"Hostname": "", "Domainname": "", "User": c.get("User", ""), "Env": c.get("Env") or [],
            "Cmd": c.get("Cmd"), "Entrypoint": c.get("Entrypoint"), "WorkingDir": c.get("WorkingDir", ""),
            "Labels": c.get("Labels") or {}, "ExposedPorts": c.get("ExposedPorts"),
            "Volumes": c.get("Volumes"), "StopSignal": c.get("StopSignal", ""), "OnBuild": c.get("OnBuild"),
            "Image": "", "AttachStdin": False, "AttachStdout": False, "AttachStderr": False, "Tty": False,
            "OpenStdin": False, "StdinOnce": False}


@route("GET", "/images/{name:.*}/json")
def inspect(req, ctx) -> None:
    ie = _images()
    rec = lookup(ctx, req.params["name"])
    cfg = ctx.images.config(rec.id)
    zero = "0001-01-01T00:00:00Z"  # Go's zero time: clients parse the field
    created = cfg.get("created") or rec.created or rec.stored_at or zero
    req.h.send_json(200, {
        "Id": "sha256:" + rec.id, "RepoTags": list(rec.names), "RepoDigests": ie.repo_digests(rec),
        "Parent": "", "Comment": "", "Created": created, "Container": "", "DockerVersion": "",
        "Author": cfg.get("author", ""), "Config": _docker_config(cfg.get("config") or {}),
        "Architecture": cfg.get("architecture", ""), "Os": cfg.get("os", ""),
        "Size": ctx.images.size(rec), "VirtualSize": ctx.images.size(rec),
        "GraphDriver": {"Name": "overlay", "Data": {}},
        "RootFS": {"Type": "layers", "Layers": list((cfg.get("rootfs") or {}).get("diff_ids") or [])},
        "Metadata": {"LastTagTime": zero},
    })


@route("GET", "/images/{name:.*}/history")
def history(req, ctx) -> None:
    from pypod.units import parse_time

    rec = lookup(ctx, req.params["name"])
    out = []
    for h in _images().history(ctx, rec):
        out.append({"Id": h.get("id") or "<missing>", "Created": int(parse_time(str(h.get("created", "")))),
                    "CreatedBy": h.get("created_by", ""), "Tags": h.get("tags") or None,
                    "Size": h.get("size", 0), "Comment": h.get("comment", "")})
    req.h.send_json(200, out)


@route("POST", "/images/{name:.*}/tag")
def tag(req, ctx) -> None:
    rec = lookup(ctx, req.params["name"])
    repo, t = req.q("repo"), req.q("tag") or "latest"
    if not repo:
        raise HTTPError(400, "repo is required (?repo=NAME&tag=TAG)")
    _images().tag(ctx, rec.id, [f"{repo}:{t}"])
    req.h.send_bytes(201, b"")


@route("DELETE", "/images/{name:.*}")
def remove(req, ctx) -> None:
    name = req.params["name"]
    lookup(ctx, name)
    rep = _images().remove_images(ctx, [name], force=req.qbool("force"))
    if rep.errors:
        raise rep.errors[0]
    out = [{"Untagged": u} for u in rep.untagged]
    out += [{"Deleted": "sha256:" + d if len(d) == 64 else d} for d in rep.deleted]
    req.h.send_json(200, out)


@route("POST", "/images/create")
def create(req, ctx) -> None:
    """Pull (fromImage): a JSON progress stream, or a 404/500 before it starts."""
    from pypod.errors import PypodError

    image = req.q("fromImage")
    if not image:
        raise HTTPError(400, "fromImage is required (importing with fromSrc is not supported)")
    tag = req.q("tag") or ""
    ref = image
    if tag:
        ref = f"{image}@{tag}" if tag.startswith("sha256:") else f"{image}:{tag}"
    elif "@" not in image and ":" not in image.rsplit("/", 1)[-1]:
        ref = f"{image}:latest"
    ie = _images()
    stream = req.h.start_stream()
    repo, _, t = ref.rpartition(":") if "@" not in ref else (ref.split("@")[0], "", ref.split("@")[1])
    stream.json({"status": f"Pulling from {repo.split('/', 1)[-1] if '/' in repo else repo}", "id": t})
    try:
        rec = ie.pull(ctx, ie.PullRequest(name=ref, quiet=True, policy="always"))
    except PypodError as e:
        stream.json({"errorDetail": {"message": e.message}, "error": e.message})
        stream.close()
        return
    if rec.digest:
        stream.json({"status": f"Digest: {rec.digest}"})
    stream.json({"status": f"Status: Downloaded newer image for {ref}"})
    stream.close()


@route("POST", "/build")
def build(req, ctx) -> None:
    """The classic builder's stream ({"stream"}, {"aux": {"ID"}}, "Successfully built/tagged")
    from a build run by the engine in a worker process (api/build_worker.py)."""
    import json
    import threading

    from pypod.engine import build_worker

    def jq(name: str) -> dict:
        """A query value holding a JSON object of strings (null: buildargs' "from the environment")."""
        from pypod.api.shape import MapOf, check

        raw = req.q(name)
        if not raw:
            return {}
        try:
            v = json.loads(raw)
        except (ValueError, RecursionError):
            raise HTTPError(400, f"invalid JSON in {name}") from None
        check(v, MapOf((str, type(None))), name)
        return v

    tags = [t for t in req.query.get("t", []) if t]
    options = {"file": req.q("dockerfile") or None, "tags": tags,
               "build_args": {k: v for k, v in jq("buildargs").items() if v is not None},
               "labels": [f"{k}={v}" for k, v in jq("labels").items()], "target": req.q("target") or None,
               "no_cache": req.qbool("nocache"), "pull": "always" if req.qbool("pull") else "missing",
               "quiet": req.qbool("q"), "network": req.q("networkmode") if req.q("networkmode") not in (None, "", "default") else None}
    p = build_worker.spawn(ctx, options)

    def feed():
        try:
            for chunk in req.h.body_chunks():
                p.stdin.write(chunk)
        except (OSError, HTTPError):
            pass
        finally:
            try:
                p.stdin.close()
            except OSError:
                pass

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    err_chunks: list[bytes] = []
    errs = threading.Thread(target=lambda: err_chunks.append(p.stderr.read()), daemon=True)
    errs.start()
    stream = req.h.start_stream()
    image_id = ""
    for line in iter(p.stdout.readline, b""):
        text = line.decode(errors="replace")
        if text.startswith(build_worker.MARK):
            image_id = text[len(build_worker.MARK):].strip()
            continue
        stream.json({"stream": text})
    code = p.wait()
    feeder.join(5)
    errs.join(5)
    if code != 0 or not image_id:
        msg = b"".join(err_chunks).decode(errors="replace").strip().splitlines()
        m = msg[-1] if msg else f"the build failed (exit {code})"
        stream.json({"errorDetail": {"message": m, "code": code}, "error": m})
    else:
        stream.json({"aux": {"ID": "sha256:" + image_id}})
        stream.json({"stream": f"Successfully built {image_id[:12]}\n"})
        for t in tags:
            stream.json({"stream": f"Successfully tagged {t}\n"})
    stream.close()


@route("POST", "/images/prune")
def prune(req, ctx) -> None:
    flt = req.filters()
    dangling = flt.pop("dangling", ["true"])
    rest = [f"{k}={v}" for k, vals in flt.items() for v in vals]
    gone = _images().prune(ctx, all_=dangling[-1].lower() in ("false", "0"), filters=rest)
    req.h.send_json(200, {"ImagesDeleted": [{"Deleted": "sha256:" + g if len(g) == 64 else g} for g in gone],
                          "SpaceReclaimed": 0})


def _save(req, ctx, names: list[str]) -> None:
    from pypod.engine import transport

    for n in names:
        lookup(ctx, n)
    stream = req.h.start_stream("application/x-tar")
    try:
        transport.save(ctx, names, "docker-archive", output=None, stream=StreamWriter(stream))
    except Exception:  # noqa: BLE001 - the headers are out: cut the stream
        req.h.close_connection = True
        return
    stream.close()


@route("GET", "/images/get")
def get_many(req, ctx) -> None:
    names = [n for n in req.query.get("names", []) if n]
    if not names:
        raise HTTPError(400, "names is required")
    _save(req, ctx, names)


@route("GET", "/images/{name:.*}/get")
def get_one(req, ctx) -> None:
    _save(req, ctx, [req.params["name"]])


@route("POST", "/images/load")
def load(req, ctx) -> None:
    from pypod.engine import transport

    names = transport.load(ctx, None, stdin=BodyReader(req.h))
    stream = req.h.start_stream()
    for n in names:
        stream.json({"stream": f"Loaded image: {n}\n"})
    stream.close()


@route("POST", "/images/{name:.*}/push")
def push(req, ctx) -> None:
    from pypod.engine import transport
    from pypod.errors import PypodError

    name = req.params["name"]
    if req.q("tag"):
        name = f"{name}:{req.q('tag')}"
    lookup(ctx, name)
    stream = req.h.start_stream()
    stream.json({"status": f"The push refers to repository [{name.rsplit(':', 1)[0]}]"})
    try:
        digest = transport.push(ctx, transport.PushRequest(source=name, quiet=True))
    except PypodError as e:
        stream.json({"errorDetail": {"message": e.message}, "error": e.message})
        stream.close()
        return
    stream.json({"status": f"{req.q('tag') or 'latest'}: digest: {digest or ''}"})
    stream.json({"aux": {"Tag": req.q("tag") or "latest", "Digest": digest or ""}})
    stream.close()
