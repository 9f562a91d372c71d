"""The seeded images: built offline (busybox-static, debootstrap), pushed with tests/lib/oci.py.

Seeded into the `open` registry (data kept at /var/lib/pypod-test/registry between runs;
re-pushing is skipped when the registry already has the same manifest under the tag):

  busybox:latest, busybox:1  one gzip layer (build_busybox_rootfs_tar), Cmd ["sh"], docker schema 2
  layered:latest   busybox + LOWER_FILES; upper layer: whiteout data/gone, opaque opq/ (+ opq/new),
                   data/keep2 with hardlink data/hard2, symlink data/link -> keep, data/owned
                   (uid/gid 1000), bin/suid (04755). See LAYERED_* below for contents.
  multiarch:latest OCI index: linux/amd64 (busybox layer, Labels arch=amd64) and linux/arm64/v8
                   (a small non-busybox layer with /arch, Labels arch=arm64)
  mixed:latest     OCI manifest: a gzip layer (busybox) + an uncompressed layer (MIXED_FILES)
  debian:bookworm  debootstrap --variant=minbase, one gzip layer (~47 MB; ~120 MB unpacked),
                   Cmd ["bash"]. Non-root owners (numeric): /etc/shadow, /etc/gshadow 0:42 (shadow)
                   0640; /var/mail 0:8 (mail) 2775; /var/local 0:50 (staff) 2775; /var/log/wtmp,
                   lastlog 0:43 (utmp) 0664, btmp 0660; setgid 0:42 /usr/bin/chage, expiry,
                   /usr/sbin/unix_chkpwd; setuid root /usr/bin/su, passwd, mount, umount, chsh,
                   chfn, gpasswd, newgrp. No device nodes (/dev is empty), no apt lists.
  hostile:latest   HOSTILE_ENTRIES: path escapes, an absolute path, a symlink-then-file escape,
                   a hardlink to /etc/shadow, a char device, plus a normal file `ok`.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from typing import Callable

from . import oci
from .oci import Layer, chardev, directory, file, hardlink, opaque, symlink, whiteout
from .rootfs import busybox_rootfs_bytes

OPEN_REGISTRY_DIR = "/var/lib/pypod-test/registry"
CACHE_DIR = "/var/cache/pypod-test"
DEBIAN_CACHE = f"{CACHE_DIR}/bookworm-minbase.tar.gz"
DEBIAN_MIRROR = os.environ.get("PYPOD_TEST_DEBIAN_MIRROR", "http://deb.debian.org/debian")

# Names under which the seeded images are exposed (SEED keys) -> repository:tag
IMAGES = {
    "busybox": "busybox:latest",
    "busybox1": "busybox:1",
    "layered": "layered:latest",
    "multiarch": "multiarch:latest",
    "mixed": "mixed:latest",
    "debian": "debian:bookworm",
    "hostile": "hostile:latest",
}

# layered:latest -------------------------------------------------------------------------------
LOWER_FILES = {
    "data/keep": "keep\n",
    "data/gone": "gone\n",
    "opq/old1": "old1\n",
    "opq/old2": "old2\n",
}
# What the unpacked image must look like (path -> content; None = must not exist).
LAYERED_EXPECT = {
    "data/keep": "keep\n",
    "data/gone": None,
    "opq/old1": None,
    "opq/old2": None,
    "opq/new": "new\n",
    "data/keep2": "keep2\n",
    "data/hard2": "keep2\n",   # hardlink to data/keep2 (same inode)
    "data/owned": "owned\n",   # uid 1000, gid 1000
    "bin/suid": "#!/bin/sh\necho suid\n",  # mode 04755
}
LAYERED_SYMLINKS = {"data/link": "keep"}


def layered_upper_entries() -> list:
    return [
        directory("bin"),
        directory("data"),
        whiteout("data/gone"),
        file("data/keep2", "keep2\n"),
        hardlink("data/hard2", "data/keep2"),
        symlink("data/link", "keep"),
        file("data/owned", "owned\n", uid=1000, gid=1000),
        directory("opq"),
        opaque("opq"),
        file("opq/new", "new\n"),
        file("bin/suid", "#!/bin/sh\necho suid\n", mode=0o4755),
    ]


# mixed:latest -----------------------------------------------------------------------------------
MIXED_FILES = {"mixed/plain": "uncompressed layer\n"}

# multiarch:latest -------------------------------------------------------------------------------
ARM64_FILES = {"arch": "arm64\n", "etc/os-release": "NAME=pypod-test-arm64\n"}

# hostile:latest ---------------------------------------------------------------------------------
# Host paths the hostile layer aims at: none of them may exist after pulling/unpacking it.
HOSTILE_TARGETS = (
    "/tmp/pypod-hostile-escape",
    "/tmp/pypod-hostile-abs",
    "/tmp/pypod-hostile-via-link",
)


def hostile_entries() -> list:
    return [
        file("ok", "ok\n"),
        file("../../../tmp/pypod-hostile-escape", "escaped via ..\n"),
        file("/tmp/pypod-hostile-abs", "absolute: must land inside the layer\n"),
        symlink("esc", "/tmp"),
        file("esc/pypod-hostile-via-link", "escaped via a symlink\n"),
        hardlink("shadow-link", "/etc/shadow"),
        hardlink("passwd-link", "../../../../etc/passwd"),
        chardev("dev/evil", 1, 3),
    ]


# ---------------------------------------------------------------------------------------------
# Layers (built once per process)


@functools.lru_cache(maxsize=None)
def busybox_tar() -> bytes:
    return busybox_rootfs_bytes()


@functools.lru_cache(maxsize=None)
def busybox_layer(compress: str | None = "gzip") -> Layer:
    return Layer.from_tar_bytes(busybox_tar(), compress)


def push_busybox(registry_url: str, name: str = "busybox", tag: str = "latest",
                 auth: tuple[str, str] | None = None, media: str = "docker", **kw) -> str:
    """Push the busybox image anywhere (e.g. to the basic/token registries); returns the
    manifest digest."""
    return oci.push_image(registry_url, name, tag, [busybox_layer()], {"Cmd": ["sh"]}, media,
                          auth=auth, **kw)


# ---------------------------------------------------------------------------------------------
# debian:bookworm


@contextlib.contextmanager
def file_lock(path: str):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _mounts_under(path: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    return [p for p in points if p == path or p.startswith(path.rstrip("/") + "/")]


def build_debian_tarball(dest: str = DEBIAN_CACHE, log: Callable[[str], None] = _stderr,
                         mirror: str = DEBIAN_MIRROR, timeout: float = 1800) -> str:
    """debootstrap --variant=minbase bookworm, tarred with numeric owners, cached at `dest`.
    Needs root and the Debian mirror; a few minutes the first time, instant after."""
    if os.path.exists(dest):
        return dest
    with file_lock(dest + ".lock"):
        if os.path.exists(dest):
            return dest
        if shutil.which("debootstrap") is None:
            raise RuntimeError("debootstrap missing: apt-get install debootstrap")
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        work = tempfile.mkdtemp(prefix="debootstrap-", dir=os.path.dirname(dest))
        root = os.path.join(work, "rootfs")
        logpath = os.path.join(work, "debootstrap.log")
        log(f"seed: debootstrap --variant=minbase bookworm from {mirror} (first run only; "
            f"a few minutes; log {logpath})")
        t0 = time.monotonic()
        try:
            with open(logpath, "w") as logf:
                p = subprocess.Popen(["debootstrap", "--variant=minbase", "bookworm", root, mirror],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     errors="replace", stdin=subprocess.DEVNULL)
                # A hung download must not hang the suite: kill debootstrap after `timeout`.
                watchdog = threading.Timer(timeout, p.kill)
                watchdog.daemon = True
                watchdog.start()
                last = 0.0
                for line in p.stdout:
                    logf.write(line)
                    # One line every few seconds is enough to show it is alive.
                    if line.startswith(("I: ", "E: ", "W: ")) and (
                            time.monotonic() - last > 5 or not line.startswith("I: ")):
                        log(f"seed:   [{time.monotonic() - t0:4.0f}s] {line.rstrip()}")
                        last = time.monotonic()
                rc = p.wait(60)
                watchdog.cancel()
            if rc != 0:
                raise RuntimeError(f"debootstrap failed (exit {rc}); last lines of {logpath}:\n"
                                   + "".join(open(logpath).readlines()[-30:]))
            for mp in sorted(_mounts_under(root), key=len, reverse=True):
                subprocess.run(["umount", "-l", mp], check=False, timeout=60)
            # An image has no device nodes, package caches or apt lists.
            for d in ("dev", "var/cache/apt/archives", "var/lib/apt/lists", "proc", "sys",
                      "run", "tmp"):
                full = os.path.join(root, d)
                if not os.path.isdir(full):
                    continue
                for name in os.listdir(full):
                    if name in ("partial", "lock"):
                        continue
                    p2 = os.path.join(full, name)
                    if os.path.isdir(p2) and not os.path.islink(p2):
                        shutil.rmtree(p2)
                    else:
                        os.unlink(p2)
            shutil.rmtree(os.path.join(root, "debootstrap"), ignore_errors=True)
            log(f"seed: packing {root} into {dest}")
            tmp = dest + ".tmp"
            names = sorted(os.listdir(root))
            subprocess.run(["tar", "--numeric-owner", "--sort=name", "-C", root, "-czf", tmp,
                            "--", *names], check=True, timeout=timeout)
            os.replace(tmp, dest)
            log(f"seed: debian tarball ready ({os.path.getsize(dest) >> 20} MiB, "
                f"{time.monotonic() - t0:.0f}s)")
        finally:
            for mp in sorted(_mounts_under(root), key=len, reverse=True):
                subprocess.run(["umount", "-l", mp], check=False, timeout=60)
            if not _mounts_under(root):
                shutil.rmtree(work, ignore_errors=True)
    return dest


def debian_layer(path: str = DEBIAN_CACHE) -> Layer:
    """The cached tarball as a layer; its digests are cached beside it (hashing 200 MB takes
    a couple of seconds)."""
    st = os.stat(path)
    side = path + ".digests.json"
    key = {"size": st.st_size, "mtime": st.st_mtime_ns}
    try:
        with open(side) as f:
            cached = json.load(f)
        if cached.get("key") == key:
            return Layer.from_blob_file(path, "gzip", cached["digest"], cached["diff_id"])
    except (OSError, ValueError, KeyError):
        pass
    digest, diff_id = oci.blob_file_digests(path, "gzip")
    with open(side + ".tmp", "w") as f:
        json.dump({"key": key, "digest": digest, "diff_id": diff_id}, f)
    os.replace(side + ".tmp", side)
    return Layer.from_blob_file(path, "gzip", digest, diff_id)


# ---------------------------------------------------------------------------------------------
# Seeding


def seed_registry(url: str, log: Callable[[str], None] = _stderr,
                  with_debian: bool = True) -> dict[str, str]:
    """Push every seeded image to the registry at `url` (idempotent). Returns digests:
    {"busybox": d, "busybox1": d, "layered": d, "multiarch": index digest,
     "multiarch-amd64": d, "multiarch-arm64": d, "mixed": d, "debian": d, "hostile": d}."""
    t0 = time.monotonic()
    digests: dict[str, str] = {}
    with oci.RegistryClient(url) as c:
        bb = busybox_layer()
        digests["busybox"] = c.push_image("busybox", "latest", [bb], {"Cmd": ["sh"]}, "docker",
                                          extra_tags=["1"])
        digests["busybox1"] = digests["busybox"]

        lower = Layer.from_files([directory("data"), directory("opq")] +
                                 [file(p, c2) for p, c2 in LOWER_FILES.items()],
                                 "gzip", base=busybox_tar())
        upper = Layer.from_files(layered_upper_entries(), "gzip")
        digests["layered"] = c.push_image("layered", "latest", [lower, upper],
                                          {"Cmd": ["sh"]}, "docker")

        amd = c.push_image("multiarch", "amd64", [bb],
                           {"Cmd": ["sh"], "Labels": {"arch": "amd64"}}, "oci")
        arm_layer = Layer.from_files(ARM64_FILES, "gzip")
        arm = c.push_image("multiarch", "arm64", [arm_layer],
                           {"Cmd": ["/bin/sh"], "Labels": {"arch": "arm64"}}, "oci",
                           architecture="arm64", variant="v8")
        digests["multiarch-amd64"], digests["multiarch-arm64"] = amd, arm
        digests["multiarch"] = c.push_index("multiarch", "latest",
                                            {"linux/amd64": amd, "linux/arm64/v8": arm})

        plain = Layer.from_files(MIXED_FILES, None)
        digests["mixed"] = c.push_image("mixed", "latest", [bb, plain], {"Cmd": ["sh"]}, "oci")

        hostile = Layer.from_files(hostile_entries(), "gzip")
        digests["hostile"] = c.push_image("hostile", "latest", [hostile], {"Cmd": ["sh"]},
                                          "docker")
        log(f"seed: small images ready in {url} ({time.monotonic() - t0:.1f}s)")

        if with_debian:
            build_debian_tarball(log=log)
            t1 = time.monotonic()
            layer = debian_layer()
            have = c.head_manifest("debian", "bookworm")
            digests["debian"] = c.push_image("debian", "bookworm", [layer], {"Cmd": ["bash"]},
                                             "docker")
            if not have or have[0] != digests["debian"]:
                log(f"seed: pushed debian:bookworm ({layer.size >> 20} MiB) in "
                    f"{time.monotonic() - t1:.0f}s")
    return digests
