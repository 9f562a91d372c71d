"""The terminal side of pypod.report: warnings, notices and progress printed as they come (on
stderr, as podman's), so they keep their place among a command's output."""

from __future__ import annotations

import os
import sys

from pypod.report import Progress, Reporter


class TerminalReporter(Reporter):
    def warn(self, message: str, elapsed: int = 0) -> None:
        line = message if message.startswith("WARN[") else f"WARN[{elapsed:04d}] {message}"
        sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def notice(self, text: str) -> None:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def progress(self, quiet: bool = False) -> Progress:
        return make_progress(quiet)


class LineProgress(Progress):
    """Plain progress lines on stderr (podman's wording); silent when quiet."""

    def __init__(self, quiet: bool = False, stream=None):
        import threading

        super().__init__(quiet)
        self.stream = stream or sys.stderr
        self._lock = threading.Lock()  # pull's layer threads print too

    def say(self, text: str) -> None:
        if not self.quiet:
            with self._lock:
                print(text, file=self.stream, flush=True)

    def warn(self, text: str) -> None:
        with self._lock:
            print(f"WARN[0000] {text}", file=sys.stderr, flush=True)


class BarProgress(LineProgress):
    """Progress bars on a terminal."""

    def __init__(self, stream=None):
        super().__init__(False, stream)
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

        self.console = Console(file=self.stream)
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                                 TransferSpeedColumn(), console=self.console, transient=False)
        self.tasks: dict[str, int] = {}
        self.progress.start()

    def say(self, text: str) -> None:
        self.progress.console.print(text, highlight=False, markup=False)

    def warn(self, text: str) -> None:
        self.say(f"WARN[0000] {text}")

    def layer_start(self, digest: str, size: int | None) -> None:
        self.tasks[digest] = self.progress.add_task(f"Copying blob {_short(digest)}", total=size)

    def layer_skip(self, digest: str) -> None:
        self.say(f"Copying blob {_short(digest)} skipped: already exists")

    def advance(self, digest: str, n: int) -> None:
        t = self.tasks.get(digest)
        if t is not None:
            self.progress.advance(t, n)

    def layer_done(self, digest: str) -> None:
        t = self.tasks.get(digest)
        if t is not None:
            self.progress.update(t, description=f"Copying blob {_short(digest)} done")

    def close(self) -> None:
        self.progress.stop()


def _short(digest: str) -> str:
    return digest.split(":", 1)[-1][:12]


def make_progress(quiet: bool) -> Progress:
    if not quiet and sys.stderr.isatty() and os.environ.get("TERM") != "dumb":
        try:
            return BarProgress()
        except Exception:  # pragma: no cover - a broken terminal still gets plain lines
            pass
    return LineProgress(quiet)
