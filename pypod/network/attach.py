"""The supervisor's side of networking: attach the network helper to a container's network
namespace between "pid 1 exists" and "go", tear it down after the exit; and find the network
namespace to join for --network container:NAME / ns:PATH.

Imports: cheap standard-library modules only (the supervisor imports this).
"""

from __future__ import annotations

import os

from pypod.network.slirp import NetError

HELPERS = ("slirp4netns", "pasta")


def start(spec: dict, pid: int, cdir: str):
    """Spawn the helper for the spec's network mode (None when there is none to run)."""
    mode = spec.get("network") or ""
    net = spec.get("net") or {}
    if mode == "slirp4netns":
        from pypod.network import slirp

        return slirp.start(pid, cdir, net)
    if mode == "pasta":
        from pypod.network import pasta

        return pasta.start(pid, cdir, net)
    return None


def finish(handle, spec: dict) -> None:
    """Wait until the helper has configured the namespace, then publish the ports."""
    if handle is None:
        return
    ports = (spec.get("net") or {}).get("ports") or []
    if ports:
        handle.add_ports(ports)  # starts the forwarder while the helper gets ready
    handle.wait_ready()


def stop(handle) -> None:
    if handle is not None:
        handle.stop()


def join_path(spec: dict, cdir: str) -> str | None:
    """The network namespace file to join (container:ID / ns:PATH), or None for a new one."""
    mode = spec.get("network") or ""
    if mode.startswith("ns:"):
        return mode[3:]
    if mode.startswith("container:"):
        from pypod.runtime import state as statemod

        cid = mode.split(":", 1)[1]
        other = os.path.join(os.path.dirname(cdir.rstrip("/")), cid)
        st = statemod.read_state(other)
        if not statemod.is_running(st) or not st.get("pid"):
            raise NetError(f"cannot join the network namespace of container {cid[:12]}: "
                           f"it is not running")
        return f"/proc/{int(st['pid'])}/ns/net"
    return None
