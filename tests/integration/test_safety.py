"""Issue 13: safety under faults — prune never touches live work, a dead process's temp work is
reaped, a damaged record is reported by name and never hides a live container."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from tests.lib import user
from tests.lib.user import PYPOD, pypod, sh_as_user

pytestmark = pytest.mark.integration


def ok(*args, **kw):
    r = pypod(*args, **kw)
    assert r.returncode == 0, f"pypod {' '.join(args)} → {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    return r


def _under_prune(work: str, prune: str, rounds: int, prepare: str = "") -> list[str]:
    """Run `work` `rounds` times, each while `pypod <prune>` runs in a loop beside it; one line
    per round: `rc=N` and what the work said on failure."""
    script = f"""
for i in $(seq {rounds}); do
  {prepare}
  {work} >/tmp/pypod-safety-$$.out 2>&1 &
  w=$!
  while kill -0 $w 2>/dev/null; do {PYPOD} {prune} >/dev/null 2>&1; done
  wait $w; rc=$?
  echo "rc=$rc $(tail -n 2 /tmp/pypod-safety-$$.out | tr '\\n' ' ')"
done
rm -f /tmp/pypod-safety-$$.out
"""
    r = sh_as_user(script, timeout=900)
    return r.stdout.strip().splitlines()


def _every_image_runs() -> list[str]:
    """Ids of listed images whose layers are incomplete (a container of them does not run)."""
    bad = []
    for iid in ok("images", "-q", "--no-trunc").stdout.split():
        r = pypod("run", "--rm", iid, "true")
        if r.returncode != 0:
            bad.append(f"{iid}: {r.stderr.strip()[-200:]}")
    return bad


@pytest.mark.parametrize("prune", ["image prune -f", "system prune -a -f"])
def test_pulls_survive_a_concurrent_prune(clean_storage, registry, prune):
    img = registry["layered"]
    lines = _under_prune(f"{PYPOD} pull -q {img}", prune, 10, prepare=f"{PYPOD} rmi -a -f >/dev/null 2>&1")
    assert len(lines) == 10, lines
    failed = [ln for ln in lines if not ln.startswith("rc=0")]
    assert not failed, f"{len(failed)} of 10 pulls failed under `{prune}`: {failed}"
    ok("pull", "-q", img)  # (system prune -a may have removed the last one)
    assert not _every_image_runs()
    assert not os.listdir(os.path.join(clean_storage.home, ".local/share/pypod/storage/layers")) or \
        not [n for n in os.listdir(os.path.join(clean_storage.home, ".local/share/pypod/storage/layers"))
             if n.startswith(".")], "temp dirs left behind"


def test_builds_survive_a_concurrent_image_prune(busybox, shared_tmp, test_user):
    ctxdir = shared_tmp / "ctx"
    ctxdir.mkdir()
    (ctxdir / "Containerfile").write_text(
        f"FROM {busybox}\nRUN echo one > /one\nENV STEP=two\nCOPY f /f\nRUN cat /one /f > /both\n")
    (ctxdir / "f").write_text("file\n")
    os.chmod(ctxdir, 0o755)
    os.chmod(ctxdir / "f", 0o644)
    os.chmod(ctxdir / "Containerfile", 0o644)
    lines = _under_prune(f"{PYPOD} build -q --no-cache -t localhost/safety:{{}} {ctxdir}".replace("{}", "$i"),
                         "image prune -f", 10)
    assert len(lines) == 10, lines
    failed = [ln for ln in lines if not ln.startswith("rc=0")]
    assert not failed, f"{len(failed)} of 10 builds failed under `image prune`: {failed}"
    r = ok("run", "--rm", "localhost/safety:10", "cat", "/both")
    assert r.stdout == "one\nfile\n"
    assert not _every_image_runs()
