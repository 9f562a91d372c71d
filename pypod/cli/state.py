"""The global options of one pypod invocation, turned into an engine Context on first use."""

from __future__ import annotations

_options: dict = {}
_ctx = None


def set_options(**kw) -> None:
    global _ctx
    _options.clear()
    _options.update(kw)
    _ctx = None


def context():
    """The engine Context for this invocation (created lazily)."""
    global _ctx
    if _ctx is None:
        from pypod.cli.report import TerminalReporter
        from pypod.engine.context import Context

        _ctx = Context.create(_options.get("root"), _options.get("runroot"), _options.get("driver"),
                              _options.get("log_level") or "warn", reporter=TerminalReporter())
    return _ctx
