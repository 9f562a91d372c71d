"""Tests of the test environment itself: the user, the venv, the registries, the seeded images,
the token issuer and the fault proxy. None of them runs pypod commands."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import pwd
import stat
import tarfile
import uuid

import pytest
import requests

from tests.lib import images, oci, user
from tests.lib.oci import RegistryClient, RegistryError
from tests.lib.rootfs import build_busybox_rootfs_tar

pytestmark = pytest.mark.integration


def _session() -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    return s


def _layer_members(blob: bytes) -> dict[str, tarfile.TarInfo]:
    raw = gzip.decompress(blob) if blob[:2] == b"\x1f\x8b" else blob
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tf:
        return {m.name: m for m in tf.getmembers()}


# -- the user and the venv ---------------------------------------------------------------------


def test_user_has_subids_and_runtime_dir(test_user):
    assert test_user.name == user.TEST_USER
    assert pwd.getpwnam(user.TEST_USER).pw_shell == "/bin/bash"
    for path in ("/etc/subuid", "/etc/subgid"):
        entries = [l.strip().split(":") for l in open(path) if l.strip()]
        mine = [e for e in entries if e[0] in (test_user.name, str(test_user.uid))]
        assert mine, f"no {path} entry for {test_user.name}"
        assert int(mine[0][2]) >= 65536
    st = os.stat(test_user.runtime_dir)
    assert st.st_uid == test_user.uid and stat.S_IMODE(st.st_mode) == 0o700
    for dev in user.DEVICES:
        if os.path.exists(dev):
            assert stat.S_IMODE(os.stat(dev).st_mode) == 0o666, dev


def test_user_runs_unprivileged_with_a_clean_environment(test_user):
    r = user.sh_as_user('id -u; echo "$HOME|$USER|$XDG_RUNTIME_DIR|$PATH"; pwd; env | wc -l',
                        check=True)
    uid, envline, cwd, nvars = r.stdout.split("\n")[:4]
    assert int(uid) == test_user.uid
    assert envline == f"{test_user.home}|{user.TEST_USER}|{test_user.runtime_dir}|{user.USER_PATH}"
    assert cwd == test_user.home
    assert int(nvars) <= 10  # env -i: nothing leaks from root's environment
    r = user.sh_as_user("echo $FOO; echo ${XDG_RUNTIME_DIR:-unset}",
                        env={"FOO": "bar", "XDG_RUNTIME_DIR": None}, check=True)
    assert r.stdout.split() == ["bar", "unset"]


def test_user_can_import_installed_pypod(test_user):
    r = user.run_as_user([user.PYTHON, "-c", "import pypod, sys; print(pypod.__file__); "
                          "print(sys.version_info[:2])"], check=True)
    path, version = r.stdout.splitlines()[:2]
    assert path.startswith(user.VENV + "/"), path  # the installed copy, not the checkout
    assert version == "(3, 11)"
    assert os.access(user.PYPOD, os.X_OK)


def test_user_tools_work_for_the_user(test_user):
    """newuidmap/newgidmap (setuid or with file caps) and the helpers pypod needs are there."""
    for tool in ("newuidmap", "newgidmap", "slirp4netns", "pasta", "fuse-overlayfs"):
        r = user.sh_as_user(f"command -v {tool}")
        assert r.returncode == 0, f"{tool} is not on the test user's PATH"


def test_pypod_helper_reports_failures_readably(test_user):
    with pytest.raises(user.CommandFailed) as ei:
        user.run_as_user(["/bin/sh", "-c", "echo out; echo err >&2; exit 3"], check=True)
    assert ei.value.returncode == 3
    assert "out" in str(ei.value) and "err" in str(ei.value)
    r = user.run_as_user(["/bin/cat"], input=b"\x00\xff", text=False)
    assert r.stdout == b"\x00\xff"


def test_busybox_rootfs_tar(tmp_path):
    path = build_busybox_rootfs_tar(tmp_path / "rootfs.tar")
    with tarfile.open(path) as tf:
        m = {x.name: x for x in tf.getmembers()}
        assert m["bin/busybox"].isreg() and m["bin/busybox"].mode == 0o755
        assert m["bin/sh"].issym() and m["bin/sh"].linkname == "busybox"
        assert m["usr/bin/env"].linkname == "../../bin/busybox"
        assert m["tmp"].isdir() and m["tmp"].mode == 0o1777
        assert m["root"].isdir() and m["home"].isdir() and m["var"].isdir()
        passwd = tf.extractfile("etc/passwd").read().decode()
        assert passwd.startswith("root:x:0:0:") and "\nnobody:x:65534:" in passwd
        assert "nobody" in tf.extractfile("etc/group").read().decode()
        assert all(x.uid == 0 and x.gid == 0 for x in tf.getmembers())
    # Deterministic: the same bytes every time (digests stay stable between runs).
    again = build_busybox_rootfs_tar(tmp_path / "again.tar")
    assert open(path, "rb").read() == open(again, "rb").read()


# -- the open registry and the seeded images ------------------------------------------------------


@pytest.mark.parametrize("key,media", [
    ("busybox", oci.DOCKER_MANIFEST),
    ("busybox1", oci.DOCKER_MANIFEST),
    ("layered", oci.DOCKER_MANIFEST),
    ("mixed", oci.OCI_MANIFEST),
    ("hostile", oci.DOCKER_MANIFEST),
    ("debian", oci.DOCKER_MANIFEST),
    ("multiarch", oci.OCI_INDEX),
])
def test_open_registry_serves_seeded_manifest(registry, key, media):
    ref = registry[key]
    assert ref.startswith(registry.host + "/")
    name, tag = ref[len(registry.host) + 1:].rsplit(":", 1)
    with _session() as s:
        r = s.get(f"{registry.url}/v2/{name}/manifests/{tag}", timeout=30,
                  headers={"Accept": oci.ACCEPT_ALL})
        assert r.status_code == 200, r.text
        assert r.headers["Content-Type"] == media
        digest = "sha256:" + hashlib.sha256(r.content).hexdigest()
        assert r.headers["Docker-Content-Digest"] == digest == registry.digests[key]
        doc = r.json()
        assert doc["mediaType"] == media
        if media == oci.OCI_INDEX:
            return
        cfg = s.get(f"{registry.url}/v2/{name}/blobs/{doc['config']['digest']}", timeout=30)
        assert cfg.status_code == 200
        assert "sha256:" + hashlib.sha256(cfg.content).hexdigest() == doc["config"]["digest"]
        config = cfg.json()
        assert len(config["rootfs"]["diff_ids"]) == len(doc["layers"])
        assert config["config"]["Cmd"]
        for layer in doc["layers"]:
            h = s.head(f"{registry.url}/v2/{name}/blobs/{layer['digest']}", timeout=30)
            assert h.status_code == 200
            assert int(h.headers["Content-Length"]) == layer["size"]


def test_multiarch_index_has_amd64_and_arm64(registry):
    with RegistryClient(registry.url) as c:
        mtype, digest, raw = c.get_manifest("multiarch", "latest")
        idx = json.loads(raw)
        plats = {(m["platform"]["os"], m["platform"]["architecture"],
                  m["platform"].get("variant")): m for m in idx["manifests"]}
        assert set(plats) == {("linux", "amd64", None), ("linux", "arm64", "v8")}
        for (_, arch, _), desc in plats.items():
            assert desc["mediaType"] == oci.OCI_MANIFEST
            _, d, mraw = c.get_manifest("multiarch", desc["digest"])
            assert d == desc["digest"] and len(mraw) == desc["size"]
            m = json.loads(mraw)
            cfg = json.loads(c.get_blob("multiarch", m["config"]["digest"]))
            assert cfg["architecture"] == arch
            assert cfg["config"]["Labels"] == {"arch": arch}
        assert plats[("linux", "amd64", None)]["digest"] == registry.digests["multiarch-amd64"]


def test_mixed_has_gzip_and_uncompressed_layers(registry):
    with RegistryClient(registry.url) as c:
        _, _, raw = c.get_manifest("mixed", "latest")
        layers = json.loads(raw)["layers"]
        assert [l["mediaType"] for l in layers] == [oci.OCI_LAYER_GZIP, oci.OCI_LAYER_TAR]
        plain = c.get_blob("mixed", layers[1]["digest"])
        assert plain[:2] != b"\x1f\x8b"
        assert "mixed/plain" in _layer_members(plain)


def test_layered_upper_layer_has_whiteouts_links_and_owners(registry):
    with RegistryClient(registry.url) as c:
        _, _, raw = c.get_manifest("layered", "latest")
        lower_d, upper_d = [l["digest"] for l in json.loads(raw)["layers"]]
        lower = _layer_members(c.get_blob("layered", lower_d))
        upper = _layer_members(c.get_blob("layered", upper_d))
    assert {"bin/busybox", "data/keep", "data/gone", "opq/old1", "opq/old2"} <= set(lower)
    assert "data/.wh.gone" in upper and "opq/.wh..wh..opq" in upper
    assert upper["data/hard2"].islnk() and upper["data/hard2"].linkname == "data/keep2"
    assert upper["data/link"].issym() and upper["data/link"].linkname == "keep"
    assert (upper["data/owned"].uid, upper["data/owned"].gid) == (1000, 1000)
    assert upper["bin/suid"].mode == 0o4755


def test_hostile_layer_is_hostile(registry):
    with RegistryClient(registry.url) as c:
        _, _, raw = c.get_manifest("hostile", "latest")
        blob = c.get_blob("hostile", json.loads(raw)["layers"][0]["digest"])
    m = _layer_members(blob)
    assert "../../../tmp/pypod-hostile-escape" in m
    assert "/tmp/pypod-hostile-abs" in m
    assert m["esc"].issym() and m["esc"].linkname == "/tmp"
    assert "esc/pypod-hostile-via-link" in m
    assert m["shadow-link"].islnk() and m["shadow-link"].linkname == "/etc/shadow"
    assert m["dev/evil"].ischr() and (m["dev/evil"].devmajor, m["dev/evil"].devminor) == (1, 3)
    assert "ok" in m
    for target in images.HOSTILE_TARGETS:
        assert not os.path.exists(target), f"{target} exists on the host"


def test_debian_image_is_realistic(registry):
    with RegistryClient(registry.url) as c:
        _, _, raw = c.get_manifest("debian", "bookworm")
        m = json.loads(raw)
        assert len(m["layers"]) == 1 and m["layers"][0]["size"] > 30 << 20
        cfg = json.loads(c.get_blob("debian", m["config"]["digest"]))
    assert cfg["config"]["Cmd"] == ["bash"]
    with tarfile.open(images.DEBIAN_CACHE) as tf:
        names = {}
        for ti in tf:
            if ti.name in ("etc/shadow", "var/mail", "usr/bin/su", "usr/bin/bash", "etc/os-release"):
                names[ti.name] = ti
    assert names["etc/shadow"].gid == 42 and names["var/mail"].gid == 8
    assert names["usr/bin/su"].mode & 0o4000
    assert {"usr/bin/bash", "etc/os-release"} <= set(names)


# -- basic auth -----------------------------------------------------------------------------------


def test_basic_registry_refuses_anonymous_and_accepts_alice(basic_registry):
    with _session() as s:
        r = s.get(f"{basic_registry.url}/v2/", timeout=30)
        assert r.status_code == 401
        assert r.headers["WWW-Authenticate"].startswith("Basic ")
        r = s.get(f"{basic_registry.url}/v2/", auth=("alice", "wrong"), timeout=30)
        assert r.status_code == 401
        r = s.get(f"{basic_registry.url}/v2/", auth=basic_registry.auth, timeout=30)
        assert r.status_code == 200
    with pytest.raises(RegistryError):
        images.push_busybox(basic_registry.url, "anon/busybox")
    digest = images.push_busybox(basic_registry.url, "env/busybox", auth=basic_registry.auth)
    _, got, _ = oci.get_manifest(basic_registry.url, "env/busybox", "latest",
                                 auth=basic_registry.auth)
    assert got == digest
    with pytest.raises(RegistryError):
        oci.get_manifest(basic_registry.url, "env/busybox", "latest")


# -- token auth -----------------------------------------------------------------------------------


def _claims(jwt: str) -> tuple[dict, dict]:
    def dec(part):
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))

    h, c, _ = jwt.split(".")
    return dec(h), dec(c)


def test_token_flow_issues_working_tokens(token_registry, token_server):
    url = token_registry.url
    with _session() as s:
        r = s.get(f"{url}/v2/", timeout=30)
        assert r.status_code == 401
        chal = r.headers["WWW-Authenticate"]
        assert chal.startswith("Bearer ") and token_server.realm in chal
        assert f'service="{token_server.service}"' in chal
        # Wrong password: the issuer refuses.
        r = s.get(token_server.realm, params={"service": token_server.service,
                  "scope": "repository:env/busybox:pull,push"}, auth=("alice", "nope"),
                  timeout=30)
        assert r.status_code == 401
        # alice gets pull,push, signed the way docker-registry checks it.
        r = s.get(token_server.realm, params={"service": token_server.service,
                  "scope": "repository:env/busybox:pull,push"}, auth=("alice", "secret"),
                  timeout=30)
        assert r.status_code == 200
        body = r.json()
        assert body["token"] == body["access_token"] and body["expires_in"] == 300
        header, claims = _claims(body["token"])
        assert header["alg"] == "RS256" and header["x5c"] and header["kid"].count(":") == 11
        assert claims["aud"] == token_server.service and claims["iss"] == token_server.issuer
        assert claims["access"] == [{"type": "repository", "name": "env/busybox",
                                     "actions": ["pull", "push"]}]
        r = s.get(f"{url}/v2/", headers={"Authorization": "Bearer " + body["token"]}, timeout=30)
        assert r.status_code == 200, r.text

    # A real push and pull through the 401 challenge -> token -> retry flow.
    before = len(token_server.requests)
    digest = images.push_busybox(url, "env/busybox", auth=token_registry.auth)
    with RegistryClient(url, token_registry.auth) as c:
        _, got, _ = c.get_manifest("env/busybox", "latest")
        assert got == digest
        assert c.tokens_fetched >= 1
    seen = token_server.requests[before:]
    # (docker-registry names the actions in either order: "pull,push" or "push,pull".)
    assert any(r["user"] == "alice" and r["status"] == 200 and
               any("push" in sc and "pull" in sc for sc in r["scopes"]) for r in seen)

    # Anonymous: a token with no access, which the registry refuses.
    with RegistryClient(url) as c:
        with pytest.raises(RegistryError, match="401"):
            c.get_manifest("env/busybox", "latest")
        assert c.tokens_fetched == 1
    assert token_server.requests[-1]["user"] is None


@pytest.mark.parametrize("mode", ["x5c", "kid"])
def test_token_signing_key_found_by_x5c_or_kid(token_registry, token_server, mode):
    images.push_busybox(token_registry.url, "env/keyed", auth=token_registry.auth)
    old = token_server.header_mode
    token_server.header_mode = mode
    try:
        with RegistryClient(token_registry.url, token_registry.auth) as c:
            c.get_manifest("env/keyed", "latest")
            header, _ = _claims(c.authorization.split(" ", 1)[1])
            assert set(header) & {"x5c", "kid"} == {mode}
    finally:
        token_server.header_mode = old


def test_token_with_wrong_issuer_or_audience_is_refused(token_registry, token_server):
    access = [{"type": "repository", "name": "env/busybox", "actions": ["pull"]}]
    with _session() as s:
        for tok in (token_server.issue("alice", access, issuer="someone-else"),
                    token_server.issue("alice", access, audience="another-service"),
                    token_server.issue("alice", access, expires_in=-3600)):
            r = s.get(f"{token_registry.url}/v2/env/busybox/tags/list",
                      headers={"Authorization": "Bearer " + tok}, timeout=30)
            assert r.status_code == 401


# -- the fault proxy ------------------------------------------------------------------------------


def test_fault_proxy_forwards_and_corrupts(registry, fault_proxy):
    with RegistryClient(fault_proxy.url) as c:
        _, digest, raw = c.get_manifest("busybox", "latest")
        assert digest == registry.digests["busybox"]
        layer = json.loads(raw)["layers"][0]
        good = c.get_blob("busybox", layer["digest"])
        assert oci.sha256_digest(good) == layer["digest"]

        fault_proxy.corrupt_blobs(layer["digest"])
        bad = c.get_blob("busybox", layer["digest"])
        assert len(bad) == len(good) and oci.sha256_digest(bad) != layer["digest"]
        assert fault_proxy.corrupted == [layer["digest"]]
        # Other blobs pass untouched.
        cfg_digest = json.loads(raw)["config"]["digest"]
        assert oci.sha256_digest(c.get_blob("busybox", cfg_digest)) == cfg_digest

        fault_proxy.reset()
        fault_proxy.fail_next(500, match="/blobs/")
        r = c.request("GET", f"/v2/busybox/blobs/{layer['digest']}")
        assert r.status_code == 500
        assert c.get_blob("busybox", layer["digest"]) == good

        fault_proxy.cut_after(1000, layer["digest"])
        with pytest.raises(requests.exceptions.RequestException):
            c.get_blob("busybox", layer["digest"])
        assert fault_proxy.cut == [layer["digest"]]
        assert c.get_blob("busybox", layer["digest"]) == good

        # Pushing through the proxy works too (upload Locations point back at the proxy).
        # (A fresh repository name: the open registry's data persists between runs.)
        repo = f"env/through-proxy-{uuid.uuid4().hex[:12]}"
        d = c.push_image(repo, "latest", [images.busybox_layer()], {"Cmd": ["sh"]})
    assert oci.get_manifest(registry.url, repo, "latest")[1] == d
    assert any(m == "PUT" and "/blobs/uploads/" in p for m, p, _ in fault_proxy.log)


# -- per-test storage reset -------------------------------------------------------------------------


def test_clean_storage_wipes_and_writes_registries_conf(clean_storage, registry, fault_proxy):
    info = clean_storage
    conf = open(info.registries_conf).read()
    assert f'unqualified-search-registries = ["{registry.host}"]' in conf
    for host in (registry.host, fault_proxy.host):
        assert f'location = "{host}"\ninsecure = true' in conf
    assert os.stat(info.registries_conf).st_uid == info.uid
    assert user.sh_as_user(f"cat {info.registries_conf}", check=True).stdout == conf

    # Storage with files the user cannot delete itself (owned by a subuid) is wiped as root.
    data = info.storage_dirs[0]
    user.sh_as_user(f"mkdir -p {data}/x && echo hi > {data}/x/f", check=True)
    os.chown(f"{data}/x/f", 100999, 100999)
    os.chmod(f"{data}/x", 0o500)
    user.wipe_storage(info)
    assert not any(os.path.exists(d) for d in info.storage_dirs)
