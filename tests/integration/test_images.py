"""Issue 2: images pulled from a real registry, as the unprivileged test user."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import threading

import pytest

from tests.lib import images as seedimg
from tests.lib import user
from tests.lib.checks import ok
from tests.lib.user import pypod

pytestmark = pytest.mark.integration


def inspect(name: str, fmt: str) -> str:
    return ok("image", "inspect", "--format", fmt, name).stdout.strip()


def layer_dirs(name: str) -> list[str]:
    """The image's layer diff dirs on the host, top first."""
    gd = json.loads(inspect(name, "{{json .GraphDriver.Data}}"))
    dirs = [gd["UpperDir"]]
    if gd.get("LowerDir"):
        dirs += gd["LowerDir"].split(":")
    return dirs


def test_pull_by_tag_lists_and_inspects(clean_storage, registry):
    r = ok("pull", registry["busybox"])
    image_id = r.stdout.strip().splitlines()[-1]
    assert len(image_id) == 64
    assert "Copying blob" in r.stderr and "Writing manifest to image destination" in r.stderr
    lines = ok("images").stdout.splitlines()
    assert lines[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    repo, tag, short = lines[1].split()[:3]
    assert (repo, tag, short) == (f"{registry.host}/busybox", "latest", image_id[:12])
    data = json.loads(ok("image", "inspect", registry["busybox"]).stdout)
    assert isinstance(data, list) and len(data) == 1
    img = data[0]
    for key in ("Id", "Digest", "RepoTags", "RepoDigests", "Config", "RootFS", "Size", "Created",
                "Architecture", "Os", "GraphDriver"):
        assert key in img, key
    assert img["Id"] == image_id
    assert img["Digest"] == registry.digests["busybox"]
    assert img["RepoDigests"] == [f"{registry.host}/busybox@{registry.digests['busybox']}"]
    assert img["Config"]["Cmd"] == ["sh"]
    assert img["RootFS"]["Type"] == "layers" and len(img["RootFS"]["Layers"]) == 1
    # the top-level alias runs the same code
    assert json.loads(ok("inspect", "--type", "image", registry["busybox"]).stdout)[0]["Id"] == image_id
    assert ok("image", "exists", registry["busybox"]).returncode == 0
    assert pypod("image", "exists", "nosuchimage").returncode == 1


def test_pull_by_digest_and_short_name(clean_storage, registry):
    digest = registry.digests["busybox"]
    by_digest = ok("pull", "-q", f"{registry.host}/busybox@{digest}").stdout.strip()
    assert ok("images", "--digests", "--format", "{{.Digest}}").stdout.split() == [digest]
    r = ok("pull", "busybox")
    assert r.stdout.strip().splitlines()[-1] == by_digest
    assert f"Trying to pull {registry.host}/busybox:latest" in r.stderr
    assert ok("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split() == [f"{registry.host}/busybox:latest"]


def test_pull_quiet_prints_only_the_id(clean_storage, registry):
    r = ok("pull", "-q", registry["busybox"])
    assert len(r.stdout.strip()) == 64 and r.stderr == ""


def test_multiarch_index_selects_the_platform(clean_storage, registry):
    ok("pull", "-q", registry["multiarch"])
    assert inspect(registry["multiarch"], "{{.Architecture}} {{index .Config.Labels \"arch\"}}") == "amd64 amd64"
    ok("pull", "-q", "--arch", "arm64", registry["multiarch"])
    assert inspect(registry["multiarch"], "{{.Architecture}} {{index .Config.Labels \"arch\"}}") == "arm64 arm64"
    r = pypod("pull", "--platform", "linux/s390x", registry["multiarch"])
    assert r.returncode == 125 and "s390x" in r.stderr


def test_gzip_and_uncompressed_layers(clean_storage, registry):
    ok("pull", "-q", registry["mixed"])
    dirs = layer_dirs(registry["mixed"])
    assert len(dirs) == 2
    with open(os.path.join(dirs[0], "mixed/plain")) as f:
        assert f.read() == seedimg.MIXED_FILES["mixed/plain"]
    assert os.path.exists(os.path.join(dirs[1], "bin/busybox"))


def test_layered_image_is_unpacked_for_the_rootless_overlay(clean_storage, registry):
    ok("pull", "-q", registry["layered"])
    upper, lower = layer_dirs(registry["layered"])
    # whiteout: a 0:0 character device; opaque dir: the user xattr the rootless overlay reads
    st = os.lstat(os.path.join(upper, "data/gone"))
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert os.getxattr(os.path.join(upper, "opq"), "user.overlay.opaque") == b"y"
    # hardlink: one inode; symlink kept as given
    a, b = os.lstat(os.path.join(upper, "data/keep2")), os.lstat(os.path.join(upper, "data/hard2"))
    assert a.st_ino == b.st_ino and a.st_nlink == 2
    assert os.readlink(os.path.join(upper, "data/link")) == "keep"
    # image uid 1000 is container uid 1000: host uid (the test user's subuid start) + 999
    st = os.lstat(os.path.join(upper, "data/owned"))
    start = user.subid_range()[0]
    assert (st.st_uid, st.st_gid) == (start + 999, start + 999)
    # root-owned files belong to the user itself; setuid survives
    st = os.lstat(os.path.join(upper, "bin/suid"))
    assert st.st_mode & 0o7777 == 0o4755
    assert st.st_uid == clean_storage.uid
    # the lower layer still has what the upper one hides
    assert open(os.path.join(lower, "data/gone")).read() == "gone\n"


def test_registry_with_basic_auth_needs_login(clean_storage, basic_registry):
    seedimg.push_busybox(basic_registry.url, auth=basic_registry.auth)
    ref = f"{basic_registry.host}/busybox:latest"
    r = pypod("pull", ref)
    assert r.returncode == 125 and "unauthorized" in r.stderr.lower()
    assert "Traceback" not in r.stderr
    assert ok("images", "-q").stdout == ""
    bad = pypod("login", "-u", "alice", "-p", "wrong", basic_registry.host)
    assert bad.returncode == 125 and "invalid username/password" in bad.stderr
    assert ok("login", "-u", "alice", "-p", "secret", basic_registry.host).stdout.strip() == "Login Succeeded!"
    auth = os.path.join(clean_storage.runtime_dir, "containers", "auth.json")
    assert stat.S_IMODE(os.stat(auth).st_mode) == 0o600
    assert basic_registry.host in json.load(open(auth))["auths"]
    ok("pull", "-q", ref)
    assert ok("logout", basic_registry.host).stdout.strip() == f"Removed login credentials for {basic_registry.host}"
    r = pypod("logout", basic_registry.host)
    assert r.returncode == 125 and "not logged into" in r.stderr
    # --creds works without a stored login
    ok("rmi", ref)
    ok("pull", "-q", "--creds", "alice:secret", ref)


def test_registry_with_token_auth(clean_storage, token_registry):
    seedimg.push_busybox(token_registry.url, auth=("alice", "secret"))
    ref = f"{token_registry.host}/busybox:latest"
    r = pypod("pull", ref)
    assert r.returncode == 125 and ("unauthorized" in r.stderr.lower() or "denied" in r.stderr.lower())
    ok("login", "-u", "alice", "-p", "secret", token_registry.host)
    image_id = ok("pull", "-q", ref).stdout.strip()
    assert len(image_id) == 64


def busybox_layer_digest(registry) -> str:
    return json.loads(subprocess.run(
        ["curl", "-sf", "-H", "Accept: application/vnd.docker.distribution.manifest.v2+json",
         f"{registry.url}/v2/busybox/manifests/latest"], capture_output=True, text=True).stdout)["layers"][0]["digest"]


def test_corrupt_blob_fails_naming_the_digest_and_leaves_nothing(clean_storage, registry, fault_proxy):
    layer_digest = busybox_layer_digest(registry)
    fault_proxy.corrupt_blobs(layer_digest)
    r = pypod("pull", f"{fault_proxy.host}/busybox:latest")
    assert r.returncode == 125
    assert layer_digest in r.stderr and "digest" in r.stderr.lower()
    assert ok("images", "-a", "-q").stdout == ""
    layers = os.path.join(clean_storage.home, ".local/share/pypod/storage/layers")
    assert not os.path.exists(layers) or os.listdir(layers) == []


def test_corrupt_config_fails_too(clean_storage, registry, fault_proxy):
    fault_proxy.corrupt_blobs()
    r = pypod("pull", f"{fault_proxy.host}/busybox:latest")
    assert r.returncode == 125 and "digest mismatch" in r.stderr
    assert ok("images", "-a", "-q").stdout == ""


def test_broken_connection_is_resumed(clean_storage, registry, fault_proxy):
    fault_proxy.cut_after(100_000, digest=busybox_layer_digest(registry), times=1)
    r = ok("pull", f"{fault_proxy.host}/busybox:latest")
    assert "retrying" in r.stderr


def test_tls_registry_is_verified(clean_storage, registry, shared_tmp):
    """An HTTPS registry signed by a CA the system does not know: refused with podman's x509 message,
    then trusted through --cert-dir and through ~/.config/containers/certs.d/HOST/ (podman's places);
    --tls-verify=false skips the check; a registry that wants a client certificate gets the
    client.cert/client.key found beside the CA."""
    import shutil

    from tests.lib.registry import RegistryServer, make_tls
    from tests.lib.user import write_user_file

    os.makedirs(shared_tmp / "tls")
    tls = make_tls(str(shared_tmp / "tls"))
    certs = shared_tmp / "certs"
    os.makedirs(certs)
    shutil.copy(tls.ca, certs / "ca.crt")
    os.chmod(certs, 0o755)
    user_certs = os.path.join(clean_storage.home, ".config/containers/certs.d")
    servers = []
    try:
        for client_certs in (False, True):
            server = RegistryServer("open", str(shared_tmp / f"reg-{client_certs}"), data_dir=seedimg.OPEN_REGISTRY_DIR,
                                    tls=tls, client_certs=client_certs).start()
            servers.append(server)
            ref = registry["busybox"].replace(registry.host, server.host)
            r = pypod("pull", "-q", ref)
            assert r.returncode == 125 and r.stderr.startswith("Error: "), r.stderr
            if not client_certs:
                assert "x509: certificate signed by unknown authority" in r.stderr, r.stderr
                ok("pull", "-q", "--cert-dir", str(certs), ref)
                ok("rmi", ref)
                write_user_file(os.path.join(user_certs, server.host, "ca.crt"), open(tls.ca).read())
                ok("pull", "-q", ref)
                ok("rmi", ref)
                shutil.rmtree(user_certs)
                ok("pull", "-q", "--tls-verify=false", ref)
                ok("rmi", ref)
            else:  # the CA alone is not enough: the server asks for a client certificate
                r = pypod("pull", "-q", "--cert-dir", str(certs), ref)
                assert r.returncode == 125 and "remote error: tls: bad certificate" in r.stderr, r.stderr
                shutil.copy(tls.client, certs / "client.cert")
                shutil.copy(tls.client_key, certs / "client.key")
                ok("pull", "-q", "--cert-dir", str(certs), ref)
            assert ok("images", "-q").stdout.strip() == ("" if not client_certs else
                                                          ok("images", "-q", ref).stdout.strip())
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(user_certs, ignore_errors=True)


def test_mirror_alias_and_blocked_registry(clean_storage, registry):
    """registries.conf as a user offline would write it: Docker Hub's library served by a mirror
    (Docker Hub itself is out of reach here, so only the mirror can answer), a short-name alias,
    and a blocked registry."""
    from tests.lib.user import write_user_file

    write_user_file(clean_storage.registries_conf, f"""
unqualified-search-registries = ["docker.io"]

[[registry]]
prefix = "docker.io/library"
location = "docker.io/library"
[[registry.mirror]]
location = "{registry.host}"
insecure = true

[[registry]]
location = "blocked.example"
blocked = true

[aliases]
"tiny" = "docker.io/library/busybox"
""")
    ok("pull", "-q", "busybox")
    assert inspect("busybox", "{{.RepoTags}}") == "[docker.io/library/busybox:latest]"
    ok("pull", "-q", "tiny:1")  # an alias names a repository; the tag comes from the short name
    assert "docker.io/library/busybox:1" in ok("images", "--format", "{{.Repository}}:{{.Tag}}").stdout
    r = pypod("pull", "blocked.example/some/image")
    assert r.returncode == 125 and "blocked" in r.stderr and r.stderr.startswith("Error: "), r.stderr
    assert ok("run", "--rm", "--network", "none", "busybox", "echo", "from the mirror").stdout == "from the mirror\n"


def test_hostile_layer_writes_nothing_outside(clean_storage, registry):
    for p in seedimg.HOSTILE_TARGETS:
        assert not os.path.exists(p)
    ok("pull", "-q", registry["hostile"])
    for p in seedimg.HOSTILE_TARGETS:
        assert not os.path.exists(p), p
    (top,) = layer_dirs(registry["hostile"])
    assert open(os.path.join(top, "ok")).read() == "ok\n"
    # an absolute name lands inside the layer; the device node and the outward hardlinks do not exist
    assert os.path.exists(os.path.join(top, "tmp/pypod-hostile-abs"))
    assert not os.path.exists(os.path.join(top, "dev/evil"))
    assert not os.path.exists(os.path.join(top, "shadow-link"))


def test_rmi_tag_untag(clean_storage, registry):
    image_id = ok("pull", "-q", registry["busybox"]).stdout.strip()
    ok("tag", registry["busybox"], "mybox:1", "other.example/x/y:2")
    names = sorted(ok("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split())
    assert names == sorted([f"{registry.host}/busybox:latest", "localhost/mybox:1", "other.example/x/y:2"])
    r = ok("rmi", "mybox:1")
    assert r.stdout.strip() == "Untagged: localhost/mybox:1"
    ok("untag", image_id, "other.example/x/y:2")
    r = pypod("rmi", "nosuch:image")
    assert r.returncode == 1 and r.stderr.strip() == "Error: nosuch:image: image not known"
    r = pypod("rmi", "nosuch1", "nosuch2")  # several: podman's joined list (go-multierror)
    assert r.returncode == 1 and r.stderr == ("Error: 2 errors occurred:\n\t* nosuch1: image not known\n"
                                              "\t* nosuch2: image not known\n")
    r = ok("rmi", image_id)
    assert f"Deleted: {image_id}" in r.stdout
    assert ok("images", "-q").stdout == ""
    layers = os.path.join(clean_storage.home, ".local/share/pypod/storage/layers")
    assert [n for n in os.listdir(layers) if not n.startswith(".")] == []


def test_layers_are_shared_and_concurrent_pulls_agree(clean_storage, registry):
    results = []

    def pull():
        results.append(pypod("pull", "-q", registry["layered"]))

    threads = [threading.Thread(target=pull) for _ in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert [r.returncode for r in results] == [0, 0], [r.stderr for r in results]
    assert results[0].stdout == results[1].stdout
    layers = os.path.join(clean_storage.home, ".local/share/pypod/storage/layers")
    count = len([n for n in os.listdir(layers) if not n.startswith(".")])
    assert count == 2
    # mixed's gzip layer is busybox's layer: pulling busybox afterwards adds no layer
    ok("pull", "-q", registry["mixed"])
    assert len([n for n in os.listdir(layers) if not n.startswith(".")]) == count + 2
    r = ok("pull", registry["busybox"])
    assert "skipped: already exists" in r.stderr
    assert len([n for n in os.listdir(layers) if not n.startswith(".")]) == count + 2
    for d in layer_dirs(registry["layered"]):
        assert os.path.isdir(d)


def test_formats_and_filters(clean_storage, registry):
    ok("pull", "-q", registry["busybox"])
    ok("pull", "-q", registry["mixed"])
    out = ok("images", "--format", "table {{.Repository}}\t{{.Tag}}").stdout.splitlines()
    assert out[0].split() == ["REPOSITORY", "TAG"] and len(out) == 3
    js = json.loads(ok("images", "--format", "json").stdout)
    assert {"Id", "RepoTags", "Size", "Created", "Names", "Digest"} <= set(js[0])
    assert ok("images", "--filter", f"reference={registry.host}/mixed").stdout.count("mixed") == 1
    assert ok("images", "-q", "--no-trunc").stdout.split()[0].startswith("sha256:")
    r = pypod("images", "--format", "{{.Nope")
    assert r.returncode == 125 and r.stderr.startswith("Error: ")
    assert len(ok("history", registry["busybox"]).stdout.splitlines()) >= 2


def test_empty_store_prints_the_header(clean_storage):
    assert ok("images").stdout.split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]


def test_bad_references_and_flags(clean_storage, registry):
    r = pypod("pull", "Foo/Bar")
    assert r.returncode == 125 and r.stderr.startswith("Error: ") and "Traceback" not in r.stderr
    r = pypod("images", "--nope")
    assert r.returncode == 125 and "unknown flag: --nope" in r.stderr
    r = pypod("pull", "localhost:1/none:latest")
    assert r.returncode == 125 and "Traceback" not in r.stderr
    assert r.stderr.splitlines()[-1].startswith("Error: ") and "connection refused" in r.stderr.lower()


def test_start_up_does_not_import_heavy_modules(test_user):
    py = user.PYTHON
    for args in (["--version"], ["images"]):
        r = subprocess.run(["runuser", "-u", test_user.name, "--", "env", f"HOME={test_user.home}",
                            f"XDG_RUNTIME_DIR={test_user.runtime_dir}", py, "-X", "importtime", "-m", "pypod", *args],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr[-2000:]
        imported = {line.split("|")[-1].strip() for line in r.stderr.splitlines() if "|" in line}
        for heavy in ("requests", "pyroute2", "rich.console", "yaml"):
            assert heavy not in imported, (args, heavy)
