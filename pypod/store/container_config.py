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
(store/typed.py) that returns its value or, when it was never recorded, the default FIELDS states
(~1 µs a record instead of ~50); the nested dicts (healthcheck, net, log_opts, resources, limits,
each resolved mount) are read through typed views of themselves (store/container_parts.py). The groups below follow podman's (process, security, namespaces, network, rootfs).
"""

from __future__ import annotations

from pypod.store.container_parts import (HealthConfig, Limits, LogOptions, MountConfig, NetConfig,
                                         Resources)
from pypod.store.typed import ListOf, Nested, Optional, Typed


class ContainerConfig(Typed):
    """FIELDS: see store/typed.py; the nested parts are store/container_parts.py's."""

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
        ("healthcheck", Optional(HealthConfig)),  # None: no healthcheck
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
