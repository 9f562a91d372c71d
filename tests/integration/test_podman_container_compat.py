"""The container verbs as podman 4.3's own system tests (030-run, 035-logs, 040-ps, 045-start,
050-stop, 055-rm, 065-cp, 130-kill) check them, as the test user on the real kernel."""

from __future__ import annotations

import io
import json
import os
import tarfile
import time

import pytest

from tests.lib.checks import ok
from tests.lib.user import pypod, sh_as_user

pytestmark = [pytest.mark.integration, pytest.mark.root_storage]


def fmt(name: str, template: str) -> str:
    return ok("inspect", "--format", template, name).stdout.strip()


def test_ps_filters_start_filters_and_wait(busybox):
    ok("run", "-d", "--name", "runner", busybox, "sleep", "60")
    ok("run", "--name", "stopped", busybox, "true")
    created = ok("create", "--name", "never", busybox, "/no/such/command").stdout.strip()
    # a name filter alone does not look beyond the running ones; a status filter does
    assert ok("ps", "--filter", "name=stopped", "--format", "{{.Names}}").stdout == ""
    assert ok("ps", "--filter", "status=exited", "--format", "{{.Names}}").stdout == "stopped\n"
    # wait on a container that never ran returns at once (podman 4.3)
    assert ok("wait", "never", timeout=10).stdout == "0\n"
    r = pypod("start", "never")  # podman: a detached start's failure is 125, whatever the cause
    assert r.returncode == 125 and "/no/such/command" in r.stderr
    assert ok("wait", "never", timeout=10).stdout.strip().lstrip("-").isdigit()
    r = pypod("start", "--all", "12333")
    assert (r.returncode, r.stderr) == (125, "Error: either start all containers or the container(s) "
                                              "provided in the arguments\n")
    r = pypod("start", "--filter", "restart-policy=fakepolicy", "stopped")
    assert (r.returncode, r.stderr) == (125, "Error: fakepolicy invalid restart policy\n")
    assert ok("start", "--filter", "restart-policy=always", "stopped").stdout == ""
    assert ok("start", "--filter", "restart-policy=none", "stopped").stdout == "stopped\n"
    assert created  # (not started above: the filters picked among the named ones)
    ok("rm", "-f", "-t", "0", "runner", "stopped", "never")


def test_kill_with_a_dashed_signal_and_stop_timeout_and_stopping(busybox):
    ok("run", "-d", "--name", "trap", busybox, "sh", "-c",
       "trap 'echo got HUP' HUP; trap 'echo TERM ignored' TERM; echo READY; while :; do sleep 0.1; done")
    assert _wait_log("trap", "READY")
    ok("kill", "-s", "-1", "trap")
    assert _wait_log("trap", "got HUP")
    r = pypod("kill", "-s", "65", "trap")
    assert (r.returncode, r.stderr) == (125, "Error: valid signals are 1 through 64\n")
    # a stop waiting for a container that ignores TERM: podman's "stopping" meanwhile
    import subprocess

    from tests.lib.user import PYPOD, as_user_argv, user_info

    stopper = subprocess.Popen(as_user_argv([PYPOD, "stop", "--timeout", "10", "trap"]), cwd=user_info().home,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert _wait_log("trap", "TERM ignored")
        assert fmt("trap", "{{.State.Status}}") == "stopping"
        assert ok("ps", "--format", "{{.Names}} {{.State}}").stdout == "trap stopping\n"
        t0 = time.time()
        ok("kill", "trap")  # goes through at once, as podman's (it waited for stop's lock: ~9.5 s)
        assert time.time() - t0 < 5
    finally:
        stopper.wait(timeout=30)
    assert fmt("trap", "{{.State.Status}} {{.State.ExitCode}}") == "exited 137"


def _wait_log(name: str, text: str, timeout: float = 15) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        if text in pypod("logs", name).stdout:
            return True
        time.sleep(0.1)
    return False


def test_global_noout_and_runtime_flag(busybox):
    assert ok("--noout", "create", "--name", "quiet", busybox, "true").stdout == ""
    assert ok("--noout", "rm", "quiet").stdout == ""
    r = pypod("--runtime-flag", "invalidflag", "run", "--rm", busybox, "true")
    assert r.returncode == 126 and "invalidflag" in r.stderr


def test_run_options_from_podmans_system_tests(busybox):
    # --memory=0 is no limit (on cgroups v1 rootless every limit is ignored, said once)
    r = ok("run", "--rm", "--memory=0", busybox, "echo", "hello")
    assert r.stdout == "hello\n"
    r = ok("run", "--rm", "--kernel-memory", "100", busybox, "true")
    assert "The --kernel-memory flag is no longer supported. This flag is a noop." in r.stderr
    # what scripts test to know they run in a container
    assert "container=podman" in ok("run", "--rm", busybox, "env").stdout.splitlines()
    unset = ok("run", "--rm", "--unsetenv-all", busybox, "/bin/sh", "-c", "env").stdout
    assert "container=" not in unset and "PATH=/usr/local/sbin" not in unset  # (sh sets a PATH of its own)
    env = ok("run", "--rm", "--privileged", "--name", "envc", busybox, "sh", "-c",
             ". /run/.containerenv; echo $engine $name").stdout
    assert env.startswith("podman-") and env.split()[1] == "envc"
    # the port-mapping warning is printed bare, before the container's output
    r = ok("run", "--rm", "-p", "8080", "--net=host", busybox, "echo", "x")
    assert r.stderr.splitlines()[0] == ("Port mappings have been discarded as one of the Host, Container, "
                                        "Pod, and None network modes are in use")
    # --hostuser adds the host's account; a missing one fails the run (126)
    me = sh_as_user("id -un").stdout.strip()
    assert ok("run", "--rm", "--hostuser", me, busybox, "grep", f"^{me}:", "/etc/passwd").stdout
    assert pypod("run", "--rm", "--hostuser", "bogus-user-x", busybox, "true").returncode == 126
    # --attach stdin alone: the output goes to the log and the ID is printed
    r = ok("run", "--name", "att", "--attach", "stdin", busybox, "echo", "hello")
    assert r.stdout.strip() == fmt("att", "{{.Id}}")
    assert ok("logs", "att").stdout == "hello\n"
    r = ok("run", "--name", "att2", "--attach", "stderr", busybox, "sh", "-c", "echo out; echo err >&2")
    assert (r.stdout, r.stderr) == ("", "err\n")
    assert fmt("att", "{{.ImageDigest}}").startswith("sha256:")
    ok("rm", "att", "att2")


def test_run_preserve_fds(busybox, shared_tmp):
    f = shared_tmp / "fd4"
    f.write_text("through fd 4\n")
    os.chmod(f, 0o644)
    r = sh_as_user(f"pypod run --rm -i --preserve-fds=2 {busybox} sh -c 'cat <&4; ls /proc/self/fd' "
                   f"3</dev/null 4<{f}")
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert out == ["through fd 4", "0", "1", "2", "3", "4", "5"]  # 5: ls reading the dir; nothing leaked
    r = sh_as_user(f"pypod run --rm --preserve-fds=1 {busybox} true 3<&-")
    assert r.returncode == 125 and "file descriptor 3 is not open" in r.stderr


def test_run_timeout_kills_it(busybox):
    t0 = time.time()
    r = pypod("run", "--name", "slow", "--timeout", "2", busybox, "sleep", "60")
    assert r.returncode == 255 and 1.5 < time.time() - t0 < 15
    assert fmt("slow", "{{.State.Status}} {{.State.ExitCode}}") == "exited -1"
    ok("rm", "slow")


def test_a_busy_port_fails_the_start_with_126_and_keeps_the_container(busybox):
    import socket

    s = socket.socket()
    s.bind(("0.0.0.0", 0))
    s.listen()
    port = s.getsockname()[1]
    try:
        r = pypod("run", "-d", "-p", f"{port}:80", "--name", "busy", busybox, "sleep", "60")
        assert r.returncode == 126 and "address already in use" in r.stderr
        assert pypod("run", "-d", "--rm", "-p", f"{port}:80", "--name", "busyrm", busybox, "true").returncode == 126
    finally:
        s.close()
    assert ok("ps", "-a", "--format", "{{.Names}}").stdout == "busy\n"
    ok("rm", "busy")


def test_rm_refuses_a_container_another_one_needs(busybox):
    base = ok("create", busybox, "true").stdout.strip()
    dep = ok("create", f"--net=container:{base}", busybox, "true").stdout.strip()
    r = pypod("rm", base)
    assert r.returncode == 125
    assert r.stderr.startswith(f"Error: container {base} has dependent containers which must be removed "
                               f"before it: {dep}")
    assert ok("rm", "--depend", base).stdout.split() == [dep, base]


def test_logs_follow_two_containers_in_order(busybox):
    # (gaps of seconds: what was logged before `logs -f` starts is printed container by container)
    c1 = ok("run", "-d", "--rm", busybox, "sh", "-c", "echo a; sleep 7; echo d; sleep 1").stdout.strip()
    c2 = ok("run", "-d", "--rm", busybox, "sh", "-c", "sleep 4; echo b; sleep 1; echo c; sleep 1").stdout.strip()
    r = ok("logs", "-f", c1, c2, timeout=40)
    assert r.stdout == f"{c1[:12]} a\n{c2[:12]} b\n{c2[:12]} c\n{c1[:12]} d\n"


def _tar(entries: list[tuple[str, int, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, mode, data in entries:
            ti = tarfile.TarInfo(name)
            ti.mode = mode
            if data is None:
                ti.type = tarfile.DIRTYPE
                tf.addfile(ti)
            else:
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def test_the_image_root_mode_is_kept(clean_storage, shared_tmp):
    from tests.lib.rootfs import busybox_rootfs_bytes

    src = tarfile.open(fileobj=io.BytesIO(busybox_rootfs_bytes()))
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tf:
        root = tarfile.TarInfo("./")
        root.type, root.mode = tarfile.DIRTYPE, 0o555
        tf.addfile(root)
        for m in src:
            tf.addfile(m, src.extractfile(m) if m.isfile() else None)
    tar = shared_tmp / "ro.tar"
    tar.write_bytes(out.getvalue())
    os.chmod(tar, 0o644)
    ok("import", str(tar), "rootro")
    assert ok("run", "--rm", "rootro", "stat", "-c", "%a", "/").stdout == "555\n"


def test_keep_id_home_and_the_images_owners(busybox):
    r = ok("run", "--rm", "--userns=keep-id", "--workdir", "/tmp", busybox, "sh", "-c", "echo $HOME")
    assert r.stdout == "/tmp\n"
    # the image's files stay root's under keep-id (its layers are shifted through its maps)
    for user in ("0", "100"):
        r = ok("run", "--rm", f"--user={user}", "--userns=keep-id", busybox, "stat", "-c", "%u:%g", "/etc", "/")
        assert r.stdout == "0:0\n0:0\n"
    uid = sh_as_user("id -u").stdout.strip()
    r = ok("run", "--rm", "--userns=keep-id", busybox, "sh", "-c", "touch /tmp/x && stat -c %u /tmp/x && id -u")
    assert r.stdout == f"{uid}\n{uid}\n"


def test_cp_as_podman(busybox, shared_tmp):
    os.chmod(shared_tmp, 0o777)
    f = shared_tmp / "hostfile"
    f.write_text("content\n")
    os.chmod(f, 0o644)
    ok("run", "-d", "--name", "cpc", "--workdir", "/home", busybox, "sh", "-c",
       "mkdir -p /home/sub; echo inner > /home/sub/f; sleep 60")
    # relative container paths start at the working directory
    ok("cp", str(f), "cpc:.")
    assert ok("exec", "cpc", "cat", "/home/hostfile").stdout == "content\n"
    ok("cp", "cpc:sub/f", str(shared_tmp / "back"))
    r = pypod("cp", "cpc:nothere", str(shared_tmp))  # named as given
    assert r.stderr == 'Error: "nothere" could not be found on container cpc: no such file or directory\n'

    assert (shared_tmp / "back").read_text() == "inner\n"
    # container to container
    ok("create", "--name", "cpd", busybox, "true")
    ok("cp", "cpc:/home/sub", "cpd:/")
    ok("cp", "cpd:/sub/f", str(shared_tmp / "back2"))
    assert (shared_tmp / "back2").read_text() == "inner\n"
    # podman's error texts
    r = pypod("cp", "-", "cpc:/tmp", input="not a tar")
    assert (r.returncode, r.stderr) == (125, "Error: source must be a (compressed) tar archive when copying from stdin\n")
    r = pypod("cp", "-", "cpc:/home/hostfile", input="")
    assert r.stderr == "Error: destination must be a directory when copying from stdin\n"
    r = sh_as_user("pypod cp cpc:/home/hostfile /dev/stdout | cat")
    assert 'Error: invalid destination: "/dev/stdout" must be a directory or a regular file' in r.stderr
    ok("exec", "cpc", "mkdir", "/tmp/foo")
    (shared_tmp / "foo").write_text("x\n")
    r = pypod("cp", str(shared_tmp / "foo"), "cpc:/tmp")
    assert r.returncode == 125 and 'error creating "/tmp/foo": ' in r.stderr and ": file exists" in r.stderr
    assert ok("cp", "--pause=false", "--overwrite", str(shared_tmp / "foo"), "cpc:/tmp").stdout == ""
    ok("rm", "-f", "-t", "0", "cpc", "cpd")


def test_cp_into_a_stopped_containers_tmpfs_is_seen_at_start(busybox, shared_tmp):
    f = shared_tmp / "file"
    f.write_text("in tmpfs\n")
    os.chmod(f, 0o644)
    ok("create", "--mount", "type=tmpfs,dst=/tmp", "--name", "tmpc", busybox, "sleep", "60")
    ok("cp", str(f), "tmpc:/tmp")
    ok("start", "tmpc")
    assert ok("exec", "tmpc", "cat", "/tmp/file").stdout == "in tmpfs\n"
    ok("rm", "-f", "-t", "0", "tmpc")


def test_cp_into_a_volume_inside_a_volume_of_a_stopped_container(busybox, shared_tmp):
    f = shared_tmp / "hostfile"
    f.write_text("for v2\n")
    os.chmod(f, 0o644)
    ok("volume", "create", "v1")
    ok("volume", "create", "v2")
    ok("create", "--name", "vc", "-v", "v1:/tmp/volume", "-v", "v2:/tmp/volume/sub", busybox)
    ok("cp", str(f), "vc:/tmp/volume/sub")
    v1, v2 = (ok("volume", "inspect", "--format", "{{.Mountpoint}}", v).stdout.strip() for v in ("v1", "v2"))
    assert sh_as_user(f"cat {v2}/hostfile; ls -A {v1}").stdout == "for v2\n"  # no mount point left in v1
    ok("rm", "vc")
    ok("volume", "rm", "v1", "v2")


def test_run_from_a_docker_archive(busybox, shared_tmp):
    os.chmod(shared_tmp, 0o777)
    ok("run", "--name", "myc", "--entrypoint", '["/bin/echo","magic"]', busybox)
    ok("commit", "-q", "myc", "myi")
    ok("save", "-q", "myi", "-o", str(shared_tmp / "a.tar"))
    ok("rm", "myc")
    ok("rmi", "myi")
    r = ok("run", "--rm", f"docker-archive:{shared_tmp / 'a.tar'}")
    # (the image's CMD went with the --entrypoint: the committed image does not pass it either)
    assert r.stdout == "magic\n" and "Writing manifest" in r.stderr
    assert json.loads(ok("images", "--format", "json").stdout)
    ok("rmi", "myi")
