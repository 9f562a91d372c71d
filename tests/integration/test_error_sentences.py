"""Issue 13: what reaches the user from a helper process or an out-of-range number is a sentence in
pypod's words — never `LayerError:`, `FileNotFoundError:` or `OverflowError:`."""

from __future__ import annotations

import os
import re

import pytest

from tests.lib.user import pypod

pytestmark = pytest.mark.integration

CLASS_NAME = re.compile(r"\b[A-Z][A-Za-z]*(Error|Exception)\b")
HUGE = "99999999999999999999999"


def one_sentence(r) -> str:
    assert r.returncode == 125, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), r.stderr
    assert not CLASS_NAME.search(r.stderr), r.stderr
    return lines[0]


def test_corrupt_layer_from_the_unpack_worker(clean_storage, shared_tmp):
    bad = shared_tmp / "bad.tar"
    bad.write_bytes(b"not a tar header".ljust(512, b"x") * 2)  # the checksum cannot match
    line = one_sentence(pypod("import", str(bad), "bad:1"))
    assert line.startswith("Error: importing layer: corrupt layer: ") and "b'" not in line
    bad.write_bytes(b"\x1f\x8b\x08\x00" + b"\x00" * 600)  # gzip magic, then garbage
    line = one_sentence(pypod("import", str(bad), "bad:1"))
    assert line.startswith("Error: importing layer: corrupt layer: invalid gzip data: ")


def test_missing_file(clean_storage):
    line = one_sentence(pypod("import", "/nonexistent.tar"))
    assert "/nonexistent.tar" in line and "no such file" in line.lower()


def test_out_of_range_numbers(busybox):
    # podman parses ulimits as Go int64: the same words
    line = one_sentence(pypod("create", "--ulimit", f"nofile={HUGE}", busybox, "true"))
    assert line == (f'Error: ulimit option "nofile={HUGE}" requires name=SOFT:HARD, failed to be '
                    f'parsed: strconv.ParseInt: parsing "{HUGE}": value out of range')
    # a uid no system call takes: said when the container starts
    line = one_sentence(pypod("run", "--rm", "--network", "none", "--user", HUGE, busybox, "true"))
    assert "out of range" in line


def test_load_of_something_that_is_no_archive(clean_storage, shared_tmp):
    junk = shared_tmp / "junk.tar"
    junk.write_bytes(bytes(range(256)) * 8)
    line = one_sentence(pypod("load", "-i", str(junk)))
    assert line.endswith(f"{junk}: not a tar archive")  # (it listed Python's ReadError per method)


def build_error(shared_tmp, containerfile: str) -> str:
    ctx = shared_tmp / "ctx"
    ctx.mkdir()
    (ctx / "Containerfile").write_text(containerfile)
    os.chmod(ctx, 0o755)
    return one_sentence(pypod("build", "-q", str(ctx)))


def test_build_add_from_a_url_that_refuses(clean_storage, shared_tmp):
    line = build_error(shared_tmp, "FROM scratch\nADD http://127.0.0.1:1/file /file\n")
    assert line.endswith(": getting http://127.0.0.1:1/file: Connection refused (line 2)")


def test_build_healthcheck_retries_not_a_number(clean_storage, shared_tmp):
    line = build_error(shared_tmp, "FROM scratch\nHEALTHCHECK --retries=x CMD true\n")
    assert line.endswith(': strconv.ParseInt: parsing "x": invalid syntax (line 2)')  # was int()'s


def test_inspect_with_a_broken_format(clean_storage):
    line = one_sentence(pypod("inspect", "--format", "{{.X", "x"))
    assert line == "Error: template: format:1: unclosed action"  # was an "internal error"
