"""Stateless wrappers around Linux syscalls, id maps and namespaces.

Everything here is importable by the lean supervisor process: standard library only, and nothing
from the rest of pypod.
"""
