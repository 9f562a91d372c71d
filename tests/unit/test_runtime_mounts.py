"""The container's mount sequence, recorded through RecordingSyscalls (no privileges: the
mount-point preparation happens for real under tmp_path, the mounts are only recorded)."""

import os

import pytest

from pypod.linux import libc
from pypod.linux.syscalls import RecordingSyscalls
from pypod.runtime import init

NOSUID, NODEV, NOEXEC, RDONLY = libc.MS_NOSUID, libc.MS_NODEV, libc.MS_NOEXEC, libc.MS_RDONLY
BIND, REC, REMOUNT = libc.MS_BIND, libc.MS_REC, libc.MS_REMOUNT


@pytest.fixture
def box(tmp_path):
    root = tmp_path / "merged"
    cdir = tmp_path
    root.mkdir()
    for d in ("etc", "proc/sys", "proc/acpi", "sys/firmware", "tmp"):
        (root / d).mkdir(parents=True)
    (root / "proc/kcore").write_text("")
    (root / "proc/sysrq-trigger").write_text("")
    # /etc/resolv.conf is a symlink pointing outside: resolved inside the root
    os.symlink("/run/systemd/resolve/stub-resolv.conf", root / "etc/resolv.conf")
    for name, text in (("hosts", "127.0.0.1 localhost\n"), ("hostname", "h\n"),
                       ("resolv.conf", "nameserver 1.1.1.1\n"), (".containerenv", "")):
        (cdir / name).write_text(text)
    return str(root), str(cdir)


def _spec(**kw):
    s = {"id": "x", "hostname": "h", "network": "private", "mounts": [],
         "rootfs": {"lower": ["/l2", "/l1"], "upper": "/u", "work": "/w"}}
    s.update(kw)
    return s


def test_overlay_rootless_uses_userxattr(tmp_path):
    sc = RecordingSyscalls()
    up, wk = str(tmp_path / "upper"), str(tmp_path / "work")
    w = init.mount_rootfs(sc, {"lower": ["/a", "/b"], "upper": up, "work": wk}, "/m",
                          init.HostFacts(rootless=True))
    assert w == []
    assert sc.calls == [
        ("mount", None, "/", None, REC | libc.MS_PRIVATE, None),
        ("mount", "overlay", "/m", "overlay", 0,
         f"lowerdir=/a:/b,upperdir={up},workdir={wk},userxattr")]
    assert os.path.isdir(up) and os.path.isdir(wk)


def test_overlay_root_no_userxattr(tmp_path):
    sc = RecordingSyscalls()
    init.mount_rootfs(sc, {"lower": ["/a"], "upper": str(tmp_path / "u"),
                           "work": str(tmp_path / "w")}, "/m", init.HostFacts(rootless=False))
    assert not sc.mounts()[1][5].endswith("userxattr")


def test_overlay_falls_back_to_fuse(tmp_path):
    sc = RecordingSyscalls(fail={("mount", "overlay"): 22})
    w = init.mount_rootfs(sc, {"lower": ["/a"], "upper": str(tmp_path / "u"),
                               "work": str(tmp_path / "w")}, "/m",
                          init.HostFacts(rootless=True, fuse_overlayfs="/usr/bin/fuse-overlayfs"))
    assert sc.calls[-2][0] == "fuse_overlayfs" and "userxattr" not in sc.calls[-2][2]
    assert sc.calls[-1] == ("unshare", libc.CLONE_NEWNS)  # the daemon stays behind
    assert len(w) == 1 and "fuse-overlayfs" in w[0]


def test_overlay_refused_without_fuse(tmp_path):
    sc = RecordingSyscalls(fail={("mount", "overlay"): 1})
    with pytest.raises(init.SetupError, match="mount overlay"):
        init.mount_rootfs(sc, {"lower": ["/a"], "upper": str(tmp_path / "u"),
                               "work": str(tmp_path / "w")}, "/m", init.HostFacts(rootless=True))


def test_long_lowerdir_uses_relative_paths(tmp_path):
    base = str(tmp_path / "overlay")
    lower = [f"{base}/{'%064d' % i}/diff" for i in range(50)]
    sc = RecordingSyscalls()
    init.mount_rootfs(sc, {"lower": lower, "upper": f"{base}/ctr/diff",
                           "work": f"{base}/ctr/work"}, "/m", init.HostFacts(rootless=True))
    chdir, mount, back = sc.calls[1], sc.calls[2], sc.calls[3]
    assert chdir == ("chdir", base) and back == ("chdir", "/")
    assert mount[5].startswith(f"lowerdir={'%064d' % 0}/diff:") and len(mount[5]) < 4096
    with pytest.raises(init.SetupError, match="do not fit"):
        init.mount_rootfs(RecordingSyscalls(), {"lower": lower * 2, "upper": f"{base}/ctr/diff",
                                                "work": f"{base}/ctr/work"}, "/m",
                          init.HostFacts(rootless=True))


def test_rootfs_path_is_bound(tmp_path):
    sc = RecordingSyscalls()
    init.mount_rootfs(sc, {"path": str(tmp_path)}, "/m", init.HostFacts(rootless=True))
    assert sc.calls[1] == ("mount", str(tmp_path), "/m", None, BIND | REC, None)


def _targets(sc, root):
    return [(c[2][len(root):] if c[2] and c[2].startswith(root) else c[2], c[3])
            for c in sc.mounts()]


def test_setup_mounts_sequence_rootless_private_net(box):
    root, cdir = box
    sc = RecordingSyscalls(mount_flags=NOSUID | NODEV | NOEXEC)
    mounts = [{"type": "bind", "source": cdir, "destination": "/data/vol", "options": ["ro"]},
              {"type": "tmpfs", "source": "tmpfs", "destination": "/data",
               "options": ["size=1m", "mode=700"]}]
    w = init.setup_mounts(sc, _spec(mounts=mounts), cdir, root, init.HostFacts(rootless=True,
                                                                                gid5_mapped=True))
    assert w == []
    t = _targets(sc, root)
    assert t[0] == ("/proc", "proc")
    assert t[1] == ("/dev", "tmpfs")
    assert [x[0] for x in t[2:8]] == [f"/dev/{d}" for d in init.DEVICES]
    assert t[8] == ("/dev/pts", "devpts") and t[9] == ("/dev/shm", "tmpfs")
    assert t[10] == ("/dev/mqueue", "mqueue")
    assert t[11] == ("/sys", "sysfs")
    devpts = sc.mounts()[8]
    assert devpts[5] == "newinstance,ptmxmode=0666,mode=0620,gid=5"
    assert sc.mounts()[11][4] == RDONLY | NOSUID | NODEV | NOEXEC
    rest = [x[0] for x in t[12:]]
    # containerenv, hosts, hostname, resolv.conf (symlink resolved inside root), then the spec's
    # mounts parents first, then masks and read-only paths
    assert rest[:4] == ["/run/.containerenv", "/etc/hosts", "/etc/hostname",
                        "/run/systemd/resolve/stub-resolv.conf"]
    assert rest[4] == "/data"
    assert sc.mounts()[16][4] == NOSUID | NODEV | NOEXEC
    assert sc.mounts()[16][5] == "size=1m,mode=700"
    assert rest[5:7] == ["/data/vol", "/data/vol"]
    assert ("readonly_recursive", os.path.join(root, "data/vol")) in sc.calls
    ro = sc.mounts()[18]
    assert ro[4] == REMOUNT | BIND | NOSUID | NODEV | NOEXEC | RDONLY  # locked flags kept
    assert rest[7:] == ["/proc/acpi", "/proc/kcore", "/sys/firmware", "/proc/sys", "/proc/sys",
                        "/proc/sysrq-trigger", "/proc/sysrq-trigger"]
    assert sc.mounts()[19][3] == "tmpfs" and sc.mounts()[19][4] == RDONLY  # masked dir
    assert sc.mounts()[20][1] == "/dev/null"  # masked file
    # mount points and links were made inside the root
    assert os.path.islink(os.path.join(root, "dev/ptmx"))
    assert os.readlink(os.path.join(root, "dev/fd")) == "/proc/self/fd"
    assert os.readlink(os.path.join(root, "etc/mtab")) == "/proc/mounts"
    assert os.path.isfile(os.path.join(root, "run/systemd/resolve/stub-resolv.conf"))
    assert os.path.isdir(os.path.join(root, "data/vol"))
    assert not os.path.exists("/run/systemd/resolve/stub-resolv.conf.pypod-test")


def test_rootless_host_network_binds_sys_readonly(box):
    root, cdir = box
    sc = RecordingSyscalls(mount_flags=NOSUID | NODEV | NOEXEC)
    init.setup_mounts(sc, _spec(network="host"), cdir, root,
                      init.HostFacts(rootless=True, gid5_mapped=False))
    sysm = [c for c in sc.mounts() if c[2] == os.path.join(root, "sys")]
    assert sysm[0][1:5] == ("/sys", os.path.join(root, "sys"), None, BIND | REC)
    assert sysm[1][4] == REMOUNT | BIND | NOSUID | NODEV | NOEXEC | RDONLY
    devpts = [c for c in sc.mounts() if c[3] == "devpts"][0]
    assert "gid=5" not in devpts[5]


def test_sysfs_refused_falls_back_to_bind(box):
    root, cdir = box
    sc = RecordingSyscalls(fail={("mount", "sysfs"): 1})
    init.setup_mounts(sc, _spec(), cdir, root, init.HostFacts(rootless=True))
    sysm = [c for c in sc.mounts() if c[2] == os.path.join(root, "sys")]
    assert [c[3] for c in sysm] == ["sysfs", None, None]


def test_proc_refused_falls_back_with_warning(box):
    root, cdir = box
    sc = RecordingSyscalls(fail={("mount", "proc"): 1})
    w = init.setup_mounts(sc, _spec(), cdir, root, init.HostFacts(rootless=True))
    assert sc.mounts()[1][1:5] == ("/proc", os.path.join(root, "proc"), None, BIND | REC)
    assert w and "/proc" in w[0]


def test_readonly_root_and_tmpfs_dirs(box):
    root, cdir = box
    sc = RecordingSyscalls()
    sp = _spec()
    sp["rootfs"]["readonly"] = True
    init.setup_mounts(sc, sp, cdir, root, init.HostFacts(rootless=False))
    t = _targets(sc, root)
    for d in ("/run", "/tmp", "/var/tmp"):
        assert (d, "tmpfs") in t
    assert sc.mounts()[-1] == ("mount", None, root, None, REMOUNT | BIND | RDONLY, None)
    assert t.index(("/run", "tmpfs")) < t.index(("/run/.containerenv", None))


def test_user_mount_over_masked_path_skips_mask(box):
    root, cdir = box
    sc = RecordingSyscalls()
    init.setup_mounts(sc, _spec(mounts=[{"type": "bind", "source": cdir,
                                         "destination": "/proc/sys", "options": []}]),
                      cdir, root, init.HostFacts(rootless=False))
    assert [c[1] for c in sc.mounts() if c[2] == os.path.join(root, "proc/sys")] == [cdir]


def test_bind_mount_missing_source(box):
    root, cdir = box
    sc = RecordingSyscalls()
    with pytest.raises(init.SetupError, match="statfs /no/such: no such file or directory"):
        init.setup_mounts(sc, _spec(mounts=[{"type": "bind", "source": "/no/such",
                                             "destination": "/x"}]), cdir, root,
                          init.HostFacts(rootless=False))


def test_destination_symlink_cannot_escape(box, tmp_path):
    root, cdir = box
    os.symlink("../../../../../../outside", os.path.join(root, "escape"))
    sc = RecordingSyscalls()
    init.setup_mounts(sc, _spec(mounts=[{"type": "tmpfs", "source": "tmpfs",
                                         "destination": "/escape/x"}]), cdir, root,
                      init.HostFacts(rootless=False))
    target = [c[2] for c in sc.mounts() if c[3] == "tmpfs" and c[2].endswith("/x")][0]
    assert target == os.path.join(root, "outside/x")


def test_pivot_and_namespaces():
    sc = RecordingSyscalls()
    init.pivot(sc, "/c/merged")
    init.finish_namespaces(sc, {"hostname": "web", "network": "private"})
    assert sc.calls == [("chdir", "/c/merged"), ("pivot_root", ".", "."),
                        ("umount2", ".", libc.MNT_DETACH), ("chdir", "/"),
                        ("sethostname", "web"), ("loopback_up",)]
    sc = RecordingSyscalls()
    init.finish_namespaces(sc, {"hostname": "", "network": "host"})
    assert sc.calls == []


def test_mount_options():
    s, c, prop, data, rec = init.parse_mount_options(["ro", "nosuid", "rprivate", "size=1m",
                                                      "mode=1777", "bind", "Z"])
    assert s == RDONLY | NOSUID and prop == libc.MS_PRIVATE | REC and not rec
    assert data == ["size=1m", "mode=1777"]
    s, c, prop, data, rec = init.parse_mount_options(["exec", "rw"])
    assert c == NOEXEC | RDONLY and s == 0 and rec
