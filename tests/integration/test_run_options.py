"""The `run`/`create` options podman users put in scripts beyond the core ones, and the
containers.conf [containers] defaults behind them — as the test user, real kernel. (The
container's own view under the same options is compared with podman's in
tests/conformance/test_podman_shape.py.)"""

from __future__ import annotations

import json
import os
import time

import pytest

from tests.lib.checks import ok
from tests.lib.user import pypod

pytestmark = pytest.mark.integration


def inspect(name: str) -> dict:
    return json.loads(ok("inspect", name).stdout)[0]


def test_cidfile_and_pidfile(busybox, shared_tmp):
    os.chmod(shared_tmp, 0o777)
    cid, pidf = shared_tmp / "cid", shared_tmp / "pid"
    r = ok("run", "-d", "--cidfile", str(cid), "--pidfile", str(pidf), "--name", "files", busybox, "sleep", "300")
    assert cid.read_text() == r.stdout.strip()
    pid = int(pidf.read_text())
    assert open(f"/proc/{pid}/comm").read().strip() == "sleep"  # the container's process, as the host sees it
    assert pid == inspect("files")["State"]["Pid"]
    assert inspect("files")["HostConfig"]["ContainerIDFile"] == str(cid)
    # an existing file: refused before anything is made
    before = ok("ps", "-aq").stdout
    r = pypod("run", "-d", "--cidfile", str(cid), busybox, "true")
    assert r.returncode == 125
    assert r.stderr == f"Error: container id file exists. Ensure another container is not using it or delete {cid}\n"
    assert ok("ps", "-aq").stdout == before
    # stop, restart (a new pid in the pidfile), kill and rm by the file
    ok("restart", "-t", "0", "--cidfile", str(cid))
    assert int(pidf.read_text()) != pid and inspect("files")["State"]["Pid"] == int(pidf.read_text())
    ok("kill", "--cidfile", str(cid))
    ok("wait", "files")
    assert ok("rm", "--cidfile", str(cid)).stdout.strip() == cid.read_text()
    assert pypod("container", "exists", "files").returncode == 1
    r = pypod("rm", "--cidfile", str(shared_tmp / "nonexist"))
    assert r.returncode == 125 and "reading CIDFile: open" in r.stderr
    assert ok("rm", "-i", "--cidfile", str(shared_tmp / "nonexist")).stdout == ""


def test_labels_expose_and_logging(busybox, shared_tmp):
    (shared_tmp / "labels").write_text("a=1\n# a comment\nb=two words\n")
    ok("create", "--name", "lab", "--label-file", str(shared_tmp / "labels"), "-l", "b=3",
       "--expose", "8080", "--expose", "9000-9001/udp", busybox, "true")
    i = inspect("lab")
    assert i["Config"]["Labels"] == {"a": "1", "b": "3"}
    assert i["NetworkSettings"]["Ports"] == {"8080/tcp": None, "9000/udp": None, "9001/udp": None}
    # -P publishes what --expose names
    ok("run", "-d", "--name", "pub", "--expose", "8080", "-P", busybox, "sleep", "300")
    assert ok("port", "pub").stdout.startswith("8080/tcp -> 0.0.0.0:")
    for bad, msg in (("foo", 'invalid range format for --expose: foo: strconv.ParseUint: parsing "foo": invalid syntax'),):
        r = pypod("create", "--expose", bad, busybox)
        assert (r.returncode, r.stderr) == (125, f"Error: {msg}\n")

    # --log-driver none: output still reaches a foreground run; logs says why there are none
    r = ok("run", "--name", "quiet", "--log-driver", "none", busybox, "echo", "hi")
    assert r.stdout == "hi\n"
    r = pypod("logs", "quiet")
    assert (r.returncode, r.stderr) == (125, "Error: this container is using the 'none' log driver, cannot read "
                                              "logs: this container is not logging output\n")
    assert inspect("quiet")["HostConfig"]["LogConfig"]["Type"] == "none"
    # json-file is podman's k8s-file; --log-opt path= puts the log there; max-size truncates it
    log = shared_tmp / "logs" / "c.log"
    os.makedirs(log.parent, mode=0o777)
    os.chmod(log.parent, 0o777)
    ok("run", "--name", "logged", "--log-driver", "json-file", "--log-opt", f"path={log}",
       "--log-opt", "max-size=2k", busybox, "sh", "-c", "i=0; while [ $i -lt 200 ]; do echo line$i; i=$((i+1)); done")
    lc = inspect("logged")["HostConfig"]["LogConfig"]
    assert (lc["Type"], lc["Path"], lc["Size"]) == ("k8s-file", str(log), "2kB")
    assert 0 < log.stat().st_size <= 2000
    tail = ok("logs", "logged").stdout.splitlines()
    assert tail[-1] == "line199" and len(tail) < 200  # the start was cut away, the end kept
    r = pypod("run", "--rm", "--log-driver", "bogus", busybox, "true")
    assert (r.returncode, r.stderr) == (125, "Error: running container create option: invalid log driver: "
                                             "invalid argument\n")


def test_process_and_kernel_settings(busybox):
    r = ok("run", "--rm", "--umask", "0027", "--tz", "Asia/Tokyo", "--shm-size", "1m", "--oom-score-adj", "100",
           "--sysctl", "net.ipv4.ip_forward=1", "--sysctl", "kernel.shmmax=100000", busybox, "sh", "-c",
           "umask; date +%Z; df -k /dev/shm | tail -1; cat /proc/self/oom_score_adj "
           "/proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax")
    umask, zone, shm, oom, fwd, shmmax = r.stdout.splitlines()
    assert (umask, zone, shm.split()[1], oom, fwd, shmmax) == ("0027", "JST", "1024", "100", "1", "100000")
    # the host's own settings are untouched
    assert open("/proc/sys/kernel/shmmax").read().strip() != "100000"
    ok("create", "--name", "set", "--umask", "0027", "--tz", "Asia/Tokyo", "--shm-size", "1m",
       "--sysctl", "net.ipv4.ip_forward=1", busybox)
    i = inspect("set")
    assert (i["Config"]["Umask"], i["Config"]["Timezone"], i["HostConfig"]["ShmSize"],
            i["HostConfig"]["Sysctls"]["net.ipv4.ip_forward"]) == ("0027", "Asia/Tokyo", 1 << 20, "1")
    # a host device, at its own path or another (the permissions are device-cgroup rules, which
    # rootless podman cannot apply either)
    r = ok("run", "--rm", "--device", "/dev/null:/dev/mynull:rw", "--device", "/dev/zero", busybox, "sh", "-c",
           "ls -l /dev/mynull /dev/zero; echo x > /dev/mynull && head -c 3 /dev/zero | od -An -tx1")
    assert "1,   3" in r.stdout and "1,   5" in r.stdout and r.stdout.endswith(" 00 00 00\n")
    assert inspect("set")["HostConfig"]["Devices"] == []
    for args, msg in ((["--device", "/dev/nonexist"], "stat /dev/nonexist: no such file or directory"),
                      (["--sysctl", "kernel.foo=1"], "sysctl 'kernel.foo' is not allowed"),
                      (["--network", "host", "--sysctl", "net.ipv4.ip_forward=1"],
                       "sysctl net.ipv4.ip_forward=1 can't be set since Network Namespace set to host: "
                       "invalid argument"),
                      (["--umask", "0777x"], "running container create option: invalid umask string 0777x: "
                                             "invalid argument"),
                      (["--tz", "Nowhere/X"], "running container create option: stat /usr/share/zoneinfo/Nowhere/X: "
                                              "no such file or directory"),
                      (["--shm-size", "foo"], "unable to translate --shm-size: invalid size: 'foo'")):
        r = pypod("run", "--rm", *args, busybox, "true")
        assert (r.returncode, r.stderr) == (125, f"Error: {msg}\n"), args


def test_rmi_removes_the_image_after_the_container(busybox, registry):
    ref = registry["layered"]
    ok("pull", "-q", ref)
    ok("run", "--rmi", ref, "true")
    assert pypod("image", "exists", ref).returncode == 1
    assert ok("ps", "-aq").stdout == ""  # --rmi implies --rm
    ok("pull", "-q", ref)
    ok("run", "-d", "--rmi", ref, "true")
    deadline = time.monotonic() + 20
    while pypod("image", "exists", ref).returncode == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert pypod("image", "exists", ref).returncode == 1
    # an image another container uses stays
    ok("create", "--name", "user", busybox)
    ok("run", "--rmi", busybox, "true")
    assert pypod("image", "exists", busybox).returncode == 0


def test_containers_conf_defaults(busybox, shared_tmp):
    """[containers] keys podman users set: env, dns_*, default_ulimits, tz, umask, shm_size,
    default_capabilities, no_hosts, log_driver, init, default_sysctls — each reaching the
    container, and the command line still winning."""
    conf = shared_tmp / "containers.conf"
    conf.write_text('[containers]\nenv = ["TERM=vt220", "FROMCONF=1"]\ndns_servers = ["192.0.2.53"]\n'
                    'dns_searches = ["example.test"]\ndefault_ulimits = ["nofile=512:1024"]\ntz = "Asia/Tokyo"\n'
                    'umask = "0077"\nshm_size = "2m"\ndefault_capabilities = ["CHOWN", "KILL"]\nno_hosts = true\n'
                    'log_driver = "none"\ninit = true\ndefault_sysctls = ["net.ipv4.ip_forward=1"]\n'
                    '[engine]\nstop_timeout = 3\n')
    os.chmod(conf, 0o644)
    env = {"CONTAINERS_CONF": str(conf)}
    script = ("echo $FROMCONF $TERM; grep -v '^#' /etc/resolv.conf; ulimit -n; date +%Z; umask; "
              "df -k /dev/shm | tail -1; grep CapBnd /proc/self/status; test -e /etc/hosts || echo nohosts; "
              "cat /proc/sys/net/ipv4/ip_forward; cat /proc/1/comm")
    r = ok("run", "--name", "conf", busybox, "sh", "-c", script, env=env)
    lines = r.stdout.splitlines()
    assert lines[0] == "1 vt220"
    assert "nameserver 192.0.2.53" in lines and "search example.test" in lines
    rest = lines[lines.index("512"):]
    assert rest[0:3] == ["512", "JST", "0077"]
    assert rest[3].split()[1] == "2048"
    assert rest[4] == "CapBnd:\t0000000000000021"  # CHOWN (0) and KILL (5) only
    assert rest[5:7] == ["nohosts", "1"]
    assert rest[7] != "sh"  # init = true: an init is pid 1, not the command
    assert pypod("logs", "conf", env=env).returncode == 125  # log_driver = "none"
    assert inspect("conf")["Config"]["StopTimeout"] == 3  # [engine] stop_timeout
    # the command line wins
    r = ok("run", "--rm", "-e", "FROMCONF=cli", "--dns", "192.0.2.54", "--ulimit", "nofile=256:256", "--tz", "UTC",
           "--umask", "0022", "--shm-size", "1m", "--cap-add", "NET_RAW", "--sysctl", "net.ipv4.ip_forward=0",
           busybox, "sh", "-c", "echo $FROMCONF; grep nameserver /etc/resolv.conf; ulimit -n; date +%Z; umask; "
           "df -k /dev/shm | tail -1; grep CapBnd /proc/self/status; cat /proc/sys/net/ipv4/ip_forward", env=env)
    lines = r.stdout.splitlines()
    assert lines[0:5] == ["cli", "nameserver 192.0.2.54", "256", "UTC", "0022"]
    assert lines[5].split()[1] == "1024" and lines[6] == "CapBnd:\t0000000000002021" and lines[7] == "0"
