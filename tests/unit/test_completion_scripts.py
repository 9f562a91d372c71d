"""The completion scripts in completions/ are what `pypod completion SHELL` prints (no drift)."""

from __future__ import annotations

import os

import pytest

from pypod.cli.completion import script

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize("shell,name", [("bash", "pypod.bash"), ("zsh", "_pypod"), ("fish", "pypod.fish")])
def test_completions_dir_matches_generated(shell, name):
    with open(os.path.join(REPO, "completions", name)) as f:
        assert f.read() == script(shell), f"completions/{name} drifted: pypod completion {shell} > completions/{name}"


def test_scripts_ask_pypod_through_cobras_protocol():
    assert "__completeNoDesc" in script("bash") and "pypod __complete" in script("fish")
