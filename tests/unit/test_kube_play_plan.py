"""`kube play`'s pure half (pypod/kube/play.py): Kubernetes YAML → volumes, pods and create options,
as podman 4.3 maps them; every error found before anything is created."""

import base64
import os
import socket

import pytest

from pypod.errors import InvalidArgument, PypodError
from pypod.kube import play

POD = """
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: shop}
spec:
  restartPolicy: OnFailure
  hostAliases: [{ip: 10.0.0.9, hostnames: [db, db.local]}]
  dnsConfig: {nameservers: [1.1.1.1], searches: [example.org], options: [{name: ndots, value: "2"}, {name: edns0}]}
  securityContext: {runAsUser: 1000, supplementalGroups: [5, 6]}
  volumes:
  - {name: data, persistentVolumeClaim: {claimName: shopdata}}
  - {name: scratch, emptyDir: {}}
  - {name: conf, configMap: {name: shopconf}}
  - {name: opt, configMap: {name: nosuch, optional: true}}
  containers:
  - name: app
    image: localhost/bb:latest
    command: [sh, -c]
    args: ["echo $GREETING"]
    workingDir: /srv
    ports: [{containerPort: 80, hostPort: 8080}, {containerPort: 53, protocol: UDP}]
    env:
    - {name: GREETING, value: hi}
    - {name: LEVEL, valueFrom: {configMapKeyRef: {name: shopconf, key: level}}}
    - {name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: APP, valueFrom: {fieldRef: {fieldPath: "metadata.labels['app']"}}}
    - {name: GONE, valueFrom: {configMapKeyRef: {name: shopconf, key: nokey, optional: true}}}
    envFrom: [{configMapRef: {name: shopconf}, prefix: CM_}]
    securityContext: {readOnlyRootFilesystem: true, capabilities: {add: [NET_ADMIN], drop: [ALL]}, runAsGroup: 7}
    resources: {limits: {memory: 64Mi, cpu: 500m}}
    livenessProbe: {exec: {command: [cat, /tmp/ok]}, periodSeconds: 5}
    volumeMounts:
    - {name: data, mountPath: /data}
    - {name: scratch, mountPath: /scratch}
    - {name: conf, mountPath: /etc/shop, readOnly: true}
    - {name: opt, mountPath: /opt}
  - name: side
    image: localhost/bb:latest
    args: [sleep, "100"]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: shopconf}
data: {level: debug, mode: fast}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: shopdata, annotations: {volume.podman.io/driver: local, volume.podman.io/uid: "1000"}}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
"""


def _plan(text, **kw):
    return play.plan(play.load_documents(text), **kw)


def test_pod_maps_as_podman_does():
    p = _plan(POD)
    assert [v.name for v in p.volumes] == ["shopdata", "web-scratch", "shopconf"]
    claim, scratch, conf = p.volumes
    assert scratch.scratch and scratch.labels == {"io.pypod.kube.emptydir": "web"}
    assert claim.options == {"uid": "1000"} and claim.files is None
    assert conf.files == {"level": b"debug", "mode": b"fast"}
    (pod,) = p.pods
    assert pod.name == "web" and pod.hostname == "web" and pod.restart == "on-failure"
    assert pod.publish == ["8080:80/tcp", "53:53/udp"]  # podman 4.3 publishes every containerPort
    assert pod.add_host == ["db:10.0.0.9", "db.local:10.0.0.9"]
    assert pod.dns == ["1.1.1.1"] and pod.dns_search == ["example.org"] and pod.dns_option == ["ndots:2", "edns0"]
    assert pod.share == ["ipc", "net", "uts"]
    app, side = pod.containers
    assert app.name == "web-app" and side.name == "web-side"
    o = app.create
    assert o["entrypoint"] == '["sh", "-c"]' and o["command"] == ["echo $GREETING"]
    assert side.create["command"] == ["sleep", "100"] and "entrypoint" not in side.create  # the image's
    assert o["workdir"] == "/srv" and o["restart"] == "on-failure"
    env = dict(e.split("=", 1) for e in o["env"])
    assert env == {"GREETING": "hi", "LEVEL": "debug", "POD": "web", "APP": "shop", "CM_level": "debug",
                   "CM_mode": "fast"}
    assert o["read_only"] is True and o["cap_add"] == ["NET_ADMIN"] and o["cap_drop"] == ["ALL"]
    assert o["user"] == "1000:7" and o["group_add"] == ["5", "6"]
    assert o["resources"] == {"cpus": "0.5", "memory": str(64 * 2 ** 20)}
    assert o["health_cmd"] == "cat /tmp/ok || exit 1" and o["health_interval"] == "5s"
    assert o["health_retries"] == 3 and o["health_timeout"] == "1s"
    assert o["volumes"] == ["shopdata:/data", "web-scratch:/scratch", "shopconf:/etc/shop:ro"]  # optional missing: skipped
    assert o["labels"] == ["app=shop"]


def test_deployment_makes_replicas_pods():
    p = _plan("""
kind: Deployment
metadata: {name: api}
spec:
  replicas: 3
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: c, image: bb}]}
""")
    assert [x.name for x in p.pods] == ["api-pod-0", "api-pod-1", "api-pod-2"]
    assert [x.containers[0].name for x in p.pods] == ["api-pod-0-c", "api-pod-1-c", "api-pod-2-c"]
    assert p.pods[0].restart == "always"  # Kubernetes' default


def test_secret_env_and_volume():
    v = base64.b64encode(b"s3cret").decode()
    p = _plan(f"""
kind: Secret
metadata: {{name: creds}}
data: {{password: {v}}}
stringData: {{user: admin}}
---
kind: Pod
metadata: {{name: p}}
spec:
  volumes: [{{name: s, secret: {{secretName: creds}}}}]
  containers:
  - name: c
    image: bb
    env: [{{name: PW, valueFrom: {{secretKeyRef: {{name: creds, key: password}}}}}}]
    envFrom: [{{secretRef: {{name: creds}}}}]
    volumeMounts: [{{name: s, mountPath: /run/creds}}]
""")
    env = dict(e.split("=", 1) for e in p.pods[0].containers[0].create["env"])
    assert env == {"PW": "s3cret", "password": "s3cret", "user": "admin"}
    assert p.volumes[0].name == "creds" and p.volumes[0].files == {"password": b"s3cret", "user": b"admin"}
    assert p.pods[0].containers[0].create["volumes"] == ["creds:/run/creds"]


def test_other_kinds_are_skipped_and_named():
    p = _plan("kind: Service\nmetadata: {name: s}\n---\nkind: Pod\nmetadata: {name: p}\n"
              "spec: {containers: [{name: c, image: bb}]}\n")
    assert p.skipped == ["Service"] and len(p.pods) == 1
    with pytest.raises(InvalidArgument, match="does not contain any supported kube kind"):
        _plan("kind: DaemonSet\nmetadata: {name: d}\n")


@pytest.mark.parametrize("doc,message", [
    ("spec: {containers: [{name: c, image: bb}, {name: c, image: bb}]}", "duplicate container name 'c'"),
    ("spec: {containers: [{name: c, image: bb, env: [{name: X, valueFrom: {configMapKeyRef: {name: m, key: k}}}]}]}",
     "cannot set env X: configmap m not found"),
    ("spec: {containers: [{name: c, image: bb, env: [{name: X, valueFrom: {secretKeyRef: {name: s, key: k}}}]}]}",
     'cannot set env X: no secret with name or id "s": no such secret'),  # podman's %q, not Python's repr
    ("spec: {containers: [{name: c, image: bb, volumeMounts: [{name: v, mountPath: /v}]}]}",
     "volume mount v specified for container but not configured in volumes"),
    ("spec: {volumes: [{name: v, nfs: {server: x}}], containers: [{name: c, image: bb}]}",
     "volume source nfs is not supported"),
    ("spec: {volumes: [{name: v, hostPath: {path: /x, type: Weird}}], containers: [{name: c, image: bb}]}",
     'invalid HostPath type "Weird"'),
    ("spec: {containers: [{name: c, image: bb, lifecycle: {postStart: {exec: {command: [x]}}}}]}",
     "lifecycle is not supported"),
    ("spec: {initContainers: [{name: i, image: bb, livenessProbe: {exec: {command: [x]}}}], containers: [{name: c, image: bb}]}",
     "cannot create an init container"),
    ("spec: {containers: [{name: c}]}", "container c has no image"),
    ("spec: {containers: [{name: c, image: bb, env: [{name: X, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}]}]}",
     "fieldPath spec.nodeName is either not valid or not supported"),
    ("spec: {volumes: [{name: v, hostPath: {path: /x}}], containers: [{name: c, image: bb, volumeMounts: [{name: v, mountPath: /v, subPath: ../etc}]}]}",
     "subPath '../etc' must be a relative path"),
])
def test_errors_before_anything_is_created(doc, message):
    with pytest.raises(InvalidArgument, match=message.replace("(", r"\(").replace("[", r"\[")):
        _plan("kind: Pod\nmetadata: {name: p}\n" + doc)


def test_init_containers_and_host_paths(tmp_path):
    d, f = tmp_path / "d", tmp_path / "f"
    p = _plan(f"""
kind: Pod
metadata: {{name: p}}
spec:
  volumes:
  - {{name: d, hostPath: {{path: {d}, type: DirectoryOrCreate}}}}
  - {{name: f, hostPath: {{path: {f}, type: FileOrCreate}}}}
  initContainers: [{{name: setup, image: bb, command: [touch, /d/ready]}}]
  containers:
  - name: c
    image: bb
    volumeMounts: [{{name: d, mountPath: /d, subPath: sub}}, {{name: f, mountPath: /f}}]
""")
    pod = p.pods[0]
    assert [c.name for c in pod.init_containers] == ["p-setup"] and pod.init_containers[0].init
    assert pod.init_containers[0].create["restart"] == "no"
    assert pod.containers[0].create["volumes"] == [f"{d}/sub:/d", f"{f}:/f"]
    play.check_host_paths(p.pods)
    assert d.is_dir() and f.is_file()


def test_host_path_types_are_checked(tmp_path):
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "s"))
    (tmp_path / "file").write_text("x")

    def check(path, kind):
        pod = play.PodPlan("p", {}, "p", [], [], [], [], [], [], False, "no", [], [], [(str(path), kind)])
        play.check_host_paths([pod])

    check(tmp_path / "s", "Socket")
    check(tmp_path, "Directory")
    check(tmp_path / "file", "File")
    with pytest.raises(PypodError, match="is not a socket"):
        check(tmp_path / "file", "Socket")
    with pytest.raises(PypodError, match="is not a directory"):
        check(tmp_path / "file", "Directory")
    with pytest.raises(PypodError, match="no such file"):
        check(tmp_path / "missing", "File")
    assert not os.path.exists(tmp_path / "missing")


@pytest.mark.parametrize("text,value", [("128Mi", 128 * 2 ** 20), ("0.5", 0.5), ("500m", 0.5), ("1e3", 1000.0),
                                        ("2G", 2e9), ("1Ki", 1024)])
def test_quantity(text, value):
    assert play.quantity(text) == value


def test_bad_quantity_and_yaml():
    with pytest.raises(InvalidArgument, match="quantities must match"):
        play.quantity("lots")
    with pytest.raises(InvalidArgument, match="cannot be read"):
        play.load_documents("kind: [unclosed")
    with pytest.raises(InvalidArgument, match="not a Kubernetes object"):
        play.load_documents("- a\n- b\n")


def test_generate_then_play_round_trip():
    """What `kube generate` writes, `kube play` reads back to the same command, env and ports."""
    from pypod.kube import dump
    from tests.unit.test_kube_mapping import facts
    from pypod.kube.generate import generate

    f = facts("web", config={"Env": ["PATH=/usr/sbin:/usr/bin", "container=podman", "TERM=xterm", "MODE=x"],
                             "WorkingDir": "/srv"},
              host={"PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}},
              entrypoint=["sh", "-c"], cmd=["echo hi"])
    text = dump.render(generate([f], [], now="2026-01-02T03:04:05Z").documents())
    p = _plan(text)
    c = p.pods[0].containers[0]
    assert p.pods[0].publish == ["8080:80/tcp"]
    assert "MODE=x" in c.create["env"] and c.create["workdir"] == "/srv"
    got = (c.create.get("entrypoint"), c.create["command"])
    assert got in ((None, ["sh", "-c", "echo hi"]), ('["sh", "-c"]', ["echo hi"]))


def test_teardown_needs_names_only():
    """`kube down` of a YAML that could not be played now (its ConfigMap missing) still finds
    what to take down: pods (a Deployment's replicas), claims, emptyDirs, ConfigMap volumes."""
    t = play.teardown(play.load_documents(POD.split("---")[0] + """
---
kind: Deployment
metadata: {name: api}
spec: {replicas: 2, template: {spec: {containers: [{name: c, image: bb, envFrom: [{configMapRef: {name: gone}}]}]}}}
---
kind: PersistentVolumeClaim
metadata: {name: claim}
"""))
    assert t.pods == ["web", "api-pod-0", "api-pod-1"]
    assert [(v.name, v.scratch) for v in t.volumes] == [("web-scratch", True), ("shopconf", False),
                                                       ("nosuch", False), ("claim", False)]


@pytest.mark.parametrize("kind,source,message", [
    ("configMapKeyRef", "m", "cannot set env X: key nokey not found in configmap m"),
    ("secretKeyRef", "s", "cannot set env X: secret s has not nokey key"),
])
def test_a_missing_key_of_a_configmap_or_secret_is_podmans_error(kind, source, message):
    """podman 4.3's envVarValue words; with optional: true the variable is left out instead."""
    def pod(*env):
        return ("kind: ConfigMap\nmetadata: {name: m}\ndata: {k: v}\n---\n"
                "kind: Secret\nmetadata: {name: s}\nstringData: {k: v}\n---\n"
                "kind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: bb\n"
                "    env:\n" + "".join(f"    - {e}\n" for e in env))

    ref = "{name: %s, valueFrom: {%s: {name: %s, key: %s%s}}}"
    with pytest.raises(InvalidArgument, match=f"^{message}$"):
        _plan(pod(ref % ("X", kind, source, "nokey", "")))
    p = _plan(pod(ref % ("X", kind, source, "nokey", ", optional: true"), ref % ("Y", kind, source, "k", "")))
    assert [e for e in p.pods[0].containers[0].create["env"] if e[:2] in ("X=", "Y=")] == ["Y=v"]
