"""Layer tars re-created from layer dirs (layertar) and image archives (archive): pure logic on temp dirs."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile

import pytest

from pypod.image import archive, layertar


# -- helpers -----------------------------------------------------------------------------------------
def _mk(root, rel, data="x", mode=0o644):
    p = os.path.join(root, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w") as f:
        f.write(data)
    os.chmod(p, mode)
    return p


@pytest.fixture
def fake_overlay(monkeypatch):
    """Whiteouts and opaque dirs without privileges: a FIFO stands for the 0:0 device (see wh()),
    a directory of mode 0701 for an opaque one (see opaque())."""
    import stat

    monkeypatch.setattr(layertar, "is_whiteout", lambda st: stat.S_ISFIFO(st.st_mode))
    monkeypatch.setattr(layertar, "is_opaque", lambda p: (os.lstat(p).st_mode & 0o777) == 0o701)


def wh(root, rel):
    p = os.path.join(root, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    os.mkfifo(p)


def opaque(root, rel):
    p = os.path.join(root, rel)
    os.makedirs(p, exist_ok=True)
    os.chmod(p, 0o701)


def _tar_of(diff_dir) -> bytes:
    buf = io.BytesIO()
    w = layertar.TarWriter(buf)
    layertar.write_layer(str(diff_dir), w)
    w.close()
    return buf.getvalue()


def _members(raw: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(raw)) as t:
        return {m.name: m for m in t.getmembers()}


# -- layertar ------------------------------------------------------------------------------------------
def test_layer_tar_is_sorted_deterministic_and_keeps_links(tmp_path):
    d = tmp_path / "diff"
    _mk(d, "b/file", "hello", 0o4755)
    _mk(d, "a", "first")
    os.link(d / "b/file", d / "b/hard")
    os.symlink("file", d / "b/link")
    one, two = _tar_of(d), _tar_of(d)
    assert one == two  # the same layer gives the same digest every time
    with tarfile.open(fileobj=io.BytesIO(one)) as t:
        names = [m.name for m in t.getmembers()]
        assert names == ["a", "b", "b/file", "b/hard", "b/link"]
        m = {x.name: x for x in t.getmembers()}
        assert m["b"].isdir()
        assert m["b/file"].mode == 0o4755 and t.extractfile("b/file").read() == b"hello"
        assert m["b/hard"].islnk() and m["b/hard"].linkname == "b/file"
        assert m["b/link"].issym() and m["b/link"].linkname == "file"
        assert all(x.uname == "" and x.gname == "" for x in m.values())


def test_layer_tar_turns_overlay_whiteouts_into_oci_ones(tmp_path, fake_overlay):
    d = tmp_path / "diff"
    wh(d, "data/gone")
    opaque(d, "opq")
    _mk(d, "opq/new", "new")
    m = _members(_tar_of(d))
    assert "data/.wh.gone" in m and m["data/.wh.gone"].isfile() and m["data/.wh.gone"].size == 0
    assert "data/gone" not in m
    assert "opq/.wh..wh..opq" in m and "opq/new" in m
    assert list(m).index("opq") < list(m).index("opq/.wh..wh..opq")


def test_merged_view_honours_whiteouts_and_opaque_dirs(tmp_path, fake_overlay):
    lower, upper = tmp_path / "lower", tmp_path / "upper"
    _mk(lower, "keep", "lower keep")
    _mk(lower, "gone", "gone")
    _mk(lower, "opq/old", "old")
    _mk(lower, "dir/a", "a")
    _mk(lower, "shadowed/x", "x")
    wh(upper, "gone")
    opaque(upper, "opq")
    _mk(upper, "opq/new", "new")
    _mk(upper, "dir/b", "b")
    _mk(upper, "keep", "upper keep")
    _mk(upper, "shadowed", "now a file")
    buf = io.BytesIO()
    w = layertar.TarWriter(buf)
    layertar.write_merged([str(upper), str(lower)], w)
    w.close()
    with tarfile.open(fileobj=io.BytesIO(buf.getvalue())) as t:
        names = sorted(m.name for m in t.getmembers())
        assert names == ["dir", "dir/a", "dir/b", "keep", "opq", "opq/new", "shadowed"]
        assert t.extractfile("keep").read() == b"upper keep"
        assert t.getmember("shadowed").isfile()


def test_changes_like_podman_diff(tmp_path, fake_overlay):
    lower, upper = tmp_path / "lower", tmp_path / "upper"
    _mk(lower, "bin/ls", "ls")
    _mk(lower, "bin/sh", "sh")
    _mk(lower, "etc/passwd", "root")
    _mk(lower, "opq/old", "old")
    wh(upper, "bin/ls")
    _mk(upper, "etc/passwd", "root\nhi")
    _mk(upper, "tmp/d/f", "a")
    opaque(upper, "opq")
    _mk(upper, "opq/new", "n")
    wh(upper, "nothere")  # a whiteout of nothing below: no change to report
    got = layertar.changes(str(upper), [str(lower)])
    assert got == [("C", "/bin"), ("D", "/bin/ls"), ("C", "/etc"), ("C", "/etc/passwd"),
                   ("C", "/opq"), ("A", "/opq/new"), ("D", "/opq/old"),
                   ("A", "/tmp"), ("A", "/tmp/d"), ("A", "/tmp/d/f")]


# -- archive names ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,want", [
    ("manifest.json", "manifest.json"), ("./a/b.tar", "a/b.tar"), ("/abs/x", "abs/x"),
    ("../etc/passwd", None), ("a/../../b", None), ("a/..", None), (".", None), ("", None),
])
def test_clean_name(name, want):
    assert archive.clean_name(name) == want


def test_blob_names_must_be_digests():
    assert archive.blob_name("sha256:" + "a" * 64) == "blobs/sha256/" + "a" * 64
    for bad in ("sha256:../../etc/passwd", "sha512:" + "a" * 128, "sha256:" + "A" * 64, None, 5):
        with pytest.raises(archive.ArchiveError):
            archive.blob_name(bad)


# -- archives: write, read back ------------------------------------------------------------------------
class _Blob:
    def __init__(self, path, raw: bytes, compressed: bool = False):
        import gzip

        data = gzip.compress(raw, mtime=0) if compressed else raw
        with open(path, "wb") as f:
            f.write(data)
        self.path = str(path)
        self.diff_id = "sha256:" + hashlib.sha256(raw).hexdigest()
        self.digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self.size = len(data)
        self.compressed = compressed


def _layer_bytes(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for n, data in files.items():
            ti = tarfile.TarInfo(n)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def _config(blobs) -> bytes:
    return json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                       "rootfs": {"type": "layers", "diff_ids": [b.diff_id for b in blobs]}},
                      separators=(",", ":")).encode()


def test_docker_archive_round_trip(tmp_path):
    b1 = _Blob(tmp_path / "l1", _layer_bytes({"a": b"1"}))
    b2 = _Blob(tmp_path / "l2", _layer_bytes({"b": b"2"}))
    cfg = _config([b1, b2])
    out = tmp_path / "img.tar"
    with open(out, "wb") as f:
        archive.write_docker_archive(archive.TarSink(f), [archive.SavedImage(cfg, ["localhost/x:1"], [b1, b2])])
    with tarfile.open(out) as t:
        manifest = json.load(t.extractfile("manifest.json"))
        assert manifest == [{"Config": hashlib.sha256(cfg).hexdigest() + ".json", "RepoTags": ["localhost/x:1"],
                             "Layers": [b1.diff_id[7:] + ".tar", b2.diff_id[7:] + ".tar"]}]
        assert json.load(t.extractfile("repositories")) == {"localhost/x": {"1": b2.diff_id[7:]}}
    src = archive.TarSource(str(out))
    imgs = archive.read_images(src)
    assert len(imgs) == 1 and imgs[0].config_raw == cfg and imgs[0].names == ["localhost/x:1"]
    assert src.open(imgs[0].layers[1].member).read() == _layer_bytes({"b": b"2"})


def test_oci_layout_round_trip_dir_and_tar(tmp_path):
    b1 = _Blob(tmp_path / "l1", _layer_bytes({"a": b"1"}), compressed=True)
    cfg = _config([b1])
    imgs = [archive.SavedImage(cfg, ["localhost/x:1"], [b1])]
    archive.write_oci_layout(archive.DirSink(str(tmp_path / "layout")), imgs)
    index = json.loads((tmp_path / "layout/index.json").read_bytes())
    assert index["manifests"][0]["annotations"][archive.REF_NAME] == "localhost/x:1"
    got = archive.read_images(archive.DirSource(str(tmp_path / "layout")))
    assert got[0].config_raw == cfg and got[0].layers[0].digest == b1.digest
    with open(tmp_path / "o.tar", "wb") as f:
        archive.write_oci_layout(archive.TarSink(f), imgs)
    got = archive.read_images(archive.TarSource(str(tmp_path / "o.tar")))
    manifest = json.loads(got[0].manifest_raw)
    assert manifest["layers"][0]["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
    assert manifest["config"]["digest"] == "sha256:" + hashlib.sha256(cfg).hexdigest()


def _tar_with(path, members: dict[str, bytes], symlinks: dict[str, str] | None = None):
    with tarfile.open(path, "w") as t:
        for n, data in members.items():
            ti = tarfile.TarInfo(n)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
        for n, target in (symlinks or {}).items():
            ti = tarfile.TarInfo(n)
            ti.type, ti.linkname = tarfile.SYMTYPE, target
            t.addfile(ti)


def test_hostile_archive_names_are_refused(tmp_path):
    cfg = _config([])
    cname = hashlib.sha256(cfg).hexdigest() + ".json"
    bad = tmp_path / "bad.tar"
    _tar_with(bad, {"manifest.json": json.dumps([{"Config": cname, "RepoTags": [], "Layers": ["../../etc/passwd"]}]).encode(),
                    cname: cfg, "../escape": b"x"})
    with pytest.raises(archive.ArchiveError, match="invalid layer name"):
        archive.read_images(archive.TarSource(str(bad)))
    # a symlink member pointing out of the archive is never followed
    link = tmp_path / "link.tar"
    _tar_with(link, {"manifest.json": b"[]"}, {"layer.tar": "/etc/passwd", "up.tar": "../../etc/passwd"})
    src = archive.TarSource(str(link))
    assert "../escape" not in src.members
    for n in ("layer.tar", "up.tar"):
        with pytest.raises(archive.ArchiveError):
            src.open(n)
    # a config that does not match its digest name
    wrong = tmp_path / "wrong.tar"
    _tar_with(wrong, {"manifest.json": json.dumps([{"Config": "a" * 64 + ".json", "Layers": []}]).encode(),
                      "a" * 64 + ".json": cfg})
    with pytest.raises(archive.ArchiveError, match="does not match its digest"):
        archive.read_images(archive.TarSource(str(wrong)))


def test_not_an_archive(tmp_path):
    p = tmp_path / "junk"
    p.write_bytes(b"not a tar at all" * 100)
    with pytest.raises(archive.ArchiveError):
        archive.read_images(archive.TarSource(str(p)))
    empty = tmp_path / "empty.tar"
    _tar_with(empty, {"hello": b"x"})
    with pytest.raises(archive.ArchiveError, match="supported image formats"):
        archive.read_images(archive.TarSource(str(empty)))


# -- push and tree helpers ---------------------------------------------------------------------------
def test_push_format_follows_the_image_unless_asked():
    from pypod.errors import PypodError
    from pypod.image import mediatypes as mt
    from pypod.image.push import check_format

    assert check_format(None, mt.DOCKER_MANIFEST) == "v2s2"
    assert check_format(None, mt.OCI_MANIFEST) == "oci"
    assert check_format("oci", mt.DOCKER_MANIFEST) == "oci"
    assert check_format("v2s2", mt.OCI_MANIFEST) == "v2s2"
    with pytest.raises(PypodError, match="Choose on of the supported formats"):
        check_format("zip", mt.OCI_MANIFEST)


def test_manifests_for_both_formats(tmp_path):
    b = _Blob(tmp_path / "l", _layer_bytes({"a": b"1"}), compressed=True)
    cfg = _config([b])
    docker = json.loads(archive.oci_manifest(cfg, [b], docker=True))
    assert docker["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert docker["config"]["mediaType"] == "application/vnd.docker.container.image.v1+json"
    assert docker["layers"] == [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                                 "digest": b.digest, "size": b.size}]
    o = json.loads(archive.oci_manifest(cfg, [b]))
    assert o["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert o["config"] == {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": "sha256:" + hashlib.sha256(cfg).hexdigest(), "size": len(cfg)}


def test_tree_sizes_like_podman():
    from pypod.engine.transport import _tree_size

    assert [_tree_size(n) for n in (0, 9216, 2140160, 2151000, 121_000_000)] == \
        ["0B", "9.216kB", "2.14MB", "2.151MB", "121MB"]


def test_docker_archive_stores_a_shared_layer_once(tmp_path):
    b1 = _Blob(tmp_path / "l1", _layer_bytes({"a": b"1"}))
    b2 = _Blob(tmp_path / "l2", _layer_bytes({"b": b"2"}))
    imgs = [archive.SavedImage(_config([b1]), ["localhost/a:1"], [b1]),
            archive.SavedImage(_config([b1, b2]), ["localhost/b:1", "localhost/b:2"], [b1, b2])]
    out = tmp_path / "two.tar"
    with open(out, "wb") as f:
        archive.write_docker_archive(archive.TarSink(f), imgs)
    with tarfile.open(out) as t:
        names = t.getnames()
        assert names.count(b1.diff_id[7:] + ".tar") == 1
        assert json.load(t.extractfile("repositories")) == {
            "localhost/a": {"1": b1.diff_id[7:]}, "localhost/b": {"1": b2.diff_id[7:], "2": b2.diff_id[7:]}}
    got = archive.read_images(archive.TarSource(str(out)))
    assert [g.names for g in got] == [["localhost/a:1"], ["localhost/b:1", "localhost/b:2"]]
