"""Image commands as podman 4.3's own system tests (010-images, 110-history, 120-load) check them."""

from __future__ import annotations

import functools
import http.server
import json
import os
import tarfile

import pytest

from tests.lib.checks import ok, out
from tests.lib.http import Background
from tests.lib.user import pypod

pytestmark = pytest.mark.integration


def test_image_templates_take_ID_and_reject_unknown_fields(busybox):
    full = out("image", "inspect", "--format", "{{.Id}}", busybox).strip()
    assert len(full) == 64
    assert out("inspect", "--format", "{{.XYZ}}", "--format", "{{.ID}}", busybox).strip() == full
    assert out("images", "--format", "{{.ID}}", busybox).strip() == full[:12]
    for cmd in (["inspect"], ["image", "inspect"], ["images"], ["history"]):
        r = pypod(*cmd, "--format", "{{.XYZ}}", busybox)
        assert r.returncode == 125 and "can't evaluate field XYZ" in r.stderr, (cmd, r)


def test_images_history_lists_removed_tags(busybox):
    ok("tag", busybox, "localhost/h7-one")
    ok("rmi", "localhost/h7-one")
    assert out("images", busybox, "--format", "{{.History}}").strip() == f"{busybox}, localhost/h7-one:latest"


def test_images_filter_after_since_before(busybox, shared_tmp):
    iid = out("inspect", "--format", "{{.ID}}", busybox).strip()
    assert out("images", "--noheading", f"--filter=after={iid}") == ""
    (shared_tmp / "Containerfile").write_text(f"FROM {busybox}\nLABEL h7=after\n")
    os.chmod(shared_tmp / "Containerfile", 0o644)
    new = out("build", "-q", "-t", "h7-newer", str(shared_tmp)).strip().splitlines()[-1].removeprefix("sha256:")
    fmt = "--format={{.ID}}--{{.Repository}}"
    for key in ("after", "since"):
        assert out("images", "--noheading", "--no-trunc", fmt, f"--filter={key}={iid}").strip() == \
            f"sha256:{new}--localhost/h7-newer"
    assert out("images", "--noheading", "--no-trunc", fmt, "--filter=before=h7-newer").strip() == \
        f"sha256:{iid}--{busybox.rsplit(':', 1)[0]}"


def test_rmi_by_digest_only_untags_that_reference(busybox):
    digest = out("inspect", "--format", "{{.Digest}}", busybox).strip()
    by_digest = f"{busybox.rsplit(':', 1)[0]}@{digest}"
    ok("pull", "-q", by_digest)
    before = out("images", "-a")
    assert out("rmi", by_digest).strip() == f"Untagged: {by_digest}"
    assert out("images", "-a") == before


def test_history_human_false_and_json_keys(busybox):
    table = out("history", "--human=false", busybox).splitlines()
    assert table[1].split()[1].endswith("Z") and "ago" not in table[1]
    rows = json.loads(out("history", "--format", "json", busybox))
    assert rows and all(len(r["id"]) == 64 or r["id"] == "<missing>" for r in rows)
    assert all(isinstance(r["size"], int) and r["created"].endswith("Z") for r in rows)
    listed = out("image", "list", "--format", "{{.CreatedSince}}--{{.CreatedAt}}", busybox).strip()
    assert out("history", "--format", "{{.CreatedSince}}--{{.CreatedAt}}", busybox).splitlines()[0] == listed


def test_save_uncompressed_oci_layers_are_plain_tar(busybox, shared_tmp):
    os.chmod(shared_tmp, 0o777)
    archive = shared_tmp / "u.tar"
    ok("save", "-q", "-o", str(archive), "--format", "oci-archive", "--uncompressed", busybox)
    with tarfile.open(archive) as tf:
        index = json.load(tf.extractfile("index.json"))
        manifest_digest = index["manifests"][0]["digest"].split(":")[1]
        manifest = json.load(tf.extractfile(f"blobs/sha256/{manifest_digest}"))
        for layer in manifest["layers"]:
            assert layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar"
            head = tf.extractfile("blobs/sha256/" + layer["digest"].split(":")[1]).read(512)
            assert head[257:262] == b"ustar"


def test_load_from_url(busybox, shared_tmp):
    os.chmod(shared_tmp, 0o777)
    ok("save", "-q", "-o", str(shared_tmp / "image.tar"), busybox)
    iid = out("inspect", "--format", "{{.Id}}", busybox).strip()
    ok("rmi", busybox)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(shared_tmp))
    handler.log_message = lambda *a: None
    with Background(handler) as server:
        assert out("load", "-q", "-i", f"{server.url}/image.tar").strip() == f"Loaded image: {busybox}"
        missing = pypod("load", "-i", f"{server.url}/nope.tar")
        assert missing.returncode == 125 and "404" in missing.stderr
    assert out("inspect", "--format", "{{.Id}}", busybox).strip() == iid


def test_empty_manifest_list_is_listed_inspected_and_removed(busybox):
    iid = out("inspect", "--format", "{{.Id}}", busybox).strip()
    list_id = out("manifest", "create", "h7list:1.0").strip()
    assert len(list_id) == 64 and list_id != iid
    ids = out("images", "--format", "{{.ID}}", "--no-trunc").split()
    assert f"sha256:{iid}" in ids and f"sha256:{list_id}" in ids
    assert json.loads(out("manifest", "inspect", "h7list:1.0")) == {
        "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
        "manifests": None}
    again = pypod("manifest", "create", "h7list:1.0")
    assert again.returncode == 125 and "that name is already in use" in again.stderr
    assert pypod("manifest", "exists", busybox).returncode == 1
    assert out("rmi", "h7list:1.0").splitlines() == ["Untagged: localhost/h7list:1.0", f"Deleted: {list_id}"]
    assert pypod("manifest", "exists", "h7list:1.0").returncode == 1


def test_manifest_rm_removes_lists_only(busybox):
    list_id = out("manifest", "create", "h7list2").strip()
    r = pypod("manifest", "rm", busybox)
    assert (r.returncode, r.stderr.strip()) == (125, f"Error: {busybox}: image is not a manifest list")
    assert out("manifest", "rm", "h7list2").splitlines() == ["Untagged: localhost/h7list2:latest", f"Deleted: {list_id}"]
