"""Issue 12: verbs that change one container, racing each other, as a user's shell runs them.

Each round starts 8 `pypod` commands at once from one shell (`cmd & ... wait`), then counts the
container's processes from /proc: a lock per container (pypod.store.locks) must make the outcome
one of the serial ones — exactly one pid 1, and every other caller gets podman's answer.
"""

from __future__ import annotations

import re
import time

import pytest

from tests.integration.test_containers import wait_for
from tests.lib import user
from tests.lib.checks import ok

pytestmark = pytest.mark.integration

ROUNDS = 20  # the eight concurrent starts (~1.5 s a round on 2 busy cores)
FEW = 10     # the other races
CALLS = 8
MARK = "31337"  # the container runs `sleep MARK`: its pid 1 is found by that command line
NAME = "racer"


def _cmdline(pid: str) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def _comm(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return True


def user_procs() -> list[tuple[int, str, list[str]]]:
    """(pid, comm, argv) of the test user's live processes (its subuids too). A zombie is dead:
    a daemonized supervisor is reaped by the machine's init, here up to seconds later."""
    return [(p, _comm(str(p)), _cmdline(str(p))) for p in user.user_pids() if not _zombie(p)]


def pid1s() -> list[int]:
    return [p for p, _c, argv in user_procs() if argv == ["sleep", MARK]]


def concurrently(commands: list[str], timeout: float = 120) -> list[tuple[int, str, str]]:
    """Run the pypod command lines all at once from one shell as the user; (rc, out, err) each."""
    script = ['d=$(mktemp -d)']
    for i, c in enumerate(commands):
        script.append(f'(pypod {c} >"$d/{i}.out" 2>"$d/{i}.err"; echo $? >"$d/{i}.rc") &')
    script.append("wait")
    for i in range(len(commands)):
        script.append(f'printf "\\036%s\\037" "$(cat "$d/{i}.rc")"; cat "$d/{i}.out"; printf "\\037"; '
                      f'cat "$d/{i}.err"')
    script.append('rm -rf "$d"')
    r = user.sh_as_user("\n".join(script), timeout=timeout)
    assert r.returncode == 0, r.stderr
    out = []
    for rec in r.stdout.split("\036")[1:]:  # RS between calls, US between rc, stdout, stderr
        rc, o, e = rec.split("\037")
        out.append((int(rc), o, e))
    assert len(out) == len(commands), r.stdout
    return out


def state() -> str:
    return ok("inspect", "--format", "{{.State.Status}}", NAME).stdout.strip()


def assert_nothing_left(cid: str) -> None:
    """No supervisor, pid 1, network helper or mount of the container outlives it."""
    def strays():
        out = []
        for pid, comm, argv in user_procs():
            line = " ".join(argv)
            if argv == ["sleep", MARK] or comm in ("pypod-conmon", "slirp4netns", "pasta") \
                    or cid in line:
                out.append((pid, comm, line))
        return out

    assert wait_for(lambda: not strays(), 10), strays()
    # no mount of its storage, here or in a namespace a process of the user still holds
    for pid in ["self"] + [str(p) for p, _c, _a in user_procs()]:
        try:
            with open(f"/proc/{pid}/mountinfo") as f:
                assert cid not in f.read(), pid
        except (FileNotFoundError, ProcessLookupError):
            pass


MISSING = f'Error: no container with name or ID "{NAME}" found: no such container\n'
STARTED, RUNNING = (0, f"{NAME}\n", ""), (0, "", "")  # podman 4.3: a running one is not echoed


def supervisors(cid: str) -> list[int]:
    """The container's supervisors: named after its directory in their argv, or (forked from the
    CLI) titled `pypod-conmon ID`, the ID cut to fit the argv area it had (12 hex at least)."""
    def mine(argv: list[str]) -> bool:
        if cid in " ".join(argv):
            return True
        head, _, shown = (argv[0] if argv else "").partition(" ")
        return head == "pypod-conmon" and len(shown.strip()) >= 12 and cid.startswith(shown.strip())

    return [p for p, comm, argv in user_procs() if comm == "pypod-conmon" and mine(argv)]


def settled(cid: str) -> int:
    """Once the container's state and processes agree: how many pid 1s (0 or 1) it has."""
    def agree():
        n, sups = len(pid1s()), len(supervisors(cid))
        return n == sups and n == (1 if state() == "running" else 0)

    assert wait_for(agree, 10), (state(), user_procs())
    return len(pid1s())


def test_eight_starts_at_once_launch_one_container(busybox):
    cid = ok("create", "--name", NAME, busybox, "sleep", MARK).stdout.strip()
    t0 = time.monotonic()
    for rnd in range(ROUNDS):
        res = concurrently([f"start {NAME}"] * CALLS)
        assert len(pid1s()) == 1, (rnd, res, user_procs())
        assert sorted(res) == [RUNNING] * (CALLS - 1) + [STARTED], (rnd, res)
        assert state() == "running"
        assert len(supervisors(cid)) == 1
        ok("stop", "-t", "0", NAME)
        assert pid1s() == [], (rnd, user_procs())
    print(f"\n{ROUNDS} rounds of {CALLS} concurrent starts: {time.monotonic() - t0:.1f} s")
    ok("rm", NAME)
    assert_nothing_left(cid)


def test_starts_racing_rm_force(busybox):
    t0 = time.monotonic()
    for rnd in range(FEW):
        cid = ok("create", "--name", NAME, busybox, "sleep", MARK).stdout.strip()
        calls = [f"start {NAME}"] * CALLS
        calls[CALLS // 2 - 1] = f"rm -f {NAME}"
        res = concurrently(calls)
        assert res[CALLS // 2 - 1] == STARTED, (rnd, res)  # rm echoes the name
        starts = res[:CALLS // 2 - 1] + res[CALLS // 2:]
        for r in starts:  # before the rm: started, or found running; after it: no such container
            assert r in (STARTED, RUNNING, (125, "", MISSING)), (rnd, res)
        # rm -f is one step, as podman's: no start launches the container while rm stops it
        assert starts.count(STARTED) <= 1, (rnd, res)
        assert ok("ps", "-a", "-q").stdout == ""
        assert_nothing_left(cid)
    print(f"\n{FEW} rounds of start x{CALLS - 1} racing rm -f: {time.monotonic() - t0:.1f} s")


def test_stops_racing_starts(busybox):
    cid = ok("create", "--name", NAME, busybox, "sleep", MARK).stdout.strip()
    t0 = time.monotonic()
    outcomes = set()
    for rnd in range(FEW):
        calls = [f"start {NAME}", f"stop -t 0 {NAME}"] * (CALLS // 2)
        res = concurrently(calls)
        for c, r in zip(calls, res):
            assert r in ((STARTED, RUNNING) if c.startswith("start") else (STARTED,)), (rnd, res)
        n = settled(cid)  # running with one pid 1 and one supervisor, or stopped with none
        outcomes.add(n)
    print(f"\n{FEW} rounds of start x{CALLS // 2} racing stop x{CALLS // 2}: "
          f"{time.monotonic() - t0:.1f} s, ended running/stopped: {sorted(outcomes)}")
    ok("rm", "-f", NAME)
    assert_nothing_left(cid)


def test_two_runs_of_one_name(busybox):
    t0 = time.monotonic()
    for rnd in range(FEW):
        res = concurrently([f"run -d --name {NAME} {busybox} sleep {MARK}"] * 2)
        won = [r for r in res if r[0] == 0]
        assert len(won) == 1 and re.fullmatch(r"[0-9a-f]{64}\n", won[0][1]) and won[0][2] == "", (rnd, res)
        cid = won[0][1].strip()
        lost = [r for r in res if r[0] != 0]
        # podman 4.3's words (exit 125)
        assert lost == [(125, "", f'Error: creating container storage: the container name "{NAME}" is already in '
                                  f'use by {cid}. You have to remove that container to be able to reuse that name: '
                                  'that name is already in use\n')], (rnd, res)
        assert len(pid1s()) == 1, (rnd, user_procs())
        assert ok("ps", "-a", "-q", "--no-trunc").stdout == cid + "\n"
        ok("rm", "-f", NAME)
        assert_nothing_left(cid)
    print(f"\n{FEW} rounds of two `run --name` at once: {time.monotonic() - t0:.1f} s")


def test_a_slow_stop_blocks_start_but_not_ps(busybox):
    """`stop -t 3` of a pid 1 that ignores SIGTERM: while it waits, ps and inspect answer at
    once (they take no lock) and say `stopping`; a `start` meanwhile waits for the stop, then
    starts it again."""
    cid = ok("run", "-d", "--name", NAME, busybox, "sleep", MARK).stdout.strip()
    script = (f"pypod stop -t 3 {NAME} >/dev/null 2>&1 & sleep 0.5; "
              "t0=$(date +%s%N); pypod ps -a --format '{{.State}}'; pypod inspect --format '{{.State.Status}}' "
              f"{NAME}; t1=$(date +%s%N); echo reads=$(( (t1 - t0) / 1000000 ))ms; "
              f"pypod start {NAME}; echo start=$?; t2=$(date +%s%N); echo waited=$(( (t2 - t0) / 1000000 ))ms; wait")
    r = user.sh_as_user(script, timeout=60)
    lines = r.stdout.split()
    assert lines[:2] == ["stopping", "stopping"], r.stdout + r.stderr  # podman's state while it waits
    reads = int(lines[2].removeprefix("reads=").removesuffix("ms"))
    assert reads < 1500, r.stdout  # not the stop's 3 s
    assert lines[3:5] == [NAME, "start=0"], r.stdout + r.stderr  # it started it again...
    waited = int(lines[5].removeprefix("waited=").removesuffix("ms"))
    assert waited >= 2000, r.stdout  # ... after the stop (3 s from 0.5 s before t0)
    assert settled(cid) == 1 and state() == "running"
    ok("rm", "-f", NAME)
    assert_nothing_left(cid)


def test_starts_racing_prune(busybox):
    """`container prune` removes only what is stopped when it looks, under the lock: a start
    that wins keeps its container (running, one pid 1); one that loses finds none."""
    for rnd in range(FEW // 2):
        cid = ok("create", "--name", NAME, busybox, "sleep", MARK).stdout.strip()
        calls = [f"start {NAME}"] * (CALLS // 2)
        calls[1] = "container prune -f"
        res = concurrently(calls)
        starts = res[:1] + res[2:]
        for r in starts:
            assert r in (STARTED, RUNNING, (125, "", MISSING)), (rnd, res)
        pruned = res[1][1].split()
        assert res[1][0] == 0 and pruned in ([], [cid]), (rnd, res)
        if pruned:
            assert STARTED not in starts and ok("ps", "-a", "-q").stdout == "", (rnd, res)
            assert_nothing_left(cid)
        else:
            assert starts.count(STARTED) == 1 and settled(cid) == 1, (rnd, res)
            ok("rm", "-f", NAME)
            assert_nothing_left(cid)
