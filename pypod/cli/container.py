"""`pypod container ...` and its top-level aliases (run, create, start, stop, ps, logs, exec, ...)."""

from __future__ import annotations

import os
import sys

from pypod.cli.params import Arg, Opt, ann_text

from pypod.cli import state
from pypod.cli.render import go_json, out, render

TYPE_CHECKING = False  # typing costs start-up time; the names below are for annotations only
if TYPE_CHECKING:
    from typing import List, Optional


PS_COLUMNS = [("CONTAINER ID", "ID"), ("IMAGE", "Image"), ("COMMAND", "Command"), ("CREATED", "CreatedHuman"),
              ("STATUS", "Status"), ("PORTS", "Ports"), ("NAMES", "Names")]
# run/create/exec stop parsing options at the image/container argument: the rest is the command.
_ARGS_CTX = {"allow_interspersed_args": False, "help_option_names": ["--help"]}


def _eng():
    from pypod.engine import containers

    return containers


def _ctx():
    return state.context()


def _get(name: str, missing_exit: int | None = None):
    return _eng().get_container(_ctx(), name, missing_exit)


def _names_or_latest(names: List[str], latest: bool, all_: bool = False) -> List[str]:
    from pypod.errors import InvalidArgument

    if latest:
        return [_eng().latest_container(_ctx())]
    if all_:
        return _eng().container_ids(_ctx())
    if not names:
        raise InvalidArgument("you must provide at least one name or id")
    return names


def _raise_collected(errors: list) -> None:
    if not errors:
        return
    for e in errors[:-1]:
        sys.stderr.write(f"Error: {e.message}\n")
    raise errors[-1]


# -- create / run ------------------------------------------------------------------------------
def create_params(fn):
    """Decorate a function taking **kw with the options create and run share."""
    import functools

    params = [
        ("image", Arg(..., metavar="IMAGE"), "str"),
        ("command", Arg(None, metavar="[COMMAND [ARG...]]"), "Optional[List[str]]"),
        ("name", Opt(None, "--name", help="Assign a name to the container"), "Optional[str]"),
        ("entrypoint", Opt(None, "--entrypoint", help="Overwrite the default ENTRYPOINT of the image"), "Optional[str]"),
        ("env", Opt([], "--env", "-e", help="Set environment variables in container"), "List[str]"),
        ("env_file", Opt([], "--env-file", help="Read in a file of environment variables"), "List[str]"),
        ("env_host", Opt(False, "--env-host", help="Use all current host environment variables in container"), "bool"),
        ("workdir", Opt(None, "--workdir", "-w", help="Working directory inside the container"), "Optional[str]"),
        ("user", Opt(None, "--user", "-u", help="Username or UID (format: <name|uid>[:<group|gid>])"), "Optional[str]"),
        ("hostname", Opt(None, "--hostname", "-h", help="Set container hostname"), "Optional[str]"),
        ("label", Opt([], "--label", "-l", help="Set metadata on container"), "List[str]"),
        ("annotation", Opt([], "--annotation", help="Add annotations to container (key=value)"), "List[str]"),
        ("stop_signal", Opt(None, "--stop-signal", help="Signal to stop a container. Default is SIGTERM"), "Optional[str]"),
        ("stop_timeout", Opt(None, "--stop-timeout", help="Timeout (in seconds) that containers stopped by user command have to exit"), "Optional[int]"),
        ("restart", Opt("no", "--restart", help="Restart policy to apply when a container exits (\"always\"|\"no\"|\"on-failure\"|\"unless-stopped\")"), "str"),
        ("health_cmd", Opt(None, "--health-cmd", help="set a healthcheck command for the container ('none' disables the existing healthcheck)"), "Optional[str]"),
        ("health_interval", Opt(None, "--health-interval", help="set an interval for the healthcheck (a value of disable results in no automatic timer setup)"), "Optional[str]"),
        ("health_retries", Opt(None, "--health-retries", help="the number of retries allowed before a healthcheck is considered to be unhealthy"), "Optional[int]"),
        ("health_start_period", Opt(None, "--health-start-period", help="the initialization time needed for a container to bootstrap"), "Optional[str]"),
        ("health_timeout", Opt(None, "--health-timeout", help="the maximum time allowed to complete the healthcheck before an interval is considered failed"), "Optional[str]"),
        ("no_healthcheck", Opt(False, "--no-healthcheck", help="Disable healthchecks on container"), "bool"),
        ("rm", Opt(False, "--rm", help="Remove container (and pod if created) after exit"), "bool"),
        ("pod", Opt(None, "--pod", help="Run container in an existing pod (new:NAME: a new pod of that name)"), "Optional[str]"),
        ("interactive", Opt(False, "--interactive", "-i", help="Keep STDIN open even if not attached"), "bool"),
        ("tty", Opt(False, "--tty", "-t", help="Allocate a pseudo-TTY for container"), "bool"),
        ("network", Opt([], "--network", "--net", help="Connect a container to a network"), "List[str]"),
        ("network_alias", Opt([], "--network-alias", help="Add network-scoped alias for the container"), "List[str]"),
        ("ip", Opt(None, "--ip", help="Specify a static IPv4 address for the container"), "Optional[str]"),
        ("mac_address", Opt(None, "--mac-address", help="Container MAC address (e.g. 92:d0:c6:0a:29:33)"), "Optional[str]"),
        ("volume", Opt([], "--volume", "-v", help="Bind mount a volume into the container"), "List[str]"),
        ("tmpfs", Opt([], "--tmpfs", help="Mount a temporary filesystem (tmpfs) into a container"), "List[str]"),
        ("mount", Opt([], "--mount", help="Attach a filesystem mount to the container"), "List[str]"),
        ("volumes_from", Opt([], "--volumes-from", help="Mount volumes from the specified container(s)"), "List[str]"),
        ("image_volume", Opt(None, "--image-volume", help="Tells pypod how to handle the builtin image volumes (\"bind\"|\"tmpfs\"|\"ignore\")"), "Optional[str]"),
        ("dns", Opt([], "--dns", help="Set custom DNS servers"), "List[str]"),
        ("dns_search", Opt([], "--dns-search", help="Set custom DNS search domains"), "List[str]"),
        ("dns_option", Opt([], "--dns-option", help="Set custom DNS options"), "List[str]"),
        ("add_host", Opt([], "--add-host", help="Add a custom host-to-IP mapping (host:ip)"), "List[str]"),
        ("rootfs", Opt(False, "--rootfs", help="The first argument is not an image but the rootfs to the exploded container"), "bool"),
        ("read_only", Opt(False, "--read-only", help="Make containers root filesystem read-only"), "bool"),
        ("replace", Opt(False, "--replace", help="If a container with the same name exists, replace it"), "bool"),
        ("pull", Opt("missing", "--pull", help="Pull image policy (always, missing, never, newer)"), "str"),
        ("platform", Opt(None, "--platform", help="Specify the platform for selecting the image"), "Optional[str]"),
        ("quiet", Opt(False, "--quiet", "-q", help="Suppress output information when pulling images"), "bool"),
        ("publish", Opt([], "--publish", "-p", help="Publish a container's port, or a range of ports, to the host"), "List[str]"),
        ("publish_all", Opt(False, "--publish-all", "-P", help="Publish all exposed ports to random ports on the host interface"), "bool"),
        ("memory", Opt(None, "--memory", "-m", help="Memory limit (format: <number>[<unit>])"), "Optional[str]"),
        ("cpus", Opt(None, "--cpus", help="Number of CPUs. The default is 0.000 which means no limit"), "Optional[str]"),
        ("pids_limit", Opt(None, "--pids-limit", help="Tune container pids limit (set -1 for unlimited)"), "Optional[int]"),
        ("cpu_shares", Opt(None, "--cpu-shares", "-c", help="CPU shares (relative weight)"), "Optional[int]"),
        ("memory_swap", Opt(None, "--memory-swap", help="Swap limit equal to memory plus swap"), "Optional[str]"),
        ("cpuset_cpus", Opt(None, "--cpuset-cpus", help="CPUs in which to allow execution (0-3, 0,1)"), "Optional[str]"),
        ("cap_add", Opt([], "--cap-add", help="Add capabilities to the container"), "List[str]"),
        ("cap_drop", Opt([], "--cap-drop", help="Drop capabilities from the container"), "List[str]"),
        ("privileged", Opt(False, "--privileged", help="Give extended privileges to container"), "bool"),
        ("security_opt", Opt([], "--security-opt", help="Security Options"), "List[str]"),
        ("ulimit", Opt([], "--ulimit", help="Ulimit options"), "List[str]"),
        ("group_add", Opt([], "--group-add", help="Add additional groups to the primary container process. 'keep-groups' allows container processes to use supplementary groups."), "List[str]"),
        ("init", Opt(False, "--init", help="Run an init inside the container that forwards signals and reaps processes"), "bool"),
        ("init_path", Opt(None, "--init-path", help="Path to the container-init binary"), "Optional[str]"),
        ("userns", Opt(None, "--userns", help="User namespace to use (keep-id: your uid and gid inside)"), "Optional[str]"),
        ("uidmap", Opt([], "--uidmap", help="UID map to use for the user namespace (container_uid:from_uid:amount)"), "List[str]"),
        ("gidmap", Opt([], "--gidmap", help="GID map to use for the user namespace (container_gid:from_gid:amount)"), "List[str]"),
        ("read_only_tmpfs", Opt(True, "--read-only-tmpfs", help="When running containers in read-only mode mount a read-write tmpfs on /run, /tmp and /var/tmp"), "bool"),
        ("http_proxy", Opt(None, "--http-proxy", help="Set proxy environment variables in the container based on the host proxy vars (default true)"), "Optional[bool]"),
        ("unsetenv", Opt([], "--unsetenv", help="Unset environment default variables in container"), "List[str]"),
        ("unsetenv_all", Opt(False, "--unsetenv-all", help="Unset all default environment variables in container"), "bool"),
        ("no_hosts", Opt(None, "--no-hosts", help="Do not create /etc/hosts within the container, instead use the version from the image"), "Optional[bool]"),
        ("passwd", Opt(True, "--passwd", help="add entries to /etc/passwd and /etc/group"), "bool"),
        ("passwd_entry", Opt(None, "--passwd-entry", help="Entry to write to /etc/passwd"), "Optional[str]"),
        ("label_file", Opt([], "--label-file", help="Read in a line delimited file of labels"), "List[str]"),
        ("expose", Opt([], "--expose", help="Expose a port or a range of ports"), "List[str]"),
        ("shm_size", Opt(None, "--shm-size", help="Size of /dev/shm (format: <number>[<unit>], where unit = b (bytes), k (kibibytes), m (mebibytes), or g (gibibytes))"), "Optional[str]"),
        ("umask", Opt(None, "--umask", help="Set umask in container (default \"0022\")"), "Optional[str]"),
        ("tz", Opt(None, "--tz", help="Set timezone in container"), "Optional[str]"),
        ("sysctl", Opt([], "--sysctl", help="Sysctl options"), "List[str]"),
        ("device", Opt([], "--device", help="Add a host device to the container"), "List[str]"),
        ("cidfile", Opt(None, "--cidfile", help="Write the container ID to the file"), "Optional[str]"),
        ("pidfile", Opt(None, "--pidfile", help="Write the container process ID to the file"), "Optional[str]"),
        ("log_driver", Opt(None, "--log-driver", help="Logging driver for the container (k8s-file, json-file, none, passthrough)"), "Optional[str]"),
        ("log_opt", Opt([], "--log-opt", help="Logging driver options (path=, max-size=, tag=)"), "List[str]"),
        ("oom_score_adj", Opt(None, "--oom-score-adj", help="Tune the host's OOM preferences (-1000 to 1000)"), "Optional[int]"),
        ("tls_verify", Opt(None, "--tls-verify", help="Require HTTPS and verify certificates when contacting registries (default true)"), "Optional[bool]"),
        ("authfile", Opt(None, "--authfile", help="Path of the authentication file"), "Optional[str]"),
        ("creds", Opt(None, "--creds", help="Credentials (USERNAME:PASSWORD) to use for authenticating to a registry"), "Optional[str]"),
        ("arch", Opt(None, "--arch", help="use ARCH instead of the architecture of the machine for choosing images"), "Optional[str]"),
        ("os", Opt(None, "--os", help="use OS instead of the running OS for choosing images"), "Optional[str]"),
        ("variant", Opt(None, "--variant", help="Use VARIANT instead of the running architecture variant for choosing images"), "Optional[str]"),
        ("timeout", Opt(0, "--timeout", help="Maximum length of time a container is allowed to run. The container will be killed automatically after the time expires."), "int"),
        ("hostuser", Opt([], "--hostuser", help="Host user account to add to /etc/passwd within container"), "List[str]"),
        ("conmon_pidfile", Opt(None, "--conmon-pidfile", help="Path to the file that will receive the PID of conmon"), "Optional[str]"),
        ("kernel_memory", Opt(None, "--kernel-memory", hidden=True), "Optional[str]"),  # podman: a warned no-op
    ]
    own = [(n, d, ann_text(fn.__annotations__.get(n, "str"))) for n, d in (fn.__kwdefaults__ or {}).items()]

    @functools.wraps(fn)
    def wrapper(**kw):
        return fn(**kw)

    wrapper.__pypod_params__ = [(n, d, ann_text(t)) for n, d, t in params] + own
    return wrapper


# create_params' table is the one list of create/run flags: each fills the CreateOptions field of its
# name, or the one named here; the resource flags go together into CreateOptions.resources
_FIELD_OF = {"label": "labels", "annotation": "annotations", "network_alias": "network_aliases",
             "volume": "volumes", "mount": "mounts", "quiet": "quiet_pull"}
_RESOURCES = ("memory", "cpus", "pids_limit", "cpu_shares", "memory_swap", "cpuset_cpus")


def _kw_create(kw: dict):
    from pypod.engine.containers import CreateOptions

    if kw.pop("kernel_memory", None) is not None:  # podman: a flag kept for scripts, warned about
        _ctx().reporter.warn("The --kernel-memory flag is no longer supported. This flag is a noop.")
    opts = CreateOptions(resources={k: kw[k] for k in _RESOURCES})
    lists = {n for n, d in CreateOptions.FIELDS if d is list}
    for name, value in kw.items():
        if name in _RESOURCES:
            continue
        field = _FIELD_OF.get(name, name)
        if field in ("cap_add", "cap_drop"):  # podman: repeated, or comma-separated
            value = [c for v in value or [] for c in v.split(",") if c]
        elif field in lists:
            value = list(value or [])
        setattr(opts, field, value)  # (a flag without a field is an AttributeError: slots)
    opts.create_command = [os.path.basename(sys.argv[0]) if not sys.argv[0].endswith("__main__.py")
                           else "pypod", *sys.argv[1:]]
    return opts


def _check_runtime_flags() -> None:
    """Global --runtime-flag: pypod's own runtime (the supervisor) takes none; podman's runtime
    fails the start on a flag it does not know (126)."""
    flags = state._options.get("runtime_flags") or []
    if flags:
        from pypod.errors import CommandCannotInvoke

        raise CommandCannotInvoke(f"pypod's built-in OCI runtime takes no runtime flags: "
                                  f"--{flags[0].lstrip('-')}")


@create_params
def create(**kw):
    """Create but do not start a container."""
    opts = _kw_create(kw)
    rec = _eng().create(_ctx(), opts)
    out(rec.id)


@create_params
def run(*, detach: bool = Opt(False, "--detach", "-d", help="Run container in background and print container ID"),
        sig_proxy: bool = Opt(True, "--sig-proxy", help="Proxy received signals to the process"),
        detach_keys: Optional[str] = Opt(None, "--detach-keys", help="Override the key sequence for detaching a container"),
        rmi: bool = Opt(False, "--rmi", help="Remove container image unless used by other containers"),
        attach: List[str] = Opt([], "--attach", "-a", help="Attach to STDIN, STDOUT or STDERR"),
        preserve_fds: int = Opt(0, "--preserve-fds", help="Pass a number of additional file descriptors into the container"),
        **kw):
    """Run a command in a new container."""
    from pypod.errors import InvalidArgument

    _eng().prepare_supervisor()  # the supervisor-to-be loads while the container is created
    for a in attach:
        if a.lower() not in ("stdin", "stdout", "stderr"):
            raise InvalidArgument(f"invalid stream {a!r} for --attach - must be one of stdin, stdout, or stderr")
    if attach and detach:
        raise InvalidArgument("--attach and --detach cannot be set at the same time")
    _check_runtime_flags()
    opts = _kw_create(kw)
    if rmi:
        opts.rm = opts.rmi = True  # podman: --rmi implies --rm
    streams = {a.lower() for a in attach}
    rec, code = _eng().run(_ctx(), opts, detach=detach, detach_keys=detach_keys,
                           attach=streams or None, preserve_fds=max(0, preserve_fds))
    if detach or (streams and not streams & {"stdout", "stderr"}):
        out(rec.id)  # podman prints the ID where the container's output is not shown
    if detach:
        return 0
    if rmi and rec.image_id:  # quietly kept when another container uses it, as podman
        from pypod.engine import images as ie

        ie.remove_images(_ctx(), [rec.image_id])
    from pypod.errors import ExitCode

    raise ExitCode(code)


# -- start / stop / kill / restart / rm --------------------------------------------------------
def _each(targets: list[str], act) -> None:
    """act(name) for every target, printing what it returns (None: nothing); one target's error
    does not stop the others, and all of them are reported at the end."""
    from pypod.errors import PypodError

    errors: list[PypodError] = []
    for n in targets:
        try:
            shown = act(n)
            if shown is not None:
                out(shown)
        except PypodError as e:
            errors.append(e)
    _raise_collected(errors)


def _cid_files(paths: List[str], ignore: bool = False) -> List[str]:
    """The ids that --cidfile files hold (written by create/run --cidfile)."""
    from pypod.errors import PypodError

    ids = []
    for p in paths:
        try:
            with open(p) as f:
                ids.append(f.read().strip())
        except OSError as e:
            if ignore and e.errno == 2:
                continue
            raise PypodError(f"reading CIDFile: open {p}: {(e.strerror or str(e)).lower()}") from None
    return ids


_CIDFILE_HELP = "Read the container ID from the file"


def start(
    names: List[str] = Arg(None, metavar="CONTAINER [CONTAINER...]"),
    attach: bool = Opt(False, "--attach", "-a", help="Attach container's STDOUT and STDERR"),
    interactive: bool = Opt(False, "--interactive", "-i", help="Keep STDIN open even if not attached"),
    latest: bool = Opt(False, "--latest", "-l", help="Act on the latest container pypod is aware of"),
    all_: bool = Opt(False, "--all", help="Start all containers regardless of their state or configuration"),
    filters: List[str] = Opt([], "--filter", "-f", help="Filter output based on conditions given"),
    sig_proxy: bool = Opt(True, "--sig-proxy", help="Proxy received signals to the process"),
    detach_keys: Optional[str] = Opt(None, "--detach-keys", hidden=True),
):
    """Start one or more containers."""
    from pypod.errors import ExitCode, InvalidArgument, PypodError

    _check_runtime_flags()
    _eng().prepare_supervisor()  # (for the first container started)
    ctx = _ctx()
    if all_ and names:
        raise InvalidArgument("either start all containers or the container(s) provided in the arguments")
    if filters:  # podman: the filter picks among the named containers, or among all of them
        matching = [v.record.id for v in _eng().list_containers(ctx, all_=True, filters=filters)]
        targets = matching if not names else [
            n for n in names if (r := _eng().find_container(ctx, n)) is not None and r.id in matching]
    else:
        targets = _names_or_latest(names or [], latest, all_)
    if attach:
        if len(targets) != 1:
            raise InvalidArgument("you cannot start and attach multiple containers at once")
        code = _eng().start_container(ctx, _get(targets[0]), attach=True, interactive=interactive,
                                      detach_keys=detach_keys)
        raise ExitCode(code)
    def one(n: str) -> str | None:
        # podman 4.3: a container that is running already is not echoed
        try:
            if _eng().start_container(ctx, _get(n), interactive=interactive) is None:
                return None
        except PypodError as e:
            if e.exit_code in (126, 127):  # podman: run says 126/127, a detached start 125
                e.exit_code = 125
            raise
        return n

    _each(targets, one)


def stop(
    names: List[str] = Arg(None, metavar="CONTAINER [CONTAINER...]"),
    timeout: Optional[int] = Opt(None, "--time", "-t", help="Seconds to wait for stop before killing the container"),
    timeout_: Optional[int] = Opt(None, "--timeout", hidden=True),  # podman's old spelling
    all_: bool = Opt(False, "--all", "-a", help="Stop all running containers"),
    latest: bool = Opt(False, "--latest", "-l", help="Act on the latest container pypod is aware of"),
    ignore: bool = Opt(False, "--ignore", "-i", help="Ignore errors when a specified container is missing"),
    filters: List[str] = Opt([], "--filter", "-f", help="Filter output based on conditions given"),
    cidfile: List[str] = Opt([], "--cidfile", help=_CIDFILE_HELP),
):
    """Stop one or more containers."""

    ctx = _ctx()
    timeout = timeout if timeout is not None else timeout_
    names = list(names or []) + _cid_files(cidfile, ignore)
    if all_:
        targets = [v.record.id for v in _eng().list_containers(ctx)]
    elif filters:
        targets = [v.record.id for v in _eng().list_containers(ctx, all_=True, filters=filters)]
    else:
        targets = _names_or_latest(names or [], latest)
    def one(n: str) -> str | None:
        rec = _eng().find_container(ctx, n)
        if rec is None:
            if ignore:
                return None
            rec = _get(n)
        _eng().stop_container(ctx, rec, timeout)
        return n

    _each(targets, one)


def kill(
    names: List[str] = Arg(None, metavar="CONTAINER [CONTAINER...]"),
    signal: str = Opt("KILL", "--signal", "-s", help="Signal to send to the container"),
    all_: bool = Opt(False, "--all", "-a", help="Signal all running containers"),
    latest: bool = Opt(False, "--latest", "-l", help="Act on the latest container pypod is aware of"),
    cidfile: List[str] = Opt([], "--cidfile", help=_CIDFILE_HELP),
):
    """Kill one or more running containers with a specific signal."""
    from pypod.signals import parse_signal

    sig = parse_signal(signal)
    ctx = _ctx()
    names = list(names or []) + _cid_files(cidfile)
    targets = [v.record.id for v in _eng().list_containers(ctx)] if all_ else _names_or_latest(names or [], latest)
    def one(n: str) -> str:
        _eng().kill_container(ctx, _get(n), sig)
        return n

    _each(targets, one)


def restart(
    names: List[str] = Arg(None, metavar="CONTAINER [CONTAINER...]"),
    timeout: Optional[int] = Opt(None, "--time", "-t", help="Seconds to wait for stop before killing the container"),
    all_: bool = Opt(False, "--all", "-a", help="Restart all non-running containers"),
    running: bool = Opt(False, "--running", help="Restart only running containers"),
    latest: bool = Opt(False, "--latest", "-l", help="Act on the latest container pypod is aware of"),
    cidfile: List[str] = Opt([], "--cidfile", help=_CIDFILE_HELP),
):
    """Restart one or more containers."""

    ctx = _ctx()
    names = list(names or []) + _cid_files(cidfile)
    if all_ or running:
        targets = [v.record.id for v in _eng().list_containers(ctx, all_=not running)]
    else:
        targets = _names_or_latest(names or [], latest)
    def one(n: str) -> str:
        rec = _get(n)
        _eng().stop_container(ctx, rec, timeout)
        _eng().start_container(ctx, rec)
        return rec.id

    _each(targets, one)


def rm(
    names: List[str] = Arg(None, metavar="CONTAINER [CONTAINER...]"),
    force: bool = Opt(False, "--force", "-f", help="Force removal of a running or unusable container"),
    all_: bool = Opt(False, "--all", "-a", help="Remove all containers"),
    ignore: bool = Opt(False, "--ignore", "-i", help="Ignore errors when a specified container is missing"),
    volumes: bool = Opt(False, "--volumes", "-v", help="Remove anonymous volumes associated with the container"),
    timeout: Optional[int] = Opt(None, "--time", "-t", help="Seconds to wait for stop before killing the container"),
    latest: bool = Opt(False, "--latest", "-l", help="Act on the latest container pypod is aware of"),
    depend: bool = Opt(False, "--depend", help="Remove container and all containers that depend on it"),
    cidfile: List[str] = Opt([], "--cidfile", help=_CIDFILE_HELP),
    rmi_image: Optional[str] = Opt(None, "--rmi-image", hidden=True),  # run -d --rmi's clean-up
):
    """Remove one or more containers."""
    from pypod.errors import InvalidArgument

    if cidfile:
        names = list(names or []) + _cid_files(cidfile, ignore)
        if not names and not all_ and not latest:
            return  # --ignore, and no file held a container
    if not names and not all_ and not latest:
        raise InvalidArgument("you must provide at least one name or id")
    if latest:
        names = [_eng().latest_container(_ctx())]
    rep = _eng().remove_containers(_ctx(), names or [], force=force, ignore=ignore, timeout=timeout, all_=all_,
                                   volumes=volumes, depend=depend)
    for r in rep.removed:
        out(r)
    if rmi_image and rep.removed:  # quietly kept when another container uses it
        from pypod.engine import images as ie

        ie.remove_images(_ctx(), [rmi_image])
    if rep.errors:
        codes = {e.exit_code for e in rep.errors}
        last = rep.errors[-1]
        last.exit_code = 2 if 2 in codes else (1 if codes == {1} else 125)
        _raise_collected(rep.errors)


# -- ps / inspect / logs / wait ----------------------------------------------------------------
def ps(
    all_: bool = Opt(False, "--all", "-a", help="Show all the containers, default is only running containers"),
    quiet: bool = Opt(False, "--quiet", "-q", help="Print the numeric IDs of the containers only"),
    latest: bool = Opt(False, "--latest", "-l", help="Act on the latest container pypod is aware of"),
    last: int = Opt(-1, "--last", "-n", help="Print the n last created containers (all states)"),
    no_trunc: bool = Opt(False, "--no-trunc", help="Display the extended information"),
    fmt: Optional[str] = Opt(None, "--format", help="Pretty-print containers to JSON or using a Go template"),
    filters: List[str] = Opt([], "--filter", "-f", help="Filter output based on conditions given"),
    noheading: bool = Opt(False, "--noheading", help="Do not print headers"),
    size: bool = Opt(False, "--size", "-s", help="Display the total file sizes"),
    sort: str = Opt("created", "--sort", help="Sort output by: command, created, id, image, names, runningfor, size, status"),
    external: bool = Opt(False, "--external", help="Show containers in storage not controlled by pypod (a build's RUN containers)"),
    ns: bool = Opt(False, "--namespace", hidden=True),
    pod: bool = Opt(False, "--pod", "-p", help="Print the ID and name of the pod the containers are associated with"),
):
    """List containers."""
    e = _eng()
    ctx = _ctx()
    views = e.list_containers(ctx, all_=all_, filters=filters, last=last, latest=latest,
                              external=external)
    views.reverse()  # podman 4.3 lists the oldest first (-n: the newest N, still oldest first)
    if sort != "created":
        key = {"command": lambda v: " ".join(v.record.command), "id": lambda v: v.record.id,
               "image": lambda v: v.record.image_name, "names": lambda v: v.record.name,
               "status": lambda v: v.state.get("status", "")}.get(sort)
        if key:
            views.sort(key=key)
    if quiet:
        for v in views:
            out(v.record.id if no_trunc else v.record.id[:12])
        return
    if fmt and fmt.strip() == "json":
        out(go_json([e.ps_json(ctx, v) for v in views], indent=2))
        return
    columns = PS_COLUMNS + ([("POD ID", "Pod"), ("PODNAME", "PodName")] if pod else [])
    render([e.ps_row(ctx, v, no_trunc) for v in views], fmt, columns=columns, noheading=noheading)


def inspect(
    names: List[str] = Arg(None, metavar="CONTAINER [CONTAINER...]"),
    fmt: Optional[str] = Opt(None, "--format", "-f", help="Format the output to a Go template or json"),
    latest: bool = Opt(False, "--latest", "-l", help="Act on the latest container pypod is aware of"),
    size: bool = Opt(False, "--size", "-s", help="Display filesystem usage"),
):
    """Display the configuration of a container."""
    from pypod.cli.inspect import emit

    ctx = _ctx()
    names = _names_or_latest(names or [], latest)
    results, errors = [], []
    for n in names:
        rec = _eng().find_container(ctx, n)
        if rec is None:
            errors.append(f"no such container {n}")
            continue
        results.append(_eng().inspect_container(ctx, rec, size=size))
    emit(results, fmt, errors)


def logs(
    names: List[str] = Arg(None, metavar="CONTAINER [CONTAINER...]"),
    follow: bool = Opt(False, "--follow", "-f", help="Follow log output"),
    tail: int = Opt(-1, "--tail", help="Output the specified number of LINES at the end of the logs"),
    since: Optional[str] = Opt(None, "--since", help="Show logs since TIMESTAMP"),
    until: Optional[str] = Opt(None, "--until", help="Show logs until TIMESTAMP"),
    timestamps: bool = Opt(False, "--timestamps", "-t", help="Output the timestamps in the log"),
    latest: bool = Opt(False, "--latest", "-l", help="Act on the latest container pypod is aware of"),
    names_: bool = Opt(False, "--names", "-n", help="Output the container name in the log"),
):
    """Fetch the logs of one or more containers."""
    from pypod.cli.logs import show_logs

    show_logs(_ctx(), _names_or_latest(names or [], latest), follow=follow, tail=tail, since=since, until=until,
              timestamps=timestamps, with_names=names_)


def wait(
    names: List[str] = Arg(None, metavar="CONTAINER [CONTAINER...]"),
    condition: List[str] = Opt([], "--condition", help="Condition to wait on"),
    interval: str = Opt("250ms", "--interval", "-i", help="Time Interval to wait before polling for completion"),
    latest: bool = Opt(False, "--latest", "-l", help="Act on the latest container pypod is aware of"),
    ignore: bool = Opt(False, "--ignore", help="Ignore if a container does not exist"),
):
    """Block on one or more containers."""
    from pypod.units import parse_duration

    ctx = _ctx()
    iv = parse_duration(interval)

    def one(n: str) -> str:
        rec = _eng().find_container(ctx, n)
        if rec is None:
            if ignore:
                return "-1"
            rec = _get(n)
        if not condition and _eng().state_of(ctx, rec).get("status") == "created":
            return "0"  # podman 4.3: a container that never ran is not waited for
        return str(_eng().wait_container(ctx, rec, condition or None, iv))

    _each(_names_or_latest(names or [], latest), one)


# -- exec / top / rename / exists / prune ------------------------------------------------------
def exec_(
    container: str = Arg(..., metavar="CONTAINER"),
    command: List[str] = Arg(..., metavar="COMMAND [ARG...]"),
    interactive: bool = Opt(False, "--interactive", "-i", help="Keep STDIN open even if not attached"),
    tty: bool = Opt(False, "--tty", "-t", help="Allocate a pseudo-TTY"),
    env: List[str] = Opt([], "--env", "-e", help="Set environment variables"),
    env_file: List[str] = Opt([], "--env-file", help="Read in a file of environment variables"),
    user: Optional[str] = Opt(None, "--user", "-u", help="Sets the username or UID used and optionally the groupname or GID for the specified command"),
    workdir: Optional[str] = Opt(None, "--workdir", "-w", help="Working directory inside the container"),
    detach: bool = Opt(False, "--detach", "-d", help="Run the exec session in detached mode (backgrounded)"),
    privileged: bool = Opt(False, "--privileged", help="Give the process extended Linux capabilities inside the container"),
    latest: bool = Opt(False, "--latest", "-l", hidden=True),
    detach_keys: Optional[str] = Opt(None, "--detach-keys", hidden=True),
):
    """Run a process in a running container."""
    import os

    from pypod.engine.containers import _parse_env_list, _read_env_file
    from pypod.errors import ExitCode

    ctx = _ctx()
    rec = _get(container)
    items = []
    for f in env_file:
        items.extend(_read_env_file(f))
    items.extend(env)
    code = _eng().exec_in(ctx, rec, list(command), env=_parse_env_list(items, dict(os.environ)), user=user,
                          workdir=workdir, interactive=interactive, tty=tty, detach=detach,
                          privileged=privileged)
    if detach:  # podman prints the exec session's id
        import secrets

        out(secrets.token_hex(32))
    raise ExitCode(code)


def top(container: str = Arg(..., metavar="CONTAINER"),
        descriptors: Optional[List[str]] = Arg(None, metavar="[FORMAT-DESCRIPTORS|ARGS...]")):
    """Display the running processes of a container."""
    from pypod import template

    rows = _eng().top(_ctx(), _get(container))
    sys.stdout.write(template.format_table(rows))


def rename(container: str = Arg(..., metavar="CONTAINER"), new: str = Arg(..., metavar="NAME")):
    """Rename an existing container."""
    _eng().rename(_ctx(), _get(container), new)


def exists(container: str = Arg(..., metavar="CONTAINER"),
           external: bool = Opt(False, "--external", help="Check external containers as well as pypod's (a build's RUN containers)")):
    """Check if a container exists in local storage (exit 0 or 1)."""
    from pypod.errors import ExitCode

    rec = _eng().find_container(_ctx(), container)
    raise ExitCode(0 if rec is not None and (external or not _eng().is_external(rec)) else 1)


def prune(force: bool = Opt(False, "--force", "-f", help="Do not prompt for confirmation"),
          filters: List[str] = Opt([], "--filter", help="Provide filter values (e.g. 'label=<key>=<value>')")):
    """Remove all non running containers."""
    if not force and sys.stdin.isatty():
        sys.stdout.write("WARNING! This will remove all non running containers.\nAre you sure you want to continue? [y/N] ")
        sys.stdout.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return
    for cid in _eng().prune(_ctx(), filters):
        out(cid)


def _cgroups_unavailable(what: str):
    import os

    from pypod.errors import PypodError

    ctx = _ctx()
    if ctx.rootless and not os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        raise PypodError(f"{what} is not supported for cgroupv1 rootless containers")
    raise PypodError(f"{what} needs cgroup support that pypod does not have yet")


def pause(names: List[str] = Arg(None, metavar="CONTAINER [CONTAINER...]"),
          all_: bool = Opt(False, "--all", "-a", help="Pause all running containers")):
    """Pause all the processes in one or more containers."""
    import os

    from pypod.errors import PypodError

    for n in _names_or_latest(names or [], False, all_):
        _get(n)
    if _ctx().rootless and not os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        raise PypodError("can not pause containers on rootless containers with cgroup V1: this container does "
                         "not have a cgroup")
    _cgroups_unavailable("pause")


def unpause(names: List[str] = Arg(None, metavar="CONTAINER [CONTAINER...]"),
            all_: bool = Opt(False, "--all", "-a", help="Unpause all paused containers")):
    """Unpause the processes in one or more containers."""
    for n in _names_or_latest(names or [], False, all_):
        _get(n)
    _cgroups_unavailable("unpause")


def stats(names: List[str] = Arg(None, metavar="[CONTAINER...]"),
          all_: bool = Opt(False, "--all", "-a", help="Show all containers"),
          no_stream: bool = Opt(False, "--no-stream", help="Disable streaming stats and only pull the first result"),
          fmt: Optional[str] = Opt(None, "--format", help="Pretty-print container statistics to JSON or using a Go template")):
    """Display a live stream of container resource usage statistics."""
    import os

    from pypod.errors import PypodError

    if _ctx().rootless and not os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        raise PypodError("stats is not supported in rootless mode without cgroups v2")
    _cgroups_unavailable("stats")


def healthcheck_run(container: str = Arg(..., metavar="CONTAINER")):
    """Run the health check of a container."""
    from pypod.errors import ExitCode

    ctx = _ctx()
    if not _eng().healthcheck_run(ctx, _get(container)):
        out("unhealthy")
        raise ExitCode(1)


def register(root) -> None:
    app = root.group("container", "Manage containers")
    ctxs = {"context_settings": _ARGS_CTX}
    for name, fn, extra in [("create", create, ctxs), ("run", run, ctxs), ("start", start, {}), ("stop", stop, {}),
                            ("kill", kill, {}), ("restart", restart, {}), ("rm", rm, {}), ("ps", ps, {}),
                            ("list", ps, {"hidden": True}), ("ls", ps, {"hidden": True}), ("inspect", inspect, {}),
                            ("logs", logs, {}), ("wait", wait, {}), ("exec", exec_, ctxs), ("top", top, {}),
                            ("rename", rename, {}), ("exists", exists, {}), ("prune", prune, {}),
                            ("pause", pause, {}), ("unpause", unpause, {}), ("stats", stats, {})]:
        app.command(name, **extra)(fn)
    root.group("healthcheck", "Manage health checks on containers").command("run")(healthcheck_run)
    for name, fn, extra in [("create", create, ctxs), ("run", run, ctxs), ("start", start, {}), ("stop", stop, {}),
                            ("kill", kill, {}), ("restart", restart, {}), ("rm", rm, {}), ("ps", ps, {}),
                            ("logs", logs, {}), ("wait", wait, {}), ("exec", exec_, ctxs), ("top", top, {}),
                            ("rename", rename, {}), ("pause", pause, {}), ("unpause", unpause, {}),
                            ("stats", stats, {})]:
        root.command(name, help=(fn.__doc__ or "").strip().splitlines()[0], **extra)(fn)
