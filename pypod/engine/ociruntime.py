"""podman's check of the OCI runtime named by `--runtime` or containers.conf `[engine] runtime`.

pypod runs containers itself (its supervisor is the runtime), so the name changes nothing; but a
name that names nothing is an error in podman, and a script that sets one expects that check."""

from __future__ import annotations


def check(name: str | None) -> None:
    """Raise podman's error when `name` is neither pypod nor an executable (a path or on PATH)."""
    import os
    import shutil

    if not name or name == "pypod":
        return
    found = os.access(name, os.X_OK) if "/" in name else shutil.which(name) is not None
    if not found:
        from pypod.errors import InvalidArgument

        raise InvalidArgument(f'default OCI runtime "{name}" not found: invalid argument')
