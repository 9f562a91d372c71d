"""Resolution inside a root by descriptors (openat2 RESOLVE_IN_ROOT, and the O_NOFOLLOW walk used
where the kernel lacks it) and cp's tar code on top of it: symlinks lead nowhere outside the root."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from pypod.engine import cp_tar
from pypod.linux import rootpath


@pytest.fixture(params=["openat2", "walk"])
def mode(request, monkeypatch):
    # None: try openat2 (kernel 5.6+); False: the per-component walk, as on an older kernel
    monkeypatch.setattr(rootpath, "_have_openat2", None if request.param == "openat2" else False)
    return request.param


def where(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)


@pytest.fixture
def tree(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "f").write_text("in root")
    outside.mkdir()
    (outside / "secret").write_text("host")
    os.symlink("/a", root / "abs")                  # absolute: from the root
    os.symlink("../../../..", root / "a" / "up")     # `..` stops at the root
    os.symlink(str(outside), root / "host")          # the host's path, inside the root: missing
    os.symlink("loop", root / "loop")
    rfd = os.open(root, os.O_PATH | os.O_DIRECTORY)
    yield root, outside, rfd
    os.close(rfd)


def test_open_in_root_resolves_every_link_inside(mode, tree):
    root, outside, rfd = tree
    assert where(rootpath.open_in_root(rfd, "abs/b/f")) == f"{root}/a/b/f"
    assert where(rootpath.open_in_root(rfd, "/a/up/a/b/../b/f")) == f"{root}/a/b/f"
    assert where(rootpath.open_in_root(rfd, "a/up/..")) == str(root)
    with pytest.raises(FileNotFoundError):
        rootpath.open_in_root(rfd, "host/secret")
    with pytest.raises(OSError) as e:
        rootpath.open_in_root(rfd, "loop/x")
    assert e.value.errno == 40
    # follow_last=False: the link itself (O_PATH), or ELOOP when opened for reading
    assert where(rootpath.open_in_root(rfd, "host", follow_last=False)) == f"{root}/host"
    with pytest.raises(OSError):
        rootpath.open_in_root(rfd, "host", os.O_RDONLY, follow_last=False)
    # mkdirs: made where the links lead, inside the root
    where(rootpath.open_in_root(rfd, "host/new/dir", os.O_PATH | os.O_DIRECTORY, mkdirs=True))
    assert (root / str(outside).lstrip("/") / "new" / "dir").is_dir() and not (outside / "new").exists()
    pfd, name = rootpath.open_parent(rfd, "abs/b/f")
    assert (where(pfd), name) == (f"{root}/a/b", "f")
    pfd, name = rootpath.open_parent(rfd, "a/b/..")
    assert (where(pfd), name) == (f"{root}/a", "")


def _tar(entries) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, kind, data in entries:
            ti = tarfile.TarInfo(name)
            if kind == "dir":
                ti.type, ti.mode = tarfile.DIRTYPE, 0o750
                tf.addfile(ti)
            elif kind == "sym":
                ti.type, ti.linkname = tarfile.SYMTYPE, data
                tf.addfile(ti)
            elif kind == "hard":
                ti.type, ti.linkname, ti.mode = tarfile.LNKTYPE, data, 0o640  # the file's, as tar writes
                tf.addfile(ti)
            else:
                ti.size, ti.mode = len(data), 0o640
                tf.addfile(ti, io.BytesIO(data))
    buf.seek(0)
    return buf


def test_extract_follows_no_link_out_of_the_root(mode, tree):
    root, outside, rfd = tree
    # a tar that plants a link to the host, then writes through it; and one onto an existing link
    to_root = lambda n: "/" + n  # noqa: E731
    stream = _tar([("t", "dir", b""), ("t/l", "sym", str(outside)), ("t/l/secret", "file", b"pwned")])
    with pytest.raises(FileNotFoundError):  # the link leads to the root's own (missing) directory
        cp_tar.extract(stream, rfd, to_root, None, False)
    assert (outside / "secret").read_text() == "host" and sorted(os.listdir(outside)) == ["secret"]
    stream = _tar([("t/l", "dir", b""), ("t/l/secret", "file", b"pwned"),  # a directory: made there
                   ("t/up", "sym", "../../../../.."), ("t/up/evil", "file", b"x"),
                   ("t/f", "file", b"data"), ("t/h", "hard", "t/f")])
    cp_tar.extract(stream, rfd, to_root, None, False)
    assert (outside / "secret").read_text() == "host" and sorted(os.listdir(outside)) == ["secret"]
    assert (root / str(outside).lstrip("/") / "secret").read_text() == "pwned"
    assert (root / "evil").read_text() == "x"
    assert os.path.samefile(root / "t" / "f", root / "t" / "h")
    assert oct((root / "t").stat().st_mode & 0o777) == oct(0o750)
    assert oct((root / "t" / "f").stat().st_mode & 0o777) == oct(0o640)
    # a directory over a file is refused unless overwrite
    with pytest.raises(cp_tar.CopyError, match='cannot overwrite non-directory "/t/f" with directory'):
        cp_tar.extract(_tar([("t/f", "dir", b"")]), rfd, to_root, None, False)
    cp_tar.extract(_tar([("t/f", "dir", b"")]), rfd, to_root, None, False, overwrite=True)
    assert (root / "t" / "f").is_dir()


def test_write_tar_reads_links_as_links(mode, tree):
    root, outside, rfd = tree
    os.link(root / "a" / "b" / "f", root / "a" / "b" / "g")
    fd = rootpath.open_in_root(rfd, "abs")  # the top is resolved inside the root: /a
    buf = io.BytesIO()
    try:
        cp_tar.write_tar(buf, fd, "a")
    finally:
        os.close(fd)
    buf.seek(0)
    with tarfile.open(fileobj=buf) as tf:
        m = {t.name: t for t in tf.getmembers()}
        assert m["a/up"].issym() and m["a/up"].linkname == "../../../.."
        assert tf.extractfile(m["a/b/f"]).read() == b"in root"
        assert m["a/b/g"].islnk() and m["a/b/g"].linkname == "a/b/f"
        assert m["a"].isdir()


@pytest.fixture
def swapping(tmp_path):
    """root/data (a directory holding a decoy secret) and root/swap (a link to `outside`, which
    holds the host's secret), exchanged with renameat2(RENAME_EXCHANGE) in a loop by a thread
    (ctypes releases the GIL) for as long as the test runs."""
    import ctypes
    import threading

    nr = {"x86_64": 316, "aarch64": 276}.get(os.uname().machine)
    if nr is None:
        pytest.skip("renameat2's number is known here for x86_64 and aarch64 only")
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "data").mkdir(parents=True)
    (root / "data" / "secret").write_text("decoy")
    outside.mkdir()
    (outside / "secret").write_text("host")
    os.symlink(str(outside), root / "swap")
    libc = ctypes.CDLL(None, use_errno=True)
    a, b = f"{root}/data".encode(), f"{root}/swap".encode()
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            libc.syscall(nr, -100, a, -100, b, 2)

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    yield root, outside
    stop.set()
    t.join()
    assert sorted(os.listdir(outside)) == ["secret"] and (outside / "secret").read_text() == "host"


def test_a_swapped_directory_never_leads_out(mode, swapping):
    # issue 13: the container swaps /data (a directory) and /swap (a link to the host's directory)
    # while cp writes /data/x and reads /data/secret; the old path-based code escaped within a few tries
    from pypod.engine import cp

    root, outside = swapping
    read = set()
    for i in range(300):
        try:
            cp.extract(_tar([("x", "file", b"payload")]), str(root), cp._mapper("x", "/data/x"), None, False)
        except OSError:
            pass
        rfd = os.open(root, os.O_PATH | os.O_DIRECTORY)
        try:
            fd = rootpath.open_in_root(rfd, "/data/secret")
            buf = io.BytesIO()
            cp.write_tar(buf, fd, "secret")
            os.close(fd)
            buf.seek(0)
            with tarfile.open(fileobj=buf) as tf:
                read.add(tf.extractfile("secret").read())
        except OSError:
            pass
        finally:
            os.close(rfd)
    assert sorted(os.listdir(outside)) == ["secret"]
    assert b"host" not in read and b"decoy" in read


def test_a_build_context_swapping_a_directory_never_leads_out(mode, swapping):
    # a context another process writes (a directory a container shares): COPY data/secret must
    # read the context's file or fail, never the host's through a symlink swapped in meanwhile
    from pypod.image.build import copier

    ctx, _ = swapping
    read = set()
    for i in range(300):
        fs = copier.HostFS(str(ctx))
        buf = io.BytesIO()
        try:
            copier.write_tar(fs, {"sources": copier.expand_sources(fs, ["data/secret"]), "dest": "/s"}, buf)
        except (OSError, copier.CopyError, tarfile.TarError):
            continue
        buf.seek(0)
        with tarfile.open(fileobj=buf) as tf:
            read.add(tf.extractfile("s").read())
    assert b"host" not in read and b"decoy" in read


def test_host_side_keeps_a_hostile_stream_inside_the_copy(mode, tmp_path):
    # what a container sends back is hostile: a link to / then a file through it lands in the copy
    from pypod.engine import cp

    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text("mine")
    stream = _tar([("d", "dir", b""), ("d/x", "sym", "/"), ("d/x/.bashrc", "file", b"pwned"),
                   ("d/y", "sym", "../.."), ("d/y/.bashrc", "file", b"pwned")])
    cp._extract_on_host(stream, str(home / "out"), "d", True, False)
    assert (home / ".bashrc").read_text() == "mine" and sorted(os.listdir(home)) == [".bashrc", "out"]
    assert (home / "out" / ".bashrc").read_text() == "pwned"  # x and y lead to the copy's own top
    # a file is the one entry named after it
    stream = _tar([("f", "file", b"data"), ("g", "file", b"pwned"), ("f/.bashrc", "file", b"pwned")])
    cp._extract_on_host(stream, str(home / "f"), "f", False, False)
    assert sorted(os.listdir(home)) == [".bashrc", "f", "out"] and (home / "f").read_text() == "data"
