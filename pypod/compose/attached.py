"""An attached `compose up`: reconcile and start as `up -d` does, then print every container's
output with its prefix until all have stopped (--abort-on-container-exit: until the first stops,
then stop the others). Ctrl-C stops the project (Compose's "Gracefully stopping..."); a second
Ctrl-C kills it."""

from __future__ import annotations

import signal
import sys

from pypod.compose import logs as clogs
from pypod.compose import up as upmod
from pypod.compose.containers import project_containers, running, service_of


def _stop_all(ctx, project, services, timeout, say) -> None:
    from pypod.compose.containers import stop, stop_levels

    views = project_containers(ctx, project.name, services)
    stop(ctx, views, timeout, say, levels=stop_levels(project.model, views))


def _kill_all(ctx, project, services) -> None:
    from pypod.engine import containers as ce
    from pypod.errors import PypodError

    for v in project_containers(ctx, project.name, services):
        if running(v):
            try:
                ce.kill_container(ctx, v.record, signal.SIGKILL)
            except PypodError:
                pass


def _err(text: str) -> None:
    sys.stdout.flush()
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def run_attached(ctx, project, opts: upmod.UpOptions, say, *, abort: bool, exit_code_from: str | None,
                 colour: bool, prefix: bool) -> int:
    services = upmod.selected(project, opts.services, not opts.no_deps)
    # where each existing log ends now: only what the containers write from here on is shown
    offsets = {v.record.id: clogs.end_offset(ctx, v.record) for v in project_containers(ctx, project.name, services)}
    upmod.up(ctx, project, opts, say)
    views = project_containers(ctx, project.name, services)
    names = [clogs.short_name(project.name, v.record) for v in views]
    printer = clogs.Printer(names, colour=colour, prefix=prefix)
    tails = [clogs.Tail(ctx, v.record, n, offsets.get(v.record.id, 0)) for v, n in zip(views, names)]
    printer.note("Attaching to " + ", ".join(names))
    result = {"code": 0, "aborted": False}

    def on_exit(tail, code) -> bool:
        if exit_code_from is not None:
            if service_of(tail.rec) == exit_code_from:
                result["code"] = code
        elif abort and not result["aborted"]:
            result["code"] = code
        if abort:
            result["aborted"] = True
            return True
        return False

    try:
        clogs.follow(ctx, tails, printer, on_exit=on_exit)
    except KeyboardInterrupt:
        _err("Gracefully stopping... (press Ctrl+C again to force)")
        try:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            _stop_all(ctx, project, services, opts.timeout, say)
        except KeyboardInterrupt:
            _kill_all(ctx, project, services)
        return 130
    if result["aborted"]:
        _err("Aborting on container exit...")
        _stop_all(ctx, project, services, opts.timeout, say)
        if exit_code_from is not None and result["code"] == 0:
            # the chosen service may have been the one stopped: its own exit code counts
            for v in project_containers(ctx, project.name, [exit_code_from]):
                code = v.state.get("exit_code")
                if code:
                    result["code"] = code
    sys.stdout.flush()
    return result["code"]
