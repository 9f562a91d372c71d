"""The verbs of `pypod compose` that act on containers (up, down, ps, logs, exec, run, …): each
parses its flags, loads the project and calls pypod.compose over the engine; none shells out."""

from __future__ import annotations

import sys

from pypod.cli.params import Arg, Opt

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Optional


def _ctx():
    from pypod.cli.state import context

    return context()


def _project(popts):
    from pypod.compose.project import load_project

    project = load_project(popts)
    for w in project.warnings:
        sys.stderr.write(f"WARN[0000] {w}\n")
    return project


def _say(quiet: bool = False):
    from pypod.compose.containers import Progress

    return Progress(quiet=quiet)


def _scale(items: list[str]) -> dict:
    from pypod.compose.errors import ComposeError

    out = {}
    for item in items:
        name, eq, n = item.partition("=")
        if not eq or not n.isdigit():
            raise ComposeError(f"invalid --scale option {item!r}: use SERVICE=NUM")
        out[name] = int(n)
    return out


def _views(ctx, project, services, all_: bool = True, oneoff=False):
    from pypod.compose.containers import project_containers, running
    from pypod.compose.errors import ComposeError

    for s in services or []:
        if s not in project.model["services"]:
            raise ComposeError(f"no such service: {s}")
    views = project_containers(ctx, project.name, services or None, oneoff=oneoff)
    return views if all_ else [v for v in views if running(v)]


# -- up / create / down ------------------------------------------------------------------------
def up(
    popts=None,
    detach: bool = Opt(False, "--detach", "-d", help="Detached mode: Run containers in the background"),
    build: bool = Opt(False, "--build", help="Build images before starting containers"),
    no_build: bool = Opt(False, "--no-build", help="Don't build an image, even if it's policy"),
    pull: Optional[str] = Opt(None, "--pull", help='Pull image before running ("always"|"missing"|"never")'),
    force_recreate: bool = Opt(False, "--force-recreate", help="Recreate containers even if their configuration and image haven't changed"),
    no_recreate: bool = Opt(False, "--no-recreate", help="If containers already exist, don't recreate them"),
    remove_orphans: bool = Opt(False, "--remove-orphans", help="Remove containers for services not defined in the Compose file"),
    scale: List[str] = Opt([], "--scale", help="Scale SERVICE to NUM instances"),
    wait: bool = Opt(False, "--wait", help="Wait for services to be running|healthy. Implies detached mode"),
    wait_timeout: Optional[int] = Opt(None, "--wait-timeout", help="Maximum duration in seconds to wait for the project to be running|healthy"),
    abort_on_container_exit: bool = Opt(False, "--abort-on-container-exit", help="Stops all containers if any container was stopped"),
    exit_code_from: Optional[str] = Opt(None, "--exit-code-from", help="Return the exit code of the selected service container"),
    timeout: Optional[int] = Opt(None, "--timeout", "-t", help="Use this timeout in seconds for container shutdown"),
    no_deps: bool = Opt(False, "--no-deps", help="Don't start linked services"),
    no_start: bool = Opt(False, "--no-start", help="Don't start the services after creating them"),
    no_color: bool = Opt(False, "--no-color", help="Produce monochrome output"),
    no_log_prefix: bool = Opt(False, "--no-log-prefix", help="Don't print prefix in logs"),
    quiet_pull: bool = Opt(False, "--quiet-pull", help="Pull without printing progress information"),
    services: List[str] = Arg([], metavar="[SERVICE...]"),
):
    """Create and start containers."""
    from pypod.compose import up as upmod
    from pypod.compose.errors import ComposeError

    if build and no_build:
        raise ComposeError("--build and --no-build are incompatible")
    if force_recreate and no_recreate:
        raise ComposeError("--force-recreate and --no-recreate are incompatible")
    if exit_code_from:
        abort_on_container_exit = True
    if detach and abort_on_container_exit:
        raise ComposeError("--abort-on-container-exit and --detach are incompatible")
    project = _project(popts)
    if exit_code_from and exit_code_from not in project.model["services"]:
        raise ComposeError(f"no such service: {exit_code_from}")
    opts = upmod.UpOptions(services=list(services or []), build=build, no_build=no_build, pull=pull,
                           force_recreate=force_recreate, no_recreate=no_recreate, remove_orphans=remove_orphans,
                           scale=_scale(scale), no_deps=no_deps, timeout=timeout, no_start=no_start,
                           wait=wait, wait_timeout=wait_timeout)
    ctx = _ctx()
    say = _say()
    if detach or wait or no_start:
        upmod.up(ctx, project, opts, say)
        return 0
    from pypod.compose.attached import run_attached

    return run_attached(ctx, project, opts, say, abort=abort_on_container_exit, exit_code_from=exit_code_from,
                        colour=not no_color and sys.stdout.isatty(), prefix=not no_log_prefix)


def create(
    popts=None,
    build: bool = Opt(False, "--build", help="Build images before starting containers"),
    no_build: bool = Opt(False, "--no-build", help="Don't build an image, even if it's policy"),
    pull: Optional[str] = Opt(None, "--pull", help='Pull image before running ("always"|"missing"|"never"|"build")'),
    force_recreate: bool = Opt(False, "--force-recreate", help="Recreate containers even if their configuration and image haven't changed"),
    no_recreate: bool = Opt(False, "--no-recreate", help="If containers already exist, don't recreate them"),
    remove_orphans: bool = Opt(False, "--remove-orphans", help="Remove containers for services not defined in the Compose file"),
    scale: List[str] = Opt([], "--scale", help="Scale SERVICE to NUM instances"),
    services: List[str] = Arg([], metavar="[SERVICE...]"),
):
    """Creates containers for a service."""
    from pypod.compose import up as upmod

    opts = upmod.UpOptions(services=list(services or []), build=build, no_build=no_build, pull=pull,
                           force_recreate=force_recreate, no_recreate=no_recreate,
                           remove_orphans=remove_orphans, scale=_scale(scale), no_start=True)
    upmod.up(_ctx(), _project(popts), opts, _say())
    return 0


def down(
    popts=None,
    volumes: bool = Opt(False, "--volumes", "-v", help="Remove named volumes declared in the \"volumes\" section of the Compose file and anonymous volumes attached to containers"),
    rmi: Optional[str] = Opt(None, "--rmi", help='Remove images used by services. "local" remove only images that don\'t have a custom tag ("local"|"all")'),
    remove_orphans: bool = Opt(False, "--remove-orphans", help="Remove containers for services not defined in the Compose file"),
    timeout: Optional[int] = Opt(None, "--timeout", "-t", help="Specify a shutdown timeout in seconds"),
):
    """Stop and remove containers, networks."""
    from pypod.compose.down import down as do_down

    do_down(_ctx(), _project(popts), volumes=volumes, rmi=rmi, remove_orphans=remove_orphans,
            timeout=timeout, say=_say())
    return 0


# -- ps / logs ----------------------------------------------------------------------------------
def _ps_row(ctx, project, v) -> dict:
    """A container as `docker compose ps` shows it (its JSON's keys)."""
    import time as _time

    from pypod.compose.containers import service_of
    from pypod.engine import containers as ce

    row = ce.ps_row(ctx, v, no_trunc=True)
    cmd = " ".join(v.record.command)
    if len(cmd) > 20:
        cmd = cmd[:19] + "…"
    state = row["State"]
    created = _time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", _time.gmtime(ce.parse_time(v.record.created)))
    status = row["Status"]
    if state == "running":
        status = status.replace(" ago", "", 1)
    return {"Command": f'"{cmd}"', "CreatedAt": created, "ExitCode": row["ExitCode"],
            "Health": (v.state.get("health") or {}).get("status") or "", "ID": v.record.id,
            "Image": v.record.image_name,
            "Labels": ",".join(f"{k}={x}" for k, x in sorted(v.record.labels.items())),
            "LocalVolumes": str(sum(1 for m in v.record.config.volumes if ":" in m)),
            "Mounts": ",".join(row["Mounts"]), "Name": v.record.name, "Names": v.record.name,
            "Networks": row["Networks"], "Ports": row["Ports"], "Project": project.name, "Publishers": [],
            "RunningFor": row["RunningFor"], "Service": service_of(v.record), "Size": "0B", "State": state,
            "Status": status}


def ps(
    popts=None,
    all_: bool = Opt(False, "--all", "-a", help="Show all stopped containers (including those created by the run command)"),
    quiet: bool = Opt(False, "--quiet", "-q", help="Only display IDs"),
    fmt: Optional[str] = Opt(None, "--format", help="Format output using a custom template: 'table', 'json' or a Go template"),
    services_only: bool = Opt(False, "--services", help="Display services"),
    status: List[str] = Opt([], "--status", help="Filter services by status. Values: [paused | restarting | removing | running | dead | created | exited]"),
    services: List[str] = Arg([], metavar="[SERVICE...]"),
):
    """List containers."""
    ctx = _ctx()
    project = _project(popts)
    views = _views(ctx, project, services, all_=all_ or bool(status), oneoff=None if all_ else False)
    if status:
        views = [v for v in views if _ps_state(v) in status]
    if services_only:
        from pypod.compose.containers import service_of

        seen = []
        for v in views:
            if service_of(v.record) not in seen:
                seen.append(service_of(v.record))
        sys.stdout.write("".join(f"{s}\n" for s in seen))
        return 0
    if quiet:
        sys.stdout.write("".join(f"{v.record.id}\n" for v in views))
        return 0
    rows = [_ps_row(ctx, project, v) for v in views]
    if fmt and fmt.strip().lower() == "json":
        import json

        # one compact object per line, as Compose v2 prints them
        sys.stdout.write("".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in rows))
        return 0
    if fmt and fmt.strip() not in ("table", ""):
        from pypod.cli.render import render

        render(rows, fmt, columns=[(k.upper(), k) for k in ("Name", "Image", "Service", "Status")])
        return 0
    table = [["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"]]
    table += [[r["Name"], r["Image"], r["Command"], r["Service"], r["RunningFor"], r["Status"], r["Ports"]]
              for r in rows]
    sys.stdout.write(_table(table, 10))
    return 0


def _table(rows: list, minwidth: int) -> str:
    """Docker's CLI tables: tabwriter with 3 spaces of padding."""
    from pypod.tabwriter import tabwrite

    return tabwrite("".join("\t".join(str(c) for c in row) + "\n" for row in rows), minwidth=minwidth,
                    tabwidth=1, padding=3)


def _ps_state(v) -> str:
    s = v.state.get("status", "created")
    return "exited" if s == "stopped" else s


def logs(
    popts=None,
    follow: bool = Opt(False, "--follow", "-f", help="Follow log output"),
    tail: str = Opt("all", "--tail", "-n", help='Number of lines to show from the end of the logs for each container'),
    timestamps: bool = Opt(False, "--timestamps", "-t", help="Show timestamps"),
    no_color: bool = Opt(False, "--no-color", help="Produce monochrome output"),
    no_log_prefix: bool = Opt(False, "--no-log-prefix", help="Don't print prefix in logs"),
    index: Optional[int] = Opt(None, "--index", help="index of the container if service has multiple replicas"),
    services: List[str] = Arg([], metavar="[SERVICE...]"),
):
    """View output from containers."""
    from pypod.compose import logs as clogs
    from pypod.compose.containers import number
    from pypod.compose.errors import ComposeError

    if tail != "all" and not tail.lstrip("-").isdigit():
        raise ComposeError(f"invalid --tail value {tail!r}: use a number or \"all\"")
    n = -1 if tail == "all" else int(tail)
    ctx = _ctx()
    project = _project(popts)
    views = _views(ctx, project, services, oneoff=None)
    if index is not None:
        views = [v for v in views if number(v.record) == index]
    names = [clogs.short_name(project.name, v.record) for v in views]
    printer = clogs.Printer(names, colour=not no_color and sys.stdout.isatty(), prefix=not no_log_prefix,
                            timestamps=timestamps)
    tails = [clogs.Tail(ctx, v.record, nm) for v, nm in zip(views, names)]
    clogs.print_existing(ctx, tails, printer, n)
    if follow:
        try:
            clogs.follow(ctx, tails, printer, announce=False)
        except KeyboardInterrupt:
            pass
    printer.flush()
    return 0


# -- start / stop / restart / kill / rm -------------------------------------------------------
def start(popts=None, services: List[str] = Arg([], metavar="[SERVICE...]")):
    """Start services."""
    from pypod.compose import up as upmod

    project = _project(popts)
    names = upmod.selected(project, list(services or []), with_deps=False)
    upmod.start_services(_ctx(), project, names, _say())
    return 0


def stop(popts=None, timeout: Optional[int] = Opt(None, "--timeout", "-t", help="Specify a shutdown timeout in seconds"),
         services: List[str] = Arg([], metavar="[SERVICE...]")):
    """Stop services."""
    ctx = _ctx()
    project = _project(popts)
    _stop(ctx, project, _views(ctx, project, services), timeout, _say())
    return 0


def _stop(ctx, project, views, timeout, say) -> None:
    from pypod.compose.containers import stop, stop_levels

    stop(ctx, views, timeout, say, levels=stop_levels(project.model, views))


def restart(popts=None, timeout: Optional[int] = Opt(None, "--timeout", "-t", help="Specify a shutdown timeout in seconds"),
            no_deps: bool = Opt(False, "--no-deps", help="Don't restart dependent services"),
            services: List[str] = Arg([], metavar="[SERVICE...]")):
    """Restart service containers."""
    from pypod.compose import up as upmod

    ctx = _ctx()
    project = _project(popts)
    say = _say()
    _stop(ctx, project, _views(ctx, project, services), timeout, say)
    upmod.start_services(ctx, project, upmod.selected(project, list(services or []), with_deps=False), say)
    return 0


def kill(popts=None, signal: str = Opt("SIGKILL", "--signal", "-s", help='SIGNAL to send to the container'),
         remove_orphans: bool = Opt(False, "--remove-orphans", help="Remove containers for services not defined in the Compose file"),
         services: List[str] = Arg([], metavar="[SERVICE...]")):
    """Force stop service containers."""
    from pypod.compose.containers import running
    from pypod.engine import containers as ce
    from pypod.signals import parse_signal

    sig = parse_signal(signal)
    ctx = _ctx()
    project = _project(popts)
    say = _say()
    for v in _views(ctx, project, services):
        if running(v):
            say("Container", v.record.name, "Killing")
            ce.kill_container(ctx, v.record, sig)
            say("Container", v.record.name, "Killed")
    return 0


def rm(popts=None, force: bool = Opt(False, "--force", "-f", help="Don't ask to confirm removal"),
       stop_first: bool = Opt(False, "--stop", "-s", help="Stop the containers, if required, before removing"),
       volumes: bool = Opt(False, "--volumes", "-v", help="Remove any anonymous volumes attached to containers"),
       services: List[str] = Arg([], metavar="[SERVICE...]")):
    """Removes stopped service containers."""
    from pypod.compose.containers import remove, running

    ctx = _ctx()
    project = _project(popts)
    say = _say()
    views = _views(ctx, project, services)
    if stop_first:
        _stop(ctx, project, views, None, say)
        views = _views(ctx, project, services)
    views = [v for v in views if not running(v)]
    if not views:
        sys.stderr.write("No stopped containers\n")
        return 0
    if not force:
        sys.stderr.write(f"Going to remove {', '.join(v.record.name for v in views)}\n? Are you sure? (y/N) ")
        sys.stderr.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    remove(ctx, views, None, say, volumes=volumes)
    return 0


# -- exec / run ---------------------------------------------------------------------------------
def _service_container(ctx, project, service: str, index: int):
    from pypod.compose.containers import number, running
    from pypod.compose.errors import ComposeError

    views = [v for v in _views(ctx, project, [service]) if running(v)]
    for v in views:
        if number(v.record) == index:
            return v.record
    if index != 1 or not views:
        raise ComposeError(f"service \"{service}\" is not running" if not views
                           else f"service \"{service}\" has no container number {index}")
    return views[0].record


def exec_(
    popts=None,
    detach: bool = Opt(False, "--detach", "-d", help="Detached mode: Run command in the background"),
    env: List[str] = Opt([], "--env", "-e", help="Set environment variables"),
    user: Optional[str] = Opt(None, "--user", "-u", help="Run the command as this user"),
    workdir: Optional[str] = Opt(None, "--workdir", "-w", help="Path to workdir directory for this command"),
    index: int = Opt(1, "--index", help="Index of the container if service has multiple replicas"),
    no_tty: bool = Opt(False, "--no-TTY", "-T", help="Disable pseudo-TTY allocation. By default `docker compose exec` allocates a TTY"),
    privileged: bool = Opt(False, "--privileged", help="Give extended privileges to the process"),
    service: str = Arg(..., metavar="SERVICE"),
    command: List[str] = Arg(..., metavar="COMMAND [ARGS...]"),
):
    """Execute a command in a running container."""
    import os

    from pypod.engine import containers as ce

    ctx = _ctx()
    project = _project(popts)
    rec = _service_container(ctx, project, service, index)
    tty = not no_tty and sys.stdin.isatty() and not detach
    return ce.exec_in(ctx, rec, list(command), env=ce._parse_env_list(env, dict(os.environ)), user=user,
                      workdir=workdir, interactive=not detach, tty=tty, detach=detach, privileged=privileged)


def run(
    popts=None,
    detach: bool = Opt(False, "--detach", "-d", help="Run container in background and print container ID"),
    rm: bool = Opt(False, "--rm", help="Automatically remove the container when it exits"),
    name: Optional[str] = Opt(None, "--name", help="Assign a name to the container"),
    env: List[str] = Opt([], "--env", "-e", help="Set environment variables"),
    user: Optional[str] = Opt(None, "--user", "-u", help="Run as specified username or uid"),
    workdir: Optional[str] = Opt(None, "--workdir", "-w", help="Working directory inside the container"),
    entrypoint: Optional[str] = Opt(None, "--entrypoint", help="Override the entrypoint of the image"),
    no_deps: bool = Opt(False, "--no-deps", help="Don't start linked services"),
    service_ports: bool = Opt(False, "--service-ports", help="Run command with all service's ports enabled and mapped to the host"),
    publish: List[str] = Opt([], "--publish", "-p", help="Publish a container's port(s) to the host"),
    no_tty: bool = Opt(False, "--no-TTY", "-T", help="Disable pseudo-TTY allocation (default: auto-detected)"),
    label: List[str] = Opt([], "--label", "-l", help="Add or override a label"),
    build: bool = Opt(False, "--build", help="Build image before starting container"),
    service: str = Arg(..., metavar="SERVICE"),
    command: List[str] = Arg([], metavar="[COMMAND] [ARGS...]"),
):
    """Run a one-off command on a service."""
    import secrets

    from pypod.compose import plan
    from pypod.compose import up as upmod
    from pypod.compose.errors import ComposeError
    from pypod.engine import containers as ce

    ctx = _ctx()
    project = _project(popts)
    if service not in project.model["services"]:
        raise ComposeError(f"no such service: {service}")
    say = _say()
    deps = [s for s in upmod.selected(project, [service]) if s != service]
    upmod.ensure_networks(ctx, project, [service] + deps, say)
    upmod.ensure_volumes(ctx, project, [service] + deps, say)
    if deps and not no_deps:
        upmod.up(ctx, project, upmod.UpOptions(services=deps, no_recreate=True), say)
    image_id = upmod.ensure_image(ctx, project, service, upmod.UpOptions(build=build), say)
    cname = name or f"{project.name}-{service}-run-{secrets.token_hex(6)}"
    kw, dirs = plan.create_kwargs(project, service, 1, oneoff=True, name=cname, image_id=image_id,
                                  publish=service_ports)
    import os

    for d in dirs:
        os.makedirs(d, exist_ok=True)
    if command:
        kw["command"] = list(command)
    if entrypoint is not None:
        kw["entrypoint"] = entrypoint
    kw["env"] = ce.merge_env(kw["env"], ce._parse_env_list(env, dict(os.environ)))
    kw["publish"] = list(kw["publish"]) + list(publish)
    kw["labels"] = kw["labels"] + list(label)
    kw.update(user=user or kw["user"], workdir=workdir or kw["workdir"], restart="no", rm=rm,
              tty=not no_tty and sys.stdin.isatty() and not detach, interactive=not detach)
    rec, code = ce.run(ctx, ce.CreateOptions(**kw), detach=detach)
    if detach:
        sys.stdout.write(rec.name + "\n")
        return 0
    return code


# -- port / top / images / ls / pull / build / wait -----------------------------------------------
def port(popts=None, protocol: str = Opt("tcp", "--protocol", help="tcp or udp"),
         index: int = Opt(1, "--index", help="Index of the container if service has multiple replicas"),
         service: str = Arg(..., metavar="SERVICE"), private_port: int = Arg(..., metavar="PRIVATE_PORT")):
    """Print the public port for a port binding."""
    from pypod.compose.errors import ComposeError

    ctx = _ctx()
    rec = _service_container(ctx, _project(popts), service, index)
    for m in rec.config.net.ports:
        if m["container_port"] == private_port and m["protocol"] == protocol:
            sys.stdout.write(f"{m.get('host_ip') or '0.0.0.0'}:{m['host_port']}\n")
            return 0
    raise ComposeError(f"no port {private_port}/{protocol} for container {rec.name}")


def top(popts=None, services: List[str] = Arg([], metavar="[SERVICE...]")):
    """Display the running processes."""
    from pypod.compose.containers import number, service_of
    from pypod.engine import containers as ce

    ctx = _ctx()
    project = _project(popts)
    table: list = []
    for v in _views(ctx, project, services, all_=False):
        rows = ce.top(ctx, v.record)
        if not table and rows:
            table.append(["SERVICE", "#"] + list(rows[0]))
        table += [[service_of(v.record), str(number(v.record))] + list(r) for r in rows[1:]]
    sys.stdout.write(_table(table, 0) if table else "")
    return 0


def images(popts=None, quiet: bool = Opt(False, "--quiet", "-q", help="Only display IDs"),
           fmt: str = Opt("table", "--format", help="Format the output. Values: [table | json]"),
           services: List[str] = Arg([], metavar="[SERVICE...]")):
    """List images used by the created containers."""
    from pypod.engine import images as ie
    from pypod.units import human_duration

    ctx = _ctx()
    rows = []
    for v in _views(ctx, _project(popts), services):
        img = ie.find_image(ctx, v.record.image_id)
        repo, _, tag = v.record.image_name.rpartition(":")
        if not repo or "/" in tag:
            repo, tag = v.record.image_name, "latest"
        info = ie.inspect_image(ctx, img) if img else {}
        size = info.get("Size") or 0
        rows.append({"ContainerName": v.record.name, "Repository": repo, "Tag": tag, "ID": v.record.image_id,
                     "Platform": f"{info.get('Os', 'linux')}/{info.get('Architecture', 'amd64')}",
                     "Size": size, "Created": info.get("Created", "")})
    if quiet:
        sys.stdout.write("".join(f"{i}\n" for i in dict.fromkeys(r["ID"] for r in rows)))
        return 0
    if fmt == "json":
        import json

        sys.stdout.write(json.dumps(rows) + "\n")
        return 0
    from pypod.units import human_size, parse_time

    import time as _time

    table = [["CONTAINER", "REPOSITORY", "TAG", "PLATFORM", "IMAGE ID", "SIZE", "CREATED"]]
    for r in rows:
        created = parse_time(r["Created"]) if r["Created"] else 0
        ago = human_duration(_time.time() - created) + " ago" if created else ""
        table.append([r["ContainerName"], r["Repository"], r["Tag"], r["Platform"], r["ID"][:12],
                      human_size(r["Size"]).replace(" ", ""), ago])
    sys.stdout.write(_table(table, 20))
    return 0


def ls(popts=None, all_: bool = Opt(False, "--all", "-a", help="Show all stopped Compose projects"),
       quiet: bool = Opt(False, "--quiet", "-q", help="Only display project names"),
       fmt: str = Opt("table", "--format", help='Format the output. Values: [table | json]')):
    """List running compose projects."""
    from pypod.compose import plan
    from pypod.engine import containers as ce

    ctx = _ctx()
    projects: dict = {}
    for v in ce.list_containers(ctx, all_=True, filters=[f"label={plan.PROJECT}"]):
        p = projects.setdefault(v.record.labels[plan.PROJECT], {"states": {}, "files": ""})
        st = _ps_state(v)
        p["states"][st] = p["states"].get(st, 0) + 1
        p["files"] = v.record.labels.get(plan.CONFIG_FILES, "")
    rows = []
    for name in sorted(projects):
        p = projects[name]
        if not all_ and "running" not in p["states"]:
            continue
        status = ", ".join(f"{s}({n})" for s, n in sorted(p["states"].items()))
        rows.append({"Name": name, "Status": status, "ConfigFiles": p["files"]})
    if quiet:
        sys.stdout.write("".join(r["Name"] + "\n" for r in rows))
    elif fmt == "json":
        import json

        sys.stdout.write(json.dumps(rows) + "\n")
    else:
        sys.stdout.write(_table([["NAME", "STATUS", "CONFIG FILES"]] +
                                [[r["Name"], r["Status"], r["ConfigFiles"]] for r in rows], 20))
    return 0


def pull(popts=None, ignore_pull_failures: bool = Opt(False, "--ignore-pull-failures", help="Pull what it can and ignores images with pull failures"),
         quiet: bool = Opt(False, "--quiet", "-q", help="Pull without printing progress information"),
         services: List[str] = Arg([], metavar="[SERVICE...]")):
    """Pull service images."""
    from pypod.compose import plan
    from pypod.engine import images as ie
    from pypod.errors import PypodError

    ctx = _ctx()
    project = _project(popts)
    say = _say(quiet)
    for s in services or sorted(project.model["services"]):
        svc = project.model["services"][s]
        if not svc.get("image") and svc.get("build"):
            continue  # built, not pulled
        name = plan.image_name(project.name, s, svc)
        say("Image", name, "Pulling")
        try:
            ie.pull(ctx, ie.PullRequest(name=name, quiet=True))
        except PypodError:
            if not ignore_pull_failures:
                raise
            continue
        say("Image", name, "Pulled")
    return 0


def build_(popts=None, quiet: bool = Opt(False, "--quiet", "-q", help="Don't print anything to STDOUT"),
           services: List[str] = Arg([], metavar="[SERVICE...]")):
    """Build or rebuild services."""
    import io

    from pypod.compose import plan
    from pypod.compose.up import build_service

    ctx = _ctx()
    project = _project(popts)
    say = _say()
    for s in services or sorted(project.model["services"]):
        if not project.model["services"][s].get("build"):
            continue
        name = plan.image_name(project.name, s, project.model["services"][s])
        say("Image", name, "Building")
        build_service(ctx, project, s, out=io.StringIO() if quiet else sys.stderr)
        say("Image", name, "Built")
    return 0


def wait(popts=None, down_project: bool = Opt(False, "--down-project", help="Drops project when the first container stops"),
         services: List[str] = Arg(..., metavar="SERVICE [SERVICE...]")):
    """Block until containers of all (or specified) services stop."""
    from pypod.engine import containers as ce

    ctx = _ctx()
    project = _project(popts)
    code = 0
    for v in _views(ctx, project, services):
        code = ce.wait_container(ctx, v.record)
        sys.stdout.write(f"{code}\n")
    if down_project:
        from pypod.compose.down import down as do_down

        do_down(ctx, project, say=_say())
    return code


VERBS = {"up": up, "down": down, "ps": ps, "logs": logs, "start": start, "stop": stop, "restart": restart,
         "kill": kill, "rm": rm, "exec": exec_, "run": run, "port": port, "top": top, "images": images,
         "ls": ls, "pull": pull, "build": build_, "create": create, "wait": wait}
