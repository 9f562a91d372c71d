"""Issue 7: capabilities and seccomp, compared with what podman 4.3 shows on this machine."""

from __future__ import annotations

import grp
import json
import os
import subprocess
import time

import pytest

from tests.lib import user
from tests.lib.checks import ok
from tests.lib.user import pypod

pytestmark = [pytest.mark.integration, pytest.mark.root_storage]

SC_SOURCE = r"""
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <unistd.h>
#include <sys/syscall.h>
int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    long nr = strtol(argv[i], 0, 0);
    errno = 0;
    long r = syscall(nr, 0, 0, 0, 0, 0, 0);
    printf("%ld %d\n", nr, r < 0 ? errno : 0);
  }
  return 0;
}
"""
# x86_64 numbers; EPERM / ENOSYS as podman 4.3's default profile gives them here
EPERM_CALLS = {"bpf": 321, "perf_event_open": 298, "sysfs": 139, "uselib": 134}
ENOSYS_CALLS = {"add_key": 248, "request_key": 249, "io_uring_setup": 425}

DEFAULT_MASK = "00000000800405fb"


@pytest.fixture
def sc_dir(shared_tmp):
    import platform

    if platform.machine() != "x86_64":
        pytest.fail("the syscall numbers in this test are x86_64's")
    src = shared_tmp / "sc.c"
    src.write_text(SC_SOURCE)
    subprocess.run(["cc", "-static", "-O2", "-o", str(shared_tmp / "sc"), str(src)], check=True)
    return shared_tmp


def status(busybox, *opts) -> dict:
    r = ok("run", "--rm", *opts, busybox, "cat", "/proc/self/status")
    return {k: v.strip() for k, _, v in (ln.partition(":") for ln in r.stdout.splitlines())}


def test_capability_sets_as_podman(busybox):
    s = status(busybox)  # root: podman's 11 caps as bounding, permitted and effective
    assert (s["CapInh"], s["CapPrm"], s["CapEff"], s["CapBnd"], s["CapAmb"]) == (
        "0" * 16, DEFAULT_MASK, DEFAULT_MASK, DEFAULT_MASK, "0" * 16)
    assert s["Seccomp"] == "2" and s["NoNewPrivs"] == "0"
    s = status(busybox, "-u", "1000")  # another user: nothing but the bounding set
    assert (s["CapInh"], s["CapPrm"], s["CapEff"], s["CapBnd"], s["CapAmb"]) == (
        "0" * 16, "0" * 16, "0" * 16, DEFAULT_MASK, "0" * 16)
    # podman: --cap-add NET_ADMIN --cap-drop CHOWN -u 1000
    s = status(busybox, "--cap-add", "NET_ADMIN", "--cap-drop", "CHOWN", "-u", "1000")
    assert (s["CapInh"], s["CapPrm"], s["CapEff"], s["CapBnd"], s["CapAmb"]) == (
        "0000000000001000", "0000000000001000", "0000000000001000", "00000000800415fa",
        "0000000000001000")
    s = status(busybox, "--cap-drop", "ALL", "--cap-add", "CHOWN", "-u", "1000")
    assert {s[k] for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")} == {"0000000000000001"}
    s = status(busybox, "--cap-drop", "all")
    assert {s[k] for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")} == {"0" * 16}
    # --privileged: every capability of the user namespace, no seccomp
    with open("/proc/sys/kernel/cap_last_cap") as f:
        full = f"{(1 << (int(f.read()) + 1)) - 1:016x}"
    s = status(busybox, "--privileged")
    assert (s["CapPrm"], s["CapEff"], s["CapBnd"], s["Seccomp"]) == (full, full, full, "0")
    s = status(busybox, "--security-opt", "no-new-privileges")
    assert s["NoNewPrivs"] == "1" and s["Seccomp"] == "2"
    r = pypod("run", "--rm", "--cap-add", "NOPE", busybox, "true")
    assert r.returncode == 125 and r.stderr == 'Error: "CAP_NOPE": unknown capability\n'


def test_caps_hold_in_practice_and_in_exec(busybox):
    # CAP_CHOWN dropped: chown of a file we do not own fails
    r = pypod("run", "--rm", "--cap-drop", "CHOWN", busybox, "sh", "-c",
              "touch /tmp/f && chown 1000 /tmp/f")
    assert r.returncode == 1 and "Operation not permitted" in r.stderr
    ok("run", "-d", "--name", "c1", "--cap-add", "NET_ADMIN", busybox, "sleep", "60")
    out = ok("exec", "c1", "grep", "-E", "CapBnd|Seccomp:", "/proc/self/status").stdout.split()
    assert out == ["CapBnd:", "00000000800415fb", "Seccomp:", "2"]
    with open("/proc/sys/kernel/cap_last_cap") as f:
        full = f"{(1 << (int(f.read()) + 1)) - 1:016x}"
    out = ok("exec", "--privileged", "c1", "grep", "-E", "CapEff|Seccomp:", "/proc/self/status").stdout.split()
    assert out == ["CapEff:", full, "Seccomp:", "2"]
    info = json.loads(ok("inspect", "c1").stdout)[0]["HostConfig"]
    assert info["CapAdd"] == ["CAP_NET_ADMIN"] and info["Privileged"] is False
    ok("rm", "-f", "-t", "0", "c1")


def test_seccomp_default_and_unconfined(busybox, sc_dir):
    nrs = [str(n) for n in [*EPERM_CALLS.values(), *ENOSYS_CALLS.values()]]
    r = ok("run", "--rm", "-v", f"{sc_dir}:/t:ro", busybox, "/t/sc", *nrs)
    got = dict(ln.split() for ln in r.stdout.splitlines())
    assert {n: got[str(nr)] for n, nr in EPERM_CALLS.items()} == {n: "1" for n in EPERM_CALLS}
    assert {n: got[str(nr)] for n, nr in ENOSYS_CALLS.items()} == {n: "38" for n in ENOSYS_CALLS}
    # unconfined: the calls reach the kernel (which answers for itself: never our ENOSYS for
    # add_key, whose null arguments the kernel refuses with EINVAL/EFAULT)
    r = ok("run", "--rm", "--security-opt", "seccomp=unconfined", "-v", f"{sc_dir}:/t:ro", busybox,
           "/t/sc", *nrs)
    got = dict(ln.split() for ln in r.stdout.splitlines())
    assert got[str(ENOSYS_CALLS["add_key"])] not in ("38", "1")
    assert got[str(ENOSYS_CALLS["io_uring_setup"])] != "38"
    # a profile of one's own: getpid (39) denied with a chosen errno, everything else allowed
    prof = {"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 77}]}
    (sc_dir / "p.json").write_text(json.dumps(prof))
    r = ok("run", "--rm", "--security-opt", f"seccomp={sc_dir}/p.json", "-v", f"{sc_dir}:/t:ro", busybox,
           "/t/sc", "39", "321")
    out = r.stdout.split()
    assert out[:3] == ["39", "77", "321"] and out[3] not in ("77", "38")  # bpf: the kernel answers
    r = pypod("run", "--rm", "--security-opt", f"seccomp={sc_dir}/missing.json", busybox, "true")
    assert r.returncode == 125 and "opening seccomp profile failed" in r.stderr
    # exec'd processes are filtered too
    ok("run", "-d", "--name", "s1", "-v", f"{sc_dir}:/t:ro", busybox, "sleep", "60")
    assert ok("exec", "s1", "/t/sc", "321").stdout.split() == ["321", "1"]
    ok("rm", "-f", "-t", "0", "s1")


def test_ulimit_group_add_read_only_tmpfs(busybox):
    r = ok("run", "--rm", "--ulimit", "nofile=1024:2048", busybox, "sh", "-c", "ulimit -n; ulimit -Hn")
    assert r.stdout.split() == ["1024", "2048"]
    # above the hard limit: podman's runc refuses (rootless has no CAP_SYS_RESOURCE on the host)
    r = pypod("run", "--rm", "--ulimit", "nofile=999999:99999999", busybox, "true")
    assert r.returncode == 126 and "error setting rlimit type 7: operation not permitted" in r.stderr
    r = pypod("run", "--rm", "--ulimit", "bogus=1", busybox, "true")
    assert r.returncode == 125 and r.stderr == ('Error: ulimit option "bogus=1" requires name=SOFT:HARD, '
                                                'failed to be parsed: invalid ulimit type: bogus\n')
    r = ok("run", "--rm", "--group-add", "10", "--group-add", "nobody", "-u", "1000", busybox, "id", "-G")
    assert r.stdout.split() == ["0", "10", "65534"]  # the test image's /etc/group has nobody
    r = pypod("run", "--rm", "--group-add", "nosuchgroup", busybox, "true")
    assert r.returncode == 125 and "Unable to find group nosuchgroup" in r.stderr
    r = ok("run", "--rm", "--read-only", busybox, "sh", "-c", "touch /tmp/x && echo ok; touch /x 2>&1; true")
    assert r.stdout.startswith("ok\n") and "Read-only file system" in r.stdout
    r = ok("run", "--rm", "--read-only", "--read-only-tmpfs=false", busybox, "sh", "-c",
           "touch /tmp/x 2>&1; true")
    assert "Read-only file system" in r.stdout


def test_init_catatonit_and_own_reaper(busybox, shared_tmp):
    import os

    script = "sleep 0.3 & cat /proc/1/cmdline | tr '\\0' ' '; echo; exit 5"
    catatonit = os.path.exists("/usr/bin/catatonit")
    r = pypod("run", "--rm", "--init", busybox, "sh", "-c", script)
    assert r.returncode == 5
    if catatonit:
        assert r.stdout.startswith("/run/podman-init -- sh -c")
    # containers.conf naming a missing init: pypod's own reaper, said once
    conf = shared_tmp / "containers.conf"
    conf.write_text('[containers]\ninit_path = "/nonexistent/catatonit"\n')
    env = {"CONTAINERS_CONF": str(conf)}
    r = pypod("run", "--rm", "--init", busybox, "sh", "-c", script, env=env)
    assert r.returncode == 5 and "using pypod's own init" in r.stderr
    assert not r.stdout.startswith("/run/podman-init")
    # pid 1 forwards the stop signal and reports the child's end (143 = SIGTERM)
    ok("run", "-d", "--name", "i1", "--init", busybox, "sleep", "100", env=env)
    ok("stop", "-t", "5", "i1")
    assert ok("inspect", "-f", "{{.State.ExitCode}} {{.HostConfig.Init}}", "i1").stdout.split() == ["143", "true"]
    ok("rm", "i1")


def test_userns_keep_id(busybox, test_user, shared_tmp):
    import os

    d = shared_tmp / "kid"
    d.mkdir()
    os.chown(d, test_user.uid, test_user.gid)
    u, g = test_user.uid, test_user.gid
    r = ok("run", "--rm", "--userns=keep-id", "-v", f"{d}:/t", busybox, "sh", "-c",
           "id -u; id -g; touch /t/f; cat /proc/self/uid_map")
    lines = r.stdout.splitlines()
    assert lines[:2] == [str(u), str(g)]
    assert [ln.split() for ln in lines[2:]] == [["0", "1", str(u)], [str(u), "0", "1"],
                                                [str(u + 1), str(u + 1), str(65536 - u)]]
    st = os.stat(d / "f")
    assert (st.st_uid, st.st_gid) == (u, g)  # the user's own file on the host
    # its own namespace: the other containers keep the shared one (root = the user)
    r = ok("run", "--rm", "-v", f"{d}:/t", busybox, "sh", "-c", "id -u; touch /t/g")
    assert r.stdout == "0\n" and os.stat(d / "g").st_uid == u
    ok("run", "-d", "--name", "k1", "--userns", "keep-id", busybox, "sleep", "60")
    assert ok("exec", "k1", "id", "-u").stdout == f"{u}\n"
    assert ok("exec", "-u", "0", "k1", "id", "-u").stdout == "0\n"
    assert ok("inspect", "-f", "{{.HostConfig.UsernsMode}}", "k1").stdout.strip() == "keep-id"
    # the user has a name inside, as podman adds to /etc/passwd and /etc/group
    r = ok("run", "--rm", "--userns=keep-id", busybox, "sh", "-c", "id -un; id -gn; grep -c . /etc/passwd")
    name, gname, _ = r.stdout.split("\n", 2)
    assert name == test_user.name and gname == grp.getgrgid(g).gr_name
    ok("rm", "-f", "-t", "0", "k1")


def test_uidmap_gidmap(busybox, test_user, shared_tmp):
    d = shared_tmp / "maps"
    d.mkdir()
    os.chmod(d, 0o777)
    sub = int(open("/etc/subuid").read().split(f"{test_user.name}:")[1].split(":")[0])
    # container root is the first subordinate id (1 in the user's namespace), podman's meaning;
    # the image's files are root's inside (shifted copies of the layers), so root may write them
    r = ok("run", "--rm", "--uidmap", "0:1:5000", "-v", f"{d}:/t", busybox, "sh", "-c",
           "id -u; cat /proc/self/uid_map /proc/self/gid_map; stat -c %u /bin/busybox; "
           "echo changed > /etc/hostname.bak && touch /t/f && echo ok")
    lines = r.stdout.splitlines()
    assert lines[0] == "0" and lines[1].split() == ["0", "1", "5000"], r.stdout
    assert lines[2].split() == ["0", "1", "5000"]  # --gidmap defaults to --uidmap
    assert lines[3:] == ["0", "ok"], r.stdout
    assert os.stat(d / "f").st_uid == sub  # written by container root = the first subuid
    # a low port without rights over the network namespace, and exec joins it all
    ok("run", "-d", "--name", "mapped", "--uidmap", "0:1:5000", busybox, "httpd", "-f", "-p", "80")
    try:
        r = ok("exec", "mapped", "sh", "-c", "id -u; cat /proc/self/uid_map; netstat -ltn | grep -c :80")
        assert r.stdout.split()[:4] == ["0", "0", "1", "5000"] and r.stdout.split()[-1] == "1"
    finally:
        ok("rm", "-f", "-t", "0", "mapped")
    r = pypod("run", "--rm", "--uidmap", "0:1:99999999", busybox, "true")
    assert r.returncode == 125 and "outside" in r.stderr
    r = pypod("run", "--rm", "--uidmap", "0:1", busybox, "true")
    assert r.returncode == 125 and "container_id:host_id:amount" in r.stderr


def test_privileged_devices_sys_and_containerenv(busybox):
    r = ok("run", "--rm", "--name", "priv", "--privileged", busybox, "sh", "-c",
           "cat /run/.containerenv; test -c /dev/net/tun && echo tun; grep ' /sys ' /proc/mounts")
    assert 'name="priv"' in r.stdout and "rootless=1" in r.stdout and "\ntun\n" in r.stdout
    assert " /sys sysfs rw," in r.stdout
    r = ok("run", "--rm", busybox, "sh", "-c",
           "wc -c < /run/.containerenv; test -e /dev/net/tun || echo no-tun; grep ' /sys ' /proc/mounts")
    assert r.stdout.startswith("0\nno-tun\n") and " /sys sysfs ro," in r.stdout


def test_init_leaves_no_zombies(busybox):
    # pid 1 becomes `sleep`, which never reaps: the orphaned `sleep 0.2` stays a zombie unless an init
    # is pid 1 and collects it
    maker = "(sleep 0.2 &); exec sleep 100"
    check = "for s in /proc/[0-9]*/status; do grep -q '^State:.*Z' $s 2>/dev/null && echo zombie; done; true"
    results = {}
    for name, extra in (("plain", []), ("withinit", ["--init"])):
        ok("run", "-d", "--name", name, *extra, busybox, "sh", "-c", maker)
        time.sleep(1.0)
        results[name] = ok("exec", name, "sh", "-c", check).stdout
        ok("rm", "-f", name)
    assert "zombie" in results["plain"]  # the check can fail
    assert "zombie" not in results["withinit"]


def test_resource_limits_root_cgroups_and_rootless_v1_warning(busybox, registry, tmp_path):
    # rootless on this cgroup v1 host: podman's warning, the container runs; bad values are 125
    r = pypod("run", "--rm", "--pids-limit", "20", "--memory", "64m", busybox, "true")
    assert r.returncode == 0
    assert "Resource limits are not supported and ignored on cgroups V1 rootless systems" in r.stderr
    for args, text in ((["--memory", "abc"], 'invalid argument "abc" for "-m, --memory" flag'),
                       (["--memory", "1k"], "minimum memory limit allowed is 6MB"),
                       (["--cpus", "x"], 'for "--cpus" flag'),
                       (["--cpuset-cpus", "a-b"], "--cpuset-cpus")):
        r = pypod("run", "--rm", *args, busybox, "true")
        assert r.returncode == 125 and text in r.stderr, (args, r.stderr)
    # root: cgroupfs limits that hold
    root = ["--root", str(tmp_path / "root-storage"), "--runroot", str(tmp_path / "run")]
    env = {"CONTAINERS_REGISTRIES_CONF": f"{user.TEST_HOME}/.config/containers/registries.conf"}
    r = pypod(*root, "run", "-d", "--name", "lim", "--pids-limit", "20", "--memory", "64m",
              "--cpus", "0.5", registry["busybox"], "sh", "-c",
              "i=0; while [ $i -lt 40 ]; do (sleep 30 &) 2>/dev/null; i=$((i+1)); done; sleep 60", as_root=True, env=env)
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    try:
        v2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
        pids = f"/sys/fs/cgroup/pypod/{cid}/pids.max" if v2 else f"/sys/fs/cgroup/pids/pypod/{cid}/pids.max"
        mem = (f"/sys/fs/cgroup/pypod/{cid}/memory.max" if v2
               else f"/sys/fs/cgroup/memory/pypod/{cid}/memory.limit_in_bytes")
        assert open(pids).read().strip() == "20"
        assert open(mem).read().strip() == str(64 << 20)
        time.sleep(1)
        current = f"/sys/fs/cgroup/pids/pypod/{cid}/pids.current" if not v2 else \
            f"/sys/fs/cgroup/pypod/{cid}/pids.current"
        assert int(open(current).read()) <= 20  # the 40 sleeps did not all start
        info = json.loads(pypod(*root, "inspect", cid, as_root=True, env=env).stdout)[0]["HostConfig"]
        assert (info["PidsLimit"], info["Memory"], info["NanoCpus"]) == (20, 64 << 20, 500000000)
    finally:
        pypod(*root, "rm", "-f", "-t", "0", cid, as_root=True, env=env)
    end = time.time() + 5  # (the supervisor removes them after the exit)
    while os.path.exists(os.path.dirname(pids)) and time.time() < end:
        time.sleep(0.1)
    assert not os.path.exists(os.path.dirname(pids))
