"""Issue 13: every error is pypod's own sentence — never a Python class name (boundary, helpers)."""

from __future__ import annotations

import re

import pytest

from pypod.cli import boundary
from pypod.errors import PypodError, describe

CLASS_NAME = re.compile(r"\b[A-Z][A-Za-z]*(Error|Exception|Warning)\b")


@pytest.mark.parametrize("exc, line", [
    (FileNotFoundError(2, "No such file or directory", "/nope"),
     "Error: No such file or directory: /nope\n"),
    (OverflowError("Python int too large to convert to C long"),
     "Error: a number is out of range (Python int too large to convert to C long)\n"),
    (OverflowError("uid is greater than maximum"),
     "Error: a number is out of range (uid is greater than maximum)\n"),
    (MemoryError(), "Error: out of memory\n"),
    (PypodError("it broke"), "Error: it broke\n"),
])
def test_boundary_prints_a_sentence(capsys, exc, line):
    assert boundary.report(exc, debug=False) == 125
    err = capsys.readouterr().err
    assert err == line
    assert not CLASS_NAME.search(err)


def test_an_unexpected_failure_has_no_class_name(capsys):
    assert boundary.report(KeyError("Image"), debug=False) == 125
    err = capsys.readouterr().err
    assert err.startswith("Error: internal error: 'Image'") and not CLASS_NAME.search(err)


def test_describe_is_one_line_for_anything():
    from pypod.image.unpack import LayerError

    assert describe(LayerError("corrupt layer: invalid tar header at offset 0")) == \
        "corrupt layer: invalid tar header at offset 0"
    assert describe(PermissionError(13, "Permission denied")) == "Permission denied"
    assert describe(ValueError("")) == "unexpected failure"
    assert describe(RuntimeError("a\nb")) == "a b"


def test_connection_failures_are_said_without_urllib3_class_names():
    import requests
    import urllib3

    from pypod.image.registry import _short

    cut = requests.exceptions.ChunkedEncodingError(urllib3.exceptions.ProtocolError(
        "Connection broken: IncompleteRead(10 bytes read, 90 more expected)",
        urllib3.exceptions.IncompleteRead(10, 90)))
    assert _short(cut) == "unexpected EOF (10 bytes read, 90 more expected)"
    try:
        requests.get("http://127.0.0.1:1/", timeout=5)
    except requests.RequestException as e:
        assert _short(e) == "Connection refused"


def test_a_template_error_anywhere_is_its_one_line(capsys):
    from pypod import template

    with pytest.raises(template.TemplateError) as e:
        template.Template("{{.X")
    assert boundary.report(e.value, debug=False) == 125
    assert capsys.readouterr().err == "Error: template: format:1: unclosed action\n"
