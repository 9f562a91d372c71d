"""`ok()` and `out()`: pypod as the test user (tests.lib.user.pypod, same keywords), asserted to
exit 0 — what most integration tests call for each step that must succeed. A failure shows the
command, its exit code and both streams."""

from __future__ import annotations

import subprocess

from tests.lib.user import pypod


def ok(*args, **kw) -> subprocess.CompletedProcess:
    r = pypod(*args, **kw)
    assert r.returncode == 0, (f"pypod {' '.join(map(str, args))} → {r.returncode}\n"
                               f"stdout: {r.stdout}\nstderr: {r.stderr}")
    return r


def out(*args, **kw) -> str:
    """ok(...).stdout"""
    return ok(*args, **kw).stdout
