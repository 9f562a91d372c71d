"""What to run: a container spec, pure data, JSON-serialisable (to_dict / from_dict).

The engine fills it from CLI options and the image config; launch.start() writes it to
CONTAINER_DIR/spec.json, which is all the supervisor reads (as plain dicts: the supervisor does
not import this module, dataclasses is too slow to import there).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields


@dataclass
class Mount:
    """bind (volumes are binds of a directory) | tmpfs."""

    type: str
    source: str
    destination: str
    # ro rw nosuid nodev noexec suid dev exec rbind bind(=non-recursive) private rprivate slave
    # rslave shared rshared size=… mode=… uid=… gid=… nr_inodes=…
    options: list[str] = field(default_factory=list)


@dataclass
class ProcessSpec:
    args: list[str]
    env: list[str] = field(default_factory=list)
    cwd: str = "/"
    # As given to -u: "", "1000", "alice", "alice:staff", "1000:1000"; resolved inside the
    # container's /etc/passwd and /etc/group right before exec.
    user: str = ""
    terminal: bool = False
    stdin: bool = False  # -i: keep stdin open
    no_new_privileges: bool = False
    # Capability names (e.g. "CHOWN" or "CAP_CHOWN"); None: podman's default set.
    capabilities: list[str] | None = None
    # What a non-root user keeps (inheritable, permitted, effective, ambient): podman gives it
    # exactly its --cap-add capabilities (within the bounding set above).
    user_capabilities: list[str] = field(default_factory=list)
    # A compiled seccomp program (struct sock_filter[]) in the container dir; "": unconfined.
    seccomp: str = ""
    # [[resource, soft, hard]] for setrlimit, e.g. ["RLIMIT_NOFILE", 1024, 2048]
    rlimits: list = field(default_factory=list)
    group_add: list[str] = field(default_factory=list)  # --group-add: gids or group names
    init: str = ""  # "builtin": --init without catatonit (pid 1 stays, as a reaper)
    # podman creates a missing working directory that came from the image, but refuses one given
    # with -w (`workdir "/x" does not exist on container ID`, exit 126).
    create_cwd: bool = True
    umask: int = 0o022  # --umask (containers.conf umask)
    oom_score_adj: int | None = None  # --oom-score-adj


@dataclass
class RootfsSpec:
    lower: list[str] = field(default_factory=list)  # layer dirs, TOP-MOST FIRST
    upper: str = ""
    work: str = ""
    path: str | None = None  # --rootfs DIR: bound, no overlay
    readonly: bool = False
    readonly_tmpfs: bool = True  # --read-only-tmpfs: tmpfs on /run, /tmp, /var/tmp when readonly


@dataclass
class ContainerSpec:
    id: str
    name: str
    hostname: str
    rootfs: RootfsSpec
    process: ProcessSpec
    mounts: list[Mount] = field(default_factory=list)
    # none | private (a new netns with lo up only) | host | slirp4netns | pasta (a new netns,
    # the helper attached by the supervisor) | container:ID | ns:PATH (join that netns)
    network: str = "private"
    # The helper's settings: {"ports": [{"host_ip", "host_port", "container_port", "protocol"}],
    # slirp4netns: "allow_host_loopback", "mtu", "cidr", "enable_ipv6", "outbound_addr", "path";
    # pasta: "args", "path"}
    net: dict = field(default_factory=dict)
    # Contents written into files in the container dir and bind-mounted over /etc/hosts,
    # /etc/resolv.conf, /etc/hostname ("" for hosts/resolv_conf: keep the image's file).
    hosts: str = ""
    resolv_conf: str = ""
    hostname_file: bool = True
    stop_signal: int = 15
    stop_timeout: int = 10
    restart_policy: str = "no"  # no | on-failure | always | unless-stopped
    restart_max: int = 0  # on-failure:N (0: no limit)
    # {"test": ["CMD-SHELL", "cmd"] | ["CMD", ...], "interval": s, "timeout": s, "retries": n,
    #  "start_period": s}
    healthcheck: dict | None = None
    auto_remove: bool = False
    # Run by the supervisor after the final exit when auto_remove, with the supervisor's env,
    # outside every container namespace (e.g. [python, -m, pypod, rm, -f, ID]).
    cleanup_argv: list[str] | None = None
    log_path: str = ""  # k8s-file log ("" : no log)
    annotations: dict = field(default_factory=dict)
    privileged: bool = False  # no masked or read-only /proc, /sys paths
    # "" (the shared rootless namespace) | "keep-id" (a nested one of its own) | "maps"
    # (--uidmap/--gidmap: pid 1 enters a nested one with these maps once its mounts are made)
    userns: str = ""
    uid_map: str = ""
    gid_map: str = ""
    passwd_entry: str = ""  # keep-id: the user's /etc/passwd and /etc/group lines
    group_entry: str = ""
    # --passwd (podman's default): a numeric -u the image's /etc/passwd lacks gets a line there
    # (and its group one in /etc/group); --passwd-entry's template for that line
    passwd: bool = False
    passwd_template: str = ""
    shm_size: int = 0  # --shm-size in bytes (0: podman's default, 65536k)
    sysctls: dict = field(default_factory=dict)  # --sysctl net.*, kernel.shm*, …: set in the new namespaces
    pid_file: str = ""  # --pidfile: the container's pid 1, as the host sees it, written at each start
    log_size_max: int = -1  # --log-opt max-size: the log is truncated when it would grow past it
    containerenv: str = ""  # /run/.containerenv (filled with --privileged, as podman)
    limits: dict = field(default_factory=dict)  # cgroup limits to apply (pypod.linux.cgroups)
    detach_keys: str | None = None  # of a foreground -it run / start -ai (None: ctrl-p,ctrl-q)
    cleanup_if_detached: bool = False  # a foreground `run --rm`: the CLI removes it unless detached

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ContainerSpec":
        d = dict(d)
        d["rootfs"] = _build(RootfsSpec, d.get("rootfs") or {})
        d["process"] = _build(ProcessSpec, d.get("process") or {"args": []})
        d["mounts"] = [_build(Mount, m) for m in d.get("mounts") or []]
        return _build(cls, d)


def _build(cls, d: dict):
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in d.items() if k in names})
