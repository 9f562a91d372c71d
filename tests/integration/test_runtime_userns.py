"""The rootless user namespace helpers on the real kernel, as the `pypodtest` user."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap

import pytest

pytestmark = pytest.mark.integration

from tests.lib.user import TEST_USER, subid_range  # noqa: E402


def _pypod_parent() -> str:
    import pypod

    return os.path.dirname(os.path.dirname(os.path.abspath(pypod.__file__)))


@pytest.fixture(scope="module")
def user():
    if os.geteuid() != 0:
        pytest.skip("needs root (to run as pypodtest through runuser)")
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    try:
        from test_runtime_container import ensure_test_user
    finally:
        sys.path.remove(here)
    return ensure_test_user()


def as_user(pw, code: str, timeout: float = 60) -> subprocess.CompletedProcess:
    argv = ["runuser", "-u", TEST_USER, "--", "env", "-i", f"HOME={pw.pw_dir}",
            "PATH=/usr/bin:/bin", f"XDG_RUNTIME_DIR=/run/user/{pw.pw_uid}",
            f"PYTHONPATH={_pypod_parent()}", sys.executable, "-c", textwrap.dedent(code)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd="/")


def test_run_in_userns_maps_subids(user):
    p = as_user(user, """
        import os
        from pypod import paths
        from pypod.linux import userns
        HD = os.path.join(paths.default_run_root(), "userns")
        assert userns.in_userns_required()
        m = userns.mapping()
        print(m.size, m.uid_map_text().replace("\\n", ";"))
        p = userns.run_in_userns(["sh", "-c", "id -u; cat /proc/self/uid_map"],
                                 holder_dir=HD, stdout=__import__("subprocess").PIPE, text=True)
        print(p.communicate()[0])
    """)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.split("\n")
    SUBID_START, SUBID_COUNT = subid_range(TEST_USER)
    assert lines[0] == f"{SUBID_COUNT + 1} 0 {user.pw_uid} 1;1 {SUBID_START} {SUBID_COUNT};"
    assert lines[1] == "0"
    rows = [tuple(int(x) for x in line.split()) for line in lines[2:4]]
    assert rows == [(0, user.pw_uid, 1), (1, SUBID_START, SUBID_COUNT)]


def test_files_owned_by_subids_and_remove_tree(user):
    d = tempfile.mkdtemp(dir="/tmp")
    os.chown(d, user.pw_uid, user.pw_gid)
    tree = os.path.join(d, "tree")
    p = as_user(user, f"""
        import os
        import os
        from pypod import paths
        from pypod.linux import userns
        HD = os.path.join(paths.default_run_root(), "userns")
        p = userns.run_in_userns(["sh", "-c", "mkdir -p {tree}/a/b && touch {tree}/a/b/f && "
                                  "chown -R 1000:1000 {tree}/a && chmod 0700 {tree}/a"], holder_dir=HD)
        assert p.wait() == 0
        st = os.lstat("{tree}/a")
        print(st.st_uid, st.st_gid)
        try:
            os.listdir("{tree}/a")
            print("readable")
        except PermissionError:
            print("denied")
        userns.remove_tree("{tree}", holder_dir=HD)
        print(os.path.exists("{tree}"))
    """)
    try:
        assert p.returncode == 0, p.stderr
        start = subid_range(TEST_USER)[0]
        assert p.stdout.split("\n")[:3] == [f"{start + 999} {start + 999}", "denied",
                                           "False"]
    finally:
        subprocess.run(["rm", "-rf", d])


def test_operations_join_a_live_holder(user):
    p = as_user(user, """
        import subprocess, time
        import os
        from pypod import paths
        from pypod.linux import userns
        HD = os.path.join(paths.default_run_root(), "userns")
        a = userns.run_in_userns(["sh", "-c", "readlink /proc/self/ns/user; sleep 2"],
                                 holder_dir=HD, stdout=subprocess.PIPE, text=True)
        first = a.stdout.readline().strip()
        b = userns.run_in_userns(["readlink", "/proc/self/ns/user"], holder_dir=HD,
                                 stdout=subprocess.PIPE, text=True)
        second = b.communicate()[0].strip()
        a.kill(); a.wait()
        print(first == second, first != "")
    """)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["True", "True"]


def test_single_id_mapping_fallback(user):
    """The fallback path (no subuid range) creates a single-id namespace on its own."""
    p = as_user(user, """
        import os
        from pypod.linux import idmap, userns
        m = idmap.compute_mapping(subuid_text="", subgid_text="")
        assert m.single
        pid = os.fork()
        if pid == 0:
            userns.create(m)
            os.write(1, open("/proc/self/uid_map").read().encode())
            os.write(1, open("/proc/self/setgroups").read().encode())
            os._exit(0)
        _, st = os.waitpid(pid, 0)
        print("status", st)
    """)
    assert p.returncode == 0, p.stderr
    out = p.stdout.split()
    assert out[:3] == ["0", str(user.pw_uid), "1"] and out[3] == "deny" and out[-1] == "0"
