"""Issue 13: `logs --tail` of a big log reads from the end (podman: 0.06 s for 280 MB)."""

from __future__ import annotations

import os
import re

import pytest

from tests.lib.user import PYPOD, pypod, run_as_user, user_info

pytestmark = pytest.mark.integration

TS = "2024-05-01T12:00:00.123456789+00:00"


def _write_big_log(path: str, size: int) -> list[bytes]:
    """`size` bytes of k8s-file lines, then the lines that `--tail 5` must show."""
    line = f"{TS} stdout F {'x' * 90}\n".encode()
    block = line * ((1 << 20) // len(line) + 1)
    last = [f"{TS} {'stderr' if i == 3 else 'stdout'} F last {i}\n".encode() for i in range(1, 6)]
    info = user_info()
    with open(path, "wb") as f:
        written = 0
        while written < size:
            written += f.write(block)
        f.write(f"{TS} stdout P part-\n".encode())  # the first tailed line: two pieces
        f.writelines(last)
    os.chown(path, info.uid, info.gid)
    return last


def test_logs_tail_of_a_280_mb_log_is_fast_and_small(busybox):
    pypod("create", "--name", "biglog", busybox, "true", check=True)
    path = pypod("inspect", "--format", "{{.HostConfig.LogConfig.Path}}", "biglog").stdout.strip()
    assert path.endswith("ctr.log")
    _write_big_log(path, 280 << 20)
    assert os.path.getsize(path) > 280 << 20
    best = None
    for _ in range(3):  # the best of three: the machine is shared
        r = run_as_user(["/usr/bin/time", "-f", "TIME %e %U %S %M", PYPOD, "logs", "--tail", "5",
                         "biglog"], text=False, timeout=60)
        assert r.returncode == 0, r.stderr
        wall, user, system, kib = map(float, re.search(
            rb"TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)", r.stderr).groups())
        best = min(best or (wall, user + system, kib), (wall, user + system, kib))
        assert r.stdout == b"part-last 1\nlast 2\nlast 4\nlast 5\n"
        assert r.stderr.startswith(b"last 3\n")
    wall, cpu, kib = best
    print(f"logs --tail 5 of a 280 MB log: {wall:.2f} s ({cpu:.2f} s of CPU), {kib / 1024:.0f} MiB")
    # CPU time, not only the wall clock, which other work on a shared machine stretches
    assert cpu < 0.2 and wall < 1 and kib < 50 * 1024, best
    # -f on a container that is not running: the same lines, the log still not loaded
    r = run_as_user(["/usr/bin/time", "-f", "TIME %M", PYPOD, "logs", "-f", "--tail", "5", "biglog"],
                    text=False, timeout=60)
    assert r.returncode == 0 and r.stdout == b"part-last 1\nlast 2\nlast 4\nlast 5\n", r.stderr
    kib = int(re.search(rb"TIME (\d+)", r.stderr).group(1))
    assert kib < 50 * 1024, kib
    pypod("rm", "biglog")
