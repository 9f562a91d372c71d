"""HTTP in the tests, both ways:
  get(url)          what containers publish, fetched from the test process (retried while it starts)
  httpd(body, ...)  the shell command a busybox container runs to serve `body` at / on a port
  Background        an HTTP server of the test process (a handler class) in a thread, on a free port
"""

from __future__ import annotations

import threading
import time
import urllib.request
from http.server import ThreadingHTTPServer


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


def httpd(body: str, port: int = 80, root: str = "/www", *, ready: str | None = None,
          verbose: bool = False) -> str:
    """`sh -c` text for busybox: ROOT/index.html holds `body` (a word or two, no quotes), then
    httpd serves ROOT on `port` in the foreground (`-v`: it logs each request); `ready` is
    printed just before (a log line to wait for)."""
    say = f"echo {ready} && " if ready else ""
    return (f"mkdir -p {root} && echo {body} > {root}/index.html && {say}"
            f"exec httpd -f{' -v' if verbose else ''} -p {port} -h {root}")


class Background:
    """`ThreadingHTTPServer((host, 0), handler)` served by a daemon thread: .port, .url, close()
    (also a context manager)."""

    def __init__(self, handler, host: str = "127.0.0.1", name: str = "test-http"):
        self.server = ThreadingHTTPServer((host, 0), handler)
        self.server.daemon_threads = True
        self.host, self.port = host, self.server.server_address[1]
        self.url = f"http://{host}:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name=name,
                                       kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    def __enter__(self) -> "Background":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
