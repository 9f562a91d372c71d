"""COPY's layer tar from the context (Docker's directory rules, ignore rules, content digest) and the
merged view of image layers that COPY --from reads; layerdiff's tar of an upper dir."""

from __future__ import annotations

import io
import os
import stat
import tarfile

import pytest

from pypod.image import layerdiff
from pypod.image.build import copier
from pypod.image.build.ignore import Matcher, parse_ignore


def make(root, files: dict):
    for rel, content in files.items():
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(content)


def names(data: bytes) -> dict:
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        return {m.name: m for m in t.getmembers()}


def tar_of(fs, **spec) -> dict:
    buf = io.BytesIO()
    spec.setdefault("parents", [])
    copier.write_tar(fs, spec, buf)
    return names(buf.getvalue())


def test_directory_rules_and_ignore(tmp_path):
    make(tmp_path, {"a.txt": "a", "src/x.py": "x", "src/sub/y.py": "y", "secret": "s", "b.log": "l"})
    fs = copier.HostFS(str(tmp_path), Matcher(parse_ignore("secret\n*.log\n")))
    # a directory's contents go into the destination
    t = tar_of(fs, sources=["src"], dest="/app", dest_is_dir=False)
    assert set(t) == {"app", "app/x.py", "app/sub", "app/sub/y.py"}
    # a file onto a path without a slash: that path; with a slash: inside it
    assert set(tar_of(fs, sources=["a.txt"], dest="/b", dest_is_dir=False)) == {"b"}
    assert set(tar_of(fs, sources=["a.txt"], dest="/d/", dest_is_dir=True)) == {"d/a.txt"}
    # `COPY . /ctx/`: ignored files are absent
    t = tar_of(fs, sources=copier.expand_sources(fs, ["."]), dest="/ctx/", dest_is_dir=True)
    assert "ctx/a.txt" in t and "ctx/src/sub/y.py" in t and "ctx/secret" not in t and "ctx/b.log" not in t
    # globs match within one component; ignored files do not match
    assert copier.expand_sources(fs, ["*.txt", "src/*.py"]) == ["a.txt", "src/x.py"]
    with pytest.raises(copier.CopyError):
        copier.expand_sources(fs, ["*.log"])
    with pytest.raises(copier.CopyError):
        copier.expand_sources(fs, ["nothere"])


def test_chown_chmod_mtime(tmp_path):
    make(tmp_path, {"f": "data"})
    t = tar_of(copier.HostFS(str(tmp_path)), sources=["f"], dest="/x/f", uid=1000, gid=50, chmod=0o751,
               mtime=1234, parents=["/x"])
    assert t["x"].isdir() and t["x"].uid == 0
    assert (t["x/f"].uid, t["x/f"].gid, t["x/f"].mode, t["x/f"].mtime) == (1000, 50, 0o751, 1234)


def test_content_digest_ignores_mtime_but_not_content(tmp_path):
    make(tmp_path, {"f": "one"})
    fs = copier.HostFS(str(tmp_path))
    d1 = copier.content_digest(fs, copier.plan(fs, ["f"], "/f", False))
    os.utime(tmp_path / "f", (1, 1))
    assert copier.content_digest(fs, copier.plan(fs, ["f"], "/f", False)) == d1
    make(tmp_path, {"f": "two"})
    assert copier.content_digest(fs, copier.plan(fs, ["f"], "/f", False)) != d1


def test_add_extracts_local_archives(tmp_path):
    src = tmp_path / "in"
    make(src, {"p/q.txt": "q"})
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    with tarfile.open(ctx / "a.tar.gz", "w:gz") as t:
        t.add(src / "p", arcname="p")
    t = tar_of(copier.HostFS(str(ctx)), sources=["a.tar.gz"], dest="/opt/", dest_is_dir=True, extract=True)
    assert "opt/p/q.txt" in t


def test_layers_fs_merges_like_overlay(tmp_path, monkeypatch):
    # a fifo stands in for the overlay's 0:0 char device whiteout (mknod needs privileges)
    monkeypatch.setattr(layerdiff, "is_whiteout", lambda st: stat.S_ISFIFO(st.st_mode))
    low, up = tmp_path / "l0", tmp_path / "l1"
    make(low, {"etc/a": "A", "etc/b": "B", "opt/old": "o"})
    make(up, {"etc/c": "C", "opt/new": "n"})
    os.mkfifo(up / "etc" / "a")
    try:
        os.setxattr(up / "opt", "user.overlay.opaque", b"y")
    except OSError:
        pytest.fail("user xattrs are needed on the temp dir for the opaque-dir check")
    fs = copier.LayersFS([str(low), str(up)])
    assert fs.listdir("etc") == ["b", "c"]
    assert fs.lstat("etc/a") is None and fs.host("etc/b") == str(low / "etc" / "b")
    assert fs.listdir("opt") == ["new"] and fs.lstat("opt/old") is None


def test_layerdiff_opaque_and_runtime_files(tmp_path):
    up = tmp_path / "upper"
    make(up, {"etc/hosts": "", "etc/resolv.conf": "", "run/.containerenv": "", "data/x": "x", "new/y": "y"})
    os.symlink("/proc/mounts", up / "etc" / "mtab")
    os.setxattr(up / "new", "user.overlay.opaque", b"y")
    buf = io.BytesIO()
    layerdiff.write_tar([str(up)], buf, mtime=7, run_mounts=True)
    t = names(buf.getvalue())
    assert set(t) == {"data", "data/x", "new", "new/.wh..wh..opq", "new/y"}
    assert all(m.mtime == 7 for m in t.values())
    # the same tree gives the same bytes
    buf2 = io.BytesIO()
    layerdiff.write_tar([str(up)], buf2, mtime=7, run_mounts=True)
    assert buf2.getvalue() == buf.getvalue()


def test_source_dir_entry_does_not_leak_its_mode(tmp_path):
    make(tmp_path, {"src/x": "x"})
    os.chmod(tmp_path / "src", 0o700)
    fs = copier.HostFS(str(tmp_path))
    t = tar_of(fs, sources=["src"], dest="/app", dest_is_dir=False)
    assert t["app"].mode == 0o755 and "app/x" in t
    t = tar_of(fs, sources=["src"], dest="/usr/", dest_is_dir=True, dest_exists=True)
    assert set(t) == {"usr/x"}  # an existing directory keeps its owner and mode


def test_layers_fs_follows_directory_symlinks_inside_the_root(tmp_path):
    layer = tmp_path / "l0"
    make(layer, {"usr/bin/sh": "shell"})
    os.symlink("usr/bin", layer / "bin")
    os.symlink("/../../usr", layer / "up")
    fs = copier.LayersFS([str(layer)])
    assert fs.resolve("bin/sh") == "usr/bin/sh" and fs.host("bin/sh") == str(layer / "usr/bin/sh")
    assert fs.resolve("bin", follow_last=True) == "usr/bin" and fs.resolve("bin") == "bin"
    assert fs.resolve("up/bin/sh") == "usr/bin/sh"  # `..` cannot leave the root
    assert fs.listdir("bin") == ["sh"]


def test_context_symlinks_never_lead_out_of_the_context(tmp_path):
    # issue 13: `homelink -> $HOME` and `COPY homelink/secret /stolen` read the host's file;
    # podman resolves every component inside the context and finds nothing there
    outside = tmp_path / "home"
    make(outside, {"secret": "host secret"})
    ctx = tmp_path / "ctx"
    make(ctx, {"sub/f": "in context", "etc/hostname": "ctx host"})
    os.symlink(str(outside), ctx / "homelink")
    os.symlink("../home", ctx / "uplink")
    os.symlink("/etc/hostname", ctx / "abs")  # absolute: from the context's root
    os.symlink("sub", ctx / "lnk")
    os.symlink("sub/f", ctx / "flink")
    fs = copier.HostFS(str(ctx))
    for src in ["homelink/secret", "uplink/secret", "homelink", "uplink", "homelink/../home/secret"]:
        with pytest.raises(copier.CopyError, match=r'copier: stat: "/.*": no such file or directory'):
            copier.expand_sources(fs, [src])
    assert fs.lstat("homelink/secret") is None and fs.lstat("uplink/secret") is None
    # links that stay inside still work; a symlink named as a source is followed (buildah's rule)
    t = tar_of(fs, sources=copier.expand_sources(fs, ["lnk/f"]), dest="/a", dest_is_dir=False)
    assert t["a"].isreg() and t["a"].size == len("in context")
    t = tar_of(fs, sources=copier.expand_sources(fs, ["lnk"]), dest="/x/", dest_is_dir=True)
    assert set(t) == {"x", "x/f"} and t["x/f"].isreg()
    t = tar_of(fs, sources=copier.expand_sources(fs, ["flink", "abs"]), dest="/d/", dest_is_dir=True)
    assert t["d/flink"].isreg() and t["d/abs"].size == len("ctx host")
    # globs through a link stay inside as well
    assert copier.expand_sources(fs, ["lnk/*"]) == ["lnk/f"]
    with pytest.raises(copier.CopyError):
        copier.expand_sources(fs, ["homelink/*"])
    # a link inside a copied directory is copied as the link it is (never followed)
    os.symlink(str(outside / "secret"), ctx / "sub" / "s")
    t = tar_of(fs, sources=["sub"], dest="/y", dest_is_dir=False)
    assert t["y/s"].issym() and t["y/s"].linkname == str(outside / "secret")


def test_layers_fs_sources_stay_in_the_stage_root(tmp_path):
    layer = tmp_path / "l0"
    make(layer, {"data/f": "stage"})
    make(tmp_path, {"host/secret": "host secret"})
    os.symlink(str(tmp_path / "host"), layer / "out")
    os.symlink("../../host", layer / "up")
    os.symlink("data", layer / "dl")
    fs = copier.LayersFS([str(layer)])
    for src in ["out/secret", "up/secret"]:
        with pytest.raises(copier.CopyError):
            copier.expand_sources(fs, [src])
    t = tar_of(fs, sources=copier.expand_sources(fs, ["dl/f"]), dest="/f", dest_is_dir=False)
    assert t["f"].isreg() and t["f"].size == len("stage")


def test_ignore_walk_and_an_excluded_source_dir_as_buildah(tmp_path):
    files = ["test1", "test2", "subdir1/sub1", "subdir1/sub2", "subdir1/sub3", "subdir2/sub1", "subdir2/sub2"]
    make(tmp_path, {f: f for f in files})
    rules = "test*\n!test2*\nsubdir1\nsubdir2\n!*/sub1*\n!subdir1/sub3*\n"
    fs = copier.HostFS(str(tmp_path), Matcher(parse_ignore(rules)))
    t = tar_of(fs, sources=copier.expand_sources(fs, ["."]), dest="/n/", dest_is_dir=True)
    assert sorted(n for n, mem in t.items() if mem.isfile()) == ["n/subdir1/sub1", "n/subdir1/sub3", "n/test2"]
    # COPY of an excluded directory nothing re-includes from: podman's build fails
    with pytest.raises(copier.CopyError, match=r'copier: stat: "/subdir2": no such file or directory'):
        copier.expand_sources(fs, ["subdir2"])
    assert copier.expand_sources(fs, ["subdir1"]) == ["subdir1"]


def test_hard_links_stay_hard_links(tmp_path):
    make(tmp_path, {"Dockerfile": "x", "sub/other": "y"})
    os.link(tmp_path / "Dockerfile", tmp_path / "hardlink1")
    os.link(tmp_path / "Dockerfile", tmp_path / "sub/hardlink2")
    fs = copier.HostFS(str(tmp_path), None)
    t = tar_of(fs, sources=copier.expand_sources(fs, ["."]), dest="/test/", dest_is_dir=True)
    first = next(n for n in ("test/Dockerfile", "test/hardlink1", "test/sub/hardlink2") if t[n].isfile())
    links = [n for n in ("test/Dockerfile", "test/hardlink1", "test/sub/hardlink2") if n != first]
    assert all(t[n].islnk() and t[n].linkname == first for n in links)
    assert t["test/sub/other"].isfile()
