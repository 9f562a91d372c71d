"""Issue 13: symlinks a container or a build context controls never lead out to the host —
`build` COPY sources stay inside the context, `cp` stays inside the container even while the
container swaps its directories for symlinks to the user's home."""

from __future__ import annotations

import json
import os
import platform
import struct

import pytest

from tests.lib.user import PYTHON, TEST_HOME, pypod, run_as_user, user_info, write_user_file

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


def _swapper_elf(a: bytes, b: bytes) -> bytes:
    """A 171-byte static x86_64 program that loops renameat2(a, b, RENAME_EXCHANGE): the attack
    swaps a directory and a symlink atomically, as fast as the kernel allows (busybox has no tool
    for it, and the test must not need a compiler)."""
    code = bytearray()
    code += b"\xb8" + struct.pack("<i", 316)                 # mov eax, SYS_renameat2
    code += b"\xbf" + struct.pack("<i", -100)                # mov edi, AT_FDCWD
    lea_a = len(code)
    code += b"\x48\x8d\x35\0\0\0\0"                          # lea rsi, [rip+a]
    code += b"\xba" + struct.pack("<i", -100)                # mov edx, AT_FDCWD
    lea_b = len(code)
    code += b"\x4c\x8d\x15\0\0\0\0"                          # lea r10, [rip+b]
    code += b"\x41\xb8" + struct.pack("<i", 2)               # mov r8d, RENAME_EXCHANGE
    code += b"\x0f\x05"                                      # syscall
    code += b"\xeb" + struct.pack("<b", -(len(code) + 2))    # jmp back to the top
    pa = len(code)
    code += a + b"\0"
    pb = len(code)
    code += b + b"\0"
    struct.pack_into("<i", code, lea_a + 3, pa - (lea_a + 7))
    struct.pack_into("<i", code, lea_b + 3, pb - (lea_b + 7))
    base, off = 0x400000, 64 + 56
    size = off + len(code)
    ehdr = struct.pack("<4sBBBBB7xHHIQQQIHHHHHH", b"\x7fELF", 2, 1, 1, 0, 0, 2, 62, 1, base + off, 64, 0,
                       0, 64, 56, 1, 0, 0, 0)
    phdr = struct.pack("<IIQQQQQQ", 1, 5, 0, base, base, size, size, 0x1000)  # PT_LOAD, R+X
    return ehdr + phdr + bytes(code)


# One process drives the copies (the engine's cp, as the CLI calls it) to save 1000 Python start-ups;
# each copy still runs its own worker process, as `pypod cp` does.
_RACE_DRIVER = r"""
import json, os, sys
from pypod.engine import cp
from pypod.engine.context import Context
from pypod.errors import PypodError

home, tries, src, out, secret = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
ctx = Context.create(None, None, None, "warn")
victim = os.path.join(home, "victim.txt")

def snapshot():
    st = os.stat(victim)
    with open(victim) as f:
        return sorted(os.listdir(home)), st.st_ino, f.read()

before = snapshot()
res = {"tries": 0, "write_escapes": 0, "read_escapes": 0, "writes_ok": 0, "reads_ok": 0}
got = os.path.join(out, "got")
for i in range(tries):
    res["tries"] = i + 1
    try:
        cp.copy(ctx, src, "race:/data/")
        res["writes_ok"] += 1
    except (PypodError, OSError):  # the CLI's error boundary reports these; only escapes count
        pass
    try:
        now = snapshot()
    except OSError:  # the victim was deleted
        now = None
    if now != before:
        res["write_escapes"] += 1
        res["home_after"] = now and now[0]
        break
    try:
        cp.copy(ctx, "race:/data/secret", got)
        with open(got) as f:
            data = f.read()
        os.unlink(got)
        if data == secret:
            res["read_escapes"] += 1
            break
        res["reads_ok"] += 1
    except (PypodError, OSError):
        pass
print(json.dumps(res))
"""


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the swapping program is x86_64 code")
def test_cp_never_escapes_a_container_swapping_a_directory_for_a_symlink(busybox, shared_tmp):
    tries = int(os.environ.get("PYPOD_CP_RACE_TRIES") or 500)
    info = user_info()
    secret = f"host secret {os.getpid()}\n"
    write_user_file(f"{TEST_HOME}/secret", secret, mode=0o600)
    write_user_file(f"{TEST_HOME}/victim.txt", "host original\n")
    write_user_file(f"{TEST_HOME}/h13-swap", "", mode=0o755)
    with open(f"{TEST_HOME}/h13-swap", "wb") as f:
        f.write(_swapper_elf(b"/data", b"/swap"))
    src = shared_tmp / "victim.txt"
    src.write_text("payload from cp\n")
    os.chmod(src, 0o644)
    out = shared_tmp / "out"
    out.mkdir()
    os.chown(out, info.uid, info.gid)
    try:
        # /data: a directory with a decoy secret; /swap: a symlink to the user's home on the host
        r = pypod("run", "-d", "--name", "race", "-v", f"{TEST_HOME}/h13-swap:/h13-swap:ro", busybox, "sh", "-c",
                  f"mkdir /data && echo decoy > /data/secret && ln -s {TEST_HOME} /swap && exec /h13-swap")
        assert r.returncode == 0, r.stderr
        r = run_as_user([PYTHON, "-c", _RACE_DRIVER, TEST_HOME, str(tries), str(src), str(out), secret],
                        timeout=1800)
        assert r.returncode == 0, r.stderr
        res = json.loads(r.stdout.strip().splitlines()[-1])
        print("cp race:", res)  # -s shows how many copies got through while /data was swapped
        assert pypod("inspect", "--format", "{{.State.Running}}", "race").stdout.strip() == "true"
        assert res["write_escapes"] == 0 and res["read_escapes"] == 0, res
        assert res["tries"] == tries
        # the copies themselves worked whenever /data was the directory
        assert res["writes_ok"] > 0 and res["reads_ok"] > 0, res
        # stopped (the rootfs mounted by the worker): the symlink is resolved inside it just the same
        assert pypod("stop", "-t", "0", "race").returncode == 0
        for d in ("/data", "/swap"):
            pypod("cp", str(src), f"race:{d}/")
            r = pypod("cp", f"race:{d}/secret", str(out / "stopped"))
            if r.returncode == 0:
                assert (out / "stopped").read_text() == "decoy\n"
        with open(f"{TEST_HOME}/victim.txt") as f:
            assert f.read() == "host original\n"
    finally:
        pypod("rm", "-f", "-t", "0", "race")
        for name in ("secret", "victim.txt", "h13-swap"):
            try:
                os.unlink(f"{TEST_HOME}/{name}")
            except FileNotFoundError:
                pass
