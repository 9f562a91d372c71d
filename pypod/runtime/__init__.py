"""The low-level runtime: a container spec in, a supervised container process out.

spec.py (pure data) · launch.py (the API the engine calls) · supervisor/ (podman's conmon, one
process per running container) · init.py (mounts → pivot_root → exec) · exec.py ·
state.py · logs.py · protocol.py. The supervisor side imports only the standard library and
pypod.linux / pypod.runtime modules that avoid heavy imports (no dataclasses, json, re, subprocess).
"""
