"""The supervisor's state and main loop (podman's conmon: conmon.c): one run after another (the
restart policy), each polled until pid 1 is reaped and its streams are drained.

The parts: start.py (a run's start), stdio.py (streams, stdin, the foreground's relay),
attach.py (the attach socket's clients), health.py (health checks), exit.py (reap, the exit
report, restart, clean-up); the container's log is runtime/logs.py.

Locking: the command that launches us holds the container's lock until we say "started"; we take
it for each exit report, the tear-down after it and a restart policy's next start, and drop it
before the --rm clean-up (see pypod.store.locks for the order).
"""

from __future__ import annotations

import _signal
import os
import select
import time

from pypod import jsonlite
from pypod.linux import idmap, proc, terminal
from pypod.runtime import attach as rattach
from pypod.runtime import init, logs, outlet, protocol
from pypod.runtime import state as statemod
from pypod.runtime.supervisor.attach import Attach
from pypod.runtime.supervisor.base import FORWARDED, StartFailed, wait_code
from pypod.runtime.supervisor.exit import Exit
from pypod.runtime.supervisor.health import Health
from pypod.runtime.supervisor.start import Start
from pypod.runtime.supervisor.stdio import Stdio
from pypod.store.container_config import HealthConfig
from pypod.store.locks import ContainerLock

RESTART_DELAY = 0.1


class Supervisor(Start, Stdio, Attach, Health, Exit):
    def __init__(self, cdir: str, status_fd: int, foreground: bool, holder_dir: str | None,
                 net_driver=None, *, detach_keys: str | None = None, cleanup_if_detached: bool = False,
                 open_stdin: bool = False):
        self.cdir = cdir
        self.net_driver = net_driver  # network/'s side (pypod.network.attach), plugged in by main()
        self.status_fd = status_fd
        self.foreground = foreground
        self.holder_dir = holder_dir
        with open(os.path.join(cdir, "spec.json"), "rb") as f:
            self.spec = jsonlite.loads(f.read())
        self.process = self.spec.get("process") or {}
        if open_stdin:  # start -i (this start only: spec.json stays as derived)
            self.process = dict(self.process, stdin=True)
        self.cleanup_if_detached = cleanup_if_detached
        self.rootless = os.geteuid() != 0
        self.mapping = idmap.compute_mapping() if self.rootless else None
        self.facts = init.HostFacts(
            rootless=self.rootless,
            gid5_mapped=(not self.rootless) or bool(self.mapping and self.mapping.has_gid(5)),
            fuse_overlayfs=idmap.find_helper("fuse-overlayfs"))
        self.merged = os.path.join(cdir, "merged")
        self.log = logs.LogWriter(self.spec.get("log_path") or "", self.spec.get("log_size_max", -1))
        self.pid1 = 0
        self.pid1_status: int | None = None
        self.relay = foreground
        self.restart_count = 0
        self.started_mono = 0.0
        self.me = os.getpid()
        self.me_start = proc.starttime(self.me)
        # health
        # the same typed view of the healthcheck as the engine's (its defaults stated once)
        self.hc = HealthConfig.view(self.spec.get("healthcheck") or {})
        self.health_on = self.hc.enabled
        self.hc_pid = 0
        self.hc_fd = -1
        self.hc_out = b""
        self.hc_started = ""
        self.hc_deadline = 0.0
        self.hc_next = 0.0
        self.hc_timed_out = False
        self.health: dict | None = None
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.mnt_fd = -1
        self.go_w = -1
        # The container's lock (pypod.store.locks). Not held for the first start: the command
        # that launched us holds it until we report "started". Held from each exit report
        # through the tear-down, and for a restart policy's next start.
        self.lock = ContainerLock(cdir)
        self.master = -1  # the pty master with -t
        self.fuse_pid = 0
        self.stdin_open = False
        self.net = None  # the network helper (slirp4netns/pasta) of the current run
        self.netns_path: str | None = None
        self.join_fds: dict[str, int] = {}  # uts/ipc/user namespaces of a pod's infra, open
        self.join_userns_pid = 0  # user networks: the holder's (see lease_addresses)
        self.endpoints: list[dict] = []
        # attach: the socket, its clients (fd → frame reader; fd → Outlet), detach keys of a
        # foreground -it
        self.attach_sock = None
        self.clients: dict = {}
        self.client_out: dict[int, outlet.Outlet] = {}
        self.relay_to: dict[int, outlet.Outlet] = {}  # foreground: 1, 2 → the user's stdout/err
        self.stdin_w = -1  # -i without a foreground reader: a pipe that attach clients fill
        # input the container has not taken yet (to stdin_w or the pty); while there is some, no
        # more is read: a container that does not read its stdin must not block us
        self.stdin_backlog = bytearray()
        self.stdin_eof = False  # a client ended the input: close stdin_w once the backlog is in
        self.detached = False
        try:
            keys = rattach.parse_detach_keys(detach_keys)
        except rattach.DetachKeysError:
            keys = rattach.parse_detach_keys(None)
        self.detach = rattach.DetachMatcher(keys)

    def say(self, kind: str, **fields) -> None:
        if self.status_fd >= 0 and not protocol.send(self.status_fd, kind, **fields):
            os.close(self.status_fd)
            self.status_fd = -1

    def install_signals(self) -> None:
        _signal.set_wakeup_fd(self.wake_w)

        def handler(signum, frame):
            pass

        for name in ("SIGCHLD", *FORWARDED):
            _signal.signal(getattr(_signal, name), handler)

    def write_files(self) -> None:
        sp = self.spec
        files = {".containerenv": sp.get("containerenv") or "",
                 "hostname": (sp.get("hostname", "") + "\n") if sp.get("hostname_file", True)
                 and sp.get("hostname") else None,
                 "hosts": sp.get("hosts") or None,
                 "resolv.conf": sp.get("resolv_conf") or None}
        for name, text in files.items():
            path = os.path.join(self.cdir, name)
            if text is None:
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
                continue
            with open(path, "w") as f:
                f.write(text)
        os.makedirs(self.merged, exist_ok=True)

    def stop_requested(self) -> bool:
        return os.path.exists(os.path.join(self.cdir, statemod.STOP_MARKER))

    def write_state(self, fsync: bool = True, **changes) -> None:
        try:
            statemod.update_state(self.cdir, changes, fsync=fsync)
        except OSError:
            pass  # the container dir is gone (removed under us): nothing to record

    def forward(self, sig: int) -> None:
        if self.pid1 and self.pid1_status is None:
            try:
                os.kill(self.pid1, sig)
            except OSError:
                pass

    def handle_signals(self) -> None:
        try:
            sigs = os.read(self.wake_r, 512)
        except BlockingIOError:
            return
        for s in set(sigs):
            if s == _signal.SIGCHLD:
                continue
            if s == _signal.SIGWINCH:
                if self.master >= 0:
                    terminal.copy_winsize((0, 1, 2), self.master)
                continue
            self.forward(s)

    def run_once(self, first: bool) -> int:
        out_r, err_r = self.start_container(first)
        self.started_mono = time.monotonic()
        self.health_reset()
        # not fsynced: a crash makes "running" stale anyway, and read_state corrects it by
        # the boot id; the exit record is made durable
        self.write_state(fsync=False, status="running", pid=self.pid1,
                         pid_starttime=proc.starttime(self.pid1), fuse_pid=self.fuse_pid,
                         fuse_starttime=proc.starttime(self.fuse_pid) if self.fuse_pid else None,
                         supervisor_pid=self.me, supervisor_starttime=self.me_start,
                         started_at=logs.timestamp(), finished_at="", error="", exit_code=0,
                         restart_count=self.restart_count, health=self.health,
                         rootless=self.rootless)
        if self.spec.get("conmon_pid_file"):  # --conmon-pidfile: ours
            try:
                with open(self.spec["conmon_pid_file"], "w") as f:
                    f.write(str(self.me))
            except OSError as e:
                self.say(protocol.WARNING, message=f"writing --conmon-pidfile {self.spec['conmon_pid_file']}: {e.strerror}")
        if self.spec.get("pid_file"):  # --pidfile: rewritten at each start, as conmon does
            try:
                with open(self.spec["pid_file"], "w") as f:
                    f.write(str(self.pid1))
            except OSError as e:
                self.say(protocol.WARNING, message=f"writing --pidfile {self.spec['pid_file']}: {e.strerror}")
        if self.attach_sock is None:
            # listening before STARTED: a client told "started" (docker run -it's resize, an
            # attach) must find the socket, not race us to it
            try:
                self.attach_sock = rattach.listen(self.cdir)
            except OSError:
                self.attach_sock = None
        self.say(protocol.STARTED, pid=self.pid1, supervisor_pid=self.me)
        self.lock.release()  # (a restart's) start is recorded
        streams = {out_r: "stdout", err_r: "stderr"}
        if self.master >= 0:
            streams[self.master] = "stdout"  # a terminal has one stream
        poller = self.poller = select.poll()
        for fd in streams:
            poller.register(fd, select.POLLIN)
        poller.register(self.wake_r, select.POLLIN)
        attach_fd = self.attach_sock.fileno() if self.attach_sock is not None else -1
        if attach_fd >= 0:
            poller.register(attach_fd, select.POLLIN)
        for cfd in self.clients:
            self.watch(cfd)
        for o in self.relay_to.values():
            self.watch(o.fd)
        # -it: relay our stdin to the pty (without -t the container has our stdin itself)
        self.stdin_open = self.master >= 0 and first and self.foreground and \
            bool(self.process.get("stdin"))
        if self.stdin_open:
            poller.register(0, select.POLLIN)
        # --timeout: pid 1 is killed when it expires, and the run's exit code is -1 (podman's)
        kill_at = self.started_mono + self.spec["timeout"] if self.spec.get("timeout") else None
        timed_out = False
        while streams or self.pid1_status is None:
            timeout = -1
            now = time.monotonic()
            if self.health_on and self.pid1_status is None:
                due = self.hc_deadline if self.hc_pid else self.hc_next
                timeout = max(0, int((due - now) * 1000) + 1)
            if kill_at is not None and self.pid1_status is None:
                if now >= kill_at and not timed_out:
                    timed_out = True
                    try:
                        os.kill(self.pid1, 9)
                    except OSError:
                        pass
                left = max(0, int((kill_at - now) * 1000) + 1) if not timed_out else -1
                timeout = left if timeout < 0 else (min(timeout, left) if left >= 0 else timeout)
            for fd, ev in poller.poll(timeout):
                if fd == self.stdin_w >= 0:  # room for the backlog (or the reader is gone)
                    self.stdin_flush()
                    continue
                if ev & select.POLLOUT and fd == self.master >= 0:
                    self.stdin_flush()
                    if not ev & ~select.POLLOUT:
                        continue
                if fd in streams:
                    try:
                        data = os.read(fd, 65536)
                    except BlockingIOError:
                        continue
                    except OSError:  # EIO: a pty whose slave side is all closed
                        data = b""
                    if not data:
                        poller.unregister(fd)
                        if fd == self.master:
                            self.close_master()
                            if self.stdin_open:
                                self.stdin_open = False
                                self.poller_unregister(0)
                        else:
                            os.close(fd)
                        del streams[fd]
                        continue
                    self.log.write(streams[fd], data)
                    if self.clients:
                        self.attach_broadcast(streams[fd], data)
                    if self.relay:
                        self.relay_out(1 if streams[fd] == "stdout" else 2, data)
                elif fd == 0 and self.stdin_open:
                    self.relay_stdin()
                elif fd == attach_fd:
                    self.attach_accept()
                elif fd in self.clients:
                    if ev & select.POLLOUT:
                        self.attach_flush(fd)
                    if ev & ~select.POLLOUT and fd in self.clients:
                        self.attach_input(fd)
                elif fd in self.relay_fds():
                    self.relay_flush(fd)
                elif fd == self.wake_r:
                    self.handle_signals()
                elif fd == self.hc_fd:
                    self.health_read()
            self.reap()
            if self.health_on and self.pid1_status is None:
                now = time.monotonic()
                if self.hc_pid and now >= self.hc_deadline and not self.hc_timed_out:
                    self.hc_timed_out = True
                    try:
                        os.kill(self.hc_pid, 9)
                    except OSError:
                        pass
                elif not self.hc_pid and now >= self.hc_next:
                    self.health_start()
                    if self.hc_fd >= 0:
                        poller.register(self.hc_fd, select.POLLIN)
        poller.unregister(self.wake_r)
        os.close(self.go_w)
        self.unregister()
        self.stop_ports()  # the published TCP ports are free once the exit is reported
        if self.hc_pid:  # a check still running against a dead container
            try:
                os.kill(self.hc_pid, 9)
            except OSError:
                pass
            self.reap(block_for=self.hc_pid)
        return -1 if timed_out else wait_code(self.pid1_status or 0)

    def run(self) -> int:
        self.write_files()
        self.install_signals()
        if self.relay:
            self.open_relay()
        first = True
        code = 0
        while True:
            try:
                code = self.run_once(first)
            except StartFailed as e:
                self.write_state(status="created" if first else "exited", pid=0,
                                 supervisor_pid=0, error=e.message, exit_code=e.code,
                                 finished_at=logs.timestamp() if not first else "",
                                 restart_count=self.restart_count)
                self.say(protocol.ERROR, code=e.code, message=e.message)
                code = e.code
                break
            self.record_exit(code)
            if not self.should_restart(code):
                break
            self.lock.release()  # between runs, stop / rm may act
            time.sleep(RESTART_DELAY)
            if not self.lock.acquire() or self.stop_requested():
                break  # (removed meanwhile, or stopped)
            self.restart_count += 1
            first = False
        self.log.close()
        if self.attach_sock is not None:
            try:
                os.unlink(os.path.join(self.cdir, rattach.SOCKET))
            except OSError:
                pass
            self.attach_sock.close()
            self.attach_sock = None
        if self.status_fd >= 0:
            os.close(self.status_fd)
            self.status_fd = -1
        self.lock.release()  # before the --rm clean-up: `pypod rm` takes it
        self.cleanup()
        return code
