"""--runtime / [engine] runtime: checked as podman checks it, though pypod runs containers itself."""

from __future__ import annotations

import pytest

from pypod.engine import ociruntime
from pypod.errors import InvalidArgument


@pytest.mark.parametrize("name", [None, "", "pypod", "sh", "/bin/sh"])
def test_known_or_executable_names_pass(name):
    ociruntime.check(name)


@pytest.mark.parametrize("name", ["idonotexist", "/no/such/runc"])
def test_a_name_that_names_nothing_is_podmans_error(name):
    with pytest.raises(InvalidArgument, match=f'^default OCI runtime "{name}" not found: invalid argument$'):
        ociruntime.check(name)
