"""The supervisor's side of networking: attach the network helper to a container's network
namespace between "pid 1 exists" and "go", tear it down after the exit; bridge() for user-defined
networks. The supervisor gets this module as its network driver from pypod.engine.supervise
(runtime/ never imports network/).

Imports: cheap standard-library modules only, and pypod.store.container_config (NetConfig: the
spec's `net` read by attribute) (the supervisor imports this).
"""

from __future__ import annotations


from pypod.network.slirp import NetError  # noqa: F401 (the supervisor catches driver.NetError)
from pypod.store.container_config import NetConfig

HELPERS = ("slirp4netns", "pasta")


def start(spec: dict, pid: int, cdir: str):
    """Spawn the helper for the spec's network mode (None when there is none to run)."""
    mode = spec.get("network") or ""
    net = NetConfig.view(spec.get("net") or {})
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
    ports = NetConfig.view(spec.get("net") or {}).ports
    if ports:
        handle.add_ports(ports)  # starts the forwarder while the helper gets ready
    handle.wait_ready()


def begin_stop(handle) -> None:
    """Ask the helper to exit without waiting (stop() then reaps it): its exit, tens of ms of
    network-namespace teardown, overlaps the supervisor's exit report."""
    begin = getattr(handle, "begin_stop", None)
    if begin is not None:
        begin()


def stop(handle) -> None:
    if handle is not None:
        handle.stop()


def bridge():
    """User-defined networks (the shared namespace's holder, leases, veth endpoints)."""
    from pypod.network import rootlessnet

    return rootlessnet
