"""Issue 13: a build's RUN containers are podman's "external" containers (buildah's): `ps -a` does
not show them, `ps --external` does (Status "Storage", Command "buildah", as podman 4.3 shows a
`podman build` RUN step's), and no --all verb (rm -a, container prune) touches a running build."""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.lib.checks import ok
from tests.lib.user import PYPOD, as_user_argv, pypod

pytestmark = pytest.mark.integration


def test_build_run_containers_show_only_with_external(busybox, shared_tmp):
    (shared_tmp / "Containerfile").write_text(f"FROM {busybox}\nRUN sleep 5 && echo done > /built\n")
    ok("run", "-d", "--name", "mine", busybox, "sleep", "60")
    p = subprocess.Popen(as_user_argv([PYPOD, "build", "-t", "slow", str(shared_tmp)]),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        rows = []
        deadline = time.monotonic() + 60
        while not rows and time.monotonic() < deadline and p.poll() is None:
            r = ok("ps", "--external", "--format", "{{.ID}}|{{.Status}}|{{.Command}}|{{.Names}}")
            rows = [ln.split("|") for ln in r.stdout.splitlines() if not ln.endswith("|mine")]
            time.sleep(0.1)
        assert len(rows) == 1, "the RUN container never showed in ps --external"
        cid, status, command, _name = rows[0]
        assert (status, command) == ("Storage", "buildah")
        # hidden from everything else, as podman hides buildah's
        assert ok("ps", "-a", "--format", "{{.Names}}").stdout.split() == ["mine"]
        assert ok("ps", "-q").stdout.split() == [ok("inspect", "-f", "{{.Id}}", "mine").stdout[:12]]
        assert pypod("container", "exists", cid).returncode == 1
        assert pypod("container", "exists", "--external", cid).returncode == 0
        # --all verbs leave the build alone
        ok("rm", "-a", "-f")
        ok("container", "prune", "-f")
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0, out
    finally:
        if p.poll() is None:
            p.kill()
    assert ok("run", "--rm", "slow", "cat", "/built").stdout == "done\n"
    assert ok("ps", "-a", "--external", "-q").stdout == ""  # the build removed its containers
