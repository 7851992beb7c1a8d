"""A remote task run's log lines, carried back in the task-run function's answer so the
flow's console shows them as it would for a task run in its own process.

They are kept in the table by the function itself; the answer carries the last of them
up to ``MAX_BYTES`` of text (an answer is at most 6 MB, and the result travels too), and
says how many earlier ones it left out.
"""

from __future__ import annotations

from typing import Any

from flowless.invoke._wire import WireError
from flowless.store._records import LogLine

__all__ = ["MAX_BYTES", "RemoteLines", "lines_from_wire", "lines_to_wire"]

#: The most log text an answer carries.
MAX_BYTES = 64 * 1024

#: (level, time, message) per line, oldest first, and how many earlier lines were left out.
RemoteLines = tuple[list[tuple[int, float, str]], int]


def lines_to_wire(lines: list[LogLine], max_bytes: int = MAX_BYTES) -> dict[str, Any]:
    kept: list[list[Any]] = []
    size = 0
    for line in reversed(lines):
        size += len(line.message.encode("utf-8", "surrogateescape")) + 32
        if size > max_bytes and kept:
            break
        kept.append([line.level, line.time, line.message])
    kept.reverse()
    return {"lines": kept, "cut": len(lines) - len(kept)}


def lines_from_wire(data: Any) -> RemoteLines | None:
    """``None`` for an answer without lines (a function older than this); ``WireError``
    for lines that are not what ``lines_to_wire`` writes."""
    if data is None:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("lines"), list):
        raise WireError(f"logs is {type(data).__name__}, not an object with lines")
    cut = data.get("cut", 0)
    if not isinstance(cut, int) or isinstance(cut, bool) or cut < 0:
        raise WireError(f"logs.cut is {cut!r}, not a count")
    lines: list[tuple[int, float, str]] = []
    for entry in data["lines"]:
        if (
            not isinstance(entry, list)
            or len(entry) != 3
            or not isinstance(entry[0], int)
            or isinstance(entry[0], bool)
            or not isinstance(entry[1], (int, float))
            or not isinstance(entry[2], str)
        ):
            raise WireError(f"a log line is {entry!r}, not [level, time, message]")
        lines.append((entry[0], float(entry[1]), entry[2]))
    return lines, cut
