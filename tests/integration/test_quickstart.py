"""The README's quick start, as a new user on this machine would run it: scripts/setup, then run."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.lib import user as tuser

pytestmark = pytest.mark.integration

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_setup_then_run_hello(test_user, shared_tmp):
    tmp_path = shared_tmp
    # The checkout may live where the test user cannot read (/root): give it a readable copy.
    src = tmp_path / "checkout"
    files = subprocess.run(["git", "-C", REPO, "ls-files", "-co", "--exclude-standard"], capture_output=True,
                           text=True, check=True).stdout.split()
    for f in files:
        if not os.path.isfile(os.path.join(REPO, f)):
            continue
        dst = src / f
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(os.path.join(REPO, f), dst)
    home = tmp_path / "home"
    home.mkdir()
    for p in (tmp_path, src, home):
        os.chmod(p, 0o755)
    subprocess.run(["chown", "-R", f"{test_user.uid}:{test_user.gid}", str(home)], check=True)
    # A newcomer's first shell: ~/.local/bin not yet on PATH (Debian adds it at the next login),
    # and no login session (XDG_RUNTIME_DIR unset, as after su or in CI).
    env = {"HOME": str(home), "XDG_RUNTIME_DIR": None, "XDG_DATA_HOME": None, "PATH": "/usr/bin:/bin"}
    marker = f"/tmp/pypod-run-{test_user.uid}/.runtime-dir-notice"
    if os.path.exists(marker):
        os.unlink(marker)  # the notice is said once per fallback dir: make this the first time
    r = tuser.run_as_user(["bash", str(src / "scripts/setup")], env=env, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    # the fallback notice reaches the user, not setup's own /dev/null
    assert "XDG_RUNTIME_DIR is not set: using /tmp/pypod-run-" in r.stderr, r.stderr
    # the commands setup prints work as printed, in this same shell
    shown = r.stdout.split("try:\n", 1)[1]
    assert shown.strip().endswith("pypod run --rm busybox echo hello"), r.stdout
    r = tuser.run_as_user(["bash", "-c", shown], env=env, timeout=120)
    assert (r.returncode, r.stdout) == (0, "hello\n"), r.stderr
    # running the set-up again is quick (installs nothing) and keeps the image
    r = tuser.run_as_user(["bash", str(src / "scripts/setup")], env=env, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "pypod in" in r.stdout and "up to date" in r.stdout and "installing" not in r.stdout, r.stdout
    assert "image busybox: already there" in r.stdout, r.stdout
