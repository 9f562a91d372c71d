"""Issue 13: pypod killed (SIGKILL) at named points leaves storage every command can still use.

`PYPOD_FAULT=NAME[@N]` (pypod/faults.py) makes the process SIGKILL itself the Nth time it reaches
`faults.point(NAME)`. After each kill: every listing command works, everything listed can be
inspected and is whole on disk, the same command succeeds when run again, and `rm -f` / `prune`
leave no trash (temp dirs, half records) behind.

| point          | where                                            | command hit           | checked after                                   |
|----------------|--------------------------------------------------|-----------------------|-------------------------------------------------|
| pull.layer     | image/pull.py Puller._stream_blob, after a chunk | pull                  | no image listed; pull again; prune: no .tmp-*   |
| unpack         | image/unpack.py _Unpacker._entries (the worker)  | pull                  | one-line error, no class name, no temp left     |
| pull.commit    | image/pull.py Puller._commit, layers stored      | pull                  | no image listed; prune: no layers; pull again   |
| unpack.stream  | engine/images.py unpack_to_temp_layer            | import                | no image listed; import again; prune: no .tmp-* |
| layer.commit   | store/layers.py LayerStore.commit, before rename | import                | no image listed; import again; prune: no .tmp-* |
| build.step     | engine/build.py Builder step, before its commit  | build                 | no half image; build again; prune: no .tmp-*    |
| create         | engine/containers/create.py, dir made, no record | create --name         | not listed; create again; prune: dir goes       |
| db.write       | store/db.py write_atomic, data written, no rename| pull, create, rename, | not listed / old record stands; again; prune:   |
|                |                                                  | volume/network create | no temp files, no recordless dirs               |
| start          | runtime/launch.py _spawn, supervisor forked      | start                 | running or exited, never half; stop; start      |
| state.write    | runtime/state.py write_state (the supervisor's)  | run -d                | one-line error; not running; rm -f; run again   |
| stop           | runtime/launch.py stop, container killed         | stop                  | exited; stop again; start                       |
| rm             | engine/containers/lifecycle.py _destroy, renamed | rm -f                 | not listed; rm -f; create again; prune: .rm-*   |
| volume.create  | engine/volumes.py create_volume, data dir made   | volume create         | not listed; prune: dir goes; create again       |
| network.create | engine/networks.py create_network, before record | network create        | not listed; create again                        |

Every test works in its own graph root (`--root`), copied from one root into which busybox was
pulled once, so the tests neither pull more than needed nor see each other's objects.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid

import pytest

from tests.lib import user

pytestmark = pytest.mark.integration

KILLED = (-9, 137)  # runuser reports its child's SIGKILL as 128 + 9


@pytest.fixture(scope="module")
def faults_home(test_user):
    d = os.path.join(test_user.home, f".pypod-faults-{os.getpid()}")  # one per pytest process
    _rmtree(d)
    os.mkdir(d, 0o755)
    os.chown(d, test_user.uid, test_user.gid)
    yield d
    _rmtree(d)


@pytest.fixture(scope="module")
def template(faults_home, registry):
    """A graph root holding the busybox image, pulled once for the whole suite."""
    path = os.path.join(faults_home, "template")
    r = user.pypod("--root", path, "pull", "-q", registry["busybox"])
    assert r.returncode == 0, r.stderr
    return path


class Root:
    """pypod on a private graph root; `fault=` sets PYPOD_FAULT for one command."""

    def __init__(self, path: str, image: str):
        self.path, self.image = path, image

    def __call__(self, *args, fault: str | None = None, input=None, timeout: float = 60):
        env = {"PYPOD_FAULT": fault} if fault else None
        return user.pypod("--root", self.path, *args, env=env, input=input, timeout=timeout)

    def ok(self, *args, **kw) -> subprocess.CompletedProcess:
        r = self(*args, **kw)
        assert r.returncode == 0, f"pypod {' '.join(args)} → {r.returncode}\n{r.stdout}\n{r.stderr}"
        return r

    def killed(self, fault: str, *args, **kw) -> subprocess.CompletedProcess:
        r = self(*args, fault=fault, **kw)
        assert r.returncode in KILLED, \
            f"{fault} was not reached by pypod {' '.join(args)}: {r.returncode}\n{r.stderr}"
        return r


def _rmtree(path: str) -> None:
    user._unmount_under([path])
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def empty_root(faults_home, registry):
    path = os.path.join(faults_home, uuid.uuid4().hex[:12])
    root = Root(path, registry["busybox"])
    yield root
    root("rm", "-f", "-a")
    _rmtree(path)


@pytest.fixture
def root(template, empty_root):
    """A copy of the template root (as root: its layers belong to subordinate ids)."""
    subprocess.run(["cp", "-a", template, empty_root.path], check=True)
    return empty_root


# -- the checks ----------------------------------------------------------------------------------

LISTINGS = {"containers": ("ps", "-a"), "images": ("images", "-a"), "volumes": ("volume", "ls"),
            "networks": ("network", "ls")}
QUIET = {"containers": ("-q", "--no-trunc"), "images": ("-q", "--no-trunc"), "volumes": ("-q",),
         "networks": ("-q",)}
INSPECT = {"containers": "container", "images": "image", "volumes": "volume", "networks": "network"}


def _parallel(calls) -> list:
    """Independent read-only commands at once (each is mostly Python start-up)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda c: c[0](*c[1]), calls))


def listings(root: Root) -> dict:
    """Every listing works (table and -q), and everything it lists is whole: inspectable, and
    on disk."""
    nouns = list(LISTINGS)
    results = _parallel([(root.ok, LISTINGS[n]) for n in nouns] +
                        [(root.ok, LISTINGS[n] + QUIET[n]) for n in nouns])
    for r in results:
        assert "Error" not in r.stderr and "Traceback" not in r.stderr, r.stderr
    out = {n: results[len(nouns) + i].stdout.split() for i, n in enumerate(nouns)}
    _parallel([(root.ok, (INSPECT[n], "inspect", *names)) for n, names in out.items() if names])
    storage = root.path
    for iid in out["images"]:
        rec = _json(storage, "images", iid.removeprefix("sha256:"), "image.json")
        for layer in rec["layers"]:
            assert os.path.exists(os.path.join(storage, "layers", layer, "layer.json")), \
                f"image {iid[:19]} lists layer {layer[:12]}, which is not in storage"
    for vol in out["volumes"]:
        assert os.path.isdir(os.path.join(storage, "volumes", vol, "_data")), \
            f"volume {vol} is listed without its data directory"
    for cid in out["containers"]:
        assert os.path.exists(os.path.join(storage, "containers", cid, "container.json"))
    return out


def _json(*parts) -> dict:
    with open(os.path.join(*parts)) as f:
        return json.load(f)


TRASH = re.compile(r"^\.(tmp|rm|removing)-|\.tmp-\d+$|\.\d+\.tmp$")
# what the image, a container or a volume holds is theirs, not pypod's bookkeeping
CONTENT = {"diff", "upper", "work", "merged", "_data", "rootfs"}


def trash(root: Root) -> list[str]:
    """Temp files and dirs, and record dirs without their record, left in the graph root."""
    found = []
    records = {"containers": "container.json", "volumes": "volume.json", "layers": "layer.json",
               "images": "image.json"}
    for dirpath, dirnames, filenames in os.walk(root.path):
        for n in dirnames + filenames:
            if TRASH.search(n):
                found.append(os.path.relpath(os.path.join(dirpath, n), root.path))
        rel = os.path.relpath(dirpath, root.path)
        if os.path.basename(rel) in records and os.path.dirname(rel) in ("", "storage"):
            for d in dirnames:
                if not d.startswith(".") and \
                        not os.path.exists(os.path.join(dirpath, d, records[os.path.basename(rel)])):
                    found.append(os.path.join(rel, d) + " (no record)")
        dirnames[:] = [d for d in dirnames if d not in CONTENT and not TRASH.search(d)]
    return found


def clean(root: Root) -> None:
    """prune (tagged images stay) removes whatever the killed command left."""
    root.ok("system", "prune", "-f", "--volumes")
    assert trash(root) == []


def prune_all(root: Root) -> None:
    root.ok("rm", "-f", "-a")
    root.ok("system", "prune", "-a", "-f", "--volumes")
    assert trash(root) == []


# -- images ----------------------------------------------------------------------------------------

def test_pull_killed_mid_layer(empty_root):
    r = empty_root
    r.killed("pull.layer", "pull", "-q", r.image)
    assert listings(r)["images"] == []
    clean(r)
    r.ok("pull", "-q", r.image)
    assert len(listings(r)["images"]) == 1
    prune_all(r)


def test_unpack_worker_killed(empty_root):
    """The helper that unpacks dies (OOM, kill -9): pull fails with one sentence and cleans up."""
    r = empty_root
    res = r("pull", "-q", r.image, fault="unpack")
    assert res.returncode == 125
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), res.stderr
    assert not re.search(r"\b[A-Z][a-zA-Z]+(Error|Exception)\b", res.stderr), res.stderr
    assert listings(r)["images"] == []
    assert trash(r) == []  # pypod itself removed what the worker left
    r.ok("pull", "-q", r.image)


# a pull's record writes: 1 layer.json, 2 the config blob, 3 the manifest blob, 4 image.json
@pytest.mark.parametrize("point", ["pull.commit", "db.write@1", "db.write@2", "db.write@3",
                                   "db.write@4"])
def test_pull_killed_storing_the_image(empty_root, point):
    r = empty_root
    r.killed(point, "pull", "-q", r.image)
    assert listings(r)["images"] == []
    clean(r)
    assert os.listdir(os.path.join(r.path, "layers")) == []  # no layer outlives its image
    r.ok("pull", "-q", r.image)
    assert len(listings(r)["images"]) == 1
    prune_all(r)


@pytest.fixture
def tarball(shared_tmp):
    import io
    import tarfile

    path = shared_tmp / "layer.tar"
    with tarfile.open(path, "w") as tar:
        for i in range(3):
            data = f"file {i}\n".encode()
            ti = tarfile.TarInfo(f"f{i}")
            ti.size = len(data)
            tar.addfile(ti, io.BytesIO(data))
    return str(path)


@pytest.mark.parametrize("point", ["unpack.stream", "layer.commit"])
def test_import_killed(root, tarball, point):
    before = listings(root)["images"]
    root.killed(point, "import", tarball, "imported:1")
    assert listings(root)["images"] == before
    clean(root)
    root.ok("import", "-q", tarball, "imported:1")
    assert len(listings(root)["images"]) == len(before) + 1
    prune_all(root)


def test_build_killed_between_steps(root, shared_tmp):
    ctxdir = shared_tmp / "ctx"
    ctxdir.mkdir()
    (ctxdir / "a").write_text("a\n")
    (ctxdir / "Containerfile").write_text(f"FROM {root.image}\nCOPY a /a\nENV X=1\n")
    os.chmod(ctxdir, 0o755)
    before = listings(root)["images"]
    # the second step: the first (COPY) is committed, ENV's is killed
    root.killed("build.step@2", "build", "-q", "-t", "built", str(ctxdir))
    after = listings(root)["images"]
    assert root("image", "exists", "built").returncode == 1
    assert len(after) <= len(before) + 1  # at most the COPY step's intermediate image
    clean(root)
    root.ok("build", "-q", "-t", "built", str(ctxdir))
    assert root("image", "exists", "built").returncode == 0
    prune_all(root)


# -- containers ------------------------------------------------------------------------------------

def test_create_killed_before_the_record(root):
    root.killed("create", "create", "--name", "c1", root.image, "true")
    assert listings(root)["containers"] == []
    root.ok("create", "--name", "c1", root.image, "true")
    assert root.ok("start", "-a", "c1").returncode == 0
    prune_all(root)


def test_record_write_killed_at_create(root):
    """The first atomic record write of create is the container's: killed with the data written
    but not renamed into place."""
    root.killed("db.write", "create", "--name", "c2", root.image, "true")
    assert listings(root)["containers"] == []
    root.ok("create", "--name", "c2", root.image, "true")
    prune_all(root)


def test_record_write_killed_at_rename(root):
    """The atomic writer killed before its rename: the old record stands."""
    root.ok("create", "--name", "old", root.image, "true")
    root.killed("db.write", "rename", "old", "new")
    assert root.ok("ps", "-a", "--format", "{{.Names}}").stdout.split() == ["old"]
    listings(root)
    root.ok("rename", "old", "new")
    assert root.ok("ps", "-a", "--format", "{{.Names}}").stdout.split() == ["new"]
    prune_all(root)


def _status(root: Root, name: str) -> str:
    return root.ok("ps", "-a", "--filter", f"name=^{name}$", "--format", "{{.State}}").stdout.strip()


def _stop_and_start(root: Root, name: str) -> None:
    """The container works again: it stops, then starts, then goes with prune."""
    root.ok("stop", "-t", "0", name)
    assert _status(root, name) == "exited"
    root.ok("start", name)
    assert _status(root, name) == "running"
    prune_all(root)


def test_start_killed_after_the_supervisor_forked(root):
    root.ok("create", "--name", "s1", root.image, "sleep", "300")
    root.killed("start", "start", "s1")
    assert listings(root)["containers"]
    assert _status(root, "s1") in ("running", "exited")
    _stop_and_start(root, "s1")


def test_supervisor_killed_at_its_state_write(root):
    r = root("run", "-d", "--name", "s2", root.image, "sleep", "300", fault="state.write")
    # the supervisor died, not pypod: pypod says so in one line
    assert r.returncode == 125 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert _status(root, "s2") != "running"
    listings(root)
    root.ok("rm", "-f", "s2")
    root.ok("run", "-d", "--name", "s2", root.image, "sleep", "300")
    assert _status(root, "s2") == "running"
    prune_all(root)


def test_stop_killed(root):
    root.ok("run", "-d", "--name", "s3", root.image, "sleep", "300")
    root.killed("stop", "stop", "-t", "0", "s3")
    listings(root)
    _stop_and_start(root, "s3")


def test_rm_killed(root):
    root.ok("create", "--name", "r1", root.image, "true")
    root.killed("rm", "rm", "-f", "r1")  # out of the listing, not yet deleted
    assert listings(root)["containers"] == []
    root.ok("rm", "-f", "r1")
    assert listings(root)["containers"] == []
    root.ok("create", "--name", "r1", root.image, "true")
    prune_all(root)


# -- volumes, networks -----------------------------------------------------------------------------

@pytest.mark.parametrize("point", ["volume.create", "db.write"])
def test_volume_create_killed(empty_root, point):
    r = empty_root
    r.killed(point, "volume", "create", "v1")
    assert listings(r)["volumes"] == []
    clean(r)
    r.ok("volume", "create", "v1")
    assert listings(r)["volumes"] == ["v1"]
    prune_all(r)


@pytest.mark.parametrize("point", ["network.create", "db.write"])
def test_network_create_killed(empty_root, point):
    r = empty_root
    r.killed(point, "network", "create", "n1")
    assert "n1" not in listings(r)["networks"]
    clean(r)
    r.ok("network", "create", "n1")
    assert "n1" in listings(r)["networks"]
    prune_all(r)
