"""k8s-file log lines and timestamps."""

import re

from pypod.runtime import logs

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}[+-]\d\d:\d\d$")


def test_timestamp_rfc3339nano():
    assert TS.match(logs.timestamp())
    assert TS.match(logs.timestamp(1_700_000_000_000_000_123))
    assert logs.timestamp(1_700_000_000_000_000_123).split(".")[1].startswith("000000123")


def test_full_and_partial_lines():
    t = "2024-01-01T00:00:00.000000001+00:00"
    assert logs.format_chunk("stdout", b"a\nb\n", t) == (
        f"{t} stdout F a\n{t} stdout F b\n".encode())
    assert logs.format_chunk("stderr", b"a\npart", t) == (
        f"{t} stderr F a\n{t} stderr P part\n".encode())
    assert logs.format_chunk("stdout", b"\n", t) == f"{t} stdout F \n".encode()
    assert logs.format_chunk("stdout", b"", t) == b""


def test_parse_and_reassemble(tmp_path):
    p = tmp_path / "ctr.log"
    w = logs.LogWriter(str(p))
    w.write("stdout", b"hel")
    w.write("stdout", b"lo\nworld\n")
    w.write("stderr", b"oops\n")
    w.write("stdout", b"tail")
    w.close()
    lines = p.read_bytes().splitlines()
    assert [logs.parse_line(x)[1:] for x in lines] == [
        ("stdout", True, b"hel"), ("stdout", False, b"lo"), ("stdout", False, b"world"),
        ("stderr", False, b"oops"), ("stdout", True, b"tail")]
    assert [(s, b) for _, s, b in logs.read_log(str(p))] == [
        ("stdout", b"hello\n"), ("stdout", b"world\n"), ("stderr", b"oops\n"),
        ("stdout", b"tail")]
    assert logs.read_log(str(tmp_path / "missing")) == []


def test_text_with_spaces_kept():
    t = "2024-01-01T00:00:00.000000001+00:00"
    line = logs.format_chunk("stdout", b"  two  spaces \n", t)
    assert logs.parse_line(line)[3] == b"  two  spaces "
