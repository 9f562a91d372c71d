"""pasta (passt) for a container's network namespace, run by the supervisor outside the container.

pasta copies the host's addresses and routes into the namespace (--config-net) and forwards the
published ports itself (-t/-u), keeping the client's source address. It daemonizes once the
namespace is configured (the first process's exit is our readiness), writes its pid (-P) and
quits by itself when the namespace goes away; we end it at tear-down too.

Imports: cheap standard-library modules only (the supervisor imports this).
"""

from __future__ import annotations

import os
import time

from pypod.network.slirp import NetError, check_tun, find
from pypod.store.container_config import NetConfig

PIDFILE = "pasta.pid"
LOG = "pasta.log"


def port_args(ports: list[dict]) -> list[str]:
    out = []
    for m in ports or []:
        flag = "-t" if (m.get("protocol") or "tcp") == "tcp" else "-u"
        ip = m.get("host_ip") or ""
        spec = f"{m['host_port']}:{m['container_port']}"
        out += [flag, f"{ip}/{spec}" if ip else spec]
    return out


class Pasta:
    def __init__(self, pid: int, cdir: str):
        self.pid, self.cdir = pid, cdir

    def wait_ready(self, timeout: float = 10.0) -> None:
        pass  # start() returns once pasta's first process has exited (set up or failed)

    def add_ports(self, ports: list[dict]) -> None:
        pass  # given on the command line

    def stop(self) -> None:
        pid, self.pid = self.pid, 0
        if not pid:
            return
        try:
            os.kill(pid, 15)
        except OSError:
            return
        for _ in range(200):
            try:  # the daemon is our child (we are a subreaper) or already gone
                done, _st = os.waitpid(pid, os.WNOHANG)
                if done:
                    return
            except ChildProcessError:
                try:
                    os.kill(pid, 0)
                except OSError:
                    return
            time.sleep(0.005)
        try:
            os.kill(pid, 9)
        except OSError:
            pass


def start(pid: int, cdir: str, opts: NetConfig) -> Pasta:
    exe = find("pasta", opts.path or None)
    if exe is None:
        where = f"at {opts.path} (containers.conf network_cmd_path)" if opts.path else "in $PATH"
        raise NetError(f"pasta not found {where}: install passt (apt-get install passt), or use "
                       f"--network slirp4netns|none|host")
    check_tun()
    pidfile = os.path.join(cdir, PIDFILE)
    try:
        os.unlink(pidfile)
    except FileNotFoundError:
        pass
    argv = [exe, "--config-net", "-q", "-P", pidfile, *port_args(opts.ports), *opts.args]
    # no forwarding of anything but the published ports (pasta's default is "auto" for -t)
    if not any(a in ("-t", "--tcp-ports") for a in argv):
        argv += ["-t", "none"]
    if not any(a in ("-u", "--udp-ports") for a in argv):
        argv += ["-u", "none"]
    argv += ["-T", "none", "-U", "none", "--netns", f"/proc/{pid}/ns/net",
             "--userns", f"/proc/{pid}/ns/user"]
    child = os.fork()
    if child == 0:  # pragma: no cover
        try:
            from pypod.linux.spawn import reset_signals

            reset_signals()
            os.chdir(cdir)
            log = os.open(LOG, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            null = os.open("/dev/null", os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(log, 1)
            os.dup2(log, 2)
            os.closerange(3, 1 << 16)
            os.execv(exe, argv)
        except BaseException:  # noqa: BLE001
            pass
        os._exit(127)
    _, status = os.waitpid(child, 0)
    code = os.waitstatus_to_exitcode(status)
    daemon = 0
    try:
        with open(pidfile) as f:
            daemon = int(f.read().strip() or 0)
    except (OSError, ValueError):
        daemon = 0
    if code != 0 or not daemon:
        try:
            with open(os.path.join(cdir, LOG), "rb") as f:
                lines = [x for x in f.read().decode(errors="replace").splitlines() if x.strip()]
        except OSError:
            lines = []
        why = lines[-1].strip() if lines else f"exit status {code}"
        if "Address already in use" in why or "bind" in why.lower():
            raise NetError(f"pasta failed with exit code {code}: {why}")
        raise NetError(f"pasta failed with exit code {code}: {why}")
    return Pasta(daemon, cdir)
