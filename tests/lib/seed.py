"""The seed's first compose file as a project directory, for the compose and kube tests:
web (`build: .`, busybox serving `built-web` on 5000) published on a host port, with `.:/code` and
a named volume and `links: - redis`; busybox serving PONG on 6379 stands in for redis (it says
`redis-ready` first)."""

from __future__ import annotations

import os
from pathlib import Path

from tests.lib.http import httpd


def write_seed_project(d: Path, base_image: str, host_port: int) -> None:
    """Dockerfile and compose.yaml in `d` (readable by the test user)."""
    (d / "Dockerfile").write_text(f"FROM {base_image}\nRUN mkdir -p /www && echo built-web > /www/index.html\n"
                                  'CMD ["httpd", "-f", "-p", "5000", "-h", "/www"]\n')
    (d / "compose.yaml").write_text(f"""
services:
  web:
    build: .
    ports:
      - "{host_port}:5000"
    volumes:
      - .:/code
      - logvolume01:/var/log
    links:
      - redis
  redis:
    image: {base_image}
    command: ["sh", "-c", "{httpd('PONG', 6379, '/r', ready='redis-ready')}"]
volumes:
  logvolume01: {{}}
""")
    for name in ("Dockerfile", "compose.yaml"):
        os.chmod(d / name, 0o644)
