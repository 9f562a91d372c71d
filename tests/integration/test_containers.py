"""Issue 3: the container lifecycle, rootless, through the CLI as a script would use it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time

import pytest

from tests.lib import user
from tests.lib.checks import ok
from tests.lib.user import pypod

pytestmark = [pytest.mark.integration, pytest.mark.root_storage]


def wait_for(pred, timeout=15.0, step=0.1):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(step)
    return False


def test_run_echo_hello_and_exit_codes(busybox):
    r = ok("run", "--rm", busybox, "echo", "hello")
    assert r.stdout == "hello\n" and r.stderr == ""
    assert pypod("run", "--rm", busybox, "sh", "-c", "exit 7").returncode == 7
    r = pypod("run", "--rm", busybox, "/etc/passwd")
    assert r.returncode == 126 and r.stderr.startswith("Error: ")
    r = pypod("run", "--rm", busybox, "nosuchcommand")
    assert r.returncode == 127 and "nosuchcommand" in r.stderr
    r = pypod("run", "--rm", "localhost/nosuchimage:latest", "true")
    assert r.returncode == 125 and r.stderr.splitlines()[-1].startswith("Error: ")
    # --rm left nothing behind
    assert ok("ps", "-a", "-q").stdout == ""


def test_short_name_and_stdin(busybox):
    r = ok("run", "--rm", "-i", "busybox", "cat", input="piped data\n")
    assert r.stdout == "piped data\n"


def test_detached_lifecycle(busybox):
    script = "trap 'echo got TERM; exit 0' TERM; echo out; echo err >&2; while true; do sleep 0.1; done"
    cid = ok("run", "-d", "--name", "web", "--hostname", "box", "-e", "FOO=bar", busybox, "sh", "-c", script).stdout.strip()
    assert len(cid) == 64
    ps = ok("ps", "--format", "{{.ID}} {{.Names}} {{.State}}").stdout.split()
    assert ps == [cid[:12], "web", "running"]
    assert ok("ps").stdout.splitlines()[0].split()[:3] == ["CONTAINER", "ID", "IMAGE"]
    assert wait_for(lambda: "out" in pypod("logs", "web").stdout)
    logs = ok("logs", "web")
    assert logs.stdout == "out\n" and logs.stderr == "err\n"
    assert ok("exec", "web", "sh", "-c", "echo $FOO $(hostname)").stdout == "bar box\n"
    assert pypod("exec", "web", "sh", "-c", "exit 3").returncode == 3
    info = json.loads(ok("inspect", "web").stdout)[0]
    assert info["State"]["Status"] == "running" and info["State"]["Running"] is True
    assert info["State"]["Pid"] > 0 and info["Id"] == cid and info["Name"] == "web"
    assert ok("inspect", "--format", "{{.State.Status}} {{.Config.Hostname}}", "web").stdout.strip() == "running box"
    # times: RFC 3339 in the JSON, Go's time.Time String() in a template (as podman prints them)
    started = ok("inspect", "--format", "{{.State.StartedAt}}|{{.State.FinishedAt}}", "web").stdout.strip()
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,9})? [+-]\d{4} \S+"
    assert re.fullmatch(f"{stamp}\\|0001-01-01 00:00:00 \\+0000 UTC", started), started
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", info["State"]["StartedAt"])
    assert ok("stop", "web").stdout.strip() == "web"
    assert "got TERM" in ok("logs", "web").stdout
    assert ok("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", "web").stdout.strip() == "exited 0"
    assert "Exited (0)" in ok("ps", "-a").stdout
    assert ok("start", "web").stdout.strip() == "web"
    assert ok("inspect", "--format", "{{.State.Running}}", "web").stdout.strip() == "true"
    ok("kill", "-s", "KILL", "web")
    assert ok("wait", "web").stdout.strip() == "137"
    assert ok("rm", "web").stdout.strip() == "web"
    r = pypod("rm", "web")
    assert r.returncode == 1 and r.stderr.strip() == 'Error: no container with name or ID "web" found: no such container'


def test_rm_running_needs_force(busybox):
    ok("run", "-d", "--name", "sleeper", busybox, "sleep", "1000")
    r = pypod("rm", "sleeper")
    assert r.returncode == 2 and "container state improper" in r.stderr
    ok("rm", "-f", "sleeper")
    assert ok("ps", "-a", "-q").stdout == ""


def test_name_id_and_id_prefix_lookup_and_podmans_ambiguity_error(busybox):
    """A full ID, a name, a unique ID prefix find the container; a prefix two IDs begin with is
    podman 4.3's error (`podman inspect 7` with two 7… containers says the same)."""
    firsts: dict[str, str] = {}
    while True:
        cid = ok("create", busybox, "true").stdout.strip()
        if cid[0] in firsts:
            break
        firsts[cid[0]] = cid
    other = next(c for d, c in firsts.items() if d != cid[0]) if len(firsts) > 1 else None
    assert ok("container", "inspect", "--format", "{{.Id}}", cid).stdout.strip() == cid
    name = ok("container", "inspect", "--format", "{{.Name}}", cid).stdout.strip()
    assert ok("container", "inspect", "--format", "{{.Id}}", name).stdout.strip() == cid
    if other:
        assert ok("container", "inspect", "--format", "{{.Id}}", other[:1]).stdout.strip() == other
    for verb in (("container", "inspect"), ("rm",), ("start",), ("container", "exists")):
        r = pypod(*verb, cid[0])
        assert (r.returncode, r.stderr) == (
            125, f"Error: more than one result for container ID {cid[0]}: container already exists\n"), verb
    ok("rm", "-a")


def test_image_owners_are_kept(clean_storage, registry):
    ok("pull", "-q", registry["debian"])
    r = ok("run", "--rm", registry["debian"], "stat", "-c", "%U:%G %u:%g", "/etc/shadow", "/var/mail")
    assert r.stdout.split("\n")[:2] == ["root:shadow 0:42", "root:mail 0:8"]
    r = ok("run", "--rm", "-u", "nobody", registry["debian"], "id", "-u")
    assert r.stdout.strip() == "65534"


def test_parallel_run_and_rm(busybox):
    results: list = []

    def run_one(i):
        results.append(pypod("run", "-d", "--name", f"par{i}", busybox, "sleep", "1000"))

    threads = [threading.Thread(target=run_one, args=(i,)) for i in range(12)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results if r.returncode]
    names = sorted(ok("ps", "--format", "{{.Names}}").stdout.split())
    assert names == sorted(f"par{i}" for i in range(12))
    rms: list = []
    threads = [threading.Thread(target=lambda i=i: rms.append(pypod("rm", "-f", f"par{i}"))) for i in range(0, 12, 2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert all(r.returncode == 0 for r in rms), [r.stderr for r in rms if r.returncode]
    names = sorted(ok("ps", "-a", "--format", "{{.Names}}").stdout.split())
    assert names == sorted(f"par{i}" for i in range(1, 12, 2))
    ok("rm", "-f", "-a")
    assert ok("ps", "-a", "-q").stdout == ""


def test_killed_process_is_seen_as_exited(busybox):
    ok("run", "-d", "--name", "victim", busybox, "sleep", "1000")
    pid = int(ok("inspect", "--format", "{{.State.Pid}}", "victim").stdout)
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: ok("ps", "-a", "--format", "{{.State}}").stdout.strip() == "exited")
    assert "Exited (137)" in ok("ps", "-a").stdout
    ok("rm", "-f", "victim")


def test_killed_supervisor_is_seen_as_exited(busybox):
    ok("run", "-d", "--name", "orphan", busybox, "sleep", "1000")
    info = json.loads(ok("inspect", "orphan").stdout)[0]
    os.kill(info["State"]["ConmonPid"], signal.SIGKILL)
    os.kill(info["State"]["Pid"], signal.SIGKILL)
    assert wait_for(lambda: ok("ps", "-a", "--format", "{{.State}}").stdout.strip() == "exited")
    ok("rm", "-f", "orphan")
    assert ok("ps", "-a", "-q").stdout == ""


def test_exit_while_no_command_runs(busybox):
    ok("run", "-d", "--name", "short", busybox, "sh", "-c", "sleep 0.3; exit 5")
    time.sleep(1.5)
    assert ok("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", "short").stdout.strip() == "exited 5"


def test_failing_healthcheck_turns_unhealthy(busybox):
    ok("run", "-d", "--name", "sick", "--health-cmd", "false", "--health-interval", "1s",
       "--health-retries", "2", busybox, "sleep", "1000")
    assert wait_for(lambda: ok("inspect", "--format", "{{.State.Health.Status}}", "sick").stdout.strip() == "unhealthy",
                    timeout=8)
    assert "(unhealthy)" in ok("ps").stdout
    ok("run", "-d", "--name", "fine", "--health-cmd", "true", "--health-interval", "1s", busybox, "sleep", "1000")
    assert wait_for(lambda: "(healthy)" in ok("ps", "--filter", "name=fine").stdout, timeout=8)
    ok("rm", "-f", "-a")


def test_without_xdg_runtime_dir(busybox):
    r1 = ok("run", "--rm", busybox, "echo", "one", env={"XDG_RUNTIME_DIR": None})
    assert r1.stdout == "one\n"
    assert "XDG_RUNTIME_DIR" in r1.stderr and len(r1.stderr.splitlines()) == 1  # said once ...
    r2 = ok("run", "--rm", busybox, "true", env={"XDG_RUNTIME_DIR": None})
    assert r2.stderr == ""                                                     # ... and only once
    os.makedirs("/run/user/0", mode=0o700, exist_ok=True)
    r3 = ok("run", "--rm", busybox, "echo", "three", env={"XDG_RUNTIME_DIR": "/run/user/0"})
    assert r3.stdout == "three\n" and r3.stderr == ""


def test_restart_policy_on_failure(busybox):
    ok("run", "-d", "--name", "flaky", "--restart", "on-failure:2", busybox, "sh", "-c", "echo run; exit 1")
    assert wait_for(lambda: ok("inspect", "--format", "{{.State.Status}}", "flaky").stdout.strip() == "exited"
                    and ok("logs", "flaky").stdout.count("run") == 3, timeout=20)
    assert ok("inspect", "--format", "{{.RestartCount}}", "flaky").stdout.strip() == "2"


def _spec_file(cid: str) -> str:
    return os.path.join(user.TEST_HOME, ".local/share/pypod/storage/containers", cid, "spec.json")


def _stamp(cid: str) -> tuple[int, int]:
    st = os.stat(_spec_file(cid))
    return st.st_ino, st.st_mtime_ns


def test_the_spec_is_written_where_it_is_derived_and_only_read_by_starts(busybox):
    """Issue 12: create derives the supervisor's spec and writes spec.json once; start, restart,
    stop, start -ai, exec, cp and a restart policy read it and never write it again."""
    cid = ok("create", "--name", "once", busybox, "sh", "-c", "echo hi; sleep 100").stdout.strip()
    made = _stamp(cid)
    text = open(_spec_file(cid)).read()
    ok("start", "once")
    assert _stamp(cid) == made
    assert ok("exec", "once", "echo", "in").stdout == "in\n"
    assert pypod("cp", "once:/etc/hostname", "-").returncode == 0
    ok("restart", "-t", "0", "once")
    ok("stop", "-t", "0", "once")
    ok("start", "once")
    assert _stamp(cid) == made and open(_spec_file(cid)).read() == text
    ok("rm", "-f", "-t", "0", "once")
    # start -ai of a container created without -i: stdin for this start only, the spec as it was
    cid = ok("create", "--name", "cat", busybox, "cat").stdout.strip()
    made = _stamp(cid)
    r = ok("start", "-a", "-i", "cat", input="piped\n")
    assert r.stdout == "piped\n" and _stamp(cid) == made
    assert json.load(open(_spec_file(cid)))["process"]["stdin"] is False
    # run: derived once at its create; the supervisor's restarts read nothing back
    cid = ok("run", "-d", "--name", "again", "--restart", "on-failure:2", busybox, "sh", "-c", "exit 1").stdout.strip()
    made = _stamp(cid)
    assert wait_for(lambda: ok("inspect", "--format", "{{.State.Status}} {{.RestartCount}}", "again")
                    .stdout.strip() == "exited 2", timeout=20)
    assert _stamp(cid) == made


def test_root_mode_works_too(registry, tmp_path):
    root = str(tmp_path / "root-storage")
    env = {"CONTAINERS_REGISTRIES_CONF": f"{user.TEST_HOME}/.config/containers/registries.conf"}
    r = pypod("--root", root, "--runroot", str(tmp_path / "run"), "run", "--rm", registry["busybox"], "echo", "root ok",
              as_root=True, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "root ok\n"


def test_import_a_rootfs_then_run(clean_storage, shared_tmp):
    tmp_path = shared_tmp
    from tests.lib.rootfs import build_busybox_rootfs_tar

    tar = tmp_path / "rootfs.tar"
    build_busybox_rootfs_tar(str(tar))
    os.chmod(tmp_path, 0o755)
    os.chmod(tar, 0o644)
    r = ok("import", "--change", 'CMD ["echo", "from import"]', "--message", "seeded", str(tar), "mybox")
    assert r.stdout.startswith("sha256:")
    assert ok("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.strip() == "localhost/mybox:latest"
    assert ok("run", "--rm", "mybox").stdout == "from import\n"
    assert ok("image", "inspect", "--format", "{{.Comment}}", "mybox").stdout.strip() == "seeded"


def test_logs_options_ps_filters_and_small_verbs(busybox):
    r = pypod("run", "--name", "talker", busybox, "sh", "-c", "for i in 1 2 3 4 5; do echo line$i; done; echo oops >&2; exit 2")
    assert (r.returncode, r.stderr) == (2, "oops\n")
    r = ok("logs", "--tail", "2", "talker")  # the last two lines of both streams, as podman counts
    assert (r.stdout, r.stderr) == ("line5\n", "oops\n")
    r = ok("logs", "-t", "talker")
    first = r.stdout.splitlines()[0]
    ts, text = first.split(" ", 1)
    assert text == "line1" and ts[:4].isdigit() and "T" in ts
    assert ok("logs", "--since", "2000-01-01T00:00:00Z", "talker").stdout.count("line") == 5
    assert ok("logs", "--until", "2000-01-01T00:00:00Z", "talker").stdout == ""
    ok("run", "-d", "--name", "alive", "--label", "tier=web", busybox, "sleep", "1000")
    q = lambda *f: ok("ps", "-a", "--format", "{{.Names}}", *f).stdout.split()  # noqa: E731
    assert q("--filter", "status=exited") == ["talker"]
    assert q("--filter", "exited=2") == ["talker"]
    assert q("--filter", "label=tier=web") == ["alive"]
    assert q("--filter", "name=^tal") == ["talker"]
    assert sorted(q("--filter", f"ancestor={busybox}")) == ["alive", "talker"]
    assert ok("ps", "-l", "--format", "{{.Names}}").stdout.split() == ["alive"]
    assert len(ok("ps", "-a", "-n", "1", "-q").stdout.split()) == 1
    assert ok("ps", "--no-trunc", "-q").stdout.strip() == ok("inspect", "--format", "{{.Id}}", "alive").stdout.strip()
    top = ok("top", "alive").stdout.splitlines()
    assert top[0].split()[:3] == ["USER", "PID", "PPID"] and "sleep 1000" in top[1]
    ok("rename", "alive", "renamed")
    assert ok("container", "exists", "renamed").returncode == 0
    assert pypod("container", "exists", "alive").returncode == 1
    assert ok("wait", "--condition", "running", "renamed").stdout.strip() == "0"
    assert ok("restart", "-t", "0", "renamed").returncode == 0
    assert ok("inspect", "--format", "{{.State.Running}}", "renamed").stdout.strip() == "true"
    pruned = ok("container", "prune", "-f").stdout.split()
    assert len(pruned) == 1 and ok("ps", "-a", "--format", "{{.Names}}").stdout.split() == ["renamed"]
    r = pypod("pause", "renamed")
    assert r.returncode == 125 and "cgroup" in r.stderr
    ok("rm", "-f", "renamed")


def test_wait_for_healthy(busybox):
    ok("run", "-d", "--name", "h", "--health-cmd", "test -e /tmp/ready", "--health-interval", "1s", busybox,
       "sh", "-c", "sleep 1; touch /tmp/ready; sleep 1000")
    r = pypod("wait", "--condition", "healthy", "h", timeout=30)
    assert r.returncode == 0, r.stderr
    assert ok("inspect", "--format", "{{.State.Health.Status}}", "h").stdout.strip() == "healthy"
    assert ok("healthcheck", "run", "h").returncode == 0
    ok("rm", "-f", "h")


def test_run_options_reach_the_process(busybox, shared_tmp):
    envfile = shared_tmp / "env"
    envfile.write_text("FROMFILE=yes\n# comment\n")
    os.chmod(envfile, 0o644)
    r = ok("run", "--rm", "-w", "/tmp", "-u", "1000:1000", "--env-file", str(envfile), "-e", "A=1",
           "--entrypoint", "sh", busybox, "-c", "echo $(pwd) $(id -u):$(id -g) $FROMFILE $A $container $HOSTNAME")
    pwd, ids, fromfile, a, engine, hostname = r.stdout.split()
    assert (pwd, ids, fromfile, a, engine) == ("/tmp", "1000:1000", "yes", "1", "podman") and len(hostname) == 12
    assert ok("run", "--rm", busybox, "test", "-e", "/run/.containerenv").returncode == 0
    r = pypod("run", "--rm", "-u", "nosuchuser", busybox, "true")
    assert r.returncode == 125 and "nosuchuser" in r.stderr
    r = pypod("run", "--rm", "--name", "x y", busybox, "true")
    assert r.returncode == 125


def test_rmi_refuses_an_image_in_use_and_prune(busybox):
    image_id = ok("image", "inspect", "--format", "{{.Id}}", busybox).stdout.strip()
    ok("create", "--name", "user1", busybox, "true")
    r = pypod("rmi", busybox)
    assert r.returncode == 2 and "image is in use by a container" in r.stderr
    r = ok("rmi", "-f", busybox)
    assert f"Deleted: {image_id}" in r.stdout
    assert pypod("container", "exists", "user1").returncode == 1
    # a dangling image goes with `image prune`, a named one only with -a
    ok("pull", "-q", busybox)
    ok("untag", busybox)
    assert ok("images", "--filter", "dangling=true", "-q").stdout.strip() == image_id[:12]
    assert ok("image", "prune", "-f").stdout.split() == [image_id]
    ok("pull", "-q", busybox)
    assert ok("image", "prune", "-f").stdout == ""
    assert ok("image", "prune", "-a", "-f").stdout.split() == [image_id]


def _find_pypod_process(parent_pid: int, timeout: float = 10.0) -> int:
    """The pypod CLI process under runuser/env (signals must reach it, not runuser)."""
    end = time.time() + timeout
    while time.time() < end:
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                cmd = open(f"/proc/{d}/cmdline", "rb").read().split(b"\0")
                open(f"/proc/{d}/stat").read()  # (still there?)
            except OSError:
                continue
            if any(c.endswith(b"/pypod") for c in cmd[:2]) and b"run" in cmd:
                # a descendant of our runuser
                p = int(d)
                while p > 1:
                    if p == parent_pid:
                        return int(d)
                    try:
                        p = int(open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[1])
                    except OSError:
                        break
        time.sleep(0.05)
    raise AssertionError("pypod process not found")


def test_foreground_run_forwards_signals_and_logs_follow(busybox):
    from tests.lib.user import as_user_argv

    script = "trap 'echo caught; exit 3' TERM; echo started; while true; do sleep 0.1; done"
    p = subprocess.Popen(as_user_argv([user.PYPOD, "run", "--name", "fg", busybox,
                                       "sh", "-c", script]), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: "started" in pypod("logs", "fg").stdout)
        follower = subprocess.Popen(as_user_argv([user.PYPOD, "logs", "-f", "fg"]),
                                    stdout=subprocess.PIPE, text=True)
        os.kill(_find_pypod_process(p.pid), signal.SIGTERM)
        out, err = p.communicate(timeout=20)
        assert p.returncode == 3 and out == "started\ncaught\n", (out, err)
        # logs -f printed everything and ended when the container did
        fout, _ = follower.communicate(timeout=20)
        assert fout == "started\ncaught\n"
    finally:
        p.kill()
    ok("rm", "fg")


def test_stop_signal_and_timeout_and_replace(busybox):
    ok("run", "-d", "--name", "sig", "--stop-signal", "SIGINT", busybox, "sh", "-c",
       "trap 'echo got INT; exit 0' INT; while true; do sleep 0.1; done")
    ok("stop", "sig")
    assert "got INT" in ok("logs", "sig").stdout
    ok("run", "-d", "--name", "stubborn", "--stop-timeout", "1", busybox, "sh", "-c",
       "trap '' TERM; while true; do sleep 0.1; done")
    t0 = time.time()
    r = ok("stop", "stubborn")
    assert time.time() - t0 < 6
    assert "StopSignal SIGTERM failed to stop container stubborn in 1 seconds, resorting to SIGKILL" in r.stderr
    assert ok("inspect", "--format", "{{.State.ExitCode}}", "stubborn").stdout.strip() == "137"
    old = ok("inspect", "--format", "{{.Id}}", "sig").stdout.strip()
    new = ok("run", "-d", "--replace", "--name", "sig", busybox, "sleep", "1000").stdout.strip()
    assert new != old and ok("ps", "-a", "--filter", "name=^sig$", "-q", "--no-trunc").stdout.split() == [new]
    ok("rm", "-f", "-a")


def test_workdir_rules_as_podman(busybox):
    # -w that does not exist: podman 4.3 refuses with 126; a workdir from the image is created
    r = pypod("run", "--rm", "-w", "/nonexist/x", busybox, "pwd")
    assert r.returncode == 126 and 'workdir "/nonexist/x" does not exist on container' in r.stderr
    r = pypod("run", "--rm", "-w", "/etc/passwd", busybox, "pwd")
    assert r.returncode == 126 and "exists on container" in r.stderr and "but is not a directory" in r.stderr
    assert ok("run", "--rm", "-w", "/tmp", busybox, "pwd").stdout == "/tmp\n"
