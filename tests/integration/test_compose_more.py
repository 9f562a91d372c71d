"""Issue 15: the rest of `pypod compose`'s verbs — pause/unpause, events, cp, push, version — and
`up`'s --no-build refusal and anonymous volumes kept across a recreate. As the test user."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time

import pytest

from tests.integration.test_compose_up import IDLE, compose, ids, ok, project_dir, write
from tests.lib import user
from tests.lib.user import pypod

pytestmark = pytest.mark.integration

ONE = f"""
services:
  app:
    image: IMAGE
    command: ["sh", "-c", "{IDLE}"]
    volumes:
      - /cache
"""


def test_pause_gives_pypods_own_refusal_and_compose_exit_code(shared_tmp, busybox):
    d = project_dir(shared_tmp, "pz")
    write(d, ONE, busybox)
    ok(d, "up", "-d")
    cid = ids(d)["pz-app-1"]
    own = pypod("pause", cid)
    assert own.returncode == 125 and own.stderr.startswith("Error: ")
    r = compose(d, "pause")
    assert r.returncode == 1  # Compose's code for an engine error
    assert r.stderr.strip() == own.stderr.strip()
    r = compose(d, "unpause", "app")
    assert r.returncode == 1 and r.stderr.strip() == pypod("unpause", cid).stderr.strip()
    assert compose(d, "pause", "nosuch").stderr.strip() == "Error: no such service: nosuch"
    ok(d, "down", "-v", "-t", "1")
    assert ok(d, "pause").stderr == ""  # nothing running: nothing to pause


def test_events_json_stream_of_the_projects_containers(shared_tmp, busybox):
    d = project_dir(shared_tmp, "ev")
    write(d, ONE, busybox)
    ok(d, "up", "-d")
    cid = ids(d)["ev-app-1"]
    p = subprocess.Popen(user.as_user_argv([user.PYPOD, "compose", "events", "--json"]), cwd=str(d),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.5)  # the stream starts from now: let it begin before acting
        ok(d, "restart", "-t", "1")
        ok(d, "restart", "-t", "1")
        lines = []
        end = time.time() + 20
        while time.time() < end and not any('"action":"start"' in x for x in lines):
            lines.append(p.stdout.readline())
    finally:
        p.terminate()
        p.wait(timeout=10)
    events = [json.loads(x) for x in lines if x.strip()]
    assert events, p.stderr.read()
    for e in events:
        assert set(e) == {"time", "type", "service", "id", "action", "attributes"}
        assert e["type"] == "container" and e["service"] == "app" and e["id"] == cid
        assert e["attributes"]["name"] == "ev-app-1"
        assert not any(k.startswith("com.docker.compose.") for k in e["attributes"])
    assert "start" in [e["action"] for e in events]
    ok(d, "down", "-v", "-t", "1")


def test_cp_both_ways_and_to_every_replica(shared_tmp, busybox):
    d = project_dir(shared_tmp, "cpy")
    write(d, ONE, busybox)
    ok(d, "up", "-d", "--scale", "app=2")
    (d / "hello.txt").write_text("hi there\n")
    os.chmod(d / "hello.txt", 0o644)
    ok(d, "cp", "hello.txt", "app:/tmp/hello.txt")  # to a service: each of its containers
    for n in ("1", "2"):
        assert ok(d, "exec", "-T", "--index", n, "app", "cat", "/tmp/hello.txt").stdout == "hi there\n"
    ok(d, "exec", "-T", "--index", "2", "app", "sh", "-c", "echo two > /tmp/which")
    ok(d, "cp", "--index", "2", "app:/tmp/which", "which.txt")
    assert (d / "which.txt").read_text() == "two\n"
    r = compose(d, "cp", "nosvc:/x", "y")
    assert r.returncode == 1 and r.stderr.strip() == "Error: no such service: nosvc"
    r = compose(d, "cp", "a", "b")
    assert r.returncode == 1 and r.stderr.strip() == "Error: must specify at least one container source"
    ok(d, "down", "-v", "-t", "1")


def test_push_sends_built_images_with_a_name(shared_tmp, busybox, registry):
    d = project_dir(shared_tmp, "psh")
    tag = f"{registry.host}/compose/pushed:{secrets.token_hex(4)}"
    (d / "Dockerfile").write_text(f"FROM {busybox}\nRUN echo pushed > /built\n")
    (d / "compose.yaml").write_text(f"services:\n  web:\n    build: .\n    image: {tag}\n"
                                    f"  other:\n    image: {busybox}\n")
    ok(d, "build", "-q", timeout=300)
    r = ok(d, "push")
    assert " Service web  Pushed" in r.stderr and "other" not in r.stderr  # only what Compose builds
    pypod("rmi", "-f", tag)
    assert pypod("pull", "-q", tag).returncode == 0


def test_version_forms(shared_tmp):
    d = project_dir(shared_tmp, "ver")  # no compose file needed
    v = ok(d, "version", "--short").stdout.strip()
    assert v and v[0].isdigit()
    assert ok(d, "version").stdout == f"pypod compose version v{v}\n"
    assert json.loads(ok(d, "version", "--format", "json").stdout) == {"version": f"v{v}"}


def test_no_build_refuses_a_service_without_its_image(shared_tmp, busybox):
    d = project_dir(shared_tmp, "nob")
    (d / "Dockerfile").write_text(f"FROM {busybox}\n")
    (d / "compose.yaml").write_text("services:\n  web:\n    build: .\n")
    r = compose(d, "up", "-d", "--no-build")
    assert r.returncode == 1
    assert r.stderr.strip() == "Error: service 'web' has no image 'nob-web' and --no-build was given"
    assert pypod("ps", "-aq").stdout == ""
    assert "nob_default" not in pypod("network", "ls", "--format", "{{.Name}}").stdout.split()


def test_recreate_keeps_anonymous_volume_data(shared_tmp, busybox):
    d = project_dir(shared_tmp, "anon")
    write(d, ONE, busybox)
    ok(d, "up", "-d")
    ok(d, "exec", "-T", "app", "sh", "-c", "echo kept > /cache/f")
    before = ids(d)["anon-app-1"]
    vols = pypod("volume", "ls", "-q").stdout.split()
    assert len(vols) == 1
    write(d, ONE + "    environment: {CHANGED: '1'}\n", busybox)
    ok(d, "up", "-d")
    assert ids(d)["anon-app-1"] != before  # recreated
    assert ok(d, "exec", "-T", "app", "cat", "/cache/f").stdout == "kept\n"
    assert pypod("volume", "ls", "-q").stdout.split() == vols  # the same volume, no new one
    ok(d, "down", "-v", "-t", "1")
    assert pypod("volume", "ls", "-q").stdout == ""  # still the container's own: -v removes it
