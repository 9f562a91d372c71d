"""What to run: a container spec, pure data, JSON-serialisable (to_dict / from_dict).

The engine derives it from the container's record in one place (engine/containers/spec.py
build_spec) and writes it to CONTAINER_DIR/spec.json when it does, which is all the supervisor
reads (as plain dicts: the supervisor does not import this module; it views the healthcheck and
`net` through store/container_config' HealthConfig and NetConfig, whose dicts they are). What
differs per start (detach keys, start -i, a foreground run --rm) is not in it: runtime/launch.start
passes those to the supervisor as arguments. Records, not dataclasses: `create` and `run` build one, and dataclasses
cost ~10 ms to import and ~3 ms per class to build.
"""

from __future__ import annotations

from pypod.record import Record


class Mount(Record):
    """bind (volumes are binds of a directory) | tmpfs."""

    FIELDS = (
        ("type", ""),
        ("source", ""),
        ("destination", ""),
        # ro rw nosuid nodev noexec suid dev exec rbind bind(=non-recursive) private rprivate slave
        # rslave shared rshared size=… mode=… uid=… gid=… nr_inodes=…
        ("options", list),
    )
    __slots__ = tuple(n for n, _ in FIELDS)

    def __init__(self, type: str = "", source: str = "", destination: str = "",
                 options: list[str] | None = None):
        super().__init__(type=type, source=source, destination=destination,
                         options=[] if options is None else options)


class ProcessSpec(Record):
    FIELDS = (
        ("args", list),
        ("env", list),
        ("cwd", "/"),
        # As given to -u: "", "1000", "alice", "alice:staff", "1000:1000"; resolved inside the
        # container's /etc/passwd and /etc/group right before exec.
        ("user", ""),
        ("terminal", False),
        ("stdin", False),  # -i: keep stdin open
        ("no_new_privileges", False),
        # Capability names (e.g. "CHOWN" or "CAP_CHOWN"); None: podman's default set.
        ("capabilities", None),
        # What a non-root user keeps (inheritable, permitted, effective, ambient): podman gives it
        # exactly its --cap-add capabilities (within the bounding set above).
        ("user_capabilities", list),
        # A compiled seccomp program (struct sock_filter[]) in the container dir; "": unconfined.
        ("seccomp", ""),
        # [[resource, soft, hard]] for setrlimit, e.g. ["RLIMIT_NOFILE", 1024, 2048]
        ("rlimits", list),
        ("group_add", list),  # --group-add: gids or group names
        ("init", ""),  # "builtin": --init without catatonit (pid 1 stays, as a reaper)
        # podman creates a missing working directory that came from the image, but refuses one given
        # with -w (`workdir "/x" does not exist on container ID`, exit 126).
        ("create_cwd", True),
        ("umask", 0o022),  # --umask (containers.conf umask)
        ("oom_score_adj", None),  # --oom-score-adj
        ("env_defaults", True),  # PATH and container= when env lacks them (not with --unsetenv-all)
    )
    __slots__ = tuple(n for n, _ in FIELDS)


class RootfsSpec(Record):
    FIELDS = (
        ("lower", list),  # layer dirs, TOP-MOST FIRST
        ("upper", ""),
        ("work", ""),
        ("path", None),  # --rootfs DIR: bound, no overlay
        ("readonly", False),
        ("readonly_tmpfs", True),  # --read-only-tmpfs: tmpfs on /run, /tmp, /var/tmp when readonly
    )
    __slots__ = tuple(n for n, _ in FIELDS)


class ContainerSpec(Record):
    FIELDS = (
        ("id", ""),
        ("name", ""),
        ("hostname", ""),
        ("rootfs", RootfsSpec),
        ("process", ProcessSpec),
        ("mounts", list),
        # none | private (a new netns with lo up only) | host | slirp4netns | pasta (a new netns,
        # the helper attached by the supervisor) | container:ID | ns:PATH (join that netns)
        ("network", "private"),
        # namespaces joined instead of made: {"uts"|"ipc"|"user": container id} (a pod's infra)
        ("join_ns", dict),
        # The helper's settings: store/container_config.NetConfig's dict (ports, slirp4netns's and
        # pasta's options; user networks: endpoints, run_root, uplink)
        ("net", dict),
        # Contents written into files in the container dir and bind-mounted over /etc/hosts,
        # /etc/resolv.conf, /etc/hostname ("" for hosts/resolv_conf: keep the image's file).
        ("hosts", ""),
        ("resolv_conf", ""),
        ("hostname_file", True),
        ("stop_signal", 15),
        ("stop_timeout", 10),
        ("restart_policy", "no"),  # no | on-failure | always | unless-stopped
        ("restart_max", 0),  # on-failure:N (0: no limit)
        # store/container_config.HealthConfig's dict (test, interval, timeout, start_period, retries)
        ("healthcheck", None),
        ("auto_remove", False),
        # Run by the supervisor after the final exit when auto_remove, with the supervisor's env,
        # outside every container namespace (e.g. [python, -m, pypod, rm, -f, ID]).
        ("cleanup_argv", None),
        ("log_path", ""),  # k8s-file log ("" : no log)
        # the user's event log (store/events.py) and what a container's events carry there (image,
        # labels): the supervisor writes the `died` events
        ("events_dir", ""),
        ("event", dict),
        ("annotations", dict),
        ("privileged", False),  # no masked or read-only /proc, /sys paths
        # "" (the shared rootless namespace) | "keep-id" (a nested one of its own) | "maps"
        # (--uidmap/--gidmap: pid 1 enters a nested one with these maps once its mounts are made)
        ("userns", ""),
        ("uid_map", ""),
        ("gid_map", ""),
        ("passwd_entry", ""),  # keep-id: the user's /etc/passwd and /etc/group lines
        ("group_entry", ""),
        # --passwd (podman's default): a numeric -u the image's /etc/passwd lacks gets a line there
        # (and its group one in /etc/group); --passwd-entry's template for that line
        ("passwd", False),
        ("passwd_template", ""),
        ("shm_size", 0),  # --shm-size in bytes (0: podman's default, 65536k)
        ("sysctls", dict),  # --sysctl net.*, kernel.shm*, …: set in the new namespaces
        ("conmon_pid_file", ""),  # --conmon-pidfile: the supervisor's pid, written at each start
        ("timeout", 0),  # --timeout: seconds after which the supervisor kills pid 1 (exit code -1)
        ("extra_passwd", list),  # --hostuser: /etc/passwd lines added when their uid is missing
        ("pid_file", ""),  # --pidfile: the container's pid 1, as the host sees it, written at each start
        ("log_size_max", -1),  # --log-opt max-size: the log is truncated when it would grow past it
        ("containerenv", ""),  # /run/.containerenv (filled with --privileged, as podman)
        ("limits", dict),  # cgroup limits to apply (pypod.linux.cgroups)
    )
    __slots__ = tuple(n for n, _ in FIELDS)

    def to_dict(self) -> dict:
        return _plain(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ContainerSpec":
        d = dict(d)
        d["rootfs"] = _build(RootfsSpec, d.get("rootfs") or {})
        d["process"] = _build(ProcessSpec, d.get("process") or {"args": []})
        d["mounts"] = [_build(Mount, m) for m in d.get("mounts") or []]
        return _build(cls, d)


def _plain(v):
    """A deep copy as plain dicts and lists (what dataclasses.asdict gave)."""
    if isinstance(v, Record):
        return {name: _plain(getattr(v, name)) for name, _ in v.FIELDS}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, tuple):
        return tuple(_plain(x) for x in v)
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


def _build(cls, d: dict):
    return cls(**{name: d[name] for name, _ in cls.FIELDS if name in d})
