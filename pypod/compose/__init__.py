"""Compose files read as Docker Compose v2 reads them (compose-go's model), for `pypod compose`.

load → interpolate → include/extends → merge (-f files) → validate → canonical long syntax →
normalise (project.load_project). PyYAML is imported only here: never on the `ps`/`run` paths.
"""
