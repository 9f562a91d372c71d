"""One run's start: the set-up child (namespaces, root fs), the container's pid 1 up to its
exec, and the network helpers (podman's conmon leaves these to the OCI runtime; we are both).

    supervisor ──fork──► set-up child: join/create the user namespace (rootless), unshare mnt,
       ▲                 uts, ipc, pid (+net), mount the root fs; fork pid 1; report its pid; exit
       └── reaps ◄────── container pid 1 (reparented to the supervisor): /proc /dev /sys …,
                         pivot_root, hostname; waits for "go"; user, env, cwd; execve
"""

from __future__ import annotations

import os

from pypod.linux import libc, spawn, terminal, userns
from pypod.linux.syscalls import Syscalls
from pypod.runtime import init, protocol
from pypod.runtime import state as statemod
from pypod.runtime.supervisor.base import StartFailed, devnull, wait_code
from pypod.store.container_config import NetConfig


class Start:
    """The Supervisor's start of a run (a mixin: the state is the Supervisor's, see core.py)."""

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
            stdin = devnull()
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
                     "message": f"container set-up failed (exit status {wait_code(st)})"}
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
            if self.rootless and not pod_user and self.spec.get("userns") == "keep-id":  # nested, of its own
                userns.create_keep_id(self.mapping)
                rootfs = self.spec.get("rootfs") or {}
                if self.spec.get("uid_map") and rootfs.get("upper"):
                    # its layers are shifted copies (the image's root is its root): so is /
                    for d in (rootfs["upper"], rootfs.get("work")):
                        os.chown(d, 0, 0)
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
            fds = self._hand_preserved_fds(fds)
            st_w = fds["status"]
            init.exec_process(self.process, hostname=self.spec.get("hostname") or "",
                              container_id=self.spec.get("id") or "", alive_fd=fds["go"])
        except BaseException as e:  # noqa: BLE001
            init.fail(st_w, e)
        os._exit(125)

    preserve_fds = 0

    def _hand_preserved_fds(self, fds: dict) -> dict:
        """--preserve-fds N (in pid 1, right before exec): the launcher's fds 3..3+N-1, kept at
        PRESERVE_BASE+i, become 3..3+N-1 again; ours in that range move out of the way first."""
        import fcntl

        from pypod.runtime.launch import PRESERVE_BASE

        n = self.preserve_fds
        if not n:
            return fds
        fds = dict(fds)
        for k, v in fds.items():
            if isinstance(v, int) and 3 <= v < 3 + n:
                fds[k] = fcntl.fcntl(v, fcntl.F_DUPFD_CLOEXEC, PRESERVE_BASE + n)
        for i in range(n):
            os.dup2(PRESERVE_BASE + i, 3 + i)  # inheritable: the container's
            os.close(PRESERVE_BASE + i)
        return fds

    def lease_addresses(self) -> None:
        """User networks: make sure the shared namespace's holder runs and lease an address on
        each network (before pid 1 exists: /etc/hosts names our address)."""
        rootlessnet = self._net_driver().bridge()
        net = NetConfig.view(self.spec.get("net") or {})
        pairs = [(n, dict(ep)) for n, ep in net.endpoints]
        owner = {"id": self.spec.get("id"), "name": self.spec.get("name"), "pid": self.me,
                 "start": self.me_start}
        try:
            st = rootlessnet.lease(net.run_root, self.holder_dir if self.rootless else None,
                                   net.uplink, owner, pairs)
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
        bn = rootlessnet.BridgeNet(NetConfig.view(self.spec["net"]).run_root, self.spec.get("id"),
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
