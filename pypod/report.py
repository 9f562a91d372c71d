"""What the engine has to say besides its results: warnings, notices and progress.

Nothing below cli/ writes to stdout or stderr. An engine call reports through the Context's
Reporter instead: this base one keeps everything (a caller such as the REST API returns or streams
it); the CLI's (cli/report.py) prints each line as it comes, so warnings keep their place among the
command's output exactly as podman's do.
"""

from __future__ import annotations


class Progress:
    """Progress of one long operation (pull, push, save, load, commit) in podman's wording:
    plain lines plus per-layer events for a terminal's progress bars. Kept in `lines` here."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.lines: list[str] = []

    def say(self, text: str) -> None:
        if not self.quiet:
            self.lines.append(text)  # (list.append is atomic: pull's layer threads share this)

    def layer_start(self, digest: str, size: int | None) -> None:
        self.say(f"Copying blob {digest}")

    def layer_skip(self, digest: str) -> None:
        self.say(f"Copying blob {digest} skipped: already exists")

    def advance(self, digest: str, n: int) -> None:
        pass

    def layer_done(self, digest: str) -> None:
        pass

    def warn(self, text: str) -> None:
        """A warning about what is pulled (entries left out of a layer): said even when quiet."""
        self.lines.append(f"WARN[0000] {text}")

    def close(self) -> None:
        pass


class Reporter:
    """Warnings and notices of the engine's calls, and the Progress of its long operations."""

    def __init__(self):
        self.warnings: list[str] = []
        self.notices: list[str] = []

    def warn(self, message: str, elapsed: int = 0) -> None:
        """A warning (podman's `WARN[0000] message`; `elapsed`: the seconds in the brackets)."""
        self.warnings.append(message)

    def notice(self, text: str) -> None:
        """A line of its own on the error stream, said as it is (e.g. build's `[Warning] ...`)."""
        self.notices.append(text)

    def progress(self, quiet: bool = False) -> Progress:
        return Progress(quiet)
