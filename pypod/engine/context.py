"""The engine's environment: where storage lives and who we are. Passed explicitly, never global."""

from __future__ import annotations

import os
from pathlib import Path

from pypod import paths


class Context:
    def __init__(self, graph_root: Path, run_root: Path, driver: str = "overlay", log_level: str = "warn",
                 rootless: bool | None = None):
        self.graph_root = Path(graph_root)
        self.run_root = Path(run_root)
        self.driver = driver
        self.log_level = log_level
        self.rootless = paths.is_rootless() if rootless is None else rootless
        self._images = None

    @classmethod
    def create(cls, root: str | None = None, runroot: str | None = None, driver: str | None = None,
               log_level: str = "warn") -> "Context":
        graph = Path(root) if root else paths.default_graph_root()
        run = Path(runroot) if runroot else paths.default_run_root()
        return cls(graph, run, driver or "overlay", log_level)

    @property
    def images(self):
        if self._images is None:
            from pypod.store.images import ImageStore

            self._images = ImageStore(self.graph_root)
        return self._images

    @property
    def containers_dir(self) -> Path:
        return self.graph_root / "containers"

    @property
    def volumes_dir(self) -> Path:
        return self.graph_root / "volumes"

    def ensure_run_root(self) -> Path:
        os.makedirs(self.run_root, mode=0o700, exist_ok=True)
        return self.run_root

    @property
    def debug(self) -> bool:
        return self.log_level in ("debug", "trace")
