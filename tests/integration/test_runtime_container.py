"""The runtime on the real kernel: as root and as the unprivileged `pypodtest` user.

Each test builds a ContainerSpec for a busybox root file system split into two overlay lower
layers and drives pypod.runtime through tests/integration/runtime_driver.py (copied to a
directory the test user can read), as root directly or as pypodtest through runuser.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

pytestmark = pytest.mark.integration

from tests.lib.user import TEST_USER, subid_range  # noqa: E402
HERE = os.path.dirname(os.path.abspath(__file__))

PASSWD = ("root:x:0:0:root:/root:/bin/sh\n"
          "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
          "alice:x:1000:1000:alice:/home/alice:/bin/sh\n")
GROUP = "root:x:0:\nnobody:x:65534:\nalice:x:1000:\nstaff:x:50:alice\n"


def _pypod_parent() -> str:
    import pypod

    return os.path.dirname(os.path.dirname(os.path.abspath(pypod.__file__)))


def ensure_test_user() -> pwd.struct_passwd:
    """Idempotent: the test user with its subuid/subgid range and /run/user/UID (tests/lib/user.py)."""
    from tests.lib import user as test_user_lib

    test_user_lib.ensure_user()
    return pwd.getpwnam(TEST_USER)


def _build_layers(base: str, owner_uid: int, owner_gid: int, alice_uid: int, alice_gid: int):
    """l1: busybox + applets; l2 (top): /etc files, dirs, a file owned by container uid 1000."""
    l1, l2 = os.path.join(base, "l1"), os.path.join(base, "l2")
    os.makedirs(os.path.join(l1, "bin"))
    shutil.copy2("/bin/busybox", os.path.join(l1, "bin", "busybox"))
    names = subprocess.run(["/bin/busybox", "--list"], capture_output=True, text=True,
                           check=True).stdout.split()
    for n in names:
        if n != "busybox":
            os.symlink("busybox", os.path.join(l1, "bin", n))
    for d in ("etc", "tmp", "proc", "sys", "dev", "root", "home/alice", "data"):
        os.makedirs(os.path.join(l2, d), exist_ok=True)
    os.chmod(os.path.join(l2, "tmp"), 0o1777)
    with open(os.path.join(l2, "etc/passwd"), "w") as f:
        f.write(PASSWD)
    with open(os.path.join(l2, "etc/group"), "w") as f:
        f.write(GROUP)
    with open(os.path.join(l2, "data/notexec"), "w") as f:
        f.write("just text\n")
    with open(os.path.join(l2, "home/alice/file"), "w") as f:
        f.write("alice's\n")
    for root, dirs, files in os.walk(base):
        for n in dirs + files:
            os.lchown(os.path.join(root, n), owner_uid, owner_gid)
    os.lchown(base, owner_uid, owner_gid)
    for p in ("home/alice", "home/alice/file"):
        os.lchown(os.path.join(l2, p), alice_uid, alice_gid)
    return [l2, l1]  # top-most first


class Mode:
    def __init__(self, name: str, base: str, driver: str, pw):
        self.name = name
        self.rootless = name == "rootless"
        self.pw = pw
        self.uid = pw.pw_uid if self.rootless else 0
        self.gid = pw.pw_gid if self.rootless else 0
        self.base = os.path.join(base, name)
        self.driver = driver
        os.makedirs(self.base)
        if self.rootless:
            # container uid 0 ↔ the user; container uid 1000 ↔ the subuid range's start + 999
            start, _ = subid_range(TEST_USER)
            self.lower = _build_layers(os.path.join(self.base, "layers"), self.uid, self.gid,
                                       start + 999, start + 999)
        else:
            self.lower = _build_layers(os.path.join(self.base, "layers"), 0, 0, 1000, 1000)
        os.chown(self.base, self.uid, self.gid)
        self.n = 0

    def spec(self, args, name=None, **kw) -> tuple[str, dict]:
        self.n += 1
        name = name or f"c{self.n}"
        cdir = os.path.join(self.base, "containers", name)
        os.makedirs(cdir)
        for d in (os.path.dirname(cdir), cdir):
            os.chown(d, self.uid, self.gid)
        process = {"args": list(args), "env": ["PATH=/bin"], "cwd": "/"}
        process.update(kw.pop("process", {}))
        spec = {"id": (name * 64)[:64], "name": name, "hostname": name,
                "rootfs": {"lower": self.lower, "upper": os.path.join(cdir, "upper"),
                           "work": os.path.join(cdir, "work")},
                "process": process, "mounts": [], "log_path": os.path.join(cdir, "ctr.log")}
        spec.update(kw)
        return cdir, spec

    def argv(self, req: dict) -> list[str]:
        argv = [sys.executable, self.driver, json.dumps(req)]
        if self.rootless:
            argv = ["runuser", "-u", TEST_USER, "--", "env", "-i", f"HOME={self.pw.pw_dir}",
                    "PATH=/usr/bin:/bin", f"XDG_RUNTIME_DIR=/run/user/{self.uid}",
                    f"PYTHONPATH={_pypod_parent()}", *argv]
        else:
            argv = ["env", "-i", "HOME=/root", "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                    f"PYTHONPATH={_pypod_parent()}", *argv]
        return argv

    def drive(self, req: dict, *, input: bytes | None = None, timeout: float = 60):
        p = subprocess.run(self.argv(req), input=input, capture_output=True, timeout=timeout)
        return _parse(p.returncode, p.stdout, p.stderr)

    def run(self, args, **kw):
        cdir, spec = self.spec(args, **kw)
        rc, out, err, res = self.drive({"op": "run", "cdir": cdir, "spec": spec})
        return cdir, rc, out, err, res

    def start(self, args, **kw):
        cdir, spec = self.spec(args, **kw)
        rc, out, err, res = self.drive({"op": "start", "cdir": cdir, "spec": spec})
        assert rc == 0, (err, res)
        return cdir, res

    def state(self, cdir):
        return self.drive({"op": "state", "cdir": cdir})[3]


def _parse(rc, out, err):
    res = {}
    lines = err.split(b"\n")
    keep = []
    for line in lines:
        if line.startswith(b"@@RESULT "):
            res = json.loads(line[9:])
        else:
            keep.append(line)
    return rc, out, b"\n".join(keep).strip(b"\n"), res


@pytest.fixture(scope="session")
def rt_base():
    if os.geteuid() != 0:
        pytest.skip("the runtime integration tests run as root (and as pypodtest via runuser)")
    pw = ensure_test_user()
    base = tempfile.mkdtemp(prefix="pypod-rt-", dir="/tmp")
    os.chmod(base, 0o755)
    driver = os.path.join(base, "runtime_driver.py")
    shutil.copy(os.path.join(HERE, "runtime_driver.py"), driver)
    os.chmod(driver, 0o644)
    yield base, driver, pw
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(params=["root", "rootless"])
def mode(request, rt_base):
    base, driver, pw = rt_base
    d = os.path.join(base, f"{request.node.name}".replace("/", "_").replace("[", "-")
                     .replace("]", ""))
    os.makedirs(d)
    os.chmod(d, 0o755)
    return Mode(request.param, d, driver, pw)


def _wait_for(pred, timeout=10.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] not in "ZX"
    except OSError:
        return False


# ---------------------------------------------------------------------------------------------

def test_echo_hello(mode):
    cdir, rc, out, err, res = mode.run(["echo", "hello"])
    assert (rc, out, err) == (0, b"hello\n", b"")
    assert res["exit"] == 0
    log = open(os.path.join(cdir, "ctr.log"), "rb").read()
    assert b" stdout F hello\n" in log
    st = mode.state(cdir)
    assert st["status"] == "exited" and st["exit_code"] == 0 and st["finished_at"]


def test_exit_code(mode):
    _, rc, _, _, res = mode.run(["sh", "-c", "exit 7"])
    assert rc == 7 and res["exit"] == 7


def test_stdout_stderr_apart_and_partial_lines(mode):
    cdir, rc, out, err, _ = mode.run(["sh", "-c", "echo out; echo err >&2; printf partial"])
    assert rc == 0
    assert out == b"out\npartial"
    assert err == b"err"
    lines = open(os.path.join(cdir, "ctr.log"), "rb").read().splitlines()
    kinds = sorted(line.split(b" ", 1)[1] for line in lines)
    assert kinds == [b"stderr F err", b"stdout F out", b"stdout P partial"]


def test_missing_command_is_127(mode):
    cdir, rc, out, err, res = mode.run(["nosuchcmd"])
    assert rc == 127
    assert "executable file `nosuchcmd` not found in $PATH: No such file or directory" in \
        res["error"]
    assert mode.state(cdir)["status"] == "created"


def test_not_executable_is_126(mode):
    _, rc, _, _, res = mode.run(["/data/notexec"])
    assert rc == 126 and "permission denied" in res["error"]
    _, rc, _, _, res = mode.run(["/tmp"])
    assert rc == 126


def test_user_resolution(mode):
    _, rc, out, _, _ = mode.run(["sh", "-c", "id -u; id -g"], process={"user": "1000"})
    assert (rc, out) == (0, b"1000\n1000\n")  # the passwd entry's primary group
    _, rc, out, _, _ = mode.run(["sh", "-c", "id -u; id -g"], process={"user": "1234"})
    assert (rc, out) == (0, b"1234\n0\n")  # no entry: gid 0
    _, rc, out, _, _ = mode.run(["sh", "-c", "id -u; id -g; id -G"],
                                process={"user": "alice:staff"})
    assert (rc, out) == (0, b"1000\n50\n50\n")
    _, rc, out, _, _ = mode.run(["sh", "-c", "id -u; id -g; id -G; echo $HOME"],
                                process={"user": "alice"})
    assert rc == 0
    uid, gid, groups, home = out.decode().split("\n")[:4]
    assert (uid, gid, home) == ("1000", "1000", "/home/alice")
    assert set(groups.split()) == {"1000", "50"}
    _, rc, _, _, res = mode.run(["true"], process={"user": "bob"})
    assert rc == 125
    assert res["error"] == "unable to find user bob: no matching entries in passwd file"


def test_hostname_env_and_files(mode):
    _, rc, out, _, _ = mode.run(
        ["sh", "-c", "hostname; cat /etc/hostname; echo $HOSTNAME $container $HOME; "
                     "test -e /run/.containerenv && echo envfile; readlink /etc/mtab"],
        name="myhost")
    assert rc == 0
    assert out.decode().split("\n")[:5] == ["myhost", "myhost", "myhost podman /root", "envfile",
                                            "/proc/mounts"]


def test_hosts_and_resolv_conf(mode):
    _, rc, out, _, _ = mode.run(["sh", "-c", "cat /etc/hosts /etc/resolv.conf"],
                                hosts="127.0.0.1 localhost\n10.0.0.2 web\n",
                                resolv_conf="nameserver 10.0.0.3\n")
    assert rc == 0
    assert out == b"127.0.0.1 localhost\n10.0.0.2 web\nnameserver 10.0.0.3\n"


def test_uid_map_inside(mode):
    _, rc, out, _, _ = mode.run(["cat", "/proc/self/uid_map"])
    assert rc == 0
    rows = [tuple(int(x) for x in line.split()) for line in out.decode().splitlines()]
    if mode.rootless:
        assert rows == [(0, mode.uid, 1), (1, *subid_range(TEST_USER))]
    else:
        assert rows == [(0, 0, 4294967295)]


def test_lower_layer_ownership(mode):
    _, rc, out, _, _ = mode.run(["stat", "-c", "%u:%g", "/home/alice/file", "/bin/busybox"])
    assert (rc, out) == (0, b"1000:1000\n0:0\n")


def test_pid_namespace_and_masks(mode):
    _, rc, out, _, _ = mode.run(
        ["sh", "-c", "echo $$; wc -c < /proc/timer_list; "
                     "(echo 1 > /proc/sys/kernel/domainname) 2>/dev/null || echo rosys; "
                     "ls /dev/null /dev/zero /dev/urandom /dev/pts/ptmx /dev/shm >/dev/null && "
                     "echo devs"])
    assert rc == 0
    assert out.decode().split() == ["1", "0", "rosys", "devs"]


def test_network_modes(mode):
    _, rc, out, _, _ = mode.run(["sh", "-c", "ip -o link | cut -d: -f2 | tr -d ' '; "
                                             "ip -o link show lo | grep -q UP && echo lo-up"])
    assert (rc, out) == (0, b"lo\nlo-up\n")
    _, rc, out, _, _ = mode.run(["sh", "-c", "readlink /proc/self/ns/net"], network="host")
    assert rc == 0 and out.strip() == os.readlink("/proc/self/ns/net").encode()
    _, rc, out, _, _ = mode.run(["sh", "-c", "ls /sys/class/net | grep -c lo; "
                                             "(touch /sys/x) 2>/dev/null || echo ro"],
                                network="host")
    assert rc == 0 and out.split()[-1] == b"ro"


def test_workdir_and_env(mode):
    _, rc, out, _, _ = mode.run(["sh", "-c", "pwd; echo $FOO"],
                                process={"cwd": "/new/dir", "env": ["PATH=/bin", "FOO=bar"]})
    assert (rc, out) == (0, b"/new/dir\nbar\n")


def test_stdin_forwarded(mode):
    cdir, spec = mode.spec(["sh", "-c", "cat; echo done"], process={"stdin": True})
    rc, out, _, _ = mode.drive({"op": "run", "cdir": cdir, "spec": spec}, input=b"abc\nxyz")
    assert (rc, out) == (0, b"abc\nxyzdone\n")


def test_mounts_bind_ro_and_tmpfs(mode):
    src = tempfile.mkdtemp(dir=mode.base)
    with open(os.path.join(src, "f"), "w") as f:
        f.write("host file\n")
    os.chown(src, mode.uid, mode.gid)
    os.chown(os.path.join(src, "f"), mode.uid, mode.gid)
    _, rc, out, _, _ = mode.run(
        ["sh", "-c", "cat /mnt/in/f; (touch /mnt/in/x) 2>/dev/null || echo ro; "
                     "touch /scratch/y && echo tmpfs-rw; grep ' /scratch ' /proc/mounts | "
                     "cut -d' ' -f3"],
        mounts=[{"type": "bind", "source": src, "destination": "/mnt/in", "options": ["ro"]},
                {"type": "tmpfs", "source": "tmpfs", "destination": "/scratch",
                 "options": ["size=1m"]}])
    assert rc == 0
    assert out.decode().split("\n")[:4] == ["host file", "ro", "tmpfs-rw", "tmpfs"]


def test_ro_bind_is_recursive(mode):
    src = tempfile.mkdtemp(dir=mode.base)
    sub = os.path.join(src, "sub")
    os.mkdir(sub)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"uid={mode.uid}", "tmpfs", sub], check=True)
    try:
        os.chown(src, mode.uid, mode.gid)
        _, rc, out, _, _ = mode.run(
            ["sh", "-c", "(touch /mnt/in/sub/x) 2>/dev/null || echo sub-ro; "
                         "(touch /mnt/in/x) 2>/dev/null || echo top-ro"],
            mounts=[{"type": "bind", "source": src, "destination": "/mnt/in", "options": ["ro"]}])
        assert (rc, out) == (0, b"sub-ro\ntop-ro\n")
    finally:
        subprocess.run(["umount", "-l", sub])


def test_readonly_rootfs(mode):
    cdir, spec = mode.spec(["sh", "-c", "(touch /x) 2>/dev/null || echo ro; touch /tmp/y && "
                                        "echo tmp-rw"])
    spec["rootfs"]["readonly"] = True
    rc, out, err, _ = mode.drive({"op": "run", "cdir": cdir, "spec": spec})
    assert (rc, out) == (0, b"ro\ntmp-rw\n"), err


def test_rootfs_path(mode):
    root = os.path.join(mode.base, "plainroot")
    shutil.copytree(mode.lower[1], root, symlinks=True)
    shutil.copytree(mode.lower[0], root, symlinks=True, dirs_exist_ok=True)
    for r, dirs, files in os.walk(root):
        for n in dirs + files:
            os.lchown(os.path.join(r, n), mode.uid, mode.gid)
    os.chown(root, mode.uid, mode.gid)
    cdir, spec = mode.spec(["sh", "-c", "echo via-rootfs > /tmp/t; cat /tmp/t"])
    spec["rootfs"] = {"path": root}
    rc, out, err, _ = mode.drive({"op": "run", "cdir": cdir, "spec": spec})
    assert (rc, out) == (0, b"via-rootfs\n"), err
    assert open(os.path.join(root, "tmp/t")).read() == "via-rootfs\n"


def test_start_again_keeps_upper_layer(mode):
    cdir, spec = mode.spec(["sh", "-c", "cat /tmp/counter 2>/dev/null; echo x >> /tmp/counter"])
    rc, out, _, _ = mode.drive({"op": "run", "cdir": cdir, "spec": spec})
    assert (rc, out) == (0, b"")
    rc, out, _, _ = mode.drive({"op": "run", "cdir": cdir, "spec": spec})
    assert (rc, out) == (0, b"x\n")


def test_detached_stop_runs_trap(mode):
    cdir, res = mode.start(["sh", "-c", "trap 'echo bye; exit 0' TERM; echo ready; "
                                        "while true; do sleep 0.1; done"])
    assert _alive(res["pid"]) and _alive(res["supervisor_pid"])
    assert mode.state(cdir)["status"] == "running"
    t = time.monotonic()
    rc, _, err, r = mode.drive({"op": "stop", "cdir": cdir, "timeout": 10})
    assert rc == 0 and r["killed"] is False, err
    assert time.monotonic() - t < 5
    st = mode.state(cdir)
    assert (st["status"], st["exit_code"]) == ("exited", 0)
    assert b"stdout F bye" in open(os.path.join(cdir, "ctr.log"), "rb").read()
    assert _wait_for(lambda: not _alive(res["supervisor_pid"]), 5)


def test_stop_escalates_to_sigkill(mode):
    cdir, res = mode.start(["sleep", "100"])
    rc, _, err, r = mode.drive({"op": "stop", "cdir": cdir, "timeout": 1})
    assert rc == 0 and r["killed"] is True, err
    st = mode.state(cdir)
    assert (st["status"], st["exit_code"]) == ("exited", 137)


def test_kill9_of_container_recorded(mode):
    cdir, res = mode.start(["sleep", "100"])
    os.kill(res["pid"], signal.SIGKILL)
    rc, _, _, r = mode.drive({"op": "wait", "cdir": cdir, "timeout": 10})
    assert rc == 0 and r["exit"] == 137
    st = mode.state(cdir)
    assert (st["status"], st["exit_code"], st["pid"]) == ("exited", 137, 0)


def test_kill9_of_supervisor_corrected(mode):
    cdir, res = mode.start(["sleep", "100"])
    os.kill(res["supervisor_pid"], signal.SIGKILL)
    assert _wait_for(lambda: not _alive(res["pid"]), 5), "the container outlived its supervisor"
    st = mode.state(cdir)
    assert (st["status"], st["exit_code"]) == ("exited", 137)
    on_disk = json.load(open(os.path.join(cdir, "state.json")))
    assert on_disk["status"] == "exited"


def test_kill_signal(mode):
    cdir, res = mode.start(["sh", "-c", "trap 'exit 42' USR1; while true; do sleep 0.1; done"])
    rc, _, err, _ = mode.drive({"op": "kill", "cdir": cdir, "signal": int(signal.SIGUSR1)})
    assert rc == 0, err
    rc, _, _, r = mode.drive({"op": "wait", "cdir": cdir, "timeout": 10})
    assert r["exit"] == 42


def test_exec(mode):
    cdir, res = mode.start(["sleep", "100"], process={"env": ["PATH=/bin", "A=1"]})
    try:
        rc, out, err, r = mode.drive({"op": "exec", "cdir": cdir, "process": {
            "args": ["sh", "-c", "echo $FOO $A; hostname; echo $$; exit 3"],
            "env": ["PATH=/bin", "FOO=bar", "A=1"], "user": "alice"}})
        assert rc == 3 and r["exit"] == 3, err
        foo, host, pid = out.decode().split("\n")[:3]
        assert foo == "bar 1" and host == cdir.rsplit("/", 1)[1] and int(pid) > 1
        rc, out, err, r = mode.drive({"op": "exec", "cdir": cdir, "process": {
            "args": ["id", "-u"], "user": "alice"}})
        assert (rc, out) == (0, b"1000\n")
        rc, _, _, r = mode.drive({"op": "exec", "cdir": cdir, "process": {"args": ["nope"]}})
        assert rc == 127 and "not found" in r["error"]
    finally:
        mode.drive({"op": "stop", "cdir": cdir, "timeout": 0})
    rc, _, _, r = mode.drive({"op": "exec", "cdir": cdir, "process": {"args": ["true"]}})
    assert rc == 125 and "container state improper" in r["error"]


def test_exec_dies_with_container(mode):
    cdir, res = mode.start(["sleep", "100"])
    rc, _, err, _ = mode.drive({"op": "exec", "cdir": cdir, "detach": True,
                                "process": {"args": ["sleep", "300"]}})
    assert rc == 0, err
    sleepers = _wait_for(lambda: [p for p in _pids_in_pidns(res["pid"])
                                  if _cmdline(p) == "sleep 300"], 5)
    assert sleepers
    mode.drive({"op": "stop", "cdir": cdir, "timeout": 0})
    assert _wait_for(lambda: not any(_alive(p) for p in sleepers), 5)


def _pids_in_pidns(pid: int) -> list[int]:
    ns = os.readlink(f"/proc/{pid}/ns/pid")
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if os.readlink(f"/proc/{p}/ns/pid") == ns:
                    out.append(int(p))
            except OSError:
                pass
    return out


def _cmdline(pid: int) -> str:
    try:
        return open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def test_restart_on_failure_counts(mode):
    cdir, res = mode.start(["sh", "-c", "echo run; exit 3"], restart_policy="on-failure",
                           restart_max=2)
    assert _wait_for(lambda: not _alive(res["supervisor_pid"]), 10)
    st = mode.state(cdir)
    assert (st["status"], st["exit_code"], st["restart_count"]) == ("exited", 3, 2)
    assert open(os.path.join(cdir, "ctr.log"), "rb").read().count(b"stdout F run") == 3


def test_stop_ends_restart_always(mode):
    cdir, res = mode.start(["sleep", "100"], restart_policy="always")
    rc, _, _, r = mode.drive({"op": "stop", "cdir": cdir, "timeout": 0})
    assert rc == 0
    assert _wait_for(lambda: not _alive(res["supervisor_pid"]), 5)
    st = mode.state(cdir)
    assert st["status"] == "exited" and st["restart_count"] == 0


def test_healthcheck_unhealthy_then_healthy(mode):
    cdir, res = mode.start(
        ["sh", "-c", "sleep 3; touch /tmp/ok; sleep 100"],
        healthcheck={"test": ["CMD-SHELL", "test -e /tmp/ok && echo fine || (echo bad; exit 1)"],
                     "interval": 0.2, "timeout": 5, "retries": 2, "start_period": 0})
    try:
        st = _wait_for(lambda: (mode.state(cdir).get("health") or {}).get("status")
                       == "unhealthy" and mode.state(cdir), 2.5, 0.05)
        assert st, "not unhealthy within interval x retries (+ slack)"
        h = st["health"]
        assert h["failing_streak"] >= 2 and h["log"][-1]["exit_code"] == 1
        assert h["log"][-1]["output"].strip() == "bad"
        st = _wait_for(lambda: (mode.state(cdir).get("health") or {}).get("status") == "healthy"
                       and mode.state(cdir), 5)
        assert st and st["health"]["failing_streak"] == 0
        assert st["health"]["log"][-1]["output"].strip() == "fine"
    finally:
        mode.drive({"op": "stop", "cdir": cdir, "timeout": 0})


def test_healthcheck_timeout_kills_check(mode):
    cdir, res = mode.start(["sleep", "100"], healthcheck={
        "test": ["CMD", "sleep", "50"], "interval": 0.1, "timeout": 0.3, "retries": 1})
    try:
        st = _wait_for(lambda: (mode.state(cdir).get("health") or {}).get("status")
                       == "unhealthy" and mode.state(cdir), 5)
        assert st and "timed out" in st["health"]["log"][-1]["output"]
        assert not [p for p in _pids_in_pidns(res["pid"]) if _cmdline(p) == "sleep 50"] or \
            _wait_for(lambda: not [p for p in _pids_in_pidns(res["pid"])
                                   if _cmdline(p) == "sleep 50"], 3)
    finally:
        mode.drive({"op": "stop", "cdir": cdir, "timeout": 0})


def test_supervisor_rss_small(mode):
    cdir, res = mode.start(["sleep", "100"], healthcheck={
        "test": ["CMD", "true"], "interval": 0.2, "timeout": 5, "retries": 3})
    try:
        time.sleep(0.6)  # a few health checks ran
        rss = None
        for line in open(f"/proc/{res['supervisor_pid']}/status"):
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
        assert rss is not None and rss <= 15 * 1024, f"supervisor RSS {rss} KiB"
    finally:
        mode.drive({"op": "stop", "cdir": cdir, "timeout": 0})


def test_auto_remove_cleanup_runs(mode):
    marker = os.path.join(mode.base, "cleaned")
    os.chown(mode.base, mode.uid, mode.gid)
    cdir, res = mode.start(["true"], auto_remove=True,
                           cleanup_argv=["/bin/sh", "-c", f"echo done > {marker}"])
    assert _wait_for(lambda: os.path.exists(marker), 10)
    assert _wait_for(lambda: not _alive(res["supervisor_pid"]), 5)


def test_foreground_signal_forwarded(mode):
    cdir, spec = mode.spec(["sh", "-c", "trap 'echo got-term; exit 5' TERM; echo ready; "
                                        "while true; do sleep 0.1; done"])
    p = subprocess.Popen(mode.argv({"op": "run", "cdir": cdir, "spec": spec}),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert p.stdout.readline() == b"ready\n"
        # the driver (the "CLI") gets SIGTERM and forwards it to the container
        driver_pid = _find_driver_pid(p.pid)
        os.kill(driver_pid, signal.SIGTERM)
        out, err = p.communicate(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 5, err
    assert out == b"got-term\n"


def _find_driver_pid(pid: int) -> int:
    """The python running the driver (runuser/env exec or fork it)."""
    def descendants(p):
        out = []
        for c in os.listdir("/proc"):
            if c.isdigit():
                try:
                    ppid = int(open(f"/proc/{c}/stat").read().split(") ")[1].split()[1])
                except (OSError, IndexError):
                    continue
                if ppid == p:
                    out.append(int(c))
        return out
    todo = [pid]
    while todo:
        p = todo.pop()
        if _cmdline(p).startswith(sys.executable) and "runtime_driver.py" in _cmdline(p):
            return p
        todo += descendants(p)
    raise AssertionError("driver process not found")


@pytest.mark.parametrize("mode", ["rootless"], indirect=True)
def test_shared_user_namespace(mode):
    c1, r1 = mode.start(["sleep", "100"])
    c2, r2 = mode.start(["sleep", "100"])
    try:
        assert os.readlink(f"/proc/{r1['pid']}/ns/user") == \
            os.readlink(f"/proc/{r2['pid']}/ns/user")
        assert os.readlink(f"/proc/{r1['pid']}/ns/mnt") != \
            os.readlink(f"/proc/{r2['pid']}/ns/mnt")
        # supervisors stay outside every container namespace
        for ns in ("user", "mnt", "pid", "net"):
            assert os.readlink(f"/proc/{r1['supervisor_pid']}/ns/{ns}") == \
                os.readlink(f"/proc/self/ns/{ns}") or ns == "user" and \
                os.readlink(f"/proc/{r1['supervisor_pid']}/ns/user") != \
                os.readlink(f"/proc/{r1['pid']}/ns/user")
    finally:
        for c in (c1, c2):
            mode.drive({"op": "stop", "cdir": c, "timeout": 0})


def test_start_timing(mode):
    """Not a benchmark: a sanity bound on launch.start() → `true` exited (recorded as total_ms)."""
    times = []
    for _ in range(3):
        _, rc, _, _, res = mode.run(["true"])
        assert rc == 0
        times.append(res["total_ms"])
    print(f"{mode.name}: start→exit of true: {sorted(times)} ms")
    assert min(times) < 1000


def _pty_chunks(master: int, timeout: float):
    """What the pty master yields until EOF/EIO or `timeout` seconds: never blocks past it."""
    import select

    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        if not select.select([master], [], [], left)[0]:
            return
        try:
            chunk = os.read(master, 4096)
        except OSError:
            return
        if not chunk:
            return
        yield chunk


def _on_pty(argv: list[str], *, early: bytes = b"", answer: tuple[bytes, bytes] | None = None,
            until: bytes = b"", winsize: tuple[int, int] | None = None):
    """Run argv on a fresh pty: `early` is typed before it starts, answer[1] once answer[0] shows;
    read until `until` shows (or EOF, or 20 s). (exit code, output, stderr)."""
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    if winsize:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", *winsize, 0, 0))
    if early:
        os.write(master, early)
    p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=subprocess.PIPE,
                         start_new_session=True)
    os.close(slave)
    out = b""
    for chunk in _pty_chunks(master, 20):
        out += chunk
        if answer and answer[0] in out:
            os.write(master, answer[1])
            answer = None
        if until and until in out and out.endswith(b"\n"):
            break
    p.wait(timeout=20)
    os.close(master)
    return p.returncode, out, p.stderr.read()


def test_terminal(mode):
    """-it under a real pty: the container sees a tty on its own devpts, TERM=xterm, the
    window size, and our keystrokes."""
    cdir, spec = mode.spec(["sh", "-c", "tty; echo $TERM; stty size; read line; echo got:$line; "
                                        "test -c /dev/console && echo console"],
                           process={"terminal": True, "stdin": True})
    code, out, err = _on_pty(mode.argv({"op": "run", "cdir": cdir, "spec": spec}),
                             winsize=(33, 101), answer=(b"33 101", b"hello\r"), until=b"console")
    assert code == 0, (out, err)
    text = out.decode(errors="replace").replace("\r", "")
    assert "/dev/pts/0\nxterm\n33 101\n" in text
    assert "got:hello" in text and "console" in text
    log = open(os.path.join(cdir, "ctr.log"), "rb").read()
    assert b"stdout F /dev/pts/0\r" in log


def test_terminal_type_ahead(mode):
    """What is typed before the container runs reaches it: going raw must not flush the input
    (tty.setraw's default TCSAFLUSH did, and a CI run hung on it)."""
    cdir, spec = mode.spec(["sh", "-c", "read line; echo got:$line"],
                           process={"terminal": True, "stdin": True})
    code, out, err = _on_pty(mode.argv({"op": "run", "cdir": cdir, "spec": spec}),
                             early=b"early\r", until=b"got:")
    assert code == 0, (out, err)
    assert b"got:early" in out


def test_exec_terminal(mode):
    cdir, res = mode.start(["sleep", "100"])
    try:
        code, out, err = _on_pty(mode.argv({"op": "exec", "cdir": cdir, "process": {
            "args": ["sh", "-c", "tty; read x; echo got:$x; exit 4"], "terminal": True,
            "stdin": True}}), answer=(b"/dev/pts/", b"abc\r"), until=b"got:")
        assert code == 4, (out, err)
        text = out.decode(errors="replace").replace("\r", "")
        assert "/dev/pts/0\n" in text and "got:abc" in text
    finally:
        mode.drive({"op": "stop", "cdir": cdir, "timeout": 0})
