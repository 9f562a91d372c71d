"""`pypod pod ...`: create, start, stop, restart, kill, rm, ps, inspect, top, logs, exists, prune,
pause, unpause, stats (podman 4.3's)."""

from __future__ import annotations

import sys

from pypod.cli import state
from pypod.cli.params import Arg, Opt
from pypod.cli.render import go_json, out, render

TYPE_CHECKING = False  # typing costs start-up time; the names below are for annotations only
if TYPE_CHECKING:
    from typing import List, Optional


def _eng():
    from pypod.engine import pods

    return pods


def _reports():
    from pypod.engine import pod_reports

    return pod_reports


def _targets(names: list[str] | None, all_: bool, latest: bool = False) -> list:
    from pypod.errors import InvalidArgument

    ctx = state.context()
    if all_ or latest:
        if names:
            raise InvalidArgument("when using the --all switch, you may not pass any pod names or IDs")
        pods = _eng().all_pods(ctx)
        if latest:
            pods = sorted(pods, key=lambda p: p.created)[-1:]
        return pods
    if not names:
        raise InvalidArgument("you must provide at least one name or id")
    return [_eng().get_pod(ctx, n) for n in names]


def _each(pods: list, act) -> None:
    """Act on each pod, print its id; errors after the others (podman's last error wins the code)."""
    from pypod.errors import PypodError

    errors = []
    for p in pods:
        try:
            act(p)
            out(p.id)
        except PypodError as e:
            errors.append(e)
    for e in errors[:-1]:
        sys.stderr.write(f"Error: {e.message}\n")
    if errors:
        raise errors[-1]


def create(
    name: Optional[str] = Arg(None, metavar="[NAME]"),
    name_opt: Optional[str] = Opt(None, "--name", "-n", help="Assign a name to the pod"),
    publish: List[str] = Opt([], "--publish", "-p", help="Publish a container's port, or a range of ports, to the host"),
    network: Optional[str] = Opt(None, "--network", help="Connect a container to a network"),
    share: Optional[str] = Opt(None, "--share", help="A comma delimited list of kernel namespaces the pod will share"),
    infra: bool = Opt(True, "--infra", help="Create an infra container associated with the pod to share namespaces with"),
    infra_image: Optional[str] = Opt(None, "--infra-image", help="Image to use to override builtin infra container"),
    infra_command: Optional[str] = Opt(None, "--infra-command", help="Overwrite the default ENTRYPOINT of the image"),
    infra_name: Optional[str] = Opt(None, "--infra-name", help="Assign a name to the container"),
    label: List[str] = Opt([], "--label", "-l", help="Set metadata on pod (default [])"),
    hostname: Optional[str] = Opt(None, "--hostname", help="Set container hostname"),
    add_host: List[str] = Opt([], "--add-host", help="Add a custom host-to-IP mapping (host:ip) (default [])"),
    dns: List[str] = Opt([], "--dns", help="Set custom DNS servers"),
    dns_search: List[str] = Opt([], "--dns-search", help="Set custom DNS search domains"),
    dns_option: List[str] = Opt([], "--dns-option", help="Set custom DNS options"),
    pod_id_file: Optional[str] = Opt(None, "--pod-id-file", help="Write the pod ID to the file"),
    volume: List[str] = Opt([], "--volume", "-v", help="Bind mount a volume into the pod"),
    userns: Optional[str] = Opt(None, "--userns", help="User namespace to use"),
    replace: bool = Opt(False, "--replace", help="If a pod with the same name exists, replace it"),
    exit_policy: str = Opt("continue", "--exit-policy", help="Behaviour when the last container exits"),
):
    """Create a new empty pod."""
    import os

    from pypod.errors import InvalidArgument

    if name and name_opt:
        raise InvalidArgument("cannot specify --name and NAME at the same time")
    if exit_policy not in ("continue", "stop"):
        raise InvalidArgument(f'invalid pod exit policy: "{exit_policy}"')
    if not infra and (infra_image or infra_command or infra_name):
        raise InvalidArgument("cannot set infra options (--infra-image, --infra-command, --infra-name) "
                              "with --infra=false")
    opts = _eng().PodCreateOptions(
        name=name or name_opt, publish=list(publish), network=network, share=share, infra=infra,
        infra_image=infra_image, infra_command=infra_command, infra_name=infra_name, labels=list(label),
        hostname=hostname, add_host=list(add_host), dns=list(dns),
        dns_search=list(dns_search), dns_option=list(dns_option), volumes=list(volume), userns=userns,
        replace=replace, exit_policy=exit_policy,
        create_command=[os.path.basename(sys.argv[0]) if not sys.argv[0].endswith("__main__.py") else "pypod",
                        *sys.argv[1:]])
    if pod_id_file and os.path.exists(pod_id_file):
        from pypod.errors import PypodError

        raise PypodError(f"pod id file exists. Ensure another pod is not using it or delete {pod_id_file}")
    ctx = state.context()
    rec = _eng().create(ctx, opts)
    if pod_id_file:
        from pypod.errors import PypodError

        try:
            with open(pod_id_file, "x") as f:
                f.write(rec.id)
        except OSError as e:
            _eng().remove_pod(ctx, rec, force=True)
            raise PypodError(f"opening pod-id-file: open {pod_id_file}: {(e.strerror or str(e)).lower()}") from None
    out(rec.id)


def start(names: List[str] = Arg(None, metavar="POD [POD...]"),
          all_: bool = Opt(False, "--all", "-a", help="Start all pods"),
          latest: bool = Opt(False, "--latest", "-l", hidden=True)):
    """Start one or more pods."""
    ctx = state.context()
    from pypod.engine import containers as ce

    ce.prepare_supervisor()
    _each(_targets(names, all_, latest), lambda p: _eng().start_pod(ctx, p))


def stop(names: List[str] = Arg(None, metavar="POD [POD...]"),
         all_: bool = Opt(False, "--all", "-a", help="Stop all running pods"),
         timeout: Optional[int] = Opt(None, "--time", "-t", help="Seconds to wait for pod stop before killing the container"),
         ignore: bool = Opt(False, "--ignore", "-i", help="Ignore errors when a specified pod is missing"),
         latest: bool = Opt(False, "--latest", "-l", hidden=True)):
    """Stop one or more pods."""
    ctx = state.context()
    if ignore and names:
        names = [n for n in names if _eng().find_pod(ctx, n) is not None]
        if not names:
            return
    _each(_targets(names, all_, latest), lambda p: _eng().stop_pod(ctx, p, timeout))


def restart(names: List[str] = Arg(None, metavar="POD [POD...]"),
            all_: bool = Opt(False, "--all", "-a", help="Restart all running pods"),
            latest: bool = Opt(False, "--latest", "-l", hidden=True)):
    """Restart one or more pods."""
    ctx = state.context()
    from pypod.engine import containers as ce

    ce.prepare_supervisor()

    def act(p):
        _eng().stop_pod(ctx, p)
        _eng().start_pod(ctx, p)

    _each(_targets(names, all_, latest), act)


def kill(names: List[str] = Arg(None, metavar="POD [POD...]"),
         all_: bool = Opt(False, "--all", "-a", help="Kill all running pods"),
         signal: str = Opt("KILL", "--signal", "-s", help="Signal to send to the containers in the pod"),
         latest: bool = Opt(False, "--latest", "-l", hidden=True)):
    """Send the specified signal or SIGKILL to containers in a pod."""
    from pypod.signals import parse_signal

    sig = parse_signal(signal)
    ctx = state.context()
    _each(_targets(names, all_, latest), lambda p: _eng().kill_pod(ctx, p, sig))


def rm(names: List[str] = Arg(None, metavar="POD [POD...]"),
       all_: bool = Opt(False, "--all", "-a", help="Remove all running pods"),
       force: bool = Opt(False, "--force", "-f", help="Stop all containers in the pod before removal"),
       ignore: bool = Opt(False, "--ignore", "-i", help="Ignore errors when a specified pod is missing"),
       timeout: Optional[int] = Opt(None, "--time", "-t", help="Seconds to wait for pod stop before killing the container"),
       latest: bool = Opt(False, "--latest", "-l", hidden=True)):
    """Remove one or more pods."""
    from pypod.errors import InvalidArgument

    ctx = state.context()
    if all_ and names:
        raise InvalidArgument("when using the --all switch, you may not pass any pod names or IDs")
    if not names and not all_ and not latest:
        raise InvalidArgument("you must provide at least one name or id")
    if latest:
        names = [p.id for p in _targets(None, False, True)]
    rep = _eng().remove_pods(ctx, names or [], force=force, all_=all_, ignore=ignore, timeout=timeout)
    for pid in rep.removed:
        out(pid)
    for e in rep.errors[:-1]:
        sys.stderr.write(f"Error: {e.message}\n")
    if rep.errors:
        raise rep.errors[-1]


def ps(
    fmt: Optional[str] = Opt(None, "--format", help="Pretty-print pods to JSON or using a Go template"),
    filters: List[str] = Opt([], "--filter", "-f", help="Filter output based on conditions given"),
    quiet: bool = Opt(False, "--quiet", "-q", help="Print the numeric IDs of the pods only"),
    no_trunc: bool = Opt(False, "--no-trunc", help="Do not truncate pod and container IDs"),
    ctr_names: bool = Opt(False, "--ctr-names", help="Display the container names"),
    ctr_ids: bool = Opt(False, "--ctr-ids", help="Display the container UUIDs. If no-trunc is not set they will be truncated"),
    ctr_status: bool = Opt(False, "--ctr-status", help="Display the container status"),
    noheading: bool = Opt(False, "--noheading", help="Do not print headers"),
    latest: bool = Opt(False, "--latest", "-l", hidden=True),
    sort: str = Opt("created", "--sort", help="Sort output by created, id, name, or number"),
    ns: bool = Opt(False, "--ns", hidden=True),
):
    """List pods."""
    from pypod.errors import InvalidArgument

    if sort not in ("created", "id", "name", "number", "status"):
        raise InvalidArgument("invalid option for --sort, options are: created, id, name, number, or status")
    rows = _reports().list_pods(state.context(), filters, no_trunc)
    if latest:
        rows = rows[:1]
    if sort != "created":
        key = {"id": "Id", "name": "Name", "number": "NumberOfContainers", "status": "Status"}[sort]
        rows.sort(key=lambda r: r[key])
    if quiet:  # podman 4.3: full ids, with or without --no-trunc
        for r in rows:
            out(r["Id"])
        return
    if fmt and fmt.strip() == "json":
        out(go_json([_reports().ps_json(r) for r in rows], indent=2))
        return
    columns = [("POD ID", "ID"), ("NAME", "Name"), ("STATUS", "Status"), ("CREATED", "Created"),
               ("INFRA ID", "InfraID")]
    if ctr_ids:
        columns.append(("IDS", "ContainerIds"))
    if ctr_names:
        columns.append(("NAMES", "ContainerNames"))
    if ctr_status:
        columns.append(("STATUS", "ContainerStatuses"))
    if not (ctr_ids or ctr_names or ctr_status):
        columns.append(("# OF CONTAINERS", "NumberOfContainers"))
    render(rows, fmt, columns=columns, noheading=noheading)


def inspect(names: List[str] = Arg(None, metavar="POD [POD...]"),
            fmt: Optional[str] = Opt(None, "--format", "-f", help="Format the output to a Go template or json"),
            latest: bool = Opt(False, "--latest", "-l", hidden=True)):
    """Display a pod configuration."""
    from pypod.errors import PypodError

    if not names and not latest:
        from pypod.errors import InvalidArgument

        raise InvalidArgument("no names or ids specified")
    ctx = state.context()
    if latest:
        pods = _targets(None, False, True)
    else:
        pods = [_eng().find_pod(ctx, n) for n in names or []]
        missing = [n for n, p in zip(names or [], pods) if p is None]
        if missing:
            if not any(pods):
                out("[]")
                sys.stdout.flush()  # before the error, as podman prints them
            raise PypodError(f"inspecting object: no such pod {missing[0]}")
    data = [_reports().inspect_pod(ctx, p) for p in pods]
    if fmt and fmt.strip() != "json":
        from pypod.cli.inspect import emit

        emit(data, fmt, [])
        return
    # podman 4.3 prints one pod as an object
    out(go_json(data[0] if len(data) == 1 else data, indent=5))


def top(pod: str = Arg(..., metavar="POD"),
        descriptors: Optional[List[str]] = Arg(None, metavar="[FORMAT-DESCRIPTORS|ARGS...]")):
    """Display the running processes of containers in a pod."""
    from pypod import template

    ctx = state.context()
    sys.stdout.write(template.format_table(_reports().top(ctx, _eng().get_pod(ctx, pod))))


def logs(pod: str = Arg(..., metavar="POD"),
         container: Optional[str] = Opt(None, "--container", "-c", help="Filter logs by container name or id which belongs to pod"),
         follow: bool = Opt(False, "--follow", "-f", help="Follow log output"),
         names: bool = Opt(False, "--names", "-n", help="Output container names instead of container IDs in the log"),
         since: Optional[str] = Opt(None, "--since", help="Show logs since TIMESTAMP"),
         until: Optional[str] = Opt(None, "--until", help="Show logs until TIMESTAMP"),
         tail: int = Opt(-1, "--tail", help="Output the specified number of LINES at the end of the logs"),
         timestamps: bool = Opt(False, "--timestamps", "-t", help="Output the timestamps in the log")):
    """Fetch logs for pod with one or more containers."""
    from pypod.cli.logs import show_logs

    ctx = state.context()
    ids = _reports().log_members(ctx, _eng().get_pod(ctx, pod), container)
    if ids:
        show_logs(ctx, ids, follow=follow, tail=tail, since=since, until=until, timestamps=timestamps,
                  with_names=names)


def exists(pod: str = Arg(..., metavar="POD")):
    """Check if a pod exists in local storage (exit 0 or 1)."""
    from pypod.errors import ExitCode

    raise ExitCode(0 if _eng().find_pod(state.context(), pod) is not None else 1)


def prune(force: bool = Opt(False, "--force", "-f", help="Do not prompt for confirmation")):
    """Remove all stopped pods and their containers."""
    if not force:
        sys.stdout.write("WARNING! This will remove all stopped/exited pods..\nAre you sure you want to "
                         "continue? [y/N] ")
        sys.stdout.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return
    for pid in _eng().prune(state.context()):
        out(pid)


def _no_cgroup(message: str):
    import os

    from pypod.errors import PypodError

    if state.context().rootless and not os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        raise PypodError(message)
    raise PypodError("pod cgroups are not supported by pypod yet")


def pause(names: List[str] = Arg(None, metavar="POD [POD...]"),
          all_: bool = Opt(False, "--all", "-a", help="Pause all running pods")):
    """Pause one or more pods."""
    _targets(names, all_)
    _no_cgroup("can not pause pods containing rootless containers with cgroup V1: this container does not "
               "have a cgroup")


def unpause(names: List[str] = Arg(None, metavar="POD [POD...]"),
            all_: bool = Opt(False, "--all", "-a", help="Unpause all paused pods")):
    """Unpause one or more pods."""
    _targets(names, all_)
    _no_cgroup("can not unpause pods containing rootless containers with cgroup V1: this container does not "
               "have a cgroup")


def stats(names: List[str] = Arg(None, metavar="[POD...]"),
          all_: bool = Opt(False, "--all", "-a", help="Provide stats for all pods"),
          no_stream: bool = Opt(False, "--no-stream", help="Disable streaming stats and only pull the first result"),
          fmt: Optional[str] = Opt(None, "--format", help="Pretty-print container statistics to JSON or using a Go template")):
    """Display a live stream of resource usage statistics for the containers in one or more pods."""
    _no_cgroup("pod stats is not supported in rootless mode without cgroups v2")


def register(root) -> None:
    app = root.group("pod", "Manage pods")
    for name, fn in [("create", create), ("start", start), ("stop", stop), ("restart", restart),
                     ("kill", kill), ("rm", rm), ("ps", ps), ("inspect", inspect), ("top", top),
                     ("logs", logs), ("exists", exists), ("prune", prune), ("pause", pause),
                     ("unpause", unpause), ("stats", stats)]:
        app.command(name)(fn)
    app.command("ls", hidden=True)(ps)
    app.command("list", hidden=True)(ps)
