"""Issue 13: symlinks a container or a build context controls never lead out to the host —
`build` COPY sources stay inside the context, `cp` stays inside the container even while the
container swaps its directories for symlinks to the user's home."""

from __future__ import annotations

import os

import pytest

from tests.lib.user import TEST_HOME, pypod, user_info, write_user_file

pytestmark = pytest.mark.integration


def _context(d, files: dict, links: dict) -> None:
    for rel, content in files.items():
        p = os.path.join(d, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(content)
    for rel, target in links.items():
        os.symlink(target, os.path.join(d, rel))
    for root, dirs, fs in os.walk(d):
        for x in dirs:
            os.chmod(os.path.join(root, x), 0o755)
        for x in fs:
            os.chmod(os.path.join(root, x), 0o644, follow_symlinks=False) if not os.path.islink(
                os.path.join(root, x)) else None


def test_build_copy_refuses_a_context_symlink_out_of_the_context(busybox, shared_tmp):
    secret = f"{TEST_HOME}/h13-build-secret"
    write_user_file(secret, "host secret\n", mode=0o600)
    ctx = shared_tmp / "ctx"
    try:
        _context(ctx, {"sub/f": "inside\n", "Containerfile": f"FROM {busybox}\nCOPY homelink/h13-build-secret /stolen\n"},
                 {"homelink": TEST_HOME, "lnk": "sub", "abs": "/sub/f"})
        r = pypod("build", "-t", "stolen", str(ctx))
        # podman 4.3, same context: exit 125 and this line (pypod adds the Containerfile's line)
        assert r.returncode == 125, r.stdout + r.stderr
        assert r.stderr.strip().splitlines()[-1] == (
            'Error: building at STEP "COPY homelink/h13-build-secret /stolen": checking on sources under '
            f'"{ctx}": copier: stat: "/homelink/h13-build-secret": no such file or directory (line 2)')
        assert pypod("image", "exists", "stolen").returncode == 1
        # the link named as a source is followed inside the context: it is not there either
        (ctx / "Containerfile").write_text(f"FROM {busybox}\nCOPY homelink /stolen/\n")
        r = pypod("build", str(ctx))
        assert r.returncode == 125 and 'copier: stat: "/homelink": no such file or directory' in r.stderr
        # links that stay inside the context work, an absolute one from the context's root
        (ctx / "Containerfile").write_text(f"FROM {busybox}\nCOPY lnk/f /a\nCOPY abs /b\nCOPY lnk /c/\n")
        r = pypod("build", "-t", "inside", str(ctx))
        assert r.returncode == 0, r.stderr
        r = pypod("run", "--rm", "inside", "sh", "-c", "cat /a /b /c/f; test -L /b || echo regular")
        assert r.stdout == "inside\ninside\ninside\nregular\n"
    finally:
        os.unlink(secret)
        pypod("rmi", "-f", "inside")
