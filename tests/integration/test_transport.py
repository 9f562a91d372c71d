"""Issue 5B: push, save, load, export, diff, image tree — as the unprivileged test user, against the
seeded registry, and checked against podman (scripts/test installs it)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import tarfile

import pytest

from tests.lib import images as seedimg
from tests.lib import oci
from tests.lib.checks import ok
from tests.lib.user import podman, pypod, pypod_bytes

pytestmark = pytest.mark.integration

# what the layered image looks like from inside a container (see tests/lib/images.py)
CHECK_LAYERED = ("cat /data/keep /data/keep2 /opq/new; ls /data/gone /opq/old1 2>&1 | wc -l; "
                 "stat -c '%u:%g %a' /data/owned /bin/suid; "
                 "[ $(stat -c %i /data/keep2) = $(stat -c %i /data/hard2) ] && echo hardlinked; readlink /data/link")
LAYERED_OUT = "keep\nkeep2\nnew\n2\n1000:1000 644\n0:0 4755\nhardlinked\nkeep\n"


def run_layered_check(image: str) -> str:
    return ok("run", "--rm", "--network", "none", image, "sh", "-c", CHECK_LAYERED).stdout


def test_commit_push_rmi_pull_run_round_trip(clean_storage, registry, shared_tmp):
    ok("pull", "-q", registry["layered"])
    ok("run", "--name", "c", "--network", "none", registry["layered"], "sh", "-c", "echo committed > /data/c")
    ok("commit", "-q", "c", "localhost/committed:1")
    dest = f"{registry.host}/pushed/committed:{secrets.token_hex(4)}"
    digestfile = shared_tmp / "digest"
    os.chmod(shared_tmp, 0o777)
    r = ok("push", "localhost/committed:1", f"docker://{dest}", "--digestfile", str(digestfile))
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert lines[0] == "Getting image source signatures"
    assert len([l for l in lines if l.startswith("Copying blob")]) == 3
    assert lines[-2:] == ["Writing manifest to image destination", "Storing signatures"]
    media, digest, raw = oci.get_manifest(registry.url, "pushed/committed", dest.rsplit(":", 1)[1])
    assert digestfile.read_text() == digest
    assert media == "application/vnd.oci.image.manifest.v1+json"  # the image's own type (commit: oci)
    # a second push re-creates nothing: the registry has every layer, the digest is the same
    again = ok("push", "--format", "oci", "localhost/committed:1", dest, "--digestfile", str(digestfile))
    assert sum("skipped: already exists" in l for l in again.stderr.splitlines()) == 3, again.stderr
    assert digestfile.read_text() == digest
    # -q: nothing at all; --format v2s2: a Docker schema 2 manifest
    v2_dest = dest + "-v2s2"
    q = ok("push", "-q", "--format", "v2s2", "localhost/committed:1", v2_dest)
    assert q.stdout == "" and q.stderr == ""
    assert oci.get_manifest(registry.url, "pushed/committed", v2_dest.rsplit(":", 1)[1])[0] == \
        "application/vnd.docker.distribution.manifest.v2+json"
    ok("rm", "c")
    ok("rmi", "localhost/committed:1", registry["layered"])
    assert ok("images", "-q").stdout == ""
    ok("pull", "-q", dest)
    assert run_layered_check(dest) == LAYERED_OUT
    assert ok("run", "--rm", "--network", "none", dest, "cat", "/data/c").stdout == "committed\n"
    # errors as podman: a missing image, an unreachable registry
    r = pypod("push", "nosuchimage", f"{registry.host}/x:1")
    assert r.returncode == 125 and r.stderr.strip() == "Error: nosuchimage: image not known"
    r = pypod("push", "--tls-verify=false", dest, "localhost:1/x:1")
    assert r.returncode == 125 and "connection refused" in r.stderr.lower()


def test_pulled_image_keeps_its_id_through_push_and_save(clean_storage, registry, shared_tmp):
    """The layers' original tars are kept (tar-split): pushing or saving a pulled image gives back
    its diff ids, so the image id is the registry's own, and loading it back changes nothing."""
    ok("pull", "-q", registry["layered"])
    image_id = ok("image", "inspect", "--format", "{{.Id}}", registry["layered"]).stdout.strip()
    dest = f"{registry.host}/kept-{secrets.token_hex(4)}/layered:1"
    ok("push", registry["layered"], dest)
    media, digest, raw = oci.get_manifest(registry.url, dest.split("/", 1)[1].rsplit(":", 1)[0], "1")
    assert json.loads(raw)["config"]["digest"] == f"sha256:{image_id}"
    os.chmod(shared_tmp, 0o777)
    archive = shared_tmp / "kept.tar"
    ok("save", "-q", "-o", str(archive), registry["layered"])
    ok("rmi", registry["layered"])
    ok("load", "-q", "-i", str(archive))
    assert ok("image", "inspect", "--format", "{{.Id}}", registry["layered"]).stdout.strip() == image_id
    assert run_layered_check(registry["layered"]) == LAYERED_OUT
    # and a second save of the loaded image is the same archive
    again = shared_tmp / "again.tar"
    ok("save", "-q", "-o", str(again), registry["layered"])
    assert again.read_bytes() == archive.read_bytes()


def test_push_retries_an_upload_the_registry_failed(clean_storage, registry, fault_proxy):
    ok("pull", "-q", registry["busybox"])
    # one 503 on an upload: the upload starts again and the push succeeds
    fault_proxy.fail_next(status=503, times=1, match="/blobs/uploads/")
    repo = f"retried-{secrets.token_hex(4)}"  # (the registry keeps its data between runs)
    dest = f"{fault_proxy.host}/{repo}/busybox:1"
    ok("push", registry["busybox"], dest)
    statuses = [st for m, path, st in fault_proxy.log if "/blobs/uploads/" in path]
    assert 503 in statuses and statuses[-1] in (201, 204)
    ok("rmi", registry["busybox"])
    ok("pull", "-q", dest)
    # a registry that keeps failing: the push fails after the tries, naming what failed
    fault_proxy.reset()
    fault_proxy.fail_next(status=503, times=10, match="/blobs/uploads/")
    r = pypod("push", dest, f"{fault_proxy.host}/{repo}/other:1")
    assert r.returncode == 125 and "writing blob" in r.stderr and "injected fault" in r.stderr
    tries = [st for m, path, st in fault_proxy.log if f"/{repo}/other/blobs/uploads/" in path]
    assert tries == [503, 503, 503]


def test_push_with_credentials(clean_storage, registry, basic_registry):
    ok("pull", "-q", registry["busybox"])
    dest = f"{basic_registry.host}/auth/busybox:{secrets.token_hex(4)}"
    r = pypod("push", "-q", registry["busybox"], dest)
    assert r.returncode == 125 and "authentication required" in r.stderr
    ok("push", "-q", "--creds", "alice:secret", registry["busybox"], dest)
    ok("rmi", registry["busybox"])
    ok("pull", "-q", "--creds", "alice:secret", dest)
    assert ok("run", "--rm", "--network", "none", dest, "echo", "pushed with creds").stdout == "pushed with creds\n"


def test_save_rmi_load_run_round_trip(clean_storage, registry, shared_tmp):
    os.chmod(shared_tmp, 0o777)
    name = registry["layered"]
    ok("pull", "-q", name)
    docker_tar, oci_tar, oci_dir = shared_tmp / "d.tar", shared_tmp / "o.tar", shared_tmp / "odir"
    r = ok("save", "-o", str(docker_tar), name)
    assert "Copying config sha256:" in r.stderr and r.stdout == ""
    ok("save", "-q", "--format", "oci-archive", "-o", str(oci_tar), name)
    ok("save", "-q", "--format", "oci-dir", "-o", str(oci_dir), name)
    with tarfile.open(docker_tar) as t:
        manifest = json.load(t.extractfile("manifest.json"))
    assert manifest[0]["RepoTags"] == [name] and len(manifest[0]["Layers"]) == 2
    # to stdout when it is not a terminal; deterministic: the same bytes every time
    piped = pypod_bytes("save", "-q", name)
    assert piped.returncode == 0 and piped.stdout == docker_tar.read_bytes()
    ok("rmi", name)
    r = ok("load", "-i", str(docker_tar))
    assert r.stdout == f"Loaded image: {name}\n"
    assert run_layered_check(name) == LAYERED_OUT
    ok("rmi", name)
    r = pypod_bytes("load", input=oci_tar.read_bytes())
    assert r.returncode == 0 and r.stdout == f"Loaded image: {name}\n".encode()
    assert run_layered_check(name) == LAYERED_OUT
    ok("rmi", name)
    assert ok("load", "-q", "-i", str(oci_dir)).stdout == f"Loaded image: {name}\n"
    assert run_layered_check(name) == LAYERED_OUT
    # two names of one image: one archive entry with both, and load prints each (podman 4.3)
    ok("tag", name, "localhost/second:1")
    ok("save", "-q", "-m", "-o", str(shared_tmp / "multi.tar"), name, "localhost/second:1")
    ok("rmi", "-f", name)
    assert ok("load", "-q", "-i", str(shared_tmp / "multi.tar")).stdout == \
        f"Loaded image: {name}\nLoaded image: localhost/second:1\n"
    # pypod's archives load into podman and run there
    tag = f"localhost/pypod-saved-{secrets.token_hex(4)}:latest"
    ok("tag", name, tag)
    for fmt in ("docker-archive", "oci-archive"):
        path = shared_tmp / f"for-podman-{fmt}.tar"
        ok("save", "-q", "--format", fmt, "-o", str(path), tag)
        p = podman("load", "-i", str(path))
        assert p.returncode == 0 and f"Loaded image: {tag}" in p.stdout, p.stderr
        p = podman("run", "--rm", "--network", "none", tag, "sh", "-c", CHECK_LAYERED)
        podman("rmi", "-f", tag)
        assert p.returncode == 0 and p.stdout == LAYERED_OUT, p.stderr


def test_archives_from_podman_load(clean_storage, shared_tmp):
    os.chmod(shared_tmp, 0o777)
    rootfs = shared_tmp / "rootfs.tar"
    rootfs.write_bytes(seedimg.busybox_tar())
    tag = f"localhost/from-podman-{secrets.token_hex(4)}:latest"
    p = podman("import", "-q", "--change", "CMD [\"sh\"]", str(rootfs), tag)
    assert p.returncode == 0, p.stderr
    image_id = p.stdout.strip().removeprefix("sha256:")
    try:
        for fmt in ("docker-archive", "oci-archive"):
            path = shared_tmp / f"{fmt}.tar"
            p = podman("save", "-q", "--format", fmt, "-o", str(path), tag)
            assert p.returncode == 0, p.stderr
            r = ok("load", "-i", str(path))
            assert r.stdout == f"Loaded image: {tag}\n"
            # the archive's config is kept byte for byte: podman's image id
            assert ok("image", "inspect", "--format", "{{.Id}}", tag).stdout.strip() == image_id
            assert ok("run", "--rm", "--network", "none", tag, "echo", f"from {fmt}").stdout == f"from {fmt}\n"
            ok("rmi", tag)
    finally:
        podman("rmi", "-f", tag)


def _docker_archive(layers: list[bytes], names: list[str], diff_ids: list[str] | None = None,
                    layer_names: list[str] | None = None) -> bytes:
    diff_ids = diff_ids or ["sha256:" + hashlib.sha256(l).hexdigest() for l in layers]
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                      "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    cname = hashlib.sha256(cfg).hexdigest() + ".json"
    layer_names = layer_names or [f"l{i}.tar" for i in range(len(layers))]
    members = {cname: cfg, "manifest.json": json.dumps([{"Config": cname, "RepoTags": names,
                                                           "Layers": layer_names}]).encode()}
    members.update({f"l{i}.tar": l for i, l in enumerate(layers)})
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for n, data in members.items():
            ti = tarfile.TarInfo(n)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def test_bad_and_hostile_archives_load_nothing(clean_storage, shared_tmp):
    good = seedimg.busybox_tar()
    storage = os.path.join(clean_storage.home, ".local/share/pypod/storage")
    # a layer that does not match the config's diff id: no image, no layer, no temp dir left
    r = pypod_bytes("load", input=_docker_archive([good], ["localhost/bad:1"], diff_ids=["sha256:" + "0" * 64]))
    assert r.returncode == 125 and b"does not match" in r.stderr
    assert ok("images", "-q").stdout == ""
    layers = os.path.join(storage, "layers")
    assert not os.path.isdir(layers) or os.listdir(layers) == []
    # a layer name that climbs out of the archive
    r = pypod_bytes("load", input=_docker_archive([good], ["localhost/bad:2"], layer_names=["../../etc/passwd"]))
    assert r.returncode == 125 and b"invalid layer name" in r.stderr
    # not an archive at all
    r = pypod_bytes("load", input=b"junk" * 1000)
    assert r.returncode == 125 and r.stderr.startswith(b"Error: payload does not match any of the supported image formats")
    assert ok("images", "-q").stdout == ""
    # a hostile layer: it loads, and nothing lands outside its layer
    hostile = oci.tar_bytes(seedimg.hostile_entries())
    archive = _docker_archive([hostile], ["localhost/hostile:1"])
    r = pypod_bytes("load", input=archive)
    assert r.returncode == 0 and r.stdout == b"Loaded image: localhost/hostile:1\n", r.stderr
    # its config (not compact JSON) is kept byte for byte: the image id is the archive's
    with tarfile.open(fileobj=io.BytesIO(archive)) as t:
        config_name = json.load(t.extractfile("manifest.json"))[0]["Config"]
    assert ok("images", "-q", "--no-trunc").stdout == f"sha256:{config_name[:-5]}\n"
    for target in seedimg.HOSTILE_TARGETS:
        assert not os.path.lexists(target), target


def test_export_diff_and_tree(clean_storage, registry, shared_tmp):
    os.chmod(shared_tmp, 0o777)
    name = registry["layered"]
    ok("pull", "-q", name)
    ok("run", "--name", "changed", "--network", "none", name, "sh", "-c",
       "echo hi > /data/new; rm /data/keep; echo x >> /etc/passwd; mkdir -p /tmp/t")
    assert ok("diff", "changed").stdout.splitlines() == [
        "C /data", "D /data/keep", "A /data/new", "C /etc", "C /etc/passwd", "C /tmp", "A /tmp/t"]
    # the same, as the changes from the image to the container
    assert ok("diff", name, "changed").stdout == ok("diff", "changed").stdout
    body = json.loads(ok("container", "diff", "--format", "json", "changed").stdout)
    assert body == {"changed": ["/data", "/etc", "/etc/passwd", "/tmp"], "added": ["/data/new", "/tmp/t"],
                    "deleted": ["/data/keep"]}
    # an image's top layer over the layers below: the whiteouts and the opaque dir show as D
    image_diff = ok("image", "diff", name).stdout.splitlines()
    for line in ("D /data/gone", "D /opq/old1", "D /opq/old2", "A /opq/new", "A /data/keep2", "A /bin/suid"):
        assert line in image_diff
    out = shared_tmp / "export.tar"
    ok("export", "-o", str(out), "changed")
    with tarfile.open(out) as t:
        m = {x.name.rstrip("/"): x for x in t.getmembers()}
        assert t.extractfile("data/new").read() == b"hi\n"
        assert t.extractfile("etc/passwd").read().endswith(b"x\n")
        for gone in ("data/keep", "data/gone", "opq/old1", "opq/old2"):
            assert gone not in m
        assert not [n for n in m if "/.wh." in n or n.startswith(".wh.")]
        assert (m["data/owned"].uid, m["data/owned"].gid) == (1000, 1000)
        assert m["bin/suid"].mode == 0o4755
        assert m["data/hard2"].isfile() and m["data/keep2"].islnk() and m["data/keep2"].linkname == "data/hard2"
        assert "bin/busybox" in m and "tmp/t" in m
    piped = pypod_bytes("container", "export", "changed")
    assert piped.returncode == 0 and len(piped.stdout) == out.stat().st_size
    for args, msg in ((("diff", "nosuch"), "nosuch not found: layer not known"),
                      (("container", "diff", "nosuch"), "nosuch not found: container not known"),
                      (("load", "-i", "/nonexist"), "stat /nonexist: no such file or directory")):
        r = pypod(*args)
        assert (r.returncode, r.stderr) == (125, f"Error: {msg}\n")
    r = pypod("export", "nosuch")
    assert r.returncode == 125 and r.stderr.strip() == 'Error: no container with name or ID "nosuch" found: no such container'
    tree = ok("image", "tree", name).stdout.splitlines()
    assert tree[0].startswith("Image ID: ") and tree[1] == f"Tags:     [{name}]" and tree[3] == "Image Layers"
    assert tree[4].startswith("├── ID: ") and tree[5].startswith("└── ID: ") and tree[5].endswith(f"Top Layer of: [{name}]")
