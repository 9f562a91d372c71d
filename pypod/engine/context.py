"""The engine's environment: where storage lives and who we are. Passed explicitly, never global."""

from __future__ import annotations

import os

from pypod import paths
from pypod.report import Reporter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path


class Context:
    """graph_dir/run_dir are plain strings; graph_root/run_root the same as Paths, made on demand
    (pathlib and the urllib.parse/ipaddress it drags in cost `pypod images` ~7 ms of start-up)."""

    def __init__(self, graph_root: str | os.PathLike, run_root: str | os.PathLike, driver: str = "overlay",
                 log_level: str = "warn", rootless: bool | None = None, reporter: Reporter | None = None):
        self.graph_dir = os.fspath(graph_root)
        self.run_dir = os.fspath(run_root)
        self.driver = driver
        self.log_level = log_level
        self.rootless = paths.is_rootless() if rootless is None else rootless
        self._images = None
        # where warnings and progress go (the CLI's prints them; by default they are kept)
        self.reporter = reporter or Reporter()

    @classmethod
    def create(cls, root: str | None = None, runroot: str | None = None, driver: str | None = None,
               log_level: str = "warn", reporter: Reporter | None = None) -> "Context":
        graph = root or paths.default_graph_root()
        run = runroot or paths.default_run_root()
        ctx = cls(graph, run, driver or "overlay", log_level, reporter=reporter)
        ctx.report_path_notices()
        return ctx

    def report_path_notices(self) -> None:
        """Say the fallbacks pypod.paths chose (a missing XDG_RUNTIME_DIR), once."""
        for message in paths.take_notices():
            self.reporter.warn(message)

    @property
    def graph_root(self) -> Path:
        from pathlib import Path

        return Path(self.graph_dir)

    @property
    def run_root(self) -> Path:
        from pathlib import Path

        return Path(self.run_dir)

    @property
    def images(self):
        if self._images is None:
            from pypod.store.images import ImageStore

            self._images = ImageStore(self.graph_dir)
        return self._images

    @property
    def containers_dir(self) -> Path:
        return self.graph_root / "containers"

    @property
    def volumes_dir(self) -> Path:
        return self.graph_root / "volumes"

    @property
    def holder_dir(self) -> str:
        """The shared user namespace's holder directory (RUN_ROOT/userns of the default run root,
        as the supervisor's: one namespace per user whatever --runroot says)."""
        d = os.path.join(paths.default_run_root(), "userns")
        self.report_path_notices()
        return d

    def ensure_run_root(self) -> Path:
        os.makedirs(self.run_dir, mode=0o700, exist_ok=True)
        return self.run_root

    @property
    def debug(self) -> bool:
        return self.log_level in ("debug", "trace")
