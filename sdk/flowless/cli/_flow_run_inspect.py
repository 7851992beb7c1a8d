"""``flowless flow-run inspect``: one run, its parameters, its task runs with their start
and end times, and its subflows by run name; as text or ``--json``."""

from __future__ import annotations

import json
import time
from typing import Any, TextIO

from flowless.cli._flow_run import run_json, state_text
from flowless.cli._table import duration, iso, render, terminal_width, timestamp
from flowless.cli._values import stored_value, value_text
from flowless.exceptions import CorruptRecordError, RecordNotFoundError
from flowless.results import Results
from flowless.store import CorruptRecord, Store, TaskRunRecord, find_flow_run

__all__ = ["inspect_flow_run"]


def _subflow_name(store: Store, flow_run_id: str) -> str:
    try:
        return store.read_flow_run(flow_run_id).name
    except (RecordNotFoundError, CorruptRecordError):
        return f"<missing {flow_run_id}>"


def _cache(run: TaskRunRecord) -> str:
    if run.state_name == "Cached":
        return "hit"
    return "miss" if run.cache_key else "-"


def _task_json(run: TaskRunRecord | CorruptRecord, subflows: dict[str, str]) -> dict[str, Any]:
    if isinstance(run, CorruptRecord):
        return {"id": run.key, "corrupt": run.reason}
    return {
        "id": run.id,
        "name": run.name,
        "task_name": run.task_name,
        "state_type": run.state_type.value,
        "state_name": run.state_name,
        "state_message": run.state_message,
        "run_count": run.run_count,
        "start_time": iso(run.start_time),
        "end_time": iso(run.end_time),
        "cache": _cache(run),
        "subflow_run_id": run.child_flow_run_id,
        "subflow_run_name": subflows.get(run.child_flow_run_id or ""),
    }


def _task_row(
    run: TaskRunRecord | CorruptRecord, subflows: dict[str, str], now: float
) -> list[str]:
    if isinstance(run, CorruptRecord):
        return [run.key, "<corrupt>", "-", "-", "-", "-", run.reason]
    extra = f"subflow {subflows[run.child_flow_run_id]}" if run.child_flow_run_id else _cache(run)
    return [
        run.name,
        state_text(run.state_name, run.state_message),
        str(run.run_count),
        timestamp(run.start_time),
        timestamp(run.end_time),
        duration(run.start_time, run.end_time, now),
        extra,
    ]


def inspect_flow_run(
    store: Store, results: Results, out: TextIO, ref: str, as_json: bool = False
) -> int:
    run = find_flow_run(store, ref)
    task_runs = store.read_task_runs(run.id)
    subflows = {
        t.child_flow_run_id: _subflow_name(store, t.child_flow_run_id)
        for t in task_runs
        if isinstance(t, TaskRunRecord) and t.child_flow_run_id
    }
    parameters = stored_value(results, run.parameters)
    result = stored_value(results, run.result)
    if as_json:
        document = {
            **run_json(run),
            "parameters": parameters,
            "result": result,
            "task_runs": [_task_json(t, subflows) for t in task_runs],
        }
        print(json.dumps(document, indent=2, default=repr), file=out)
        return 0
    now = time.time()
    fields = [
        ("Flow run", f"{run.name}  ({run.id})"),
        ("Flow", run.flow_name),
        ("State", state_text(run.state_name, run.state_message)),
        ("Started", timestamp(run.start_time)),
        ("Ended", timestamp(run.end_time)),
        ("Duration", duration(run.start_time, run.end_time, now)),
        ("Attempts", str(run.run_count)),
        ("Parameters", value_text(parameters)),
        ("Result", value_text(result)),
    ]
    if run.deployment_name:
        fields.append(("Deployment", run.deployment_name))
    if run.parent_flow_run_id:
        fields.append(
            (
                "Parent run",
                f"{_subflow_name(store, run.parent_flow_run_id)}  ({run.parent_flow_run_id})",
            )
        )
    for label, value in fields:
        print(f"{label:<11} {value}", file=out)
    print(f"\nTask runs ({len(task_runs)})", file=out)
    if task_runs:
        rows = [_task_row(t, subflows, now) for t in task_runs]
        headers = ["NAME", "STATE", "ATTEMPTS", "STARTED", "ENDED", "DURATION", "CACHE/SUBFLOW"]
        print(render(headers, rows, terminal_width(out)), file=out)
    hits = sum(isinstance(t, TaskRunRecord) and t.state_name == "Cached" for t in task_runs)
    if hits:
        print(f"\n{hits} cache hit(s)", file=out)
    return 0
