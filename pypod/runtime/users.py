"""Resolve `-u USER[:GROUP]` inside the container's /etc/passwd and /etc/group (podman/runc
semantics): a missing name is an error, numeric ids need no entry; without an explicit group the
primary group comes from passwd and the supplementary ones from /etc/group memberships."""

from __future__ import annotations


class UserError(Exception):
    pass


class ExecUser:
    __slots__ = ("uid", "gid", "groups", "home", "name")

    def __init__(self, uid: int, gid: int, groups: list[int], home: str, name: str = ""):
        self.uid, self.gid, self.groups, self.home, self.name = uid, gid, groups, home, name

    def __repr__(self) -> str:
        return f"ExecUser(uid={self.uid}, gid={self.gid}, groups={self.groups}, home={self.home!r})"


def _lines(text: str) -> list[list[str]]:
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        out.append(line.split(":"))
    return out


def _int(s: str) -> int | None:
    return int(s) if s.isdigit() else None


def resolve(spec: str, passwd_text: str, group_text: str) -> ExecUser:
    explicit = bool((spec or "").strip())
    user, _, group = (spec or "").partition(":")
    user = user.strip()
    group = group.strip()
    if not user:
        user = "0"
    pw = [f for f in _lines(passwd_text) if len(f) >= 6]
    gr = [f for f in _lines(group_text) if len(f) >= 3]

    entry = None
    uid_n = _int(user)
    for f in pw:
        if (uid_n is None and f[0] == user) or (uid_n is not None and _int(f[2]) == uid_n):
            entry = f
            break
    if entry is None and uid_n is None:
        raise UserError(f"unable to find user {user}: no matching entries in passwd file")
    if entry is not None:
        uid = _int(entry[2]) if _int(entry[2]) is not None else 0
        gid = _int(entry[3]) if _int(entry[3]) is not None else 0
        home = entry[5] or "/"
        name = entry[0]
    else:
        uid, gid, home, name = uid_n, 0, "/", ""  # type: ignore[assignment]

    groups: list[int] = []
    if group:
        gid_n = _int(group)
        if gid_n is not None:
            gid = gid_n
        else:
            for f in gr:
                if f[0] == group:
                    gid = _int(f[2]) if _int(f[2]) is not None else 0
                    break
            else:
                raise UserError(f"unable to find group {group}: no matching entries in group file")
    elif name:
        for f in gr:
            members = [m.strip() for m in f[3].split(",")] if len(f) > 3 else []
            g = _int(f[2])
            if name in members and g is not None and g not in groups:
                groups.append(g)
    if not explicit:  # podman: no -u and no image USER, no supplementary groups at all
        groups = []
    elif gid not in groups:
        groups.insert(0, gid)
    return ExecUser(uid, gid, groups, home, name)


def _has(rows: list[list[str]], key: str) -> bool:
    """runc's lookup: a numeric key matches the id field, a name the name field."""
    return any(f[0] == key or (key.isdigit() and len(f) > 2 and f[2] == key) for f in rows)


def missing_entries(spec: str, cwd: str, template: str, passwd_text: str,
                    group_text: str) -> tuple[str, str]:
    """podman's /etc/passwd and /etc/group lines for a numeric -u the image does not know
    (generateUserPasswdEntry/generateUserGroupEntry): ("", "") when nothing is missing.
    `template` is --passwd-entry ($USERNAME $UID $GID $NAME $HOME)."""
    user, _, group = (spec or "").partition(":")
    user, group = user.strip(), group.strip()
    pw_line = gr_line = ""
    if user.isdigit() and not _has(_lines(passwd_text), user):
        gid = "0"
        if group.isdigit():
            gid = group
        elif group:
            for f in _lines(group_text):
                if f[0] == group and len(f) > 2 and f[2].isdigit():
                    gid = f[2]
                    break
            else:
                raise UserError(f"unable to get gid {group} from group file: "
                                f"no matching entries in group file")
        if template:
            pw_line = (template.replace("$USERNAME", user).replace("$UID", user)
                       .replace("$GID", gid).replace("$NAME", "container user")
                       .replace("$HOME", cwd))
        else:
            pw_line = f"{user}:*:{user}:{gid}:container user:{cwd}:/bin/sh"
    want = group or user
    if want.isdigit() and not _has(_lines(group_text), want):
        gr_line = f"{want}:x:{want}:{user}"
    return pw_line, gr_line
