"""A container's configuration: what `create` settled on, typed, with each default stated once.

podman's model is libpod's ContainerConfig (container_config.go): filled once when the container is
created, stored with it, read-only afterwards (`network connect`/`disconnect` alone rewrite `net`,
as podman rewrites its network list). The engine fills it from CreateOptions
(engine/containers/create.py), build_spec derives the supervisor's spec from it, and everything
else reads it by attribute: `rec.config.tty`, never a dict with the default restated.

It is kept in container.json under "config". Records written before it existed kept the same
values, under the same names, in an untyped "options" dict: ContainerRecord reads that into this
class, and a name that was never recorded takes its default here.

Not a dataclass, nor a Record that sets its ~70 attributes up front: `ps` loads one per container
and start-up must stay cheap, so the record's dict is kept as read and each field is a descriptor
(Field) that returns its value or, when it was never recorded, the default FIELDS states (~1 µs a
record instead of ~50). The nested dicts (healthcheck, net, log_opts, resources, limits, each
resolved mount) are given out as typed views of themselves (HealthConfig, NetConfig, ...), each
with its defaults stated once; on disk they stay the dicts they always were. The supervisor and
network/ read the spec's healthcheck and network settings (the same dicts) through the same parts.

One module, in three parts (the typed views, the nested parts, ContainerConfig): `ps` imports it,
and each module costs ~0.2 ms to load here.
"""

from __future__ import annotations


# -- typed views over stored dicts ------------------------------------------------------------------
# A Typed object holds the dict as read (`_values`, never copied on load: `ps` loads one per
# container) and each field is a descriptor that returns the stored value or, when it was never
# recorded, the default its class states once in FIELDS. What is stored stays plain JSON data:
# a nested value (the healthcheck, `net`, each mount) is kept as its dict and given out as a typed
# view of that very dict, made on first read and cached in `_views` (so writes through a view land
# in the record, and to_dict() has nothing to convert back).
#
# FIELDS: (name, default) or (name, default, key) where key is the stored name when it is not a
# Python name ("max-size"). A callable default is a factory (list, dict: the record's own copy). A
# default may also be Nested(C) (a C view of a stored dict; {} when unset), Maybe(C) (None when
# unset), ListOf(C) / DictOf(C) (a list / dict of C views; `none=True`: None when unset).

_MISSING = object()


class _Kind:
    """How a field's stored plain value is viewed (and what it is when unset): one view of `cls`,
    or a list / dict of them (`many`). One class, not one per kind: each class costs ~10 µs of
    every command's start-up here."""

    __slots__ = ("cls", "many", "none")

    def __init__(self, cls, many: str = "", none: bool = False):
        self.cls, self.many, self.none = cls, many, none

    def default(self):
        return None if self.none else ([] if self.many == "list" else {})

    def view(self, v):
        if self.many == "list":
            return [self.cls.view(x) for x in v]
        if self.many == "dict":
            return {k: self.cls.view(x) for k, x in v.items()}
        return self.cls.view(v)


def Nested(cls) -> _Kind:  # noqa: N802 (read as a type in FIELDS)
    return _Kind(cls)


def Maybe(cls) -> _Kind:  # noqa: N802
    return _Kind(cls, none=True)


def ListOf(cls, none: bool = False) -> _Kind:  # noqa: N802
    return _Kind(cls, "list", none)


def DictOf(cls) -> _Kind:  # noqa: N802
    return _Kind(cls, "dict")


def plain(v):
    """A value as it is stored: views turned back into their dicts (those dicts themselves)."""
    if isinstance(v, Typed):
        return v._values
    if isinstance(v, list):
        return [plain(x) for x in v]
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    return v


class Field:
    __slots__ = ("name", "key", "default", "kind")

    def __init__(self, name: str, default, key: str | None = None):
        self.name, self.key = name, key or name
        self.kind = default if isinstance(default, _Kind) else None
        self.default = default.default if self.kind else default

    def raw(self, obj):
        """The stored (plain) value, the default when unset."""
        values = obj._values
        v = values.get(self.key, _MISSING)
        if v is _MISSING:
            d = self.default
            if not callable(d):
                return d
            v = d()
            if v is not None:  # kept: a list or dict default is this record's own (appends stick)
                values[self.key] = v
        return v

    def __get__(self, obj, cls=None):
        if obj is None:
            return self
        if self.kind is None:
            return self.raw(obj)
        views = obj._views
        if views is None:
            views = obj._views = {}
        try:
            return views[self.key]
        except KeyError:
            v = self.raw(obj)
            w = views[self.key] = None if v is None else self.kind.view(v)
            return w

    def __set__(self, obj, value) -> None:
        obj._values[self.key] = plain(value)
        if obj._views:
            obj._views.pop(self.key, None)


class Typed:
    """Subclasses state FIELDS; the descriptors are made when the class is."""

    FIELDS: tuple = ()
    __slots__ = ("_values", "_views")

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        fields = {}
        for entry in cls.FIELDS:
            f = Field(*entry)
            fields[f.name] = f
            setattr(cls, f.name, f)
        cls._fields = fields

    def __init__(self, **values):
        unknown = values.keys() - self._fields.keys()
        if unknown:
            raise TypeError(f"{type(self).__name__}: unknown fields {', '.join(sorted(unknown))}")
        fields = self._fields
        self._values = {fields[k].key: plain(v) for k, v in values.items()}
        self._views = None

    @classmethod
    def view(cls, d: dict):
        """A view of `d` itself (not copied): writes through it change `d`."""
        if isinstance(d, cls):
            return d
        obj = cls.__new__(cls)
        obj._values, obj._views = d, None
        return obj

    @classmethod
    def from_dict(cls, d: dict):
        """As stored (a copy of the top level); a key this version does not know is kept."""
        return cls.view(dict(d))

    def to_dict(self, full: bool = False) -> dict:
        """The stored dict (a deep copy): what was recorded, and with full=True every field,
        unset ones at their defaults."""
        if full:
            return {f.key: plain(f.raw(self)) for f in self._fields.values()}
        return plain(self._values)

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and Typed.to_dict(self, True) == Typed.to_dict(other, True)

    def __repr__(self) -> str:
        inner = ", ".join(f"{f.name}={f.raw(self)!r}" for f in self._fields.values() if f.key in self._values)
        return f"{type(self).__name__}({inner})"


# -- the nested parts ------------------------------------------------------------------------------
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


# -- the container's configuration ------------------------------------------------------------------
class ContainerConfig(Typed):
    """FIELDS grouped as podman's (process, security, namespaces, network, rootfs)."""

    FIELDS = (
        # -- the process (podman: spec.Process, ContainerMiscConfig) ---------------------------------
        ("env", list),                 # KEY=VALUE, image's + containers.conf's + --env*, merged
        ("workdir", "/"),
        ("workdir_given", False),      # -w given: a missing workdir is an error, not created
        ("user", ""),                  # USER[:GROUP] as given or from the image ("" = root)
        ("hostname", ""),              # "" = the short id
        ("tty", False),
        ("interactive", False),
        ("umask", "0022"),
        ("oom_score_adj", None),
        ("ulimits", list),             # [name, soft, hard]
        ("group_add", list),
        ("passwd", True),              # add the user to /etc/passwd when missing (--passwd)
        ("passwd_template", ""),       # --passwd-entry
        ("passwd_entry", ""),          # keep-id: the user's line podman adds to /etc/passwd
        ("group_entry", ""),           # keep-id: and to /etc/group
        ("create_command", list),      # the command line, as inspect's Config.CreateCommand shows it
        # -- stop, restart and removal (ContainerMiscConfig) -----------------------------------------
        ("stop_signal", 15),
        ("stop_timeout", 10),
        ("restart", "no"),             # the policy: no, always, on-failure, unless-stopped
        ("restart_max", 0),            # on-failure:N
        ("rm", False),
        ("rmi", False),                # run --rmi: the image goes with the container
        ("healthcheck", Maybe(HealthConfig)),  # None: no healthcheck
        # -- security (ContainerSecurityConfig) ------------------------------------------------------
        ("privileged", False),
        ("cap_add", list),
        ("cap_drop", list),
        ("default_caps", None),        # containers.conf default_capabilities; None: pypod's
        ("seccomp", None),             # a profile's path, "unconfined", or None: the default
        ("no_new_privileges", False),
        ("security_opt", list),        # as given (inspect shows them)
        ("init", False),
        ("init_path", ""),
        # -- namespaces (ContainerNamespaceConfig) ---------------------------------------------------
        ("pod", ""),                   # the id of the pod it belongs to ("" = none; engine/pods.py)
        ("infra", False),              # the pod's infra container (holds its namespaces)
        ("pod_join", dict),            # {"uts"|"ipc": the infra's id}: namespaces joined, not made
        ("pod_shm", ""),               # the pod's /dev/shm directory, bound at /dev/shm
        ("userns", ""),                # "", "keep-id" or "maps" (--uidmap/--gidmap)
        ("uid_map", ""),               # "inside outside count" lines for maps
        ("gid_map", ""),
        ("sysctls", dict),
        # -- network (ContainerNetworkConfig) --------------------------------------------------------
        ("network", "private"),        # the mode: bridge, slirp4netns, pasta, host, none, container:ID, ns:PATH
        ("net", Nested(NetConfig)),    # the mode's options, ports, and for bridge the networks
        ("publish", list),             # -p as given
        ("publish_all", False),
        ("expose", dict),              # --expose: {"80/tcp": {}}
        ("dns", list),
        ("dns_search", list),
        ("dns_option", list),
        ("add_host", list),
        ("no_hosts", False),
        ("base_hosts_file", ""),       # containers.conf base_hosts_file
        # -- root file system and mounts (ContainerRootFSConfig) -------------------------------------
        ("volumes", list),             # -v as given
        ("tmpfs", list),
        ("mounts", list),              # --mount as given
        ("volumes_from", list),
        ("resolved_mounts", ListOf(MountConfig, none=True)),  # resolved at create; None: a record from before that
        ("read_only", False),
        ("read_only_tmpfs", True),
        ("shm_size", 0),               # bytes; 0: the default (64m)
        ("devices", list),
        ("tz", ""),
        # -- resources -------------------------------------------------------------------------------
        ("resources", Nested(Resources)),  # --memory, --cpus, ... as given (inspect shows them)
        ("limits", Nested(Limits)),    # what of them is applied (cgroup v2)
        # -- logging and files -----------------------------------------------------------------------
        ("log_driver", "k8s-file"),
        ("log_opts", Nested(LogOptions)),  # path=, max-size= (bytes), tag=
        ("cidfile", ""),
        ("pidfile", ""),
        ("conmon_pidfile", ""),        # --conmon-pidfile: the supervisor's pid goes there
        ("timeout", 0),                # --timeout: seconds before the supervisor kills it (exit -1)
        ("extra_passwd", list),        # --hostuser: the host's /etc/passwd lines added inside
        ("unsetenv_all", False),       # --unsetenv-all: no PATH/container= added by the runtime
        # -- what pypod keeps beside podman's --------------------------------------------------------
        ("external", False),           # a build's RUN container: see engine/containers/lookup.is_external
        ("damaged", False),            # a placeholder for an unreadable container.json (store/containers.py)
        ("lower", list),               # the placeholder's layers (the spec's overlay lower dirs, top first)
    )
    __slots__ = ()

    def to_dict(self) -> dict:
        """Every field (unset ones at their defaults); a name this version does not know is left out."""
        return Typed.to_dict(self, full=True)
