"""What compose-go's checkConsistency refuses: references to undefined services, networks,
volumes, secrets and configs, and cycles in depends_on."""

from __future__ import annotations

from pypod.compose.errors import ComposeError

INVALID = "invalid compose project"


def check_consistency(model: dict, services: dict) -> None:
    networks = model.get("networks") or {}
    volumes = model.get("volumes") or {}
    all_services = model.get("services") or {}
    for name in sorted(services):
        svc = services[name]
        if "image" not in svc and "build" not in svc and "provider" not in svc:
            raise ComposeError(f'service "{name}" has neither an image nor a build context specified: {INVALID}')
        if "network_mode" in svc and svc.get("networks"):
            raise ComposeError(f"service {name} declares mutually exclusive `network_mode` and `networks`: {INVALID}")
        replicas = svc.get("scale") or ((svc.get("deploy") or {}).get("replicas"))
        if svc.get("container_name") and replicas is not None and int(replicas) > 1:
            raise ComposeError(f"services.scale: can't set container_name and {name} as container name must be "
                               f"unique: {INVALID}")
        for net in svc.get("networks") or {}:
            if net not in networks:
                raise ComposeError(f'service "{name}" refers to undefined network {net}: {INVALID}')
        for v in svc.get("volumes") or []:
            if isinstance(v, dict) and v.get("type") == "volume" and v.get("source") and v["source"] not in volumes:
                raise ComposeError(f'service "{name}" refers to undefined volume {v["source"]}: {INVALID}')
        for kind in ("secrets", "configs"):
            for ref in svc.get(kind) or []:
                src = (ref.get("source") or "") if isinstance(ref, dict) else ref
                if src not in (model.get(kind) or {}):
                    raise ComposeError(f'service "{name}" refers to undefined {kind[:-1]} {src}: {INVALID}')
        for dep, d in (svc.get("depends_on") or {}).items():
            # a service a profile leaves out counts as undefined unless the dependency is optional
            if dep not in all_services or (dep not in services and (d or {}).get("required", True)):
                raise ComposeError(f'service "{name}" depends on undefined service "{dep}": {INVALID}')
    _check_cycles(services)


def _check_cycles(services: dict) -> None:
    from pypod.compose.plan import start_order

    start_order(services)  # refuses a cycle, naming it
