"""The timeline's segments, read from task-run records and the engine's own log lines; and
the UI staying out of ``import flowless`` and the Lambda handlers."""

from __future__ import annotations

import subprocess
import sys

import pytest

from flowless.states import StateType
from flowless.store import LogLine, TaskRunRecord
from flowless.ui._timeline import build_timeline


def _task(
    name: str,
    start: float | None,
    end: float | None,
    state: StateType = StateType.COMPLETED,
    state_name: str = "Completed",
    child: str | None = None,
) -> TaskRunRecord:
    return TaskRunRecord(
        id=f"id-{name}",
        flow_run_id="run",
        task_key=name,
        dynamic_key=0,
        name=name,
        task_name=name,
        state_type=state,
        state_name=state_name,
        start_time=start,
        end_time=end,
        child_flow_run_id=child,
    )


def _line(task: str, at: float, message: str) -> LogLine:
    return LogLine(f"{at:020.6f}", "run", f"id-{task}", task, at, 20, "t", message)


def _segments(row: object) -> list[tuple[str, float, float]]:
    return [(s.kind, round(s.start, 3), round(s.end, 3)) for s in row.segments]  # type: ignore[attr-defined]


def test_retries_limit_waits_cache_hits_and_subflows_are_told_apart() -> None:
    tasks = [
        _task("retried", 100.0, 104.0),
        _task("waited", 100.0, 103.0),
        _task("hit", 101.0, 101.001, state_name="Cached"),
        _task("sub", 102.0, 110.0, child="child-run"),
        _task("running", 103.0, None, StateType.RUNNING, "Running"),
        _task("queued", None, None, StateType.PENDING, "Pending"),
    ]
    lines = [
        _line(
            "retried",
            101.0,
            "Task run failed with exception: ValueError('x') - "
            "Retry 1/2 will start 1 second(s) from now",
        ),
        _line(
            "retried",
            102.5,
            "Task run failed with exception: ValueError('x') - Retry 2/2 will start immediately",
        ),
        _line("waited", 102.0, "Waited 1.50s for 1 slot(s) of ['api']"),
        _line("hit", 101.001, "Retry 1/2 will start 1 second(s) from now in my own words"),
        LogLine("f1", "run", None, "run", 101.0, 20, "t", "Waited 0.25s for 1 slot(s) of ['api']"),
    ]
    timeline = build_timeline(tasks, lines, now=105.0, run_start=100.0, run_end=None)
    rows = {row.task.name: row for row in timeline.rows}
    assert _segments(rows["retried"]) == [
        ("attempt", 100.0, 101.0),
        ("retry-wait", 101.0, 102.0),
        ("attempt", 102.0, 102.5),
        ("completed", 102.5, 104.0),
    ]
    assert _segments(rows["waited"]) == [("completed", 100.0, 103.0), ("limit-wait", 100.5, 102.0)]
    assert [r.kind for r in timeline.rows] == [
        "completed",
        "completed",
        "cached",
        "subflow",
        "running",
        "pending",
    ]
    assert _segments(rows["hit"]) == [("cached", 101.0, 101.001)]  # a user's words: not a retry
    assert _segments(rows["running"]) == [("running", 103.0, 105.0)]  # until now
    assert rows["queued"].segments == []
    assert (timeline.start, timeline.end) == (100.0, 110.0)
    first = rows["retried"].segments[0]
    assert (first.left, first.width) == (0.0, 10.0)  # percent of the 10 s axis
    assert [t.label for t in timeline.ticks] == ["0s", "2s", "4s", "6s", "8s", "10s"]
    # The flow run's own row: its span, and the wait of a rate_limit in its body.
    flow = [(s.kind, s.start, s.end, s.left, s.width) for s in timeline.flow]
    assert flow == [("flow", 100.0, 105.0, 0.0, 50.0), ("limit-wait", 100.75, 101.0, 7.5, 2.5)]


@pytest.mark.parametrize(
    ("span", "labels"),
    [
        (0.35, ["0ms", "100ms", "200ms", "300ms"]),
        (1.2, ["0.0s", "0.2s", "0.4s", "0.6s", "0.8s", "1.0s", "1.2s"]),
        (3 * 86400.0, ["0h", "12h", "24h", "36h", "48h", "60h", "72h"]),
        (30 * 86400.0, ["0d", "5d", "10d", "15d", "20d", "25d", "30d"]),
        (600.0, ["0m", "2m", "4m", "6m", "8m", "10m"]),
        (40.0, ["0s", "10s", "20s", "30s", "40s"]),
        (5 * 3600.0, ["0h", "1h", "2h", "3h", "4h", "5h"]),
        (0.0, ["0s"]),
    ],
)
def test_the_axis_has_round_ticks(span: float, labels: list[str]) -> None:
    timeline = build_timeline([_task("a", 0.0, span)], [], now=span, run_start=0.0, run_end=span)
    assert [t.label for t in timeline.ticks] == labels


def test_the_ui_is_not_imported_by_flowless_or_the_lambda_handlers() -> None:
    code = (
        "import sys, flowless, flowless.cli, flowless.engine\n"
        "import flowless.lambda_handlers\n"
        "loaded = [m for m in ('jinja2', 'markdown_it', 'flowless.ui') if m in sys.modules]\n"
        "print(loaded)\n"
    )
    shown = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert shown.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "message",
    [
        "Retry 1/3 will start 1.2.3 second(s) from now",
        "Retry 1/3 will start e second(s) from now",
        "Retry 1/3 will start - second(s) from now",
        "Retry 1/3 will start 1e999 second(s) from now",
        "Waited .s for x",
        "Waited 1..2s for x",
        "Waited 99999999s for a slot",
        "Waited 1e999s for a slot",
    ],
)
def test_a_run_s_own_line_that_looks_like_the_engine_s_never_breaks_the_axis(
    message: str,
) -> None:
    """A run's code logs on the engine's loggers: a line of its in the engine's words is
    read like the engine's, but a segment stays inside the run, and the page is made."""
    task = _task("mine", 100.0, 102.0)
    flow_line = LogLine("f", "run", None, "run", 101.0, 20, "t", message)
    timeline = build_timeline(
        [task], [_line("mine", 101.0, message), flow_line], 103.0, 100.0, 103.0, live=False
    )
    assert (timeline.start, timeline.end) == (100.0, 103.0)
    for segment in [*timeline.rows[0].segments, *timeline.flow]:
        assert 100.0 <= segment.start <= segment.end <= 103.0, segment
        assert 0.0 <= segment.left <= 100.0 and 0.0 <= segment.width <= 100.0


def test_a_final_run_without_an_end_keeps_its_axis() -> None:
    """An old run whose end was never written: its axis ends at its last segment, not
    at now (its bars would shrink every time the page is looked at)."""
    timeline = build_timeline([_task("a", 10.0, 12.0)], [], 5000.0, 10.0, None, live=False)
    assert (timeline.start, timeline.end) == (10.0, 12.0)
    assert [(s.kind, s.start, s.end) for s in timeline.flow] == [("flow", 10.0, 12.0)]
    zero = build_timeline([_task("a", 0.0, 1.0)], [], 5.0, 0.0, 1.0, live=False)
    assert [s.kind for s in zero.flow] == ["flow"]  # a run that started at 0.0 has its row
