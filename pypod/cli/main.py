"""Entry point: `pypod` and `python -m pypod`. Keep this module's imports tiny: it runs first."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args in (["--version"], ["-v"]):
        from pypod import __version__

        sys.stdout.write(f"pypod version {__version__}\n")
        sys.exit(0)
    from pypod.cli.app import run

    sys.exit(run(args))


if __name__ == "__main__":
    main()
