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

from pypod.engine.cleanup import remove_tree  # noqa: F401  (engine/volumes.py takes it from here)
from pypod.engine.containers.create import create, run  # noqa: F401
from pypod.engine.containers.exec import attach_container, exec_in  # noqa: F401
from pypod.engine.containers.health import healthcheck_run  # noqa: F401
from pypod.engine.containers.lifecycle import (EXIT_CODE_KEEP, RmReport, kill_container, last_exit_code,  # noqa: F401
                                               prepare_supervisor, prune, remove_containers, rename,
                                               start_container, stop_container, wait_container)
from pypod.engine.containers.lookup import (container_exists, container_ids, find_container,  # noqa: F401
                                            get_container, is_external, latest_container, log_driver,
                                            log_path, network_names, own_containers, port_lines, state_of,
                                            store)
from pypod.engine.containers.options import (DEFAULT_PATH, CreateOptions, _parse_env_list,  # noqa: F401
                                             _read_env_file, merge_env)
from pypod.engine.containers.parse import MODE_WORDS, _decimal_size, _exposed, _sysctls, parse_limits  # noqa: F401
from pypod.engine.containers.spec import (_check_add_host, _hosts_entries, _uplink_options,  # noqa: F401
                                          bridge_endpoints, build_spec, cleanup_argv, derive_spec,
                                          stored_spec)
from pypod.engine.containers.top import _go_duration, top  # noqa: F401
from pypod.engine.containers.views import (GO_ZERO_TIME, ContainerView, PsFilter, _go_human_size,  # noqa: F401
                                           format_ports, inspect_container, list_containers, ps_json,
                                           ps_row, since_text, status_text)
# the log readers (pypod.engine.logs) stay reachable here for the API's callers
from pypod.engine.logs import parse_log_line, read_logs  # noqa: F401
from pypod.units import parse_time  # noqa: F401  (the API's list handler uses containers.parse_time)
