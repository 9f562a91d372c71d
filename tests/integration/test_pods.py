"""Issue 16: pods — containers sharing the network, uts and ipc namespaces of an infra container
(pypod's own pause process, no image), published ports on the pod, podman 4.3's pod verbs, rules
and exit codes. As the test user, real kernel, real slirp4netns."""

from __future__ import annotations

import json
import os
import secrets
import time
import urllib.request

import pytest

from tests.lib.checks import ok
from tests.lib.http import get, httpd
from tests.lib.registry import free_port
from tests.lib.user import podman, pypod, sh_as_user, user_pids

pytestmark = pytest.mark.integration

HTTPD = httpd("hello-from-pod", 8080)


def pid_of(name: str) -> int:
    return int(ok("inspect", "--format", "{{.State.Pid}}", name).stdout.strip())


def alive(pid: int) -> bool:
    """Running (a zombie waiting for this machine's init to reap it is not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return pid > 0 and f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def settled_user_pids(before: set, timeout: float = 5.0) -> set:
    """The user's live processes once short-lived helpers have ended (a stopped container's mount
    namespace is released by a forked child after `stop` returns): a leak outlives the wait."""
    end = time.monotonic() + timeout
    while True:
        now = live_user_pids()
        if now <= before or time.monotonic() > end:
            return now
        time.sleep(0.1)


def live_user_pids() -> set:
    return {p for p in user_pids() if alive(p)}


def test_pod_members_share_localhost_hostname_and_ipc(busybox, registry):
    """Two containers of a pod reach each other on localhost, see one hostname and one SysV IPC
    namespace (a shm segment made by one is listed by the other, not by a container outside), and
    the pod's published port answers on the host."""
    ok("pull", "-q", registry["debian"])  # perl (perl-base) makes the SysV segment
    port = free_port()
    pod = ok("pod", "create", "--name", "duo", "-p", f"{port}:8080").stdout.strip()
    assert len(pod) == 64
    ok("run", "-d", "--pod", "duo", "--name", "web", busybox, "sh", "-c", HTTPD)
    r = ok("run", "--rm", "--pod", "duo", busybox, "sh", "-c",
           "for i in $(seq 50); do wget -qO- http://localhost:8080/ && exit 0; sleep 0.1; done; exit 1")
    assert r.stdout == "hello-from-pod\n"
    assert get(f"http://127.0.0.1:{port}/") == "hello-from-pod\n"
    # one hostname: the pod's name, in every member
    assert ok("exec", "web", "hostname").stdout == "duo\n"
    assert ok("run", "--rm", "--pod", "duo", busybox, "hostname").stdout == "duo\n"
    # one IPC namespace: a segment made in one member is seen in another, not outside the pod
    ok("run", "--rm", "--pod", "duo", registry["debian"], "perl", "-e",
       "defined(shmget(0x5059, 4096, 01600)) or die qq(shmget: $!\\n)")
    key = str(0x5059)
    seen = ok("exec", "web", "cat", "/proc/sysvipc/shm").stdout
    assert any(line.split()[0] == key for line in seen.splitlines()[1:]), seen
    outside = ok("run", "--rm", busybox, "cat", "/proc/sysvipc/shm").stdout
    assert not any(line.split()[0] == key for line in outside.splitlines()[1:]), outside
    # and one /dev/shm (podman's "communicating via /dev/shm")
    ok("run", "--rm", "--pod", "duo", busybox, "touch", "/dev/shm/test1")
    assert ok("exec", "web", "ls", "/dev/shm").stdout == "test1\n"
    assert ok("run", "--rm", busybox, "ls", "/dev/shm").stdout == ""
    show = "for n in ipc uts net; do readlink /proc/self/ns/$n; done"
    web_ns = ok("exec", "web", "sh", "-c", show).stdout
    assert web_ns == ok("run", "--rm", "--pod", "duo", busybox, "sh", "-c", show).stdout
    assert web_ns.split() != ok("run", "--rm", busybox, "sh", "-c", show).stdout.split()
    ok("pod", "rm", "-f", "duo")


def test_pod_stop_start_rm_leave_nothing_behind(busybox):
    """pod stop ends every process of the pod (infra and its network helper too), pod start
    brings them back, pod rm -f leaves no process, record or container."""
    before = live_user_pids()
    port = free_port()
    ok("pod", "create", "--name", "life", "-p", f"{port}:8080")
    ok("run", "-d", "--pod", "life", "--name", "life-web", busybox, "sh", "-c", HTTPD)
    assert get(f"http://127.0.0.1:{port}/") == "hello-from-pod\n"
    infra = ok("pod", "inspect", "--format", "{{.InfraContainerID}}", "life").stdout.strip()
    pids = [pid_of(infra), pid_of("life-web")]
    assert all(alive(p) for p in pids)
    assert ok("pod", "ps", "--format", "{{.Name}} {{.Status}} {{.NumberOfContainers}}").stdout == "life Running 2\n"

    assert ok("pod", "stop", "-t", "0", "life").stdout.strip() == ok(
        "pod", "inspect", "--format", "{{.Id}}", "life").stdout.strip()
    assert not any(alive(p) for p in pids)
    assert settled_user_pids(before) <= before, "pod stop left processes"
    assert ok("pod", "ps", "--format", "{{.Status}}").stdout == "Exited\n"

    ok("pod", "start", "life")
    assert ok("pod", "ps", "--format", "{{.Status}}").stdout == "Running\n"
    assert get(f"http://127.0.0.1:{port}/") == "hello-from-pod\n"

    ok("pod", "rm", "-f", "-t", "0", "life")
    assert settled_user_pids(before) <= before, "pod rm -f left processes"
    assert pypod("pod", "exists", "life").returncode == 1
    assert ok("ps", "-a", "-q").stdout == ""
    assert ok("pod", "ps", "-q").stdout == ""
    with pytest.raises(OSError):  # nothing listens on the pod's port any more
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)


def test_pod_ps_inspect_and_container_ps_fields(busybox):
    pod = ok("pod", "create", "--name", "lister", "--label", "tier=front").stdout.strip()
    cid = ok("create", "--pod", "lister", "--name", "member", busybox, "true").stdout.strip()
    infra = ok("pod", "inspect", "--format", "{{.InfraContainerID}}", "lister").stdout.strip()
    r = ok("pod", "ps")
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["POD", "ID", "NAME", "STATUS", "CREATED", "INFRA", "ID", "#", "OF", "CONTAINERS"]
    assert lines[1].split()[:3] == [pod[:12], "lister", "Created"] and lines[1].split()[-1] == "2"
    assert infra[:12] in lines[1]
    r = ok("pod", "ps", "--no-trunc", "--ctr-names", "--ctr-ids")
    assert r.stdout.splitlines()[0].split()[-2:] == ["IDS", "NAMES"]
    assert f"{infra},{cid}" in r.stdout and f"{pod[:12]}-infra,member" in r.stdout
    assert ok("pod", "ps", "-q").stdout == pod + "\n"  # podman 4.3: full ids
    assert ok("pod", "ps", "--filter", "label=tier=front", "--format", "{{.Name}}").stdout == "lister\n"
    assert ok("pod", "ps", "--filter", "name=nomatch", "--noheading").stdout == ""
    data = json.loads(ok("pod", "inspect", "lister").stdout)
    assert data["Id"] == pod and data["InfraContainerID"] == infra and data["NumContainers"] == 2
    assert data["SharedNamespaces"] == ["ipc", "net", "uts"] and data["State"] == "Created"
    assert data["Labels"] == {"tier": "front"}
    # container listings name the pod
    r = ok("ps", "-a", "--pod")
    assert r.stdout.splitlines()[0].split()[-3:] == ["POD", "ID", "PODNAME"]
    r = ok("ps", "-a", "--format", "{{.Names}} {{.Pod}} {{.PodName}}", "--filter", "pod=lister")
    assert sorted(r.stdout.splitlines()) == sorted([f"member {pod[:12]} lister",
                                                    f"{pod[:12]}-infra {pod[:12]} lister"])
    assert ok("inspect", "--format", "{{.Pod}}", "member").stdout.strip() == pod
    assert ok("inspect", "--type", "pod", "--format", "{{.Name}} {{.NumContainers}}", pod[:12]).stdout == "lister 2\n"
    ok("pod", "rm", "lister")
    assert pypod("container", "exists", "member").returncode == 1


def test_pod_new_and_share(busybox):
    """--pod new:NAME makes the pod (hostname: its name); --share ipc leaves uts to the container."""
    r = ok("run", "--rm", "--pod", "new:fresh", busybox, "hostname")
    assert r.stdout == "fresh\n"
    assert ok("pod", "exists", "fresh").returncode == 0
    ok("pod", "rm", "fresh")
    ok("pod", "create", "--share", "ipc", "--name", "ipconly")
    assert ok("pod", "inspect", "ipconly", "--format", "{{.SharedNamespaces}}").stdout == "[ipc]\n"
    assert ok("run", "--rm", "--pod", "ipconly", "--hostname", "foobar", busybox, "hostname").stdout == "foobar\n"
    ok("pod", "rm", "ipconly")


def test_pod_infra_image_and_infra_name(busybox):
    """--infra-image: a real image as the infra (--infra-command its entrypoint); an infra name in
    use fails the pod create whole, in podman's words."""
    ok("pod", "create", "--name", "img", "--infra-name", "img-infra", "--infra-image", busybox,
       "--infra-command", '["sleep", "1000"]')
    assert ok("run", "--rm", "--pod", "img", busybox, "hostname").stdout == "img\n"
    assert ok("ps", "--format", "{{.Names}} {{.Command}}").stdout == "img-infra sleep 1000\n"
    r = pypod("pod", "create", "--name", "img2", "--infra-name", "img-infra")
    assert r.returncode == 125
    assert 'the container name "img-infra" is already in use by' in r.stderr
    assert "You have to remove that container to be able to reuse that name" in r.stderr
    assert pypod("pod", "exists", "img2").returncode == 1
    img = ok("pod", "inspect", "--format", "{{.Id}}", "img").stdout.strip()
    assert sh_as_user("ls ~/.local/share/pypod/storage/pods").stdout.split() == [img]  # nothing of img2
    ok("pod", "rm", "-f", "-t", "0", "img")


def test_pod_settings_reach_members_and_rm_all_takes_pods(busybox, shared_tmp):
    (shared_tmp / "f").write_text("from-the-pod\n")
    os.chmod(shared_tmp, 0o777)  # the test user writes the pod id file there
    id_file = shared_tmp / "pod-id"
    pod = ok("pod", "create", "--name", "conf", "--dns", "9.9.9.9", "--add-host", "db.example:10.1.2.3",
             "--dns-search", "example.abc", "--dns-option", "ndots:3", "--pod-id-file", str(id_file),
             "-v", f"{shared_tmp}:/pv:ro", "--hostname", "podhost").stdout.strip()
    assert sh_as_user(f"cat {id_file}").stdout == pod
    r = ok("run", "--rm", "--pod", "conf", busybox, "sh", "-c",
           "cat /etc/resolv.conf /etc/hosts /pv/f; hostname")
    assert "nameserver 9.9.9.9" in r.stdout and "10.1.2.3\tdb.example" in r.stdout
    assert "search example.abc" in r.stdout and "options ndots:3" in r.stdout
    assert "\tpodhost" in r.stdout  # the pod's hostname in /etc/hosts (after a tab, as podman's)
    assert r.stdout.endswith("from-the-pod\npodhost\n")
    cid = ok("create", "--pod", "conf", busybox, "true").stdout.strip()
    infra = ok("pod", "inspect", "--format", "{{.InfraContainerID}}", "conf").stdout.strip()
    # podman 4.3: `rm -a` takes the infra containers, and so their pods, too
    assert sorted(ok("rm", "-a").stdout.split()) == sorted([cid, infra])
    assert pypod("pod", "exists", "conf").returncode == 1


def _both(*args) -> tuple:
    a, b = pypod(*args), podman(*args)
    return (a.returncode, a.stdout, a.stderr.strip()), (b.returncode, b.stdout, b.stderr.strip())


def test_pod_rules_and_exit_codes_match_podman(busybox, registry):
    """The same commands as podman 4.3: the same exit codes and messages (ids aside)."""
    podman("pod", "rm", "-f", "-a")
    podman("rm", "-f", "-a")
    assert podman("pull", "-q", busybox).returncode == 0
    tag = secrets.token_hex(3)
    pod = f"rules{tag}"
    for tool in (pypod, podman):
        assert tool("pod", "create", "--name", pod).returncode == 0
        assert tool("run", "-d", "--pod", pod, "--name", f"m{tag}", busybox, "sleep", "1000").returncode == 0

    def same(*args, code: int, say: str | None = None):
        (ca, _, ea), (cb, _, eb) = _both(*args)
        assert (ca, cb) == (code, code), f"{args}: pypod {ca} ({ea}), podman {cb} ({eb})"
        if say is not None:
            assert say in ea and say in eb, f"{args}:\npypod:  {ea}\npodman: {eb}"
        return ea, eb

    infra_a = pypod("pod", "inspect", "--format", "{{.InfraContainerID}}", pod).stdout.strip()
    infra_b = podman("pod", "inspect", "--format", "{{.InfraContainerID}}", pod).stdout.strip()
    for tool, infra in ((pypod, infra_a), (podman, infra_b)):
        r = tool("rm", "-f", infra)
        assert r.returncode == 125 and r.stderr.strip().endswith(
            "and cannot be removed without removing the pod"), r.stderr
    same("pod", "rm", pod, code=125, say="cannot be removed without force: container state improper")
    same("pod", "rm", "bogus", code=1, say="no pod with name or ID bogus found: no such pod")
    (ca, oa, ea), (cb, ob, eb) = _both("pod", "rm", "-f", "bogus")
    assert (ca, oa, ea) == (cb, ob, eb) == (0, "", "")
    same("pod", "create", "--name", pod, code=125, say=f'name "{pod}" is in use: pod already exists')
    same("pod", "create", "--share", "bogus", code=125,
         say="invalid kernel namespace to share: bogus. Options are: cgroup, ipc, net, pid, uts or none")
    same("run", "--rm", "--pod", pod, "-p", "8080:80", busybox, "true", code=125,
         say="published or exposed ports must be defined when the pod is created")
    same("run", "--rm", "--pod", pod, "--hostname", "x", busybox, "true", code=125,
         say="cannot set hostname when joining the pod UTS namespace")
    same("run", "--rm", "--pod", "nope", busybox, "true", code=125,
         say="no pod with name or ID nope found: no such pod")
    same("pod", "start", "bogus", code=125, say="no such pod")
    same("pod", "exists", pod, code=0)
    same("pod", "exists", "bogus", code=1)
    same("pod", "stats", "--no-stream", pod, code=125)
    (ca, _, _), (cb, _, _) = _both("pod", "inspect", "bogus")
    assert ca == cb == 125
    for tool in (pypod, podman):
        r = tool("pod", "rm", "-f", "-t", "0", pod)
        assert r.returncode == 0 and len(r.stdout.strip()) == 64, r.stderr
        assert tool("ps", "-a", "--filter", f"name=m{tag}", "-q").stdout == ""


def test_pod_prune_takes_exited_pods_only(busybox):
    gone = ok("pod", "create", "--name", "done").stdout.strip()
    ok("pod", "start", "done")
    ok("pod", "stop", "-t", "0", "done")
    ok("pod", "create", "--name", "fresh")  # Created: podman's prune leaves it
    ok("container", "prune", "-f")  # an infra container goes only with its pod
    assert ok("pod", "ps", "--format", "{{.Name}} {{.NumberOfContainers}}").stdout == "fresh 1\ndone 1\n"
    assert ok("pod", "prune", "-f").stdout == gone + "\n"
    assert ok("pod", "ps", "--format", "{{.Name}}").stdout == "fresh\n"
    # system prune takes stopped pods first, as podman's ("Deleted Pods")
    again = ok("pod", "create", "--name", "again").stdout.strip()
    ok("pod", "start", "again")
    ok("pod", "stop", "-t", "0", "again")
    assert ok("system", "prune", "-f").stdout.startswith(f"Deleted Pods\n{again}\n")
    assert ok("pod", "ps", "--format", "{{.Name}}").stdout == "fresh\n"
    ok("pod", "rm", "fresh")


def test_concurrent_pod_creates_of_one_name_make_one_pod(clean_storage):
    """Names stay unique under concurrent creates (pods.lock), and the losers leave no infra."""
    r = sh_as_user("for i in 1 2 3 4; do (pypod pod create --name same >/dev/null 2>&1; echo rc=$?) & done; wait")
    assert sorted(r.stdout.split()) == ["rc=0", "rc=125", "rc=125", "rc=125"], r.stdout + r.stderr
    assert ok("pod", "ps", "--format", "{{.Name}} {{.NumberOfContainers}}").stdout == "same 1\n"
    assert len(ok("ps", "-a", "-q").stdout.split()) == 1
    ok("pod", "rm", "same")
    assert ok("ps", "-a", "-q").stdout == ""


def test_concurrent_first_pods_make_one_pause_image(clean_storage):
    """Four first pods at once on an empty storage: one local pause image among them, no dangling
    copy (a second one made beside it would take its name and leave the first unnamed)."""
    r = sh_as_user("for i in 1 2 3 4; do (pypod pod create >/dev/null 2>&1; echo rc=$?) & done; wait")
    assert r.stdout.split() == ["rc=0"] * 4, r.stdout + r.stderr
    images = ok("images", "-a", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").stdout.splitlines()
    assert len(images) == 1 and images[0].startswith("localhost/podman-pause:"), images
    pause_id = images[0].split()[1]
    infras = ok("ps", "-a", "--format", "{{.ImageID}}").stdout.split()
    assert len(infras) == 4 and {i[:12] for i in infras} == {pause_id}, (infras, pause_id)
    ok("pod", "rm", "-a")
    ok("rmi", pause_id)
    # pods.lock serialises the pod creates above; the image is made safely by any caller at once
    make = "python -c 'from pypod.engine import context, pods; pods.pause_image(context.Context.create())'"
    r = sh_as_user(f"for i in 1 2 3 4; do ({make}; echo rc=$?) & done; wait")
    assert r.stdout.split() == ["rc=0"] * 4, r.stdout + r.stderr
    images = ok("images", "-a", "--format", "{{.Repository}}:{{.Tag}}").stdout.splitlines()
    assert len(images) == 1 and images[0].startswith("localhost/podman-pause:"), images


def _two_sharing_a_first_digit(tool, create) -> str:
    """Makes objects until two IDs begin with the same hex digit (17 at the most); that digit."""
    seen = set()
    while True:
        r = tool(*create)
        assert r.returncode == 0, r.stderr
        if r.stdout.strip()[0] in seen:
            return r.stdout.strip()[0]
        seen.add(r.stdout.strip()[0])


def test_an_ambiguous_pod_id_prefix_is_podmans_error(clean_storage):
    for tool in (pypod, podman):
        prefix = _two_sharing_a_first_digit(tool, ("pod", "create", "--infra=false"))
        for verb in (("pod", "inspect"), ("pod", "rm"), ("pod", "exists"), ("pod", "start")):
            r = tool(*verb, prefix)  # (podman may warn first: `/` is not a shared mount here)
            assert (r.returncode, r.stderr.splitlines()[-1]) == (
                125, f"Error: more than one result for ID or name {prefix}: pod already exists"), (tool, verb)
        assert tool("pod", "rm", "-a").returncode == 0


def test_pod_on_a_user_network_answers_to_its_name(busybox):
    """A pod on a user network: its members' servers answer other containers there at the pod's name
    (podman: the infra's alias), and the members still reach each other on localhost."""
    ok("network", "create", "podnet")
    ok("pod", "create", "--network", "podnet", "--name", "api")
    ok("run", "-d", "--pod", "api", busybox, "sh", "-c", HTTPD)
    probe = "for i in $(seq 50); do wget -qO- http://{}:8080/ && exit 0; sleep 0.1; done; exit 1"
    assert ok("run", "--rm", "--network", "podnet", busybox, "sh", "-c", probe.format("api")).stdout == \
        "hello-from-pod\n"
    assert ok("run", "--rm", "--pod", "api", busybox, "sh", "-c", probe.format("localhost")).stdout == \
        "hello-from-pod\n"
    ok("pod", "rm", "-f", "-t", "0", "api")
    ok("network", "rm", "podnet")


def test_pod_userns_keep_id_reaches_its_members(busybox, test_user):
    """--userns keep-id on the pod: the members run as the user, in the infra's user namespace
    (which owns the namespaces they join), and still share localhost and the hostname."""
    ok("pod", "create", "--name", "kid", "--userns", "keep-id")
    ok("run", "-d", "--pod", "kid", busybox, "sh", "-c",
       httpd("as-user", 8080, "/tmp/www"))
    r = ok("run", "--rm", "--pod", "kid", busybox, "sh", "-c",
           "id -u; hostname; for i in $(seq 50); do wget -qO- http://localhost:8080/ && exit 0; sleep 0.1; done")
    assert r.stdout == f"{test_user.uid}\nkid\nas-user\n"
    ok("pod", "rm", "-f", "-t", "0", "kid")


def test_pod_logs_top_kill_restart(busybox):
    pod = ok("pod", "create", "--name", "verbs").stdout.strip()
    a = ok("run", "-d", "--pod", "verbs", "--name", "va", busybox, "sh", "-c",
           "echo from-a; exec sleep 1000").stdout.strip()
    b = ok("run", "-d", "--pod", "verbs", "--name", "vb", busybox, "sh", "-c",
           "echo from-b; exec sleep 1000").stdout.strip()
    for _ in range(50):  # both have written their line
        if len(ok("pod", "logs", "verbs").stdout.splitlines()) == 2:
            break
        time.sleep(0.1)
    # podman 4.3: each line after its container's short id (--names: its name); the infra logs nothing
    assert sorted(ok("pod", "logs", "verbs").stdout.splitlines()) == sorted([f"{a[:12]} from-a",
                                                                             f"{b[:12]} from-b"])
    assert ok("pod", "logs", "--names", "-c", "vb", "verbs").stdout == "from-b\n"
    top = ok("pod", "top", "verbs").stdout.splitlines()
    assert top[0].split()[:3] == ["USER", "PID", "PPID"] and len(top) == 4  # infra, va, vb
    assert sum(line.endswith("sleep 1000") for line in top) == 2
    # -f follows every member (a thread each) until they have all stopped
    c = ok("run", "-d", "--pod", "verbs", "--name", "vc", busybox, "sh", "-c",
           "sleep 1; echo late-c").stdout.strip()
    d = ok("run", "-d", "--pod", "verbs", "--name", "vd", busybox, "sh", "-c",
           "sleep 1; echo late-d").stdout.strip()
    ok("stop", "-t", "0", "va", "vb")
    lines = ok("pod", "logs", "-f", "verbs", timeout=30).stdout.splitlines()
    assert f"{c[:12]} late-c" in lines and f"{d[:12]} late-d" in lines
    ok("rm", "vc", "vd")
    assert ok("pod", "kill", "verbs").stdout == pod + "\n"
    assert ok("pod", "ps", "--format", "{{.Status}}").stdout == "Exited\n"
    assert ok("pod", "restart", "verbs").stdout == pod + "\n"
    assert ok("pod", "ps", "--format", "{{.Status}}").stdout == "Running\n"
    ok("pod", "rm", "-f", "-t", "0", "verbs")


def test_infra_runs_on_podmans_local_pause_image(busybox):
    """The first pod makes podman's local pause image (localhost/podman-pause:VERSION-BUILT, one
    empty layer); its infra containers use it, so `rmi` refuses it while they exist and `rmi -f`
    takes their pods, members and all (podman's 010-images cases)."""
    version = ok("version", "--format", "{{.Server.Version}}-{{.Server.Built}}").stdout.strip()
    pause = f"localhost/podman-pause:{version}"
    ok("pod", "create", "--name", "pz")
    ok("create", "--pod", "pz", "--name", "pzm", busybox, "true")
    assert ok("image", "exists", pause).returncode == 0
    assert f"{pause} " in ok("ps", "-a", "--format", "{{.Image}} {{.Names}}").stdout
    r = pypod("rmi", pause)
    assert r.returncode == 2 and "image is in use by a container" in r.stderr
    pause_id = ok("inspect", "--format", "{{.ID}}", pause).stdout.strip()
    assert ok("rmi", "-f", pause).stdout == f"Untagged: {pause}\nDeleted: {pause_id}\n"
    assert ok("ps", "-aq").stdout == "" and ok("pod", "ps", "-q").stdout == ""
    ok("image", "exists", busybox)
