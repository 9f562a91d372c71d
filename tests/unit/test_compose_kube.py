"""A compose project as Kubernetes YAML (pypod/compose/kube.py): valid for a cluster (the official
schemas, strict), read back by `kube play`'s planner to the same services, names kept reachable."""

import os

import kubernetes_validate
import pytest
import yaml

from pypod.compose.errors import ComposeError
from pypod.compose.kube import to_kube
from pypod.compose.project import ProjectOptions, load_project
from pypod.kube import dump, play

DATA = os.path.join(os.path.dirname(__file__), "..", "data", "compose")
K8S = "1.37.0"
PROJECTS = sorted(d for d in os.listdir(DATA) if os.path.isdir(os.path.join(DATA, d)))


def _load(name):
    return load_project(ProjectOptions(cwd=os.path.join(DATA, name), environ={}))


def _convertible(name):
    try:
        p = _load(name)
        return to_kube(p.name, p.model)
    except ComposeError:
        return None  # a project compose itself refuses, or one with no Kubernetes form (said by name)


@pytest.mark.parametrize("name", PROJECTS)
def test_every_corpus_project_is_valid_kubernetes(name):
    r = _convertible(name)
    if r is None:
        return
    for kind in ("pod", "deployment"):
        p = _load(name)
        docs = to_kube(p.name, p.model, kind=kind, replicas=2).documents
        text = dump.render(docs)
        assert "&id" not in text  # no YAML anchors
        for d in yaml.safe_load_all(text):
            kubernetes_validate.validate(d, K8S, strict=True)  # raises on an unknown field or type


def test_most_of_the_corpus_converts():
    assert sum(_convertible(n) is not None for n in PROJECTS) >= len(PROJECTS) - 8


def test_seed_project_services_find_each_other_by_name(tmp_path):
    (tmp_path / "compose.yaml").write_text("""
services:
  web:
    image: localhost/bb:latest
    command: ["sh", "-c", "wget -qO- http://db:5432/"]
    ports: ["8000:8000"]
    depends_on: [db]
    networks: {default: {aliases: [frontend]}}
  db:
    image: localhost/bb:latest
    entrypoint: ["httpd", "-f", "-p", "5432"]
    environment: {MODE: test, EMPTY: ""}
    volumes: ["dbdata:/var/lib/db", "./conf:/etc/db:ro"]
    tmpfs: ["/run/db"]
    user: "1000:1000"
    cap_drop: [ALL]
    restart: always
    healthcheck: {test: ["CMD-SHELL", "wget -q localhost:5432"], interval: 5s, retries: 2}
volumes:
  dbdata: {}
""")
    p = load_project(ProjectOptions(cwd=str(tmp_path), project_name="shop", environ={}))
    r = to_kube(p.name, p.model)
    (pvc, pod) = r.documents
    assert pvc["kind"] == "PersistentVolumeClaim" and pvc["metadata"]["name"] == "shopdbdata"
    spec = pod["spec"]
    assert [c["name"] for c in spec["containers"]] == ["db", "web"]  # depends_on first
    assert spec["hostAliases"] == [{"ip": "127.0.0.1", "hostnames": ["db", "web", "frontend"]}]
    assert spec["restartPolicy"] == "Always" and any("restart policies" in w for w in r.warnings)
    # played back: same commands, env, ports and mounts, and the names resolve to the pod's localhost
    plan = play.plan(play.load_documents(dump.render(r.documents)))
    assert [v.name for v in plan.volumes] == ["shopdbdata"]
    (pp,) = plan.pods
    assert pp.add_host == ["db:127.0.0.1", "web:127.0.0.1", "frontend:127.0.0.1"]
    assert pp.publish == ["8000:8000/tcp"]
    db, web = pp.containers
    assert db.create["entrypoint"] == '["httpd", "-f", "-p", "5432"]' and db.create["command"] == []
    assert web.create["command"] == ["sh", "-c", "wget -qO- http://db:5432/"] and "entrypoint" not in web.create
    assert sorted(db.create["env"]) == ["EMPTY=", "MODE=test"]
    assert db.create["volumes"][0] == "shopdbdata:/var/lib/db"
    assert db.create["volumes"][1] == f"{tmp_path}/conf:/etc/db:ro"
    assert db.create["tmpfs"] == ["/run/db"]  # tmpfs → an in-memory emptyDir → a tmpfs again
    assert db.create["user"] == "1000:1000" and db.create["cap_drop"] == ["ALL"]
    assert db.create["health_cmd"] == "/bin/sh -c wget -q localhost:5432 || exit 1"
    assert db.create["health_interval"] == "5s" and db.create["health_retries"] == 2


def test_what_has_no_kubernetes_form_is_said(tmp_path):
    (tmp_path / "compose.yaml").write_text("""
services:
  a: {image: bb, user: nobody, sysctls: {net.core.somaxconn: 1024}, deploy: {replicas: 3}}
  b: {build: ., ports: ["9000-9001:9000-9001"]}
""")
    p = load_project(ProjectOptions(cwd=str(tmp_path), environ={}))
    r = to_kube(p.name, p.model)
    b = [c for c in r.documents[-1]["spec"]["containers"] if c["name"] == "b"][0]
    assert [(x["hostPort"], x["containerPort"]) for x in b["ports"]] == [(9000, 9000), (9001, 9001)]
    text = "\n".join(r.warnings)
    assert "user 'nobody' is not numeric" in text and "sysctls not carried" in text
    assert "deploy.replicas 3" in text and "must be built" in text
