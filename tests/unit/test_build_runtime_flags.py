"""Global --runtime-flag and build: pypod's own runtime takes no flags, so a RUN step fails as
podman's does when its runtime refuses a flag (070-build "global runtime flags test": exit 1, the
flag named)."""

from __future__ import annotations

import io
import types

import pytest

from pypod.engine import build


def test_a_run_step_refuses_runtime_flags(tmp_path):
    opts = build.BuildOptions(runtime_flags=["invalidflag"])
    b = build.Builder(types.SimpleNamespace(graph_root=str(tmp_path)), opts, io.StringIO())
    ins = types.SimpleNamespace(original="RUN echo hi")
    with pytest.raises(build.StepFailed) as e:
        b._run(ins, "f" * 64, {}, ["/bin/sh", "-c", "echo hi"], [])
    assert e.value.exit_code == 1
    assert e.value.message == ('building at STEP "RUN echo hi": pypod\'s built-in OCI runtime takes no '
                               "runtime flags: --invalidflag")


def test_no_containerfile_in_the_context_is_podmans_stat_error(tmp_path):
    import pytest

    from pypod.engine.build import find_containerfile
    from pypod.errors import PypodError

    with pytest.raises(PypodError) as e:
        find_containerfile(str(tmp_path), None)
    assert str(e.value.message if hasattr(e.value, "message") else e.value) == \
        f"stat {tmp_path}/Dockerfile: no such file or directory"
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    assert find_containerfile(str(tmp_path), None) == f"{tmp_path}/Dockerfile"
