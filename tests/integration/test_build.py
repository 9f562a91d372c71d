"""Issue 5 (part A): `build` and `commit`, rootless, through the CLI; output as podman 4.3's."""

from __future__ import annotations

import json
import os
import re

import pytest

from tests.lib.checks import ok
from tests.lib.user import pypod

pytestmark = pytest.mark.integration


def write(d, files: dict):
    for rel, content in files.items():
        p = os.path.join(d, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(content)
        os.chmod(p, 0o644)
    for root, dirs, _ in os.walk(d):
        for x in dirs:
            os.chmod(os.path.join(root, x), 0o755)


MULTI = """\
# syntax is ignored; comments are
ARG BASE={base}
FROM $BASE AS builder
ARG GREETING=hello
WORKDIR /src
COPY greeting.txt .
RUN echo "$GREETING from $(cat greeting.txt)" > out.txt \\
    && rm /bin/ls
FROM $BASE
ENV APP_HOME=/app MODE="two words"
COPY --from=builder /src/out.txt $APP_HOME/
COPY . /ctx/
WORKDIR /app
USER 1000:1000
LABEL org.example.name=demo version=1
EXPOSE 8080 53/udp
ENTRYPOINT ["cat"]
CMD ["/app/out.txt"]
"""


def test_multistage_build_cache_and_rebuild(busybox, shared_tmp):
    ctx = shared_tmp / "ctx"
    write(ctx, {"Containerfile": MULTI.format(base=busybox), "greeting.txt": "world\n",
                "secret.env": "TOKEN=1\n", "logs/a.log": "x", ".dockerignore": "secret.env\n**/*.log\n"})
    r = ok("build", "-t", "demo", "--build-arg", "GREETING=hi", str(ctx))
    lines = r.stdout.splitlines()
    assert lines[0] == f"[1/2] STEP 1/5: FROM {busybox} AS builder"
    assert "[1/2] STEP 5/5: RUN echo \"$GREETING from $(cat greeting.txt)\" > out.txt     && rm /bin/ls" in lines
    assert f"[2/2] STEP 1/10: FROM {busybox}" in lines and "[2/2] STEP 10/10: CMD [\"/app/out.txt\"]" in lines
    iid = lines[-1]
    assert re.fullmatch(r"[0-9a-f]{64}", iid)
    assert lines[-4:-1] == ["[2/2] COMMIT demo", f"--> {iid[:11]}", "Successfully tagged localhost/demo:latest"]
    assert all(re.fullmatch(r"--> [0-9a-f]{11}", x) for x in lines if x.startswith("--> "))
    assert r.stderr == ""

    # the image runs as it says
    assert ok("run", "--rm", "demo").stdout == "hi from world\n"
    r = ok("run", "--rm", "--entrypoint", "sh", "demo", "-c",
           "id -u; pwd; echo $MODE; ls -A /ctx; ls /bin/ls 2>/dev/null || echo ls-present-in-final")
    out = r.stdout.splitlines()
    assert out[:3] == ["1000", "/app", "two words"]
    ctx_files = out[3:-1]
    assert "greeting.txt" in ctx_files and "Containerfile" in ctx_files and ".dockerignore" in ctx_files
    assert "secret.env" not in ctx_files and "logs" in ctx_files
    assert ok("run", "--rm", "--entrypoint", "ls", "demo", "-A", "/ctx/logs").stdout == ""
    cfg = json.loads(ok("image", "inspect", "demo").stdout)[0]["Config"]
    assert cfg["Entrypoint"] == ["cat"] and cfg["Cmd"] == ["/app/out.txt"] and cfg["User"] == "1000:1000"
    assert cfg["Labels"] == {"org.example.name": "demo", "version": "1"}
    assert cfg["ExposedPorts"] == {"8080/tcp": {}, "53/udp": {}}
    assert "APP_HOME=/app" in cfg["Env"] and cfg["WorkingDir"] == "/app"

    # nothing changed: every step from the cache, the same id
    r = ok("build", "-t", "demo", "--build-arg", "GREETING=hi", str(ctx))
    lines = r.stdout.splitlines()
    using = [x for x in lines if x.startswith("--> Using cache ")]
    assert len(using) == 4 + 9 and lines[-1] == iid
    assert lines[-5:-1] == [f"--> Using cache {iid}", "[2/2] COMMIT demo", f"--> {iid[:11]}",
                            "Successfully tagged localhost/demo:latest"]

    # an ignored file changes: still all cached
    write(ctx, {"secret.env": "TOKEN=2\n"})
    assert ok("build", "-q", "-t", "demo", "--build-arg", "GREETING=hi", str(ctx)).stdout == iid + "\n"

    # a changed file rebuilds from the step that reads it
    write(ctx, {"greeting.txt": "there\n"})
    r = ok("build", "-t", "demo", "--build-arg", "GREETING=hi", str(ctx))
    lines = r.stdout.splitlines()
    i = lines.index("[1/2] STEP 4/5: COPY greeting.txt .")
    assert lines[i - 1].startswith("--> ") and lines[i - 2].startswith("--> Using cache")
    assert not lines[i + 1].startswith("--> Using cache")
    assert lines[-1] != iid
    assert ok("run", "--rm", "demo").stdout == "hi from there\n"


SEED = """\
FROM localhost/mybase
WORKDIR /usr/src/app
COPY package.json ./
RUN wc -c package.json > installed.txt
EXPOSE 3000
CMD ["sh", "-c", "cat installed.txt; cat server.js"]
COPY . .
"""


def test_seed_dockerfile_shape_with_local_base(busybox, shared_tmp):
    ok("tag", busybox, "mybase")
    ctx = shared_tmp / "app"
    write(ctx, {"Dockerfile": SEED, "package.json": '{"name": "x"}\n', "server.js": "console.log(1)\n"})
    r = ok("build", "-t", "app:1", str(ctx))
    assert r.stdout.splitlines()[0] == "STEP 1/7: FROM localhost/mybase"
    assert "STEP 7/7: COPY . ." in r.stdout and "Successfully tagged localhost/app:1" in r.stdout
    assert ok("run", "--rm", "app:1").stdout == "14 package.json\nconsole.log(1)\n"
    cfg = json.loads(ok("image", "inspect", "app:1").stdout)[0]["Config"]
    assert cfg["ExposedPorts"] == {"3000/tcp": {}} and cfg["WorkingDir"] == "/usr/src/app"
    # rmi takes the build's unnamed intermediates with it (as podman), never the named base
    base = ok("image", "inspect", "--format", "{{.Id}}", busybox).stdout.strip()
    assert len(ok("images", "-a", "-q").stdout.split()) > 2
    r = ok("rmi", "app:1")
    assert r.stdout.startswith("Untagged: localhost/app:1\nDeleted: ")
    assert len(r.stdout.splitlines()) > 2  # the intermediates were deleted too
    assert ok("images", "-a", "-q", "--no-trunc").stdout.split() == [f"sha256:{base}"]


def test_run_failure_names_the_step_and_keeps_its_code(busybox, shared_tmp):
    ctx = shared_tmp / "bad"
    write(ctx, {"Containerfile": f"FROM {busybox}\nRUN echo hi; exit 3\n"})
    r = pypod("build", str(ctx))
    assert r.returncode == 3 and "hi\n" in r.stdout
    assert r.stderr.strip().splitlines()[-1] == \
        'Error: building at STEP "RUN echo hi; exit 3": while running runtime: exit status 3'
    write(ctx, {"Containerfile": f"FROM {busybox}\nFOO bar\n"})
    r = pypod("build", str(ctx))
    assert r.returncode == 125 and 'Unknown instruction: "FOO"' in r.stderr and "line 2" in r.stderr
    r = pypod("build", str(shared_tmp / "nothere"))
    assert r.returncode == 125 and r.stderr.startswith("Error: ")
    assert ok("ps", "-a", "-q").stdout == ""  # no RUN container left behind


def test_heredoc_chown_timestamp_reproducible(busybox, registry, shared_tmp):
    ctx = shared_tmp / "r"
    cf = (f"FROM {busybox}\n"
          f"ADD {registry.url}/v2/ /out/remote.json\n"
          "RUN <<EOF\nmkdir -p /out\necho made > /out/made.txt\nEOF\n"
          "COPY --chown=1000:2000 --chmod=600 f.txt /out/\n"
          "ARG WHO=world\nCOPY <<EOF /out/inline.txt\ninline $WHO\nEOF\n"
          "CMD [\"sh\", \"-c\", \"cat /out/made.txt /out/inline.txt; stat -c '%u %g %a' /out/f.txt /out/remote.json; "
          "cat /out/remote.json\"]\n")
    write(ctx, {"Containerfile": cf, "f.txt": "f\n"})
    a = ok("build", "-q", "--no-cache", "--timestamp", "1700000000", "-t", "r1", str(ctx)).stdout.strip()
    b = ok("build", "-q", "--no-cache", "-t", "r2", str(ctx), env={"SOURCE_DATE_EPOCH": "1700000000"}).stdout.strip()
    assert a == b  # reproducible: fixed times in the configs and the layer tars
    assert ok("run", "--rm", "r1").stdout == "made\ninline world\n1000 2000 600\n0 0 600\n{}"
    created = json.loads(ok("image", "inspect", "r1").stdout)[0]["Created"]
    assert created.startswith("2023-11-14T22:13:20")


def test_commit_then_run(busybox):
    ok("run", "--name", "c1", busybox, "sh", "-c", "echo committed > /data.txt; rm /bin/ls")
    r = ok("commit", "-c", 'CMD ["cat", "/data.txt"]', "-m", "my message", "--author", "me", "c1", "snap")
    iid = r.stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", iid)
    assert "Getting image source signatures" in r.stderr and "Writing manifest to image destination" in r.stderr
    assert ok("run", "--rm", "snap").stdout == "committed\n"
    assert pypod("run", "--rm", "snap", "ls", "/bin/ls").returncode != 0  # the deletion is in the layer
    info = json.loads(ok("image", "inspect", "localhost/snap:latest").stdout)[0]
    assert info["Author"] == "me" and info["Config"]["Cmd"] == ["cat", "/data.txt"]
    assert "my message" in ok("history", "snap").stdout
    r = pypod("commit", "nosuch", "x")
    assert r.returncode == 125 and r.stderr == 'Error: no container with name or ID "nosuch" found: no such container\n'


def test_context_tarball_on_stdin_and_onbuild(busybox, shared_tmp):
    import io
    import tarfile

    from tests.lib.user import pypod_bytes

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in (("Containerfile", f"FROM {busybox}\nONBUILD COPY f.txt /onbuild.txt\nCOPY f.txt /f.txt\n"),
                           ("f.txt", "from stdin\n")):
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode = len(data), 0o644
            t.addfile(ti, io.BytesIO(data.encode()))
    r = pypod_bytes("build", "--format", "docker", "-t", "parent", "-", input=buf.getvalue())
    assert r.returncode == 0, r.stderr
    assert ok("run", "--rm", "parent", "cat", "/f.txt").stdout == "from stdin\n"
    # the child's build runs the parent's ONBUILD trigger first
    ctx = shared_tmp / "child"
    write(ctx, {"Containerfile": "FROM localhost/parent\nCMD [\"cat\", \"/onbuild.txt\"]\n", "f.txt": "trigger\n"})
    ok("build", "-t", "child", str(ctx))
    assert ok("run", "--rm", "child").stdout == "trigger\n"
    # the OCI format has no ONBUILD: podman's warning, and the trigger is dropped
    r = ok("build", "-t", "oci", "-", input=f"FROM {busybox}\nONBUILD RUN true\n")
    assert "ONBUILD is not supported for OCI image format" in r.stderr


def test_run_options_reach_the_build(busybox, registry, shared_tmp):
    """podman build's options for the RUN containers (--cap-add, --device, --shm-size, --ulimit,
    --dns-search, --security-opt) reach them; --from replaces the first FROM; --arch picks that
    platform of a multi-arch base."""
    ctx = shared_tmp / "ctx"
    write(ctx, {"Containerfile": "FROM nosuch/base\nRUN grep CapBnd /proc/self/status; ls /dev/xnull; "
                                 "df -k /dev/shm | tail -1; ulimit -n; grep search /etc/resolv.conf\n"})
    r = ok("build", "--from", busybox, "--cap-add", "NET_RAW", "--device", "/dev/null:/dev/xnull",
           "--shm-size", "1m", "--ulimit", "nofile=300:300", "--dns-search", "example.test",
           "--security-opt", "no-new-privileges", "-t", "opts", str(ctx))
    assert "CapBnd:\t00000000800425fb" in r.stdout  # the default set plus NET_RAW (bit 13)
    assert "/dev/xnull" in r.stdout and " 1024 " in r.stdout and "\n300\n" in r.stdout
    assert "search example.test" in r.stdout
    # --env: in the RUN steps and the image; --unsetenv: out of it; the cache tells them apart
    write(ctx, {"Containerfile": f"FROM {busybox}\nENV DROPME=1\nRUN echo \"built with $FOO\"\n"})
    r = ok("build", "--env", "FOO=bar", "--unsetenv", "DROPME", "-t", "envimg", str(ctx))
    assert "built with bar" in r.stdout
    env = ok("image", "inspect", "--format", "{{json .Config.Env}}", "envimg").stdout
    assert '"FOO=bar"' in env and "DROPME" not in env.replace("ENV DROPME", "")
    r = ok("build", "-t", "plain", str(ctx))
    assert "built with \n" in r.stdout and "Using cache" not in r.stdout.split("RUN")[-1]
    write(ctx, {"Containerfile": f"FROM {registry['multiarch']}\nLABEL built=yes\n"})
    ok("build", "--arch", "arm64", "-t", "armimg", str(ctx))
    assert ok("image", "inspect", "--format", "{{.Architecture}}", "armimg").stdout.strip() == "arm64"
    r = pypod("build", "--arch", "arm64", "--platform", "linux/amd64", str(ctx))
    assert r.returncode == 125 and "cannot be used together" in r.stderr
