"""``flowless flow-run logs``: a flow run's log lines as its console showed them, kept
with the run (``flowless.logging._stored``); ``--follow`` until the run ends."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TextIO

from flowless.logging._console import stamp
from flowless.states import TERMINAL_TYPES
from flowless.store import LogLine, Store, find_flow_run

__all__ = ["LEVELS", "parse_level", "show_logs"]

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: How often ``--follow`` looks for new lines.
POLL = 0.5
#: How far back each look starts: lines made up to this long before the newest one shown
#: may land after it (a thread's batch, a remote task run's answer).
LOOKBACK = 120.0
#: How long ``--follow`` goes on after the run's final state without its last line.
GRACE = 5.0


def parse_level(text: str | None) -> int:
    """The lowest level shown; ``ValueError`` with the choices for anything else."""
    if text is None:
        return 0
    if text.isdigit():
        return int(text)
    level = logging.getLevelName(text.upper())
    if text.upper() not in LEVELS or not isinstance(level, int):
        raise ValueError(f"--level {text!r} is not a level; use one of {', '.join(LEVELS)}.")
    return level


def _line(line: LogLine) -> str:
    who = f"Task run {line.run_name!r}" if line.task_run_id else f"Flow run {line.run_name!r}"
    level = logging.getLevelName(line.level)
    return f"{stamp(line.time)} | {level:<7} | {who} - {line.message}"


def _matches(line: LogLine, level: int, task: str | None) -> bool:
    if line.level < level:
        return False
    if task is None:
        return True
    # a task run's name, or a task's name (its runs are named "<task>-<suffix>")
    return line.task_run_id is not None and (
        line.run_name == task or line.run_name.startswith(f"{task}-")
    )


def show_logs(
    store: Store,
    out: TextIO,
    err: TextIO,
    ref: str,
    level: str | None = None,
    task: str | None = None,
    follow: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    minimum = parse_level(level)
    run = find_flow_run(store, ref)
    after: str | None = None
    seen: dict[str, float] = {}  # ids shown in the last LOOKBACK seconds
    shown = 0
    ended_at: float | None = None
    finished = False  # the run's own "Finished in state" line was shown
    while True:
        if run.state_type in TERMINAL_TYPES and ended_at is None:
            ended_at = time.monotonic()
        lines = store.read_logs(run.id, after)
        for line in lines:
            if line.id in seen:
                continue
            seen[line.id] = line.time
            if line.task_run_id is None and line.message.startswith("Finished in state"):
                finished = True
            if _matches(line, minimum, task):
                print(_line(line), file=out, flush=follow)
                shown += 1
        if lines:
            # A line's id is when it was made, but a line made a moment earlier on another
            # thread (or in a remote task run) can land later: look back a little, and
            # skip what was shown already.
            newest = max(seen.values())
            after = f"{int((newest - LOOKBACK) * 1e9):020d}"
            seen = {k: t for k, t in seen.items() if t >= newest - LOOKBACK}
        # the final state is written before the run's last lines (its hooks, its
        # "Finished in state" line): after it, follow until that line or for GRACE
        ended = ended_at is not None and (finished or time.monotonic() - ended_at >= GRACE)
        if not follow or ended:
            break
        sleep(POLL)
        run = store.read_flow_run(run.id)
    if not shown:
        what = f" of task run {task!r}" if task else ""
        above = f" at {LEVELS[0] if not minimum else logging.getLevelName(minimum)} or above"
        print(
            f"No log lines{what}{above if minimum else ''} kept for flow run "
            f"{run.name!r} ({run.id}).",
            file=err,
        )
    return 0
