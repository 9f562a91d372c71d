"""A newcomer's rough edges (issue 17), as the test user: Ctrl-C twice, and the subuid hint."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from tests.lib import user
from tests.lib.user import as_user_argv, pypod

pytestmark = pytest.mark.integration


def _wait(pred, timeout: float = 20) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("gap", [0.0, 0.02])
def test_two_ctrl_c_during_logs_follow_exit_quietly(busybox, gap):
    name = f"chatty{int(gap * 1000)}"
    pypod("run", "-d", "--name", name, busybox, "sh", "-c",
          "while true; do echo tick; sleep 0.05; done", check=True)
    try:
        # the terminal's Ctrl-C goes to the whole foreground process group: do the same
        p = subprocess.Popen(as_user_argv([user.PYPOD, "logs", "-f", name]), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
        assert _wait(lambda: p.stdout.readline() == "tick\n")
        os.killpg(p.pid, signal.SIGINT)
        time.sleep(gap)
        try:
            os.killpg(p.pid, signal.SIGINT)
        except ProcessLookupError:
            pass
        out, err = p.communicate(timeout=20)
        assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
        assert p.returncode == 130, (p.returncode, err)
    finally:
        pypod("rm", "-f", "-t", "0", name)


def test_single_uid_warning_proposes_a_free_subuid_range(test_user):
    """The fix the single-uid warning proposes must name a range nobody in /etc/subuid or
    /etc/subgid holds (the test user's own range is taken, whatever it is)."""
    from pypod.linux import idmap

    start, count = user.subid_range()
    fix = idmap.usermod_fix("someone")
    lo, hi = (int(x) for x in fix.split("--add-subuids ", 1)[1].split()[0].split("-"))
    assert hi - lo + 1 == idmap.SUBID_COUNT
    for path in ("/etc/subuid", "/etc/subgid"):
        for line in open(path):
            parts = line.strip().split(":")
            if len(parts) == 3 and parts[1].isdigit():
                s, c = int(parts[1]), int(parts[2])
                assert hi < s or lo >= s + c, (fix, line)
    assert not (start <= lo < start + count)


def _complete(words: list[str]) -> list[str]:
    """What bash offers for `words` (the last one being typed), through pypod's own script."""
    comp_words = " ".join(f"'{w}'" for w in words)
    script = (f"source <(pypod completion bash); COMP_WORDS=({comp_words}); "
              f"COMP_CWORD={len(words) - 1}; _pypod; printf '%s\\n' \"${{COMPREPLY[@]}}\"")
    r = user.run_as_user(["bash", "-c", script], timeout=60)
    assert r.returncode == 0, r.stderr
    return [x for x in r.stdout.split("\n") if x]


def test_bash_completion_offers_names_that_exist(busybox):
    pypod("create", "--name", "alpha", busybox, "true", check=True)
    pypod("create", "--name", "beta", busybox, "true", check=True)
    pypod("network", "create", "compnet", check=True)
    try:
        assert {"alpha", "beta"} <= set(_complete(["pypod", "rm", ""]))
        assert _complete(["pypod", "rm", "al"]) == ["alpha"]
        assert busybox in _complete(["pypod", "run", ""])
        assert "compnet" in _complete(["pypod", "run", "--network", ""])
        assert "--force" in _complete(["pypod", "rm", "--f"])
        assert set(_complete(["pypod", "ima"])) == {"image", "images"}
    finally:
        pypod("rm", "-f", "alpha", "beta")
        pypod("network", "rm", "compnet")
