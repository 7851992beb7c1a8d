"""Plain-text tables for the terminal: no colour, no dependency, pipe-friendly."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

__all__ = ["duration", "render", "timestamp"]


def render(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    return "\n".join(lines)


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
