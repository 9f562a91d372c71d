"""The supervisor: podman's conmon, one per running container.

    pypod.engine.supervise CONTAINER_DIR --status-fd 3 [--foreground] [--holder-dir RUN_ROOT/userns]
        [--preserve-fds N] [--detach-keys KEYS] [--cleanup-if-detached] [--open-stdin]

It reads CONTAINER_DIR/spec.json (written by the engine when it derived it); the options are what
differs from one start to the next (see runtime/launch.start).

Forked early by the CLI (runtime.launch.prefork) or started as a fresh lean python. It daemonizes
(the launcher reaps the short-lived first process), becomes a child subreaper and stays outside
every container namespace. Per run it starts the container (start.py), relays and logs its
stdout/stderr (stdio.py, runtime/logs.py: k8s-file), serves attach clients (attach.py), runs
health checks (health.py), records state.json and forwards signals sent to it (core.py: the main
loop), then reports the exit, applies the restart policy and the --rm clean-up (exit.py), and
exits: it lives exactly as long as the container. The container's pid 1 has PDEATHSIG=SIGKILL
against it, so a killed supervisor never leaves an unrecorded container behind.

Imports: the standard library's cheap modules only (no json, re, subprocess, dataclasses), plus
pypod.linux and pypod.runtime modules that keep to that rule (and pypod.store.locks, and
pypod.store.container_config for the typed view of the spec's healthcheck and network settings).
"""

from __future__ import annotations

import os
import sys

from pypod.errors import describe
from pypod.linux import libc
from pypod.runtime import protocol
from pypod.runtime.supervisor.core import Supervisor


def main(argv: list[str], net_driver=None) -> None:
    """The supervisor process (entered through pypod.engine.supervise, which passes the network
    driver)."""
    if not argv:
        print("usage: supervisor CONTAINER_DIR [--status-fd N] [--foreground] "
              "[--holder-dir DIR]", file=sys.stderr)
        os._exit(125)
    cdir = argv[0]
    status_fd, foreground, holder_dir, preserve = -1, False, None, 0
    this_start: dict = {}  # Supervisor's keywords
    i = 1
    while i < len(argv):
        a = argv[i]
        if a == "--status-fd":
            status_fd = int(argv[i + 1])
            i += 1
        elif a == "--foreground":
            foreground = True
        elif a == "--holder-dir":
            holder_dir = argv[i + 1]
            i += 1
        elif a == "--preserve-fds":
            preserve = int(argv[i + 1])
            i += 1
        elif a == "--detach-keys":
            this_start["detach_keys"] = argv[i + 1]
            i += 1
        elif a == "--cleanup-if-detached":
            this_start["cleanup_if_detached"] = True
        elif a == "--open-stdin":
            this_start["open_stdin"] = True
        i += 1
    # No stray descriptor of whoever started us may reach the container (--preserve-fds' wait
    # at PRESERVE_BASE).
    from pypod.runtime.launch import PRESERVE_BASE

    keep = max(status_fd, 2)
    if preserve:
        os.closerange(keep + 1, PRESERVE_BASE)
        os.closerange(PRESERVE_BASE + preserve, 1 << 20)
        for i in range(preserve):  # for the container's process only, not our helpers
            os.set_inheritable(PRESERVE_BASE + i, False)
    else:
        os.closerange(keep + 1, 1 << 20)
    if status_fd > 3:
        os.closerange(3, status_fd)
    if status_fd >= 0:
        os.set_inheritable(status_fd, False)
    # Daemonize: the launcher reaps this first process at once; the supervisor is nobody's child.
    if os.fork() != 0:
        os._exit(0)
    try:
        os.setsid()
    except OSError:
        pass
    try:
        libc.prctl(libc.PR_SET_CHILD_SUBREAPER, 1)
        libc.set_process_name("pypod-conmon")
    except OSError:
        pass
    try:
        sup = Supervisor(cdir, status_fd, foreground, holder_dir, net_driver, **this_start)
        sup.preserve_fds = preserve
    except Exception as e:  # noqa: BLE001
        if status_fd >= 0:
            protocol.send(status_fd, protocol.ERROR, code=125, message=f"supervisor: {describe(e)}")
        os._exit(125)
    code = sup.run()
    os._exit(code & 0xFF)
