"""Issue 13: safety under faults — prune never touches live work, a dead process's temp work is
reaped, a damaged record is reported by name and never hides a live container."""

from __future__ import annotations

import os
import time

import pytest

from tests.lib.checks import ok
from tests.lib.user import PYPOD, pypod, sh_as_user

pytestmark = pytest.mark.integration


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


@pytest.mark.parametrize("prune", ["image prune -f", "system prune -a -f"])
def test_builds_survive_a_concurrent_prune(busybox, shared_tmp, test_user, prune):
    ctxdir = shared_tmp / "ctx"
    ctxdir.mkdir()
    (ctxdir / "Containerfile").write_text(
        f"FROM {busybox}\nENV STEP=two\nCOPY f /f\nRUN cat /f /f > /both\n")
    (ctxdir / "f").write_text("file\n")
    os.chmod(ctxdir, 0o755)
    os.chmod(ctxdir / "f", 0o644)
    os.chmod(ctxdir / "Containerfile", 0o644)
    rounds = 10 if prune == "image prune -f" else 5  # (~5 s a build: keep the suite short)
    lines = _under_prune(f"{PYPOD} build -q --no-cache -t localhost/safety:$i {ctxdir}", prune, rounds)
    assert len(lines) == rounds, lines
    failed = [ln for ln in lines if not ln.startswith("rc=0")]
    assert not failed, f"{len(failed)} of {rounds} builds failed under `{prune}`: {failed}"
    assert not _every_image_runs()
    ok("build", "-q", "-t", "localhost/safety:check", ctxdir)  # (system prune -a took the last one)
    r = ok("run", "--rm", "localhost/safety:check", "cat", "/both")
    assert r.stdout == "file\nfile\n"


# -- item 2: nothing outlives what needs it ----------------------------------------------------
STORAGE = ".local/share/pypod/storage"


def _store_path(info, *parts) -> str:
    return os.path.join(info.home, STORAGE, *parts)


def _dot_entries(path: str) -> list[str]:
    try:
        return sorted(n for n in os.listdir(path) if n.startswith("."))
    except FileNotFoundError:
        return []


def test_config_and_manifest_blobs_go_with_the_last_image_using_them(busybox, registry, test_user):
    blobs = _store_path(test_user, "blobs", "sha256")
    alone = len(os.listdir(blobs))
    ok("pull", "-q", registry["layered"])
    assert len(os.listdir(blobs)) > alone
    ok("rmi", registry["layered"])
    assert len(os.listdir(blobs)) == alone, "rmi left the image's config and manifest blobs"
    ok("system", "prune", "-a", "-f")
    assert ok("images", "-q").stdout == ""
    assert os.listdir(blobs) == [], "system prune -a left blobs of removed images"


def _kill_when(start: str, appears_in: str, prefix: str) -> str:
    """Start `start` as the test user, kill -9 it once an entry named `prefix`* shows up in
    `appears_in`; what that directory holds then (dot entries)."""
    script = f"""
{start} >/dev/null 2>&1 &
p=$!
n=0
until ls -A {appears_in} 2>/dev/null | grep -q '^{prefix}'; do
  n=$((n+1)); [ $n -gt 20000 ] && break
  kill -0 $p 2>/dev/null || break
done
kill -9 $p
wait $p 2>/dev/null
sleep 1
ls -A {appears_in} | grep '^\\.' || true
"""
    return sh_as_user(script, timeout=300).stdout


def test_a_killed_pull_or_rm_leaves_no_trash_after_the_next_command(busybox, registry, test_user):
    layers = _store_path(test_user, "layers")
    left = _kill_when(f"{PYPOD} pull -q {registry['debian']}", layers, ".tmp-")
    assert ".tmp-" in left, f"the pull was not killed while unpacking: {left!r}"
    t0 = time.monotonic()
    ok("images")
    ok("ps", "-a")
    assert _dot_entries(layers), "a read-only command deleted (slowly) what it should leave"
    ok("run", "--rm", busybox, "true")  # the next command that writes storage
    assert _dot_entries(layers) == []

    containers = _store_path(test_user, "containers")
    ok("run", "--name", "big", busybox, "sh", "-c",
       "mkdir /d && cd /d && i=0; while [ $i -lt 4000 ]; do : > f$i; i=$((i+1)); done; "
       "dd if=/dev/zero of=/big bs=1M count=64 2>/dev/null")
    left = _kill_when(f"{PYPOD} rm big", containers, ".rm-")
    assert ".rm-" in left, f"the rm was not killed while deleting: {left!r}"
    ok("rm", "-f", "nothing-by-this-name")
    assert _dot_entries(containers) == []
    assert time.monotonic() - t0 < 120


# -- item 3: a damaged record is named, never hides a live container -----------------------------
def _truncate(path: str) -> None:
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])


def _image_id(ref: str) -> str:
    return ok("image", "inspect", "--format", "{{.Id}}", ref).stdout.strip().removeprefix("sha256:")


def test_a_truncated_image_record_is_named_and_removable(busybox, registry, test_user):
    ok("pull", "-q", registry["layered"])
    bad = _image_id(registry["layered"])
    _truncate(_store_path(test_user, "images", bad, "image.json"))
    for args in (["images"], ["images", "-a", "--format", "json"], ["image", "ls", "-q"]):
        r = ok(*args)
        assert f"image {bad}" in r.stderr and "unreadable" in r.stderr, (args, r.stderr)
        assert "internal error" not in r.stderr
    assert busybox.rsplit("/", 1)[-1].split(":")[0] in ok("images").stdout  # the others still listed
    for args in (["ps", "-a"], ["system", "df"], ["image", "prune", "--filter", "label=x=y", "-f"]):
        ok(*args)
    r = ok("rmi", "-f", bad[:12])
    assert bad in r.stdout and "unreadable" not in r.stderr  # (removed: no warning)
    r = ok("images")
    assert "unreadable" not in r.stderr and not os.path.exists(_store_path(test_user, "images", bad))

    ok("pull", "-q", registry["layered"])  # again, this time `image prune` removes it
    _truncate(_store_path(test_user, "images", bad, "image.json"))
    r = ok("image", "prune", "-f")
    assert bad in r.stdout
    assert "unreadable" not in ok("images").stderr
    ok("run", "--rm", busybox, "true")


def test_a_truncated_volume_or_network_record_is_named_and_removable(busybox, test_user):
    ok("volume", "create", "vgood")
    ok("volume", "create", "vbad")
    ok("network", "create", "nbad")
    _truncate(_store_path(test_user, "volumes", "vbad", "volume.json"))
    _truncate(_store_path(test_user, "networks", "nbad.json"))
    r = ok("volume", "ls")
    assert "vgood" in r.stdout and "volume vbad" in r.stderr and "unreadable" in r.stderr
    r = pypod("volume", "create", "vbad")
    assert r.returncode != 0 or "vbad" in ok("volume", "ls", "-q").stdout  # its name stays taken
    r = ok("network", "ls")
    assert "podman" in r.stdout and "network nbad" in r.stderr
    ok("volume", "rm", "-f", "vbad")
    ok("network", "rm", "nbad")
    assert "unreadable" not in ok("volume", "ls").stderr + ok("network", "ls").stderr
    assert ok("volume", "ls", "-q").stdout.split() == ["vgood"]


def _assert_removed(test_user, cid: str, pid: int) -> None:
    for _ in range(50):
        if not os.path.exists(f"/proc/{pid}"):
            break
        time.sleep(0.1)
    assert not os.path.exists(f"/proc/{pid}"), "the container's process outlived its removal"
    assert not os.path.exists(_store_path(test_user, "containers", cid))


def _state(test_user, cid: str) -> dict:
    import json

    with open(_store_path(test_user, "containers", cid, "state.json")) as f:
        return json.load(f)


@pytest.mark.parametrize("remove", [["rm", "-f", "web"], ["rm", "-a", "-f"], ["system", "prune", "-a", "-f"],
                                    ["system", "check", "--repair"]])
def test_a_running_container_with_a_truncated_record_stays_listed_named_and_removable(
        busybox, test_user, remove):
    cid = ok("run", "-d", "--name", "web", "-v", "keepme:/data", busybox, "sleep", "300").stdout.strip()
    pid = _state(test_user, cid)["pid"]
    _truncate(_store_path(test_user, "containers", cid, "container.json"))
    r = ok("ps", "-a", "--no-trunc")
    assert cid in r.stdout and "web" in r.stdout, r.stdout
    assert f"container {cid} (name web): state unreadable" in r.stderr, r.stderr
    for args in (["ps", "-a", "--format", "json"], ["images"], ["volume", "ls"], ["network", "ls"],
                 ["system", "df"], ["inspect", "web"]):
        ok(*args)
    r = pypod("run", "--name", "web", busybox, "true")
    assert r.returncode == 125 and "already in use" in r.stderr, "the name of a live container was freed"
    assert os.path.exists(f"/proc/{pid}")
    ok("image", "prune", "-a", "-f")  # what it runs on and mounts stays
    ok("volume", "prune", "-f")
    assert ok("images", "-q").stdout.strip() and "keepme" in ok("volume", "ls", "-q").stdout
    if remove[:2] == ["system", "check"]:
        r = pypod("system", "check")
        assert r.returncode == 1 and cid in r.stdout, (r.stdout, r.stderr)
    r = ok(*remove)
    assert "unreadable" not in r.stderr
    _assert_removed(test_user, cid, pid)
    assert "web" not in ok("ps", "-a").stdout
    ok("run", "--rm", "--name", "web", busybox, "true")
    if remove[:2] == ["system", "check"]:
        assert ok("system", "check").stdout.strip() == "No damaged records found"


def test_system_check_finds_a_layer_without_content_and_repair_lets_a_pull_fetch_it(busybox, registry,
                                                                                    test_user):
    """What the old prune left: an image listed, its top layer holding only layer.json."""
    import shutil

    ok("pull", "-q", registry["layered"])
    import json

    with open(_store_path(test_user, "images", _image_id(registry["layered"]), "image.json")) as f:
        top = json.load(f)["layers"][-1]
    layer = _store_path(test_user, "layers", top)
    assert os.path.isdir(os.path.join(layer, "diff")), top
    shutil.rmtree(os.path.join(layer, "diff"))
    r = pypod("system", "check")
    assert r.returncode == 1 and f"layer {top}: content missing" in r.stdout, r
    r = ok("system", "check", "--repair")
    assert r.stdout.startswith("removed: layer")
    ok("pull", "-q", registry["layered"])
    ok("run", "--rm", registry["layered"], "cat", "/data/keep")
    assert ok("system", "check").stdout.strip() == "No damaged records found"


def test_a_container_with_record_and_state_truncated_is_still_killed_by_rm(busybox, test_user):
    cid = ok("run", "-d", "--name", "web2", busybox, "sleep", "300").stdout.strip()
    pid = _state(test_user, cid)["pid"]
    for f in ("container.json", "state.json"):
        _truncate(_store_path(test_user, "containers", cid, f))
    r = ok("ps", "-a", "--no-trunc")
    assert cid in r.stdout and "web2" in r.stdout and f"container {cid} (name web2)" in r.stderr
    ok("rm", "-f", "web2")
    _assert_removed(test_user, cid, pid)


def test_container_prune_removes_what_a_killed_create_left(busybox, test_user):
    """A create killed between making the container's directory and writing its record."""
    left = _store_path(test_user, "containers", "ab" * 32)
    assert sh_as_user(f"mkdir -p {left}/upper").returncode == 0
    cid = ok("create", busybox, "true").stdout.strip()  # (not touched: its create finished)
    ok("container", "prune", "-f")
    assert not os.path.exists(left)
    assert not os.path.exists(_store_path(test_user, "containers", cid))  # pruned as usual
