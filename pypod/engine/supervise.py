"""The supervisor process's entry point (`pypod-conmon`): runtime's Supervisor with network's
driver plugged in. It lives above both so that runtime/ never imports network/.

Started by runtime.launch in a lean interpreter (`python -I -S`): keep the imports to the
standard library and pypod's runtime/network modules.
"""

from __future__ import annotations


def preload() -> None:
    """main()'s imports, run ahead by a prefork()ed supervisor-to-be while the CLI still creates
    the container (runtime.launch._zygote_main): off the critical path of `run`/`start`."""
    from pypod.network import attach  # noqa: F401
    from pypod.runtime import supervisor  # noqa: F401


def main(argv: list[str]) -> None:
    from pypod.network import attach
    from pypod.runtime import supervisor

    supervisor.main(argv, net_driver=attach)


main.preload = preload  # (see runtime.launch.prefork: it is handed main only)
