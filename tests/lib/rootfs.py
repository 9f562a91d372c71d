"""A busybox root filesystem, built offline from Debian's busybox-static.

Standard library only: scripts/setup imports this with the user's pypod venv, which has no
test dependencies.
"""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import tarfile

BUSYBOX = "/bin/busybox"
# A fixed mtime makes the tarball (and so every digest built from it) the same on every run.
MTIME = 1700000000

PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
)
GROUP = "root:x:0:\nnobody:x:65534:\n"

# (path, mode) of the directories every busybox rootfs has; parents come before children.
DIRS = [
    ("bin", 0o755),
    ("dev", 0o755),
    ("etc", 0o755),
    ("home", 0o755),
    ("proc", 0o555),
    ("root", 0o700),
    ("run", 0o755),
    ("sbin", 0o755),
    ("sys", 0o555),
    ("tmp", 0o1777),
    ("usr", 0o755),
    ("usr/bin", 0o755),
    ("usr/sbin", 0o755),
    ("var", 0o755),
    ("var/tmp", 0o1777),
]


def _info(name: str, kind: bytes, mode: int, *, uid: int = 0, gid: int = 0) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.mode = mode
    ti.uid, ti.gid = uid, gid
    ti.uname = ti.gname = "root" if uid == 0 else ""
    ti.mtime = MTIME
    return ti


def applet_paths(busybox: str = BUSYBOX) -> list[str]:
    """Where each applet lives (e.g. 'bin/sh', 'usr/bin/env'), from `busybox --list-full`."""
    out = subprocess.run([busybox, "--list-full"], check=True, capture_output=True, text=True,
                         timeout=30).stdout
    paths = sorted({p.strip().lstrip("/") for p in out.splitlines() if p.strip()})
    if not paths:  # very old busybox: --list gives bare names, put them all in bin/
        out = subprocess.run([busybox, "--list"], check=True, capture_output=True, text=True,
                             timeout=30).stdout
        paths = sorted({"bin/" + n.strip() for n in out.splitlines() if n.strip()})
    return [p for p in paths if p != "bin/busybox"]


def add_busybox_rootfs(tf: tarfile.TarFile, busybox: str = BUSYBOX) -> None:
    """Append the busybox rootfs entries to an open tarfile."""
    if not os.path.exists(busybox):
        raise FileNotFoundError(f"{busybox} not found: install Debian's busybox-static "
                                "(apt-get install busybox-static)")
    dirs = {d for d, _ in DIRS}
    for d, mode in DIRS:
        tf.addfile(_info(d, tarfile.DIRTYPE, mode))
    with open(busybox, "rb") as f:
        data = f.read()
    ti = _info("bin/busybox", tarfile.REGTYPE, 0o755)
    ti.size = len(data)
    tf.addfile(ti, io.BytesIO(data))
    for name, text in (("etc/passwd", PASSWD), ("etc/group", GROUP)):
        raw = text.encode()
        ti = _info(name, tarfile.REGTYPE, 0o644)
        ti.size = len(raw)
        tf.addfile(ti, io.BytesIO(raw))
    for p in applet_paths(busybox):
        parent = os.path.dirname(p)
        if parent and parent not in dirs:  # an applet dir we did not list: create it
            tf.addfile(_info(parent, tarfile.DIRTYPE, 0o755))
            dirs.add(parent)
        ti = _info(p, tarfile.SYMTYPE, 0o777)
        # Relative links: they resolve the same inside the container and in an unpacked layer dir.
        ti.linkname = os.path.relpath("bin/busybox", parent or ".")
        tf.addfile(ti)


def busybox_rootfs_bytes(busybox: str = BUSYBOX) -> bytes:
    """The uncompressed busybox rootfs tar, deterministic for a given busybox binary."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        add_busybox_rootfs(tf, busybox)
    return buf.getvalue()


def build_busybox_rootfs_tar(path: str | os.PathLike, busybox: str = BUSYBOX) -> str:
    """Write a busybox root filesystem tarball to `path` (gzip if it ends in .gz); return the path.

    Contents: /bin/busybox, a relative symlink for every applet (`busybox --list-full`), /etc/passwd
    (root, nobody), /etc/group, /tmp and /var/tmp 1777, /root 0700, /home, /var, and empty
    /dev /proc /sys /run mount points. Every entry is owned by 0:0.
    """
    raw = busybox_rootfs_bytes(busybox)
    path = os.fspath(path)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        if path.endswith((".gz", ".tgz")):
            with gzip.GzipFile(fileobj=f, mode="wb", mtime=0) as gz:
                gz.write(raw)
        else:
            f.write(raw)
    os.replace(tmp, path)
    return path


if __name__ == "__main__":  # python -m tests.lib.rootfs OUT.tar
    import sys

    print(build_busybox_rootfs_tar(sys.argv[1]))
