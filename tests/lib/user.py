"""The unprivileged test user, and running pypod (or any shell) as that user.

pytest runs as root; every pypod command under test runs as `pypodtest` through
`runuser -u pypodtest -- env -i HOME=... PATH=... XDG_RUNTIME_DIR=... /opt/pypod-test/venv/bin/pypod`.
"""

from __future__ import annotations

import dataclasses
import os
import pwd
import shutil
import signal
import subprocess
import time
from typing import Mapping, Sequence

# PYPOD_TEST_USER / PYPOD_TEST_BASE (scripts/test reads the same two) let two test runs share a
# machine, each with its own user, storage and venv.
TEST_USER = os.environ.get("PYPOD_TEST_USER") or "pypodtest"
# pytest-xdist: worker gwN (N > 0) runs as TEST_USER + N (made by scripts/test), so that parallel
# workers never share a user's storage, processes or podman state
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if _WORKER.startswith("gw") and _WORKER[2:].isdigit() and int(_WORKER[2:]) > 0:
    TEST_USER = f"{TEST_USER}{int(_WORKER[2:])}"
TEST_HOME = f"/home/{TEST_USER}"
BASE = os.environ.get("PYPOD_TEST_BASE") or "/opt/pypod-test"
VENV = f"{BASE}/venv"
PYPOD = f"{VENV}/bin/pypod"
PYTHON = f"{VENV}/bin/python"
USER_PATH = f"{VENV}/bin:/usr/local/bin:/usr/bin:/bin"
SUBID_COUNT = 65536
DEVICES = ("/dev/net/tun", "/dev/fuse")


@dataclasses.dataclass(frozen=True)
class UserInfo:
    name: str
    uid: int
    gid: int
    home: str

    @property
    def runtime_dir(self) -> str:
        return f"/run/user/{self.uid}"

    @property
    def storage_dirs(self) -> tuple[str, ...]:
        """pypod's data dir, runtime dir and the runtime fallback, wiped by clean_storage."""
        return (os.path.join(self.home, ".local/share/pypod"),
                os.path.join(self.runtime_dir, "pypod"),
                f"/tmp/pypod-run-{self.uid}")

    @property
    def registries_conf(self) -> str:
        return os.path.join(self.home, ".config/containers/registries.conf")

    @property
    def auth_json(self) -> str:
        return os.path.join(self.runtime_dir, "containers/auth.json")


def user_info(name: str = TEST_USER) -> UserInfo:
    pw = pwd.getpwnam(name)
    return UserInfo(pw.pw_name, pw.pw_uid, pw.pw_gid, pw.pw_dir)


def _has_subid(path: str, name: str, uid: int) -> bool:
    try:
        with open(path) as f:
            for line in f:
                owner = line.split(":", 1)[0].strip()
                if owner in (name, str(uid)):
                    return True
    except FileNotFoundError:
        pass
    return False


def subid_range(name: str = TEST_USER, path: str = "/etc/subuid") -> tuple[int, int]:
    """The user's first subordinate id range (start, count) as the file gives it: never assume
    100000 (Debian's useradd hands out the next free range)."""
    uid = str(pwd.getpwnam(name).pw_uid)
    with open(path) as f:
        for line in f:
            parts = line.strip().split(":")
            if len(parts) == 3 and parts[0] in (name, uid):
                return int(parts[1]), int(parts[2])
    raise KeyError(f"{name} has no range in {path}")


def _next_free_subid(path: str) -> int:
    """Where useradd would start the next range: past every range in the file (at least 100000)."""
    end = 100000
    try:
        with open(path) as f:
            for line in f:
                parts = line.strip().split(":")
                if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
                    end = max(end, int(parts[1]) + int(parts[2]))
    except FileNotFoundError:
        pass
    return end


def ensure_user(name: str = TEST_USER, home: str = TEST_HOME) -> UserInfo:
    """Root only, idempotent: the user, its subuid/subgid range (the next free one, as useradd
    chooses), its /run/user/UID (0700), and /dev/net/tun, /dev/fuse opened to everyone (0666)
    for slirp4netns and fuse-overlayfs."""
    if os.geteuid() != 0:
        raise PermissionError("ensure_user needs root")
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--home-dir", home, "--shell", "/bin/bash",
                        name], check=True, capture_output=True, timeout=60)
    info = user_info(name)
    for path in ("/etc/subuid", "/etc/subgid"):
        if not _has_subid(path, name, info.uid):
            start = _next_free_subid(path)
            with open(path, "a") as f:
                f.write(f"{name}:{start}:{SUBID_COUNT}\n")
    os.makedirs(info.home, exist_ok=True)
    os.chown(info.home, info.uid, info.gid)
    os.makedirs("/run/user", mode=0o755, exist_ok=True)
    rd = info.runtime_dir
    os.makedirs(rd, mode=0o700, exist_ok=True)
    os.chown(rd, info.uid, info.gid)
    os.chmod(rd, 0o700)
    for dev in DEVICES:
        if os.path.exists(dev):
            os.chmod(dev, 0o666)
    return info


def user_env(home: str = TEST_HOME, runtime_dir: str | None = None,
             extra: Mapping[str, str | None] | None = None, user: str = TEST_USER) -> dict:
    """The whole environment a pypod command gets (`env -i`). In `extra`, None removes a key."""
    if runtime_dir is None:
        runtime_dir = f"/run/user/{pwd.getpwnam(user).pw_uid}"
    env = {"HOME": home, "USER": user, "LOGNAME": user, "PATH": USER_PATH,
           "XDG_RUNTIME_DIR": runtime_dir, "LANG": "C.UTF-8"}
    for k, v in (extra or {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


class CommandFailed(subprocess.CalledProcessError):
    """A CalledProcessError whose message shows the output (pytest prints it)."""

    def __str__(self):
        def show(x):
            if isinstance(x, bytes):
                x = x.decode(errors="replace")
            return (x or "").rstrip()[-4000:]

        return (f"command {self.cmd} exited {self.returncode}\n"
                f"--- stdout:\n{show(self.stdout)}\n--- stderr:\n{show(self.stderr)}")


def _run(argv: list[str], *, input=None, text: bool, timeout: float, check: bool,
         cwd: str | None) -> subprocess.CompletedProcess:
    """subprocess.run, but a timeout kills the whole process group (runuser's child too)."""
    if text and isinstance(input, bytes):
        input = input.decode()
    if not text and isinstance(input, str):
        input = input.encode()
    p = subprocess.Popen(argv, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=text,
                         errors="replace" if text else None, cwd=cwd, start_new_session=True)
    try:
        out, err = p.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = p.communicate()
        raise subprocess.TimeoutExpired(argv, timeout, out, err) from None
    cp = subprocess.CompletedProcess(argv, p.returncode, out, err)
    if check and cp.returncode != 0:
        raise CommandFailed(cp.returncode, argv, out, err)
    return cp


def as_user_argv(argv: Sequence[str], env: Mapping[str, str | None] | None = None,
                 user: str = TEST_USER) -> list[str]:
    info = user_info(user)
    e = user_env(info.home, info.runtime_dir, env, user=user)
    return ["runuser", "-u", user, "--", "env", "-i", *(f"{k}={v}" for k, v in e.items()),
            *argv]


def run_as_user(argv: Sequence[str], *, input=None, env=None, timeout: float = 120,
                check: bool = False, text: bool = True,
                cwd: str | None = None) -> subprocess.CompletedProcess:
    """Run argv as the test user with the clean environment (cwd defaults to its home)."""
    return _run(as_user_argv(argv, env), input=input, text=text, timeout=timeout, check=check,
                cwd=cwd or user_info().home)


def _pypod_argv(args, root, as_root) -> tuple[list[str], bool]:
    argv = [PYPOD]
    if root is True:
        as_root = True
    elif root:
        argv += ["--root", os.fspath(root)]
    return argv + [os.fspath(a) for a in args], as_root


def _pypod(args, input, env, timeout, root, check, cwd, as_root, text):
    argv, as_root = _pypod_argv(args, root, as_root)
    if as_root:
        e = user_env("/root", "/run/user/0", env, user="root")
        e.update({"USER": "root", "LOGNAME": "root"})
        return _run(["env", "-i", *(f"{k}={v}" for k, v in e.items()), *argv], input=input,
                    text=text, timeout=timeout, check=check, cwd=cwd or "/")
    return run_as_user(argv, input=input, env=env, timeout=timeout, check=check, text=text,
                       cwd=cwd)


def podman(*args, **kw) -> subprocess.CompletedProcess:
    """podman (4.3, Debian's) as the test user: the reference pypod's output is compared with.
    scripts/test installs it, so its absence is a failure, not a skip."""
    import shutil

    exe = shutil.which("podman")
    assert exe, "podman is not installed: scripts/test installs it (apt-get install podman runc)"
    r = run_as_user([exe, *args], **kw)
    if "invalid internal status" in (r.stderr if isinstance(r.stderr, str) else r.stderr.decode()):
        # podman's containers were killed with the test user's processes (wipe_storage): its
        # state still calls them running. podman's own remedy, then once more.
        run_as_user([exe, "system", "migrate"])
        r = run_as_user([exe, *args], **kw)
    return r


def pypod(*args, input=None, env: Mapping[str, str | None] | None = None, timeout: float = 120,
          root=None, check: bool = False, cwd: str | None = None,
          as_root: bool = False) -> subprocess.CompletedProcess:
    """Run `pypod ARGS` as the test user; stdout/stderr captured as text.

    env: extra variables (None removes one, e.g. {"XDG_RUNTIME_DIR": None}).
    root: a path -> passed as pypod's global `--root PATH`; True -> same as as_root.
    as_root: run pypod as real root instead (HOME=/root) - for the rootful code paths.
    check: raise CommandFailed (showing stdout/stderr) on a non-zero exit.
    A timeout kills the command's process group and raises subprocess.TimeoutExpired.
    """
    return _pypod(args, input, env, timeout, root, check, cwd, as_root, text=True)


def pypod_bytes(*args, input=None, env=None, timeout: float = 120, root=None,
                check: bool = False, cwd: str | None = None,
                as_root: bool = False) -> subprocess.CompletedProcess:
    """pypod() with bytes in and out (for binary output such as `pypod save`, `cp` to stdout)."""
    return _pypod(args, input, env, timeout, root, check, cwd, as_root, text=False)


def sh_as_user(cmd: str, *, input=None, env=None, timeout: float = 120, check: bool = False,
               text: bool = True, cwd: str | None = None) -> subprocess.CompletedProcess:
    """`/bin/sh -c CMD` as the test user with the same clean environment as pypod()."""
    return run_as_user(["/bin/sh", "-c", cmd], input=input, env=env, timeout=timeout,
                       check=check, text=text, cwd=cwd)


# ---------------------------------------------------------------------------------------------
# Storage reset (as root: container files belong to subuids the user cannot delete)


def _in_id_range(uid: int, info: UserInfo) -> bool:
    start, count = subid_range(info.name)
    return uid == info.uid or start <= uid < start + count


def user_pids(info: UserInfo | None = None) -> list[int]:
    """Processes whose real uid is the test user or one of its subuids (containers)."""
    info = info or user_info()
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/status") as f:
                for line in f:
                    if line.startswith("Uid:"):
                        if _in_id_range(int(line.split()[1]), info):
                            pids.append(int(d))
                        break
        except OSError:
            continue
    return pids


def kill_user_processes(info: UserInfo | None = None, timeout: float = 5) -> list[int]:
    """SIGKILL what tests left running as the test user (pause process, supervisors,
    containers); wait until they are gone. Returns the pids killed."""
    info = info or user_info()
    pids = [p for p in user_pids(info) if p != os.getpid()]
    for p in pids:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{p}") for p in pids):
        time.sleep(0.05)
    return pids


def _unmount_under(paths: Sequence[str]) -> None:
    """Lazily unmount anything mounted (in our namespace) below `paths`, deepest first."""
    try:
        with open("/proc/self/mountinfo") as f:
            points = [line.split()[4].encode().decode("unicode_escape") for line in f]
    except OSError:
        return
    for mp in sorted(points, key=len, reverse=True):
        if any(mp == p or mp.startswith(p.rstrip("/") + "/") for p in paths):
            subprocess.run(["umount", "-l", mp], capture_output=True, timeout=30)


def wipe_storage(info: UserInfo | None = None, kill: bool = True) -> None:
    """Remove the test user's pypod storage, runtime state and login state (auth.json)."""
    info = info or user_info()
    if kill:
        kill_user_processes(info)
    dirs = list(info.storage_dirs)
    _unmount_under(dirs)
    for d in dirs:
        if os.path.islink(d):
            os.unlink(d)
        elif os.path.exists(d):
            shutil.rmtree(d)
    try:
        os.unlink(info.auth_json)
    except FileNotFoundError:
        pass


def write_user_file(path: str, content: str, info: UserInfo | None = None,
                    mode: int = 0o644) -> None:
    """Write a file in the test user's home (as root), creating parent dirs owned by the user."""
    info = info or user_info()
    rel = os.path.relpath(path, info.home)
    d = info.home
    for part in os.path.dirname(rel).split(os.sep):
        if not part:
            continue
        d = os.path.join(d, part)
        if not os.path.isdir(d):
            os.mkdir(d, 0o755)
            os.chown(d, info.uid, info.gid)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(content)
    os.chown(tmp, info.uid, info.gid)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def registries_conf_text(search: Sequence[str], insecure: Sequence[str]) -> str:
    lines = ["# Written by the pypod test suite (tests/lib/user.py)."]
    lines.append("unqualified-search-registries = [" +
                 ", ".join(f'"{h}"' for h in search) + "]")
    seen = []
    for h in insecure:
        for loc in (h, h.replace("localhost:", "127.0.0.1:")):
            if loc not in seen:
                seen.append(loc)
    for loc in seen:
        lines += ["", "[[registry]]", f'location = "{loc}"', "insecure = true"]
    return "\n".join(lines) + "\n"


def write_registries_conf(search: Sequence[str], insecure: Sequence[str],
                          info: UserInfo | None = None) -> str:
    info = info or user_info()
    write_user_file(info.registries_conf, registries_conf_text(search, insecure), info)
    return info.registries_conf
