"""`build` as podman 4.3's own system tests (070-build) check it: ignore files, -f, --authfile,
--logfile, error texts."""

from __future__ import annotations

import os

import pytest

from tests.lib.checks import out
from tests.lib.user import pypod
from tests.integration.test_build import write

pytestmark = pytest.mark.integration


def test_copy_of_a_source_the_ignore_file_excludes_fails(busybox, shared_tmp):
    ctx = shared_tmp / "ctx"
    write(ctx, {"Containerfile": f"FROM {busybox}\nCOPY ./ ./\nCOPY subdir ./\n", "subdir/a": "a",
                ".dockerignore": "*\nsubdir\n!*/sub1*\n"})
    r = pypod("build", "-t", "h7ign", str(ctx))
    assert r.returncode == 125
    assert 'Error: building at STEP "COPY subdir ./": ' in r.stderr and '"/subdir"' in r.stderr


def test_several_containerfiles_are_read_as_one(busybox, shared_tmp):
    write(shared_tmp, {"c1/Containerfile1": "FROM scratch AS first\nCOPY x /tmp/x\n", "c1/x": "from-first\n",
                       "Containerfile2": f"FROM {busybox}\nCOPY --from=first /tmp/x /x\n"})
    said = out("build", "-t", "h7multi", "-f", str(shared_tmp / "c1/Containerfile1"),
               "-f", str(shared_tmp / "Containerfile2"), str(shared_tmp / "c1"))
    assert f"FROM {busybox}" in said
    assert out("run", "--rm", "h7multi", "cat", "/x") == "from-first\n"


def test_authfile_is_checked_before_building(clean_storage):
    r = pypod("build", "--authfile=/tmp/h7-bogus", "-", input="from scratch\n")
    assert (r.returncode, r.stderr.strip()) == (
        125, "Error: checking authfile: stat /tmp/h7-bogus: no such file or directory")
    assert "STEP" not in r.stdout


def test_logfile_takes_all_the_output(busybox, shared_tmp):
    os.chmod(shared_tmp, 0o777)
    write(shared_tmp, {"b/Dockerfile": f"FROM {busybox}\nRUN echo from-run\n"})
    r = pypod("build", "-t", "h7log", "--format=docker", f"--logfile={shared_tmp}/logfile", str(shared_tmp / "b"))
    assert r.returncode == 0 and r.stdout == "" and r.stderr == "", r
    log = (shared_tmp / "logfile").read_text()
    assert "COMMIT h7log" in log and "from-run" in log
    iid = out("inspect", "--format", "{{.Id}}", "h7log").strip()
    assert log.rstrip().endswith(iid)


def test_pull_never_error_names_the_build_container(clean_storage, shared_tmp):
    write(shared_tmp, {"Containerfile": "FROM quay.io/libpod/nosuchimage:nosuchtag\nRUN true\n"})
    r = pypod("build", "-t", "h7never", "--pull-never", str(shared_tmp))
    assert r.returncode == 125
    assert r.stderr.strip() == ("Error: creating build container: quay.io/libpod/nosuchimage:nosuchtag: "
                                "image not known")


def test_buildx_build_and_copy_keeps_hard_links(busybox, shared_tmp):
    write(shared_tmp, {"Dockerfile": f"FROM {busybox}\nCOPY . /test\n"})
    os.link(shared_tmp / "Dockerfile", shared_tmp / "hardlink1")
    said = out("buildx", "build", "--load", "-t", "h7bx", str(shared_tmp))
    assert "COMMIT h7bx" in said
    inodes = out("run", "--rm", "h7bx", "stat", "-c", "%i", "/test/Dockerfile", "/test/hardlink1").split()
    assert len(inodes) == 2 and inodes[0] == inodes[1]


def test_runtime_that_does_not_exist_fails_the_build(clean_storage, shared_tmp):
    write(shared_tmp, {"Containerfile": "FROM scratch\n", "containers.conf": '[engine]\nruntime="idonotexist"\n'})
    for args, env in ((["--runtime=idonotexist"], None), ([], {"CONTAINERS_CONF": str(shared_tmp / "containers.conf")})):
        r = pypod(*args, "build", "-t", "h7rt", str(shared_tmp), env=env)
        assert (r.returncode, r.stderr.strip()) == (125, 'Error: default OCI runtime "idonotexist" not found: '
                                                         "invalid argument")
