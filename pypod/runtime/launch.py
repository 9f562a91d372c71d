"""The runtime API the engine calls: start / stop / kill / wait (exec is in exec.py).

    start(spec, container_dir, *, foreground, stdin=None, stdout=None, stderr=None,
          holder_dir=None) -> Started
    stop(container_dir, timeout, signal=15) -> bool          (True: SIGKILL was needed)
    kill(container_dir, sig) -> None
    wait(container_dir, conditions=("stopped", "exited"), interval=0.25, timeout=None) -> int

start() starts the supervisor on CONTAINER_DIR/spec.json (which the engine wrote when it derived
the spec: engine/containers/spec.py; a start never rewrites it, what differs per start travels as
the supervisor's arguments), then returns when the container's process has been exec'd — or raises
LaunchError(message, exit_code) with 125 (set-up), 126 (cannot invoke) or 127 (not found).

DESIGN: how the supervisor is started. `pypod run` and `pypod start` call prefork() first
thing, while the CLI is still small (its parser only) and single-threaded: that fork imports the
supervisor's modules *while* the CLI creates the container, then waits on a pipe for its
arguments, and start() hands them over — no second interpreter start-up and no re-import on the
critical path. Anyone else (an API server, compose, a CLI that forked no zygote, or file actions
other than the CLI's own stdio) gets a fresh lean python by posix_spawn (`python -I -S`), which is
safe from a threaded process.

Measured on this 2-core VM under load (`scripts/bench launch`: medians of 25, the CLI's modules
as at `run -d`), from "ready to launch" to "the supervisor's code is loaded": posix_spawn + a
fresh interpreter + its imports 135 ms; forking the CLI at launch time + the imports 68 ms; the
prefork()ed zygote 9 ms, its imports having run during the CLI's ~60 ms of create work. RSS of
a running supervisor: spawned 9.6 MiB; forked at launch time 17.5 MiB (the CLI's whole heap,
paid per running container, over the 15 MiB budget); prefork()ed 11.5-12.8 MiB (only the
parser was loaded when it forked).

Why the fork is safe: only with one thread (/proc/self/task), before any lock is taken; stdio
flushed first (nothing written twice); the child restores default signal handlers, retitles its
command line (ps shows pypod-conmon ID, not the `pypod run` that forked it), never returns into
the CLI (os._exit on every path), exits when the CLI closes the pipe without arguments, and
supervisor.main() closes every other descriptor before it daemonizes.
"""

from __future__ import annotations

import os
import time

from pypod.errors import PypodError
from pypod.linux import proc
from pypod import faults, jsonlite
from pypod.runtime import protocol
from pypod.runtime import state as statemod

FORWARD_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2")
KILL_WAIT = 10  # s: a SIGKILLed process is gone in far less, unless the kernel is stuck
RECORD_WAIT = 5  # s: the supervisor records an exit in milliseconds, unless it is wedged


class LaunchError(PypodError):
    """Starting (or exec'ing in) a container failed; exit_code is podman's (125/126/127)."""

    def __init__(self, message: str, exit_code: int = 125):
        super().__init__(message)
        self.exit_code = exit_code


class _SigProxy:
    """Forward SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2 to the container (podman's
    sig-proxy). Installed before the supervisor is spawned, so a signal that arrives before
    the container's pid is known is kept and delivered once it is."""

    def __init__(self, terminal: bool = False, forward: bool = True):
        import signal

        self.pid = 0
        self.supervisor_pid = 0
        self.pending: list[int] = []
        self.old: dict = {}
        self.tty_fd = -1
        self.tty_attrs = None
        try:
            for name in FORWARD_SIGNALS if forward else ():
                s = getattr(signal, name)
                self.old[s] = signal.signal(s, self._handler)
            if terminal:  # the supervisor resizes the container's pty
                self.old[signal.SIGWINCH] = signal.signal(signal.SIGWINCH, self._winch)
        except ValueError:  # not the main thread: no forwarding
            pass

    def _winch(self, signum, frame) -> None:
        if self.supervisor_pid:
            try:
                os.kill(self.supervisor_pid, signum)
            except OSError:
                pass

    def raw(self, fd: int) -> None:
        """Put the user's terminal in raw mode while attached to a -t container."""
        if not os.isatty(fd):
            return
        import termios
        import tty

        self.tty_fd = fd
        self.tty_attrs = termios.tcgetattr(fd)
        # TCSANOW, not setraw's default TCSAFLUSH: the container already runs, and what the
        # user typed ahead (or a script wrote) must reach it, not be discarded
        tty.setraw(fd, termios.TCSANOW)

    def _handler(self, signum, frame) -> None:
        if not self.pid:
            self.pending.append(signum)
            return
        try:
            os.kill(self.pid, signum)
        except OSError:
            pass

    def target(self, pid: int) -> None:
        self.pid = pid
        pending, self.pending = self.pending, []
        for s in pending:
            self._handler(s, None)

    def restore(self) -> None:
        import signal

        if self.tty_attrs is not None:
            import termios

            try:
                termios.tcsetattr(self.tty_fd, termios.TCSADRAIN, self.tty_attrs)
            except termios.error:
                pass
            self.tty_attrs = None
        for s, h in self.old.items():
            signal.signal(s, h)
        self.old = {}


class Started:
    """A started container: pid (host pid of its pid 1), supervisor_pid, warnings said."""

    def __init__(self, container_dir: str, pid: int, supervisor_pid: int,
                 reader: protocol.Reader | None, warnings: list[str],
                 proxy: _SigProxy | None = None, warn=None):
        self.container_dir = container_dir
        self._warn = warn  # the caller's: runtime/ prints nothing itself
        self.pid = pid
        self.supervisor_pid = supervisor_pid
        self.warnings = warnings
        self._reader = reader
        self._proxy = proxy
        self._code: int | None = None
        self.detached = False  # the user typed the detach keys (the container runs on)

    def wait(self) -> int:
        """Foreground only: block until the container exits (its output fully relayed),
        forwarding SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2 to it; its exit code.
        (The forwarding starts in start(foreground=True) and ends here.)"""
        if self._code is not None:
            return self._code
        if self._reader is None:
            return wait(self.container_dir)
        try:
            code = None
            while True:
                m = self._reader.next()
                if m is None:
                    break
                if m.get("type") == protocol.EXIT:
                    code = int(m.get("code") or 0)
                    break
                if m.get("type") == "detached":
                    self.detached = True
                    code = 0
                    break
                if m.get("type") == protocol.WARNING:  # e.g. our stdout fell too far behind
                    self.warnings.append(m.get("message") or "")
                    if self._warn is not None:
                        self._warn(m.get("message") or "")
        finally:
            if self._proxy:
                self._proxy.restore()
            try:
                os.close(self._reader.fd)
            except OSError:
                pass
            self._reader = None
        if code is None:  # the supervisor went away without a word
            code = int(statemod.read_state(self.container_dir).get("exit_code") or 137)
        self._code = code
        return code


def _fd_of(x) -> int:
    return x if isinstance(x, int) else x.fileno()


def _spec_dict(spec) -> dict:
    if isinstance(spec, dict):
        return spec
    return spec.to_dict()


PRESERVE_BASE = 512  # where --preserve-fds' descriptors wait in the supervisor


def supervisor_args(container_dir: str, *, foreground: bool, holder_dir: str | None) -> list[str]:
    args = [container_dir, "--status-fd", "3"]
    if foreground:
        args.append("--foreground")
    if holder_dir:
        args += ["--holder-dir", holder_dir]
    return args


def _single_threaded() -> bool:
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


def _retitle(title: str) -> None:
    """Overwrite this process's command line (/proc/PID/cmdline, what ps and pgrep -f show) in
    place: a forked supervisor must not look like the `pypod run ...` that started it. The kernel
    reads it from the argv area of our own memory (arg_start..arg_end in /proc/self/stat), which
    Python keeps no object in; longer titles are cut to fit."""
    try:
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        start, end = int(fields[45]), int(fields[46])  # fields 48 and 49 of proc(5)
        if end <= start:
            return
        data = title.encode()[:end - start - 1]
        with open("/proc/self/mem", "r+b", buffering=0) as mem:
            mem.seek(start)
            mem.write(data + b"\0" * (end - start - len(data)))
    except (OSError, ValueError, IndexError):
        pass  # cosmetic


_zygote: tuple[int, int, int] | None = None  # (pid, command pipe, status pipe) of prefork()


def prefork(entry) -> None:
    """Fork the supervisor-to-be now, at the start of `pypod run`/`start`, while the CLI is
    small and single-threaded (see DESIGN above). It imports the supervisor's modules while the
    CLI creates the container, then waits for its arguments; it exits if they never come."""
    global _zygote
    if _zygote is not None or not _single_threaded():
        return
    # (nothing is buffered on stdout yet: it is the first thing run/start do; and the child
    # leaves through os._exit, which never flushes a copy of the parent's buffers)
    cmd_r, cmd_w = os.pipe()
    st_r, st_w = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        for fd in (cmd_r, cmd_w, st_r, st_w):
            os.close(fd)
        return
    if pid:
        os.close(cmd_r)
        os.close(st_w)
        _zygote = (pid, cmd_w, st_r)
        return
    os.close(cmd_w)
    os.close(st_r)
    _zygote_child(cmd_r, st_w, entry)


def _zygote_child(cmd_r: int, st_w: int, entry) -> None:
    """The forked child: it never returns into the CLI."""
    try:
        _zygote_main(cmd_r, st_w, entry)
    except BaseException as e:  # noqa: BLE001 - the launcher reads the missing STARTED as a failure
        try:
            os.write(2, f"supervisor: {e!r}\n".encode())
        except OSError:
            pass
    os._exit(125)


def _zygote_main(cmd_r: int, st_w: int, entry) -> None:
    """entry: the supervisor's main(argv) (pypod.engine.supervise's, which plugs network/'s
    driver in: runtime/ never imports it), handed down by the CLI."""
    import signal

    for name in (*FORWARD_SIGNALS, "SIGWINCH"):
        signal.signal(getattr(signal, name), signal.SIG_DFL)
    _retitle("pypod-conmon")
    # the supervisor's imports now, while the CLI creates the container, not once it is created
    preload = getattr(entry, "preload", None)
    if preload is not None:
        try:
            preload()
        except Exception:  # noqa: BLE001 - main() imports them again and reports what fails
            pass

    chunks = []
    while True:
        b = os.read(cmd_r, 65536)
        if not b:
            break
        chunks.append(b)
    os.close(cmd_r)
    if not chunks:  # the CLI did not need us
        os._exit(0)
    msg = jsonlite.loads(b"".join(chunks))
    for fd, path, flags, mode in msg["open"]:
        new = os.open(path, flags, mode)
        if new != fd:
            os.dup2(new, fd)
            os.close(new)
        else:
            os.set_inheritable(fd, True)
    if st_w != 3:
        os.dup2(st_w, 3)
        os.close(st_w)
    else:
        os.set_inheritable(3, True)
    args = msg["args"]
    _retitle(f"pypod-conmon {os.path.basename(args[0].rstrip('/'))}")
    entry(args)


def _use_zygote(actions: list[tuple], args: list[str]) -> tuple[int, int] | None:
    """Hand the prefork()ed process its arguments: (pid, status pipe), or None when there is
    none or it cannot take these file actions (it only has the CLI's own stdio)."""
    global _zygote
    if _zygote is None:
        return None
    pid, cmd_w, st_r = _zygote
    _zygote = None
    opens = [[a[1], a[2], a[3], a[4]] for a in actions if a[0] == os.POSIX_SPAWN_OPEN]
    fits = all(a[0] == os.POSIX_SPAWN_OPEN or (a[1] == a[2] and a[2] in (0, 1, 2)) for a in actions)
    try:
        if fits:
            data = jsonlite.dumps({"args": args, "open": opens}).encode()
            while data:
                data = data[os.write(cmd_w, data):]
    except OSError:  # it died: start a fresh one instead
        fits = False
    os.close(cmd_w)
    if not fits:
        os.close(st_r)
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        return None
    return pid, st_r


def _warn_once(msg: str, notice_dir: str | None, warn) -> None:
    """Say a fallback once (per boot and user: the marker lives in the runtime dir) through the
    caller's `warn` (runtime/ prints nothing itself)."""
    if notice_dir:
        key = "".join(c if c.isalnum() else "-" for c in msg.split(" (")[0].split(":")[0])[:80]
        marker = os.path.join(notice_dir, f"notice-{key}")
        if os.path.exists(marker):
            return
        try:
            os.makedirs(notice_dir, 0o700, exist_ok=True)
            with open(marker, "w"):
                pass
        except OSError:
            pass
    if warn is not None:
        warn(msg)


def _notice_dir(holder_dir: str | None) -> str | None:
    if holder_dir:
        return os.path.dirname(holder_dir.rstrip("/"))
    try:
        from pypod import paths

        return paths.default_run_root()
    except Exception:  # noqa: BLE001 - a notice is not worth failing for
        return None


_fallback_warned = False


def start(spec, container_dir: str, *, foreground: bool, stdin=None, stdout=None, stderr=None,
          holder_dir: str | None = None, warn=None, preserve_fds: int = 0,
          detach_keys: str | None = None, cleanup_if_detached: bool = False,
          open_stdin: bool = False) -> Started:
    """Start the container whose spec is CONTAINER_DIR/spec.json; `spec` is that spec (a
    ContainerSpec or its dict: launch reads its name and process settings, it does not write it).
    This start only: detach_keys (of a foreground -it run / start -ai; None: ctrl-p,ctrl-q),
    cleanup_if_detached (a foreground `run --rm`: the CLI removes it, unless the user detaches),
    open_stdin (start -i: stdin kept open though the container was created without -i).
    `warn(message)` is called with each warning as it comes, before the container can write
    anything (they are also in Started.warnings)."""
    global _fallback_warned
    sd = _spec_dict(spec)
    os.makedirs(container_dir, exist_ok=True)
    st = statemod.read_state(container_dir)
    if statemod.is_running(st) or proc.alive(st.get("supervisor_pid"),
                                             st.get("supervisor_starttime")):
        # (a live supervisor of an exited container: its restart policy is about to restart it)
        raise LaunchError(f"container {sd.get('name') or sd.get('id')} is already running", 125)
    try:
        os.unlink(os.path.join(container_dir, statemod.STOP_MARKER))
    except FileNotFoundError:
        pass
    rootless = os.geteuid() != 0
    if rootless:
        if holder_dir is None:
            from pypod import paths  # (as Context.holder_dir, without importing ctypes)

            holder_dir = os.path.join(paths.default_run_root(), "userns")
        from pypod.linux import idmap

        m = idmap.compute_mapping()
        if m.single and not _fallback_warned:
            _fallback_warned = True
            _warn_once(m.warning(), _notice_dir(holder_dir), warn)
    proxy = _SigProxy(bool((sd.get("process") or {}).get("terminal"))) if foreground else None
    extra = ["--preserve-fds", str(preserve_fds)] if preserve_fds else []
    if detach_keys is not None:
        extra += ["--detach-keys", detach_keys]
    if cleanup_if_detached:
        extra.append("--cleanup-if-detached")
    if open_stdin:
        extra.append("--open-stdin")
    try:
        return _spawn(sd, container_dir, foreground, stdin, stdout, stderr, holder_dir, proxy, warn,
                      preserve_fds, extra, open_stdin)
    except BaseException:
        if proxy:
            proxy.restore()
        raise


def _spawn(sd, container_dir, foreground, stdin, stdout, stderr, holder_dir, proxy, warn,
           preserve_fds: int = 0, extra: list[str] = (), open_stdin: bool = False) -> Started:
    # run --preserve-fds N: our fds 3..3+N-1 travel to the supervisor out of the way of its own
    # (at PRESERVE_BASE+i), and from it to the container's process as 3..3+N-1 again
    actions: list[tuple] = [(os.POSIX_SPAWN_DUP2, 3 + i, PRESERVE_BASE + i) for i in range(preserve_fds)]
    if foreground:
        if not ((sd.get("process") or {}).get("stdin") or open_stdin):
            actions.append((os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0))
        elif stdin is not None:
            actions.append((os.POSIX_SPAWN_DUP2, _fd_of(stdin), 0))
        if stdout is not None:
            actions.append((os.POSIX_SPAWN_DUP2, _fd_of(stdout), 1))
        if stderr is not None:
            actions.append((os.POSIX_SPAWN_DUP2, _fd_of(stderr), 2))
    else:
        for fd in (0, 1, 2):
            actions.append((os.POSIX_SPAWN_OPEN, fd, "/dev/null", os.O_RDWR, 0))
    args = supervisor_args(container_dir, foreground=foreground, holder_dir=holder_dir) + list(extra)
    forked = _use_zygote(actions, args)
    if forked:
        pid, r = forked
    else:
        from pypod.linux.spawn import lean_python_argv

        r, w = os.pipe()
        actions.append((os.POSIX_SPAWN_DUP2, w, 3))
        # the entry point plugs network/'s driver into the Supervisor (runtime/ never imports it)
        argv = lean_python_argv("pypod.engine.supervise", args)
        try:
            pid = os.posix_spawn(argv[0], argv, dict(os.environ), file_actions=actions)
        except OSError as e:
            os.close(r)
            os.close(w)
            raise LaunchError(f"cannot start the supervisor: {e.strerror}", 125)
        os.close(w)
    os.waitpid(pid, 0)  # it daemonizes at once
    faults.point("start")
    reader = protocol.Reader(r)
    warnings: list[str] = []
    while True:
        m = reader.next()
        if m is None:
            os.close(r)
            st = statemod.read_state(container_dir)
            raise LaunchError(st.get("error") or "the supervisor exited before starting the "
                              "container", int(st.get("exit_code") or 125))
        t = m.get("type")
        if t == protocol.WARNING:
            warnings.append(m.get("message") or "")
            _warn_once(m.get("message") or "", _notice_dir(holder_dir), warn)
        elif t == protocol.ERROR:
            os.close(r)
            raise LaunchError(m.get("message") or "start failed", int(m.get("code") or 125))
        elif t == protocol.STARTED:
            started = Started(container_dir, int(m["pid"]), int(m["supervisor_pid"]),
                              reader if foreground else None, warnings, proxy, warn)
            if proxy:
                proxy.supervisor_pid = started.supervisor_pid
                proxy.target(started.pid)
                if (sd.get("process") or {}).get("terminal"):
                    proxy.raw(_fd_of(stdin) if stdin is not None else 0)
            if not foreground:
                os.close(r)
            return started


def _pidfd_wait(pid: int, start: int | None, timeout: float | None) -> bool:
    """Wait until `pid` (the process with that start time) has exited; False on timeout."""
    if not proc.alive(pid, start):
        return True
    import select

    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return not proc.alive(pid, start)
    try:
        if not proc.alive(pid, start):
            return True
        p = select.poll()
        p.register(fd, select.POLLIN)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            ms = -1 if deadline is None else max(0, int((deadline - time.monotonic()) * 1000))
            if p.poll(ms):
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return not proc.alive(pid, start)
    finally:
        os.close(fd)


def _not_running_error(container_dir: str, st: dict, what: str) -> LaunchError:
    return LaunchError(f"can only {what} running containers. {os.path.basename(container_dir)} "
                       f"is in state {st.get('status')}: container state improper", 125)


def kill(container_dir: str, sig: int) -> None:
    """Send `sig` to the container's pid 1 (rootless too: we own its user namespace)."""
    st = statemod.read_state(container_dir)
    if not statemod.is_running(st) or not st.get("pid"):
        raise _not_running_error(container_dir, st, "kill")
    pid = int(st["pid"])
    if not proc.alive(pid, st.get("pid_starttime")):
        return
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError as e:
        raise LaunchError(f"kill container {pid}: {e.strerror}", 125)


def stop(container_dir: str, timeout: int, signal: int = 15) -> bool:
    """Signal, wait up to `timeout` s, then SIGKILL; ends the restart policy. Returns whether
    SIGKILL was needed, once the exit is recorded. A supervisor that does not record the exit
    of a dead pid 1 is wedged: it is killed (the state then reads as exited, 137). Raises
    LaunchError (125) when the container is still alive after all that: never a success for a
    container that still runs. (A caller holding the container's lock calls signal_stop(),
    releases it, then settle_stop(): the supervisor takes that lock to record the exit.)"""
    killed, st = signal_stop(container_dir, timeout, signal)
    settle_stop(container_dir, st)
    return killed


def signal_stop(container_dir: str, timeout: int, signal: int = 15) -> tuple[bool, dict]:
    """The first half of stop(): ask the supervisor not to restart, signal pid 1, wait up to
    `timeout` s for it to die, then SIGKILL it. Needs nothing from the supervisor (the kernel
    says when pid 1 is dead), so it may run under the container's lock. Returns (whether
    SIGKILL was needed, the state it acted on)."""
    st = statemod.read_state(container_dir)
    sup, sup_start = int(st.get("supervisor_pid") or 0), st.get("supervisor_starttime")
    if statemod.is_running(st) or proc.alive(sup, sup_start):
        # also between two runs of a restart policy: the supervisor must not start another
        with open(os.path.join(container_dir, statemod.STOP_MARKER), "w"):
            pass
    if not statemod.is_running(st):
        return False, st
    pid, start = int(st.get("pid") or 0), st.get("pid_starttime")
    killed = False
    if pid and proc.alive(pid, start):
        try:
            os.kill(pid, signal)
        except ProcessLookupError:
            pass
        if not _pidfd_wait(pid, start, max(0.0, float(timeout))):
            killed = True
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
            _pidfd_wait(pid, start, KILL_WAIT)
    faults.point("stop")
    return killed, st


def settle_stop(container_dir: str, st: dict) -> None:
    """The second half of stop(), without the container's lock: wait for the exit to be
    recorded; a supervisor that does not record the exit of a dead pid 1 is wedged and is
    killed; LaunchError (125) if the container is still alive after all that."""
    if not statemod.is_running(st) or _exit_recorded(container_dir, RECORD_WAIT):
        wait_settled(container_dir)
        return
    name = os.path.basename(container_dir)
    pid, start = int(st.get("pid") or 0), st.get("pid_starttime")
    sup, sup_start = int(st.get("supervisor_pid") or 0), st.get("supervisor_starttime")
    if pid and proc.alive(pid, start):
        raise LaunchError(f"container {name} did not stop: its process {pid} is still alive "
                          f"{KILL_WAIT} seconds after SIGKILL", 125)
    if sup and proc.alive(sup, sup_start):
        try:
            os.kill(sup, 9)  # its pid 1 is dead (PDEATHSIG ends anything left of it)
        except ProcessLookupError:
            pass
        _pidfd_wait(sup, sup_start, KILL_WAIT)
    if not _exit_recorded(container_dir, 1.0):
        raise LaunchError(f"container {name} did not stop: its supervisor ({sup}) did not record "
                          "the exit and could not be ended", 125)


def settling(st: dict) -> bool:
    """The supervisor lives but the container's pid 1 does not: it is recording the exit,
    tearing the run down, or about to restart it (restart policy)."""
    if not proc.alive(st.get("supervisor_pid"), st.get("supervisor_starttime")):
        return False
    return not (statemod.is_running(st) and proc.alive(st.get("pid"), st.get("pid_starttime")))


def wait_settled(container_dir: str, timeout: float = 10) -> dict:
    """Wait (without the container's lock: the supervisor needs it) until the container is no
    longer settling — its exit recorded and the supervisor gone, or running again; the state."""
    deadline = time.monotonic() + timeout
    while True:
        st = statemod.read_state(container_dir)
        if not settling(st) or time.monotonic() >= deadline:
            return st
        time.sleep(0.005)  # (the supervisor lives on after the record: nothing to wake on)


def _exit_recorded(container_dir: str, timeout: float) -> bool:
    """Wait until the state no longer shows the container running (read_state also corrects it
    when the supervisor is gone)."""
    deadline = time.monotonic() + timeout
    while True:
        cur = statemod.read_state(container_dir)
        if not statemod.is_running(cur):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)


def _matches(st: dict, conditions) -> bool:
    status = st.get("status")
    for c in conditions:
        c = c.lower()
        if c == status:
            return True
        if c in ("stopped", "exited") and status in ("stopped", "exited"):
            return True
        if c in ("stopped", "exited") and status == "created" and st.get("error"):
            return True  # failed to start: nothing to wait for
        if c in ("healthy", "unhealthy") and (st.get("health") or {}).get("status") == c:
            return True
    return False


def wait(container_dir: str, conditions=("stopped", "exited"), interval: float = 0.25,
         timeout: float | None = None) -> int:
    """Block until the state matches one of `conditions` (a status, or healthy/unhealthy);
    the exit code. Wakes at once when the supervisor exits; polls every `interval` otherwise."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        st = statemod.read_state(container_dir)
        if _matches(st, conditions):
            return int(st.get("exit_code") or 0)
        if deadline is not None and time.monotonic() >= deadline:
            raise TimeoutError(f"timed out waiting for {container_dir}")
        sup = int(st.get("supervisor_pid") or 0)
        step = interval if deadline is None else \
            min(interval, max(0.0, deadline - time.monotonic()))
        if sup and statemod.is_running(st):
            _pidfd_wait(sup, st.get("supervisor_starttime"), step)
        else:
            time.sleep(step)
