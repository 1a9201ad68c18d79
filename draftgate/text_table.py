"""A plain-text table for commands that print without rich (``status`` starts faster so)."""

from __future__ import annotations

from collections.abc import Sequence

from ledger.text import visible


def text_table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], title: str | None = None
) -> list[str]:
    """The table's lines: a header, a rule, a row per row, columns padded to their widest
    cell. Cells are shown with control characters made visible, never acted on."""
    cells = [[visible(str(cell)) for cell in row] for row in rows]
    widths = [
        max([len(header), *(len(row[i]) for row in cells)]) for i, header in enumerate(headers)
    ]
    lines = [title] if title else []
    lines.append("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return lines
