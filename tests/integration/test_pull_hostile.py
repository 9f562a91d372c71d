"""Issue 13: a hostile layer on pull — memory stays bounded whatever it holds (a 3 GiB file, a
3 GiB entry the unpacker skips, 3 GiB after the tar's end: each a gzip bomb of zeros, a few MB of
blob), and what it had that was not unpacked is said once."""

from __future__ import annotations

import hashlib
import re
import struct
import tarfile
import zlib

import pytest

from tests.lib import oci
from tests.lib.user import PYPOD, pypod, run_as_user

pytestmark = pytest.mark.integration

GiB = 1 << 30
ZEROS = 64 << 20
LIMIT_KIB = 100 << 10  # peak RSS of any pypod process of the pull


def _deflated(data: bytes) -> bytes:
    """`data` as raw deflate ending on a byte boundary with a fresh history (Z_FULL_FLUSH), so
    that such pieces, repeated and concatenated, are one valid deflate stream."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush(zlib.Z_FULL_FLUSH)


def bomb_layer(parts) -> oci.Layer:
    """One gzip member of `parts` (bytes, or an int: that many zero bytes, a multiple of 64 MiB),
    built without ever holding the uncompressed tar."""
    zero_block = _deflated(bytes(ZEROS))
    body, sha, crc, size = [], hashlib.sha256(), 0, 0
    zeros = bytes(ZEROS)
    for part in parts:
        if isinstance(part, int):
            assert part % ZEROS == 0
            for _ in range(part // ZEROS):
                body.append(zero_block)
                sha.update(zeros)
                crc = zlib.crc32(zeros, crc)
            size += part
        else:
            body.append(_deflated(part))
            sha.update(part)
            crc = zlib.crc32(part, crc)
            size += len(part)
    body.append(b"\x03\x00")  # an empty final fixed-Huffman block ends the stream
    blob = (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + b"".join(body)
            + struct.pack("<II", crc, size & 0xFFFFFFFF))
    assert zlib.decompressobj(31).decompress(blob[:4096])  # a sane stream
    return oci.Layer(oci.sha256_digest(blob), "sha256:" + sha.hexdigest(), len(blob), "gzip",
                     data=blob)


def header(name: str, size: int, kind=tarfile.REGTYPE, **kw) -> bytes:
    ti = tarfile.TarInfo(name)
    ti.size, ti.type, ti.mode, ti.mtime = size, kind, 0o644, 1_700_000_000
    for k, v in kw.items():
        setattr(ti, k, v)
    return ti.tobuf(tarfile.GNU_FORMAT)


END = bytes(1024)
SMALL = header("etc/small", 5) + b"hello" + bytes(507)

IMAGES = {
    # an ordinary file of 3 GiB
    "bigfile": lambda n: [header("big", n), n, END],
    # a device node claiming 3 GiB of content, which the unpacker skips with its data
    "bigdev": lambda n: [header("dev/big", n, tarfile.CHRTYPE, devmajor=1, devminor=3), n,
                         SMALL, END],
    # a small tar, then 3 GiB after its end
    "bigtail": lambda n: [SMALL, END, n],
}


def _max_rss_kib(stderr: str) -> int:
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    assert m, stderr
    return int(m.group(1))


@pytest.mark.parametrize("kind", sorted(IMAGES))
def test_pull_of_a_3_gib_layer_stays_small(clean_storage, registry, kind):
    tag = "v1"  # a new recipe needs a new tag: a pushed image is kept for the next runs
    with oci.RegistryClient(registry.url) as c:
        pushed = c.head_manifest(f"bomb/{kind}", tag)
    if not pushed:  # building one hashes its 3 GiB: ~10 s
        layer = bomb_layer(IMAGES[kind](3 * GiB))
        assert layer.size < 8 << 20  # the blob is small: it is the unpacked size that is big
        oci.push_image(registry.url, f"bomb/{kind}", tag, [layer])
    ref = f"{registry.host}/bomb/{kind}:{tag}"
    try:
        # GNU time: the largest max RSS of the pull and of every process it waited for
        # (the unpack worker runs in its own process, inside the user namespace).
        r = run_as_user(["/usr/bin/time", "-v", PYPOD, "pull", "-q", ref], timeout=600)
        assert r.returncode == 0, r.stderr
        peak = _max_rss_kib(r.stderr)
        print(f"pull of {kind}: peak RSS {peak >> 10} MiB")
        assert peak < LIMIT_KIB, f"pull of {kind}: peak RSS {peak >> 10} MiB"
        if kind == "bigfile":
            size = pypod("image", "inspect", "--format", "{{.Size}}", ref).stdout
            assert int(size) > 3 * GiB, size
            assert "WARN" not in r.stderr
        else:
            assert "WARN[0000]" in r.stderr and "original tar is not kept" in r.stderr
            if kind == "bigdev":
                assert "1 layer entry not unpacked, hostile or unsupported: dev/big: " \
                    "device nodes are not allowed" in r.stderr
    finally:
        pypod("rmi", "-f", ref)


def test_entries_left_out_of_a_layer_are_said_once(clean_storage, registry):
    # the seeded hostile image: paths out of the layer, through a symlink, hardlinks to host
    # files, a device node — 5 entries not unpacked, said in one line (even with -q)
    r = pypod("pull", "-q", registry["hostile"])
    assert r.returncode == 0, r.stderr
    warnings = [line for line in r.stderr.splitlines() if line.startswith("WARN")]
    assert warnings == [f"WARN[0000] {registry['hostile']}: 5 layer entries not unpacked, hostile or "
                        "unsupported: ../../../tmp/pypod-hostile-escape: path escapes the layer "
                        "(and 4 more)"], r.stderr
