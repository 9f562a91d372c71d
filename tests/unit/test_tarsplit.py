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


# -- memory: bounded whatever the layer holds ----------------------------------------------------

class _Stream:
    """A tar stream made on the fly: `head` bytes, then `zeros` zero bytes, then `tail` — never
    all in memory, like a layer read from the network."""

    def __init__(self, head: bytes, zeros: int, tail: bytes = b""):
        self.parts = [head, zeros, tail]

    def read(self, n: int) -> bytes:
        while self.parts:
            part = self.parts[0]
            if isinstance(part, int):
                if part:
                    take = min(n, part)
                    self.parts[0] = part - take
                    return bytes(take)
            elif part:
                self.parts[0] = part[n:]
                return part[:n]
            self.parts.pop(0)
        return b""


def _header(name: str, size: int, kind=tarfile.REGTYPE, **kw) -> bytes:
    ti = tarfile.TarInfo(name)
    ti.size, ti.type, ti.mode = size, kind, 0o644
    for k, v in kw.items():
        setattr(ti, k, v)
    return ti.tobuf(tarfile.GNU_FORMAT)


def _peak_while_unpacking(tmp_path, stream):
    import tracemalloc

    dest = tmp_path / "diff"
    dest.mkdir()
    split = tmp_path / tarsplit.FILE_NAME
    tracemalloc.start()
    try:
        stats = unpack_layer(stream, str(dest), chown=False, split_path=str(split))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak, stats, dest, split


MiB = 1 << 20
END = bytes(1024)


def test_a_big_file_is_not_held_in_memory(tmp_path):
    size = 96 * MiB
    stream = _Stream(_header("big", size), size, END)
    peak, stats, dest, split = _peak_while_unpacking(tmp_path, stream)
    assert peak < 8 * MiB, f"peak {peak / MiB:.0f} MiB"
    assert (dest / "big").stat().st_size == size
    out = io.BytesIO()
    tarsplit.reassemble(str(split), str(dest), out)
    assert out.getvalue() == _header("big", size) + bytes(size) + END


def test_a_big_skipped_entry_is_not_held_and_drops_the_tar_split(tmp_path):
    # A device node claiming 96 MiB of content: the unpacker skips it and its data.
    size = 96 * MiB
    head = _header("dev", size, tarfile.CHRTYPE, devmajor=1, devminor=3)
    peak, stats, dest, split = _peak_while_unpacking(tmp_path, _Stream(head, size + 512, END))
    assert peak < 8 * MiB, f"peak {peak / MiB:.0f} MiB"
    assert stats.skipped_count == 1 and "device nodes" in stats.skipped[0]
    assert not split.exists()  # more unkept data than the tar-split keeps: the tar is re-created
    assert any("original tar is not kept" in n for n in stats.notices)


def test_a_long_tail_after_the_end_is_not_held(tmp_path):
    head = _header("f", 5) + b"hello" + bytes(507) + END
    peak, stats, dest, split = _peak_while_unpacking(tmp_path, _Stream(head, 96 * MiB))
    assert peak < 8 * MiB, f"peak {peak / MiB:.0f} MiB"
    assert (dest / "f").read_bytes() == b"hello"
    assert not split.exists()


def test_a_short_tail_and_small_skipped_entries_stay_exact(tmp_path):
    # The usual end padding (to a 10 KiB record) and a small skipped entry: still byte-exact.
    head = (_header("dev", 700, tarfile.CHRTYPE, devmajor=1, devminor=3) + os.urandom(700)
            + bytes(-700 % 512) + _header("f", 3) + b"abc" + bytes(509) + END)
    raw = head + bytes(-len(head) % 10240)
    _, stats, dest, split = _peak_while_unpacking(tmp_path, io.BytesIO(raw))
    assert stats.skipped_count == 1
    assert _reassembled(dest, split) == raw


def test_a_gzip_bomb_inflates_a_chunk_at_a_time():
    import tracemalloc
    import zlib

    from pypod.image.streams import DecompressingReader

    c = zlib.compressobj(1, zlib.DEFLATED, 31)
    zeros = bytes(16 * MiB)
    blob = b"".join(c.compress(zeros) for _ in range(16)) + c.flush()  # 256 MiB in ~1 MiB
    tracemalloc.start()
    try:
        reader = DecompressingReader(io.BytesIO(blob), "gzip")
        total = 0
        while chunk := reader.read(MiB):
            total += len(chunk)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert total == 256 * MiB
    assert peak < 8 * MiB, f"peak {peak / MiB:.0f} MiB"


def test_countless_headers_do_not_grow_the_tar_split_without_end(tmp_path, monkeypatch):
    monkeypatch.setattr(tarsplit, "MAX_RAW", 64 << 10)  # 512 MiB of headers, made small
    head = b"".join(_header(f"f{i}", 1) + b"x" + bytes(511) for i in range(200))  # 100 KiB of headers
    _, stats, dest, split = _peak_while_unpacking(tmp_path, io.BytesIO(head + END))
    assert len(list(dest.iterdir())) == 200  # the layer itself is whole
    assert not split.exists() and not list(tmp_path.glob("*.tmp-*"))
    assert [n for n in stats.notices if "of headers and data not unpacked" in n]
