"""Container operations: create, start, run, stop, kill, rm, ps, logs, exec, wait, inspect, ...

The runtime (pypod.runtime) turns a ContainerSpec into a supervised process; this package keeps the
records, builds specs from images and options, and reports podman's views of them:

  lookup.py     finding containers (name, id prefix, latest), their state and log path
  options.py    CreateOptions and the env/labels/restart/healthcheck/entrypoint helpers
  parse.py      create flags checked and converted (sysctls, devices, ulimits, limits, network mode)
  create.py     create and run
  spec.py       the supervisor's ContainerSpec built from the record (mounts, hosts, resolv.conf)
  lifecycle.py  start, stop, kill, wait, rm, prune, rename (under the container's lock)
  views.py      ps and inspect
  exec.py       exec and attach
  health.py     healthcheck run
  top.py        top

Callers use `from pypod.engine import containers; containers.X`: the names below are that API
(and the few private helpers that other modules and the unit tests reach).
"""

from __future__ import annotations

import importlib
import sys
import types

# Each name is imported from its module when first asked for (PEP 562): `ps` needs views and
# lookup, not create's parsing and networking (~40 ms of imports a `ps -a` paid before).
_MODULES = {
    "pypod.engine.cleanup": "remove_tree",  # engine/volumes.py takes remove_tree from here
    "create": "create run",
    "exec": "attach_container exec_in",
    "health": "healthcheck_run",
    "lifecycle": ("EXIT_CODE_KEEP RmReport kill_container last_exit_code prepare_supervisor prune"
                  " remove_containers rename start_container stop_container wait_container"),
    "lookup": ("container_exists container_ids find_container get_container is_external"
               " latest_container log_driver log_path network_names own_containers port_lines"
               " state_of store"),
    "options": "DEFAULT_PATH CreateOptions _parse_env_list _read_env_file merge_env",
    "parse": "MODE_WORDS _decimal_size _exposed _sysctls parse_limits",
    "spec": ("_check_add_host _hosts_entries _uplink_options bridge_endpoints build_spec"
             " cleanup_argv derive_spec stored_spec"),
    "top": "_go_duration top",
    "views": ("GO_ZERO_TIME ContainerView PsFilter _go_human_size format_ports"
              " inspect_container list_containers ps_json ps_row since_text status_text"),
    "pypod.engine.logs": "parse_log_line read_logs",  # the log readers, for the API's callers
    "pypod.units": "parse_time",  # the API's list handler uses containers.parse_time
}
_WHERE = {name: module if "." in module else f"{__name__}.{module}"
          for module, names in _MODULES.items() for name in names.split()}


def __getattr__(name: str):
    try:
        module = _WHERE[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once: later reads are plain attribute lookups
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | _WHERE.keys())


class _Package(types.ModuleType):
    """`create` and `top` name both a module here and its function. The import system sets a
    loaded submodule as the package's attribute; the function keeps the name (callers write
    `containers.create(ctx, opts)`, as when this package imported everything at once)."""

    def __setattr__(self, name: str, value) -> None:
        if name in _WHERE and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
