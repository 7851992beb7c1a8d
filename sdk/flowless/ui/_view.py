"""What the UI's pages show, read from a store: plain objects the templates lay out.

The UI only reads (``Store.read_flow_run``, ``read_task_runs``, ``read_logs``,
``list_artifacts``), so it works the same over the embedded store and the AWS table, and
it never loads a pickle: a stored pickle is described, as ``flow-run inspect`` does
(loading one needs the program's modules and runs code).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from flowless.cli._values import Described, stored_value
from flowless.exceptions import CorruptRecordError, RecordNotFoundError, StoreError
from flowless.results import Results
from flowless.states import StateType
from flowless.store import (
    ArtifactRecord,
    CorruptRecord,
    FlowRunRecord,
    LogLine,
    Store,
    TaskRunRecord,
    find_flow_run,
)
from flowless.ui._timeline import Timeline, build_timeline

__all__ = [
    "RunPage",
    "TaskRunNotFoundError",
    "RunsPage",
    "TaskRunPage",
    "read_run_page",
    "read_runs",
    "read_task_run",
]


class TaskRunNotFoundError(RecordNotFoundError):
    """The run is there; the task run asked for is not one of its."""


#: States in which a run may still change: its pages refresh themselves.
LIVE = frozenset(
    {
        StateType.SCHEDULED,
        StateType.PENDING,
        StateType.RUNNING,
        StateType.CANCELLING,
        StateType.PAUSED,
    }
)


@dataclass(slots=True)
class RunsPage:
    runs: list[FlowRunRecord]
    corrupt: list[CorruptRecord]
    state: StateType | None
    flow: str | None
    limit: int
    now: float
    #: There are more runs than ``limit`` (the page offers to show more).
    more: bool = False


@dataclass(slots=True)
class RunPage:
    run: FlowRunRecord
    parameters: Any
    result: Any
    tasks: list[TaskRunRecord]
    corrupt: list[CorruptRecord]
    timeline: Timeline
    logs: list[LogLine]
    artifacts: list[ArtifactRecord]
    #: Run names of the runs it links to (its subflows' and its parent's), by id.
    names: dict[str, str]
    now: float
    #: The task runs' result values and their log lines, for the report (which holds
    #: every task run's page in one file).
    task_results: dict[str, Any] = field(default_factory=dict)
    task_logs: dict[str, list[LogLine]] = field(default_factory=dict)
    #: Lines left out of ``logs`` (the oldest: a page shows at most ``MAX_LOG_LINES``).
    hidden_logs: int = 0

    @property
    def live(self) -> bool:
        return self.run.state_type in LIVE


@dataclass(slots=True)
class TaskRunPage:
    run: FlowRunRecord
    task: TaskRunRecord
    result: Any
    logs: list[LogLine]
    artifacts: list[ArtifactRecord]
    names: dict[str, str]
    now: float
    hidden_logs: int = 0

    @property
    def live(self) -> bool:
        return self.task.state_type in LIVE or self.run.state_type in LIVE


def read_runs(store: Store, state: StateType | None, flow: str | None, limit: int) -> RunsPage:
    found = store.list_flow_runs(limit=limit + 1, flow_name=flow or None, state=state)
    more = len(found) > limit
    found = found[:limit]
    runs = [run for run in found if isinstance(run, FlowRunRecord)]
    corrupt = [run for run in found if isinstance(run, CorruptRecord)]
    return RunsPage(runs, corrupt, state, flow, limit, time.time(), more)


def _name(store: Store, flow_run_id: str) -> str:
    try:
        return store.read_flow_run(flow_run_id).name
    except (RecordNotFoundError, CorruptRecordError):
        return f"<missing {flow_run_id}>"


def _names(store: Store, run: FlowRunRecord, tasks: list[TaskRunRecord]) -> dict[str, str]:
    ids = [t.child_flow_run_id for t in tasks if t.child_flow_run_id]
    if run.parent_flow_run_id:
        ids.append(run.parent_flow_run_id)
    return {flow_run_id: _name(store, flow_run_id) for flow_run_id in ids}


#: The most log lines one page shows (its newest): ``flowless flow-run logs`` shows all.
MAX_LOG_LINES = 5_000
#: The most characters of one value shown (a result can be megabytes of JSON).
MAX_VALUE_TEXT = 100_000


def _value(results: Results, payload: Any) -> Any:
    """A stored value as text to show; one that cannot be read (a corrupt record, a
    result file or S3 object that is gone or not ours to read) is described instead, and
    the rest of the page still shows."""
    try:
        value = stored_value(results, payload)
    except StoreError as exc:
        return Described(f"<unreadable: {exc}>")
    if value is None or isinstance(value, Described):
        return value
    try:
        text = json.dumps(value, indent=2, default=repr)
    except (TypeError, ValueError):
        text = repr(value)
    if len(text) > MAX_VALUE_TEXT:
        cut = len(text) - MAX_VALUE_TEXT
        return f"{text[:MAX_VALUE_TEXT]}\n... ({cut:,} more characters not shown)"
    return text


def read_run_page(store: Store, results: Results, ref: str, everything: bool = False) -> RunPage:
    """The run ``ref`` names (id, id prefix or name); ``everything``: with every task
    run's result and log lines too (the report)."""
    run = find_flow_run(store, ref)
    found = store.read_task_runs(run.id)
    tasks = [t for t in found if isinstance(t, TaskRunRecord)]
    tasks.sort(key=lambda t: (t.start_time is None, t.start_time or 0.0))
    logs = store.read_logs(run.id)
    now = time.time()
    timeline = build_timeline(
        tasks, logs, now, run.start_time, run.end_time, live=run.state_type in LIVE
    )
    page = RunPage(
        run=run,
        parameters=_value(results, run.parameters),
        result=_value(results, run.result),
        tasks=tasks,
        corrupt=[t for t in found if isinstance(t, CorruptRecord)],
        timeline=timeline,
        logs=logs[-MAX_LOG_LINES:],
        artifacts=_artifacts(store, run.id),
        names=_names(store, run, tasks),
        now=now,
        hidden_logs=max(0, len(logs) - MAX_LOG_LINES),
    )
    if everything:
        for line in logs:
            if line.task_run_id is not None:
                page.task_logs.setdefault(line.task_run_id, []).append(line)
        page.task_results = {t.id: _value(results, t.result) for t in tasks}
    return page


def _artifacts(store: Store, flow_run_id: str) -> list[ArtifactRecord]:
    """Oldest first, as the run made them."""
    return sorted(store.list_artifacts(flow_run_id=flow_run_id, limit=1000), key=_created)


def _created(artifact: ArtifactRecord) -> float:
    return artifact.created


def read_task_run(store: Store, results: Results, ref: str, task_run_id: str) -> TaskRunPage:
    run = find_flow_run(store, ref)
    for task in store.read_task_runs(run.id):
        if isinstance(task, TaskRunRecord) and task.id == task_run_id:
            break
        if isinstance(task, CorruptRecord) and task.key == task_run_id:
            raise CorruptRecordError(task.describe())
    else:
        raise TaskRunNotFoundError(
            f"Flow run {run.name!r} ({run.id}) has no task run {task_run_id!r}."
        )
    logs = [line for line in store.read_logs(run.id) if line.task_run_id == task_run_id]
    artifacts = [a for a in _artifacts(store, run.id) if a.task_run_id == task_run_id]
    return TaskRunPage(
        run=run,
        task=task,
        result=_value(results, task.result),
        logs=logs[-MAX_LOG_LINES:],
        hidden_logs=max(0, len(logs) - MAX_LOG_LINES),
        artifacts=artifacts,
        names=_names(store, run, [task]),
        now=time.time(),
    )
