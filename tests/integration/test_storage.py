"""Issue 6: volumes, bind mounts, tmpfs, cp, unshare/mount and system reset, rootless, as podman's."""

from __future__ import annotations

import io
import json
import os
import tarfile

import pytest

from tests.lib.checks import ok
from tests.lib.user import pypod, pypod_bytes

pytestmark = pytest.mark.integration


@pytest.fixture
def user_dir(shared_tmp, test_user):
    d = shared_tmp / "owned"
    d.mkdir()
    os.chown(d, test_user.uid, test_user.gid)
    return d


def test_named_volume_persists_ro_refuses_and_cli(busybox):
    assert ok("volume", "create", "--label", "team=a", "data").stdout == "data\n"
    r = pypod("volume", "create", "data")
    assert r.returncode == 125
    assert r.stderr == "Error: volume with name data already exists: volume already exists\n"
    ok("run", "--rm", "-v", "data:/srv", busybox, "sh", "-c", "echo persisted > /srv/f")
    assert ok("run", "--rm", "-v", "data:/srv", busybox, "cat", "/srv/f").stdout == "persisted\n"
    r = pypod("run", "--rm", "-v", "data:/srv:ro", busybox, "sh", "-c", "echo x > /srv/g")
    assert r.returncode == 1 and "Read-only file system" in r.stderr
    assert ok("volume", "ls").stdout == "DRIVER      VOLUME NAME\nlocal       data\n"
    assert ok("volume", "ls", "-q", "--filter", "label=team=a").stdout == "data\n"
    info = json.loads(ok("volume", "inspect", "data").stdout)
    assert info[0]["Name"] == "data" and info[0]["Labels"] == {"team": "a"}
    assert info[0]["Mountpoint"].endswith("/storage/volumes/data/_data")
    assert ok("volume", "inspect", "--format", "{{.Driver}} {{.Scope}}", "data").stdout == "local local\n"
    assert pypod("volume", "exists", "data").returncode == 0
    assert pypod("volume", "exists", "nope").returncode == 1
    # a new named volume over image content gets the content (copy-up); image-less paths stay empty
    assert "passwd" in ok("run", "--rm", "-v", "etcvol:/etc", busybox, "ls", "/etc").stdout
    # in use: refused (2), then an anonymous volume goes with `rm -v`
    cid = ok("create", "-v", "data:/srv", "-v", "/anon", busybox, "true").stdout.strip()
    r = pypod("volume", "rm", "data")
    assert r.returncode == 2 and "volume is being used" in r.stderr
    mounts = json.loads(ok("inspect", "--format", "{{json .Mounts}}", cid).stdout)
    assert [(m["Type"], m["Destination"], m["Options"]) for m in mounts] == [
        ("volume", "/srv", ["nosuid", "nodev", "rbind"]), ("volume", "/anon", ["nosuid", "nodev", "rbind"])]
    anon = mounts[1]["Name"]
    assert ok("run", "--rm", "--volumes-from", f"{cid}:ro", busybox, "cat", "/srv/f").stdout == "persisted\n"
    ok("rm", "-v", cid)
    assert pypod("volume", "exists", anon).returncode == 1
    ok("run", "--rm", "-v", "/scratch", busybox, "true")  # --rm takes its anonymous volume along
    assert sorted(ok("volume", "ls", "-q").stdout.split()) == ["data", "etcvol"]
    r = pypod("volume", "rm", "nope")
    assert r.returncode == 1 and r.stderr == 'Error: no volume with name "nope" found: no such volume\n'
    assert ok("volume", "rm", "data").stdout == "data\n"
    assert ok("volume", "prune", "-f").stdout == "etcvol\n"


def test_bind_ownership_tmpfs_mount_ro(busybox, user_dir, test_user):
    (user_dir / "mine").write_text("hi")
    os.chown(user_dir / "mine", test_user.uid, test_user.gid)
    r = ok("run", "--rm", "-v", f"{user_dir}:/b", busybox, "sh", "-c",
           "echo x > /b/from-root; stat -c '%u %g' /b/mine")
    assert r.stdout == "0 0\n"  # the user's file is root's inside
    st = os.stat(user_dir / "from-root")
    assert (st.st_uid, st.st_gid) == (test_user.uid, test_user.gid)  # container root's file is the user's
    r = ok("run", "--rm", "--tmpfs", "/scratch:size=1m", busybox, "grep", " /scratch ", "/proc/mounts")
    assert r.stdout.startswith("tmpfs /scratch tmpfs rw,nosuid,nodev,noexec")
    assert "size=1024k" in r.stdout
    r = pypod("run", "--rm", "--mount", f"type=bind,src={user_dir},dst=/b,ro", busybox, "touch", "/b/z")
    assert r.returncode == 1 and "Read-only file system" in r.stderr
    r = pypod("run", "--rm", "--read-only", busybox, "touch", "/z")
    assert r.returncode == 1 and "Read-only file system" in r.stderr
    assert ok("run", "--rm", "--read-only", busybox, "touch", "/tmp/ok").returncode == 0
    r = pypod("run", "--rm", "-v", "/no/such/dir:/x", busybox, "true")
    assert r.returncode == 125 and r.stderr == "Error: statfs /no/such/dir: no such file or directory\n"


def test_cp_both_ways_and_container_symlinks(busybox, user_dir, shared_tmp):
    marker = os.path.basename(shared_tmp) + "-cp-escape"
    ok("run", "--name", "c", busybox, "sh", "-c",
       "echo container-passwd > /etc/passwd; ln -s /etc/passwd /pw; ln -s / /up;"
       "mkdir -p /d/sub; echo f > /d/sub/f")
    # out: the link resolves inside the container, never to the host's /etc/passwd
    ok("cp", "c:/pw", str(user_dir / "pw"))
    assert (user_dir / "pw").read_text() == "container-passwd\n"
    # in: through a link to / in the container, nothing lands on the host
    src = user_dir / "in.txt"
    src.write_text("payload")
    ok("cp", str(src), f"c:/up/tmp/{marker}")
    assert not os.path.exists(f"/tmp/{marker}")
    ok("cp", f"c:/tmp/{marker}", str(user_dir / "back"))
    assert (user_dir / "back").read_text() == "payload"
    # directories: into an existing dir, contents with /., and a tar stream on stdout
    ok("cp", "c:/d", str(user_dir))
    assert (user_dir / "d" / "sub" / "f").read_text() == "f\n"
    ok("cp", "c:/d/.", str(user_dir / "flat"))
    assert (user_dir / "flat" / "sub" / "f").exists()
    r = pypod_bytes("cp", "c:/d", "-")
    assert r.returncode == 0
    names = tarfile.open(fileobj=io.BytesIO(r.stdout)).getnames()
    assert sorted(names) == ["d", "d/sub", "d/sub/f"]
    # a running container, and errors as podman's
    ok("run", "-d", "--name", "r", busybox, "sleep", "60")
    ok("cp", str(src), "r:/")
    assert ok("exec", "r", "cat", "/in.txt").stdout == "payload"
    r = pypod("cp", "r:/nope", str(user_dir))
    assert r.returncode == 125
    assert r.stderr == 'Error: "/nope" could not be found on container r: no such file or directory\n'
    r = pypod("cp", "/no/such", "r:/")
    assert r.stderr == 'Error: "/no/such" could not be found on the host: no such file or directory\n'
    ok("rm", "-f", "-t", "0", "r")


def test_unshare_mount_and_system_reset(busybox, test_user):
    assert ok("unshare", "id", "-u").stdout == "0\n"
    cid = ok("create", busybox, "true").stdout.strip()
    r = pypod("mount", cid)
    assert r.returncode == 125 and "must execute `pypod unshare` first" in r.stderr
    r = ok("unshare", "sh", "-c", f'd=$(pypod mount {cid}) && ls "$d/bin/busybox" && pypod unmount {cid}')
    assert r.stdout.splitlines()[-2].endswith("/merged/bin/busybox") and r.stdout.splitlines()[-1] == cid
    # files owned by subordinate ids, in a volume and in a container's layer
    ok("run", "-v", "v:/v", busybox, "sh", "-c", "touch /v/f /x && chown 1234:1234 /v/f /x")
    data = os.path.join(test_user.home, ".local/share/pypod")
    venv_marker = os.path.join(data, "venv", "keep")
    ok("unshare", "sh", "-c", f"mkdir -p {data}/venv && touch {venv_marker} && chown 0:0 {venv_marker}")
    ok("system", "reset", "-f")
    assert os.listdir(os.path.join(data, "storage")) == []
    assert not os.listdir(os.path.join(test_user.runtime_dir, "pypod"))
    assert os.path.exists(venv_marker)  # pypod's own install dir is not storage
    assert ok("volume", "ls", "-q").stdout == "" and ok("ps", "-aq").stdout == ""


def test_image_volume_gets_an_anonymous_volume_with_the_image_content(clean_storage, shared_tmp):
    from tests.lib.rootfs import build_busybox_rootfs_tar

    tar = shared_tmp / "rootfs.tar"
    build_busybox_rootfs_tar(str(tar))
    os.chmod(tar, 0o644)
    ok("import", "-q", "--change", "VOLUME /bin", str(tar), "volimg")
    cid = ok("create", "volimg", "/bin/sh", "-c", "ls /bin/sh && touch /bin/new").stdout.strip()
    mounts = json.loads(ok("inspect", "--format", "{{json .Mounts}}", cid).stdout)
    assert [(m["Type"], m["Destination"]) for m in mounts] == [("volume", "/bin")]
    assert ok("start", "-a", cid).stdout == "/bin/sh\n"  # copied up: the shell runs from the volume
    assert ok("volume", "ls", "-q").stdout.split() == [mounts[0]["Name"]]
    ok("rm", "-v", cid)
    assert ok("volume", "ls", "-q").stdout == ""


def test_overlay_volume_keeps_the_host_directory_unchanged(busybox, user_dir, test_user):
    (user_dir / "seen").write_text("from-host\n")
    os.chown(user_dir / "seen", test_user.uid, test_user.gid)
    r = ok("run", "--name", "ov", "-v", f"{user_dir}:/data:O", busybox, "sh", "-c",
           "cat /data/seen; echo new > /data/added; rm /data/seen; ls /data")
    assert r.stdout == "from-host\nadded\n"
    # the host directory is the lower layer only: nothing the container did reaches it
    assert sorted(os.listdir(user_dir)) == ["seen"]
    assert (user_dir / "seen").read_text() == "from-host\n"
    # the next run starts from the host's content again (the upper layer is thrown away)
    assert ok("start", "-a", "ov").stdout == "from-host\nadded\n"
    info = json.loads(ok("inspect", "ov").stdout)[0]
    assert info["Mounts"][0]["Source"] == str(user_dir) and "O" in info["Mounts"][0]["Options"]
    # upperdir=/workdir= keep the changes where the user says
    upper, work = user_dir.parent / "upper", user_dir.parent / "work"
    for d in (upper, work):
        d.mkdir()
        os.chown(d, test_user.uid, test_user.gid)
    ok("run", "--rm", "-v", f"{user_dir}:/data:O,upperdir={upper},workdir={work}", busybox,
       "sh", "-c", "echo kept > /data/k")
    assert (upper / "k").read_text() == "kept\n" and not (user_dir / "k").exists()
    r = pypod("run", "--rm", "-v", "somevol:/data:O", busybox, "true")
    assert r.returncode == 125 and "needs a host directory" in r.stderr


def test_cp_overwrite_between_files_and_directories(busybox, user_dir):
    ok("run", "--name", "cw", busybox, "sh", "-c", "mkdir -p /t/x && echo in-dir > /t/x/f; "
       "echo a-file > /t/y")
    (user_dir / "x").write_text("host-file-x")
    (user_dir / "y").mkdir()
    # a directory over a file, a file over a directory: refused without --overwrite
    r = pypod("cp", "cw:/t/x", str(user_dir))
    assert r.returncode == 125 and "cannot overwrite non-directory" in r.stderr, r.stderr
    assert (user_dir / "x").read_text() == "host-file-x"
    r = pypod("cp", "cw:/t/y", str(user_dir))
    assert r.returncode == 125 and "cannot overwrite directory" in r.stderr, r.stderr
    assert (user_dir / "y").is_dir()
    ok("cp", "--overwrite", "cw:/t/x", str(user_dir))
    ok("cp", "--overwrite", "cw:/t/y", str(user_dir))
    assert (user_dir / "x" / "f").read_text() == "in-dir\n"
    assert (user_dir / "y").read_text() == "a-file\n"


def test_pypod_inside_unshare_sees_the_users_storage(busybox):
    ok("volume", "create", "mine")
    ok("create", "--name", "inside", busybox, "true")
    outside = ok("images", "-q").stdout + ok("volume", "ls", "-q").stdout + ok("ps", "-aq").stdout
    inside = ok("unshare", "sh", "-c", "pypod images -q; pypod volume ls -q; pypod ps -aq").stdout
    assert inside == outside and "mine" in inside
