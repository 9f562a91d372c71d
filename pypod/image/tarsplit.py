"""The original tar of a pulled layer, minus its file contents ("tar-split", as containers/storage
keeps): with it, push and save give back the very tar the registry had — same diff id, same image
id — instead of a re-created one.

Written while a layer is unpacked: every byte of the uncompressed stream goes in verbatim (headers,
PAX records, padding, the end blocks), except the contents of the regular files written into the
layer, which become references (path, size). Reassembling reads those from the layer directory.
The caller checks the result against the layer's diff id and re-creates the tar when it differs
(a file written twice by one layer, a layer changed since) or when there is none: a layer whose raw
part passes a bound (MAX_RAW here, the unpacker's MAX_UNKEPT) keeps none, so that neither memory nor
this file grows with what a hostile layer holds.

Format (gzip): MAGIC, then records: b"R" + u32 length + bytes | b"F" + u16 path length + u64 size +
path (relative to the layer root).
"""

from __future__ import annotations

import gzip
import os
import struct

MAGIC = b"PYPODTS1"
FILE_NAME = "tar-split.gz"
# Raw bytes (headers, padding, what is not unpacked) a tar-split keeps at most: a layer of 100,000
# files has ~150 MB. Past it the layer keeps none (push and save re-create its tar), so a layer of
# countless empty entries cannot grow it without end.
MAX_RAW = 512 << 20
# Records are gathered up to this size before they go to gzip: a write per record (three per tar
# entry) cost a fifth of a debian layer's unpack in GzipFile's per-call overhead.
BATCH = 256 << 10


class SplitError(Exception):
    pass


class Writer:
    """Streams the tar-split while the layer is read: memory holds one read chunk at most.

    The reader announces every chunk it reads (`chunk`) and the file contents it unpacks (`file`);
    everything else is raw and goes to the file as it comes. Only the latest chunk is kept: the
    unpacker never points back before it.
    """

    def __init__(self, path: str, on_drop=None):
        self.path = path
        self.on_drop = on_drop  # hears why, when the tar-split is given up
        self.raw = 0
        self.tmp = f"{path}.tmp-{os.getpid()}"
        self.f = gzip.open(self.tmp, "wb", compresslevel=1)
        self.out = bytearray(MAGIC)  # records not yet given to gzip (at most BATCH + a chunk)
        self.base = 0      # stream offset of the latest chunk
        self.data = b""    # the latest chunk
        self.pos = 0       # stream offset up to which everything is recorded
        self.dropped = False

    def chunk(self, base: int, data: bytes) -> None:
        if self.dropped or not data:
            return
        self._raw_until(base)  # what is left of the previous chunk is raw
        if base + len(data) <= self.pos:
            return  # wholly inside a file's content: nothing to keep
        self.base, self.data = base, data

    def _raw_until(self, off: int) -> None:
        base, data = self.base, self.data
        start = self.pos - base
        end = min(len(data), off - base)
        if start < end:
            self.raw += end - start
            if self.raw > MAX_RAW:
                self.drop(f"a layer's tar has more than {MAX_RAW >> 20} MiB of headers and data "
                          "not unpacked")
                return
            # one record per piece: at most a chunk in memory, however long the raw run
            piece = memoryview(data)[start:end]
            self._put(b"R" + struct.pack(">I", len(piece)))
            self._put(piece)
            self.pos = base + end

    def _put(self, data) -> None:
        out = self.out
        out += data
        if len(out) >= BATCH:
            self.f.write(out)
            out.clear()

    def file(self, off: int, size: int, path: bytes) -> None:
        """The `size` bytes at stream offset `off` are the content of `path`."""
        if self.dropped:
            return
        self._raw_until(off)
        if self.dropped:
            return
        self._put(b"F" + struct.pack(">HQ", len(path), size) + path)
        self.pos = off + size

    def drop(self, why: str) -> None:
        """Keep no tar-split for this layer (push/save will re-create the tar)."""
        if not self.dropped:
            self.dropped = True
            self.data = b""
            self.out = bytearray()
            self.abort()
            if self.on_drop:
                self.on_drop(f"{why}: its original tar is not kept, push and save re-create it")

    def close(self) -> None:
        self._raw_until(1 << 62)
        if self.dropped:
            return
        self.f.write(self.out)
        self.out.clear()
        self.f.close()
        os.rename(self.tmp, self.path)

    def abort(self) -> None:
        try:
            self.f.close()
        finally:
            try:
                os.unlink(self.tmp)
            except OSError:
                pass


def reassemble(split_path: str, root: str, out) -> None:
    """Write the original tar to `out` (a binary file), contents read from layer dir `root`."""
    from pypod.linux.rootpath import secure_join

    with gzip.open(split_path, "rb") as f:
        if f.read(len(MAGIC)) != MAGIC:
            raise SplitError(f"{split_path}: not a tar-split file")
        while True:
            kind = f.read(1)
            if not kind:
                return
            if kind == b"R":
                (n,) = struct.unpack(">I", f.read(4))
                data = f.read(n)
                if len(data) != n:
                    raise SplitError(f"{split_path}: truncated")
                out.write(data)
            elif kind == b"F":
                plen, size = struct.unpack(">HQ", f.read(10))
                rel = f.read(plen)
                path = secure_join(root, os.fsdecode(rel))  # links resolve inside the layer
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
                try:
                    left = size
                    while left:
                        chunk = os.read(fd, min(left, 1 << 20))
                        if not chunk:
                            raise SplitError(f"{os.fsdecode(rel)}: shorter than its tar entry")
                        out.write(chunk)
                        left -= len(chunk)
                finally:
                    os.close(fd)
            else:
                raise SplitError(f"{split_path}: bad record {kind!r}")
