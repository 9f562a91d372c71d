"""`pypod kube play` / `kube down` as the unprivileged user: manifests written for a cluster (shaped
after the Kubernetes documentation's own examples, images replaced by the offline busybox), the
round trip from `kube generate`, and a compose project turned into YAML and played back."""

from __future__ import annotations

import json
import os
import time

import pytest

from tests.lib import http
from tests.lib.checks import ok
from tests.lib.seed import write_seed_project
from tests.lib.user import pypod

pytestmark = pytest.mark.integration


def write(shared_tmp, name: str, text: str) -> str:
    path = os.path.join(shared_tmp, name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)
    return path


def until(fn, timeout=20.0):
    end = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > end:
            return v
        time.sleep(0.3)


def exec_out(ctr: str, *cmd) -> str:
    r = pypod("exec", ctr, *cmd)
    return r.stdout if r.returncode == 0 else ""


def names(*args) -> set[str]:
    return {n for n in ok(*args).stdout.split() if n}


DOCS = """
# a Pod with two containers sharing an emptyDir (the docs' two-container-pod)
apiVersion: v1
kind: Pod
metadata:
  name: two-containers
spec:
  restartPolicy: Never
  volumes:
  - name: shared-data
    emptyDir: {}
  containers:
  - name: web
    image: IMAGE
    command: ["httpd", "-f", "-p", "8089", "-h", "/usr/share/web"]
    volumeMounts:
    - name: shared-data
      mountPath: /usr/share/web
  - name: writer
    image: IMAGE
    command: ["/bin/sh"]
    args: ["-c", "echo Hello from the writer > /pod-data/index.html; sleep 1000"]
    volumeMounts:
    - name: shared-data
      mountPath: /pod-data
---
# a Deployment with replicas
apiVersion: apps/v1
kind: Deployment
metadata:
  name: sleeper
spec:
  replicas: 2
  selector: {matchLabels: {app: sleeper}}
  template:
    metadata: {labels: {app: sleeper}}
    spec:
      containers:
      - name: main
        image: IMAGE
        command: ["sleep", "1000"]
---
# a ConfigMap consumed as env and as a volume (the docs' configure-pod-configmap)
apiVersion: v1
kind: ConfigMap
metadata:
  name: game-config
data:
  player_initial_lives: "3"
  ui_properties_file_name: user-interface.properties
---
apiVersion: v1
kind: Secret
metadata:
  name: mysecret
type: Opaque
data:
  username: YWRtaW4=
stringData:
  password: s3cr3t
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: task-pv-claim
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata:
  name: configured
spec:
  initContainers:
  - name: init
    image: IMAGE
    command: ["sh", "-c", "echo initialised > /data/init"]
    volumeMounts: [{name: storage, mountPath: /data}]
  containers:
  - name: app
    image: IMAGE
    command: ["sleep", "1000"]
    env:
    - name: LIVES
      valueFrom: {configMapKeyRef: {name: game-config, key: player_initial_lives}}
    - name: SECRET_USERNAME
      valueFrom: {secretKeyRef: {name: mysecret, key: username}}
    envFrom:
    - configMapRef: {name: game-config}
    volumeMounts:
    - {name: config-volume, mountPath: /etc/config}
    - {name: secret-volume, mountPath: /etc/secret-volume, readOnly: true}
    - {name: storage, mountPath: /data}
  volumes:
  - {name: config-volume, configMap: {name: game-config}}
  - {name: secret-volume, secret: {secretName: mysecret}}
  - {name: storage, persistentVolumeClaim: {claimName: task-pv-claim}}
"""


def test_cluster_manifests_run_and_kube_down_removes_them(busybox, shared_tmp):
    path = write(shared_tmp, "docs.yaml", DOCS.replace("IMAGE", busybox))
    r = ok("kube", "play", path, timeout=300)
    assert "Volumes:\ntask-pv-claim\n" in r.stdout and r.stdout.count("Pod:\n") == 4
    assert names("pod", "ps", "--format", "{{.Name}}") == {"two-containers", "sleeper-pod-0", "sleeper-pod-1",
                                                           "configured"}
    # two containers: one pod's localhost, one emptyDir
    assert "Hello from the writer" in until(lambda: exec_out("two-containers-writer", "wget", "-qO-",
                                                               "http://localhost:8089/"))
    assert names("ps", "--format", "{{.Names}}", "--filter", "name=sleeper-pod") == {"sleeper-pod-0-main",
                                                                                    "sleeper-pod-1-main"}
    env = dict(line.split("=", 1) for line in exec_out("configured-app", "env").splitlines() if "=" in line)
    assert env["LIVES"] == "3" and env["SECRET_USERNAME"] == "admin"
    assert env["ui_properties_file_name"] == "user-interface.properties"
    assert exec_out("configured-app", "cat", "/etc/config/player_initial_lives") == "3"
    assert exec_out("configured-app", "cat", "/etc/secret-volume/password") == "s3cr3t"
    assert exec_out("configured-app", "cat", "/data/init") == "initialised\n"  # the init container ran first
    # a name taken: refused whole, nothing new made
    before = names("ps", "-a", "--format", "{{.ID}}")
    r = pypod("kube", "play", path)
    assert r.returncode == 125 and 'name "two-containers" is in use' in r.stderr
    assert names("ps", "-a", "--format", "{{.ID}}") == before
    # down: every pod and container gone; --force: the volumes too
    r = ok("kube", "down", "--force", path, timeout=300)
    assert r.stdout.startswith("Pods stopped:\n") and "Pods removed:\n" in r.stdout
    assert names("pod", "ps", "-q") == set() and names("ps", "-aq") == set()
    assert names("volume", "ls", "-q") == set()


def test_unsupported_field_creates_nothing(busybox, shared_tmp):
    path = write(shared_tmp, "bad.yaml", f"""
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: claim}}
spec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 1Gi}}}}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: ok}}
spec: {{containers: [{{name: c, image: {busybox}, command: [sleep, "100"]}}]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: bad}}
spec:
  volumes: [{{name: v, nfs: {{server: nfs.example, path: /}}}}]
  containers: [{{name: c, image: {busybox}, volumeMounts: [{{name: v, mountPath: /v}}]}}]
""")
    r = pypod("kube", "play", path)
    assert r.returncode == 125 and r.stderr.count("\n") == 1 and "volume source nfs is not supported" in r.stderr
    assert names("pod", "ps", "-q") == set() and names("ps", "-aq") == set() and names("volume", "ls", "-q") == set()


def test_generate_then_play_gives_back_the_containers(busybox, shared_tmp):
    ok("volume", "create", "rtvol")
    ok("create", "--name", "rt", "-e", "GREETING=hello", "-p", "18087:8087", "-v", "rtvol:/data", "-w", "/data",
       busybox, "httpd", "-f", "-p", "8087")
    before = json.loads(ok("inspect", "rt").stdout)[0]
    path = write(shared_tmp, "rt.yaml", ok("kube", "generate", "rt").stdout)
    ok("rm", "-f", "rt")
    r = ok("kube", "play", path, timeout=300)
    (ctr,) = [n for n in names("ps", "--format", "{{.Names}}") if n.endswith("-rt")]
    after = json.loads(ok("inspect", ctr).stdout)[0]
    assert after["ImageName"] == before["ImageName"]
    assert [after["Path"]] + after["Args"] == [before["Path"]] + before["Args"] == ["httpd", "-f", "-p", "8087"]
    assert "GREETING=hello" in after["Config"]["Env"] and after["Config"]["WorkingDir"] == "/data"
    assert [(m["Name"], m["Destination"]) for m in after["Mounts"]] == [("rtvol", "/data")]
    pod = json.loads(ok("pod", "inspect", ctr.rsplit("-rt", 1)[0]).stdout)
    pod = pod[0] if isinstance(pod, list) else pod
    assert "18087" in json.dumps(pod)  # the port now published on the pod
    assert "hello" not in r.stderr
    ok("kube", "down", path, timeout=300)


def test_seed_compose_project_as_kube_yaml_plays_back(busybox, shared_tmp):
    """The seed's first compose file (`build: .`, a published port, `.:/code` and a named volume,
    `links: - redis`; busybox stands in for redis): its Kubernetes YAML passes the official schemas,
    and played back, web still reaches redis by name and the port answers from the host."""
    import kubernetes_validate
    import yaml

    d = shared_tmp / "seed"
    d.mkdir()
    os.chmod(d, 0o777)
    write_seed_project(d, busybox, 18095)
    ok("compose", "-f", f"{d}/compose.yaml", "build", timeout=300)
    r = ok("compose", "-f", f"{d}/compose.yaml", "kube")
    assert "links not carried" in r.stderr
    for doc in yaml.safe_load_all(r.stdout):
        kubernetes_validate.validate(doc, "1.37.0", strict=True)
    path = write(shared_tmp, "seed.yaml", r.stdout)
    ok("kube", "play", path, timeout=300)
    assert until(lambda: exec_out("seed-web", "wget", "-qO-", "http://redis:6379/")) == "PONG\n"
    assert "Dockerfile" in exec_out("seed-web", "ls", "/code")
    assert http.get("http://127.0.0.1:18095/", timeout=20) == "built-web\n"
    ok("kube", "down", "--force", path, timeout=300)
    assert names("ps", "-aq") == set() and names("pod", "ps", "-q") == set()
    assert "seedlogvolume01" not in names("volume", "ls", "-q")


def test_pod_generate_validate_and_play_back(busybox, shared_tmp):
    import kubernetes_validate
    import yaml

    ok("pod", "create", "--name", "shop", "-p", "18093:8093")
    ok("create", "--pod", "shop", "--name", "front", "-e", "ROLE=front", busybox,
       "sh", "-c", http.httpd("front page", 8093))
    ok("create", "--pod", "shop", "--name", "back", busybox, "sleep", "1000")
    text = ok("kube", "generate", "shop").stdout
    docs = [d for d in yaml.safe_load_all(text) if d]
    for d in docs:
        kubernetes_validate.validate(d, "1.37.0", strict=True)
    (pod,) = docs
    assert pod["metadata"]["name"] == "shop"
    assert [c["name"] for c in pod["spec"]["containers"]] == ["front", "back"]  # the infra is not one
    assert pod["spec"]["containers"][0]["ports"] == [{"containerPort": 8093, "hostPort": 18093}]
    ok("pod", "rm", "-f", "shop")
    path = write(shared_tmp, "shop.yaml", text)
    ok("kube", "play", path, timeout=300)
    assert names("ps", "--format", "{{.Names}}", "--filter", "pod=shop") >= {"shop-front", "shop-back"}
    assert "ROLE=front" in exec_out("shop-front", "env")
    assert "front page" in until(lambda: exec_out("shop-back", "wget", "-qO-", "http://localhost:8093/"))
    assert "front page" in http.get("http://127.0.0.1:18093/", timeout=20)  # the pod's published port
    ok("kube", "down", path, timeout=300)
    assert names("pod", "ps", "-q") == set()


def test_play_flags_build_configmap_start_replace_publish(busybox, shared_tmp):
    """--build (a directory named after the image, with its Containerfile), --configmap FILE,
    --start=false, --replace, --publish, --log-driver."""
    ctxdir = shared_tmp / "kbuilt"
    ctxdir.mkdir()
    os.chmod(ctxdir, 0o777)
    write(ctxdir, "Containerfile", f"FROM {busybox}\nRUN echo baked > /baked\n")
    cm = write(shared_tmp, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extcm}\n"
                                      "data: {COLOUR: blue}\n")
    path = write(shared_tmp, "flags.yaml", """
apiVersion: v1
kind: Pod
metadata: {name: flags}
spec:
  containers:
  - name: app
    image: localhost/kbuilt:latest
    command: [sh, -c, "echo $COLOUR; cat /baked; sleep 1000"]
    envFrom: [{configMapRef: {name: extcm}}]
""")
    r = pypod("kube", "play", path)  # the ConfigMap is not in the YAML
    assert r.returncode == 125 and "configmap extcm not found" in r.stderr
    assert names("pod", "ps", "-q") == set()
    ok("kube", "play", "--build", "--context-dir", str(shared_tmp), "--configmap", cm, "--start=false",
       "--publish", "18097:8097", "--log-driver", "k8s-file", path, cwd=str(shared_tmp), timeout=300)
    assert ok("ps", "-a", "--format", "{{.Names}} {{.Status}}", "--filter", "name=flags-app").stdout.startswith(
        "flags-app Created")
    assert ok("inspect", "--format", "{{.HostConfig.LogConfig.Type}}", "flags-app").stdout.strip() == "k8s-file"
    ok("pod", "start", "flags")
    assert until(lambda: ok("logs", "flags-app").stdout) == "blue\nbaked\n"
    old = ok("inspect", "--format", "{{.Id}}", "flags-app").stdout
    # --replace: down, then up again (the image is there now: no build needed)
    ok("kube", "play", "--replace", "--configmap", cm, path, timeout=300)
    assert ok("inspect", "--format", "{{.Id}}", "flags-app").stdout != old
    ok("kube", "play", "--down", path)
    assert names("pod", "ps", "-q") == set()
