"""Shifted layer copies for --uidmap: the id arithmetic and a real copy (as any user)."""

from __future__ import annotations

import os

from pypod.store import shift


def test_shift_id_and_parse_map():
    ranges = shift.parse_map("0 1 1000\n1000 5000 10\n")
    assert shift.shift_id(0, ranges) == 1 and shift.shift_id(999, ranges) == 1000
    assert shift.shift_id(1005, ranges) == 5005 and shift.shift_id(2000, ranges) == 2000
    assert shift.map_key("0 1 1\n", "0 1 1\n") != shift.map_key("0 2 1\n", "0 1 1\n")


def test_copy_keeps_links_modes_and_times(tmp_path):
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    (src / "d" / "f").write_text("x")
    os.chmod(src / "d" / "f", 0o4755)
    os.link(src / "d" / "f", src / "hard")
    os.symlink("d/f", src / "sym")
    os.utime(src / "d" / "f", (1000, 2000))
    me = os.getuid()
    ident = [(me, me, 1)]  # (only our own id can be given as a normal user)
    shift.shift_copy(str(src), str(tmp_path / "dst"), ident, [(os.getgid(), os.getgid(), 1)])
    dst = tmp_path / "dst"
    assert (dst / "d" / "f").read_text() == "x"
    assert os.stat(dst / "d" / "f").st_mode & 0o7777 == 0o4755
    assert os.stat(dst / "hard").st_ino == os.stat(dst / "d" / "f").st_ino
    assert os.readlink(dst / "sym") == "d/f"
    assert os.stat(dst / "d" / "f").st_mtime == 2000
