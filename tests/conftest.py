"""pytest fixtures for the pypod test environment: see tests/lib/__init__.py for the list."""

from __future__ import annotations

import dataclasses
import http.server
import os
import sys

import pytest

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

from tests.lib import images, user  # noqa: E402
from tests.lib.faultproxy import FaultProxy  # noqa: E402
from tests.lib.registry import RUNNING_HOSTS, RegistryServer  # noqa: E402
from tests.lib.tokenserver import TokenServer  # noqa: E402

IS_ROOT = os.geteuid() == 0


def pytest_collection_modifyitems(config, items):
    # pytest-xdist (--dist loadgroup): a file's tests stay on one worker (module fixtures, order);
    # files that also run pypod as root share root's storage: they get one group, one worker
    for item in items:
        if not item.get_closest_marker("xdist_group"):
            group = "root-storage" if item.get_closest_marker("root_storage") else item.nodeid.split("::")[0]
            item.add_marker(pytest.mark.xdist_group(group))
    if IS_ROOT:
        return
    skip = pytest.mark.skip(reason="integration tests need root: run scripts/test")
    for item in items:
        if item.get_closest_marker("integration"):
            item.add_marker(skip)


def _say(request, msg: str) -> None:
    """Progress on the terminal even while pytest captures output (seeding can take minutes)."""
    capman = request.config.pluginmanager.getplugin("capturemanager")
    if capman is not None:
        with capman.global_and_fixture_disabled():
            print(msg, file=sys.stderr, flush=True)
    else:
        print(msg, file=sys.stderr, flush=True)


def _require_root():
    if not IS_ROOT:
        pytest.skip("needs root (scripts/test runs pytest as root)")


# -- the test user ------------------------------------------------------------------------------

_state: dict = {"open_host": None}


def _refresh_registries_conf() -> None:
    """Rewrite the test user's registries.conf for every server running now."""
    if not _state["open_host"]:
        return
    try:
        info = user.user_info()
    except KeyError:
        return
    user.write_registries_conf([_state["open_host"]], list(RUNNING_HOSTS), info)


@pytest.fixture(scope="session")
def test_user():
    _require_root()
    info = user.ensure_user()
    if not os.access(user.PYPOD, os.X_OK):
        pytest.fail(f"{user.PYPOD} is missing: run scripts/test (it builds the test venv)")
    return info


# -- registries ---------------------------------------------------------------------------------


@dataclasses.dataclass
class SeededRegistry:
    server: RegistryServer
    refs: dict
    digests: dict

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.port

    def __getitem__(self, key: str) -> str:
        return self.refs[key]


@pytest.fixture(scope="session")
def registry(request, tmp_path_factory, test_user):
    work = tmp_path_factory.mktemp("registry-open")
    os.makedirs(images.OPEN_REGISTRY_DIR, exist_ok=True)
    server = RegistryServer("open", str(work), data_dir=images.OPEN_REGISTRY_DIR).start()
    try:
        _say(request, f"\nseed: open registry at {server.url} (data {images.OPEN_REGISTRY_DIR})")
        with images.file_lock(os.path.join(os.path.dirname(images.OPEN_REGISTRY_DIR),
                                           "seed.lock")):
            digests = images.seed_registry(server.url, log=lambda m: _say(request, m))
        refs = {k: f"{server.host}/{v}" for k, v in images.IMAGES.items()}
        refs["registry"] = server.host
        _state["open_host"] = server.host
        _refresh_registries_conf()
        yield SeededRegistry(server, refs, digests)
    except BaseException:
        _say(request, f"open registry log ({server.log_path}):\n{server.log()[-3000:]}")
        raise
    finally:
        server.stop()
        _state["open_host"] = None


@pytest.fixture(scope="session")
def seed(registry):
    return registry.refs


@pytest.fixture(scope="session")
def basic_registry(tmp_path_factory, registry):
    server = RegistryServer("basic", str(tmp_path_factory.mktemp("registry-basic"))).start()
    _refresh_registries_conf()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def token_server(tmp_path_factory):
    _require_root()
    ts = TokenServer(str(tmp_path_factory.mktemp("token-server"))).start()
    yield ts
    ts.stop()


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory, registry, token_server):
    server = RegistryServer("token", str(tmp_path_factory.mktemp("registry-token")),
                            token_server=token_server).start()
    _refresh_registries_conf()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def _fault_proxy_session(registry):
    proxy = FaultProxy(f"http://127.0.0.1:{registry.port}").start()
    _refresh_registries_conf()
    yield proxy
    proxy.stop()


@pytest.fixture
def fault_proxy(_fault_proxy_session):
    _fault_proxy_session.reset()
    yield _fault_proxy_session
    _fault_proxy_session.reset()


# -- per-test storage ---------------------------------------------------------------------------


@pytest.fixture
def clean_storage(test_user, registry):
    user.wipe_storage(test_user)
    _refresh_registries_conf()
    yield test_user


@pytest.fixture
def busybox(clean_storage, registry):
    """The seeded busybox image, pulled into the test user's clean storage."""
    user.pypod("pull", "-q", registry["busybox"], check=True)
    return registry["busybox"]


@pytest.fixture
def shared_tmp():
    """A temp dir the test user can read (pytest's tmp_path lives under a 0700 dir of root's)."""
    import shutil
    import tempfile
    from pathlib import Path

    d = tempfile.mkdtemp(prefix="pypod-shared-")
    os.chmod(d, 0o755)
    yield Path(d)
    shutil.rmtree(d, ignore_errors=True)


class _HostHandler(http.server.BaseHTTPRequestHandler):
    """Answers with the client address it sees."""

    def do_GET(self):
        body = f"host-server saw {self.client_address[0]}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


@pytest.fixture
def host_server():
    """start(ip) → port of an HTTP server on the host saying which client address it saw."""
    from tests.lib.http import Background

    servers = []

    def start(ip):
        servers.append(Background(_HostHandler, ip, name="host-server"))
        return servers[-1].port

    yield start
    for s in servers:
        s.close()
