"""pypod as a client of a Docker-compatible API: `pypod --url`, `--connection`, CONTAINER_HOST,
against pypod's own service, podman 4.3's `system service`, and through ssh (a real sshd).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from tests.lib import user
from tests.lib.user import as_user_argv, pypod, run_as_user

pytestmark = pytest.mark.integration


def _serve(argv: list[str], sock: str) -> subprocess.Popen:
    if os.path.exists(sock):
        os.unlink(sock)
    p = subprocess.Popen(as_user_argv(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    end = time.time() + 30
    while time.time() < end:
        if os.path.exists(sock):
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect(sock)
                return p
            except OSError:
                pass
            finally:
                s.close()
        if p.poll() is not None:
            raise AssertionError(f"service exited: {p.communicate()}")
        time.sleep(0.05)
    raise AssertionError(f"no service on {sock}")


def _stop(p: subprocess.Popen) -> None:
    if p.poll() is None:
        os.killpg(p.pid, 15)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, 9)


def _client_round(url: str, image: str, extra_env: dict | None = None) -> None:
    """ps, images, run --rm (output and exit code), run -d + logs + exec + rm -f, over `url`."""
    def r(*args, **kw):
        return pypod("--url", url, *args, env=extra_env, **kw)

    assert "API Version:" in r("version", check=True).stdout
    assert image.rsplit(":", 1)[0] in r("images", check=True).stdout
    assert r("run", "--rm", image, "echo", "hi", check=True).stdout == "hi\n"
    assert r("run", "--rm", image, "sh", "-c", "exit 7").returncode == 7
    cid = r("run", "-d", "--name", "remote1", image, "sh", "-c", "echo started; sleep 100",
            check=True).stdout.strip()
    assert len(cid) == 64
    ps = r("ps", "--format", "{{.Names}} {{.Status}}", check=True).stdout
    assert "remote1 Up" in ps, ps
    end = time.time() + 10
    while "started" not in r("logs", "remote1").stdout and time.time() < end:
        time.sleep(0.1)
    assert r("logs", "remote1", check=True).stdout == "started\n"
    assert r("exec", "remote1", "sh", "-c", "echo in; exit 4").returncode == 4
    assert r("stop", "-t", "0", "remote1", check=True).stdout == "remote1\n"
    assert r("start", "remote1", check=True).stdout == "remote1\n"
    assert r("kill", "remote1", check=True).stdout == "remote1\n"
    for verb in ("stop", "kill"):
        miss = r(verb, "nosuch")
        assert (miss.returncode, miss.stderr) == (
            125, 'Error: no container with name or ID "nosuch" found: no such container\n'), verb
    assert r("rm", "-f", "remote1", check=True).stdout.strip() == "remote1"
    assert "remote1" not in r("ps", "-a", check=True).stdout


def test_url_against_pypods_own_service(busybox, test_user):
    sock = f"/tmp/pypod-remote-{test_user.uid}.sock"
    p = _serve([user.PYPOD, "system", "service", "--time", "0", f"unix://{sock}"], sock)
    try:
        _client_round(f"unix://{sock}", busybox)
        # CONTAINER_HOST, and a named connection made the default
        assert busybox.rsplit(":", 1)[0] in pypod("images", env={"CONTAINER_HOST": f"unix://{sock}"},
                                                 check=True).stdout
        pypod("system", "connection", "add", "--default", "here", f"unix://{sock}", check=True)
        pypod("system", "connection", "add", "nowhere", "tcp://127.0.0.1:9", check=True)
        listing = pypod("system", "connection", "list", check=True).stdout
        assert "here*" in listing and "nowhere" in listing
        assert pypod("--remote", "run", "--rm", busybox, "echo", "via-default", check=True).stdout == "via-default\n"
        assert pypod("--connection", "here", "ps", "-a", check=True).returncode == 0
        r = pypod("--connection", "nowhere", "ps")
        assert r.returncode == 125 and "unable to connect to the API at tcp://127.0.0.1:9" in r.stderr
        pypod("system", "connection", "remove", "nowhere", check=True)
        pypod("system", "connection", "default", "here", check=True)
        assert "nowhere" not in pypod("system", "connection", "list", check=True).stdout
    finally:
        pypod("system", "connection", "remove", "--all")
        _stop(p)


def test_url_against_podmans_service(busybox, test_user, shared_tmp):
    os.chown(shared_tmp, test_user.uid, test_user.gid)
    archive = shared_tmp / "bb.tar"
    pypod("save", "-o", str(archive), busybox, check=True)
    r = user.podman("load", "-q", "-i", str(archive))
    assert r.returncode == 0, r.stderr
    sock = f"/tmp/podman-remote-{test_user.uid}.sock"
    p = _serve([shutil.which("podman"), "system", "service", "--time", "0", f"unix://{sock}"], sock)
    try:
        _client_round(f"unix://{sock}", busybox)
    finally:
        _stop(p)
        user.podman("rm", "-af", "-t", "0")
        user.podman("rmi", "-af")


def test_url_over_ssh_to_a_real_sshd(busybox, test_user):
    """ssh://USER@127.0.0.1:PORT/SOCKET with a key made for the test, through the system ssh."""
    sshd = "/usr/sbin/sshd"
    assert os.path.exists(sshd), "openssh-server is a test requirement (scripts/test installs it)"
    work = tempfile.mkdtemp(prefix="pypod-sshd-")
    os.chmod(work, 0o755)
    home_ssh = os.path.join(test_user.home, ".ssh")
    sock = f"/tmp/pypod-sshsvc-{test_user.uid}.sock"
    svc = sshd_proc = None
    try:
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", f"{work}/host"], check=True)
        run_as_user(["bash", "-c", f"mkdir -p -m 700 {home_ssh} && rm -f {home_ssh}/pypod_test* && "
                                   f"ssh-keygen -q -t ed25519 -N '' -f {home_ssh}/pypod_test"], check=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with open(f"{work}/authorized_keys", "w") as f:
            f.write(open(f"{home_ssh}/pypod_test.pub").read())
        os.chmod(f"{work}/authorized_keys", 0o644)
        with open(f"{work}/sshd_config", "w") as f:
            f.write(f"Port {port}\nListenAddress 127.0.0.1\nHostKey {work}/host\nPidFile {work}/pid\n"
                    f"AuthorizedKeysFile {work}/authorized_keys\nPasswordAuthentication no\n"
                    "KbdInteractiveAuthentication no\nUsePAM yes\nStrictModes no\n"
                    f"AllowUsers {test_user.name}\nAllowStreamLocalForwarding yes\n")
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        sshd_proc = subprocess.Popen([sshd, "-D", "-e", "-f", f"{work}/sshd_config"], stderr=subprocess.PIPE,
                                     text=True)
        host_key = open(f"{work}/host.pub").read().split()
        run_as_user(["bash", "-c", f"echo '[127.0.0.1]:{port} {host_key[0]} {host_key[1]}' > {home_ssh}/known_hosts"],
                    check=True)
        svc = _serve([user.PYPOD, "system", "service", "--time", "0", f"unix://{sock}"], sock)
        url = f"ssh://{test_user.name}@127.0.0.1:{port}{sock}"
        r = pypod("--url", url, "--identity", f"{home_ssh}/pypod_test", "run", "--rm", busybox, "echo", "over-ssh")
        assert (r.returncode, r.stdout) == (0, "over-ssh\n"), r.stderr + (sshd_proc.stderr.read()
                                                                            if sshd_proc.poll() is not None else "")
        r = pypod("--url", url, "--identity", f"{home_ssh}/pypod_test", "ps", "-a", check=True)
        assert r.stdout.startswith("CONTAINER ID")
        # a wrong key: refused, in one line, with ssh's reason
        run_as_user(["sh", "-c", f"rm -f {home_ssh}/pypod_other* && "
                                 f"ssh-keygen -q -t ed25519 -N '' -f {home_ssh}/pypod_other"], check=True)
        r = pypod("--url", url, "--identity", f"{home_ssh}/pypod_other", "ps")
        assert r.returncode == 125 and "ssh to 127.0.0.1 failed" in r.stderr, r.stderr
    finally:
        if svc:
            _stop(svc)
        if sshd_proc:
            sshd_proc.terminate()
            sshd_proc.wait(10)
        shutil.rmtree(work, ignore_errors=True)
