"""pypod's own minimal init for `--init` where catatonit is not installed.

run_as_init() is called by the container's pid 1 right before execve, with the process's user,
capabilities and seccomp filter already in place: it forks; the child returns and execs the
container's command; the parent stays pid 1, forwards signals to the child, reaps every orphan,
and exits with the child's code (128+N when a signal N ended it), as catatonit does.
"""

from __future__ import annotations

import _signal
import os

_FORWARD = ("SIGHUP", "SIGINT", "SIGQUIT", "SIGTERM", "SIGUSR1", "SIGUSR2", "SIGWINCH",
            "SIGCONT", "SIGALRM", "SIGPIPE", "SIGTSTP", "SIGTTIN", "SIGTTOU")


def run_as_init() -> None:
    """Returns in the child (which goes on to exec); never returns in pid 1."""
    child = os.fork()
    if child == 0:
        return
    os.closerange(3, 1 << 16)  # the status pipe's EOF is the child's exec
    try:
        from pypod.linux import libc  # already imported by init (no import after pivot_root)

        libc.set_process_name("pypod-init")
    except OSError:
        pass

    def forward(signum, _frame):
        try:
            os.kill(child, signum)
        except ProcessLookupError:
            pass

    for name in _FORWARD:
        n = getattr(_signal, name, None)
        if n is not None:
            _signal.signal(n, forward)
    _signal.pthread_sigmask(_signal.SIG_SETMASK, [])
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            os._exit(0)
        if pid == child:
            code = os.waitstatus_to_exitcode(status)
            os._exit(128 - code if code < 0 else code)


def pause() -> None:
    """A pod's infra process (podman's catatonit -P): sleeps until SIGTERM, SIGINT or SIGHUP, reaps
    whatever is reparented to it; never returns."""
    os.closerange(3, 1 << 16)
    try:
        from pypod.linux import libc

        libc.set_process_name("pypod-pause")
        # a change of user (keep-id) cleared "dumpable", which an exec would have set again: the
        # members must be able to open its /proc/PID/ns/* to join them
        libc.prctl(libc.PR_SET_DUMPABLE, 1)
    except OSError:
        pass

    def leave(_signum, _frame):
        os._exit(0)

    for name in ("SIGTERM", "SIGINT", "SIGHUP"):
        _signal.signal(getattr(_signal, name), leave)
    _signal.signal(_signal.SIGCHLD, lambda *_: None)
    _signal.pthread_sigmask(_signal.SIG_SETMASK, [])
    while True:
        _signal.pause()
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            pass
