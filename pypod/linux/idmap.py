"""User-namespace id maps: /etc/subuid parsing, the mapping maths, newuidmap/newgidmap.

A rootless user's mapping is podman's: container id 0 → the user's own id, container ids 1..N →
the subordinate ranges in file order. Where the user has no range (or the setuid helpers are
missing) it is a single-id mapping: only container id 0 exists.
"""

from __future__ import annotations

import os

SUBUID_FILE = "/etc/subuid"
SUBGID_FILE = "/etc/subgid"
HELPER_DIRS = ("/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin")


class IdRange:
    """`size` ids starting at `container_id` in the namespace ↔ `host_id` outside."""

    __slots__ = ("container_id", "host_id", "size")

    def __init__(self, container_id: int, host_id: int, size: int):
        self.container_id, self.host_id, self.size = container_id, host_id, size

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IdRange) and self.as_tuple() == other.as_tuple()

    def __repr__(self) -> str:
        return f"IdRange({self.container_id}, {self.host_id}, {self.size})"

    def as_tuple(self) -> tuple[int, int, int]:
        return (self.container_id, self.host_id, self.size)


class IdMapping:
    """The uid and gid maps of a user namespace (empty lists: no namespace, i.e. root mode)."""

    __slots__ = ("uids", "gids", "user", "uid", "gid", "fallback_reason")

    def __init__(self, uids: list[IdRange], gids: list[IdRange], *, user: str = "",
                 uid: int = 0, gid: int = 0, fallback_reason: str = ""):
        self.uids, self.gids = uids, gids
        self.user, self.uid, self.gid = user, uid, gid
        # Non-empty when this is the single-id fallback: why (for the warning).
        self.fallback_reason = fallback_reason

    def __repr__(self) -> str:
        return f"IdMapping(uids={self.uids}, gids={self.gids})"

    @property
    def single(self) -> bool:
        return bool(self.fallback_reason)

    @property
    def size(self) -> int:
        """How many container uids exist (1 for the single-id mapping)."""
        return max((r.container_id + r.size for r in self.uids), default=0)

    @property
    def gid_size(self) -> int:
        return max((r.container_id + r.size for r in self.gids), default=0)

    def uid_to_host(self, cid: int) -> int | None:
        return _to_host(self.uids, cid)

    def gid_to_host(self, cid: int) -> int | None:
        return _to_host(self.gids, cid)

    def uid_to_container(self, hid: int) -> int | None:
        return _to_container(self.uids, hid)

    def gid_to_container(self, hid: int) -> int | None:
        return _to_container(self.gids, hid)

    def has_gid(self, cid: int) -> bool:
        return self.gid_to_host(cid) is not None

    def uid_map_text(self) -> str:
        return map_text(self.uids)

    def gid_map_text(self) -> str:
        return map_text(self.gids)

    def warning(self) -> str:
        """The one-line warning for the single-id fallback ('' when there is a full mapping)."""
        if not self.single:
            return ""
        return (f"WARN[0000] {self.fallback_reason}: running with a single-uid mapping (only root "
                f"exists in containers; files of other users show as nobody). Fix: "
                f"{usermod_fix(self.user or str(self.uid))}")


def _to_host(ranges: list[IdRange], cid: int) -> int | None:
    for r in ranges:
        if r.container_id <= cid < r.container_id + r.size:
            return r.host_id + (cid - r.container_id)
    return None


def _to_container(ranges: list[IdRange], hid: int) -> int | None:
    for r in ranges:
        if r.host_id <= hid < r.host_id + r.size:
            return r.container_id + (hid - r.host_id)
    return None


# shadow's defaults (login.defs SUB_UID_MIN/MAX, SUB_UID_COUNT): where useradd puts a new range.
SUBID_MIN, SUBID_MAX, SUBID_COUNT = 100000, 600100000, 65536


def free_subid_start(texts: list[str], count: int = SUBID_COUNT) -> int:
    """The lowest start of `count` ids that no range in any of `texts` (subuid and subgid files)
    overlaps, from SUBID_MIN on, as useradd chooses one — never a range another user holds."""
    taken: list[tuple[int, int]] = []
    for text in texts:
        for line in text.splitlines():
            parts = line.strip().split(":")
            if len(parts) == 3 and not parts[0].startswith("#"):
                try:
                    s, c = int(parts[1]), int(parts[2])
                except ValueError:
                    continue
                if c > 0:
                    taken.append((s, s + c))
    start = SUBID_MIN
    for s, e in sorted(taken):
        if s >= start + count:
            break
        start = max(start, e)
    return start if start + count - 1 <= SUBID_MAX else SUBID_MIN


def usermod_fix(user: str) -> str:
    """The command that gives `user` a free subordinate range (read from the files now)."""
    texts = []
    for path in (SUBUID_FILE, SUBGID_FILE):
        try:
            with open(path) as f:
                texts.append(f.read())
        except OSError:
            pass
    s = free_subid_start(texts)
    r = f"{s}-{s + SUBID_COUNT - 1}"
    return f"usermod --add-subuids {r} --add-subgids {r} {user}"


def parse_subid(text: str, user: str, uid: int) -> list[tuple[int, int]]:
    """(start, count) ranges of `user` (matched by name or numeric id), in file order."""
    out: list[tuple[int, int]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(":")
        if len(parts) != 3:
            continue
        owner, start, count = (p.strip() for p in parts)
        if owner != user and owner != str(uid):
            continue
        try:
            s, c = int(start), int(count)
        except ValueError:
            continue
        if s >= 0 and c > 0 and (s, c) not in out:
            out.append((s, c))
    return out


def build_ranges(own_id: int, sub: list[tuple[int, int]]) -> list[IdRange]:
    """podman's layout: `0 OWN 1`, then each subordinate range from container id 1 on."""
    ranges = [IdRange(0, own_id, 1)]
    nxt = 1
    for start, count in sub:
        ranges.append(IdRange(nxt, start, count))
        nxt += count
    return ranges


def map_text(ranges: list[IdRange]) -> str:
    return "".join(f"{r.container_id} {r.host_id} {r.size}\n" for r in ranges)


def parse_map_text(text: str) -> list[tuple[int, int, int]]:
    """/proc/PID/uid_map → [(container, host, size)]."""
    out = []
    for line in text.splitlines():
        f = line.split()
        if len(f) == 3:
            out.append((int(f[0]), int(f[1]), int(f[2])))
    return out


def find_helper(name: str) -> str | None:
    for d in HELPER_DIRS:
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    return None


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def compute_mapping(*, uid: int | None = None, gid: int | None = None, user: str | None = None,
                    subuid_text: str | None = None, subgid_text: str | None = None,
                    helpers: bool | None = None) -> IdMapping:
    """The rootless mapping for a user (default: the caller). Arguments override for tests."""
    if uid is None:
        uid = os.getuid()
    if gid is None:
        gid = os.getgid()
    if user is None:
        try:
            import pwd

            user = pwd.getpwuid(uid).pw_name
        except KeyError:
            user = str(uid)
    if subuid_text is None:
        subuid_text = _read(SUBUID_FILE)
    if subgid_text is None:
        subgid_text = _read(SUBGID_FILE)
    subu = parse_subid(subuid_text, user, uid)
    subg = parse_subid(subgid_text, user, uid)
    if helpers is None:
        helpers = bool(find_helper("newuidmap") and find_helper("newgidmap"))
    reason = ""
    if not subu or not subg:
        missing = " and ".join(f for f, r in ((SUBUID_FILE, subu), (SUBGID_FILE, subg)) if not r)
        reason = f"no subordinate id range for user {user!r} in {missing}"
    elif not helpers:
        reason = "newuidmap/newgidmap not found (apt-get install uidmap)"
    if reason:
        return IdMapping([IdRange(0, uid, 1)], [IdRange(0, gid, 1)], user=user, uid=uid, gid=gid,
                         fallback_reason=reason)
    return IdMapping(build_ranges(uid, subu), build_ranges(gid, subg), user=user, uid=uid, gid=gid)


def newidmap_argv(tool: str, pid: int, ranges: list[IdRange]) -> list[str]:
    argv = [tool, str(pid)]
    for r in ranges:
        argv += [str(r.container_id), str(r.host_id), str(r.size)]
    return argv


def _spawn_capture(argv: list[str], err_w: int) -> int:
    return os.posix_spawn(argv[0], argv, {"PATH": "/usr/bin:/bin", "LC_ALL": "C"},
                          file_actions=[(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                                        (os.POSIX_SPAWN_DUP2, err_w, 1),
                                        (os.POSIX_SPAWN_DUP2, err_w, 2)])


def apply_with_helpers(pid: int, m: IdMapping) -> str:
    """Run newuidmap and newgidmap (in parallel) for `pid`; '' on success, else the error text."""
    r, w = os.pipe()
    try:
        pids = [_spawn_capture(newidmap_argv(find_helper(tool) or tool, pid, ranges), w)
                for tool, ranges in (("newuidmap", m.uids), ("newgidmap", m.gids))]
    except OSError as e:
        os.close(r)
        os.close(w)
        return f"newuidmap: {e.strerror}"
    os.close(w)
    out = b""
    while True:
        chunk = os.read(r, 4096)
        if not chunk:
            break
        out += chunk
    os.close(r)
    ok = True
    for p in pids:
        _, st = os.waitpid(p, 0)
        ok = ok and os.waitstatus_to_exitcode(st) == 0
    if ok:
        return ""
    return out.decode(errors="replace").strip().replace("\n", "; ") or "newuidmap/newgidmap failed"


def write_own_single_map(m: IdMapping) -> None:
    """Single-id mapping written by the process itself right after unshare(CLONE_NEWUSER)."""
    with open("/proc/self/uid_map", "w") as f:
        f.write(m.uid_map_text())
    try:
        with open("/proc/self/setgroups", "w") as f:
            f.write("deny")
    except OSError:
        pass
    with open("/proc/self/gid_map", "w") as f:
        f.write(m.gid_map_text())
