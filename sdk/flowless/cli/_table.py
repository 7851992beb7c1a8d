"""Plain-text tables for the terminal: no colour, no dependency, pipe-friendly."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TextIO

__all__ = ["duration", "iso", "render", "terminal_width", "timestamp"]


#: A column is never cut below this, so what is left still says something.
_NARROWEST = 8


def terminal_width(out: TextIO) -> int | None:
    """The width to fit, or None when ``out`` is not a terminal: piped output is for
    programs (grep, awk), which need whole values, not ones cut to a screen."""
    isatty = getattr(out, "isatty", None)
    if isatty is None or not isatty():
        return None
    return shutil.get_terminal_size().columns


def _cut(cell: str, width: int) -> str:
    return cell if len(cell) <= width else cell[: width - 3] + "..."


def render(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    width: int | None = None,
    keep: int = 0,
) -> str:
    """Aligned columns; with ``width``, the widest columns are cut (``...``) until a line
    fits, except the first ``keep`` columns (ids: a cut id is one no command accepts)."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    if width is not None:
        while sum(widths) + 2 * (len(widths) - 1) > width:
            cuttable = [i for i in range(keep, len(widths)) if widths[i] > _NARROWEST]
            if not cuttable:
                break
            widest = max(cuttable, key=lambda i: widths[i])
            over = sum(widths) + 2 * (len(widths) - 1) - width
            widths[widest] = max(_NARROWEST, widths[widest] - over)

    def line(cells: Sequence[str]) -> str:
        return "  ".join(_cut(c, w).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(headers), *(line(row) for row in rows)])


def iso(seconds: float | None) -> str | None:
    """A time for ``--json``: ISO 8601 in UTC, which every language parses."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat()


def timestamp(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M:%S")


def duration(start: float | None, end: float | None, now: float) -> str:
    if start is None:
        return "-"
    elapsed = (end if end is not None else now) - start
    text = f"{elapsed * 1000:.1f}ms" if elapsed < 1 else f"{elapsed:.2f}s"
    return text if end is not None else f"{text} (running)"
