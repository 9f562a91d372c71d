"""Run a process inside a running container (`exec`, health checks).

A fresh process (or a fork of the single-threaded supervisor) opens the container's
/proc/PID/ns/* and /proc/PID/root, joins the namespaces (user first when rootless; pid applies to
children, so it forks after), chroots to the container's root, and the forked child resolves the
user, environment and cwd exactly as the container's own process did and execs. The child is in
the container's pid namespace: it dies with the container, and with its parent (PDEATHSIG).

    exec_in(container_dir, process, *, detach=False, stdin=None, stdout=None, stderr=None) -> int

is the launcher-side API; it spawns `python -I -S … pypod.runtime.exec CONTAINER_DIR …`.
"""

from __future__ import annotations

import os
import select
import sys

from pypod.linux import libc, proc, terminal
from pypod import jsonlite
from pypod.runtime import init, protocol
from pypod.runtime import state as statemod

NS_ORDER = ("user", "ipc", "uts", "net", "pid", "mnt")


NS_GET_USERNS = 0xB701  # ioctl on a namespace fd: the user namespace that owns it


def _mount_owner_userns(pid: int) -> int | None:
    """An fd of the user namespace owning `pid`'s mount namespace (None if unknown)."""
    import fcntl

    try:
        mfd = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fd = fcntl.ioctl(mfd, NS_GET_USERNS)
        os.set_inheritable(fd, False)
        return fd
    except OSError:
        return None
    finally:
        os.close(mfd)


def enter_container(pid: int, rootless: bool) -> None:
    """Join the namespaces of `pid` and chroot into its root (single-threaded caller).
    The user namespace owning its mount namespace comes first (its root may join the others);
    the process's own user namespace last when it is another one (--uidmap: pid 1 entered a
    nested one after its mounts were made)."""
    fds = []
    try:
        owner = _mount_owner_userns(pid)
        me = proc.ns_id("self", "user")
        theirs_user = proc.ns_id(pid, "user")
        if theirs_user is None:
            raise init.SetupError(f"container process {pid} is gone")
        owner_id = f"user:[{os.fstat(owner).st_ino}]" if owner is not None else theirs_user
        if owner is not None and owner_id != me:
            fds.append(("user", owner))
        elif owner is not None:
            os.close(owner)
        if owner is None and rootless and theirs_user != me:  # (an old kernel: the plain order)
            fds.append(("user", os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)))
            owner_id = theirs_user
        for ns in NS_ORDER:
            if ns == "user":
                continue
            theirs = proc.ns_id(pid, ns)
            if theirs is None:
                raise init.SetupError(f"container process {pid} is gone")
            if theirs == proc.ns_id("self", ns):
                continue
            fds.append((ns, os.open(f"/proc/{pid}/ns/{ns}", os.O_RDONLY | os.O_CLOEXEC)))
        if theirs_user not in (owner_id, me):
            fds.append(("user", os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)))
        root_fd = os.open(f"/proc/{pid}/root", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as e:
        for _, fd in fds:
            os.close(fd)
        raise init.SetupError(f"cannot open the namespaces of container process {pid}: "
                              f"{e.strerror}")
    try:
        for ns, fd in fds:
            try:
                libc.setns(fd, libc.NS_FLAGS[ns])
            except OSError as e:
                raise init.SetupError(f"join the {ns} namespace of process {pid}: {e.strerror}")
        os.fchdir(root_fd)
        libc.chroot(".")
        os.chdir("/")
    finally:
        for _, fd in fds:
            os.close(fd)
        os.close(root_fd)


def run_in_container(pid: int, process: dict, *, rootless: bool, hostname: str,
                     container_id: str, status_fd: int = -1, detach: bool = False,
                     on_forked=None, tty: bool = False, resize_fd: int = -1) -> int:
    """Enter the container, fork the process, wait for it; its exit code (128+N for signal N).
    Set-up and exec failures of the child are reported on status_fd (and are its exit code).
    tty: give the process a pty from the container's devpts and relay it to our stdio.
    resize_fd: "ROWS COLS" lines for the pty's size (the API's exec resize; our stdio is then a
    socket, which has no size to copy)."""
    process = dict(process, init="")  # --init concerns the container's own process only
    init.preload_seccomp(process)  # the program lives in the container dir, outside its root
    enter_container(pid, rootless)
    master = slave = -1
    if tty:
        master, slave = os.openpty()  # /dev/ptmx of the container (we are chrooted into it)
        os.set_inheritable(master, False)
        terminal.copy_winsize((0, 1, 2), master)
        if resize_fd >= 0:
            os.set_blocking(resize_fd, False)
            _apply_sizes(resize_fd, master)  # a size sent already: the process starts with it
    child = os.fork()
    if child == 0:
        try:
            if tty:
                os.close(master)
                os.setsid()
                terminal.make_controlling_fd(slave)
            elif detach:
                os.setsid()
            init.exec_process(process, hostname=hostname, container_id=container_id,
                              pdeathsig=True)
        except BaseException as e:  # noqa: BLE001
            init.fail(status_fd, e)
        os._exit(125)
    if on_forked:
        on_forked(child, master)
    if tty:
        os.close(slave)
        _relay_pty(master, bool(process.get("stdin")), resize_fd)
        os.close(master)
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except InterruptedError:  # pragma: no cover
            continue
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def _apply_sizes(resize_fd: int, master: int) -> bool:
    """Set the pty to the last "ROWS COLS" line waiting on resize_fd; False once it is closed."""
    try:
        data = os.read(resize_fd, 4096)
    except BlockingIOError:
        return True
    except OSError:
        return False
    lines = [x.split() for x in data.split(b"\n")]
    sizes = [x for x in lines if len(x) == 2 and x[0].isdigit() and x[1].isdigit()]
    if sizes:
        terminal.set_winsize(master, int(sizes[-1][0]), int(sizes[-1][1]))
    return bool(data)


def _relay_pty(master: int, relay_stdin: bool, resize_fd: int = -1) -> None:
    """Pty output → our stdout, our stdin → pty, until the pty's slave side is all closed."""
    p = select.poll()
    p.register(master, select.POLLIN)
    if relay_stdin:
        p.register(0, select.POLLIN)
    if resize_fd >= 0:
        p.register(resize_fd, select.POLLIN)
    while True:
        for fd, _ev in p.poll():
            if fd == resize_fd:
                if not _apply_sizes(resize_fd, master):
                    p.unregister(resize_fd)
            elif fd == master:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: no slave left
                    data = b""
                if not data:
                    return
                try:
                    while data:
                        data = data[os.write(1, data):]
                except OSError:
                    pass
            else:
                try:
                    data = os.read(0, 65536)
                except OSError:
                    data = b""
                if not data:
                    p.unregister(0)
                    data = b"\x04"  # EOF: ^D to the terminal
                try:
                    os.write(master, data)
                except OSError:
                    pass


# ---------------------------------------------------------------- the fresh helper process

def main(argv: list[str]) -> None:
    """exec CONTAINER_DIR --status-fd N [--resize-fd N] [--detach] --process JSON"""
    import _signal

    cdir = argv[0]
    status_fd, resize_fd, detach, process = -1, -1, False, None
    i = 1
    while i < len(argv):
        if argv[i] == "--status-fd":
            status_fd = int(argv[i + 1])
            i += 1
        elif argv[i] == "--resize-fd":
            resize_fd = int(argv[i + 1])
            i += 1
        elif argv[i] == "--detach":
            detach = True
        elif argv[i] == "--process":
            process = jsonlite.loads(argv[i + 1])
            i += 1
        i += 1
    os.closerange(max(status_fd, resize_fd, 2) + 1, 1 << 20)  # nothing stray into the container
    for fd in (status_fd, resize_fd):
        if fd >= 0:
            os.set_inheritable(fd, False)
    if detach:
        if os.fork() != 0:
            os._exit(0)
        os.setsid()
    # The terminal's ^C / ^\ reach the exec'd process directly (same process group); we wait
    # for it and report its exit code. Others we forward.
    child_pid = [0]
    pty_master = [-1]

    def forward(signum, frame):
        if signum == _signal.SIGWINCH and pty_master[0] >= 0:
            terminal.copy_winsize((0, 1, 2), pty_master[0])
        elif child_pid[0]:
            try:
                os.kill(child_pid[0], signum)
            except OSError:
                pass

    for name in ("SIGINT", "SIGQUIT"):
        _signal.signal(getattr(_signal, name), _signal.SIG_IGN)
    for name in ("SIGTERM", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGWINCH"):
        _signal.signal(getattr(_signal, name), forward)
    try:
        st = statemod.read_state(cdir)
        if not statemod.is_running(st) or not st.get("pid"):
            raise init.SetupError(f"can only create exec sessions on running containers: "
                                  f"container state improper", 125)
        with open(os.path.join(cdir, "spec.json"), "rb") as f:
            spec = jsonlite.loads(f.read())
        # podman: an exec'd process gets the container's capabilities, seccomp filter,
        # no_new_privileges and rlimits
        process = dict(process or {})
        sp = spec.get("process") or {}
        own_caps = process.get("capabilities")  # exec --privileged
        for key in ("capabilities", "user_capabilities", "seccomp", "no_new_privileges", "rlimits",
                    "group_add"):
            if key in sp:
                process[key] = sp[key]
        if own_caps is not None:
            process["capabilities"] = own_caps
        init.preload_seccomp(process)  # before entering the container's root

        def forked(pid, master):
            child_pid[0] = pid
            pty_master[0] = master
            if status_fd >= 0:
                os.close(status_fd)  # the launcher sees EOF once the child has exec'd

        code = run_in_container(int(st["pid"]), process or {}, rootless=bool(st.get("rootless")),
                                hostname="",  # podman: exec sessions get no HOSTNAME of their own
                                container_id=spec.get("id") or "", status_fd=status_fd,
                                detach=detach, on_forked=forked,
                                tty=bool((process or {}).get("terminal")) and not detach,
                                resize_fd=resize_fd)
    except BaseException as e:  # noqa: BLE001
        init.fail(status_fd, e)
    os._exit(code & 0xFF)


# ---------------------------------------------------------------- launcher side

def exec_in(container_dir: str, process, *, detach: bool = False, stdin=None, stdout=None,
            stderr=None, on_started=None, resize=None) -> int:
    """Run `process` (ProcessSpec or dict) in the running container; returns its exit code
    (0 at once with detach). Raises LaunchError (125 set-up, 126 cannot invoke, 127 not found).
    stdin/stdout/stderr: None (inherit) or an int fd / object with fileno(). stdin is attached
    only with process.stdin (-i); otherwise /dev/null. on_started(): called once the process
    runs in the container (or failed to), before waiting for it (the engine drops the
    container's lock there). resize: a fd the pty's sizes come on ("ROWS COLS" lines) when
    stdin is no terminal to copy it from."""
    from pypod.linux.spawn import lean_python_argv
    from pypod.runtime.launch import LaunchError, _fd_of

    pd = process.to_dict() if hasattr(process, "to_dict") else (
        process if isinstance(process, dict) else _asdict(process))
    r, w = os.pipe()
    actions = []
    if detach:
        for fd in (0, 1, 2):
            actions.append((os.POSIX_SPAWN_OPEN, fd, "/dev/null", os.O_RDWR, 0))
    else:
        if not pd.get("stdin"):
            actions.append((os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0))
        elif stdin is not None:
            actions.append((os.POSIX_SPAWN_DUP2, _fd_of(stdin), 0))
        if stdout is not None:
            actions.append((os.POSIX_SPAWN_DUP2, _fd_of(stdout), 1))
        if stderr is not None:
            actions.append((os.POSIX_SPAWN_DUP2, _fd_of(stderr), 2))
    actions.append((os.POSIX_SPAWN_DUP2, w, 3))
    args = [container_dir, "--status-fd", "3", "--process", jsonlite.dumps(pd)]
    if resize is not None:
        actions.append((os.POSIX_SPAWN_DUP2, _fd_of(resize), 4))
        args += ["--resize-fd", "4"]
    if detach:
        args.append("--detach")
    argv = lean_python_argv("pypod.runtime.exec", args)
    import signal

    from pypod.runtime.launch import _SigProxy

    tty = bool(pd.get("terminal")) and not detach
    # ^C reaches the exec'd process through the terminal (or the pty); SIGWINCH → the helper
    proxy = _SigProxy(terminal=tty, forward=False)
    try:
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        old = None
    try:
        pid = os.posix_spawn(argv[0], argv, dict(os.environ), file_actions=actions)
        proxy.supervisor_pid = pid
        os.close(w)
        if tty:
            proxy.raw(_fd_of(stdin) if stdin is not None else 0)
        msgs = protocol.Reader(r).all()
        os.close(r)
        if on_started is not None:
            on_started()
        _, status = os.waitpid(pid, 0)
    finally:
        proxy.restore()
        if old is not None:
            signal.signal(signal.SIGINT, old)
    for m in msgs:
        if m.get("type") == protocol.ERROR:
            raise LaunchError(m.get("message") or "exec failed", int(m.get("code") or 125))
    if detach:
        return 0
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def _asdict(obj) -> dict:
    import dataclasses

    return dataclasses.asdict(obj)


if __name__ == "__main__":
    main(sys.argv[1:])
