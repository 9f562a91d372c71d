"""Unpack one layer tarball into a layer's diff directory, safely and fast.

Layer tarballs are hostile input. Every path is cleaned lexically, made relative, and resolved
component by component from the layer root with O_NOFOLLOW, so nothing is ever written through a
symlink: an entry whose parent is a symlink (or not a directory) is skipped and reported. Hardlinks
must name a regular file already unpacked in this layer; device nodes are refused, except the
overlay whiteout form (character device 0:0).

OCI whiteouts become overlayfs whiteouts: `.wh.NAME` -> character device 0:0 `NAME`,
`.wh..wh..opq` -> `opaque_xattr`="y" on its directory.

The stream is read once, sequentially, with our own header parser (tarfile's stream mode copies
data in 10 KiB pieces and builds a TarInfo per member: 1.5 s against 0.6 s for a 230 MB layer), and
drained to EOF so the caller's digest covers every byte.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO, Callable

from pypod import faults
from pypod.errors import PypodError

CHUNK = 1 << 20
BLOCK = 512
_ZERO_BLOCK = bytes(BLOCK)
# Extended headers are held in memory: bound them so a hostile layer cannot exhaust it.
MAX_PAX_HEADER = 16 << 20
MAX_LONG_NAME = 1 << 20
MAX_PATH = 4096
MAX_DEPTH = 256  # components; keeps shutil.rmtree's recursion well inside Python's limit
_MAX_ID = 0xFFFFFFFE  # (uid_t)-1 means "unchanged" to chown
_MAX_TIME_NS = (1 << 62) - 1
FD_CACHE_SIZE = 64
# Bytes of the stream that are neither headers nor unpacked content (skipped entries' data, what
# follows the end of the archive) kept in the tar-split; past this, the layer keeps none (push and
# save re-create its tar), so a hostile layer cannot make it grow with its size.
MAX_UNKEPT = 16 << 20
MAX_SKIPPED_LISTED = 100  # skip messages (and notices) kept for the report; the count goes on

_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_OPEN_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC

_REGULAR = (b"0", b"\0", b"7")
_WHITEOUT_PREFIX = b".wh."
_OPAQUE_MARKER = b".wh..wh..opq"
# Overlay's own metadata must come from whiteout entries, never from a layer's xattrs
# (a forged redirect/metacopy/opaque attribute would change what the merged view shows).
_FORBIDDEN_XATTR_PREFIXES = ("trusted.overlay.", "user.overlay.")
_PRIVILEGED_XATTR_PREFIXES = ("security.", "trusted.")
_PRIVILEGE_ERRNOS = (errno.EPERM, errno.EACCES, errno.ENOTSUP)
# A value or name the filesystem refuses (or no /proc for symlink xattrs): warn once, go on.
_XATTR_ERRNOS = (errno.E2BIG, errno.ERANGE, errno.EINVAL, errno.ENOSPC, errno.ENOENT)
# Errors that concern one entry's path (bad name, odd parent): skip that entry and go on.
_ENTRY_ERRNOS = (errno.ELOOP, errno.ENOTDIR, errno.ENAMETOOLONG, errno.ENOENT, errno.EEXIST,
                 errno.EISDIR)


class LayerError(PypodError):
    """The layer cannot be unpacked: a corrupt or truncated tar stream, or the filesystem failed."""


class UnsafeLayer(LayerError):
    """Reserved. Hostile entries are skipped and reported through `on_skip`, never raised."""


@dataclass
class UnpackStats:
    size: int = 0  # bytes of regular file content written
    files: int = 0  # entries created: files, hardlinks, symlinks, fifos, whiteouts, directories
    skipped: list[str] = field(default_factory=list)  # "NAME: reason", the first ones
    skipped_count: int = 0  # every skipped entry
    notices: list[str] = field(default_factory=list)  # one-time warnings (chown, xattrs)


class _Skip(Exception):
    """This entry is hostile or unsupported: skip it with this reason."""


@dataclass
class _DirMeta:
    mode: int
    uid: int
    gid: int
    mtime_ns: int | None
    xattrs: dict[str, bytes] | None


def unpack_layer(
    stream: BinaryIO,
    dest: str,
    *,
    opaque_xattr: str = "user.overlay.opaque",
    chown: bool = True,
    uid_map: Callable[[int], int | None] | None = None,
    gid_map: Callable[[int], int | None] | None = None,
    on_skip: Callable[[str], None] | None = None,
    split_path: str | None = None,
) -> UnpackStats:
    """Unpack the (decompressed) tar `stream` into the existing empty directory `dest`.

    `uid_map`/`gid_map` translate tar ids to the ids to chown to (None: leave the owner alone).
    `on_skip(message)` hears about every skipped entry and every one-time notice.
    `split_path`: also keep the tar without its file contents there (pypod.image.tarsplit).
    """
    unpacker = _Unpacker(dest, opaque_xattr, chown, uid_map, gid_map, on_skip)
    split = None
    try:
        if split_path:
            from pypod.image.tarsplit import Writer

            split = Writer(split_path, on_drop=lambda message: unpacker._notice("tar-split", message))
        unpacker.run(_Reader(stream, split))
        if split is not None:
            split.close()
            split = None
    finally:
        unpacker.close()
        if split is not None:
            split.abort()
    return unpacker.stats


class _Reader:
    """Sequential reads over the stream in 1 MiB chunks; never seeks."""

    __slots__ = ("stream", "buf", "pos", "base", "split", "entry", "unkept")

    def __init__(self, stream: BinaryIO, split=None):
        self.stream = stream
        self.buf = b""
        self.pos = 0
        self.base = 0  # stream offset of buf[0]
        self.split = split  # a tarsplit.Writer: every chunk goes by it
        self.entry = b""  # the path whose content copy() writes
        self.unkept = 0  # bytes discard() passed over

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def _next_chunk(self) -> bytes:
        self.base += len(self.buf)
        self.buf = self.stream.read(CHUNK)
        self.pos = 0
        if self.split is not None:
            self.split.chunk(self.base, self.buf)
        return self.buf

    def read(self, n: int, eof_ok: bool = False) -> bytes:
        """Exactly n bytes; b"" if eof_ok and the stream ends right here."""
        pos = self.pos
        end = pos + n
        if end <= len(self.buf):
            self.pos = end
            return self.buf[pos:end]
        parts = [self.buf[pos:]]
        have = len(parts[0])
        while have < n:
            chunk = self._next_chunk()
            if not chunk:
                if eof_ok and have == 0:
                    return b""
                raise LayerError("truncated layer: the stream ended inside a tar entry")
            take = min(len(chunk), n - have)
            parts.append(chunk[:take] if take < len(chunk) else chunk)
            self.pos = take
            have += take
        return b"".join(parts)

    def copy(self, fd: int, n: int) -> None:
        if self.split is not None:
            self.split.file(self.offset, n, self.entry)
        write = os.write
        while n:
            avail = len(self.buf) - self.pos
            if not avail:
                if not self._next_chunk():
                    raise LayerError("truncated layer: the stream ended inside a file's content")
                avail = len(self.buf)
            take = avail if avail < n else n
            view = memoryview(self.buf)[self.pos:self.pos + take]
            while view:
                view = view[write(fd, view):]
            self.pos += take
            n -= take

    def skip(self, n: int) -> None:
        while n:
            avail = len(self.buf) - self.pos
            if not avail:
                if not self._next_chunk():
                    raise LayerError("truncated layer: the stream ended inside a tar entry")
                avail = len(self.buf)
            take = avail if avail < n else n
            self.pos += take
            n -= take

    def discard(self, n: int) -> None:
        """Pass over `n` bytes the layer does not keep (a skipped entry's content)."""
        self._count_unkept(n)
        self.skip(n)

    def _count_unkept(self, n: int) -> None:
        self.unkept += n
        if self.split is not None and self.unkept > MAX_UNKEPT:
            self.split.drop(f"a layer's tar has more than {MAX_UNKEPT >> 20} MiB neither unpacked "
                            "nor headers (skipped entries, data after the end of the archive)")

    def drain(self) -> None:
        """Read to EOF: the caller hashes the whole blob, padding included."""
        self._count_unkept(len(self.buf) - self.pos)
        self.base += len(self.buf)
        self.buf = b""
        self.pos = 0
        while True:
            chunk = self.stream.read(CHUNK)
            if not chunk:
                break
            self._count_unkept(len(chunk))
            if self.split is not None:
                self.split.chunk(self.base, chunk)
            self.base += len(chunk)


def _num(field_: bytes) -> int:
    """A numeric header field: octal text, or GNU base-256 when the high bit is set."""
    try:
        return int(field_.rstrip(b"\0 "), 8)  # the common case: digits, then NULs/spaces
    except ValueError:
        return _num_slow(field_)


def _num_slow(field_: bytes) -> int:
    first = field_[0]
    if first & 0x80:
        n = int.from_bytes(field_[1:], "big")
        if first == 0xFF:
            n -= 256 ** (len(field_) - 1)
        return n
    text = field_.split(b"\0", 1)[0].strip()
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        raise LayerError(f'corrupt layer: invalid number "{_show(text)}" in a tar header') from None


def _checksum_ok(block: bytes) -> bool:
    """The header checksum: the sum of its bytes, the checksum field counted as spaces."""
    checksum_field = block[148:156]
    expected = _num(checksum_field) - 256 + sum(checksum_field)  # the sum of the whole block
    # adler32's low half is 1 + the byte sum mod 65521: a byte sum at C speed (sum() over 512
    # bytes costs 3 us an entry). A block sums to less than 2 * 65521, so only a corruption that
    # shifts the sum by exactly 65521 could pass.
    if (expected + 1 - (zlib.adler32(block) & 0xFFFF)) % 65521 == 0:
        return True
    expected = _num(checksum_field)
    # Some old tars summed signed chars.
    signed = lambda data: sum(b - 256 if b > 127 else b for b in data)  # noqa: E731
    return expected == signed(block) - signed(block[148:156]) + 256


def _nts(field_: bytes) -> bytes:
    i = field_.find(b"\0")
    return field_ if i < 0 else field_[:i]


def _parse_pax(data: bytes) -> dict[bytes, bytes]:
    """PAX records, `LEN KEY=VALUE\\n`; values are raw bytes (xattr values are binary)."""
    records: dict[bytes, bytes] = {}
    pos, end = 0, len(data)
    while pos < end and data[pos] != 0:
        space = data.find(b" ", pos, pos + 24)
        try:
            length = int(data[pos:space]) if space > pos else 0
        except ValueError:
            length = 0
        if length <= space - pos or pos + length > end or data[pos + length - 1] != 0x0A:
            raise LayerError("corrupt layer: malformed PAX extended header")
        key, eq, value = data[space + 1:pos + length - 1].partition(b"=")
        if not eq:
            raise LayerError("corrupt layer: malformed PAX extended header")
        records[key] = value
        pos += length
    return records


def _pax_int(records: dict[bytes, bytes], key: bytes) -> int | None:
    value = records.get(key)
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise LayerError(f'corrupt layer: invalid PAX {_show(key)} "{_show(value)}"') from None


def _pax_time_ns(value: bytes) -> int:
    try:
        text = value.decode("ascii")
        sec, _, frac = text.partition(".")
        ns = int(sec) * 1_000_000_000
        if frac:
            part = int((frac + "000000000")[:9])
            ns += -part if text.startswith("-") else part
        return ns
    except ValueError:
        raise LayerError(f'corrupt layer: invalid PAX mtime "{_show(value)}"') from None


def _clean(name: bytes) -> bytes | None:
    """Lexically clean a member name into a path relative to the root; None if it escapes."""
    if name[:1] not in b"./" and b"/." not in name and b"//" not in name:
        return name.rstrip(b"/")  # already clean: no ".", "..", empty or leading components
    parts: list[bytes] = []
    for part in name.split(b"/"):
        if part == b"..":
            if not parts:
                return None
            parts.pop()
        elif part and part != b".":
            parts.append(part)
    return b"/".join(parts)


def _umask() -> int:
    """The process's umask, read without setting it (os.umask can only swap it, which for a
    moment would change what files another thread creates)."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o077)  # (no /proc: swap with a strict mask for that moment)
    os.umask(old)
    return old


def _show(name: bytes) -> str:
    return name.decode("utf-8", "backslashreplace")


class _Unpacker:
    def __init__(self, dest, opaque_xattr, chown, uid_map, gid_map, on_skip):
        self.opaque_xattr = opaque_xattr
        self.chown = chown
        self.uid_map = uid_map
        self.gid_map = gid_map
        self.on_skip = on_skip
        self.stats = UnpackStats()
        self.root = os.open(dest, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        # What a new entry gets without asking, so that the two syscalls a file would spend
        # asking for it again (a fifth of an unpack's system time) can be left out: the owner is
        # ours (no parent here is setgid until _finish_dirs, unless the root is), and a mode
        # without setuid/setgid/sticky bits can be given at creation when the umask keeps it.
        self.owner = None
        if uid_map is None and gid_map is None and not os.fstat(self.root).st_mode & stat.S_ISGID:
            self.owner = (os.geteuid(), os.getegid())
        self.umask = _umask()
        # Directory fds by cleaned relative path, least recently used first.
        self.cache: dict[bytes, int] = {}
        # Directory metadata, applied at the end, deepest first, so children don't disturb it.
        self.dirs: dict[bytes, _DirMeta] = {}
        self.subdirs: dict[bytes, set[bytes]] = {}  # parent -> its directories in self.dirs
        self.told: set[str] = set()
        self.unmapped_told = False

    def close(self) -> None:
        for fd in self.cache.values():
            os.close(fd)
        self.cache.clear()
        os.close(self.root)

    # -- reporting -------------------------------------------------------------------------------

    def _skip(self, name: bytes, reason: str) -> None:
        message = f"{_show(name)}: {reason}"
        self.stats.skipped_count += 1
        if len(self.stats.skipped) < MAX_SKIPPED_LISTED:
            self.stats.skipped.append(message)
        if self.on_skip:
            self.on_skip(message)

    def _notice(self, key: str, message: str) -> None:
        if key in self.told or (len(self.told) >= MAX_SKIPPED_LISTED and key != "tar-split"):
            return  # (keys name xattrs: a hostile layer has as many as it likes)
        self.told.add(key)
        self.stats.notices.append(message)
        if self.on_skip:
            self.on_skip(message)

    # -- the stream ------------------------------------------------------------------------------

    def run(self, r: _Reader) -> None:
        self._entries(r)
        try:
            self._finish_dirs()
        except (OSError, _Skip) as e:
            reason = getattr(e, "strerror", None) or e
            raise LayerError(f"applying directory metadata: {reason}") from e

    def _entries(self, r: _Reader) -> None:
        pax_global: dict[bytes, bytes] = {}
        pax: dict[bytes, bytes] | None = None
        long_name = long_link = None
        while True:
            block = r.read(BLOCK, eof_ok=True)
            if not block:
                break  # EOF on a block boundary without end-of-archive blocks: accept, like Go
            if block == _ZERO_BLOCK:
                r.drain()
                break
            offset = r.offset - BLOCK
            faults.point("unpack")
            if not _checksum_ok(block):
                raise LayerError(f"corrupt layer: invalid tar header at offset {offset}")
            kind = block[156:157]
            size = _num(block[124:136])
            if size < 0:
                raise LayerError(f"corrupt layer: negative size in the tar header at {offset}")
            pad = -size % BLOCK

            if kind in (b"x", b"g", b"X"):
                if size > MAX_PAX_HEADER:
                    raise LayerError(f"corrupt layer: {size}-byte PAX header at offset {offset}")
                records = _parse_pax(r.read(size))
                r.skip(pad)
                if kind == b"g":
                    for key in (b"path", b"linkpath", b"size"):
                        records.pop(key, None)
                    pax_global.update(records)
                else:
                    pax = records
                continue
            if kind in (b"L", b"K"):
                if size > MAX_LONG_NAME:
                    raise LayerError(f"corrupt layer: {size}-byte long name at offset {offset}")
                value = _nts(r.read(size))
                r.skip(pad)
                if kind == b"L":
                    long_name = value
                else:
                    long_link = value
                continue

            records = {**pax_global, **pax} if pax_global else pax or {}
            pax = None
            if long_name is not None:
                name, long_name = long_name, None
            else:
                name = _nts(block[0:100])
                if block[257:263] == b"ustar\0":
                    prefix = _nts(block[345:500])
                    if prefix:
                        name = prefix + b"/" + name
            if long_link is not None:
                linkname, long_link = long_link, None
            elif kind in b"12":
                linkname = _nts(block[157:257])
            else:
                linkname = b""
            if records:
                name = records.get(b"path") or name
                linkname = records.get(b"linkpath") or linkname
                pax_size = _pax_int(records, b"size")
                if pax_size is not None:
                    if pax_size < 0:
                        raise LayerError(f"corrupt layer: negative PAX size at {offset}")
                    size = pax_size
                    pad = -size % BLOCK

            if kind == b"S":
                # Old GNU sparse: extension blocks follow the header before the data.
                extended = block[482]
                while extended:
                    extended = r.read(BLOCK)[504]
                r.discard(size + pad)
                self._skip(name, "sparse files are not supported")
                continue
            if records and any(key.startswith(b"GNU.sparse.") for key in records):
                r.discard(size + pad)
                self._skip(records.get(b"GNU.sparse.name", name), "sparse files are not supported")
                continue

            consumed = self._entry(r, kind, name, linkname, size, block, records)
            if consumed:
                r.skip(pad)
            else:
                r.discard(size + pad)

    # -- one entry -------------------------------------------------------------------------------

    def _entry(self, r, kind, name, linkname, size, block, records) -> bool:
        """Create one entry; True if it consumed its `size` bytes of content."""
        if b"\0" in name:
            self._skip(name, "name contains a NUL byte")
            return False
        path = _clean(name)
        if path is None:
            self._skip(name, "path escapes the layer")
            return False
        if len(path) > MAX_PATH or path.count(b"/") >= MAX_DEPTH:
            self._skip(name[:64] + b"...", "name is too long or too deep")
            return False
        if kind == b"D" or (kind == b"\0" and name.endswith(b"/")):
            kind = b"5"  # a GNU dumpdir, or an old-style directory

        mode = _num(block[100:108]) & 0o7777
        uid = _num(block[108:116])
        gid = _num(block[116:124])
        mtime_ns = _num(block[136:148]) * 1_000_000_000
        xattrs = None
        if records:
            uid = _pax_int(records, b"uid") if records.get(b"uid") else uid
            gid = _pax_int(records, b"gid") if records.get(b"gid") else gid
            if records.get(b"mtime"):
                mtime_ns = _pax_time_ns(records[b"mtime"])
            xattrs = self._xattrs_of(name, records)
        if not (0 <= uid <= _MAX_ID and 0 <= gid <= _MAX_ID):
            self._skip(name, f"invalid owner {uid}:{gid}")
            return False
        mtime_ns = min(max(mtime_ns, -_MAX_TIME_NS), _MAX_TIME_NS)

        consumed = False
        try:
            head, _, base = path.rpartition(b"/")
            if base.startswith(_WHITEOUT_PREFIX):
                self._whiteout(name, head, base)
                return False
            if kind == b"5":
                self._directory(path, mode, uid, gid, mtime_ns, xattrs)
                return False
            if not path:
                self._skip(name, "cannot replace the layer root")
                return False
            if kind in _REGULAR:
                pfd = self._dir(head, name)
                # given at creation when nothing later could change it (see __init__)
                final = not mode & (0o7000 | self.umask)
                create_mode = mode if final else 0o600
                try:
                    fd = os.open(base, _OPEN_FILE, create_mode, dir_fd=pfd)
                except FileExistsError:
                    self._make_room(pfd, base, path)
                    fd = os.open(base, _OPEN_FILE, create_mode, dir_fd=pfd)
                consumed = True  # from here on the content is read, or we fail for good
                r.entry = path
                self._regular(r, fd, base, size, None if final else mode, uid, gid, mtime_ns, xattrs)
                return True
            if kind == b"2":
                self._symlink(name, head, base, path, linkname, uid, gid, mtime_ns, xattrs)
            elif kind == b"1":
                self._hardlink(name, head, base, path, linkname)
            elif kind == b"6":
                self._fifo(head, base, path, mode, uid, gid, mtime_ns, xattrs, name)
            elif kind == b"3" and _num(block[329:337]) == 0 and _num(block[337:345]) == 0:
                pfd = self._dir(head, name)
                self._replace_with(pfd, base, path, lambda: self._mknod_whiteout(pfd, base, name))
                self.stats.files += 1
            elif kind in (b"3", b"4"):
                self._skip(name, "device nodes are not allowed in a layer")
            elif kind == b"V":
                pass  # a volume label, not a file
            else:
                self._skip(name, f"unsupported tar entry type {kind!r}")
            return False
        except _Skip as skip:
            self._skip(name, str(skip))
            return consumed
        except OSError as e:
            if consumed or e.errno not in _ENTRY_ERRNOS:
                raise LayerError(f"unpacking {_show(name)}: {e.strerror or e}") from e
            self._skip(name, e.strerror or str(e))
            return False

    def _xattrs_of(self, name: bytes, records: dict[bytes, bytes]) -> dict[str, bytes] | None:
        xattrs = None
        for key, value in records.items():
            if not key.startswith(b"SCHILY.xattr."):
                continue
            attr = key[13:].decode("utf-8", "surrogateescape")
            if attr.startswith(_FORBIDDEN_XATTR_PREFIXES):
                self._notice(
                    f"xattr:{attr}",
                    f"{_show(name)}: xattr {attr} ignored: "
                    "overlay metadata cannot come from a layer",
                )
                continue
            if xattrs is None:
                xattrs = {}
            xattrs[attr] = value
        return xattrs

    # -- path resolution -------------------------------------------------------------------------

    def _dir(self, path: bytes, name: bytes, create: bool = True) -> int:
        """An fd for directory `path` inside the root, walked without following any symlink.

        Missing directories are created (0755 root:root at the end, as tar does). The fd belongs
        to the cache: valid until the next call.
        """
        if not path:
            return self.root
        cache = self.cache
        fd = cache.pop(path, None)
        if fd is not None:
            cache[path] = fd
            return fd
        missing = []
        head = path
        while True:
            head, _, base = head.rpartition(b"/")
            missing.append(base)
            if not head:
                fd = self.root
                break
            fd = cache.pop(head, None)
            if fd is not None:
                cache[head] = fd
                break
        current = head
        for base in reversed(missing):
            current = current + b"/" + base if current else base
            fd = self._open_dir(fd, base, current, name, create)
            cache[current] = fd
            if len(cache) > FD_CACHE_SIZE:
                os.close(cache.pop(next(iter(cache))))
        return fd

    def _open_dir(self, pfd: int, base: bytes, path: bytes, name: bytes, create: bool) -> int:
        try:
            return os.open(base, _OPEN_DIR, dir_fd=pfd)
        except FileNotFoundError:
            if not create:
                raise
        except OSError as e:
            if e.errno not in (errno.ENOTDIR, errno.ELOOP):
                raise
            if stat.S_ISLNK(os.stat(base, dir_fd=pfd, follow_symlinks=False).st_mode):
                raise _Skip(f"parent {_show(path)} is a symlink") from None
            raise _Skip(f"parent {_show(path)} is not a directory") from None
        os.mkdir(base, 0o700, dir_fd=pfd)
        self._record_dir(path, _DirMeta(0o755, 0, 0, None, None))
        return os.open(base, _OPEN_DIR, dir_fd=pfd)

    def _record_dir(self, path: bytes, meta: _DirMeta) -> None:
        if path and path not in self.dirs:
            self.subdirs.setdefault(path.rpartition(b"/")[0], set()).add(path)
        self.dirs[path] = meta

    def _forget(self, path: bytes) -> None:
        """`path` (a directory) was removed: drop its cached fds and pending metadata."""
        prefix = path + b"/"
        for key in [k for k in self.cache if k == path or k.startswith(prefix)]:
            os.close(self.cache.pop(key))
        # Walk the removed subtree only (a scan of all directories would let a layer that
        # keeps replacing directories take quadratic time).
        stack = [path]
        while stack:
            gone = stack.pop()
            self.dirs.pop(gone, None)
            stack.extend(self.subdirs.pop(gone, ()))
        self.subdirs.get(path.rpartition(b"/")[0], set()).discard(path)

    def _make_room(self, pfd: int, base: bytes, path: bytes) -> None:
        """The later entry wins: remove what is at `base` (a whole tree for a directory)."""
        st = os.stat(base, dir_fd=pfd, follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            self._forget(path)
            try:
                shutil.rmtree(base, dir_fd=pfd)  # fd-based on Linux: never follows symlinks
            except RecursionError:
                raise LayerError(f"cannot replace {_show(path)}: its tree is too deep") from None
        else:
            os.unlink(base, dir_fd=pfd)

    def _replace_with(self, pfd: int, base: bytes, path: bytes, create: Callable[[], object]):
        try:
            return create()
        except FileExistsError:
            self._make_room(pfd, base, path)
            return create()

    # -- entry types -----------------------------------------------------------------------------

    def _regular(self, r, fd, base, size, mode, uid, gid, mtime_ns, xattrs) -> None:
        try:
            if size:
                r.copy(fd, size)
            self._chown(fd, uid, gid)
            if xattrs:
                self._set_xattrs(fd, xattrs, base)
            if mode is not None:  # None: the file was created with its mode
                os.fchmod(fd, mode)  # after chown, which clears setuid/setgid
            os.utime(fd, ns=(mtime_ns, mtime_ns))
        finally:
            os.close(fd)
        self.stats.files += 1
        self.stats.size += size

    def _directory(self, path, mode, uid, gid, mtime_ns, xattrs) -> None:
        if path:
            head, _, base = path.rpartition(b"/")
            pfd = self._dir(head, path)
            try:
                os.mkdir(base, 0o700, dir_fd=pfd)
            except FileExistsError:
                st = os.stat(base, dir_fd=pfd, follow_symlinks=False)
                if not stat.S_ISDIR(st.st_mode):
                    os.unlink(base, dir_fd=pfd)
                    os.mkdir(base, 0o700, dir_fd=pfd)
        self._record_dir(path, _DirMeta(mode, uid, gid, mtime_ns, xattrs))
        self.stats.files += 1

    def _symlink(self, name, head, base, path, target, uid, gid, mtime_ns, xattrs) -> None:
        if not target:
            raise _Skip("symlink with an empty target")
        if b"\0" in target:
            raise _Skip("symlink target contains a NUL byte")
        pfd = self._dir(head, name)
        # The target text may point anywhere: it is never followed while unpacking.
        self._replace_with(pfd, base, path, lambda: os.symlink(target, base, dir_fd=pfd))
        self._chown(base, uid, gid, dir_fd=pfd)
        if xattrs:
            self._set_xattrs(self._proc_path(pfd, base), xattrs, base, follow=False)
        os.utime(base, ns=(mtime_ns, mtime_ns), dir_fd=pfd, follow_symlinks=False)
        self.stats.files += 1

    def _hardlink(self, name, head, base, path, linkname) -> None:
        if b"\0" in linkname:
            raise _Skip("hardlink target contains a NUL byte")
        target = _clean(linkname)
        if target is None:
            raise _Skip(f"hardlink target {_show(linkname)} escapes the layer")
        if not target:
            raise _Skip("hardlink to the layer root")
        if target == path:
            raise _Skip("hardlink to itself")
        thead, _, tbase = target.rpartition(b"/")
        try:
            # dup: resolving the link's own parent may evict this fd from the cache.
            src_fd = os.dup(self._dir(thead, name, create=False))
        except (FileNotFoundError, _Skip):
            raise _Skip(f"hardlink target {_show(linkname)} is not in the layer") from None
        try:
            try:
                st = os.stat(tbase, dir_fd=src_fd, follow_symlinks=False)
            except FileNotFoundError:
                raise _Skip(f"hardlink target {_show(linkname)} is not in the layer") from None
            if not stat.S_ISREG(st.st_mode):
                raise _Skip(f"hardlink target {_show(linkname)} is not a regular file")
            pfd = self._dir(head, name)
            link = lambda: os.link(  # noqa: E731
                tbase, base, src_dir_fd=src_fd, dst_dir_fd=pfd, follow_symlinks=False
            )
            self._replace_with(pfd, base, path, link)
        finally:
            os.close(src_fd)
        self.stats.files += 1

    def _fifo(self, head, base, path, mode, uid, gid, mtime_ns, xattrs, name) -> None:
        pfd = self._dir(head, name)
        self._replace_with(pfd, base, path, lambda: os.mkfifo(base, 0o600, dir_fd=pfd))
        # `base` is the fifo just made in a directory we hold: path calls cannot be redirected.
        self._chown(base, uid, gid, dir_fd=pfd)
        if xattrs:
            self._set_xattrs(self._proc_path(pfd, base), xattrs, base, follow=False)
        os.chmod(base, mode, dir_fd=pfd)
        os.utime(base, ns=(mtime_ns, mtime_ns), dir_fd=pfd, follow_symlinks=False)
        self.stats.files += 1

    def _whiteout(self, name: bytes, head: bytes, base: bytes) -> None:
        if base == _OPAQUE_MARKER:
            fd = self._dir(head, name)
            try:
                os.setxattr(fd, self.opaque_xattr, b"y")
            except OSError as e:
                raise LayerError(
                    f"cannot mark {_show(head) or '/'} opaque ({self.opaque_xattr}): {e.strerror}"
                ) from e
            return
        hidden = base[len(_WHITEOUT_PREFIX):]
        if hidden.startswith(_WHITEOUT_PREFIX) or hidden in (b"", b".", b".."):
            raise _Skip("unsupported whiteout entry")
        pfd = self._dir(head, name)
        try:
            self._mknod_whiteout(pfd, hidden, name)
        except FileExistsError:
            # A whiteout only hides lower layers: an entry of this layer with that name stays.
            return
        self.stats.files += 1

    def _mknod_whiteout(self, pfd: int, base: bytes, name: bytes) -> None:
        try:
            os.mknod(base, stat.S_IFCHR, os.makedev(0, 0), dir_fd=pfd)
        except PermissionError as e:
            raise LayerError(
                f"cannot create the overlay whiteout for {_show(name)}: {e.strerror}: "
                "this kernel does not allow whiteout devices in a user namespace (needs Linux 5.8+)"
            ) from e

    # -- metadata --------------------------------------------------------------------------------

    @staticmethod
    def _proc_path(pfd: int, base: bytes) -> bytes:
        # os.setxattr takes no dir_fd; /proc/self/fd/N is exactly that directory.
        return b"/proc/self/fd/%d/%s" % (pfd, base)

    def _chown(self, target, uid: int, gid: int, dir_fd: int | None = None) -> None:
        if not self.chown or (uid, gid) == self.owner:
            return
        if self.uid_map is not None:
            uid = self.uid_map(uid)
        if self.gid_map is not None:
            gid = self.gid_map(gid)
        if uid is None or gid is None:
            return
        try:
            if dir_fd is None:
                os.chown(target, uid, gid)
            else:
                os.chown(target, uid, gid, dir_fd=dir_fd, follow_symlinks=False)
        except PermissionError:
            self.chown = False
            self._notice(
                "chown",
                "cannot change file ownership (not privileged and not in a user namespace): "
                "unpacked files keep the unpacking user's ownership",
            )
        except OSError as e:
            if e.errno != errno.EINVAL:
                raise
            # The id is not mapped in this user namespace: keep going for the ids that are.
            self._notice(
                "chown-unmapped",
                f"cannot chown to {uid}:{gid}: not mapped in this user namespace "
                "(too few subordinate ids in /etc/subuid or /etc/subgid?); such files keep "
                "the unpacking user's ownership",
            )

    def _set_xattrs(self, target, xattrs: dict[str, bytes], base: bytes, follow=True) -> None:
        for attr, value in xattrs.items():
            try:
                os.setxattr(target, attr, value, follow_symlinks=follow)
            except OSError as e:
                if e.errno in _PRIVILEGE_ERRNOS and attr.startswith(_PRIVILEGED_XATTR_PREFIXES):
                    continue  # privileged namespaces are expected to fail unprivileged
                if e.errno in _PRIVILEGE_ERRNOS or e.errno in _XATTR_ERRNOS:
                    self._notice(
                        f"xattr:{attr}",
                        f"{_show(base)}: cannot set xattr {attr}: {e.strerror} (further failures "
                        "of this xattr are not reported)",
                    )
                    continue
                raise

    def _finish_dirs(self) -> None:
        depth = lambda item: item[0].count(b"/") if item[0] else -1  # noqa: E731
        for path, meta in sorted(self.dirs.items(), key=depth, reverse=True):
            fd = self._dir(path, path, create=False)
            self._chown(fd, meta.uid, meta.gid)
            if meta.xattrs:
                self._set_xattrs(fd, meta.xattrs, path)
            os.fchmod(fd, meta.mode)
            if meta.mtime_ns is not None:
                os.utime(fd, ns=(meta.mtime_ns, meta.mtime_ns))
