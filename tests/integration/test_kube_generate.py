"""`pypod kube generate`: what it writes passes the official Kubernetes schemas (kubernetes-validate
--strict, Kubernetes 1.37) and is podman 4.3's YAML for the same containers."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess

import pytest
import yaml

from tests.lib.checks import ok
from tests.lib.user import VENV, podman, pypod

pytestmark = pytest.mark.integration

K8S_VERSION = "1.37.0"


@pytest.fixture
def host_dir(test_user):
    """A bind source whose path podman and pypod name alike (no `_` or `.`, which mkdtemp may use)."""
    d = f"/tmp/pypod-kube-{secrets.token_hex(4)}"
    os.makedirs(f"{d}/data")
    with open(f"{d}/conffile", "w") as f:
        f.write("x\n")
    for p in (d, f"{d}/data"):
        os.chmod(p, 0o777)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def setups(image: str, d: str) -> dict:
    """name → `create` arguments: the set-ups the YAML must cover."""
    return {
        "plain": [image],
        "web": ["-p", "8080:80", "-p", "5353:53/udp", "-e", "FOO=bar", "-e", "NUM=80", "-w", "/tmp",
                image, "httpd", "-f", "-p", "80"],
        "vols": ["-v", "kvol1:/data", "-v", f"{d}/data:/mnt:ro,Z", "-v", f"{d}/conffile:/etc/app.conf", image],
        "caps": ["--cap-add", "NET_ADMIN", "--cap-drop", "CHOWN", "--cap-drop", "KILL", image],
        "user": ["-u", "1000:1000", "--read-only", image],
        "ep": ["--entrypoint", "/bin/sh", image, "-c", "echo hi"],
        "nobody": ["-u", "nobody", "--security-opt", "no-new-privileges", "--tmpfs", "/scratch", image],
        "priv": ["--privileged", "--restart", "always", image],
        "res": ["--memory", "256m", "--cpus", "1.5", "--restart", "on-failure:3", image],
        "hc": ["--health-cmd", "wget -q -O- localhost || exit 1", "--health-interval", "10s",
               "--health-timeout", "3s", "--health-retries", "4", "--health-start-period", "5s", image],
        "my_web.1": ["-it", "--hostname", "webhost", "--dns", "1.1.1.1", "--dns-search", "example.com",
                     "--dns-option", "ndots:2", "-p", "9000:9000", image, "sleep", "1000"],
        "hostnet": ["--network", "host", "--annotation", "note=hello", "-e", "EMPTY=", image],
    }


def validate(paths: list[str]) -> subprocess.CompletedProcess:
    """The real validator, offline, strict (unknown fields are errors)."""
    return subprocess.run([f"{VENV}/bin/kubernetes-validate", "--strict", "-k", K8S_VERSION, *paths],
                          capture_output=True, text=True, timeout=300)


def passed(out: str, path: str) -> list[str]:
    return re.findall(rf"^INFO {re.escape(path)} passed for resource (\S+) against version 1\.37$", out, re.M)


def test_everything_generated_passes_kubernetes_validate_strict(busybox, host_dir, shared_tmp):
    ok("volume", "create", "kvol1")
    ok("volume", "create", "--label", "tier=db", "-o", "o=nodev", "kvol2")
    made = setups(busybox, host_dir)
    for name, args in made.items():
        ok("create", "--name", name, *args)
    # (arguments, the resources the file must hold)
    runs = {f"alone-{n}": (["kube", "generate", n], ["pod"]) for n in made}
    runs.update({
        "all-with-service": (["kube", "generate", "-s", *made], ["service", "pod"]),
        "deployment": (["generate", "kube", "--type", "deployment", "-s", "web", "hc", "vols"],
                       ["service", "deployment"]),
        "replicas": (["kube", "generate", "-t", "deployment", "-r", "3", "priv"], ["deployment"]),
        "volumes": (["kube", "generate", "kvol1", "kvol2"], ["persistentvolumeclaim"] * 2),
        "mixed": (["kube", "generate", "-s", "kvol1", "vols", "web"], ["persistentvolumeclaim", "service", "pod"]),
    })
    files = {}
    for key, (args, _) in runs.items():
        r = ok(*args)
        path = str(shared_tmp / f"{key}.yaml")
        with open(path, "w") as f:
            f.write(r.stdout)
        files[key] = path
    # the validator does refuse what is wrong: an unknown field in a copy of one of them
    bad = str(shared_tmp / "bad.yaml")
    with open(bad, "w") as f:
        f.write(open(files["alone-web"]).read().replace("    name: web\n", "    name: web\n    bogus: 1\n"))
    assert validate([bad]).returncode != 0

    v = validate(list(files.values()))
    assert v.returncode == 0 and "ERROR" not in v.stdout + v.stderr, v.stdout + v.stderr
    for key, (_, kinds) in runs.items():
        got = [x.split("/")[0] for x in passed(v.stdout, files[key])]
        assert got == kinds, f"{key}: {got} in\n{v.stdout}"
    assert sum(len(k) for _, k in runs.values()) >= 20

    docs = {key: [d for d in yaml.safe_load_all(open(p)) if d] for key, p in files.items()}
    # what each set-up must show in its container
    c = {n: docs[f"alone-{n}"][0]["spec"]["containers"][0] for n in made}
    assert c["web"]["ports"] == [{"containerPort": 80, "hostPort": 8080},
                                 {"containerPort": 53, "hostPort": 5353, "protocol": "UDP"}]
    assert c["web"]["env"] == [{"name": "FOO", "value": "bar"}, {"name": "NUM", "value": "80"}]
    assert c["web"]["command"] == ["httpd", "-f", "-p", "80"] and c["web"]["workingDir"] == "/tmp"
    assert {"mountPath": "/data", "name": "kvol1-pvc"} in c["vols"]["volumeMounts"]
    vols = {v["name"]: v for v in docs["alone-vols"][0]["spec"]["volumes"]}
    assert vols["kvol1-pvc"]["persistentVolumeClaim"] == {"claimName": "kvol1"}
    kinds = sorted(v["hostPath"]["type"] for v in vols.values() if "hostPath" in v)
    assert kinds == ["Directory", "File"]
    assert c["caps"]["securityContext"]["capabilities"] == {
        "add": ["CAP_NET_ADMIN"], "drop": ["CAP_CHOWN", "CAP_MKNOD", "CAP_NET_RAW", "CAP_KILL", "CAP_AUDIT_WRITE"]}
    sc = c["user"]["securityContext"]
    assert (sc["runAsUser"], sc["runAsGroup"], sc["readOnlyRootFilesystem"]) == (1000, 1000, True)
    assert c["nobody"]["securityContext"]["runAsUser"] == 65534  # the name, looked up in the image
    assert c["nobody"]["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["ep"]["command"] == ["/bin/sh"] and c["ep"]["args"] == ["-c", "echo hi"]
    assert c["priv"]["securityContext"] == {"privileged": True}
    assert docs["alone-priv"][0]["spec"]["restartPolicy"] == "Always"
    assert c["res"]["resources"] == {"limits": {"cpu": "1500m", "memory": "256Mi"}}
    assert docs["alone-res"][0]["spec"]["restartPolicy"] == "OnFailure"
    assert c["hc"]["livenessProbe"] == {
        "exec": {"command": ["/bin/sh", "-c", "wget -q -O- localhost || exit 1"]},
        "periodSeconds": 10, "timeoutSeconds": 3, "failureThreshold": 4, "initialDelaySeconds": 5}
    assert c["my_web.1"]["name"] == "myweb-1" and docs["alone-my_web.1"][0]["metadata"]["name"] == "myweb-1-pod"
    assert docs["alone-my_web.1"][0]["spec"]["hostname"] == "webhost"
    assert docs["alone-hostnet"][0]["spec"]["hostNetwork"] is True
    assert {"name": "EMPTY"} in c["hostnet"]["env"]
    both = docs["all-with-service"]
    assert [d["kind"] for d in both] == ["Service", "Pod"] and len(both[1]["spec"]["containers"]) == len(made)
    assert [d["kind"] for d in docs["mixed"]] == ["PersistentVolumeClaim", "Service", "Pod"]
    assert docs["replicas"][0]["spec"]["replicas"] == 3


def _unindexed(name: str) -> str:
    return re.sub(r"-host-\d+$", "-host", name)


def _normalise(text: str) -> list[dict]:
    """The documents without what differs by design: the time, podman's NOTE comment document and
    the hostPath "tmpfs" volumes podman 4.3 writes for --read-only's tmpfs, random NodePorts, the order
    of podman's ports, variables and bind mounts (a Go map's: it changes run to run, and with it the
    index in the bind mounts' volume names)."""
    docs = [d for d in yaml.safe_load_all(text) if d]
    for d in docs:
        d["metadata"].pop("creationTimestamp", None)
        spec = d["spec"]
        for p in spec.get("ports") or []:
            p.pop("nodePort", None)
        spec.get("ports", []).sort(key=lambda p: (p["port"], p.get("protocol", "")))
        spec["volumes"] = sorted((dict(v, name=_unindexed(v["name"])) for v in spec.get("volumes") or []
                                  if not v["name"].startswith("tmpfs-host")), key=lambda v: v["name"])
        if not spec["volumes"]:
            del spec["volumes"]
        for c in spec.get("containers") or []:
            # podman's order of port mappings and of -e variables follows a Go map's: random
            c.get("ports", []).sort(key=lambda p: (p["containerPort"], p.get("protocol", "")))
            c.get("env", []).sort(key=lambda e: e["name"])
            c["volumeMounts"] = sorted((dict(m, name=_unindexed(m["name"])) for m in c.get("volumeMounts") or []
                                        if not m["name"].startswith("tmpfs-host")), key=lambda m: m["mountPath"])
            if not c["volumeMounts"]:
                del c["volumeMounts"]
    return docs


COMPARED = ("plain", "web", "vols", "caps", "user", "ep")


def test_same_yaml_as_podman(busybox, registry, host_dir):
    made = {n: a for n, a in setups(busybox, host_dir).items() if n in COMPARED}
    tag = secrets.token_hex(3)
    names = {n: f"{n}{tag}" for n in made}
    p = podman("pull", "-q", busybox)
    assert p.returncode == 0, p.stderr
    try:
        for tool in (pypod, podman):
            r = tool("volume", "create", "kvol1")
            assert r.returncode == 0 or "already exists" in r.stderr, r.stderr
            for n, args in made.items():
                r = tool("create", "--name", names[n], *args)
                assert r.returncode == 0, r.stderr
        cases = [[names[n]] for n in COMPARED] + [["-s", names["web"], names["vols"], names["plain"]]]
        for args in cases:
            mine, theirs = ok("kube", "generate", *args), podman("kube", "generate", *args)
            assert theirs.returncode == 0, theirs.stderr
            assert mine.stdout.splitlines()[:4] == [
                "# Save the output of this file and use kubectl create -f to import", "# it into Kubernetes.",
                "#", f"# Created with pypod-{ok('--version').stdout.split()[-1]}"]
            assert _normalise(mine.stdout) == _normalise(theirs.stdout), (args, mine.stdout, theirs.stdout)
    finally:
        podman("rm", "-f", *names.values())
        podman("volume", "rm", "-f", "kvol1")


def test_filename_errors_and_both_spellings(busybox, shared_tmp):
    ok("create", "--name", "one", busybox)
    out = str(shared_tmp / "out.yaml")
    os.chmod(shared_tmp, 0o777)
    assert ok("generate", "kube", "-f", out, "one").stdout == ""
    text = open(out).read()
    assert text.startswith("# Save the output") and "kind: Pod\n" in text and not text.endswith("\n\n")
    assert oct(os.stat(out).st_mode & 0o777) == "0o644"
    printed = ok("kube", "generate", "one").stdout
    assert _normalise(printed) == _normalise(text) and printed.endswith("\n\n")  # podman's Println
    r = pypod("kube", "generate", "--filename", out, "one")
    assert (r.returncode, r.stderr) == (125, f'Error: cannot write to "{out}"; file exists\n')
    assert open(out).read() == text
    r = pypod("kube", "generate", "one", "nosuch")
    assert (r.returncode, r.stderr, r.stdout) == (125, 'Error: name or ID "nosuch" not found\n', "")
    r = pypod("kube", "generate")
    assert (r.returncode, r.stderr) == (125, "Error: requires at least 1 arg(s), only received 0\n")
    r = pypod("kube", "generate", "--type", "job", "one")
    assert r.returncode == 125 and "only pods and deployments" in r.stderr
