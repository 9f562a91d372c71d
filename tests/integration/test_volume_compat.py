"""Volumes and diff as podman 4.3's own system tests (160-volumes, 140-diff) check them."""

from __future__ import annotations

import json
import os

import pytest

from tests.lib.checks import ok, out
from tests.lib.user import pypod, sh_as_user

pytestmark = pytest.mark.integration


def user_dir(shared_tmp, name: str) -> str:
    path = str(shared_tmp / name)
    sh_as_user(f"mkdir {path}", check=True)
    return path


def test_the_same_mount_twice_is_taken_once_a_different_one_is_an_error(busybox, shared_tmp):
    os.chmod(shared_tmp, 0o777)
    v1, v2 = user_dir(shared_tmp, "v1"), user_dir(shared_tmp, "v2")
    ok("run", "--rm", "-v", f"{v1}:/vol1", "-v", f"{v1}:/vol1", busybox, "true")
    ok("run", "--rm", "-v", "h7vol:/vol1", "-v", "h7vol:/vol1", "--tmpfs", "/t", "--tmpfs", "/t", busybox, "true")
    for args, dest in ((["-v", f"{v1}:/vol1", "-v", f"{v2}:/vol1"], "/vol1"),
                       (["--tmpfs", v1, "--tmpfs", f"{v1}:ro"], v1),
                       (["-v", "h7vol:/vol2", "--tmpfs", "/vol2"], "/vol2")):
        r = pypod("run", "--rm", *args, busybox, "true")
        assert (r.returncode, r.stderr.strip()) == (125, f"Error: {dest}: duplicate mount destination")


def test_needs_copy_up_stays_until_a_mount_has_image_content(busybox):
    ok("volume", "create", "h7copy")
    row = json.loads(out("volume", "ls", "--format", "json"))[0]
    assert (row["NeedsCopyUp"], row["NeedsChown"]) == (True, True)
    ok("run", "--rm", "-v", "h7copy:/nothing-here", busybox, "true")
    assert out("volume", "inspect", "--format", "{{.NeedsCopyUp}} {{.NeedsChown}}", "h7copy").strip() == "true false"
    ok("run", "--rm", "-v", "h7copy:/etc", busybox, "ls", "/etc/passwd")
    assert out("volume", "inspect", "--format", "{{.NeedsCopyUp}}", "h7copy").strip() == "false"
    mountpoint = out("volume", "inspect", "--format", "{{.Mountpoint}}", "h7copy").strip()
    assert sh_as_user(f"test -e {mountpoint}/passwd").returncode == 0


def test_bind_volume_device_is_checked_at_create(busybox, shared_tmp):
    r = pypod("volume", "create", "-o", "type=bind", "-o", "device=/bogus", "h7bind")
    assert (r.returncode, r.stderr.strip()) == (
        125, "Error: invalid volume option device for driver 'local': stat /bogus: no such file or directory")
    os.chmod(shared_tmp, 0o777)
    src = user_dir(shared_tmp, "src")
    sh_as_user(f"echo hi > {src}/f", check=True)
    ok("volume", "create", "-o", "type=bind", "-o", f"device={src}", "h7bind")
    assert out("run", "--rm", "-v", "h7bind:/vol", busybox, "cat", "/vol/f").strip() == "hi"


def test_volume_mount_needs_unshare_when_rootless(clean_storage):
    ok("volume", "create", "h7mnt")
    r = pypod("volume", "mount", "h7mnt")
    assert r.returncode == 125
    assert r.stderr.strip() == ('Error: cannot run command "pypod volume mount" in rootless mode, '
                                "must execute `pypod unshare` first")
    where = out("unshare", "pypod", "volume", "mount", "h7mnt").strip()
    assert where == out("volume", "inspect", "--format", "{{.Mountpoint}}", "h7mnt").strip()


def test_chown_option_is_applied_again_at_restart(busybox, shared_tmp):
    os.chmod(shared_tmp, 0o777)
    d = user_dir(shared_tmp, "u")
    sh_as_user(f"touch {d}/test1", check=True)
    assert out("run", "--name", "h7user", "--user", "1000:2000", "-v", f"{d}:/data:U", busybox,
              "stat", "-c", "%u:%g", "/data").strip() == "1000:2000"
    ok("unshare", "chown", "-R", "100:200", d)
    assert out("start", "--attach", "h7user").strip() == "1000:2000"
    # the directory has the user already: a file chowned on purpose inside keeps its owner
    ok("unshare", "chown", "100:200", f"{d}/test1")
    assert out("start", "--attach", "h7user").strip() == "1000:2000"
    assert out("unshare", "stat", "-c", "%u:%g", f"{d}/test1").strip() == "100:200"
    ok("unshare", "rm", "-rf", d)


def test_diff_latest(busybox):
    ok("run", "--name", "h7diff", busybox, "sh", "-c", "touch /h7new; rm /etc/group")
    changes = json.loads(out("diff", "--format", "json", "-l"))
    assert changes["added"] == ["/h7new"] and changes["deleted"] == ["/etc/group"]
    r = pypod("diff")
    assert (r.returncode, r.stderr.strip()) == (125, 'Error: "pypod diff" requires a name, id, or the "--latest" flag')
    assert pypod("diff", "-l", "h7diff").returncode == 125


def test_image_volume_modes(busybox, shared_tmp):
    os.chmod(shared_tmp, 0o777)
    (shared_tmp / "Containerfile").write_text(f"FROM {busybox}\nVOLUME /data\n")
    os.chmod(shared_tmp / "Containerfile", 0o644)
    ok("build", "-q", "-t", "h7volimg", str(shared_tmp))
    assert out("run", "--rm", "--image-volume", "tmpfs", "h7volimg", "stat", "-f", "-c", "%T", "/data").strip() == "tmpfs"
    r = pypod("run", "--rm", "--image-volume", "ignore", "h7volimg", "stat", "-f", "-c", "%T", "/data")
    assert r.returncode == 1 and "No such file or directory" in r.stderr + r.stdout
    conf = shared_tmp / "containers.conf"
    conf.write_text('[engine]\nimage_volume_mode="tmpfs"\n')
    os.chmod(conf, 0o644)
    env = {"CONTAINERS_CONF": str(conf)}
    assert out("run", "--rm", "h7volimg", "stat", "-f", "-c", "%T", "/data", env=env).strip() == "tmpfs"
    assert out("run", "--rm", "--image-volume", "bind", "h7volimg", "stat", "-f", "-c", "%T", "/data",
              env=env).strip() != "tmpfs"
    assert pypod("run", "--rm", "--image-volume", "bogus", "h7volimg", "true").returncode == 125


def test_a_relative_image_volume_is_under_the_root(busybox, shared_tmp):
    # podman 070 "buildx - basic test": a VOLUME in non-JSON brackets gives odd but podman's paths
    os.chmod(shared_tmp, 0o777)
    (shared_tmp / "Dockerfile").write_text(f"FROM {busybox}\nVOLUME ['/etc/foo', '/etc/bar']\n")
    os.chmod(shared_tmp / "Dockerfile", 0o644)
    ok("build", "-q", "-t", "h7relvol", str(shared_tmp))
    assert out("run", "--rm", "h7relvol", "find", "/[", "/etc/bar]", "-print").split() == \
        ["/[", "/[/etc", "/[/etc/foo,", "/etc/bar]"]
