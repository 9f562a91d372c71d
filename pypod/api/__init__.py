"""The Docker-compatible REST API (`pypod system service`): a thin router over the local engine.

server.py listens (unix, tcp, or a socket handed over by systemd) and ends itself when idle;
http.py is the request/response layer (limits, JSON, chunked streams, hijacking); router.py maps
paths (bare and `/v{X.Y}/`) to handlers; compat_*.py are the handlers, which call the same engine
functions as the CLI and translate to Docker's shapes. Nothing here builds a command line.
"""
