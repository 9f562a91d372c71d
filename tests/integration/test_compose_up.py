"""Issue 15: `pypod compose` runs projects — up/ps/logs/exec/down, reconciliation by config hash,
depends_on conditions, --scale, attached up with --abort-on-container-exit/--exit-code-from.
As the test user, real kernel, the project network's name server."""

from __future__ import annotations

import json
import re

import pytest

from tests.lib.http import get, httpd
from tests.lib.registry import free_port
from tests.lib.seed import write_seed_project
from tests.lib.user import pypod

pytestmark = pytest.mark.integration

# a process that ends at once on SIGTERM (a shell as pid 1 ignores it: `down` would wait 10 s)
IDLE = "trap 'exit 0' TERM; sleep 1000 & wait"


def compose(d, *args, **kw):
    return pypod("compose", *args, cwd=str(d), **kw)


def ok(d, *args, **kw):
    r = compose(d, *args, **kw)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


def project_dir(shared_tmp, name: str):
    """The project's directory (its name is the project's): the test user may create files in it."""
    d = shared_tmp / name
    d.mkdir()
    d.chmod(0o777)
    return d


def write(d, text: str, image: str) -> None:
    (d / "compose.yaml").write_text(text.replace("IMAGE", image))


def ids(d) -> dict:
    rows = [json.loads(line) for line in ok(d, "ps", "-a", "--format", "json").stdout.splitlines()]
    return {r["Name"]: r["ID"] for r in rows}


TWO = """
services:
  web:
    image: IMAGE
    command: ["sh", "-c", "echo web-up; IDLE_"]
    environment:
      GREETING: hello
    depends_on: [db]
  db:
    image: IMAGE
    command: ["sh", "-c", "mkdir -p /www && echo db-answers > /www/index.html && echo db-up && exec httpd -f -p 8080 -h /www"]
    volumes:
      - data:/data
volumes:
  data: {}
"""


def test_two_services_lifecycle(shared_tmp, busybox):
    d = project_dir(shared_tmp, "shop")
    write(d, TWO.replace("IDLE_", IDLE), busybox)
    r = ok(d, "up", "-d")
    assert "Container shop-db-1  Started" in r.stderr and "Container shop-web-1  Started" in r.stderr
    # Compose v2's names: containers, network, volume
    assert set(ids(d)) == {"shop-web-1", "shop-db-1"}
    assert "shop_default" in pypod("network", "ls", "--format", "{{.Name}}").stdout.split()
    assert "shop_data" in pypod("volume", "ls", "--format", "{{.Name}}").stdout.split()
    labels = json.loads(pypod("inspect", "shop-web-1").stdout)[0]["Config"]["Labels"]
    assert labels["com.docker.compose.project"] == "shop" and labels["com.docker.compose.service"] == "web"
    assert labels["com.docker.compose.container-number"] == "1" and labels["com.docker.compose.oneoff"] == "False"
    # web reaches db by its service name on the project network
    r = ok(d, "exec", "-T", "web", "sh", "-c",
           "for i in $(seq 30); do wget -q -O- http://db:8080/ && exit 0; sleep 0.2; done; exit 1")
    assert r.stdout.strip() == "db-answers"
    assert ok(d, "exec", "-T", "-e", "X=1", "web", "sh", "-c", "echo $GREETING$X").stdout == "hello1\n"
    assert compose(d, "exec", "-T", "web", "sh", "-c", "exit 7").returncode == 7
    ps = ok(d, "ps").stdout.splitlines()
    assert ps[0].split() == ["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"]
    assert sorted(line.split()[0] for line in ps[1:]) == ["shop-db-1", "shop-web-1"]
    assert ok(d, "ps", "--services").stdout.split() == ["db", "web"]
    logs = ok(d, "logs").stdout
    assert "web-1  | web-up" in logs and "db-1   | db-up" in logs
    assert ok(d, "logs", "--no-log-prefix", "web").stdout == "web-up\n"

    # up again, nothing changed: nothing recreated
    before = ids(d)
    r = ok(d, "up", "-d")
    assert "Recreate" not in r.stderr and ids(d) == before
    # one service's environment changed: exactly that one is recreated
    write(d, TWO.replace("IDLE_", IDLE).replace("GREETING: hello", "GREETING: bonjour"), busybox)
    r = ok(d, "up", "-d")
    after = ids(d)
    assert after["shop-db-1"] == before["shop-db-1"]
    assert after["shop-web-1"] != before["shop-web-1"]
    assert ok(d, "exec", "-T", "web", "sh", "-c", "echo $GREETING").stdout == "bonjour\n"

    # down -v leaves no container, network or volume behind
    ok(d, "down", "-v", "-t", "2")
    assert pypod("ps", "-aq").stdout == ""
    assert "shop_default" not in pypod("network", "ls", "--format", "{{.Name}}").stdout.split()
    assert "shop_data" not in pypod("volume", "ls", "--format", "{{.Name}}").stdout.split()


def test_orphans_reported_and_removed(shared_tmp, busybox):
    d = project_dir(shared_tmp, "orph")
    both = f"""
services:
  a:
    image: IMAGE
    command: ["sh", "-c", "{IDLE}"]
  b:
    image: IMAGE
    command: ["sh", "-c", "{IDLE}"]
"""
    write(d, both, busybox)
    ok(d, "up", "-d")
    write(d, both.split("  b:")[0], busybox)
    r = ok(d, "up", "-d")
    assert "Found orphan containers ([orph-b-1])" in r.stderr
    assert set(ids(d)) == {"orph-a-1", "orph-b-1"}
    ok(d, "up", "-d", "--remove-orphans")
    assert set(ids(d)) == {"orph-a-1"}
    ok(d, "down", "-t", "1")


HEALTHY = """
services:
  web:
    image: IMAGE
    command: ["sh", "-c", "wget -q -O- http://db:8080/ || echo FAILED; IDLE_"]
    depends_on:
      db:
        condition: service_healthy
  db:
    image: IMAGE
    command: ["sh", "-c", "sleep 1.5; mkdir -p /www; echo db-ready > /www/index.html; exec httpd -f -p 8080 -h /www"]
    healthcheck:
      test: ["CMD-SHELL", "wget -q -O- http://localhost:8080/"]
      interval: 300ms
      retries: 20
"""


def test_depends_on_service_healthy_waits(shared_tmp, busybox):
    d = project_dir(shared_tmp, "health")
    write(d, HEALTHY.replace("IDLE_", IDLE), busybox)
    r = ok(d, "up", "-d")
    assert "Container health-db-1  Healthy" in r.stderr
    assert r.stderr.index("health-db-1  Healthy") < r.stderr.index("health-web-1  Started")
    # web's first request found db answering: it started only once db was healthy
    for _ in range(50):
        out = ok(d, "logs", "--no-log-prefix", "web").stdout
        if out:
            break
    assert out == "db-ready\n"
    ok(d, "down", "-t", "1")


MIGRATE = """
services:
  web:
    image: IMAGE
    command: ["sh", "-c", "cat /data/m; IDLE_"]
    volumes: [data:/data]
    depends_on:
      migrate:
        condition: service_completed_successfully
  migrate:
    image: IMAGE
    command: ["sh", "-c", "sleep 1; echo migrated > /data/m; exit CODE"]
    volumes: [data:/data]
volumes:
  data: {}
"""


def test_depends_on_service_completed_successfully(shared_tmp, busybox):
    d = project_dir(shared_tmp, "mig")
    write(d, MIGRATE.replace("IDLE_", IDLE).replace("CODE", "0"), busybox)
    ok(d, "up", "-d")
    out = ""
    for _ in range(50):
        out = ok(d, "logs", "--no-log-prefix", "web").stdout
        if out:
            break
    assert out == "migrated\n"  # web started after migrate had written and exited 0
    ok(d, "down", "-v", "-t", "1")
    # a failing migration fails the `up` and web never starts
    write(d, MIGRATE.replace("IDLE_", IDLE).replace("CODE", "3"), busybox)
    r = compose(d, "up", "-d")
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1] == "Error: service \"migrate\" didn't complete successfully: exit 3"
    state = pypod("inspect", "--format", "{{.State.Status}}", "mig-web-1").stdout.strip()
    assert state == "created"
    ok(d, "down", "-v", "-t", "1")


def test_scale_replicas_answer_under_the_service_name(shared_tmp, busybox):
    d = project_dir(shared_tmp, "scl")
    write(d, f"""
services:
  web:
    image: IMAGE
    command: ["sh", "-c", "{IDLE}"]
  client:
    image: IMAGE
    command: ["sh", "-c", "{IDLE}"]
""", busybox)
    ok(d, "up", "-d", "--scale", "web=3")
    assert set(ids(d)) == {"scl-web-1", "scl-web-2", "scl-web-3", "scl-client-1"}
    r = ok(d, "exec", "-T", "client", "nslookup", "web")
    answer = r.stdout.split("Name:", 1)[1]
    assert len(set(re.findall(r"Address:\s*(\d+\.\d+\.\d+\.\d+)", answer))) == 3, r.stdout
    assert ok(d, "exec", "-T", "--index", "2", "web", "hostname").returncode == 0
    # scaling down removes the highest numbers
    ok(d, "up", "-d", "--scale", "web=1")
    assert set(ids(d)) == {"scl-web-1", "scl-client-1"}
    ok(d, "down", "-t", "1")


def test_attached_up_prefixes_and_exit_code_from(shared_tmp, busybox):
    d = project_dir(shared_tmp, "att")
    write(d, f"""
services:
  job:
    image: IMAGE
    command: ["sh", "-c", "sleep 0.5; echo job-done; exit 3"]
  server:
    image: IMAGE
    command: ["sh", "-c", "echo server-up; {IDLE}"]
""", busybox)
    r = compose(d, "up", "--exit-code-from", "job", timeout=60)
    assert r.returncode == 3, (r.stdout, r.stderr)
    assert "job-1     | job-done" in r.stdout and "server-1  | server-up" in r.stdout
    assert "job-1 exited with code 3" in r.stdout
    assert "\x1b[" not in r.stdout  # plain when piped
    # the others were stopped when job ended
    assert pypod("inspect", "--format", "{{.State.Status}}", "att-server-1").stdout.strip() == "exited"
    r = compose(d, "up", "--abort-on-container-exit", timeout=60)
    assert r.returncode == 3 and "Aborting on container exit..." in r.stderr
    ok(d, "down", "-t", "1")


def test_attached_up_ends_when_all_have_stopped(shared_tmp, busybox):
    d = project_dir(shared_tmp, "all")
    write(d, """
services:
  one:
    image: IMAGE
    command: ["echo", "from-one"]
  two:
    image: IMAGE
    command: ["sh", "-c", "sleep 0.3; echo from-two; exit 4"]
""", busybox)
    r = compose(d, "up", timeout=60)
    assert r.returncode == 0, r.stderr
    assert "one-1  | from-one" in r.stdout and "two-1  | from-two" in r.stdout
    assert "two-1 exited with code 4" in r.stdout and "one-1 exited with code 0" in r.stdout
    ok(d, "down")


def test_run_and_lifecycle_verbs(shared_tmp, busybox):
    d = project_dir(shared_tmp, "verbs")
    write(d, f"""
services:
  app:
    image: IMAGE
    command: ["sh", "-c", "{httpd('app')}"]
    ports: ["80"]
    healthcheck:
      test: ["CMD-SHELL", "wget -q -O- http://localhost/"]
      interval: 300ms
  tool:
    image: IMAGE
    command: ["sh", "-c", "{IDLE}"]
    environment:
      MODE: normal
""", busybox)
    # --wait returns once the health check passes
    ok(d, "up", "-d", "--wait")
    rows = {json.loads(x)["Service"]: json.loads(x) for x in ok(d, "ps", "--format", "json").stdout.splitlines()}
    assert rows["app"]["Health"] == "healthy"
    # the published port answers from the host at the address `port` names
    host_port = ok(d, "port", "app", "80").stdout.strip()
    assert re.fullmatch(r"0\.0\.0\.0:\d+", host_port)
    # a one-off container: the service's settings, its own command and env, removed with --rm
    r = compose(d, "run", "--rm", "-T", "-e", "EXTRA=1", "tool", "sh", "-c", "echo $MODE$EXTRA; exit 4")
    assert r.returncode == 4 and r.stdout == "normal1\n"
    assert not any("run" in n for n in ids(d))
    ok(d, "stop", "-t", "1", "tool")
    assert ok(d, "ps", "--services").stdout.split() == ["app"]
    assert ok(d, "ps", "-a", "--services").stdout.split() == ["app", "tool"]
    ok(d, "start", "tool")
    before = ids(d)
    ok(d, "restart", "-t", "1", "tool")
    assert ids(d) == before and ok(d, "ps", "-q", "tool").stdout.strip() == before["verbs-tool-1"]
    ok(d, "kill", "tool")
    assert ok(d, "ps", "--services").stdout.split() == ["app"]
    ok(d, "rm", "-f", "tool")
    assert set(ids(d)) == {"verbs-app-1"}
    assert compose(d, "exec", "-T", "tool", "true").returncode == 1  # not running: Compose's exit 1
    ok(d, "down", "-t", "1")


def test_seed_project_builds_publishes_and_links(shared_tmp, busybox):
    """The seed's first compose file: `build: .`, a published port, `.:/code` and a named volume,
    `links: - redis` (an image built offline stands in for redis)."""
    d = project_dir(shared_tmp, "seed")
    port = free_port()
    write_seed_project(d, busybox, port)
    r = ok(d, "up", "-d", timeout=300)
    assert "Image seed-web  Built" in r.stderr
    assert get(f"http://127.0.0.1:{port}/") == "built-web\n"  # from the host
    r = ok(d, "exec", "-T", "web", "sh", "-c",
           "ls /code; for i in $(seq 30); do wget -q -O- http://redis:6379/ && exit 0; sleep 0.2; done; exit 1")
    assert "Dockerfile" in r.stdout and r.stdout.endswith("PONG\n")
    ps = ok(d, "ps").stdout.splitlines()
    rows = {line.split()[0]: line for line in ps[1:]}
    assert set(rows) == {"seed-web-1", "seed-redis-1"}
    assert f"0.0.0.0:{port}->5000/tcp" in rows["seed-web-1"] and "Up" in rows["seed-web-1"]
    assert "redis-1  | redis-ready" in ok(d, "logs", "redis").stdout
    # the built image is kept and reused: a second up builds nothing and recreates nothing
    before = ids(d)
    r = ok(d, "up", "-d")
    assert "Built" not in r.stderr and ids(d) == before
    ok(d, "down", "-v", "--rmi", "local", "-t", "0")
    assert pypod("ps", "-aq").stdout == ""
    assert "seed_logvolume01" not in pypod("volume", "ls", "--format", "{{.Name}}").stdout.split()
    assert "seed_default" not in pypod("network", "ls", "--format", "{{.Name}}").stdout.split()
    assert pypod("image", "exists", "seed-web").returncode == 1


def test_failed_pull_fails_up_with_compose_exit_code_and_creates_nothing(shared_tmp, clean_storage):
    d = project_dir(shared_tmp, "bad")
    (d / "compose.yaml").write_text("services:\n  a:\n    image: localhost:1/nope\n")
    r = compose(d, "up", "-d")
    assert r.returncode == 1  # Compose's code for any failure (podman's pull error would be 125)
    assert r.stderr.splitlines()[-1].startswith("Error: ") and "localhost:1" in r.stderr
    assert "bad_default" not in pypod("network", "ls", "--format", "{{.Name}}").stdout.split()
    r = compose(d, "up", "-d", "nosuch")
    assert r.returncode == 1 and r.stderr.strip() == "Error: no such service: nosuch"


def test_recreated_dependency_restarts_dependents_with_restart_true(shared_tmp, busybox):
    d = project_dir(shared_tmp, "dep")
    text = f"""
services:
  db:
    image: IMAGE
    command: ["sh", "-c", "{IDLE}"]
    environment: {{VERSION: "1"}}
  api:
    image: IMAGE
    command: ["sh", "-c", "{IDLE}"]
    depends_on:
      db: {{condition: service_started, restart: true}}
  cron:
    image: IMAGE
    command: ["sh", "-c", "{IDLE}"]
    depends_on: [db]
"""
    write(d, text, busybox)
    ok(d, "up", "-d")

    def started(name):
        return pypod("inspect", "--format", "{{.State.StartedAt}}", name).stdout.strip()

    before = ids(d)
    t_api, t_cron = started("dep-api-1"), started("dep-cron-1")
    write(d, text.replace('VERSION: "1"', 'VERSION: "2"'), busybox)
    r = ok(d, "up", "-d")
    after = ids(d)
    assert after["dep-db-1"] != before["dep-db-1"]
    # api (restart: true) was stopped before db was recreated and started again: same container
    assert after["dep-api-1"] == before["dep-api-1"] and started("dep-api-1") != t_api
    assert r.stderr.index("dep-api-1  Stopped") < r.stderr.index("dep-db-1  Recreated")
    # cron (short syntax: no restart) was left alone
    assert after["dep-cron-1"] == before["dep-cron-1"] and started("dep-cron-1") == t_cron
    ok(d, "down", "-t", "1")


def test_seed_web_db_publishes_both_ports_and_down_v_leaves_nothing(shared_tmp, busybox):
    """The seed's second compose file: web (`build: .`) and db with `ports: "8001:5432"` (an image
    built offline stands in for postgres; free host ports stand in for 8000/8001, which other
    projects on this machine may hold)."""
    d = project_dir(shared_tmp, "seeddb")
    (d / "Dockerfile").write_text(f"FROM {busybox}\nRUN mkdir -p /www && echo web-page > /www/index.html\n"
                                  "CMD [\"httpd\", \"-f\", \"-p\", \"8000\", \"-h\", \"/www\"]\n")
    web_port, db_port = free_port(), free_port()
    write(d, f"""
services:
  web:
    build: .
    ports:
      - "{web_port}:8000"
  db:
    image: IMAGE
    command: ["sh", "-c", "{httpd('db-5432', 5432, '/pg', ready='db-listening')}"]
    ports:
      - "{db_port}:5432"
""", busybox)
    r = ok(d, "up", "-d", timeout=300)
    assert "Image seeddb-web  Built" in r.stderr and "Container seeddb-db-1  Started" in r.stderr
    # both published ports answer from the host
    assert get(f"http://127.0.0.1:{web_port}/") == "web-page\n"
    assert get(f"http://127.0.0.1:{db_port}/") == "db-5432\n"
    # web reaches db by its service name, on the container port
    r = ok(d, "exec", "-T", "web", "sh", "-c",
           "for i in $(seq 30); do wget -q -O- http://db:5432/ && exit 0; sleep 0.2; done; exit 1")
    assert r.stdout == "db-5432\n"
    ps = {line.split()[0]: line for line in ok(d, "ps").stdout.splitlines()[1:]}
    assert set(ps) == {"seeddb-web-1", "seeddb-db-1"}
    assert f"0.0.0.0:{db_port}->5432/tcp" in ps["seeddb-db-1"]
    assert ok(d, "port", "db", "5432").stdout.strip() == f"0.0.0.0:{db_port}"
    assert "db-1   | db-listening" in ok(d, "logs").stdout  # padded to web-1
    r = ok(d, "down", "-v", "--rmi", "local", "-t", "1")
    assert "Network seeddb_default  Removed" in r.stderr
    assert pypod("ps", "-aq").stdout == ""
    assert "seeddb_default" not in pypod("network", "ls", "--format", "{{.Name}}").stdout.split()
    assert pypod("volume", "ls", "-q").stdout == ""  # no anonymous volume left either
    assert pypod("image", "exists", "seeddb-web").returncode == 1
