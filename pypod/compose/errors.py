"""Compose's errors: one line, exit 1 (what `docker compose` exits with on a bad file)."""

from __future__ import annotations

from pypod.errors import PypodError


class ComposeError(PypodError):
    exit_code = 1
    http_status = 400


class InterpolationError(ComposeError):
    pass


class ValidationError(ComposeError):
    pass
