"""The pure mapping of inspect data to Kubernetes objects (pypod/kube/generate.py) and its YAML."""

import random

import pytest

from pypod.errors import InvalidArgument
from pypod.kube import dump
from pypod.kube.generate import (ContainerFacts, command_and_args, cpu_quantity, generate, liveness_probe,
                                 memory_quantity, security_context)

NOW = "2026-01-02T03:04:05Z"
ALL_DEFAULT = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_NET_BIND_SERVICE",
               "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT"]  # pypod's default


def facts(name="web", *, config=None, host=None, mounts=(), entrypoint=(), cmd=("sh",), image=None,
          run_as=None, kinds=None, caps=None):
    cfg = {"Image": "localhost/bb:latest", "Env": ["PATH=/usr/sbin:/usr/bin", "container=podman", "TERM=xterm"],
           "WorkingDir": "/", "Hostname": "0123456789ab", "Tty": False, "Annotations": {}}
    cfg.update(config or {})
    hc = {"PortBindings": {}, "RestartPolicy": {"Name": "", "MaximumRetryCount": 0}, "Binds": []}
    hc.update(host or {})
    inspect = {"Id": "0123456789ab" + "c" * 52, "Name": name, "Config": cfg, "HostConfig": hc,
               "Mounts": list(mounts), "BoundingCaps": list(ALL_DEFAULT if caps is None else caps)}
    img = {"Env": ["PATH=/usr/sbin:/usr/bin"], "Cmd": ["sh"]}
    img.update(image or {})
    return ContainerFacts(inspect=inspect, entrypoint=list(entrypoint), cmd=list(cmd), image=img, run_as=run_as,
                          path_kinds=kinds or {})


def pod_of(*fs, **kw):
    g = generate(list(fs), [], now=NOW, **kw)
    return g, g.workloads[0]


def test_plain_container_is_podmans_pod():
    g, pod = pod_of(facts())
    assert pod["kind"] == "Pod" and pod["apiVersion"] == "v1"
    assert pod["metadata"]["name"] == "web-pod" and pod["metadata"]["labels"] == {"app": "web-pod"}
    assert pod["metadata"]["annotations"]["io.podman.annotations.privileged/web"] == "FALSE"
    c = pod["spec"]["containers"][0]
    # the image's own cmd and env, the engine's defaults and "/" are not written
    assert c == {"name": "web", "image": "localhost/bb:latest",
                 "securityContext": {"capabilities": {"drop": ["CAP_MKNOD", "CAP_NET_RAW", "CAP_AUDIT_WRITE"]}}}
    assert pod["spec"]["automountServiceAccountToken"] is False and "restartPolicy" not in pod["spec"]
    assert "hostname" not in pod["spec"]  # the default hostname is the short id


@pytest.mark.parametrize("ep, cmd, img, expected", [
    ([], ["sh"], {"Cmd": ["sh"]}, ([], [])),                                   # all the image's
    ([], ["httpd", "-f"], {"Cmd": ["sh"]}, (["httpd", "-f"], [])),             # podman: cmd as command
    (["/bin/sh"], ["-c", "echo hi"], {"Cmd": ["sh"]}, (["/bin/sh"], ["-c", "echo hi"])),
    (["/entry"], ["x"], {"Entrypoint": ["/entry"], "Cmd": ["y"]}, ([], ["x"])),  # same entrypoint: args only
    ([], ["x"], {"Entrypoint": ["/entry"], "Cmd": ["x"]}, (["x"], [])),        # --entrypoint "" must win
])
def test_command_and_args(ep, cmd, img, expected):
    assert command_and_args(facts(entrypoint=ep, cmd=cmd, image=img)) == expected


def test_env_ports_workdir_resources_restart():
    f = facts(config={"Env": ["PATH=/usr/sbin:/usr/bin", "container=podman", "FOO=bar", "EMPTY=", "Y=y"],
                      "WorkingDir": "/srv"},
              host={"PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}],
                                     "53/udp": [{"HostIp": "127.0.0.1", "HostPort": "5353"}],
                                     "7000/tcp": None},
                    "Memory": 256 * 1024 * 1024, "NanoCpus": 1_500_000_000,
                    "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}})
    _, pod = pod_of(f)
    c = pod["spec"]["containers"][0]
    assert c["env"] == [{"name": "FOO", "value": "bar"}, {"name": "EMPTY"}, {"name": "Y", "value": "y"}]
    assert c["workingDir"] == "/srv"
    assert c["ports"] == [{"containerPort": 80, "hostPort": 8080},
                          {"containerPort": 53, "hostPort": 5353, "hostIP": "127.0.0.1", "protocol": "UDP"}]
    assert c["resources"] == {"limits": {"memory": "256Mi", "cpu": "1500m"}}
    assert pod["spec"]["restartPolicy"] == "OnFailure"


def test_quantities_as_kubernetes_prints_them():
    assert memory_quantity(256 * 1024 * 1024) == "256Mi"
    assert memory_quantity(1 << 30) == "1Gi"
    assert memory_quantity(300_000_000) == "300000000"
    assert cpu_quantity(2_000_000_000) == "2" and cpu_quantity(500_000_000) == "500m"
    assert cpu_quantity(100_000) is None  # finer than 1m: no limit


def test_security_context():
    caps = [c for c in ALL_DEFAULT if c not in ("CAP_CHOWN", "CAP_KILL")] + ["CAP_NET_ADMIN"]
    sc = security_context(facts(caps=caps, run_as=(1000, 100),
                                host={"ReadonlyRootfs": True,
                                      "SecurityOpt": ["no-new-privileges", "label=disable"]}))
    assert sc == {"capabilities": {"add": ["CAP_NET_ADMIN"],
                                   "drop": ["CAP_CHOWN", "CAP_MKNOD", "CAP_NET_RAW", "CAP_KILL", "CAP_AUDIT_WRITE"]},
                  "allowPrivilegeEscalation": False, "seLinuxOptions": {"type": "spc_t"},
                  "readOnlyRootFilesystem": True, "runAsUser": 1000, "runAsGroup": 100}
    assert security_context(facts(host={"Privileged": True})) == {"privileged": True}


def test_liveness_probe_from_healthcheck():
    hc = {"Test": ["CMD-SHELL", "wget -q -O- localhost || exit 1"], "Interval": 10_000_000_000,
          "Timeout": 3_000_000_000, "StartPeriod": 5_000_000_000, "Retries": 4}
    assert liveness_probe(facts(config={"Healthcheck": hc})) == {
        "exec": {"command": ["/bin/sh", "-c", "wget -q -O- localhost || exit 1"]},
        "periodSeconds": 10, "timeoutSeconds": 3, "failureThreshold": 4, "initialDelaySeconds": 5}
    p = liveness_probe(facts(config={"Healthcheck": dict(hc, Test=["CMD", "true"], StartPeriod=0)}))
    assert p["exec"] == {"command": ["true"]} and "initialDelaySeconds" not in p
    assert liveness_probe(facts(config={"Healthcheck": {"Test": ["NONE"]}})) is None


def test_mounts_binds_first_then_claims_then_tmpfs():
    mounts = [{"Type": "volume", "Name": "my_data", "Destination": "/data", "RW": True},
              {"Type": "bind", "Source": "/srv/site", "Destination": "/site", "RW": False},
              {"Type": "bind", "Source": "/etc/app.conf", "Destination": "/app.conf", "RW": True}]
    f = facts(mounts=mounts, kinds={"/srv/site": "Directory", "/etc/app.conf": "File"},
              host={"Binds": ["/srv/site:/site:ro,Z", "my_data:/data"], "Tmpfs": {"/scratch": ""}})
    _, pod = pod_of(f)
    c = pod["spec"]["containers"][0]
    assert c["volumeMounts"] == [{"mountPath": "/site", "name": "srv-site-host-0", "readOnly": True},
                                 {"mountPath": "/app.conf", "name": "etc-app-conf-host-1"},
                                 {"mountPath": "/data", "name": "mydata-pvc"},
                                 {"mountPath": "/scratch", "name": "scratch-tmpfs"}]
    assert pod["spec"]["volumes"] == [
        {"name": "srv-site-host-0", "hostPath": {"path": "/srv/site", "type": "Directory"}},
        {"name": "etc-app-conf-host-1", "hostPath": {"path": "/etc/app.conf", "type": "File"}},
        {"name": "mydata-pvc", "persistentVolumeClaim": {"claimName": "mydata"}},
        {"name": "scratch-tmpfs", "emptyDir": {"medium": "Memory"}}]
    assert pod["metadata"]["annotations"]["bind-mount-options"] == "/srv/site:Z"


def test_several_containers_one_pod_named_after_the_first():
    _, pod = pod_of(facts("my_web.1"), facts("db"))
    assert [c["name"] for c in pod["spec"]["containers"]] == ["myweb-1", "db"]
    assert pod["metadata"]["name"] == "myweb-1-pod"
    assert "io.kubernetes.cri-o.TTY/db" in pod["metadata"]["annotations"]
    with pytest.raises(InvalidArgument):  # my_web and myweb would be one name in Kubernetes
        pod_of(facts("my_web"), facts("myweb"))


def test_invalid_annotation_keys_are_left_out_with_a_warning():
    g, pod = pod_of(facts(config={"Annotations": {"my.org/note": "x", "plain": "y" * 80}}))
    ann = pod["metadata"]["annotations"]
    assert "my.org/note/web" not in ann and ann["plain/web"] == "y" * 63
    assert any("my.org/note" in w for w in g.warnings) and any("Truncation" in w for w in g.warnings)


def test_service_and_deployment():
    f = facts(host={"PortBindings": {"53/tcp": [{"HostPort": "53"}], "53/udp": [{"HostPort": "53"}]}})
    g = generate([f], [], now=NOW, service=True, kind="deployment", replicas=3, rng=random.Random(1))
    svc, dep = g.services[0], g.workloads[0]
    assert svc["spec"]["type"] == "NodePort" and svc["spec"]["selector"] == {"app": "web-pod"}
    ports = svc["spec"]["ports"]
    assert [p["name"] for p in ports] == ["53", "53-udp"] and ports[1]["protocol"] == "UDP"
    assert all(30000 <= p["nodePort"] <= 32767 for p in ports) and ports[0]["nodePort"] != ports[1]["nodePort"]
    assert dep["kind"] == "Deployment" and dep["apiVersion"] == "apps/v1"
    assert dep["metadata"]["name"] == "web-pod-deployment" and dep["spec"]["replicas"] == 3
    assert dep["spec"]["selector"] == {"matchLabels": {"app": "web-pod"}}
    assert dep["spec"]["template"]["metadata"]["labels"] == {"app": "web-pod"}
    assert dep["spec"]["template"]["spec"]["containers"][0]["name"] == "web"
    assert [d["kind"] for d in g.documents()] == ["Service", "Deployment"]


def test_no_service_without_published_ports():
    g = generate([facts()], [], now=NOW, service=True)
    assert g.services == [] and g.warnings


@pytest.mark.parametrize("kw, message", [
    ({"kind": "job"}, "invalid generation type"),
    ({"replicas": 2}, "--replicas can only be set"),
    ({"replicas": 0, "kind": "deployment"}, "greater than or equal to 1"),
])
def test_bad_options(kw, message):
    with pytest.raises(InvalidArgument, match=message):
        generate([facts()], [], now=NOW, **kw)


def test_deployment_needs_restart_always():
    f = facts(host={"RestartPolicy": {"Name": "no"}})
    with pytest.raises(InvalidArgument, match="restartPolicy set to Always"):
        generate([f], [], now=NOW, kind="deployment")


def test_volume_alone_is_a_claim():
    g = generate([], [{"Name": "vol2", "Driver": "local", "Options": {"o": "nodev", "size": "1"},
                       "Labels": {"a": "b", "bad key": "x"}}], now=NOW)
    pvc = g.pvcs[0]
    assert pvc["kind"] == "PersistentVolumeClaim" and pvc["metadata"]["name"] == "vol2"
    assert pvc["metadata"]["annotations"] == {"volume.podman.io/driver": "local",
                                              "volume.podman.io/mount-options": "nodev"}
    assert pvc["metadata"]["labels"] == {"a": "b"} and g.warnings
    assert pvc["spec"] == {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}


def test_yaml_in_podmans_style():
    _, pod = pod_of(facts(config={"Env": ["A=80", "B=FALSE", "C=y", "D=plain", "E=2026-01-01"]}))
    text = dump.render([pod])
    assert text.startswith("# Save the output of this file and use kubectl create -f to import\n"
                           "# it into Kubernetes.\n#\n# Created with pypod-")
    assert "\n---\n" not in text
    for line in ('value: "80"', 'value: "FALSE"', 'value: "y"', "value: plain", 'value: "2026-01-01"',
                 f'creationTimestamp: "{NOW}"', "  containers:\n  - env:\n"):
        assert line in text, line
    assert dump.render([pod, pod]).count("\n---\n") == 1


def test_two_sources_with_one_kubernetes_name_stay_apart():
    a = facts("a", mounts=[{"Type": "bind", "Source": "/x_y", "Destination": "/m", "RW": True}])
    b = facts("b", mounts=[{"Type": "bind", "Source": "/xy", "Destination": "/m", "RW": True}])
    same = facts("c", mounts=[{"Type": "bind", "Source": "/x_y", "Destination": "/n", "RW": True}])
    _, pod = pod_of(a, b, same)
    vols = {v["name"]: v["hostPath"]["path"] for v in pod["spec"]["volumes"]}
    assert len(vols) == 2 and sorted(vols.values()) == ["/x_y", "/xy"]
    for c in pod["spec"]["containers"]:  # each mount names the volume of its own source
        src = {"a": "/x_y", "b": "/xy", "c": "/x_y"}[c["name"]]
        assert vols[c["volumeMounts"][0]["name"]] == src


def test_devices_are_refused_as_podman_does():
    from pypod.errors import PypodError

    with pytest.raises(PypodError, match="linux devices: not implemented"):
        pod_of(facts(host={"Devices": [{"PathOnHost": "/dev/fuse", "PathInContainer": "/dev/fuse"}]}))
    pod_of(facts(host={"Privileged": True, "Devices": [{"PathOnHost": "/dev/fuse"}]}))
