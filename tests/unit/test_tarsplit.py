"""tar-split: a layer's original tar comes back byte for byte from its headers + the unpacked files."""

from __future__ import annotations

import io
import os
import tarfile

from pypod.image import tarsplit
from pypod.image.unpack import unpack_layer


def _layer() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        def add(name, data=None, **kw):
            ti = tarfile.TarInfo(name)
            for k, v in kw.items():
                setattr(ti, k, v)
            if data is not None:
                ti.size = len(data)
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
        add("d", type=tarfile.DIRTYPE, mode=0o755)
        add("d/f", b"hello" * 1000, mode=0o644, mtime=1234)
        add("d/" + "long" * 40, b"long name", mode=0o600)  # a PAX path record
        add("d/empty", b"")
        add("d/link", type=tarfile.SYMTYPE, linkname="f")
        add("d/hard", type=tarfile.LNKTYPE, linkname="d/f")
        add("big", os.urandom(3 << 20))  # spans several read chunks
    return buf.getvalue()


def _unpacked(tmp_path, raw: bytes):
    """(diff dir, tar-split path) of `raw` unpacked."""
    dest = tmp_path / "diff"
    dest.mkdir()
    split = tmp_path / tarsplit.FILE_NAME
    unpack_layer(io.BytesIO(raw), str(dest), chown=False, split_path=str(split))
    return dest, split


def _reassembled(dest, split) -> bytes:
    out = io.BytesIO()
    tarsplit.reassemble(str(split), str(dest), out)
    return out.getvalue()


def test_reassembled_tar_is_the_original(tmp_path):
    raw = _layer()
    assert _reassembled(*_unpacked(tmp_path, raw)) == raw


def test_a_changed_layer_gives_another_tar(tmp_path):
    raw = _layer()
    dest, split = _unpacked(tmp_path, raw)
    (dest / "d" / "f").write_bytes(b"other" * 1000)
    out = _reassembled(dest, split)
    assert out != raw and len(out) == len(raw)  # the caller's digest check tells
