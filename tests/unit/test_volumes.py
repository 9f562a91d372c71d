"""Volume records, filters and the copy-up merge over layers (a temp dir, no privileges)."""

import os
import stat

import pytest

from pypod.engine import volumes as vol
from pypod.engine.context import Context
from pypod.errors import Conflict, InvalidArgument, PypodError


@pytest.fixture
def ctx(tmp_path):
    return Context(tmp_path / "storage", tmp_path / "run", rootless=True)


def test_create_get_list_remove(ctx):
    rec = vol.create_volume(ctx, "data", labels={"a": "b"}, options={})
    assert rec.name == "data" and os.path.isdir(vol.mountpoint(ctx, "data"))
    with pytest.raises(Conflict) as e:
        vol.create_volume(ctx, "data")
    assert e.value.message == "volume with name data already exists: volume already exists"
    assert vol.create_volume(ctx, "data", ignore=True).name == "data"
    anon = vol.create_volume(ctx, None)
    assert len(anon.name) == 64
    with pytest.raises(InvalidArgument):
        vol.create_volume(ctx, "bad/name")
    assert [r.name for r in vol.list_volumes(ctx, ["label=a=b"])] == ["data"]
    assert [r.name for r in vol.list_volumes(ctx, ["name=dat"])] == ["data"]
    info = vol.inspect_volume(ctx, rec, mount_count=0)
    assert info["Mountpoint"].endswith("/volumes/data/_data") and info["Labels"] == {"a": "b"}
    assert list(info) == ["Name", "Driver", "Mountpoint", "CreatedAt", "Labels", "Scope", "Options",
                          "MountCount", "NeedsCopyUp", "NeedsChown"]
    rep = vol.remove_volumes(ctx, ["data", "missing"])
    assert rep.removed == ["data"] and rep.errors[0].exit_code == 1
    assert vol.prune_volumes(ctx) == [anon.name]
    assert vol.vstore(ctx).names() == []


def test_driver_options():
    assert vol.parse_driver_opts(["type=tmpfs", "device=tmpfs", "o=size=2m"]) == {
        "type": "tmpfs", "device": "tmpfs", "o": "size=2m"}
    with pytest.raises(InvalidArgument):
        vol.parse_driver_opts(["bogus=1"])
    with pytest.raises(PypodError):
        vol.parse_driver_opts(["o=size=2m"])


def test_copy_up_merges_layers_with_whiteouts(tmp_path):
    l1, l2, data = tmp_path / "l1", tmp_path / "l2", tmp_path / "data"
    (l1 / "srv" / "sub").mkdir(parents=True)
    (l1 / "srv" / "gone").write_text("old")
    (l1 / "srv" / "sub" / "keep").write_text("k")
    (l2 / "srv").mkdir(parents=True)
    (l2 / "srv" / "new").write_text("n")
    os.symlink("/etc/passwd", l2 / "srv" / "link")
    data.mkdir()
    # a whiteout needs mknod (root); without it, check the rest of the merge
    try:
        os.mknod(l2 / "srv" / "gone", stat.S_IFCHR | 0o600, 0)
        whiteout = True
    except PermissionError:
        whiteout = False
    assert vol.image_has_path([str(l1), str(l2)], "/srv")
    assert not vol.image_has_path([str(l1)], "/nope")
    vol._do_copyup(str(data), "/srv", [str(l1), str(l2)])
    assert (data / "sub" / "keep").read_text() == "k"
    assert (data / "new").read_text() == "n"
    assert os.readlink(data / "link") == "/etc/passwd"
    if whiteout:
        assert not (data / "gone").exists()
