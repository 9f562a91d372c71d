"""How `run` and `start` start the supervisor (pypod/runtime/launch.py, prefork): what a user sees
of it in ps, and that nothing is left behind when the container never starts."""

from __future__ import annotations

import time

import pytest

from tests.lib import user
from tests.lib.user import pypod

pytestmark = pytest.mark.integration


def _cmdline(pid: int) -> str:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().replace(b"\0", b" ").decode().strip()


def _pypod_processes(info) -> list[tuple[int, str]]:
    out = []
    for pid in user.user_pids(info):
        try:
            cmd = _cmdline(pid)
        except OSError:
            continue
        if "pypod" in cmd:
            out.append((pid, cmd))
    return out


def test_supervisor_is_named_after_its_container(busybox):
    cid = pypod("run", "-d", busybox, "sleep", "100", check=True).stdout.strip()
    try:
        sup = int(pypod("inspect", "--format", "{{.State.ConmonPid}}", cid, check=True).stdout)
        # not the `pypod run ...` it was forked from: scripts that wait for or kill that must not
        # find the supervisor
        assert _cmdline(sup) == f"pypod-conmon {cid}"
        started = pypod("start", pypod("create", busybox, "sleep", "100", check=True).stdout.strip(),
                        check=True).stdout.strip()
        sup2 = int(pypod("inspect", "--format", "{{.State.ConmonPid}}", started, check=True).stdout)
        assert _cmdline(sup2).startswith("pypod-conmon ")
    finally:
        pypod("rm", "-a", "-f", "-t", "0")


@pytest.mark.parametrize("args, code", [
    (["--name", "taken"], 125),            # create fails: the name is in use
    (["--workdir", "/nonexistent"], 126),  # the supervisor reports a failed start
])
def test_nothing_left_behind_when_the_container_does_not_start(busybox, args, code):
    pypod("create", "--name", "taken", busybox, "true", check=True)
    before = {pid for pid, _ in _pypod_processes(user.user_info())}
    r = pypod("run", "--rm", *args, busybox, "true")
    assert r.returncode == code, r.stderr
    deadline = time.monotonic() + 5  # (a zombie's command line is empty: it does not count)
    while True:
        left = [(p, c) for p, c in _pypod_processes(user.user_info()) if p not in before]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert left == []
