"""The unpack worker reads a layer ahead in a thread (image/streams.Prefetcher): the bytes, the
diff id and the size must be exactly those of reading it directly, and a corrupt stream must
still fail the read that reaches the damage."""

from __future__ import annotations

import gzip
import hashlib
import io
import os

import pytest

from pypod.image.streams import CHUNK, DecompressingReader, Prefetcher


def _layer(size: int) -> tuple[bytes, bytes]:
    raw = os.urandom(size // 2) + bytes(size - size // 2)  # some of it incompressible
    return raw, gzip.compress(raw, compresslevel=1)


def test_prefetched_bytes_digest_and_size_match_the_direct_read():
    raw, gz = _layer(5 * CHUNK + 12345)
    reader = DecompressingReader(io.BytesIO(gz), "gzip")
    ahead = Prefetcher(reader, depth=2)  # smaller than the layer: the thread must wait for us
    got = []
    while True:
        chunk = ahead.read(CHUNK)
        if not chunk:
            break
        got.append(chunk)
    assert b"".join(got) == raw
    assert ahead.read(CHUNK) == b""  # (stays at the end)
    assert reader.digest == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert reader.size == len(raw)


def test_drain_reads_to_the_end():
    raw, gz = _layer(3 * CHUNK)
    reader = DecompressingReader(io.BytesIO(gz), "gzip")
    ahead = Prefetcher(reader)
    ahead.read(100)
    ahead.drain()
    assert reader.size == len(raw)
    assert reader.digest == "sha256:" + hashlib.sha256(raw).hexdigest()


def test_a_corrupt_stream_fails_the_reader_not_the_thread():
    _, gz = _layer(2 * CHUNK)
    bad = gz[:len(gz) // 2] + b"\xff" * 64 + gz[len(gz) // 2 + 64:]
    ahead = Prefetcher(DecompressingReader(io.BytesIO(bad), "gzip"))
    with pytest.raises(ValueError, match="corrupt layer"):
        while ahead.read(CHUNK):
            pass
    assert ahead.read(CHUNK) == b""
