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
