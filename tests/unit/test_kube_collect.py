"""Reading the container's /etc/passwd out of layer directories for -u (pypod/kube/collect.py): a
symlink in a layer is never followed, a whiteout hides what is below."""

import os

from pypod.kube.collect import _read_in_layer


def test_reads_a_regular_file(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    assert _read_in_layer(str(tmp_path), ("etc", "passwd")) == "root:x:0:0::/root:/bin/sh\n"
    assert _read_in_layer(str(tmp_path), ("etc", "group")) is None


def test_symlinks_are_not_followed(tmp_path):
    secret = tmp_path / "host-secret"
    secret.write_text("host:x:0:0::/:/bin/sh\n")
    layer = tmp_path / "layer"
    (layer / "etc").mkdir(parents=True)
    os.symlink(str(secret), layer / "etc" / "passwd")
    assert _read_in_layer(str(layer), ("etc", "passwd")) is None
    other = tmp_path / "other"
    other.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "passwd").write_text("x")
    os.symlink(str(tmp_path / "elsewhere"), other / "etc")
    assert _read_in_layer(str(other), ("etc", "passwd")) is None


def test_whiteouts_hide_lower_layers(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / ".wh.passwd").write_text("")
    assert _read_in_layer(str(tmp_path), ("etc", "passwd")) is False
