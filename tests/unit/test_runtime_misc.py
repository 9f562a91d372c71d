"""Small pieces of the runtime: jsonlite, protocol, secure_join, env, PATH lookup, exec errors."""

import os

import pytest

from pypod.linux.rootpath import secure_join
from pypod import jsonlite
from pypod.runtime import init, protocol


def test_jsonlite_round_trip():
    doc = {"a": [1, 2.5, None, True, False, "é\n\"x"], "b": {"c": -3}, "big": 10 ** 20}
    assert jsonlite.loads(jsonlite.dumps(doc)) == doc
    assert jsonlite.loads(b"  [1]\n") == [1]
    with pytest.raises(ValueError):
        jsonlite.loads("[1] 2")
    with pytest.raises(ValueError):
        jsonlite.loads("{bad")


def test_protocol_messages_over_a_pipe():
    r, w = os.pipe()
    assert protocol.send(w, protocol.PID, pid=42)
    assert protocol.send(w, protocol.ERROR, code=127, message="nope")
    os.close(w)
    msgs = protocol.Reader(r).all()
    os.close(r)
    assert msgs == [{"pid": 42, "type": "pid"},
                    {"code": 127, "message": "nope", "type": "error"}]


def test_protocol_send_to_closed_reader():
    r, w = os.pipe()
    os.close(r)
    assert protocol.send(w, protocol.EXIT, code=0) is False
    os.close(w)


def test_secure_join(tmp_path):
    root = str(tmp_path)
    os.makedirs(tmp_path / "a/b")
    os.symlink("/a", tmp_path / "abs")
    os.symlink("../../../..", tmp_path / "a/up")
    os.symlink("b", tmp_path / "a/rel")
    os.symlink("loop", tmp_path / "loop")
    assert secure_join(root, "/a/b/c") == f"{root}/a/b/c"
    assert secure_join(root, "/abs/b") == f"{root}/a/b"
    assert secure_join(root, "/a/up/etc/passwd") == f"{root}/etc/passwd"
    assert secure_join(root, "/a/rel/x") == f"{root}/a/b/x"
    assert secure_join(root, "../../x") == f"{root}/x"
    with pytest.raises(OSError):
        secure_join(root, "/loop/x")


def test_build_env_defaults():
    env = init.build_env(["A=1", "A=2", "B="], hostname="h", home="/root", terminal=True)
    assert env == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "A=2",
                   "B=", "TERM=xterm", "container=podman", "HOSTNAME=h", "HOME=/root"]
    env = init.build_env(["PATH=/x", "HOME=/h", "container=other"], hostname="h", home="/root",
                         terminal=False)
    assert env == ["PATH=/x", "HOME=/h", "container=other", "HOSTNAME=h"]


def test_find_executable(tmp_path):
    (tmp_path / "d1").mkdir()
    (tmp_path / "d2").mkdir()
    (tmp_path / "d1/tool").write_text("#!/bin/sh\n")  # not executable: skipped
    (tmp_path / "d2/tool").write_text("#!/bin/sh\n")
    os.chmod(tmp_path / "d2/tool", 0o755)
    (tmp_path / "d1/dir").mkdir()
    path = f"{tmp_path}/d1:{tmp_path}/d2"
    assert init.find_executable("tool", path) == f"{tmp_path}/d2/tool"
    assert init.find_executable("dir", path) is None
    assert init.find_executable("nope", path) is None


def test_exec_failure_codes(tmp_path):
    e = init.exec_failure("foo", OSError(2, "x"), True)
    assert (e.code, e.message) == (
        127, "executable file `foo` not found in $PATH: No such file or directory")
    assert init.exec_failure("/x/foo", OSError(2, "x"), False).code == 127
    e = init.exec_failure("/etc/passwd", OSError(13, "x"), False)
    assert e.code == 126 and "permission denied" in e.message
    e = init.exec_failure(str(tmp_path), OSError(13, "x"), False)
    assert e.code == 126 and "is a directory" in e.message
    assert init.exec_failure("/bin/x", OSError(8, "x"), False).code == 126


def test_overlay_data_rejects_separators():
    with pytest.raises(init.SetupError):
        init.overlay_data(["/a:b"], "/u", "/w", False)
