"""Health checks, run by the supervisor itself (no systemd timers): each check is a forked
child that execs the test in the container; its output and exit code make the health log."""

from __future__ import annotations

import os
import time

from pypod.errors import describe
from pypod.linux import spawn
from pypod.runtime import exec as rexec
from pypod.runtime import logs
from pypod.runtime.supervisor.base import devnull, wait_code

HEALTH_LOG_KEEP = 5
HEALTH_OUTPUT_MAX = 4096


class Health:
    """The Supervisor's health checks (a mixin: the state is the Supervisor's, see core.py)."""

    def health_reset(self) -> None:
        if not self.health_on:
            self.health = None
            return
        self.health = {"status": "starting", "failing_streak": 0, "log": []}
        self.hc_next = time.monotonic() + float(self.hc.interval)

    def health_start(self) -> None:
        process = dict(self.process, args=self.hc.argv(), terminal=False, stdin=False)
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 125
            try:
                spawn.reset_signals()
                os.close(r)
                null = devnull()
                os.dup2(null, 0)
                os.dup2(w, 1)
                os.dup2(w, 2)
                code = rexec.run_in_container(self.pid1, process, rootless=self.rootless,
                                              hostname=self.spec.get("hostname") or "",
                                              container_id=self.spec.get("id") or "",
                                              status_fd=-1)
            except BaseException as e:  # noqa: BLE001
                try:
                    os.write(2, f"{describe(e)}\n".encode())
                except OSError:
                    pass
            os._exit(code)
        os.close(w)
        os.set_blocking(r, False)
        self.hc_pid, self.hc_fd, self.hc_out = pid, r, b""
        self.hc_started = logs.timestamp()
        self.hc_timed_out = False
        self.hc_deadline = time.monotonic() + float(self.hc.timeout)

    def health_read(self) -> None:
        try:
            while True:
                data = os.read(self.hc_fd, 65536)
                if not data:
                    break
                if len(self.hc_out) < HEALTH_OUTPUT_MAX:
                    self.hc_out += data[:HEALTH_OUTPUT_MAX - len(self.hc_out)]
        except (BlockingIOError, OSError):
            pass

    def health_done(self, status: int) -> None:
        if self.hc_fd >= 0:
            self.health_read()
            self.poller_unregister(self.hc_fd)
            os.close(self.hc_fd)
            self.hc_fd = -1
        self.hc_pid = 0
        code = wait_code(status)
        output = self.hc_out.decode(errors="replace")
        if self.hc_timed_out:
            code = 1
            output = f"healthcheck command timed out after {self.hc.timeout}s"
        h = self.health or {"status": "starting", "failing_streak": 0, "log": []}
        entry = {"start": self.hc_started, "end": logs.timestamp(), "exit_code": code,
                 "output": output}
        h["log"] = (h.get("log") or [])[-(HEALTH_LOG_KEEP - 1):] + [entry]
        in_start_period = time.monotonic() - self.started_mono < float(self.hc.start_period)
        if code == 0:
            h["status"] = "healthy"
            h["failing_streak"] = 0
        elif not in_start_period:
            h["failing_streak"] = int(h.get("failing_streak") or 0) + 1
            if h["failing_streak"] >= int(self.hc.retries):
                h["status"] = "unhealthy"
        self.health = h
        self.hc_next = time.monotonic() + float(self.hc.interval)
        if self.pid1_status is None:
            self.write_state(fsync=False, health=h)
