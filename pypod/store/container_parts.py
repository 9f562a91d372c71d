"""The nested parts of a container's configuration, typed (store/typed.py): the healthcheck, the
network settings and endpoints, the log options, the resources asked for and the limits applied,
each resolved mount. Each default is stated here once; on disk each part stays the dict it always
was (container.json, and the supervisor's spec.json for the healthcheck and `net`).

Cheap to import (the supervisor reads its healthcheck and network settings through these).
"""

from __future__ import annotations

from pypod.store.typed import DictOf, Typed

SLIRP_CIDR = "10.0.2.0/24"  # slirp4netns's own default network


class HealthConfig(Typed):
    """podman's HealthConfig; durations in seconds (inspect shows nanoseconds)."""

    FIELDS = (
        ("test", list),        # ["CMD-SHELL", "cmd"] | ["CMD", argv...] | ["NONE"]
        ("interval", 30.0),    # 0: checks disabled (--health-interval disable)
        ("timeout", 30.0),
        ("start_period", 0.0),  # failures in it do not count
        ("retries", 3),        # failures in a row that make it unhealthy
    )
    __slots__ = ()

    @property
    def enabled(self) -> bool:
        """Checks are run on a timer: a test that is not NONE, and an interval."""
        test = self.test
        return bool(test) and test[0] != "NONE" and float(self.interval or 0) > 0

    def argv(self) -> list[str]:
        test = list(self.test)
        if test and test[0] == "CMD-SHELL":
            return ["/bin/sh", "-c", " ".join(test[1:])]
        return test[1:] if test and test[0] == "CMD" else test

    def inspect(self) -> dict:
        """podman's Config.Healthcheck (nanoseconds)."""
        return {"Test": self.test, "Interval": int(self.interval * 1e9), "Timeout": int(self.timeout * 1e9),
                "StartPeriod": int(self.start_period * 1e9), "Retries": self.retries}


class EndpointConfig(Typed):
    """The container on one user network: net.networks[NAME]."""

    FIELDS = (
        ("aliases", list),
        ("ip", ""),            # "" : leased from the network's range
        ("mac", ""),
        ("interface", ""),     # "" : eth<its place in net.networks>
    )
    __slots__ = ()


class NetConfig(Typed):
    """The network mode's settings (ContainerConfig.network says which mode). The same dict is the
    spec's `net`, where build_spec adds endpoints, run_root and uplink for user networks."""

    FIELDS = (
        ("ports", list),       # published ports (network/ports.py's dicts)
        # user networks (mode bridge): NAME → its endpoint, in the order joined
        ("networks", DictOf(EndpointConfig)),
        # slirp4netns (--network slirp4netns:OPTS, containers.conf network_cmd_options)
        ("allow_host_loopback", False),
        ("cidr", SLIRP_CIDR),
        ("enable_ipv6", False),
        ("mtu", 65520),
        ("outbound_addr", ""),
        ("outbound_addr6", ""),
        ("port_handler", "rootlessport"),  # or slirp4netns (its own forwarding, IPv4 only)
        # slirp4netns or pasta: the helper (containers.conf network_cmd_path), pasta's arguments
        ("path", ""),
        ("args", list),
        # the spec's only (build_spec): [[network record, endpoint request]], the runtime dir
        # holding the shared network namespace, and how that namespace reaches out
        ("endpoints", list),
        ("run_root", ""),
        ("uplink", dict),
    )
    __slots__ = ()


class LogOptions(Typed):
    """--log-opt KEY=VALUE (k8s-file)."""

    FIELDS = (
        ("path", ""),          # "" : ctr.log in the container's directory
        ("max_size", "", "max-size"),  # bytes, as a decimal string; "" : no limit
        ("tag", ""),
    )
    __slots__ = ()

    @property
    def max_bytes(self) -> int:
        """The log's size limit in bytes; 0: none."""
        return int(self.max_size or 0)


class Resources(Typed):
    """--memory, --cpus, ... as given (None: not given)."""

    FIELDS = (
        ("memory", None),
        ("memory_swap", None),
        ("cpus", None),
        ("cpu_shares", None),
        ("pids_limit", None),
        ("cpuset_cpus", None),
    )
    __slots__ = ()


class Limits(Typed):
    """What of the resources is applied (cgroup v2; linux/cgroups.py takes the stored dict, which
    holds only the limits given). 0 / "" : no limit."""

    FIELDS = (
        ("memory", 0),         # bytes
        ("memory_swap", 0),    # bytes, -1: unlimited
        ("cpus", 0.0),
        ("cpu_shares", 0),
        ("pids_limit", 0),
        ("cpuset_cpus", ""),
    )
    __slots__ = ()


class MountConfig(Typed):
    """One mount as create resolved it (engine/mounts.py): what the spec mounts and inspect shows."""

    FIELDS = (
        ("type", "bind"),      # bind | volume | tmpfs | overlay (-v DIR:DST:O)
        ("source", ""),        # host path ("tmpfs" for tmpfs)
        ("destination", ""),
        ("options", list),     # runtime mount options
        ("rw", True),
        ("name", ""),          # the volume's
        ("anonymous", False),  # an anonymous volume (goes with the container)
        ("volume", False),     # a tmpfs that is a volume (--opt type=tmpfs)
        ("chown", None),       # :U → [uid, gid] the source was given
        ("upperdir", ""),      # O with upperdir=/workdir= (kept between runs)
        ("workdir", ""),
    )
    __slots__ = ()
