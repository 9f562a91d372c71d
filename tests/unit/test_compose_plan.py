"""compose/plan.py: the model → Compose v2's names, labels, config hash, start order and the
engine's create options (pure)."""

from __future__ import annotations

import pytest

from pypod.compose import plan
from pypod.compose.errors import ComposeError
from pypod.compose.project import Project


def _project(services: dict, **top) -> Project:
    model = {"name": "p", "services": services, **top}
    return Project("p", "/srv/p", ["/srv/p/compose.yaml"], model, [])


def test_start_order_puts_dependencies_first():
    services = {"web": {"depends_on": {"db": {"condition": "service_healthy"}, "migrate": {}}},
                "migrate": {"depends_on": {"db": {}}}, "db": {}, "cache": {}}
    order = plan.start_order(services)
    assert order.index("db") < order.index("migrate") < order.index("web")
    assert sorted(order) == ["cache", "db", "migrate", "web"]


def test_network_mode_service_is_a_dependency():
    services = {"app": {"network_mode": "service:vpn"}, "vpn": {}}
    assert plan.start_order(services) == ["vpn", "app"]


def test_cycle_is_refused():
    services = {"a": {"depends_on": {"b": {}}}, "b": {"depends_on": {"a": {}}}}
    with pytest.raises(ComposeError, match="dependency cycle detected: a -> b -> a"):
        plan.start_order(services)


def test_config_hash_ignores_what_does_not_change_the_container():
    base = {"image": "busybox", "environment": {"A": "1"}}
    h = plan.config_hash(base)
    assert plan.config_hash({**base, "depends_on": {"db": {}}, "scale": 3, "build": {"context": "."}}) == h
    assert plan.config_hash({**base, "environment": {"A": "2"}}) != h
    assert len(h) == 64


def test_labels_and_names_as_compose_v2():
    p = _project({"web": {"image": "busybox", "depends_on": {"db": {"condition": "service_healthy", "restart": True}}},
                  "db": {"image": "busybox"}})
    kw, _ = plan.create_kwargs(p, "web", 2, image_id="abc")
    assert kw["name"] == "p-web-2"
    labels = dict(x.split("=", 1) for x in kw["labels"])
    assert labels["com.docker.compose.project"] == "p"
    assert labels["com.docker.compose.service"] == "web"
    assert labels["com.docker.compose.container-number"] == "2"
    assert labels["com.docker.compose.oneoff"] == "False"
    assert labels["com.docker.compose.project.working_dir"] == "/srv/p"
    assert labels["com.docker.compose.project.config_files"] == "/srv/p/compose.yaml"
    assert labels["com.docker.compose.depends_on"] == "db:service_healthy:true"
    assert labels["com.docker.compose.image"] == "sha256:abc"
    assert labels["com.docker.compose.config-hash"] == plan.config_hash(p.model["services"]["web"])


def test_service_joins_project_network_under_its_name_and_aliases():
    p = _project({"db": {"image": "pg", "networks": {"back": {"aliases": ["database"], "ipv4_address": "10.5.0.9"},
                                                     "default": None}}},
                 networks={"back": {"name": "p_back"}, "default": {"name": "p_default"}})
    kw, _ = plan.create_kwargs(p, "db", 1)
    assert kw["network"] == ["p_back:alias=db,alias=database,ip=10.5.0.9", "p_default:alias=db"]


def test_create_options_from_the_model():
    svc = {"image": "busybox", "command": ["sh", "-c", "echo hi"], "entrypoint": ["/bin/env"],
           "environment": {"A": "1", "UNSET": None}, "ports": [{"target": 80, "published": "8080", "protocol": "tcp"},
                                                              {"target": 53, "protocol": "udp", "host_ip": "127.0.0.1",
                                                               "published": "5353"}],
           "volumes": [{"type": "volume", "source": "data", "target": "/data"},
                       {"type": "bind", "source": "/srv/p/src", "target": "/src", "read_only": True,
                        "bind": {"create_host_path": True}},
                       {"type": "volume", "target": "/anon"}, {"type": "tmpfs", "target": "/t", "tmpfs": {"size": "1024"}}],
           "healthcheck": {"test": ["CMD-SHELL", "true"], "interval": "500ms", "retries": 3},
           "stop_grace_period": "1m30s", "extra_hosts": ["h=10.0.0.1"], "ulimits": {"nofile": {"soft": 1, "hard": 2}},
           "sysctls": {"net.core.somaxconn": "1024"}, "restart": "always", "network_mode": "host"}
    p = _project({"s": svc}, volumes={"data": {"name": "p_data"}})
    kw, dirs = plan.create_kwargs(p, "s", 1)
    assert kw["command"] == ["sh", "-c", "echo hi"] and kw["entrypoint"] == '["/bin/env"]'
    assert kw["env"] == ["A=1"]
    assert kw["publish"] == ["8080:80/tcp", "127.0.0.1:5353:53/udp"]
    assert kw["volumes"] == ["p_data:/data", "/srv/p/src:/src:ro", "/anon"]
    assert kw["tmpfs"] == ["/t:size=1024"]
    assert dirs == ["/srv/p/src"]
    assert kw["health_cmd"] == "true" and kw["health_interval"] == "500ms" and kw["health_retries"] == 3
    assert kw["stop_timeout"] == 90 and kw["add_host"] == ["h:10.0.0.1"] and kw["ulimit"] == ["nofile=1:2"]
    assert kw["sysctl"] == ["net.core.somaxconn=1024"] and kw["restart"] == "always"
    assert kw["network"] == "host"


def test_replicas():
    assert plan.replicas({}) == 1
    assert plan.replicas({"deploy": {"replicas": 3}}) == 3
    assert plan.replicas({"scale": 2}, {"s": 5}, "s") == 5


def test_stop_levels_dependents_first_orphans_before_all():
    from pypod.compose.containers import stop_levels

    class Rec:
        def __init__(self, service, n=1):
            self.labels = {plan.SERVICE: service, plan.NUMBER: str(n)}
            self.name = f"p-{service}-{n}"

    class View:
        def __init__(self, service, n=1):
            self.record = Rec(service, n)

    model = {"services": {"web": {"depends_on": {"api": {}}}, "api": {"depends_on": {"db": {}}},
                          "worker": {"depends_on": {"db": {}}}, "db": {}}}
    views = [View(s) for s in ("db", "web", "api", "worker", "gone")] + [View("web", 2)]
    levels = [[v.record.name for v in level] for level in stop_levels(model, views)]
    assert levels == [["p-gone-1"], ["p-web-1", "p-web-2"], ["p-api-1", "p-worker-1"], ["p-db-1"]]


def test_config_hash_is_docker_composes():
    """The hashes Docker Compose 2.40.3 (on podman's socket) put on the containers of
    tests/data/compose-hash/compose.yaml, loaded in /tmp/h4c/hash; services.json is that project's
    model as `compose config --format json` prints it (keys sorted: the order must not matter)."""
    import json
    import os

    path = os.path.join(os.path.dirname(__file__), "..", "data", "compose-hash", "services.json")
    with open(path) as f:
        services = json.load(f)
    assert plan.config_hash(services["db"]) == "d71c7b2efe7b6378eb90eeea2cbb47e6e53ee6a7bf4fd811a5e147c15267625d"
    assert plan.config_hash(services["web"]) == "b2c2744cba80b813d22deb46ec87a3a71a0f3acded486dd95ff780f25740893e"
    simple = {"command": ["sh", "-c", "echo db-start; trap 'exit 0' TERM; sleep 1000 & wait"],
              "entrypoint": None, "image": "localhost/bb", "networks": {"default": None}}
    assert plan.config_hash(simple) == "c35be85096506e0fac471450cd1260c64566b6fc07ea66810a27746b3e02516c"


def test_network_and_volume_hashes_are_docker_composes():
    from pypod.compose import hashing

    # the labels Docker Compose 2.40.3 put on hash_back and hash_data (same project as above)
    assert hashing.network_hash({"name": "hash_back", "ipam": {}}) == \
        "bb5855a54feda1960e8efa5fcd88ca1566d519d887a2db34b7295e5a1cc79d5c"
    assert hashing.volume_hash({"name": "hash_data"}) == \
        "7ad6b7669e0dbe2e4a73f3be05a5e3adaac466d0ba281bf368144654a2a4814d"
