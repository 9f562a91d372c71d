"""What `kube generate` maps, read through the engine: the containers' inspect data, their images'
configs, the kinds of their bind sources, -u resolved in the container's /etc/passwd."""

from __future__ import annotations

import os
import stat

from pypod.errors import PypodError
from pypod.kube.generate import ContainerFacts, PodFacts, container_ports


class Targets:
    def __init__(self):
        self.containers: list = []   # ContainerRecord
        self.pods: list = []         # (PodRecord, its members but the infra, the infra or None)
        self.volumes: list = []      # VolumeRecord


def lookup(ctx, names: list[str]) -> Targets:
    """Each name as a container, else a pod, else a volume (podman's order)."""
    from pypod.engine import containers as ce
    from pypod.engine import pods
    from pypod.engine import volumes as ve

    t = Targets()
    for name in names:
        rec = ce.find_container(ctx, name)
        if rec is not None:
            t.containers.append(rec)
            continue
        pod = pods.find_pod(ctx, name)
        if pod is not None:
            members = pods.members(ctx, pod)
            infra = next((r for r in members if r.id == pod.infra_id), None)
            t.pods.append((pod, [r for r in members if r.id != pod.infra_id], infra))
            continue
        vol = ve.vstore(ctx).get(name)
        if vol is not None:
            t.volumes.append(vol)
            continue
        raise PypodError(f'name or ID "{name}" not found')
    return t


def _read_in_layer(top: str, rel: tuple[str, ...], limit: int = 1 << 20) -> str | None | bool:
    """The text of top/rel without following a symlink anywhere (layers are the image author's
    files); None when absent here, False when a whiteout hides it below."""
    try:
        fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None
    try:
        for i, part in enumerate(rel):
            try:
                st = os.stat(part, dir_fd=fd, follow_symlinks=False)
            except OSError:
                return False if os.path.lexists(os.path.join(top, *rel[:i], ".wh." + part)) else None
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                return False  # an overlay whiteout
            last = i == len(rel) - 1
            if (last and not stat.S_ISREG(st.st_mode)) or (not last and not stat.S_ISDIR(st.st_mode)):
                return None
            flags = os.O_RDONLY | os.O_NOFOLLOW | (0 if last else os.O_DIRECTORY)
            nfd = os.open(part, flags, dir_fd=fd)
            os.close(fd)
            fd = nfd
        with os.fdopen(os.dup(fd), "rb") as f:
            return f.read(limit).decode("utf-8", "replace")
    except OSError:
        return None
    finally:
        os.close(fd)


def _container_file(ctx, rec, inspect: dict, rel: tuple[str, ...]) -> str:
    tops = [((inspect.get("GraphDriver") or {}).get("Data") or {}).get("UpperDir")]
    if rec.rootfs:
        tops = [rec.rootfs]
    else:
        img = ctx.images.get(rec.image_id)
        tops += [str(ctx.images.layers.diff_dir(l)) for l in reversed(img.layers if img else [])]
    for top in tops:
        if not top:
            continue
        text = _read_in_layer(top, rel)
        if text is False:
            return ""
        if text is not None:
            return text
    return ""


def run_as(ctx, rec, inspect: dict, image_user: str) -> tuple[int, int] | None:
    """(uid, gid) of the container's -u, as podman resolves it; None when it is the image's."""
    user = (inspect.get("Config") or {}).get("User") or ""
    if not user or user == image_user:
        return None
    from pypod.runtime.users import UserError, resolve

    u, _, g = user.partition(":")
    numeric = u.isdigit() and (not g or g.isdigit())
    pw = "" if numeric and g else _container_file(ctx, rec, inspect, ("etc", "passwd"))
    gr = "" if not g or g.isdigit() else _container_file(ctx, rec, inspect, ("etc", "group"))
    try:
        eu = resolve(user, pw, gr)
    except UserError as e:
        raise PypodError(f"container {rec.name}: {e}") from None
    return eu.uid, eu.gid


def _path_kind(path: str) -> str:
    try:
        return "Directory" if os.path.isdir(path) else ("File" if os.path.exists(path) else "DirectoryOrCreate")
    except OSError:
        return "DirectoryOrCreate"


def container_facts(ctx, rec) -> ContainerFacts:
    from pypod.engine import containers as ce

    inspect = ce.inspect_container(ctx, rec)
    image = (ctx.images.config(rec.image_id).get("config") or {}) if rec.image_id else {}
    kinds = {m["Source"]: _path_kind(m["Source"]) for m in inspect.get("Mounts") or []
             if m.get("Type") == "bind" and m.get("Source")}
    return ContainerFacts(inspect=inspect, entrypoint=list(rec.entrypoint or []), cmd=list(rec.cmd or []),
                          image=image, run_as=run_as(ctx, rec, inspect, image.get("User") or ""),
                          path_kinds=kinds)


def volume_data(ctx, vol) -> dict:
    from pypod.engine import volumes as ve

    return ve.inspect_volume(ctx, vol, mount_count=0)


def pod_facts(ctx, pod, members: list, infra) -> PodFacts:
    from pypod.engine import containers as ce

    if not members:
        raise PypodError(f"pod {pod.name} has no containers but its infra: nothing to generate")
    ports = container_ports(ContainerFacts(inspect=ce.inspect_container(ctx, infra), entrypoint=[], cmd=[],
                                           image={}, run_as=None, path_kinds={})) if infra else []
    return PodFacts(name=pod.name, containers=[container_facts(ctx, r) for r in members], ports=ports)
