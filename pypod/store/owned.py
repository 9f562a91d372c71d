"""Owned temporary work: a temp or trash entry's name says which process is working on it.

    <prefix><pid>_<starttime>-<random>[-<what>]

`starttime` is field 22 of /proc/PID/stat (clock ticks after boot), so a recycled pid is not taken
for the owner. Clean-up removes only an *orphan*: an entry whose owner is dead (`orphaned`). It
first claims the orphan by renaming it to a name of its own (`claim_orphans`): of two reapers only one wins
the rename, and if the reaper dies in turn, its claim is an orphan again.

Use it for any temp dir or file beside live data that a crash could leave behind:

    tmp = root / owned.name(".tmp-")            # created by this process, reaped after it dies
    for dead in owned.claim_orphans(root, (".tmp-",)):
        remove(dead)                            # only what a dead owner left

An entry in the old unowned form (no `<pid>_<start>`) is an orphan once untouched for an hour.
"""

from __future__ import annotations

import os

from pypod.linux import proc  # (reads /proc only: pid + start time, a zombie counts as dead)

_ME: str | None = None
UNOWNED_AGE = 3600.0  # seconds an entry without an owner must be untouched before it is reaped


def me() -> str:
    """This process's owner tag, `<pid>_<starttime>`."""
    global _ME
    pid = os.getpid()
    if _ME is None or not _ME.startswith(f"{pid}_"):  # (recomputed in a forked child)
        _ME = f"{pid}_{proc.starttime(pid) or 0}"
    return _ME


def name(prefix: str, rest: str = "") -> str:
    """A fresh entry name owned by this process: `<prefix><me>-<random>[-<rest>]`."""
    # (os.urandom, as secrets.token_hex does, without importing secrets: hmac, hashlib and
    # OpenSSL's start-up, ~5 ms of every `rm`)
    return f"{prefix}{me()}-{os.urandom(6).hex()}" + (f"-{rest}" if rest else "")


def owner(entry: str, prefix: str) -> tuple[int, int] | None:
    """(pid, starttime) from an owned name, None for a name without an owner."""
    if not entry.startswith(prefix):
        return None
    tag = entry[len(prefix):].split("-", 1)[0]
    pid, sep, start = tag.partition("_")
    if not sep or not pid.isdigit() or not start.isdigit():
        return None
    return int(pid), int(start)


def tag_alive(tag: str) -> bool:
    """Whether the owner `<pid>_<starttime>` (a `me()` kept in a record) still runs."""
    who = owner(tag, "")
    return who is not None and proc.alive(*who)


def orphaned(path: str, prefix: str) -> bool:
    """Whether `path` (an entry named with `prefix`) was left by a dead owner."""
    who = owner(os.path.basename(path), prefix)
    if who is not None:
        return not proc.alive(*who)
    import time

    try:
        return time.time() - os.lstat(path).st_mtime > UNOWNED_AGE
    except OSError:
        return False


def claim_orphans(root: str | os.PathLike, prefixes: tuple[str, ...]) -> list[str]:
    """Rename every orphan under `root` with one of `prefixes` to a name of ours; their new paths.

    One readdir when there is nothing to do (cheap enough for every command that writes storage)."""
    root = os.fspath(root)
    try:
        entries = os.listdir(root)
    except OSError:
        return []
    out = []
    for e in entries:
        prefix = next((p for p in prefixes if e.startswith(p)), None)
        if prefix is None:
            continue
        path = os.path.join(root, e)
        if not orphaned(path, prefix):
            continue
        mine = os.path.join(root, name(prefix, "reap"))
        try:
            os.rename(path, mine)
        except OSError:  # another reaper was first
            continue
        out.append(mine)
    return out
