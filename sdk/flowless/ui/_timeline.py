"""The run page's timeline: one row per task run, drawn as segments in time.

A task run's record holds only its first start and its end, so what happened in between
is read back from its log lines, which the engine writes in fixed words: each
``Retry n/m will start D second(s) from now`` ends a failed attempt and starts a wait for
the retry, and each ``Waited Xs for ... slot(s)`` is a wait for a concurrency or rate
limit that ended when the line was written. The result is plain numbers (fractions of the
run's span), so the page draws it with CSS alone: no script, in the served UI and in the
self-contained report alike.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from flowless.states import StateType
from flowless.store import LogLine, TaskRunRecord

__all__ = ["Segment", "Tick", "Timeline", "TimelineRow", "build_timeline"]

_NUMBER = r"\d+(?:\.\d+)?(?:[eE][+-]?\d+)?"
_RETRY = re.compile(
    rf"Retry \d+/\d+ will start (?:(?P<delay>{_NUMBER}) second\(s\) from now|immediately)$"
)
_WAITED = re.compile(rf"^Waited (?P<seconds>{_NUMBER})s for ")

#: The kind of a task run's final segment, by state (``cached`` and ``subflow`` win).
_FINAL_KIND = {
    StateType.COMPLETED: "completed",
    StateType.FAILED: "failed",
    StateType.CRASHED: "crashed",
    StateType.CANCELLED: "cancelled",
    StateType.CANCELLING: "cancelled",
    StateType.RUNNING: "running",
    StateType.PENDING: "pending",
    StateType.SCHEDULED: "pending",
    StateType.PAUSED: "pending",
}

#: What each kind of segment means, for the legend (in the order it is shown).
KINDS = {
    "flow": "the flow run itself",
    "completed": "completed",
    "cached": "cache hit",
    "subflow": "subflow",
    "failed": "failed",
    "crashed": "crashed",
    "running": "running",
    "attempt": "failed attempt (retried)",
    "retry-wait": "waiting to retry",
    "limit-wait": "waiting for a concurrency or rate limit",
    "cancelled": "cancelled",
    "pending": "pending",
}


@dataclass(frozen=True, slots=True)
class Segment:
    kind: str
    start: float
    end: float
    #: Where it sits on the track, in percent of the run's span.
    left: float = 0.0
    width: float = 0.0
    title: str = ""


@dataclass(slots=True)
class TimelineRow:
    task: TaskRunRecord
    segments: list[Segment] = field(default_factory=list)
    #: The kind that names the row (its final segment's), for tests and styling.
    kind: str = "completed"


@dataclass(frozen=True, slots=True)
class Tick:
    left: float
    label: str


@dataclass(slots=True)
class Timeline:
    start: float
    end: float
    rows: list[TimelineRow]
    ticks: list[Tick]
    #: The flow run's own row: its span, and the limit waits of its body (a
    #: ``rate_limit`` before each ``.submit``, as in Prefect's tutorial).
    flow: list[Segment] = field(default_factory=list)


def _final_kind(task: TaskRunRecord) -> str:
    if task.state_name == "Cached":
        return "cached"
    if task.child_flow_run_id:
        return "subflow"
    return _FINAL_KIND.get(task.state_type, "pending")


def _seconds(text: str | None) -> float:
    """A duration from a line's text; what is not a finite number counts as none."""
    try:
        value = float(text or 0.0)
    except ValueError:
        return 0.0
    return value if math.isfinite(value) and value > 0 else 0.0


def _wait(line: LogLine, floor: float) -> Segment | None:
    """The limit wait a ``Waited Xs for ...`` line tells of, starting no earlier than
    ``floor`` (the run's start)."""
    waited = _WAITED.match(line.message)
    if waited is None:
        return None
    start = max(line.time - _seconds(waited.group("seconds")), floor)
    return Segment("limit-wait", min(start, line.time), line.time, title=line.message)


def _raw_segments(
    task: TaskRunRecord, lines: Sequence[LogLine], now: float, floor: float
) -> list[Segment]:
    """Segments in seconds: the attempts in sequence, then limit waits laid over them."""
    start = task.start_time
    if start is None:
        return []
    end = task.end_time if task.end_time is not None else max(now, start)
    segments: list[Segment] = []
    waits: list[Segment] = []
    cursor = start
    for line in lines:
        retry = _RETRY.search(line.message)
        if retry is not None:
            failed_at = min(max(cursor, line.time), end)
            segments.append(Segment("attempt", cursor, failed_at, title=line.message))
            delay = _seconds(retry.group("delay"))
            cursor = min(failed_at + delay, end)
            if cursor > failed_at:
                segments.append(Segment("retry-wait", failed_at, cursor, title=f"{delay:g} s"))
            continue
        wait = _wait(line, min(floor, start))
        if wait is not None:
            waits.append(wait)
    segments.append(Segment(_final_kind(task), cursor, max(end, cursor), title=task.state_name))
    return segments + waits


#: Tick steps, in seconds: round numbers of milliseconds, seconds, minutes and hours.
_STEPS = [m * 10.0**e for e in range(-3, 1) for m in (1, 2, 5)] + [
    10,
    15,
    30,
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    10800,
    21600,
    43200,
    86400,
]


def _ticks(span: float) -> list[Tick]:
    """About six ticks at round steps, labelled in the unit the step is counted in."""
    if span <= 0:
        return [Tick(0.0, "0s")]
    step = next((s for s in _STEPS if s >= span / 6), _STEPS[-1] * math.ceil(span / 6 / 86400))
    ticks = []
    n = 0
    while n * step <= span * 1.0001:
        ticks.append(Tick(100.0 * n * step / span, _label(n * step, step, span)))
        n += 1
    return ticks


def _label(offset: float, step: float, span: float) -> str:
    """In the unit the step is counted in: ms under a second (s with a decimal on an axis
    longer than one), then s, m, h, d."""
    if step < 1:
        return f"{offset * 1000:.0f}ms" if span < 1 else f"{offset:.1f}s"
    if step < 60:
        return f"{offset:.0f}s"
    if step < 3600:
        return f"{offset / 60:.0f}m"
    if step < 86400:
        return f"{offset / 3600:g}h"
    return f"{offset / 86400:g}d"


def build_timeline(
    tasks: Iterable[TaskRunRecord],
    lines: Iterable[LogLine],
    now: float,
    run_start: float | None = None,
    run_end: float | None = None,
    live: bool = True,
) -> Timeline:
    """Rows for ``tasks`` (in the order given) on one time axis from the run's start (or
    the first task's) to its end (or ``now`` while it is ``live``, else its last
    segment's). The flow run's own row spans the run, with the limit waits of its body."""
    tasks = list(tasks)
    starts = [t.start_time for t in tasks if t.start_time is not None]
    floor = run_start if run_start is not None else min(starts, default=now)
    by_task: dict[str, list[LogLine]] = {}
    flow_waits = []
    for line in lines:
        if line.task_run_id is not None:
            by_task.setdefault(line.task_run_id, []).append(line)
        elif (wait := _wait(line, floor)) is not None:
            flow_waits.append(wait)
    rows = [
        TimelineRow(
            task, _raw_segments(task, by_task.get(task.id, ()), now, floor), _final_kind(task)
        )
        for task in tasks
    ]
    segments = [s for row in rows for s in row.segments] + flow_waits
    times = [s.start for s in segments] + [s.end for s in segments]
    start = min([floor, *times])
    last = run_end if run_end is not None else (now if live else max(times, default=start))
    end = max([last, *times, start])
    span = end - start
    for row in rows:
        row.segments = [_placed(s, start, span) for s in row.segments]
    flow: list[Segment] = []
    if run_start is not None:
        flow = [Segment("flow", run_start, max(last, run_start), title="the flow run"), *flow_waits]
    return Timeline(start, end, rows, _ticks(span), [_placed(s, start, span) for s in flow])


def _placed(segment: Segment, start: float, span: float) -> Segment:
    if span <= 0:
        return Segment(segment.kind, segment.start, segment.end, 0.0, 100.0, segment.title)
    left = 100.0 * (segment.start - start) / span
    width = 100.0 * (segment.end - segment.start) / span
    return Segment(segment.kind, segment.start, segment.end, left, width, segment.title)
