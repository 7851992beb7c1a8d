"""A remote task run's log lines, carried back in the task-run function's answer so the
flow's console shows them as it would for a task run in its own process.

The answer carries the last of them up to ``MAX_BYTES`` of text (an answer is at most
6 MB, and the result travels too) and says how many earlier ones it left out. When it
carries all of them, the flow side keeps them (packed with its own lines: a write unit
per ~KB of lines, where an item of the function's own cost a unit per task run); when it
had to leave some out, the function kept them all itself (``kept``).
"""

from __future__ import annotations

from typing import Any

from flowless.invoke._wire import WireError
from flowless.store._records import LogLine

__all__ = ["MAX_BYTES", "RemoteLines", "fits", "lines_from_wire", "lines_to_wire"]

#: The most log text an answer carries.
MAX_BYTES = 64 * 1024

#: (id, level, time, message) per line, oldest first; how many earlier lines were left
#: out; and whether the function kept them (else the flow side keeps them).
RemoteLines = tuple[list[tuple[str, int, float, str]], int, bool]


def lines_to_wire(lines: list[LogLine], kept: bool, max_bytes: int = MAX_BYTES) -> dict[str, Any]:
    shown: list[list[Any]] = []
    size = 0
    for line in reversed(lines):
        size += len(line.message.encode("utf-8", "surrogatepass")) + 64
        if size > max_bytes and shown:
            break
        shown.append([line.id, line.level, line.time, line.message])
    shown.reverse()
    return {"lines": shown, "cut": len(lines) - len(shown), "kept": kept}


def fits(lines: list[LogLine], max_bytes: int = MAX_BYTES) -> bool:
    """Whether an answer carries every one of ``lines``."""
    return sum(len(line.message.encode("utf-8", "surrogatepass")) + 64 for line in lines) <= (
        max_bytes
    )


def lines_from_wire(data: Any) -> RemoteLines | None:
    """``None`` for an answer without lines (a function older than this); ``WireError``
    for lines that are not what ``lines_to_wire`` writes."""
    if data is None:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("lines"), list):
        raise WireError(f"logs is {type(data).__name__}, not an object with lines")
    cut, kept = data.get("cut", 0), data.get("kept", True)
    if not isinstance(cut, int) or isinstance(cut, bool) or cut < 0:
        raise WireError(f"logs.cut is {cut!r}, not a count")
    if not isinstance(kept, bool):
        raise WireError(f"logs.kept is {kept!r}, not true or false")
    lines: list[tuple[str, int, float, str]] = []
    for entry in data["lines"]:
        if (
            not isinstance(entry, list)
            or len(entry) != 4
            or not isinstance(entry[0], str)
            or not isinstance(entry[1], int)
            or isinstance(entry[1], bool)
            or not isinstance(entry[2], (int, float))
            or not isinstance(entry[3], str)
        ):
            raise WireError(f"a log line is {entry!r}, not [id, level, time, message]")
        lines.append((entry[0], entry[1], float(entry[2]), entry[3]))
    return lines, cut, kept
