"""Issue 13: a client that stops reading must never freeze the container nor defeat `stop`.

A stalled client here is the real thing: `pypod attach` (or a foreground `pypod run`) whose stdout
is a pipe nobody reads. Before the fix the supervisor blocked writing to it, the container's output
stopped (its log froze: tick 18 → 18 over 2 s) and `stop -t 2` returned 0 after 12 s with the
container still `Up` around a zombie pid 1. podman 4.3 (measured here, same container, `podman
attach` or `podman run` into a FIFO nobody reads) fails too, more honestly: its log freezes as well
(tick 14 → 14) and `stop -t 2` exits 125 after 7 s ("given PIDs did not die within timeout") with
the container left "stopping" and its pid 1 a zombie. pypod now does better: the log keeps growing
(~80 ticks in 2 s), `stop -t 2` returns 0 in ~2.2 s with the container exited and no pid 1 left,
and the stalled client, once read, gets every line in order and the exit code.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time

import pytest

from tests.lib.checks import ok
from tests.lib.user import PYPOD, as_user_argv, pypod

pytestmark = pytest.mark.integration

# ~16 KiB of output every 20 ms (a tick line, then filler): fills a pipe and both socket buffers
# in well under a second.
FLOOD = ("i=0; while :; do i=$((i+1)); echo tick-$i; "
         "yes xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx | head -n 256; "
         "sleep 0.02; done")


def _log_ticks(name: str) -> int:
    """The last tick number in the container's k8s-file log (read as root: no pypod involved)."""
    path = ok("inspect", "--format", "{{.HostConfig.LogConfig.Path}}", name).stdout.strip()
    with open(path, "rb") as f:
        f.seek(max(0, os.path.getsize(path) - (1 << 20)))
        tail = f.read()
    ticks = [ln.rsplit(b"tick-", 1)[1] for ln in tail.splitlines() if b" tick-" in ln]
    return int(ticks[-1]) if ticks else 0


def _assert_log_grows(name: str) -> None:
    first = _log_ticks(name)
    time.sleep(2.0)
    second = _log_ticks(name)
    assert second > first + 10, f"the log stopped growing while a client stalled: tick {first} → {second}"


def _assert_stop_ends_it(name: str) -> float:
    pid = int(ok("inspect", "--format", "{{.State.Pid}}", name).stdout)
    assert pid > 0
    t0 = time.monotonic()
    r = pypod("stop", "-t", "2", name, timeout=60)
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    assert took < 6, f"stop -t 2 took {took:.1f} s"
    running = ok("inspect", "--format", "{{.State.Running}} {{.State.Status}}", name).stdout.split()
    assert running == ["false", "exited"], running
    assert not os.path.exists(f"/proc/{pid}"), f"pid 1 ({pid}) is left behind (a zombie?)"
    return took


def _ended(pid: int) -> bool:
    """Gone, or dead and left to init to reap (this machine's init reaps lazily): not a zombie
    that a live supervisor failed to reap."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return True
    return fields[0] == "Z" and fields[1] == "1"


def _finish(p: subprocess.Popen, name: str, from_start: bool) -> None:
    """Read the stalled client at last: it gets every line in order (held for it while it
    stalled), up to the last one logged, then the container's exit code (137: SIGKILLed)."""
    try:
        out, _ = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    ticks = [int(ln[5:]) for ln in out.splitlines() if ln.startswith(b"tick-")]
    assert ticks, out[-300:]
    first = 1 if from_start else ticks[0]
    assert ticks == list(range(first, ticks[-1] + 1)), "lines were lost or reordered"
    assert ticks[-1] == _log_ticks(name)
    assert p.returncode == 137


def test_stalled_attach_client_does_not_freeze_container(busybox):
    ok("run", "-d", "--name", "flood", busybox, "sh", "-c", FLOOD)
    # `pypod attach` whose stdout is a pipe we never read
    p = subprocess.Popen(as_user_argv([PYPOD, "attach", "flood"]), stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        time.sleep(2.0)  # far more than it takes to fill every buffer on the way
        assert p.poll() is None, "the attach client ended early"
        _assert_log_grows("flood")
        _assert_stop_ends_it("flood")
    finally:
        _finish(p, "flood", from_start=False)


def test_stalled_foreground_run_does_not_freeze_container(busybox):
    # a foreground `run` whose stdout nobody reads: the supervisor relays to it itself
    p = subprocess.Popen(as_user_argv([PYPOD, "run", "--name", "fg", busybox, "sh", "-c", FLOOD]),
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if pypod("inspect", "--format", "{{.State.Running}}", "fg").stdout.strip() == "true":
                break
            time.sleep(0.2)
        time.sleep(2.0)
        _assert_log_grows("fg")
        _assert_stop_ends_it("fg")
    finally:
        _finish(p, "fg", from_start=True)


@pytest.mark.parametrize("verb", ["stop", "rm"])
def test_stop_and_rm_f_end_a_wedged_supervisor(busybox, verb):
    # a supervisor that cannot record the exit (SIGSTOPped here): stop used to return 0 after
    # 12 s with the container Up around a zombie pid 1; rm -f removed its record and left the
    # supervisor behind
    ok("run", "-d", "--name", "w", busybox, "sleep", "1000")
    pids = ok("inspect", "--format", "{{.State.Pid}} {{.State.ConmonPid}}", "w").stdout.split()
    pid, sup = int(pids[0]), int(pids[1])
    os.kill(sup, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        r = pypod(*(["stop", "-t", "2"] if verb == "stop" else ["rm", "-f"]), "w", timeout=60)
        took = time.monotonic() - t0
        assert r.returncode == 0, r.stderr
        assert took < 10, f"{verb} took {took:.1f} s"  # before: 12.5 s
        for p in (pid, sup):
            assert _ended(p), f"process {p} is left behind"
        if verb == "stop":
            st = ok("inspect", "--format", "{{.State.Running}} {{.State.Status}} {{.State.ExitCode}}", "w")
            assert st.stdout.split() == ["false", "exited", "137"]
        else:
            assert pypod("container", "exists", "w").returncode == 1
    finally:
        if os.path.exists(f"/proc/{sup}"):
            os.kill(sup, signal.SIGCONT)


def test_input_the_container_never_reads_does_not_freeze_it(busybox):
    # `yes | pypod attach C` to a -i container that never reads its stdin: the supervisor used
    # to block writing to the full stdin pipe, and the container's output froze with it
    ok("run", "-d", "-i", "--name", "deaf", busybox, "sh", "-c", FLOOD)
    p = subprocess.Popen(["sh", "-c", "yes | " + shlex.join(as_user_argv([PYPOD, "attach", "deaf"]))],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        time.sleep(2.0)
        _assert_log_grows("deaf")
        _assert_stop_ends_it("deaf")
        p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
