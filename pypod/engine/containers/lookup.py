"""Finding containers: by name, id or id prefix, the latest one, their state file and log path."""

from __future__ import annotations

import os

from pypod.engine.context import Context
from pypod.errors import ContainerNotFound, InvalidArgument, RemoveMissing
from pypod.store.containers import ContainerRecord, ContainerStore
from pypod.store.lookup import by_name_or_id
from pypod.units import parse_time


def store(ctx: Context) -> ContainerStore:
    return ContainerStore(ctx.graph_dir)


def find_container(ctx: Context, name: str) -> ContainerRecord | None:
    cs = store(ctx)
    return by_name_or_id((r for r in map(cs.get, cs.ids()) if r is not None), name, lambda: InvalidArgument(
        f"more than one result for container ID {name}: container already exists"), get=cs.get)


def get_container(ctx: Context, name: str, missing_exit: int | None = None) -> ContainerRecord:
    rec = find_container(ctx, name)
    if rec is None:
        err = (RemoveMissing if missing_exit == 1 else ContainerNotFound)(
            f"no container with name or ID \"{name}\" found: no such container")
        raise err
    return rec


def latest_container(ctx: Context) -> str:
    recs = own_containers(ctx)
    if not recs:
        raise ContainerNotFound("no containers to act on with --latest")
    return max(recs, key=lambda r: parse_time(r.created)).id


def container_ids(ctx: Context) -> list[str]:
    """Every container's full ID but the builds' (--all)."""
    return [r.id for r in own_containers(ctx)]


def container_exists(ctx: Context, rec: ContainerRecord) -> bool:
    """Whether `rec` is still stored (not removed since it was read)."""
    return store(ctx).dir(rec.id).exists()


def log_driver(rec: ContainerRecord) -> str:
    return rec.config.log_driver


def port_lines(rec: ContainerRecord, want: str | None = None) -> list[str]:
    """`port` output: the container's published ports (80/tcp -> 0.0.0.0:8080), or with
    PORT[/PROTO] the host addresses of that one."""
    from pypod.network.ports import format_port_lines

    return format_port_lines(rec.config.net.ports, want)


def state_of(ctx: Context, rec: ContainerRecord) -> dict:
    from pypod.runtime.state import read_state

    cdir = os.path.join(store(ctx).path, rec.id)  # (a str: ps reads one per container)
    st = read_state(cdir) or {}
    if not st.get("status"):
        st["status"] = "created"
    if st["status"] == "running":  # podman's "stopping" (ps, inspect): a stop waits for it to exit
        from pypod.runtime.state import stop_requested

        st["stopping"] = stop_requested(cdir)
    return st


def is_external(rec: ContainerRecord) -> bool:
    """A build's RUN container: podman's "external" (buildah's) containers. `ps` shows them only
    with --external, and no --all verb (rm -a, stop -a, prune, --latest) touches them: the build
    owns and removes them."""
    return bool(rec.config.external)


def own_containers(ctx: Context) -> list[ContainerRecord]:
    """Every container but the builds' (what --all and --latest mean)."""
    return [r for r in store(ctx).list() if not is_external(r)]


def network_names(rec: ContainerRecord) -> list[str]:
    """The user networks the container is on (podman's ps `Networks`)."""
    if rec.config.network != "bridge":
        return []
    return list(rec.config.net.networks)


def log_path(ctx: Context, rec: ContainerRecord) -> Path | None:
    """Where the container's k8s-file log is (--log-opt path=), None for --log-driver none."""
    o = rec.config
    if o.log_driver in ("none", "passthrough"):
        return None
    from pathlib import Path

    return Path(o.log_opts.path or store(ctx).dir(rec.id) / "ctr.log")
