"""Go's text/tabwriter as podman configures it: the column alignment of every table pypod prints."""

from __future__ import annotations


def tabwrite(text: str, minwidth: int = 12, tabwidth: int = 2, padding: int = 2, padchar: str = " ") -> str:
    """Go's text/tabwriter with podman's settings (NewWriter(w, 12, 2, 2, ' ', 0)).

    Cells are TAB-terminated; the text after a line's last TAB is not part of a
    column.  A column block is a run of consecutive lines that all have that
    column; its width is the widest cell + PADDING, at least MINWIDTH.
    """
    if "\t" not in text:
        return text
    lines = [line.split("\t") for line in text.split("\n")]
    out: list = []
    widths: list = []
    nlines = len(lines)

    def write_lines(line0: int, line1: int) -> None:
        for i in range(line0, line1):
            cells = lines[i]
            for j, c in enumerate(cells):
                out.append(c)
                if j < len(widths) and j < len(cells) - 1:
                    out.append(padchar * (widths[j] - len(c)))
            if i + 1 < nlines:
                out.append("\n")

    def fmt(line0: int, line1: int) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write_lines(line0, this)
            line0 = this
            width = minwidth
            while this < line1:
                cells = lines[this]
                if column >= len(cells) - 1:
                    break
                w = len(cells[column]) + padding
                if w > width:
                    width = w
                this += 1
            widths.append(width)
            fmt(line0, this)
            widths.pop()
            line0 = this
        write_lines(line0, line1)

    fmt(0, nlines)
    return "".join(out)


def format_table(rows: list) -> str:
    """Align pre-split rows (usually a header row first) like podman's tables."""
    if not rows:
        return ""
    return tabwrite("".join("\t".join(str(c) for c in row) + "\n" for row in rows))
