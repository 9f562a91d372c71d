"""HTTP from the test process to what containers publish."""

from __future__ import annotations

import time
import urllib.request


def get(url: str, timeout: float = 10.0) -> str:
    """The body of url, retried until timeout (a server just started may not listen yet)."""
    end = time.time() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.read().decode()
        except OSError:
            if time.time() > end:
                raise
            time.sleep(0.1)
