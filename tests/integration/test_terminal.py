"""Issue 7: terminals — a real terminal (tmux) for -it, detach keys, attach; pipes through -i."""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
import time

import pytest

from tests.lib.checks import ok
from tests.lib.user import PYPOD, as_user_argv, pypod, pypod_bytes

pytestmark = pytest.mark.integration


class Tmux:
    def __init__(self, name: str):
        self.sock = name

    def __call__(self, *args: str) -> str:
        r = subprocess.run(["tmux", "-L", self.sock, *args], capture_output=True, text=True, timeout=20)
        assert r.returncode == 0, r.stderr
        return r.stdout

    def screen(self, target: str) -> str:
        return self("capture-pane", "-p", "-J", "-S", "-200", "-t", target)

    def wait_for(self, target: str, text: str, timeout: float = 20) -> str:
        end = time.time() + timeout
        while time.time() < end:
            s = self.screen(target)
            if text in s:
                return s
            time.sleep(0.1)
        raise AssertionError(f"{text!r} not on the screen of {target}:\n{self.screen(target)}")


@pytest.fixture
def tmux():
    t = Tmux(f"pypod-test-{os.getpid()}")
    yield t
    subprocess.run(["tmux", "-L", t.sock, "kill-server"], capture_output=True)


def shell_line(*pypod_args: str) -> str:
    """A tmux pane command: pypod as the test user, then its exit code and the terminal's modes."""
    argv = as_user_argv([PYPOD, *pypod_args])
    return (f"{shlex.join(argv)}; echo EXIT=$?; stty -a | tr '\\n' ' '; echo; echo END; sleep 600")


def test_run_it_size_detach_attach(busybox, tmux):
    tmux("new-session", "-d", "-s", "s", "-x", "80", "-y", "24",
         shell_line("run", "-it", "--name", "t1", busybox, "sh"))
    tmux.wait_for("s", "# ")
    tmux("send-keys", "-t", "s", "stty size; tty", "Enter")
    tmux.wait_for("s", "24 80")
    tmux("resize-window", "-t", "s", "-x", "100", "-y", "30")
    time.sleep(0.3)
    tmux("send-keys", "-t", "s", "clear; stty size", "Enter")
    tmux.wait_for("s", "30 100")
    # ctrl-p ctrl-q: pypod returns 0, the container runs on, the terminal is sane again
    tmux("send-keys", "-t", "s", "C-p", "C-q")
    screen = tmux.wait_for("s", "END")
    assert "EXIT=0" in screen
    modes = screen.split("EXIT=0", 1)[1]
    assert " icanon " in modes and " echo " in modes and " -icanon" not in modes
    assert ok("inspect", "-f", "{{.State.Running}}", "t1").stdout.strip() == "true"
    # attach: output flows, input reaches the shell; detach again with custom keys
    tmux("new-window", "-t", "s:", "-n", "a", shell_line("attach", "--detach-keys", "ctrl-x,y", "t1"))
    time.sleep(0.5)
    tmux("send-keys", "-t", "s:a", "echo hel''lo-attach", "Enter")
    tmux.wait_for("s:a", "hello-attach")
    tmux("send-keys", "-t", "s:a", "C-x", "y")
    assert "EXIT=0" in tmux.wait_for("s:a", "END")
    assert ok("inspect", "-f", "{{.State.Running}}", "t1").stdout.strip() == "true"
    # a second attach ends with the container: attach returns its exit code
    tmux("new-window", "-t", "s:", "-n", "b", shell_line("attach", "t1"))
    time.sleep(0.5)
    tmux("send-keys", "-t", "s:b", "exit 3", "Enter")
    assert "EXIT=3" in tmux.wait_for("s:b", "END")
    assert ok("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "t1").stdout.split() == ["exited", "3"]
    # start -ai of a created -it container: the same terminal, the same detach keys
    ok("create", "-it", "--name", "t2", busybox, "sh")
    tmux("new-window", "-t", "s:", "-n", "c", shell_line("start", "-ai", "t2"))
    tmux.wait_for("s:c", "# ")
    tmux("send-keys", "-t", "s:c", "echo in-t''2", "Enter")
    tmux.wait_for("s:c", "in-t2")
    tmux("send-keys", "-t", "s:c", "C-p", "C-q")
    assert "EXIT=0" in tmux.wait_for("s:c", "END")
    assert ok("inspect", "-f", "{{.State.Running}}", "t2").stdout.strip() == "true"
    # the log has what the terminal showed
    assert "hello-attach" in ok("logs", "t1").stdout
    r = pypod("attach", "t1")
    assert r.returncode == 125 and "you can only attach to running containers" in r.stderr


def test_attach_non_tty_several_readers(busybox):
    ok("run", "-d", "-i", "--name", "p1", busybox, "sh", "-c",
       "while read l; do echo got:$l; [ \"$l\" = stop ] && exit 4; done")
    procs = [subprocess.Popen(as_user_argv([PYPOD, "attach", "--no-stdin", "p1"]), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    time.sleep(1.0)
    writer = subprocess.run(as_user_argv([PYPOD, "attach", "p1"]), input="one\nstop\n", capture_output=True,
                            text=True, timeout=30)
    assert writer.returncode == 4 and writer.stdout == "got:one\ngot:stop\n"
    for p in procs:
        out, _ = p.communicate(timeout=30)
        assert p.returncode == 4 and out == "got:one\ngot:stop\n"


def test_attach_sig_proxy_and_logs_follow_restart(busybox):
    import signal

    ok("run", "-d", "--name", "sp", busybox, "sh", "-c",
       "trap 'echo got-term; exit 7' TERM; echo up; while true; do sleep 0.1; done")
    p = subprocess.Popen(as_user_argv([PYPOD, "attach", "sp"]), stdout=subprocess.PIPE, text=True)
    time.sleep(1.0)
    child = subprocess.run(["pgrep", "-P", str(p.pid)], capture_output=True, text=True).stdout.split()
    assert child, "pypod attach is not running"
    os.kill(int(child[0]), signal.SIGTERM)  # to pypod attach (under runuser), which proxies it
    out, _ = p.communicate(timeout=30)
    assert p.returncode == 7 and "got-term" in out
    # logs -f follows a container across its restarts (on-failure:2: three runs)
    ok("run", "-d", "--name", "rs", "--restart", "on-failure:2", busybox, "sh", "-c", "echo run; sleep 0.5; exit 1")
    r = pypod("logs", "-f", "rs", timeout=60)
    assert r.stdout == "run\nrun\nrun\n"


def test_pipes_through_dash_i(busybox):
    r = subprocess.run(["sh", "-c", f"echo data | {shlex.join(as_user_argv([PYPOD, 'run', '--rm', '-i', busybox, 'cat']))}"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout == "data\n"
    blob = os.urandom(50 * 1024 * 1024)
    r = pypod_bytes("run", "--rm", "-i", busybox, "cat", input=blob, timeout=120)
    assert r.returncode == 0
    assert hashlib.sha256(r.stdout).hexdigest() == hashlib.sha256(blob).hexdigest()
