"""The supervisor: podman's conmon, one fresh lean python per running container.

    python -I -S -c <boot> pypod.runtime.supervisor CONTAINER_DIR --status-fd 3 [--foreground]
                                                    [--holder-dir RUN_ROOT/userns]

It daemonizes (the launcher reaps the short-lived first process), becomes a child subreaper and
stays outside every container namespace. Per run:

    supervisor ──fork──► set-up child: join/create the user namespace (rootless), unshare mnt,
       ▲                 uts, ipc, pid (+net), mount the root fs; fork pid 1; report its pid; exit
       └── reaps ◄────── container pid 1 (reparented to the supervisor): /proc /dev /sys …,
                         pivot_root, hostname; waits for "go"; user, env, cwd; execve

It relays and logs the container's stdout/stderr (k8s-file), records state.json, forwards signals
sent to it, runs health checks and the restart policy, then the --rm clean-up, and exits: it lives
exactly as long as the container. The container's pid 1 has PDEATHSIG=SIGKILL against it, so a
killed supervisor never leaves an unrecorded container behind.

Imports: the standard library's cheap modules only (no json, re, subprocess, dataclasses), plus
pypod.linux and pypod.runtime modules that keep to that rule (and pypod.store.locks).

Locking: the command that launches us holds the container's lock until we say "started"; we take
it for each exit report, the tear-down after it and a restart policy's next start, and drop it
before the --rm clean-up (see pypod.store.locks for the order).
"""

from __future__ import annotations

import _signal
import os
import select
import sys
import time

from pypod.linux import idmap, libc, proc, spawn, terminal, userns
from pypod.linux.syscalls import Syscalls
from pypod.runtime import exec as rexec
from pypod.runtime import attach as rattach
from pypod import jsonlite
from pypod.errors import describe
from pypod.runtime import init, logs, outlet, protocol
from pypod.runtime import state as statemod
from pypod.store.locks import ContainerLock

FORWARDED = ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH")
HEALTH_LOG_KEEP = 5
HEALTH_OUTPUT_MAX = 4096
RESTART_DELAY = 0.1


class StartFailed(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def _devnull() -> int:
    return os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)


def _exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


class Supervisor:
    def __init__(self, cdir: str, status_fd: int, foreground: bool, holder_dir: str | None,
                 net_driver=None):
        self.cdir = cdir
        self.net_driver = net_driver  # network/'s side (pypod.network.attach), plugged in by main()
        self.status_fd = status_fd
        self.foreground = foreground
        self.holder_dir = holder_dir
        with open(os.path.join(cdir, "spec.json"), "rb") as f:
            self.spec = jsonlite.loads(f.read())
        self.process = self.spec.get("process") or {}
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
        hc = self.spec.get("healthcheck") or None
        test = (hc or {}).get("test") or []
        self.health_on = bool(hc) and bool(test) and test[0] != "NONE" and \
            float(hc.get("interval") or 0) > 0
        self.hc = hc or {}
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
            keys = rattach.parse_detach_keys(self.spec.get("detach_keys"))
        except rattach.DetachKeysError:
            keys = rattach.parse_detach_keys(None)
        self.detach = rattach.DetachMatcher(keys)

    # ------------------------------------------------------------------ plumbing
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

    # ------------------------------------------------------------------ child processes
    def _setup_child(self, fds: dict, close: list[int]) -> None:
        """In the forked set-up child; never returns."""
        st_w = fds["status"]
        try:
            spawn.reset_signals()
            for fd in close:
                os.close(fd)
            if self.spec.get("limits"):  # joined before pid 1 is forked: it inherits them
                from pypod.linux import cgroups

                try:
                    cgroups.setup(self.spec.get("id") or "", self.spec["limits"])
                except cgroups.CgroupError as e:
                    raise init.SetupError(f"resource limits: {e.strerror}")
            pod_user = {k: v for k, v in self.join_fds.items() if k == "user"}
            if self.rootless and pod_user:
                # a pod's member: the user namespace that owns the infra's other namespaces
                # (the shared one, or the pod's keep-id one nested in it)
                _join_namespaces(pod_user)
                if self.spec.get("userns") == "keep-id":  # its root, as create_keep_id leaves us
                    os.setresgid(0, 0, 0)
                    os.setresuid(0, 0, 0)
                    libc.prctl(libc.PR_SET_DUMPABLE, 1)
            elif self.rootless and self.join_userns_pid:
                # user networks: the namespace that owns the shared network namespace, where
                # the holder can move a veth into ours
                userns.join(self.join_userns_pid)
            elif self.rootless:
                userns.enter(self.mapping, self.holder_dir)
            if self.rootless and not pod_user and self.spec.get("userns") == "keep-id":
                userns.create_keep_id(self.mapping)  # nested, of its own
            flags = libc.CLONE_NEWNS
            if "uts" not in self.join_fds:
                flags |= libc.CLONE_NEWUTS
            if "ipc" not in self.join_fds:
                flags |= libc.CLONE_NEWIPC
            if self.spec.get("network") != "host" and not self.netns_path:
                flags |= libc.CLONE_NEWNET
            libc.unshare(flags)
            # a pod's: before any mount (its /dev/mqueue is ipc's)
            _join_namespaces({k: v for k, v in self.join_fds.items() if k != "user"})
            if flags & libc.CLONE_NEWNET:
                # podman's default sysctl: root in the container may ping (ICMP datagram sockets)
                # without CAP_NET_RAW
                sysctls = [("ipv4/ping_group_range", "0 0")]
                if self.spec.get("userns") == "maps":
                    # its processes live in a nested user namespace without rights over this
                    # network namespace: low ports must not need CAP_NET_BIND_SERVICE here
                    sysctls.append(("ipv4/ip_unprivileged_port_start", "0"))
                for key, value in sysctls:
                    try:
                        with open(f"/proc/sys/net/{key}", "w") as f:
                            f.write(value)
                    except OSError:
                        pass
            # --sysctl: in the namespaces just made (net.* needs the new netns, kernel.shm*,
            # kernel.msg*, kernel.sem and fs.mqueue.* the new ipc one); a refusal fails the start
            for key, value in (self.spec.get("sysctls") or {}).items():
                try:
                    with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
                        f.write(value)
                except OSError as e:
                    raise init.SetupError(f"setting sysctl {key}={value}: "
                                          f"{(e.strerror or str(e)).lower()}") from None
            if self.spec.get("userns") == "maps":
                self._shift_upper()
            if self.netns_path:  # --network container:NAME | ns:PATH
                try:
                    nfd = os.open(self.netns_path, os.O_RDONLY | os.O_CLOEXEC)
                    try:
                        libc.setns(nfd, libc.CLONE_NEWNET)
                    finally:
                        os.close(nfd)
                except OSError as e:
                    raise init.SetupError(f"join network namespace {self.netns_path}: "
                                          f"{e.strerror}")
            sc = Syscalls()
            for w in init.mount_rootfs(sc, self.spec.get("rootfs") or {}, self.merged, self.facts):
                protocol.send(st_w, protocol.WARNING, message=w)
            # the pid namespace only now: a fuse-overlayfs daemon started above must not become
            # (and, daemonizing, kill) its pid 1
            libc.unshare(libc.CLONE_NEWPID)
            pid1 = os.fork()
            if pid1 == 0:
                self._container_init(sc, fds)
            protocol.send(st_w, protocol.PID, pid=pid1, fuse_pid=self.facts.fuse_pid)
        except BaseException as e:  # noqa: BLE001 - reported to the launcher
            init.fail(st_w, e)
        os._exit(0)

    def _shift_upper(self) -> None:
        """--uidmap: the container's root directory (the upper layer's) belongs to its root."""
        from pypod.store.shift import parse_map, shift_id

        rootfs = self.spec.get("rootfs") or {}
        uid = shift_id(0, parse_map(self.spec.get("uid_map") or ""))
        gid = shift_id(0, parse_map(self.spec.get("gid_map") or ""))
        for d in (rootfs.get("upper"), rootfs.get("work")):
            if d:
                os.makedirs(d, 0o755, exist_ok=True)
                os.chown(d, uid, gid)

    def _container_init(self, sc: Syscalls, fds: dict) -> None:
        """pid 1 of the container; never returns."""
        st_w = fds["status"]
        try:
            os.setsid()
            os.dup2(fds["stdin"], 0)
            os.dup2(fds["stdout"], 1)
            os.dup2(fds["stderr"], 2)
            for w in init.setup_mounts(sc, self.spec, self.cdir, self.merged, self.facts):
                protocol.send(st_w, protocol.WARNING, message=w)
            init.pivot(sc, self.merged)
            init.finish_namespaces(sc, self.spec)
            protocol.send(st_w, protocol.READY)
            go = os.read(fds["go"], 64)
            if not go.startswith((b"g", b"t")):
                os._exit(137)  # the supervisor went away
            if go.startswith(b"t"):  # -t: the supervisor opened a pty on our devpts
                pts = f"/dev/pts/{int(go[1:].strip())}"
                terminal.make_controlling(pts)
                try:
                    sc.create_file("/dev/console", 0o600)
                    sc.mount(pts, "/dev/console", None, libc.MS_BIND)
                except OSError:
                    pass
            if self.spec.get("userns") == "maps":
                # --uidmap: the nested namespace last, once every mount is made and the network
                # helpers (which join our user namespace to reach the network one) are set up
                userns.create_nested(self.spec.get("uid_map") or "", self.spec.get("gid_map") or "")
            init.exec_process(self.process, hostname=self.spec.get("hostname") or "",
                              container_id=self.spec.get("id") or "", alive_fd=fds["go"])
        except BaseException as e:  # noqa: BLE001
            init.fail(st_w, e)
        os._exit(125)

    # ------------------------------------------------------------------ one run
    def start_container(self, first: bool) -> tuple[int, int]:
        """Fork the set-up child, get pid 1 exec'd; returns (stdout fd, stderr fd) to relay.
        Raises StartFailed."""
        if self.spec.get("network", "").startswith(("container:", "ns:")):
            self.netns_path = _netns_to_join(self.spec, self.cdir)
        # opened here, as the user on the host (the set-up child, inside the user namespace, may
        # not open another's /proc/PID/ns/*); joined by the set-up child
        self.join_fds = _open_namespaces(self.cdir, self.spec.get("join_ns") or {})
        if self.spec.get("network") == "bridge":
            self.lease_addresses()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        st_r, st_w = os.pipe()
        go_r, go_w = os.pipe()
        if first and self.foreground and self.process.get("stdin"):
            stdin = 0
        elif self.process.get("stdin") and not self.process.get("terminal"):
            stdin, w = os.pipe()  # attach clients write the container's stdin here
            self.close_stdin()
            os.set_blocking(w, False)
            self.stdin_w = w
        else:
            stdin = _devnull()
        fds = {"stdin": stdin, "stdout": out_w, "stderr": err_w, "status": st_w, "go": go_r}
        close = [out_r, err_r, st_r, go_w, self.wake_r, self.wake_w, *self.clients,
                 *self.outlet_fds()]
        if self.stdin_w >= 0:
            close.append(self.stdin_w)
        if self.attach_sock is not None:
            close.append(self.attach_sock.fileno())
        if self.status_fd >= 0:
            close.append(self.status_fd)
        if self.log.fd >= 0:
            close.append(self.log.fd)
        if self.hc_fd >= 0:
            close.append(self.hc_fd)
        if self.lock.fd >= 0:  # (a restart: held while starting; never a container's)
            close.append(self.lock.fd)
        setup_pid = os.fork()
        if setup_pid == 0:
            self._setup_child(fds, close)
        for fd in self.join_fds.values():
            os.close(fd)
        self.join_fds = {}
        for fd in (out_w, err_w, st_w, go_r):
            os.close(fd)
        if stdin != 0:
            os.close(stdin)
        reader = protocol.Reader(st_r)
        pid1 = 0
        error: dict | None = None
        warnings: list[str] = []
        while True:
            m = reader.next()
            if m is None:
                break
            t = m.get("type")
            if t == protocol.PID:
                pid1 = int(m["pid"])
                # a fuse-overlayfs daemon (fallback) lives in the container's mount namespace
                # and, reparented to us, must be ended with the container
                self.fuse_pid = int(m.get("fuse_pid") or 0)
                break
            if t == protocol.WARNING:
                warnings.append(m.get("message", ""))
            elif t == protocol.ERROR:
                error = m
                break
        _, st = os.waitpid(setup_pid, 0)
        if pid1:
            # pid 1 is ours now (subreaper); let it exec
            self.pid1 = pid1
            self.pid1_status = None
            # Hold the container's mount namespace: otherwise its teardown (umount of every
            # mount, an RCU grace period: tens of ms) delays pid 1's exit notification. We drop
            # it after the exit is recorded and reported.
            try:
                self.mnt_fd = os.open(f"/proc/{pid1}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                self.mnt_fd = -1
            if self.rootless and self.holder_dir and self.spec.get("userns") not in ("keep-id", "maps"):
                userns.register_holder(self.holder_dir, pid1)
            go = b"g"
            if self.spec.get("network") in ("slirp4netns", "pasta", "bridge"):
                # the helper configures the namespace while pid 1 mounts; ports before "go"
                netattach = self._net_driver()
                try:
                    if self.spec.get("network") == "bridge":
                        self.net = self.attach_endpoints(pid1)
                    else:
                        self.net = netattach.start(self.spec, pid1, self.cdir)
                    netattach.finish(self.net, self.spec)
                except netattach.NetError as e:
                    error = {"code": e.code, "message": e.message}
                    go = b""
            if go and self.process.get("terminal"):
                # the pty comes from pid 1's own devpts: wait until it has pivoted
                while True:
                    m = reader.next()
                    if m is None or m.get("type") in (protocol.READY, protocol.ERROR):
                        break
                    if m.get("type") == protocol.WARNING:
                        warnings.append(m.get("message", ""))
                if m is None or m.get("type") == protocol.ERROR:
                    error = m or {"code": 125, "message": "container set-up failed"}
                    go = b""
            if go and self.process.get("terminal"):
                try:
                    self.master, n = terminal.open_master(f"/proc/{pid1}/root/dev/pts/ptmx")
                    os.set_blocking(self.master, False)  # (see feed_stdin)
                    terminal.copy_winsize((0, 1, 2), self.master)
                    go = b"t%d\n" % n
                except OSError as e:
                    error = {"code": 125, "message": f"allocate a terminal: {e.strerror}"}
                    go = b""
            if go:
                os.write(go_w, go)
            else:
                try:
                    os.kill(pid1, 9)
                except OSError:
                    pass
            while True:
                m = reader.next()
                if m is None:
                    break
                if m.get("type") == protocol.WARNING:
                    warnings.append(m.get("message", ""))
                elif m.get("type") == protocol.ERROR and error is None:
                    error = m
        os.close(st_r)
        for w in warnings:
            self.say(protocol.WARNING, message=w)
        if error is None and not pid1:
            error = {"code": 125,
                     "message": f"container set-up failed (exit status {_exit_code(st)})"}
        if error is not None:
            if pid1:
                self.reap(block_for=pid1)
                self.unregister()
            self.stop_net()
            os.close(go_w)
            for fd in (out_r, err_r):
                self.drain_to_log(fd)
                os.close(fd)
            self.close_master()
            self.release_mnt()
            raise StartFailed(int(error.get("code") or 125), error.get("message") or "failed")
        self.go_w = go_w
        return out_r, err_r

    def lease_addresses(self) -> None:
        """User networks: make sure the shared namespace's holder runs and lease an address on
        each network (before pid 1 exists: /etc/hosts names our address)."""
        rootlessnet = self._net_driver().bridge()
        net = self.spec.get("net") or {}
        pairs = [(n, dict(ep)) for n, ep in net.get("endpoints") or []]
        owner = {"id": self.spec.get("id"), "name": self.spec.get("name"), "pid": self.me,
                 "start": self.me_start}
        try:
            st = rootlessnet.lease(net["run_root"], self.holder_dir if self.rootless else None,
                                   net.get("uplink") or {}, owner, pairs)
        except rootlessnet.NetError as e:
            raise StartFailed(e.code, e.message)
        self.join_userns_pid = int(st["pid"]) if self.rootless else 0
        self.endpoints = [rootlessnet.endpoint_request(n, ep) for n, ep in pairs]
        hosts = self.spec.get("hosts") or ""
        if self.endpoints and rootlessnet.IP_TOKEN in hosts:
            with open(os.path.join(self.cdir, "hosts"), "w") as f:
                f.write(hosts.replace(rootlessnet.IP_TOKEN, self.endpoints[0]["ip"]))

    def attach_endpoints(self, pid1: int):
        rootlessnet = self._net_driver().bridge()
        bn = rootlessnet.BridgeNet(self.spec["net"]["run_root"], self.spec.get("id"),
                                   self.endpoints, pid1)
        try:
            bn.attach()
        except rootlessnet.NetError:
            bn.stop()
            raise
        nets = {}
        for ep in self.endpoints:
            i = bn.interfaces.get(ep["network"]) or {}
            nets[ep["network"]] = {"ip": ep["ip"], "prefix": ep["prefix"], "gateway": ep["gateway"],
                                   "mac": i.get("mac") or "", "ifname": ep["ifname"]}
        self.write_state(fsync=False, networks=nets)
        return bn

    def _net_driver(self):
        """The network helpers' driver: given by the process entry point (runtime/ does not
        import network/)."""
        if self.net_driver is None:
            raise StartFailed(125, "the supervisor was started without a network driver")
        return self.net_driver

    def drain_to_log(self, fd: int) -> None:
        os.set_blocking(fd, False)
        try:
            while True:
                data = os.read(fd, 65536)
                if not data:
                    return
                self.log.write("stderr", data)
        except (BlockingIOError, OSError):
            return

    def stop_ports(self) -> None:
        if self.net is not None and not hasattr(self.net, "forwarder"):
            self.stop_net()  # pasta: its own sockets are the published ports
            return
        fw = getattr(self.net, "forwarder", None)
        if fw is not None:
            self.net.forwarder = None
            fw.stop()

    def stop_net(self) -> None:
        if self.net is not None:
            net, self.net = self.net, None
            self._net_driver().stop(net)

    def close_master(self) -> None:
        if self.master >= 0:
            os.close(self.master)
            self.master = -1
            if self.stdin_backlog:  # (it was the terminal's)
                self.stdin_backlog = bytearray()
                self.rewatch_input()

    def release_mnt(self) -> None:
        if self.mnt_fd >= 0:
            os.close(self.mnt_fd)
            self.mnt_fd = -1
        if self.fuse_pid:
            pid, self.fuse_pid = self.fuse_pid, 0
            try:
                os.kill(pid, _signal.SIGTERM)
                for _ in range(500):
                    done, _st = os.waitpid(pid, os.WNOHANG)
                    if done:
                        break
                    time.sleep(0.002)
                else:
                    os.kill(pid, 9)
                    os.waitpid(pid, 0)
            except (OSError, ChildProcessError):
                pass

    def unregister(self) -> None:
        if self.rootless and self.holder_dir and self.pid1:
            userns.unregister_holder(self.holder_dir, self.pid1)

    def reap(self, block_for: int = 0) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, 0 if block_for else os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.pid1:
                self.pid1_status = status
            elif pid == self.hc_pid:
                self.health_done(status)
            if block_for and pid == block_for:
                return

    def forward(self, sig: int) -> None:
        if self.pid1 and self.pid1_status is None:
            try:
                os.kill(self.pid1, sig)
            except OSError:
                pass

    def write_state(self, fsync: bool = True, **changes) -> None:
        try:
            statemod.update_state(self.cdir, changes, fsync=fsync)
        except OSError:
            pass  # the container dir is gone (removed under us): nothing to record

    # ------------------------------------------------------------------ health checks
    def health_reset(self) -> None:
        if not self.health_on:
            self.health = None
            return
        self.health = {"status": "starting", "failing_streak": 0, "log": []}
        self.hc_next = time.monotonic() + float(self.hc.get("interval") or 30)

    def health_start(self) -> None:
        test = list(self.hc.get("test") or [])
        if test[0] == "CMD-SHELL":
            args = ["/bin/sh", "-c", " ".join(test[1:])]
        elif test[0] == "CMD":
            args = test[1:]
        else:
            args = test
        process = dict(self.process, args=args, terminal=False, stdin=False)
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 125
            try:
                spawn.reset_signals()
                os.close(r)
                null = _devnull()
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
        self.hc_deadline = time.monotonic() + float(self.hc.get("timeout") or 30)

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
        code = _exit_code(status)
        output = self.hc_out.decode(errors="replace")
        if self.hc_timed_out:
            code = 1
            output = f"healthcheck command timed out after {self.hc.get('timeout')}s"
        h = self.health or {"status": "starting", "failing_streak": 0, "log": []}
        entry = {"start": self.hc_started, "end": logs.timestamp(), "exit_code": code,
                 "output": output}
        h["log"] = (h.get("log") or [])[-(HEALTH_LOG_KEEP - 1):] + [entry]
        in_start_period = time.monotonic() - self.started_mono < float(
            self.hc.get("start_period") or 0)
        if code == 0:
            h["status"] = "healthy"
            h["failing_streak"] = 0
        elif not in_start_period:
            h["failing_streak"] = int(h.get("failing_streak") or 0) + 1
            if h["failing_streak"] >= int(self.hc.get("retries") or 3):
                h["status"] = "unhealthy"
        self.health = h
        self.hc_next = time.monotonic() + float(self.hc.get("interval") or 30)
        if self.pid1_status is None:
            self.write_state(fsync=False, health=h)

    def poller_unregister(self, fd: int) -> None:
        try:
            self.poller.unregister(fd)
        except (KeyError, AttributeError):
            pass

    # ------------------------------------------------------------------ the loop
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
        while streams or self.pid1_status is None:
            timeout = -1
            now = time.monotonic()
            if self.health_on and self.pid1_status is None:
                due = self.hc_deadline if self.hc_pid else self.hc_next
                timeout = max(0, int((due - now) * 1000) + 1)
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
        return _exit_code(self.pid1_status or 0)

    # ------------------------------------------------------------------ the foreground's output
    def open_relay(self) -> None:
        """Our stdout/stderr (the user's), written without ever blocking (outlet.py)."""
        one = outlet.open_nonblocking(1, self.cdir)
        two = one if one is not None and outlet.same_file(1, 2) else \
            outlet.open_nonblocking(2, self.cdir)
        self.relay_to = {f: o for f, o in ((1, one), (2, two)) if o is not None}

    def relay_fds(self) -> dict[int, outlet.Outlet]:
        return {o.fd: o for o in self.relay_to.values()}

    def relay_out(self, fd: int, data: bytes) -> None:
        o = self.relay_to.get(fd)
        if o is None:
            return
        if not o.write(data):
            self.relay_lost(o)
        elif o.pending:
            self.watch(o.fd)

    def relay_flush(self, fd: int) -> None:
        o = self.relay_fds().get(fd)
        if o is None:
            return
        if not o.flush():
            self.relay_lost(o)
        else:
            self.watch(fd)

    def relay_lost(self, o: outlet.Outlet) -> None:
        """The reader went away (keep logging), or fell SPILL_MAX behind (say so)."""
        if o.overflowed:
            self.say(protocol.WARNING, message=(
                f"the output of container {self.spec.get('name') or self.spec.get('id')} is no "
                f"longer relayed: its reader fell {outlet.SPILL_MAX >> 20} MiB behind (`logs` "
                "has all of it)"))
        self.poller_unregister(o.fd)
        for f in [f for f, x in self.relay_to.items() if x is o]:
            del self.relay_to[f]
        o.close()

    def close_relay(self) -> None:
        for o in {id(x): x for x in self.relay_to.values()}.values():
            self.poller_unregister(o.fd)
            o.close()
        self.relay_to = {}
        self.relay = False

    def outlet_fds(self) -> list[int]:
        out: set[int] = set()  # (stdout and stderr may share one outlet)
        for o in (*self.client_out.values(), *self.relay_to.values()):
            out.update(o.fds())
        return sorted(out)

    def watch(self, fd: int) -> None:
        """Poll fd for what it needs: input from an attach client, room for a backlog."""
        o = self.client_out.get(fd) or self.relay_fds().get(fd)
        mask = (select.POLLIN if fd in self.clients and not self.stdin_backlog else 0) | \
            (select.POLLOUT if o is not None and o.pending else 0)
        if mask:
            self.poller.register(fd, mask)  # (again: changes the mask)
        else:
            self.poller_unregister(fd)

    def relay_stdin(self) -> None:
        try:
            data = os.read(0, 65536)
        except OSError:
            data = b""
        if not data:  # EOF on our stdin: end of input for the terminal (^D)
            self.stdin_open = False
            self.poller_unregister(0)
            data = b"\x04"
            hit = False
        else:
            data, hit = self.detach.feed(data)
        if data:
            self.feed_stdin(data)
        if hit:
            self.detach_foreground()

    # ------------------------------------------------------------------ the container's stdin
    def stdin_target(self) -> int:
        return self.master if self.master >= 0 else self.stdin_w

    def feed_stdin(self, data: bytes) -> None:
        """Input for the container: what it does not take now waits in stdin_backlog, and no
        more input is read (attach clients, our stdin) until it has taken it."""
        fd = self.stdin_target()
        if fd < 0:
            return
        if not self.stdin_backlog:
            try:
                data = data[os.write(fd, data):]
            except BlockingIOError:
                pass
            except OSError:  # the container closed its stdin: nothing will read this
                return
        if data:
            self.stdin_backlog += data
            if len(self.stdin_backlog) == len(data):
                self.rewatch_input()

    def stdin_flush(self) -> None:
        try:
            del self.stdin_backlog[:os.write(self.stdin_target(), self.stdin_backlog)]
        except BlockingIOError:
            return
        except OSError:
            self.stdin_backlog = bytearray()
        if not self.stdin_backlog:
            if self.stdin_eof:
                self.close_stdin()
            self.rewatch_input()

    def close_stdin(self) -> None:
        """End the container's stdin pipe (its backlog is dropped)."""
        if self.stdin_w >= 0:
            self.poller_unregister(self.stdin_w)
            os.close(self.stdin_w)
            self.stdin_w = -1
        self.stdin_eof = False
        if self.stdin_backlog:
            self.stdin_backlog = bytearray()
            self.rewatch_input()

    def rewatch_input(self) -> None:
        """The backlog came or went: pause or resume reading input, poll the target for room."""
        if not hasattr(self, "poller"):
            return
        for fd in self.clients:
            self.watch(fd)
        if self.stdin_open:
            if self.stdin_backlog:
                self.poller_unregister(0)
            else:
                self.poller.register(0, select.POLLIN)
        target = self.stdin_target()
        if target >= 0:
            mask = (select.POLLIN if target == self.master else 0) | \
                (select.POLLOUT if self.stdin_backlog else 0)
            if mask:
                self.poller.register(target, mask)
            else:
                self.poller_unregister(target)

    def detach_foreground(self) -> None:
        """The detach keys: the launcher returns, the container runs on (logged, attachable)."""
        self.detached = True
        self.stdin_open = False
        self.poller_unregister(0)
        self.close_relay()
        null = os.open("/dev/null", os.O_RDWR)
        for f in (0, 1, 2):
            os.dup2(null, f)
        os.close(null)
        self.say("detached")
        if self.status_fd >= 0:
            os.close(self.status_fd)
            self.status_fd = -1

    # ------------------------------------------------------------------ attach clients
    def attach_accept(self) -> None:
        fd = rattach.accept_fd(self.attach_sock)
        if fd >= 0:
            self.clients[fd] = rattach.FrameReader()
            # a client that stops reading falls behind (then is dropped), never holds us up
            self.client_out[fd] = outlet.Outlet(fd, self.cdir)
            self.watch(fd)

    def attach_drop(self, fd: int) -> None:
        self.poller_unregister(fd)
        self.clients.pop(fd, None)
        o = self.client_out.pop(fd, None)
        if o is not None:
            o.close()
        else:
            try:
                os.close(fd)
            except OSError:
                pass

    def attach_send(self, fd: int, msg: bytes) -> None:
        o = self.client_out[fd]
        if not o.write(msg):
            self.attach_drop(fd)
        elif o.pending:
            self.watch(fd)

    def attach_flush(self, fd: int) -> None:
        if not self.client_out[fd].flush():
            self.attach_drop(fd)
        else:
            self.watch(fd)

    def attach_broadcast(self, stream: str, data: bytes) -> None:
        msg = rattach.frame(rattach.OUT if stream == "stdout" else rattach.ERR, data)
        for fd in list(self.clients):
            self.attach_send(fd, msg)

    def attach_input(self, fd: int) -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.attach_drop(fd)
            return
        try:
            frames = self.clients[fd].feed(data)
        except rattach.FrameError:  # a broken client: it goes, not our memory
            self.attach_drop(fd)
            return
        for kind, payload in frames:
            if kind == rattach.IN:
                self.feed_stdin(payload)
            elif kind == rattach.RESIZE and self.master >= 0:
                try:
                    rows, cols = (int(x) for x in payload.split())
                except ValueError:
                    continue
                terminal.set_winsize(self.master, rows, cols)
            elif kind == rattach.CLOSE_IN and self.master < 0 and self.stdin_w >= 0:
                if self.stdin_backlog:
                    self.stdin_eof = True  # once the container has taken the rest
                else:
                    self.close_stdin()

    def attach_exit(self, code: int) -> None:
        """EXIT to every client, behind its backlog; the caught-up ones are closed, the others
        are left to hand_over()."""
        for fd in list(self.clients):
            self.attach_send(fd, rattach.frame(rattach.EXIT, str(code).encode()))
            if fd in self.client_out and not self.client_out[fd].pending:
                self.attach_drop(fd)
        self.close_stdin()

    def hand_over(self, code: int) -> bool:
        """Readers still behind when the container exits get their backlog from a forked child,
        so that the exit is recorded and reported, and the supervisor goes on (or ends), whatever
        they do. True when the child reports the exit to the launcher (after the foreground's
        output)."""
        clients = [fd for fd, o in self.client_out.items() if o.pending]
        fg = any(o.pending for o in self.relay_to.values())
        if not clients and not fg:
            return False
        behind = [self.client_out[fd] for fd in clients]
        if fg:
            behind += list({id(o): o for o in self.relay_to.values()}.values())
        if os.fork() == 0:
            self._flush_and_exit(behind, code if fg else None, behind[:len(clients)])
        for fd in clients:  # the child's now
            self.attach_drop(fd)
        if fg:
            self.close_relay()
            if self.status_fd >= 0:
                os.close(self.status_fd)
                self.status_fd = -1
        return fg

    def _flush_and_exit(self, behind: list, code: int | None, clients: list) -> None:
        """The flusher child; never returns."""
        try:
            _signal.set_wakeup_fd(-1)
            for name in ("SIGCHLD", *FORWARDED):
                _signal.signal(getattr(_signal, name), _signal.SIG_DFL)
            keep = {fd for o in behind for fd in o.fds()}
            if code is not None and self.status_fd >= 0:
                keep.add(self.status_fd)
            null = _devnull()
            for f in (0, 1, 2):
                os.dup2(null, f)
            for name in os.listdir("/proc/self/fd"):
                fd = int(name)
                if fd > 2 and fd not in keep:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            try:
                libc.set_process_name("pypod-flush")
            except OSError:
                pass
            outlet.drain(behind, discard_input=tuple(clients))
            if code is not None and self.status_fd >= 0:
                protocol.send(self.status_fd, protocol.EXIT, code=code)
        finally:
            os._exit(0)

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

    def should_restart(self, code: int) -> bool:
        policy = (self.spec.get("restart_policy") or "no").split(":")[0]
        if policy in ("", "no") or self.stop_requested():
            return False
        if policy in ("always", "unless-stopped"):
            return True
        if policy == "on-failure":
            limit = int(self.spec.get("restart_max") or 0)
            tail = (self.spec.get("restart_policy") or "").partition(":")[2]
            if not limit and tail.isdigit():  # "on-failure:N" given as one string
                limit = int(tail)
            return code != 0 and (limit <= 0 or self.restart_count < limit)
        return False

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
            # The exit report, under the container's lock: no verb acts on the container while
            # its last run is recorded and torn down. Whoever holds the lock now does not wait
            # for us (stop and rm wait for pid 1's death under it, then let go).
            self.lock.acquire()
            # Publish (atomic rename), report, then make it durable: the launcher need not
            # wait for the journal commit.
            self.write_state(fsync=False, status="exited", pid=0, exit_code=code,
                             finished_at=logs.timestamp(),
                             supervisor_pid=self.me if self.should_restart(code) else 0,
                             health=self.health)
            self.died_event(code)
            self.attach_exit(code)
            if not self.hand_over(code):
                self.say(protocol.EXIT, code=code)
            self.stop_net()  # slirp4netns/pasta (tens of ms to exit): after the report
            self.release_mnt()
            if self.spec.get("limits"):
                from pypod.linux import cgroups

                cgroups.remove(cgroups.paths(self.spec.get("id") or "", self.spec["limits"]))
            statemod.persist(self.cdir)
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

    def died_event(self, code: int) -> None:
        """The `died` event (Docker's `die`), with the exit code and the container's labels."""
        if not self.spec.get("events_dir"):
            return
        from pypod.store import events

        ev = self.spec.get("event") or {}
        events.emit(self.spec["events_dir"], "container", "died", id_=self.spec.get("id", ""),
                    name=self.spec.get("name", ""), image=ev.get("image", ""),
                    attributes=ev.get("labels") or {}, exit_code=code)

    def cleanup(self) -> None:
        argv = self.spec.get("cleanup_argv")
        if not (self.spec.get("auto_remove") and argv):
            return
        if self.spec.get("cleanup_if_detached") and not self.detached:
            return  # the foreground `run --rm` removes it itself
        try:
            null = [(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0)]
            pid = os.posix_spawnp(argv[0], argv, dict(os.environ), file_actions=null)
            os.waitpid(pid, 0)
        except OSError:
            pass


_NS_FLAGS = {"uts": "CLONE_NEWUTS", "ipc": "CLONE_NEWIPC", "user": "CLONE_NEWUSER"}


def _open_namespaces(cdir: str, join: dict[str, str]) -> dict[str, int]:
    """{kind: an open /proc/PID/ns/KIND} of running containers (a pod's infra)."""
    fds: dict[str, int] = {}
    try:
        for kind, cid in join.items():
            st = statemod.read_state(os.path.join(os.path.dirname(cdir.rstrip("/")), cid))
            if not statemod.is_running(st) or not st.get("pid"):
                raise StartFailed(125, f"cannot join the {kind} namespace of container {cid[:12]}: "
                                       f"it is not running")
            path = f"/proc/{int(st['pid'])}/ns/{kind}"
            try:
                fds[kind] = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError as e:
                raise StartFailed(125, f"cannot join the {kind} namespace of container {cid[:12]}: "
                                       f"{path}: {e.strerror}") from None
    except BaseException:
        for fd in fds.values():
            os.close(fd)
        raise
    return fds


def _join_namespaces(fds: dict[str, int]) -> None:
    for kind, fd in fds.items():
        try:
            libc.setns(fd, getattr(libc, _NS_FLAGS[kind]))
        except OSError as e:
            raise init.SetupError(f"join the pod's {kind} namespace: {e.strerror}")


def _netns_to_join(spec: dict, cdir: str) -> str | None:
    """The network namespace file to join (--network container:ID / ns:PATH)."""
    mode = spec.get("network") or ""
    if mode.startswith("ns:"):
        return mode[3:]
    cid = mode.split(":", 1)[1]
    st = statemod.read_state(os.path.join(os.path.dirname(cdir.rstrip("/")), cid))
    if not statemod.is_running(st) or not st.get("pid"):
        raise StartFailed(125, f"cannot join the network namespace of container {cid[:12]}: "
                               f"it is not running")
    return f"/proc/{int(st['pid'])}/ns/net"


def main(argv: list[str], net_driver=None) -> None:
    """The supervisor process (entered through pypod.engine.supervise, which passes the network
    driver)."""
    if not argv:
        print("usage: supervisor CONTAINER_DIR [--status-fd N] [--foreground] "
              "[--holder-dir DIR]", file=sys.stderr)
        os._exit(125)
    cdir = argv[0]
    status_fd, foreground, holder_dir = -1, False, None
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
        i += 1
    # No stray descriptor of whoever started us may reach the container.
    keep = max(status_fd, 2)
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
        sup = Supervisor(cdir, status_fd, foreground, holder_dir, net_driver)
    except Exception as e:  # noqa: BLE001
        if status_fd >= 0:
            protocol.send(status_fd, protocol.ERROR, code=125, message=f"supervisor: {describe(e)}")
        os._exit(125)
    code = sup.run()
    os._exit(code & 0xFF)

