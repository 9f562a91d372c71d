"""Layer unpacking: entry types, metadata, whiteouts, hostile layers (nothing lands outside)."""

from __future__ import annotations

import io
import os
import stat
import tarfile
import uuid

import pytest

from pypod.image.unpack import FD_CACHE_SIZE, LayerError, UnpackStats, unpack_layer

MTIME = 1_600_000_000


# -- building layers -------------------------------------------------------------------------------


def _info(name: str, kind=tarfile.REGTYPE, **attrs) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mtime = MTIME
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    for key, value in attrs.items():
        setattr(info, key, value)
    return info


def f(name: str, data: bytes = b"", **attrs):
    return _info(name, size=len(data), **attrs), data


def d(name: str, **attrs):
    return _info(name, tarfile.DIRTYPE, **attrs), None


def sym(name: str, target: str, **attrs):
    return _info(name, tarfile.SYMTYPE, linkname=target, **attrs), None


def hard(name: str, target: str, **attrs):
    return _info(name, tarfile.LNKTYPE, linkname=target, **attrs), None


def dev(name: str, kind=tarfile.CHRTYPE, major=0, minor=0):
    return _info(name, kind, devmajor=major, devminor=minor), None


def layer(*entries, fmt=tarfile.PAX_FORMAT) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


@pytest.fixture
def root(tmp_path):
    # Nested, so `../..` from the layer stays inside tmp_path where the test can look.
    path = tmp_path / "storage" / "layers" / "diff"
    path.mkdir(parents=True)
    return path


def unpack(data: bytes, dest, **kwargs) -> UnpackStats:
    return unpack_layer(io.BytesIO(data), str(dest), **kwargs)


def unique(tmp_path, what: str = "evil"):
    """A fresh host path outside the layer that a hostile entry aims at."""
    return tmp_path / f"{what}-{uuid.uuid4().hex}"


# -- entry types -----------------------------------------------------------------------------------


def test_regular_files_directories_and_symlinks(root):
    stats = unpack(
        layer(
            d("etc"),
            f("etc/hostname", b"box\n"),
            f("./usr/bin/tool", b"#!/bin/sh\n", mode=0o755),  # parents created implicitly
            sym("bin", "usr/bin"),
            sym("etc/abs", "/etc/hostname"),
            f("empty"),
        ),
        root,
    )
    assert (root / "etc/hostname").read_bytes() == b"box\n"
    assert (root / "usr/bin/tool").read_bytes() == b"#!/bin/sh\n"
    assert os.readlink(root / "bin") == "usr/bin"
    assert os.readlink(root / "etc/abs") == "/etc/hostname"
    assert (root / "empty").stat().st_size == 0
    assert stat.S_IMODE((root / "usr").stat().st_mode) == 0o755  # implicit parents: 0755
    assert stats.size == len(b"box\n") + len(b"#!/bin/sh\n")
    assert stats.files == 6
    assert stats.skipped == []


def test_mtimes_of_files_symlinks_and_directories(root):
    unpack(
        layer(
            d("dir", mtime=MTIME - 100),
            f("dir/file", b"x", mtime=MTIME - 200),
            sym("dir/link", "file", mtime=MTIME - 300),
            d("dir/sub", mtime=MTIME - 400),
            f("dir/sub/later", b"y"),  # written after its directory: must not disturb its mtime
        ),
        root,
    )
    assert os.stat(root / "dir").st_mtime == MTIME - 100
    assert os.stat(root / "dir/file").st_mtime == MTIME - 200
    assert os.lstat(root / "dir/link").st_mtime == MTIME - 300
    assert os.stat(root / "dir/sub").st_mtime == MTIME - 400


def test_pax_fractional_mtime(root):
    info, data = f("precise", b"x")
    info.pax_headers = {"mtime": "1600000000.123456789"}
    unpack(layer((info, data)), root)
    assert os.stat(root / "precise").st_mtime_ns == 1_600_000_000_123_456_789


def test_hardlinks_share_the_inode(root):
    stats = unpack(
        layer(
            f("usr/bin/gzip", b"gzip binary"),
            hard("usr/bin/gunzip", "usr/bin/gzip"),
            hard("./usr/bin/zcat", "./usr/bin/gzip"),
        ),
        root,
    )
    ino = os.stat(root / "usr/bin/gzip").st_ino
    assert os.stat(root / "usr/bin/gunzip").st_ino == ino
    assert os.stat(root / "usr/bin/zcat").st_ino == ino
    assert os.stat(root / "usr/bin/gzip").st_nlink == 3
    assert stats.skipped == []


def test_modes_including_setuid_setgid_and_sticky(root):
    unpack(
        layer(
            f("bin/su", b"su", mode=0o4755),
            f("bin/wall", b"wall", mode=0o2755),
            d("tmp", mode=0o1777),
            d("ro", mode=0o555),
            f("ro/inside", b"written after its parent's mode was recorded", mode=0o400),
            f("secret", b"s", mode=0o000),
        ),
        root,
    )
    assert stat.S_IMODE(os.stat(root / "bin/su").st_mode) == 0o4755
    assert stat.S_IMODE(os.stat(root / "bin/wall").st_mode) == 0o2755
    assert stat.S_IMODE(os.stat(root / "tmp").st_mode) == 0o1777
    assert stat.S_IMODE(os.stat(root / "ro").st_mode) == 0o555
    assert stat.S_IMODE(os.stat(root / "ro/inside").st_mode) == 0o400
    assert stat.S_IMODE(os.stat(root / "secret").st_mode) == 0o000
    os.chmod(root / "ro", 0o755)  # let pytest clean up as an unprivileged user


def test_modes_hold_whatever_the_umask_and_the_layer_roots_setgid(root):
    # a mode is given at creation only when the umask keeps it; otherwise it is set afterwards
    os.chmod(root, 0o2755)  # a setgid root: the owner is not taken for granted either
    old = os.umask(0o077)
    try:
        unpack(layer(f("a", b"a", mode=0o666), f("b", b"b", mode=0o600), f("c", b"c", mode=0o4711),
                     f("d/e", b"e", mode=0o755)), root)
    finally:
        os.umask(old)
    assert {n: stat.S_IMODE(os.stat(root / n).st_mode) for n in ("a", "b", "c", "d/e")} == \
        {"a": 0o666, "b": 0o600, "c": 0o4711, "d/e": 0o755}
    assert os.stat(root / "a").st_gid == os.getegid()


def test_ownership_is_mapped(root):
    # Root can chown anywhere; an unprivileged user only to itself, so map onto that.
    target_uid, target_gid = (1000, 1000) if os.geteuid() == 0 else (os.getuid(), os.getgid())
    seen = []

    def uid_map(uid):
        seen.append(uid)
        return target_uid

    unpack(
        layer(
            d("home", uid=0, gid=0),
            f("home/file", b"x", uid=1234, gid=1234, mode=0o4755),
            sym("home/link", "file", uid=1234, gid=1234),
            (_info("home/pipe", tarfile.FIFOTYPE, uid=5, gid=5), None),
        ),
        root,
        uid_map=uid_map,
        gid_map=lambda gid: target_gid,
    )
    for name in ("home", "home/file", "home/link", "home/pipe"):
        st = os.lstat(root / name)
        assert (st.st_uid, st.st_gid) == (target_uid, target_gid), name
    assert {0, 1234, 5} <= set(seen)
    # chmod after chown: chown clears setuid.
    assert stat.S_IMODE(os.stat(root / "home/file").st_mode) == 0o4755


def test_chown_permission_error_is_reported_once(root, monkeypatch):
    calls = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "chown", refuse)
    heard = []
    stats = unpack(
        layer(f("a", b"1", uid=7), f("b", b"2", uid=7), d("c", uid=7)), root, on_skip=heard.append
    )
    assert len(calls) == 1  # stopped trying after the first refusal
    assert len(stats.notices) == 1 and "ownership" in stats.notices[0]
    assert heard == stats.notices
    assert (root / "b").read_bytes() == b"2"


def test_no_chown_leaves_owner_alone(root):
    unpack(layer(f("a", b"1", uid=4321, gid=4321)), root, chown=False)
    st = os.stat(root / "a")
    assert (st.st_uid, st.st_gid) == (os.geteuid(), os.getegid())


def test_fifo_is_created(root):
    unpack(layer((_info("run/initctl", tarfile.FIFOTYPE, mode=0o600), None)), root)
    st = os.lstat(root / "run/initctl")
    assert stat.S_ISFIFO(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600


def test_user_xattrs_are_set_and_overlay_xattrs_refused(root):
    info, data = f("file", b"x")
    info.pax_headers = {
        "SCHILY.xattr.user.comment": "hello",
        "SCHILY.xattr.user.overlay.opaque": "y",
    }
    dinfo, _ = d("dir")
    dinfo.pax_headers = {
        "SCHILY.xattr.user.kind": "dir",
        "SCHILY.xattr.trusted.overlay.redirect": "/x",
    }
    stats = unpack(layer((info, data), (dinfo, None)), root)
    assert os.getxattr(root / "file", "user.comment") == b"hello"
    assert os.getxattr(root / "dir", "user.kind") == b"dir"
    assert "user.overlay.opaque" not in os.listxattr(root / "file")
    assert not any("overlay" in name for name in os.listxattr(root / "dir"))
    assert len([m for m in stats.notices if "overlay metadata" in m]) == 2


def test_long_names_gnu_and_pax(root):
    deep = "/".join(["directory-with-a-long-name"] * 8)
    for fmt in (tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
        name = f"{deep}/{fmt}-file"
        unpack(layer(f(name, b"long"), sym(f"{deep}/{fmt}-link", "/" + deep), fmt=fmt), root)
        assert (root / name).read_bytes() == b"long"
        assert os.readlink(root / f"{deep}/{fmt}-link") == "/" + deep
    # ustar: a name split into prefix and name fields.
    name = "/".join(["ustar-prefix-part"] * 6) + "/file"
    unpack(layer(f(name, b"ustar"), fmt=tarfile.USTAR_FORMAT), root)
    assert (root / name).read_bytes() == b"ustar"


def test_many_directories_exercise_the_fd_cache(root):
    entries = []
    for i in range(FD_CACHE_SIZE * 3):
        entries.append(d(f"d{i}"))
        entries.append(f(f"d{i}/sub/file", str(i).encode()))
    # Revisit early directories (long evicted) and link across them.
    for i in range(FD_CACHE_SIZE * 3):
        entries.append(hard(f"d{i}/sub/link", f"d{(i * 7) % (FD_CACHE_SIZE * 3)}/sub/file"))
    stats = unpack(layer(*entries), root)
    assert stats.skipped == []
    for i in range(FD_CACHE_SIZE * 3):
        assert (root / f"d{i}/sub/link").read_bytes() == str((i * 7) % (FD_CACHE_SIZE * 3)).encode()


# -- whiteouts -------------------------------------------------------------------------------------


def is_whiteout(path) -> bool:
    st = os.lstat(path)
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def test_whiteout_file_becomes_char_device(root):
    stats = unpack(layer(d("etc"), f("etc/.wh.motd"), f(".wh.toplevel")), root)
    assert is_whiteout(root / "etc/motd")
    assert is_whiteout(root / "toplevel")
    assert not os.path.lexists(root / "etc/.wh.motd")
    assert stats.skipped == []


def test_opaque_directory_gets_the_xattr(root):
    unpack(layer(d("var/lib/apt"), f("var/lib/apt/.wh..wh..opq"), f("var/lib/apt/new", b"n")), root)
    assert os.getxattr(root / "var/lib/apt", "user.overlay.opaque") == b"y"
    assert not os.path.lexists(root / "var/lib/apt/.wh..wh..opq")
    assert (root / "var/lib/apt/new").read_bytes() == b"n"


def test_opaque_marker_on_an_unlisted_directory_and_the_root(root):
    unpack(layer(f("new/dir/.wh..wh..opq"), f(".wh..wh..opq")), root)
    assert os.getxattr(root / "new/dir", "user.overlay.opaque") == b"y"
    assert os.getxattr(root, "user.overlay.opaque") == b"y"


def test_overlay_style_whiteout_device_is_kept(root):
    stats = unpack(layer(dev("gone")), root)
    assert is_whiteout(root / "gone")
    assert stats.skipped == []


def test_whiteout_does_not_hide_an_entry_of_the_same_layer(root):
    unpack(layer(f("keep", b"k"), f(".wh.keep")), root)
    assert (root / "keep").read_bytes() == b"k"


def test_entry_after_its_whiteout_replaces_it(root):
    unpack(layer(f(".wh.name"), f("name", b"back")), root)
    assert (root / "name").read_bytes() == b"back"


# -- replacement -----------------------------------------------------------------------------------


def test_later_entry_wins(root):
    unpack(
        layer(
            f("file", b"first"),
            f("file", b"second"),
            d("was-dir"),
            f("was-dir/child", b"c"),
            d("was-dir/sub"),
            f("was-dir/sub/deep", b"d"),
            f("was-dir", b"now a file"),
            f("was-file", b"f"),
            d("was-file", mode=0o750),
            f("was-file/child", b"c"),
            sym("was-link", "/nowhere"),
            f("was-link", b"real"),
            f("becomes-link", b"x"),
            sym("becomes-link", "file"),
        ),
        root,
    )
    assert (root / "file").read_bytes() == b"second"
    assert (root / "was-dir").read_bytes() == b"now a file"
    assert stat.S_IMODE(os.stat(root / "was-file").st_mode) == 0o750
    assert (root / "was-file/child").read_bytes() == b"c"
    assert not os.path.islink(root / "was-link")
    assert (root / "was-link").read_bytes() == b"real"
    assert os.readlink(root / "becomes-link") == "file"


def test_directory_over_directory_updates_metadata_and_keeps_children(root):
    unpack(
        layer(
            d("dir", mode=0o700),
            f("dir/child", b"c"),
            d("dir", mode=0o711, mtime=MTIME - 5),
        ),
        root,
    )
    assert (root / "dir/child").read_bytes() == b"c"
    assert stat.S_IMODE(os.stat(root / "dir").st_mode) == 0o711
    assert os.stat(root / "dir").st_mtime == MTIME - 5


def test_root_entry_sets_the_layer_root_metadata(root):
    unpack(layer(d("./", mode=0o751, mtime=MTIME - 1), f("x", b"x")), root)
    assert stat.S_IMODE(os.stat(root).st_mode) == 0o751
    assert os.stat(root).st_mtime == MTIME - 1


def test_directory_entry_after_its_children(root):
    unpack(layer(f("late/child", b"c"), d("late", mode=0o750, mtime=MTIME - 9)), root)
    assert (root / "late/child").read_bytes() == b"c"
    assert stat.S_IMODE(os.stat(root / "late").st_mode) == 0o750
    assert os.stat(root / "late").st_mtime == MTIME - 9


def test_removed_directory_is_not_resurrected_by_pending_metadata(root):
    # `dir` (with a cached fd and pending metadata) is replaced by a file, then made a directory
    # again: the new directory must get its own entry's metadata, not the old one's.
    unpack(
        layer(
            d("dir/sub", mode=0o700),
            f("dir/sub/x", b"x"),
            f("dir", b"file"),
            f("dir/sub/y", b"y"),  # parent is a file now: skipped
            d("dir"),
            f("dir/sub/z", b"z"),
        ),
        root,
    )
    assert (root / "dir/sub/z").read_bytes() == b"z"
    assert os.listdir(root / "dir/sub") == ["z"]
    assert stat.S_IMODE(os.stat(root / "dir/sub").st_mode) == 0o755


# -- hostile layers --------------------------------------------------------------------------------


def test_dotdot_escape_is_skipped(root, tmp_path):
    target = unique(tmp_path)
    heard = []
    stats = unpack(
        layer(
            f(f"../../../{target.name}", b"pwned"),
            f(f"a/../../../../{target.name}", b"pwned"),
            f("safe", b"ok"),
        ),
        root,
        on_skip=heard.append,
    )
    assert not target.exists()
    assert not (tmp_path / "storage" / target.name).exists()
    assert len(stats.skipped) == 2
    assert all("escapes" in message for message in stats.skipped)
    assert [m for m in heard if m in stats.skipped] == stats.skipped
    assert (root / "safe").read_bytes() == b"ok"  # the stream stayed in step


def test_dotdot_that_stays_inside_is_cleaned(root):
    unpack(layer(f("a/b/../c", b"c")), root)
    assert (root / "a/c").read_bytes() == b"c"


def test_absolute_names_land_inside(root, tmp_path):
    target = unique(tmp_path)
    unpack(layer(f(str(target), b"inside"), f("/etc/evil-absolute", b"inside")), root)
    assert not target.exists()
    assert (root / str(target).lstrip("/")).read_bytes() == b"inside"
    assert (root / "etc/evil-absolute").read_bytes() == b"inside"
    assert not os.path.exists("/etc/evil-absolute")


def test_nothing_is_written_through_a_symlink(root, tmp_path):
    outside = unique(tmp_path, "outside-dir")
    outside.mkdir()
    stats = unpack(
        layer(
            sym("link", str(outside)),
            f("link/evil", b"pwned"),
            sym("rel", "../../../" + outside.name),
            f("rel/evil2", b"pwned"),
            d("rel/sub"),
            sym("inner", "real"),
            d("real"),
            f("inner/x", b"through an inside link"),
        ),
        root,
    )
    assert list(outside.iterdir()) == []
    assert not (root / "real/x").exists()
    assert len(stats.skipped) == 4
    assert all("is a symlink" in message for message in stats.skipped)
    assert os.readlink(root / "link") == str(outside)  # the link itself is fine


def test_file_replacing_a_symlink_does_not_write_through_it(root, tmp_path):
    victim = unique(tmp_path, "victim")
    victim.write_bytes(b"original")
    unpack(layer(sym("evil", str(victim)), f("evil", b"pwned")), root)
    assert victim.read_bytes() == b"original"
    assert (root / "evil").read_bytes() == b"pwned"
    assert not os.path.islink(root / "evil")


def test_directory_replacing_a_symlink_is_a_real_directory(root, tmp_path):
    outside = unique(tmp_path, "outside-dir")
    outside.mkdir()
    unpack(layer(sym("d", str(outside)), d("d"), f("d/x", b"inside")), root)
    assert list(outside.iterdir()) == []
    assert (root / "d/x").read_bytes() == b"inside"


def test_hostile_hardlinks_are_skipped(root, tmp_path):
    secret = unique(tmp_path, "secret")
    secret.write_bytes(b"host secret")
    outside = unique(tmp_path, "outside-dir")
    outside.mkdir()
    (outside / "file").write_bytes(b"host file")
    stats = unpack(
        layer(
            hard("passwd", "/etc/passwd"),
            hard("up", f"../../../{secret.name}"),
            hard("abs", str(secret)),
            sym("dirlink", str(outside)),
            hard("through-dir", "dirlink/file"),
            sym("filelink", str(secret)),
            hard("to-symlink", "filelink"),
            hard("missing", "no/such/file"),
            d("adir"),
            hard("to-dir", "adir"),
        ),
        root,
    )
    for name in ("passwd", "up", "abs", "through-dir", "to-symlink", "missing", "to-dir"):
        assert not os.path.lexists(root / name), name
    assert len(stats.skipped) == 7
    assert os.stat(secret).st_nlink == 1
    assert os.stat(outside / "file").st_nlink == 1


def test_device_nodes_are_skipped(root):
    stats = unpack(
        layer(
            dev("dev/sda", major=8, minor=0),
            dev("dev/loop", tarfile.BLKTYPE, 7, 0),
            f("ok", b"1"),
        ),
        root,
    )
    assert not os.path.lexists(root / "dev/sda")
    assert not os.path.lexists(root / "dev/loop")
    assert len(stats.skipped) == 2 and all("device" in m for m in stats.skipped)
    assert (root / "ok").read_bytes() == b"1"


def test_names_with_nul_and_root_replacement_are_skipped(root):
    info, _ = f("x")
    info.pax_headers = {"path": "a\0b"}
    stats = unpack(layer((info, b""), f("./", b""), sym(".", "/")), root)
    assert os.listdir(root) == []
    assert len(stats.skipped) == 3


def test_hostile_whiteouts_stay_inside(root, tmp_path):
    target = unique(tmp_path)
    outside = unique(tmp_path, "outside-dir")
    outside.mkdir()
    stats = unpack(
        layer(
            f(f"../../../.wh.{target.name}"),
            f("a/.wh.."),
            f("a/.wh..wh.plnk"),
            sym("link", str(outside)),
            f("link/.wh.victim"),
            f("link/.wh..wh..opq"),
        ),
        root,
    )
    assert not os.path.lexists(target)
    assert list(outside.iterdir()) == []
    assert "user.overlay.opaque" not in os.listxattr(outside)
    assert len(stats.skipped) == 5


def test_overlong_component_is_skipped(root):
    stats = unpack(
        layer(f("x" * 300, b"long"), f("d/" + "y" * 300 + "/z", b"z"), f("ok", b"ok")), root
    )
    assert len(stats.skipped) == 2
    assert (root / "ok").read_bytes() == b"ok"


def test_too_deep_names_are_skipped(root):
    stats = unpack(layer(f("/".join(["a"] * 300), b"deep"), f("/".join(["b"] * 200), b"ok")), root)
    assert len(stats.skipped) == 1 and "too deep" in stats.skipped[0]
    assert (root / "/".join(["b"] * 200)).read_bytes() == b"ok"


def test_replacing_directories_over_and_over_stays_fast(root):
    entries = [d(f"keep{i}") for i in range(300)]
    for _ in range(200):
        entries += [d("churn"), d("churn/sub"), f("churn", b"x")]
    stats = unpack(layer(*entries), root)  # each replacement walks only the removed subtree
    assert stats.skipped == []
    assert (root / "churn").read_bytes() == b"x"


def test_xattrs_on_symlinks_and_fifos_do_not_fail_the_layer(root):
    link, _ = sym("link", "target")
    link.pax_headers = {"SCHILY.xattr.user.x": "1"}  # user xattrs are refused on symlinks
    fifo = _info("fifo", tarfile.FIFOTYPE)
    fifo.pax_headers = {"SCHILY.xattr.user.y": "2"}
    stats = unpack(layer((link, None), (fifo, None)), root)
    assert os.path.islink(root / "link") and stat.S_ISFIFO(os.lstat(root / "fifo").st_mode)
    assert stats.skipped == []


# -- the stream ------------------------------------------------------------------------------------


class CountingStream(io.RawIOBase):
    """A pipe-like stream: short reads, no seeking, and it notes whether EOF was reached."""

    def __init__(self, data: bytes, piece: int = 7000):
        self.data = data
        self.pos = 0
        self.piece = piece
        self.hit_eof = False

    def readable(self):
        return True

    def read(self, n=-1):
        n = self.piece if n < 0 else min(n, self.piece)
        chunk = self.data[self.pos:self.pos + n]
        self.pos += len(chunk)
        if not chunk:
            self.hit_eof = True
        return chunk


def test_stream_is_read_to_eof_with_short_reads(root):
    data = layer(f("big", os.urandom(300_000)), f("small", b"s")) + b"\0" * 4096 + b"trailing junk"
    stream = CountingStream(data)
    unpack_layer(stream, str(root))
    assert stream.pos == len(data) and stream.hit_eof
    assert (root / "big").stat().st_size == 300_000
    assert (root / "small").read_bytes() == b"s"


def test_large_file_spanning_chunks(root):
    content = os.urandom(3 * 1024 * 1024 + 123)
    stats = unpack_layer(CountingStream(layer(f("blob", content)), piece=1 << 20), str(root))
    assert (root / "blob").read_bytes() == content
    assert stats.size == len(content)


def test_truncated_stream_raises(root, tmp_path):
    data = layer(f("file", b"x" * 5000))
    with pytest.raises(LayerError, match="truncated"):
        unpack(data[:512 + 3000], root)  # inside the content
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(LayerError, match="truncated"):
        unpack(data[:200], other)  # inside the header


def test_oversized_file_raises_truncated(root):
    info, _ = f("huge")
    info.size = 10 * 1024**3  # claims 10 GiB, has nothing
    data = info.tobuf(tarfile.PAX_FORMAT)
    with pytest.raises(LayerError, match="truncated"):
        unpack(data, root)


def test_corrupt_header_raises(root):
    data = bytearray(layer(f("file", b"x")))
    data[10] ^= 0x55  # the name changes, the checksum no longer matches
    with pytest.raises(LayerError, match="corrupt"):
        unpack(bytes(data), root)


def test_negative_pax_size_raises(root):
    info, _ = f("file")
    info.pax_headers = {"size": "-1024"}
    with pytest.raises(LayerError, match="corrupt"):
        unpack(layer((info, b"")), root)


def test_empty_stream_is_an_empty_layer(root):
    assert unpack(b"", root).files == 0
    assert unpack(bytes(1024), root).files == 0
    assert os.listdir(root) == []


def test_skipped_entry_content_is_consumed(root):
    stats = unpack(
        layer(f("../escape", b"A" * 1500), dev("dev/x", major=1, minor=3), f("after", b"B" * 700)),
        root,
    )
    assert (root / "after").read_bytes() == b"B" * 700
    assert len(stats.skipped) == 2
