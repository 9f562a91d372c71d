"""`pypod events`: the log the engine and the supervisors write, read back with podman's filters."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from tests.lib import user
from tests.lib.user import as_user_argv, pypod

pytestmark = pytest.mark.integration


def _events(*args) -> list[dict]:
    r = pypod("events", "--stream=false", "--format", "json", *args, check=True)
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def _wait_for(pred, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.1)
    return False


def test_container_lifecycle_events_with_labels_and_filters(busybox):
    t0 = time.time()
    cid = pypod("run", "-d", "--name", "ev", "--label", "app=demo", busybox, "sh", "-c", "exit 3",
                check=True).stdout.strip()
    assert _wait_for(lambda: pypod("inspect", "-f", "{{.State.Status}}", "ev").stdout.strip() == "exited")
    pypod("rm", "ev", check=True)
    assert _wait_for(lambda: "remove" in [e["Status"] for e in _events("--filter", "container=ev")])
    evs = _events("--filter", "container=ev")
    statuses = [e["Status"] for e in evs]
    for s in ("create", "start", "died", "remove"):
        assert s in statuses, statuses
    assert statuses.index("create") < statuses.index("start") < statuses.index("died") < statuses.index("remove")
    died = next(e for e in evs if e["Status"] == "died")
    assert died["ID"] == cid and died["ContainerExitCode"] == 3 and died["Attributes"]["app"] == "demo"
    # filters: event, label, type; --since/--until
    assert {e["Status"] for e in _events("--filter", "event=create", "--filter", "label=app=demo")} == {"create"}
    assert _events("--filter", "label=app=other") == []
    assert all(e["Type"] == "container" for e in _events("--filter", "type=container"))
    assert _events("--until", str(t0 - 3600)) == []
    # the default line, as podman prints it
    line = pypod("events", "--stream=false", "--filter", "event=create", "--filter", "container=ev",
                 check=True).stdout.strip()
    assert f" container create {cid} (image={busybox}, name=ev, app=demo)" in line, line
    r = pypod("events", "--stream=false", "--filter", "bogus=1")
    assert r.returncode == 125 and "invalid filter" in r.stderr


def test_events_stream_follows_new_events(busybox):
    p = subprocess.Popen(as_user_argv([user.PYPOD, "events", "--format", "{{.Type}} {{.Status}} {{.Name}}",
                                       "--filter", "type=volume"]),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        time.sleep(1)
        pypod("volume", "create", "evvol", check=True)
        pypod("volume", "rm", "evvol", check=True)
        lines = []
        end = time.time() + 20
        while len(lines) < 2 and time.time() < end:
            lines.append(p.stdout.readline().strip())
        assert lines == ["volume create evvol", "volume remove evvol"], lines
    finally:
        p.kill()
        p.wait()


def test_image_network_kill_stop_and_attach_events(busybox, registry):
    """Every kind the issue lists beyond create/start/died/remove: pull, tag, untag, image
    remove, network create/remove, kill (its signal), stop, attach."""
    t0 = str(time.time() - 1)
    pypod("rmi", busybox, check=True)
    pypod("pull", "-q", busybox, check=True)
    pypod("tag", busybox, "localhost/evtag:1", check=True)
    pypod("untag", "localhost/evtag:1", check=True)
    pypod("network", "create", "evnet", check=True)
    pypod("network", "rm", "evnet", check=True)
    pypod("run", "-d", "--name", "evk", busybox, "sleep", "100", check=True)
    pypod("kill", "evk", check=True)
    pypod("run", "-d", "--name", "evs", busybox, "sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done",
          check=True)
    a = subprocess.Popen(as_user_argv([user.PYPOD, "attach", "--no-stdin", "evs"]), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True)
    try:
        assert _wait_for(lambda: "attach" in [e["Status"] for e in _events("--filter", "container=evs")])
    finally:
        a.kill()
        a.wait()
    pypod("stop", "-t", "5", "evs", check=True)
    pypod("create", "--name", "evx", busybox, "true", check=True)
    pypod("rmi", "-f", busybox, check=True)
    evs = _events("--since", t0)
    got = {(e["Type"], e["Status"], e.get("Name") or "") for e in evs}
    for want in [("image", "pull", busybox), ("image", "tag", "localhost/evtag:1"),
                 ("image", "untag", "localhost/evtag:1"), ("network", "create", "evnet"),
                 ("network", "remove", "evnet"), ("container", "kill", "evk"),
                 ("container", "attach", "evs"), ("container", "stop", "evs")]:
        assert want in got, (want, sorted(got))
    kill = next(e for e in evs if e["Status"] == "kill")
    assert kill["Attributes"]["signal"] == "KILL"
    assert any(e["Type"] == "image" and e["Status"] == "remove" for e in evs), sorted(got)
