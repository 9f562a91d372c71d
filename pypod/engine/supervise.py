"""The supervisor process's entry point (`pypod-conmon`): runtime's Supervisor with network's
driver plugged in. It lives above both so that runtime/ never imports network/.

Started by runtime.launch in a lean interpreter (`python -I -S`): keep the imports to the
standard library and pypod's runtime/network modules.
"""

from __future__ import annotations


def main(argv: list[str]) -> None:
    from pypod.network import attach
    from pypod.runtime import supervisor

    supervisor.main(argv, net_driver=attach)
