"""Inside the new namespaces: root file system, mounts, pivot_root, then user/env/cwd and execve.

Two phases, both through a `Syscalls` object so a unit test can record the sequence:
  mount_rootfs()  — in the set-up child (new mount namespace, before pid 1 is forked): make the
                    mount tree private, mount the overlay (kernel; fuse-overlayfs as a fallback)
                    or bind the --rootfs directory on CONTAINER_DIR/merged.
  setup_mounts()  — in the container's pid 1: /proc, /dev (+pts, shm, mqueue), /sys, .containerenv,
                    /etc/hosts|hostname|resolv.conf, the spec's mounts, masked and read-only paths,
                    read-only root; pivot_root(); hostname; loopback up.
Then exec_process() (shared with `exec` and health checks) resolves the user inside the
container, builds the environment, creates the working directory, drops capabilities, switches
user and execs, reporting a failure on the status pipe (125 set-up, 126 cannot invoke,
127 not found).
"""

from __future__ import annotations

# Everything is imported here, at the top: code after pivot_root cannot import from the host.
import os
import resource
import select
import stat as _stat

from pypod.errors import describe
from pypod.linux import caps, libc, seccomp, spawn
from pypod.linux.rootpath import secure_join
from pypod.linux.syscalls import Syscalls
from pypod.runtime import init_reaper, protocol
from pypod.runtime.users import UserError, missing_entries, resolve

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

MASKED_PATHS = ["/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
                "/sys/firmware", "/sys/fs/selinux", "/sys/dev/block"]
READONLY_PATHS = ["/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                  "/proc/sysrq-trigger"]
DEVICES = ["null", "zero", "full", "random", "urandom", "tty"]
DEV_LINKS = [("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
             ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2"), ("ptmx", "pts/ptmx")]
# Files the supervisor writes into the container dir and binds over these paths.
ETC_FILES = [("hosts", "/etc/hosts"), ("hostname", "/etc/hostname"),
             ("resolv.conf", "/etc/resolv.conf")]
CONTAINERENV = ".containerenv"

_FLAG_OPTS = {"ro": (libc.MS_RDONLY, True), "rw": (libc.MS_RDONLY, False),
              "nosuid": (libc.MS_NOSUID, True), "suid": (libc.MS_NOSUID, False),
              "nodev": (libc.MS_NODEV, True), "dev": (libc.MS_NODEV, False),
              "noexec": (libc.MS_NOEXEC, True), "exec": (libc.MS_NOEXEC, False),
              "noatime": (libc.MS_NOATIME, True), "relatime": (libc.MS_RELATIME, True),
              "strictatime": (libc.MS_STRICTATIME, True)}
_PROPAGATION = {"private": libc.MS_PRIVATE, "rprivate": libc.MS_PRIVATE | libc.MS_REC,
                "slave": libc.MS_SLAVE, "rslave": libc.MS_SLAVE | libc.MS_REC,
                "shared": libc.MS_SHARED, "rshared": libc.MS_SHARED | libc.MS_REC,
                "unbindable": libc.MS_UNBINDABLE, "runbindable": libc.MS_UNBINDABLE | libc.MS_REC}
_TMPFS_DATA = ("size=", "mode=", "uid=", "gid=", "nr_inodes=", "nr_blocks=")


class SetupError(Exception):
    """A set-up failure reported to the launcher: `Error: <message>`, exit `code`."""

    def __init__(self, message: str, code: int = 125):
        super().__init__(message)
        self.message = message
        self.code = code


class HostFacts:
    """What the mount sequence needs to know about where it runs."""

    def __init__(self, rootless: bool, gid5_mapped: bool = True, fuse_overlayfs: str | None = None):
        self.rootless = rootless
        self.gid5_mapped = gid5_mapped
        self.fuse_overlayfs = fuse_overlayfs
        self.fuse_pid = 0  # set by mount_rootfs when it fell back to fuse-overlayfs


def _err(what: str, e: OSError) -> SetupError:
    return SetupError(f"{what}: {e.strerror or e}")


# ---------------------------------------------------------------- phase 1: the root file system

def overlay_data(lower: list[str], upper: str, work: str, rootless: bool) -> str:
    for p in (*lower, upper, work):
        if ":" in p or "," in p:
            raise SetupError(f"overlay: unsupported character (':' or ',') in layer path {p}")
    data = f"lowerdir={':'.join(lower)},upperdir={upper},workdir={work}"
    if rootless:
        data += ",userxattr"
    return data


def mount_rootfs(sc: Syscalls, rootfs: dict, root: str, host: HostFacts) -> list[str]:
    """Mount the container's root on `root` (a directory in the container dir); warnings out."""
    warnings: list[str] = []
    try:
        sc.mount(None, "/", None, libc.MS_REC | libc.MS_PRIVATE)
    except OSError as e:
        raise _err("make / private", e)
    if rootfs.get("path"):
        src = rootfs["path"]
        if not os.path.isdir(src):
            raise SetupError(f"rootfs {src}: not a directory")
        try:
            sc.mount(src, root, None, libc.MS_BIND | libc.MS_REC)
        except OSError as e:
            raise _err(f"bind rootfs {src}", e)
        return warnings
    lower = list(rootfs.get("lower") or [])
    upper, work = rootfs.get("upper") or "", rootfs.get("work") or ""
    if not lower:
        raise SetupError("rootfs: no layers and no path")
    if not upper or not work:
        raise SetupError("rootfs: upper and work directories are required")
    for d in (upper, work):
        sc.makedirs(d, 0o755)
    data = overlay_data(lower, upper, work, host.rootless)
    cwd_changed = False
    if len(data) > 3800:  # the mount data is one page: use paths relative to a common parent
        base = os.path.commonpath([*lower, upper, work])
        rel = [os.path.relpath(p, base) for p in lower]
        data = overlay_data(rel, os.path.relpath(upper, base), os.path.relpath(work, base),
                            host.rootless)
        if len(data) > 4095:
            raise SetupError(f"overlay: {len(lower)} layers do not fit in the mount options "
                             f"(one page); shorten the layer paths")
        sc.chdir(base)
        cwd_changed = True
    try:
        sc.mount("overlay", root, "overlay", 0, data)
    except OSError as e:
        if not host.fuse_overlayfs:
            raise _err("mount overlay", e)
        fdata = data.replace(",userxattr", "")
        try:
            host.fuse_pid = sc.fuse_overlayfs(host.fuse_overlayfs, fdata, root)
        except OSError as e2:
            raise SetupError(f"mount overlay: {e.strerror}; fuse-overlayfs: {e2.strerror or e2}")
        # Leave the daemon behind in this mount namespace and continue in a copy of it: the
        # container's pivot_root would otherwise change the daemon's root too (pivot_root moves
        # every process of the namespace whose root is the old one) and break its paths.
        try:
            sc.unshare(libc.CLONE_NEWNS)
        except OSError as e3:
            raise _err("unshare the mount namespace", e3)
        warnings.append(f"kernel overlayfs refused ({e.strerror}): using fuse-overlayfs")
    finally:
        if cwd_changed:
            sc.chdir("/")
    return warnings


# ---------------------------------------------------------------- phase 2: mounts in pid 1

def _mountpoint(sc: Syscalls, root: str, dest: str, is_dir: bool) -> str:
    p = secure_join(root, dest)
    if os.path.lexists(p):
        return p
    sc.makedirs(os.path.dirname(p), 0o755)
    if is_dir:
        sc.makedirs(p, 0o755)
    else:
        sc.create_file(p, 0o644)
    return p


def _bind_remount(sc: Syscalls, target: str, flags: int, rec: bool = False) -> None:
    """Change the per-mount flags of a bind mount, keeping the (possibly locked) others."""
    keep = sc.mount_flags(target)
    extra = libc.MS_REC if rec else 0
    sc.mount(None, target, None, libc.MS_REMOUNT | libc.MS_BIND | extra | keep | flags)


def parse_mount_options(options: list[str]) -> tuple[int, int, int, list[str], bool]:
    """(set flags, cleared flags, propagation, tmpfs data, recursive) of a spec mount."""
    set_f = clear_f = prop = 0
    data: list[str] = []
    rec = True
    for o in options or []:
        o = o.strip()
        if o in _FLAG_OPTS:
            flag, on = _FLAG_OPTS[o]
            if on:
                set_f |= flag
                clear_f &= ~flag
            else:
                clear_f |= flag
                set_f &= ~flag
        elif o in _PROPAGATION:
            prop = _PROPAGATION[o]
        elif o == "rbind":
            rec = True
        elif o in ("bind", "norbind"):
            rec = False
        elif o.startswith(_TMPFS_DATA):
            data.append(o)
    return set_f, clear_f, prop, data, rec


def _spec_mount(sc: Syscalls, root: str, m: dict) -> None:
    mtype = m.get("type") or "bind"
    dest = m.get("destination") or ""
    if not dest.startswith("/"):
        raise SetupError(f"invalid mount destination {dest!r}: must be an absolute path")
    set_f, clear_f, prop, data, rec = parse_mount_options(m.get("options") or [])
    if mtype in ("bind", "volume"):
        src = m.get("source") or ""
        try:
            st = os.stat(src)
        except OSError as e:
            raise SetupError(f"statfs {src}: {(e.strerror or str(e)).lower()}")
        target = _mountpoint(sc, root, dest, _stat.S_ISDIR(st.st_mode))
        try:
            sc.mount(src, target, None, libc.MS_BIND | (libc.MS_REC if rec else 0))
            if prop:
                sc.mount(None, target, None, prop)
            if set_f & libc.MS_RDONLY and rec:
                try:  # read-only all the way down, like crun (submounts too)
                    sc.readonly_recursive(target)
                except OSError:
                    pass  # an older kernel: at least the top is made read-only below
            if set_f:
                _bind_remount(sc, target, set_f)
        except OSError as e:
            raise _err(f"bind mount {src} on {dest}", e)
    elif mtype == "overlay":  # -v DIR:DST:O
        src = m.get("source") or ""
        opts = dict(o.partition("=")[::2] for o in m.get("options") or [] if "=" in o)
        upper, work = opts.get("upperdir", ""), opts.get("workdir", "")
        if not os.path.isdir(src) or not upper or not work:
            raise SetupError(f"overlay volume {src} on {dest}: the source must be a directory")
        if "fresh" in (m.get("options") or []):  # the last run's changes are discarded
            import shutil

            shutil.rmtree(os.path.dirname(upper), ignore_errors=True)
        for d in (upper, work):
            sc.makedirs(d, 0o755)
        target = _mountpoint(sc, root, dest, True)
        data = f"lowerdir={src},upperdir={upper},workdir={work}"
        try:
            try:
                sc.mount("overlay", target, "overlay", 0, data + ",userxattr")
            except OSError:
                sc.mount("overlay", target, "overlay", 0, data)  # (root: no userxattr needed)
            if set_f:
                _bind_remount(sc, target, set_f & ~libc.MS_RDONLY)
        except OSError as e:
            raise _err(f"mount overlay volume {src} on {dest}", e)
    elif mtype == "tmpfs":
        target = _mountpoint(sc, root, dest, True)
        flags = (libc.MS_NOSUID | libc.MS_NODEV | libc.MS_NOEXEC | set_f) & ~clear_f
        # podman's default tmpcopyup: what the image (or a `cp` into the stopped container) has
        # there is copied into the new tmpfs
        below = os.open(target, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            sc.mount("tmpfs", target, "tmpfs", flags, ",".join(data) or None)
            if prop:
                sc.mount(None, target, None, prop)
            sc.copy_up(below, target)
        except OSError as e:
            raise _err(f"mount tmpfs on {dest}", e)
        finally:
            os.close(below)
    else:
        raise SetupError(f"unsupported mount type {mtype!r} for {dest}")


def _privileged_devices(sc: Syscalls, dev: str) -> None:
    """--privileged: the host's devices (podman binds them in, rootless too); what the user may not
    open stays unusable, but is there."""
    import stat as st_

    skip = {"console", "ptmx", "tty", "pts", "shm", "mqueue", *DEVICES}
    for d in ("", "net", "dri", "snd", "input"):
        base = os.path.join("/dev", d)
        try:
            names = sorted(os.listdir(base))
        except OSError:
            continue
        for name in names:
            rel = os.path.join(d, name) if d else name
            if rel in skip or name.startswith(("tty", "vcs", "pts")):
                continue
            src = os.path.join(base, name)
            try:
                mode = os.lstat(src).st_mode
            except OSError:
                continue
            if not (st_.S_ISCHR(mode) or st_.S_ISBLK(mode)):
                continue
            target = os.path.join(dev, rel)
            try:
                sc.makedirs(os.path.dirname(target), 0o755)
                sc.create_file(target, 0o600)
                sc.mount(src, target, None, libc.MS_BIND)
            except OSError:
                continue


_ADDED_GROUP_LINES: list[str] = []  # by _etc_entries in this pid 1, ignored by prepare_process


def _home_or_workdir(root: str, entry: str, cwd: str, user_dests: set[str]) -> str:
    """podman (keep-id): a home directory the container has neither in its image nor as a
    mount becomes the working directory in the user's /etc/passwd line (and so $HOME)."""
    f = entry.split(":")
    if len(f) < 7 or os.path.normpath(f[5] or "/") in user_dests or os.path.isdir(secure_join(root, f[5])):
        return entry
    f[5] = cwd
    return ":".join(f)


def _etc_entries(sc: Syscalls, spec: dict, cdir: str, root: str, user_dests: set[str]) -> None:
    """The lines podman adds to /etc/passwd and /etc/group: the user with keep-id, a numeric -u
    the image does not know (unless --passwd=false). Appended to the container's own files, as
    podman does (so that useradd still works); with a read-only or --rootfs root, a copy with
    the lines added is bound over the file instead (the image or the user's tree stays
    untouched). Nothing is made where the image has no such file or a mount covers it."""
    proc = spec.get("process") or {}
    if not (spec.get("passwd_entry") or spec.get("group_entry") or spec.get("extra_passwd")
            or (spec.get("passwd") and proc.get("user"))):
        return  # nothing could be added: the files are not even read
    texts = {}
    for fname in ("passwd", "group"):
        path = secure_join(root, f"/etc/{fname}")
        try:
            with open(path, errors="replace") as f:
                texts[fname] = (path, f.read())
        except OSError:
            texts[fname] = (path, None)
    adds: dict[str, list[str]] = {"passwd": [], "group": []}
    cwd = proc.get("cwd") or "/"
    for fname, key in (("passwd", "passwd_entry"), ("group", "group_entry"), ("passwd", "extra_passwd")):
        entries, text = spec.get(key) or [], texts[fname][1] or ""
        for entry in [entries] if isinstance(entries, str) else entries:
            if key == "passwd_entry":
                entry = _home_or_workdir(root, entry, cwd, user_dests)
            if not any(line.split(":")[2:3] == entry.split(":")[2:3]
                       for line in text.splitlines() + adds[fname]):
                adds[fname].append(entry)
    if spec.get("passwd") and proc.get("user"):
        pw_text = (texts["passwd"][1] or "") + "".join(f"\n{e}" for e in adds["passwd"])
        gr_text = (texts["group"][1] or "") + "".join(f"\n{e}" for e in adds["group"])
        try:
            pw, gr = missing_entries(proc["user"], proc.get("cwd") or "/", spec.get("passwd_template") or "",
                                     pw_text, gr_text)
        except UserError as e:
            raise SetupError(str(e))
        adds["passwd"] += [pw] if pw else []
        adds["group"] += [gr] if gr else []
        if gr:  # podman looks the user's groups up before this line exists: not a membership
            _ADDED_GROUP_LINES.append(gr)
    rootfs = spec.get("rootfs") or {}
    in_place = not rootfs.get("readonly") and not rootfs.get("path")
    for fname in ("passwd", "group"):
        path, text = texts[fname]
        dest = f"/etc/{fname}"
        if not adds[fname] or text is None or dest in user_dests:
            continue
        lines = "".join(e + "\n" for e in adds[fname])
        if text and not text.endswith("\n"):
            lines = "\n" + lines
        if in_place:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC)
            try:
                os.write(fd, lines.encode())
            finally:
                os.close(fd)
            continue
        copy = os.path.join(cdir, f"etc-{fname}")
        with open(copy, "w") as f:
            f.write(text + lines)
        try:
            sc.mount(copy, _mountpoint(sc, root, dest, False), None, libc.MS_BIND)
        except OSError as e:
            raise _err(f"bind mount {dest}", e)


def _under(path: str, dests: set[str]) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in dests)


def setup_mounts(sc: Syscalls, spec: dict, cdir: str, root: str, host: HostFacts) -> list[str]:
    """Everything from /proc to the read-only root, all before pivot_root; warnings out."""
    warnings: list[str] = []
    preload_seccomp(spec.get("process"))
    user_dests = {os.path.normpath(m.get("destination") or "/") for m in spec.get("mounts") or []}
    private_net = spec.get("network") != "host"

    # /proc
    target = _mountpoint(sc, root, "/proc", True)
    try:
        sc.mount("proc", target, "proc", libc.MS_NOSUID | libc.MS_NODEV | libc.MS_NOEXEC)
    except OSError as e:
        try:
            sc.mount("/proc", target, None, libc.MS_BIND | libc.MS_REC)
        except OSError:
            raise _err("mount /proc", e)
        warnings.append(f"cannot mount a new /proc ({e.strerror}): using the host's")

    # /dev
    dev = _mountpoint(sc, root, "/dev", True)
    try:
        sc.mount("tmpfs", dev, "tmpfs", libc.MS_NOSUID | libc.MS_STRICTATIME,
                 "mode=755,size=65536k")
        for name in DEVICES:
            p = os.path.join(dev, name)
            sc.create_file(p, 0o666)
            try:
                sc.mount(f"/dev/{name}", p, None, libc.MS_BIND)
            except OSError as e:
                if name == "tty" and e.errno in (2, 6):  # no controlling tty on the host side
                    continue
                raise
        sc.makedirs(os.path.join(dev, "pts"), 0o755)
        pts_opts = "newinstance,ptmxmode=0666,mode=0620" + (",gid=5" if host.gid5_mapped else "")
        sc.mount("devpts", os.path.join(dev, "pts"), "devpts", libc.MS_NOSUID | libc.MS_NOEXEC,
                 pts_opts)
        sc.makedirs(os.path.join(dev, "shm"), 0o1777)
        shm = f"{spec['shm_size']}" if spec.get("shm_size") else "65536k"
        sc.mount("shm", os.path.join(dev, "shm"), "tmpfs",
                 libc.MS_NOSUID | libc.MS_NODEV | libc.MS_NOEXEC, f"mode=1777,size={shm}")
    except OSError as e:
        raise _err(f"mount /dev ({e.filename or ''})", e)
    sc.makedirs(os.path.join(dev, "mqueue"), 0o755)
    try:
        sc.mount("mqueue", os.path.join(dev, "mqueue"), "mqueue",
                 libc.MS_NOSUID | libc.MS_NODEV | libc.MS_NOEXEC)
    except OSError:
        pass  # tolerated: podman's rootless containers on some kernels have none
    for name, target_ in DEV_LINKS:
        sc.symlink(target_, os.path.join(dev, name))
    if spec.get("privileged"):
        _privileged_devices(sc, dev)

    # /sys: a new sysfs needs our own network namespace (rootless); else the host's, read-only
    sysdir = _mountpoint(sc, root, "/sys", True)
    ro_sys = libc.MS_NOSUID | libc.MS_NODEV | libc.MS_NOEXEC
    if not spec.get("privileged"):  # --privileged: a writable /sys, as podman's
        ro_sys |= libc.MS_RDONLY
    mounted = False
    if private_net or not host.rootless:
        try:
            sc.mount("sysfs", sysdir, "sysfs", ro_sys)
            mounted = True
        except OSError:
            mounted = False
    if not mounted:
        try:
            sc.mount("/sys", sysdir, None, libc.MS_BIND | libc.MS_REC)
            _bind_remount(sc, sysdir, libc.MS_RDONLY)
        except OSError as e:
            raise _err("mount /sys", e)

    # read-only root: podman's --read-only-tmpfs
    rootfs_ = spec.get("rootfs") or {}
    if rootfs_.get("readonly") and rootfs_.get("readonly_tmpfs", True):
        for d in ("/run", "/tmp", "/var/tmp"):
            if d in user_dests:
                continue
            t = _mountpoint(sc, root, d, True)
            try:
                sc.mount("tmpfs", t, "tmpfs", libc.MS_NOSUID | libc.MS_NODEV,
                         "mode=1777" if d != "/run" else "mode=755")
            except OSError as e:
                raise _err(f"mount tmpfs on {d}", e)

    # /run/.containerenv, /etc/hosts, /etc/hostname, /etc/resolv.conf
    binds = [(CONTAINERENV, "/run/.containerenv")] + ETC_FILES
    for fname, dest in binds:
        src = os.path.join(cdir, fname)
        if dest in user_dests or not os.path.exists(src):
            continue
        try:
            t = _mountpoint(sc, root, dest, False)
            sc.mount(src, t, None, libc.MS_BIND)
        except OSError as e:
            if fname == CONTAINERENV:
                continue
            raise _err(f"bind mount {dest}", e)

    _etc_entries(sc, spec, cdir, root, user_dests)

    # /etc/mtab → /proc/mounts when the image lacks it
    mtab = secure_join(root, "/etc/mtab")
    if not os.path.lexists(mtab):
        try:
            sc.makedirs(os.path.dirname(mtab), 0o755)
            sc.symlink("/proc/mounts", mtab)
        except OSError:
            pass

    # the spec's mounts, parents before children
    for m in sorted(spec.get("mounts") or [],
                    key=lambda m: len([c for c in (m.get("destination") or "").split("/") if c])):
        _spec_mount(sc, root, m)

    # masked and read-only paths (none with --privileged)
    privileged = bool(spec.get("privileged"))
    for path in ([] if privileged else MASKED_PATHS):
        if _under(path, user_dests):
            continue
        p = secure_join(root, path)
        if not os.path.lexists(p):
            continue
        try:
            if os.path.isdir(p):
                sc.mount("tmpfs", p, "tmpfs", libc.MS_RDONLY, None)
            else:
                sc.mount("/dev/null", p, None, libc.MS_BIND)
        except OSError as e:
            raise _err(f"mask {path}", e)
    for path in ([] if privileged else READONLY_PATHS):
        if _under(path, user_dests):
            continue
        p = secure_join(root, path)
        if not os.path.lexists(p):
            continue
        try:
            sc.mount(p, p, None, libc.MS_BIND | libc.MS_REC)
            _bind_remount(sc, p, libc.MS_RDONLY)
        except OSError as e:
            raise _err(f"make {path} read-only", e)

    if (spec.get("rootfs") or {}).get("readonly"):
        try:
            _bind_remount(sc, root, libc.MS_RDONLY)
        except OSError as e:
            raise _err("make the root file system read-only", e)
    return warnings


def pivot(sc: Syscalls, root: str) -> None:
    try:
        sc.chdir(root)
        sc.pivot_root(".", ".")
        sc.umount2(".", libc.MNT_DETACH)
        sc.chdir("/")
    except OSError as e:
        raise _err("pivot_root", e)


def finish_namespaces(sc: Syscalls, spec: dict) -> None:
    hostname = spec.get("hostname") or ""
    if hostname:
        try:
            sc.sethostname(hostname)
        except OSError as e:
            raise _err("sethostname", e)
    if spec.get("network") != "host":
        try:
            sc.loopback_up()
        except OSError as e:
            raise _err("bring up the loopback interface", e)


# ---------------------------------------------------------------- the process

def build_env(env: list[str], *, hostname: str, home: str, terminal: bool, defaults: bool = True) -> list[str]:
    out: dict[str, str] = {}
    for item in env or []:
        k, sep, v = item.partition("=")
        if k:
            out[k] = v if sep else os.environ.get(k, "")
    res: dict[str, str] = {}
    if "PATH" not in out and defaults:
        res["PATH"] = DEFAULT_PATH
    res.update(out)
    if terminal and "TERM" not in res:
        res["TERM"] = "xterm"
    if defaults:
        res.setdefault("container", "podman")  # what systemd-detect-virt and scripts look for
    if hostname:
        res.setdefault("HOSTNAME", hostname)
    res.setdefault("HOME", home or "/")
    return [f"{k}={v}" for k, v in res.items()]


def find_executable(name: str, path_var: str) -> str | None:
    """Go's exec.LookPath inside the container: the first executable regular file in PATH."""
    for d in path_var.split(":"):
        d = d or "."
        cand = os.path.join(d, name)
        try:
            st = os.stat(cand)
        except OSError:
            continue
        if _stat.S_ISREG(st.st_mode) and os.access(cand, os.X_OK):
            return cand
    return None


def _read_text(path: str) -> str:
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def _setgroups_allowed() -> bool:
    t = _read_text("/proc/self/setgroups").strip()
    return t != "deny"


def prepare_process(process: dict, *, hostname: str, container_id: str = "") -> tuple:
    """Resolve user, env, cwd, argv in the (already entered) container root.
    Returns (user, env, cwd, argv); raises SetupError."""
    args = list(process.get("args") or [])
    if not args:
        raise SetupError("no command specified")
    try:
        group_text = _read_text("/etc/group")
        if _ADDED_GROUP_LINES:
            group_text = "\n".join(l for l in group_text.splitlines() if l not in _ADDED_GROUP_LINES)
        user = resolve(process.get("user") or "", _read_text("/etc/passwd"), group_text)
    except UserError as e:
        raise SetupError(str(e))
    for g in process.get("group_add") or []:  # --group-add: numeric, or a name in /etc/group
        if g == "keep-groups":
            continue
        gid = int(g) if g.isdigit() else None
        if gid is None:
            for line in _read_text("/etc/group").splitlines():
                f = line.split(":")
                if len(f) >= 3 and f[0] == g and f[2].isdigit():
                    gid = int(f[2])
                    break
            else:
                raise SetupError(f"looking up supplemental groups for container {container_id}: "
                                 f"Unable to find group {g}: no matching entries in group file")
        if gid not in user.groups:
            user.groups.append(gid)
    env = build_env(process.get("env") or [], hostname=hostname, home=user.home,
                    terminal=bool(process.get("terminal")), defaults=process.get("env_defaults", True))
    cwd = process.get("cwd") or "/"
    if not os.path.isdir(cwd):
        if os.path.lexists(cwd):
            raise SetupError(f'workdir "{cwd}" exists on container {container_id}, but is not a directory', 126)
        if not process.get("create_cwd", True):
            raise SetupError(f'workdir "{cwd}" does not exist on container {container_id}', 126)
        try:
            os.makedirs(cwd, 0o755, exist_ok=True)
            if user.uid != 0:
                os.chown(cwd, user.uid, user.gid)
        except OSError:
            raise SetupError(f'workdir "{cwd}" does not exist on container {container_id}')
    return user, env, cwd, args


def switch_user(process: dict, user) -> None:
    """Capabilities, no_new_privs, groups, gid, uid — in that order (podman's sets: root keeps
    the bounding set as permitted/effective; another user only its --cap-add ones, also as
    inheritable and ambient)."""
    keep = caps.mask(process["capabilities"]) if process.get("capabilities") is not None \
        else caps.mask(caps.DEFAULT_CAPS)
    caps.drop_bounding(keep)
    if process.get("no_new_privileges"):
        libc.prctl(libc.PR_SET_NO_NEW_PRIVS, 1)
    if _setgroups_allowed():
        os.setgroups(user.groups)
    if user.uid != 0:
        libc.prctl(libc.PR_SET_KEEPCAPS, 1)
    os.setresgid(user.gid, user.gid, user.gid)
    os.setresuid(user.uid, user.uid, user.uid)
    if user.uid == 0:
        caps.set_process_caps(keep)
    else:
        try:
            libc.prctl(libc.PR_CAP_AMBIENT, libc.PR_CAP_AMBIENT_CLEAR_ALL)
        except OSError:
            pass
        caps.set_user_caps(keep & caps.mask(process.get("user_capabilities") or []))
        libc.prctl(libc.PR_SET_KEEPCAPS, 0)


_SECCOMP_PROGRAMS: dict = {}


def preload_seccomp(process: dict | None) -> None:
    """Read the compiled seccomp program while the container dir is still reachable (before
    pivot_root / chroot)."""
    path = (process or {}).get("seccomp") or ""
    if path and path not in _SECCOMP_PROGRAMS:
        try:
            with open(path, "rb") as f:
                _SECCOMP_PROGRAMS[path] = f.read()
        except OSError as e:
            raise _err(f"read the seccomp program {path}", e)


def apply_seccomp(process: dict) -> None:
    path = process.get("seccomp") or ""
    if not path:
        return
    prog = _SECCOMP_PROGRAMS.get(path)
    if prog is None:
        preload_seccomp(process)
        prog = _SECCOMP_PROGRAMS[path]
    try:
        seccomp.load(prog)
    except OSError as e:
        raise _err("load the seccomp filter", e)


def apply_rlimits(process: dict) -> None:
    """setrlimit each --ulimit (-1: unlimited). Nothing is capped: a limit above the hard one
    fails as with podman rootless (raising it needs CAP_SYS_RESOURCE on the host)."""
    for name, soft, hard in process.get("rlimits") or []:
        res = getattr(resource, name, None)
        if res is None:
            continue
        inf = resource.RLIM_INFINITY
        try:
            resource.setrlimit(res, (inf if soft < 0 else soft, inf if hard < 0 else hard))
        except (OSError, ValueError) as e:
            why = e.strerror.lower() if isinstance(e, OSError) and e.strerror else \
                "operation not permitted"  # Python's ValueError for a raised hard limit
            raise SetupError(f"error setting rlimit type {res}: {why}: OCI permission denied", 126)


def exec_failure(arg0: str, e: OSError, searched: bool) -> SetupError:
    if e.errno == 2:  # ENOENT
        where = " in $PATH" if searched else ""
        return SetupError(f"executable file `{arg0}` not found{where}: No such file or directory",
                          127)
    if e.errno in (13, 21, 1):  # EACCES, EISDIR, EPERM
        what = "is a directory" if os.path.isdir(arg0) else "permission denied"
        return SetupError(f'exec: "{arg0}": {what}: OCI permission denied', 126)
    if e.errno == 8:  # ENOEXEC
        return SetupError(f'exec: "{arg0}": exec format error', 126)
    return SetupError(f'exec: "{arg0}": {(e.strerror or str(e)).lower()}', 126)


def exec_process(process: dict, *, hostname: str, container_id: str = "",
                 pdeathsig: bool = True, alive_fd: int = -1) -> None:
    """Set up and execve the container process in the current root; never returns.
    Raises SetupError (the caller reports it and exits with its code).
    pdeathsig: die (SIGKILL) with the parent — set last, since a credential change clears it.
    alive_fd: a pipe whose write end the parent holds: checked after setting PDEATHSIG, so a
    parent that died just before is noticed too."""
    user, env, cwd, args = prepare_process(process, hostname=hostname, container_id=container_id)
    apply_rlimits(process)
    if process.get("oom_score_adj") is not None:  # --oom-score-adj (rootless: only upwards)
        try:
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write(str(process["oom_score_adj"]))
        except OSError as e:
            raise SetupError(f"set oom_score_adj to {process['oom_score_adj']}: "
                             f"{(e.strerror or str(e)).lower()}")
    nnp = bool(process.get("no_new_privileges"))
    if not nnp:  # loading needs CAP_SYS_ADMIN (in our user namespace) without no_new_privs
        apply_seccomp(process)
    try:
        switch_user(process, user)
    except OSError as e:
        if e.errno == 22:  # EINVAL: an id outside the user namespace's mapping
            raise SetupError(f"cannot switch to uid {user.uid}, gid {user.gid}: not mapped in "
                             f"the user namespace (a subordinate id range in /etc/subuid and "
                             f"/etc/subgid maps it)")
        raise _err("switch user", e)
    if nnp:
        apply_seccomp(process)
    try:
        os.chdir(cwd)
    except OSError as e:
        raise SetupError(f"chdir to `{cwd}`: {e.strerror}")
    if process.get("init") == "pause":  # a pod's infra: pid 1 only holds the namespaces
        spawn.reset_signals()
        if pdeathsig:
            libc.prctl(libc.PR_SET_PDEATHSIG, 9)
        init_reaper.pause()
    arg0 = args[0]
    path_var = next((v[5:] for v in env if v.startswith("PATH=")), DEFAULT_PATH)
    if "/" in arg0:
        exe = arg0
        searched = False
    else:
        exe = find_executable(arg0, path_var)
        searched = True
        if exe is None:
            raise exec_failure(arg0, OSError(2, "No such file or directory"), True)
    spawn.reset_signals()
    os.umask(process.get("umask", 0o022))  # podman's default: 0022 (containers.conf umask)
    if pdeathsig:
        libc.prctl(libc.PR_SET_PDEATHSIG, 9)
    if alive_fd >= 0:
        p = select.poll()
        p.register(alive_fd, select.POLLIN)
        if any(ev & (select.POLLHUP | select.POLLERR) for _, ev in p.poll(0)):
            os._exit(137)  # the supervisor is gone
    if process.get("init") == "builtin":  # --init without catatonit: pid 1 stays as reaper
        init_reaper.run_as_init()
    try:
        os.execve(exe, args, dict(e.split("=", 1) for e in env))
    except OSError as e:
        raise exec_failure(exe if not searched else arg0, e, False)


def fail(status_fd: int, e: BaseException) -> None:
    """Report a failure on the status pipe and exit with its code (never returns)."""
    if isinstance(e, SetupError):
        code, msg = e.code, e.message
    else:  # (describe is imported at the top: after pivot_root pypod's files are out of reach)
        code, msg = 125, describe(e)
    if status_fd >= 0:
        protocol.send(status_fd, protocol.ERROR, code=code, message=msg)
    os._exit(code)
