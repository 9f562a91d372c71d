"""Rendering reports: default tables, --format Go templates, --format json, -q."""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing costs start-up time; the names below are for annotations only
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable


def go_json(obj: Any, indent: int | None = 4) -> str:
    """JSON as Go's encoding/json prints it (HTML characters escaped, UTF-8 kept)."""
    import json  # not at import: it brings re, which a plain listing never needs

    text = json.dumps(obj, indent=indent, ensure_ascii=False, separators=None if indent else (",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def out(text: str = "") -> None:
    sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")


def is_json_format(fmt: str | None) -> bool:
    return bool(fmt) and fmt.strip().lower() == "json"


def render(rows: list[Any], fmt: str | None, *, columns: list[tuple[str, str]],
           noheading: bool = False, json_rows: Callable[[], Any] | None = None) -> None:
    """Print `rows` (template-ready dicts or objects).

    columns: the default table as (header, Go-template field) pairs, e.g. ("IMAGE ID", "ID").
    fmt: None → default table; "json" → json_rows(); "table ..." → table with header; else template per row.
    """
    if is_json_format(fmt):
        out(go_json(json_rows() if json_rows else rows))
        return
    if not fmt:
        # The default table needs no template engine (its import is the largest part of `images`).
        from pypod.tabwriter import format_table

        table = [] if noheading else [[header for header, _ in columns]]
        table += [[_cell(row, f) for _, f in columns] for row in rows]
        sys.stdout.write(format_table(table) if table else "")
        return
    from pypod import template

    headers = {field: header for header, field in columns}
    try:
        sys.stdout.write(template.render_rows(fmt, rows, headers, noheading=noheading))
    except template.TemplateError as e:
        from pypod.errors import InvalidArgument

        raise InvalidArgument(str(e)) from None


def print_lines(items: Iterable[str]) -> None:
    for i in items:
        out(i)


def _cell(row, field: str) -> str:
    value = row.get(field, "") if isinstance(row, dict) else getattr(row, field, "")
    return "" if value is None else str(value)
