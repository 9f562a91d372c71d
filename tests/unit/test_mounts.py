"""Parsing of -v, --mount, --tmpfs and Docker's cp destination rules (pure logic)."""

import io
import os
import tarfile

import pytest

from pypod.engine import cp, mounts
from pypod.errors import InvalidArgument


def test_volume_forms():
    r = mounts.parse_volume("data:/srv:ro,z")
    assert (r.type, r.source, r.destination, r.readonly) == ("volume", "data", "/srv", True)
    r = mounts.parse_volume("/host/dir:/c:U")
    assert (r.type, r.source, r.chown) == ("bind", "/host/dir", True)
    r = mounts.parse_volume("/anon")
    assert (r.type, r.source, r.destination) == ("volume", "", "/anon")
    r = mounts.parse_volume("/anon:ro")
    assert (r.type, r.source, r.destination, r.readonly) == ("volume", "", "/anon", True)
    r = mounts.parse_volume("v:/x:nocopy")
    assert r.nocopy
    assert mounts.parse_volume("./rel:/x").source == os.path.abspath("./rel")


@pytest.mark.parametrize("bad", ["v:relative", "v:/x:bogus", "a:/b:ro,rw", "a:/b:c:d", "bad name:/x"])
def test_volume_errors(bad):
    with pytest.raises(InvalidArgument):
        mounts.parse_volume(bad)


def test_mount_flag():
    r = mounts.parse_mount("type=bind,src=/h,dst=/c,ro,bind-propagation=rslave")
    assert (r.type, r.source, r.destination, r.readonly, r.propagation) == ("bind", "/h", "/c", True, "rslave")
    r = mounts.parse_mount("type=volume,source=v,target=/d,readonly=false,volume-nocopy")
    assert (r.type, r.source, r.readonly, r.nocopy) == ("volume", "v", False, True)
    r = mounts.parse_mount("type=tmpfs,destination=/t,tmpfs-size=1m,tmpfs-mode=1777")
    assert r.tmpfs_opts == ["size=1m", "mode=1777"]
    for bad in ("type=nfs,dst=/x", "type=bind,dst=/x", "type=volume,src=v", "type=bind,src=/a,dst=/b,foo=1"):
        with pytest.raises(InvalidArgument):
            mounts.parse_mount(bad)


def test_tmpfs_defaults_as_podman():
    r = mounts.parse_tmpfs("/t:size=1m,exec")
    assert mounts.tmpfs_options(r.flags, r.tmpfs_opts) == ["rw", "exec", "nosuid", "nodev", "size=1m"]
    r = mounts.parse_tmpfs("/t")
    assert mounts.tmpfs_options(r.flags, r.tmpfs_opts) == ["rw", "noexec", "nosuid", "nodev"]


def test_runtime_and_inspect_views():
    resolved = [
        {"type": "volume", "source": "/s/v/_data", "destination": "/d", "name": "v", "rw": False,
         "options": ["rbind", "nosuid", "nodev", "ro"]},
        {"type": "bind", "source": "/h", "destination": "/b", "rw": True, "options": ["rbind"]},
        {"type": "tmpfs", "source": "tmpfs", "destination": "/t", "rw": True, "options": ["rw"]},
    ]
    from pypod.store.container_config import MountConfig

    resolved = [MountConfig.view(m) for m in resolved]  # (as the record gives them)
    rt = mounts.runtime_mounts(resolved)
    assert [m.type for m in rt] == ["bind", "bind", "tmpfs"]
    assert rt[0].options == ["rbind", "nosuid", "nodev", "ro"]
    ins = mounts.inspect_mounts(resolved)
    assert ins[0] == {"Type": "volume", "Name": "v", "Source": "/s/v/_data", "Destination": "/d",
                      "Driver": "local", "Mode": "", "Options": ["nosuid", "nodev", "rbind"], "RW": False,
                      "Propagation": "rprivate"}
    assert ins[1]["Options"] == ["rbind"] and len(ins) == 2


def test_volumes_from_keeps_mounts_and_mode():
    from pypod.store.container_config import ContainerConfig

    class Rec:
        config = ContainerConfig(resolved_mounts=[
            {"type": "volume", "source": "/s", "destination": "/d", "name": "v", "anonymous": True, "rw": True,
             "options": ["rbind", "nosuid", "nodev"]},
            {"type": "tmpfs", "source": "tmpfs", "destination": "/t", "options": []}])

    got = mounts.from_container(Rec(), "ro")
    assert len(got) == 1 and got[0]["options"][-1] == "ro" and not got[0]["rw"] and not got[0]["anonymous"]


def test_cp_split_ref():
    assert cp.split_ref("ctr:/etc") == ("ctr", "/etc")
    assert cp.split_ref("/host:x") == (None, "/host:x")
    assert cp.split_ref("-") == (None, "-")
    assert cp.split_ref("file") == (None, "file")


def test_cp_plan_rules():
    assert cp.plan("/dst", "dir", True, False, "src", "h") == "/dst/src"
    assert cp.plan("/dst", "dir", True, True, "src", "h") == "/dst"
    assert cp.plan("/dst", None, True, False, "src", "h") == "/dst"
    assert cp.plan("/dst", "file", False, False, "f", "h") == "/dst"
    assert cp.plan("/dst", "dir", False, False, "f", "h") == "/dst/f"
    with pytest.raises(cp.CopyError):
        cp.plan("/dst", "file", True, False, "src", "h")
    with pytest.raises(cp.CopyError):
        cp.plan("/nodir/", None, False, False, "f", "h")


def _tar(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, kind, data in entries:
            ti = tarfile.TarInfo(name)
            if kind == "dir":
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755
                tf.addfile(ti)
            elif kind == "sym":
                ti.type = tarfile.SYMTYPE
                ti.linkname = data
                tf.addfile(ti)
            else:
                ti.size = len(data)
                ti.mode = 0o644
                tf.addfile(ti, io.BytesIO(data))
    buf.seek(0)
    return buf


def test_extract_stays_inside_root(tmp_path):
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    (root / "etc").mkdir(parents=True)
    outside.mkdir()
    os.symlink("/", root / "up")                       # a container link to its own /
    os.symlink(str(outside), root / "abs")              # an absolute link: means root + outside
    stream = _tar([("s", "dir", b""), ("s/f", "file", b"x"), ("s/../../evil", "file", b"bad"),
                   ("s/l", "sym", "/etc"), ("s/l/passwd", "file", b"pw")])
    cp.extract(stream, str(root), cp._mapper("s", "/up/abs/t"), None, False)
    # /up/abs/t resolves to ROOT/<outside path>/t inside the container root, never to `outside`
    assert not os.listdir(outside)
    inside = str(root) + str(outside) + "/t"
    assert open(inside + "/f").read() == "x"
    assert os.readlink(inside + "/l") == "/etc"
    assert open(root / "etc" / "passwd").read() == "pw"  # through the link, inside the root
    assert not (tmp_path / "evil").exists()
