"""`compose up`/`create`/`start`: reconcile what runs with the model, as Docker Compose v2 does.

networks and volumes → images (build / pull) → per service in `depends_on` order: keep the
containers whose config hash and image are unchanged, recreate the others, add or remove
replicas → start in order, each service once what it depends on meets its condition."""

from __future__ import annotations

import os
import sys
import time

from pypod.compose import hashing, plan
from pypod.compose.containers import number, project_containers, running, service_of
from pypod.compose.errors import ComposeError


class UpOptions:
    """What `up` was asked (a plain class: no dataclasses import at start-up)."""

    DEFAULTS = dict(services=None, build=False, no_build=False, pull=None, force_recreate=False, no_recreate=False,
                    remove_orphans=False, scale=None, no_deps=False, timeout=None, no_start=False, wait=False,
                    wait_timeout=None)
    # services: none means all; pull: always | missing | never | build, None: the service's pull_policy

    def __init__(self, **kw):
        unknown = set(kw) - set(self.DEFAULTS)
        if unknown:
            raise TypeError(f"UpOptions: unknown {sorted(unknown)}")
        for k, v in self.DEFAULTS.items():
            setattr(self, k, kw.get(k, v))
        self.services = list(self.services or [])
        self.scale = dict(self.scale or {})


def selected(project, wanted: list[str], with_deps: bool = True) -> list[str]:
    """The services to act on, in start order: `wanted` (all when empty) and, with_deps, what they
    depend on."""
    services = project.model["services"]
    for w in wanted:
        if w not in services:
            raise ComposeError(f"no such service: {w}")
    want = set(wanted or services)
    if with_deps:
        todo = list(want)
        while todo:
            s = todo.pop()
            for dep, d in plan.dependencies(services[s]).items():
                if dep not in services:
                    if d.get("required", True):
                        raise ComposeError(f"service {s!r} depends on undefined service {dep!r}: invalid compose project")
                    continue
                if dep not in want:
                    want.add(dep)
                    todo.append(dep)
    return [s for s in plan.start_order(services) if s in want]


# -- networks, volumes, images ---------------------------------------------------------------
def _to_create(project, kind: str, used: set, exists, missing: str):
    """(key, declaration, name) of the project's networks or volumes that `used` names and that do
    not exist yet; an external one that does not exist is an error."""
    for key, decl in (project.model.get(kind) or {}).items():
        if key not in used:
            continue
        name = decl.get("name") or f"{project.name}_{key}"
        if decl.get("external"):
            if not exists(name):
                raise ComposeError(missing.format(name=name))
        elif not exists(name):
            yield key, decl, name


def _labels(decl: dict, extra: dict) -> dict:
    labels = {str(k): str(v) for k, v in (decl.get("labels") or {}).items()}
    labels.update(extra)
    return labels


def _options(decl: dict) -> dict | None:
    return {str(k): str(v) for k, v in (decl.get("driver_opts") or {}).items()} or None


def ensure_networks(ctx, project, services: list[str], say) -> None:
    from pypod.engine import networks as netmod

    used = {n for s in services for n in (project.model["services"][s].get("networks") or {})}
    for key, net, name in _to_create(project, "networks", used, lambda n: netmod.network_exists(ctx, n),
                                     "network {name} declared as external, but could not be found"):
        cfg = (net.get("ipam") or {}).get("config") or []
        labels = _labels(net, {plan.NETWORK: key, plan.PROJECT: project.name, plan.VERSION: plan.COMPOSE_VERSION,
                               plan.CONFIG_HASH: hashing.network_hash(net)})
        say("Network", name, "Creating")
        netmod.create_network(ctx, name, subnet=[c["subnet"] for c in cfg if c.get("subnet")] or None,
                              gateway=[c["gateway"] for c in cfg if c.get("gateway")] or None,
                              ip_range=[c["ip_range"] for c in cfg if c.get("ip_range")] or None,
                              internal=bool(net.get("internal")), labels=labels, options=_options(net),
                              ignore=True)
        say("Network", name, "Created")


def ensure_volumes(ctx, project, services: list[str], say) -> None:
    from pypod.engine import volumes as vol

    used = {v.get("source") for s in services for v in project.model["services"][s].get("volumes") or []
            if v.get("type") == "volume"}
    for key, v, name in _to_create(project, "volumes", used, lambda n: vol.exists(ctx, n),
                                   'external volume "{name}" not found'):
        labels = _labels(v, {plan.VOLUME: key, plan.PROJECT: project.name, plan.VERSION: plan.COMPOSE_VERSION,
                             plan.CONFIG_HASH: hashing.volume_hash(v)})
        say("Volume", name, "Creating")
        vol.create_volume(ctx, name, labels=labels, ignore=True, options=_options(v))
        say("Volume", name, "Created")


def build_service(ctx, project, service: str, out=None) -> str:
    """Build the service's image (tagged with its image name); its id."""
    from pypod.engine import build as eb

    svc = project.model["services"][service]
    b = svc.get("build") or {}
    context = b.get("context") or project.workdir
    inline = b.get("dockerfile_inline")
    opts = eb.BuildOptions(
        context=context, file=None if inline else os.path.join(context, b.get("dockerfile") or "Dockerfile"),
        containerfile_text=inline, tags=[plan.image_name(project.name, service, svc)],
        build_args={str(k): "" if v is None else str(v) for k, v in (b.get("args") or {}).items()},
        target=b.get("target"), labels=[f"{k}={v}" for k, v in (b.get("labels") or {}).items()],
        network=b.get("network"), add_hosts=[h.replace("=", ":", 1) for h in b.get("extra_hosts") or []],
        no_cache=bool(b.get("no_cache")), pull="always" if b.get("pull") else "missing",
    )
    return eb.build(ctx, opts, out=out or sys.stderr)


def ensure_image(ctx, project, service: str, opts: UpOptions, say) -> str:
    """The service's image id: built (--build, or a build section and no image yet) or pulled
    as the pull policy says."""
    from pypod.engine import images as ie

    svc = project.model["services"][service]
    name = plan.image_name(project.name, service, svc)
    policy = opts.pull or svc.get("pull_policy") or "missing"
    have = ie.find_image(ctx, name)
    if svc.get("build") and (opts.build or policy == "build" or have is None):
        if opts.no_build and have is None:
            # nothing to pull under a name Compose made up: refused before anything is created
            raise ComposeError(f"service {service!r} has no image {name!r} and --no-build was given")
        if not opts.no_build:
            say("Image", name, "Building")
            iid = build_service(ctx, project, service)
            say("Image", name, "Built")
            return iid
    if have is not None and policy in ("missing", "if_not_present", "never", "build"):
        return have.id
    if policy == "never":
        raise ComposeError(f"no such image: {name} (pull_policy is never)")
    say("Image", name, "Pulling")
    rec = ie.pull(ctx, ie.PullRequest(name=name, quiet=True, policy="always" if have is None else "newer"))
    say("Image", name, "Pulled")
    return rec.id


# -- containers --------------------------------------------------------------------------------
def create_container(ctx, project, service: str, num: int, image_id: str, say, inherit=None, **kw):
    """inherit: {destination: volume} the anonymous volumes of the container this one replaces."""
    from pypod.engine import containers as ce

    args, dirs = plan.create_kwargs(project, service, num, image_id=image_id, **kw)
    for d in dirs:
        os.makedirs(d, exist_ok=True)  # Compose creates a missing bind source
    if inherit:
        args["volumes"] = _with_inherited(project.model["services"][service], args["volumes"], inherit)
    say("Container", args["name"], "Creating")
    rec = ce.create(ctx, ce.CreateOptions(**args))
    if inherit:
        _mark_anonymous(ctx, rec, set(inherit.values()))
    say("Container", args["name"], "Created")
    return rec


def anonymous_volumes(rec) -> dict:
    """{destination: volume name} of the anonymous volumes a container has (the service's and
    its image's VOLUMEs)."""
    return {m.destination: m.name for m in rec.config.resolved_mounts or []
            if m.type == "volume" and m.anonymous and m.name}


def _with_inherited(svc: dict, vols: list, inherit: dict) -> list:
    """The -v list with the old container's anonymous volumes at the same places (Compose keeps
    their data across a recreate); a place the file now gives a named volume or bind is not."""
    taken = {v.get("target") for v in svc.get("volumes") or [] if v.get("source")}
    taken.update(str(t).split(":")[0] for t in svc.get("tmpfs") or [])
    out = [f"{inherit[v]}:{v}" if v in inherit else v for v in vols]
    out += [f"{name}:{dst}" for dst, name in sorted(inherit.items()) if dst not in taken and dst not in vols]
    return out


def _mark_anonymous(ctx, rec, names: set) -> None:
    """The inherited volumes stay the container's own: `down -v` (rm -v) removes them."""
    from pypod.engine.containers.lookup import store

    st = store(ctx)
    with st.lock():
        fresh = st.get(rec.id)
        for m in fresh.config.resolved_mounts or []:
            if m.type == "volume" and m.name in names:
                m.anonymous = True
        st.save(fresh)


def _outdated(rec, svc: dict, image_id: str) -> bool:
    if rec.labels.get(plan.CONFIG_HASH) != plan.config_hash(svc):
        return True
    return bool(image_id) and rec.image_id != image_id


def converge(ctx, project, services: list[str], opts: UpOptions, say, image_ids: dict) -> set[str]:
    """Create, recreate and scale the services' containers; the services that were recreated."""
    from pypod.compose.containers import remove

    model = project.model["services"]
    recreated: set[str] = set()
    for s in services:
        svc = model[s]
        want = plan.replicas(svc, opts.scale, s)
        if want > 1 and svc.get("container_name"):
            raise ComposeError(f'services.{s}: can\'t set container_name and {s} as container name must be '
                               f'unique: invalid compose project')
        views = project_containers(ctx, project.name, [s])
        extra = [v for v in views if number(v.record) > want or number(v.record) < 1]
        remove(ctx, sorted(extra, key=lambda v: -number(v.record)), opts.timeout, say)
        have = {number(v.record): v for v in views if v not in extra}
        # a dependency recreated under a service sharing its network namespace: that one too
        shares = (svc.get("network_mode") or "").startswith("service:") and svc["network_mode"][8:] in recreated
        for n in range(1, want + 1):
            v = have.get(n)
            if v is None:
                create_container(ctx, project, s, n, image_ids[s], say)
                continue
            if opts.no_recreate:
                say("Container", v.record.name, "Running" if running(v) else "Created")
                continue
            if opts.force_recreate or shares or _outdated(v.record, svc, image_ids[s]):
                # dependents with `restart: true` are stopped first; the start phase starts them
                # again once this one is back (Compose's stopDependentContainers)
                _stop_dependents(ctx, project, s, opts.timeout, say)
                inherit = anonymous_volumes(v.record)
                remove(ctx, [v], opts.timeout, lambda *a: None, volumes=False)
                say("Container", v.record.name, "Recreate")
                create_container(ctx, project, s, n, image_ids[s], lambda *a: None, inherit=inherit)
                say("Container", v.record.name, "Recreated")
                recreated.add(s)
            else:
                say("Container", v.record.name, "Running" if running(v) else "Created")
    return recreated


def _stop_dependents(ctx, project, service: str, timeout, say) -> None:
    from pypod.compose.containers import stop

    model = project.model["services"]
    names = [d for d in plan.dependents(model, service)
             if ((model[d].get("depends_on") or {}).get(service) or {}).get("restart")]
    if names:
        stop(ctx, project_containers(ctx, project.name, names), timeout, say)


def orphans(ctx, project) -> list:
    names = set(project.model["services"])
    return [v for v in project_containers(ctx, project.name, oneoff=None) if service_of(v.record) not in names]


def handle_orphans(ctx, project, opts: UpOptions, say) -> None:
    found = orphans(ctx, project)
    if not found:
        return
    if opts.remove_orphans:
        from pypod.compose.containers import remove

        remove(ctx, found, opts.timeout, say)
        return
    names = ", ".join(v.record.name for v in found)
    sys.stderr.write(f"WARN[0000] Found orphan containers ([{names}]) for this project. If you removed or "
                     f"renamed this service in your compose file, you can run this command with the "
                     f"--remove-orphans flag to clean it up.\n")


# -- start and wait ---------------------------------------------------------------------------
def _state(ctx, rec) -> dict:
    from pypod.engine import containers as ce

    return ce.state_of(ctx, rec)


def wait_condition(ctx, project, dep: str, condition: str, poll: float = 0.1) -> None:
    """Until every container of `dep` meets the condition: started, healthy, or exited 0."""
    views = project_containers(ctx, project.name, [dep])
    for v in views:
        rec = v.record
        if condition == "service_healthy" and not rec.config.healthcheck:
            raise ComposeError(f"dependency failed to start: container {rec.name} has no healthcheck configured")
        while True:
            st = _state(ctx, rec)
            status = st.get("status")
            if condition == "service_completed_successfully":
                if status in ("stopped", "exited") and st.get("exit_code") is not None:
                    code = st.get("exit_code")
                    if code != 0:
                        raise ComposeError(f"service \"{dep}\" didn't complete successfully: exit {code}")
                    break
            elif condition == "service_healthy":
                health = (st.get("health") or {}).get("status")
                if health == "healthy":
                    break
                if health == "unhealthy":
                    raise ComposeError(f"dependency failed to start: container {rec.name} is unhealthy")
                if status in ("stopped", "exited"):
                    raise ComposeError(f"dependency failed to start: container {rec.name} exited "
                                       f"({st.get('exit_code')})")
            else:
                break
            time.sleep(poll)


def start_services(ctx, project, services: list[str], say, skip_waits: bool = False) -> list:
    """Start each service's containers once its dependencies meet their conditions; the views
    started (not those already running)."""
    from pypod.engine import containers as ce

    started = []
    model = project.model["services"]
    for s in services:
        if not skip_waits:
            for dep, d in plan.dependencies(model[s]).items():
                if dep in services:
                    cond = d.get("condition") or "service_started"
                    if cond != "service_started":
                        for v in project_containers(ctx, project.name, [dep]):
                            say("Container", v.record.name, "Waiting")
                    wait_condition(ctx, project, dep, cond)
                    if cond != "service_started":
                        for v in project_containers(ctx, project.name, [dep]):
                            say("Container", v.record.name,
                                "Healthy" if cond == "service_healthy" else "Exited")
        for v in project_containers(ctx, project.name, [s]):
            if running(v):
                continue
            say("Container", v.record.name, "Starting")
            ce.start_container(ctx, v.record)
            say("Container", v.record.name, "Started")
            started.append(v)
    return started


def wait_running(ctx, project, services: list[str], say, timeout: float | None) -> None:
    """--wait: every container running, and healthy where it has a health check."""
    deadline = None if timeout is None else time.monotonic() + timeout
    for v in project_containers(ctx, project.name, services):
        say("Container", v.record.name, "Waiting")
        while True:
            st = _state(ctx, v.record)
            status = st.get("status")
            health = (st.get("health") or {}).get("status")
            if status in ("stopped", "exited"):
                raise ComposeError(f"container {v.record.name} exited ({st.get('exit_code')})")
            if health == "unhealthy":
                raise ComposeError(f"container {v.record.name} is unhealthy")
            if status == "running" and (not v.record.config.healthcheck or health == "healthy"):
                break
            if deadline is not None and time.monotonic() > deadline:
                raise ComposeError(f"timeout waiting for container {v.record.name}")
            time.sleep(0.1)
        say("Container", v.record.name, "Healthy" if v.record.config.healthcheck else "Running")


def up(ctx, project, opts: UpOptions, say) -> list[str]:
    """Everything `up -d` does; the services acted on, in start order."""
    services = selected(project, opts.services, not opts.no_deps)
    # images first: a pull or build that fails leaves nothing created (as Compose)
    image_ids = {s: ensure_image(ctx, project, s, opts, say) for s in services}
    ensure_networks(ctx, project, services, say)
    ensure_volumes(ctx, project, services, say)
    handle_orphans(ctx, project, opts, say)
    converge(ctx, project, services, opts, say, image_ids)
    if not opts.no_start:
        start_services(ctx, project, services, say)
        if opts.wait:
            wait_running(ctx, project, services, say, opts.wait_timeout)
    return services
