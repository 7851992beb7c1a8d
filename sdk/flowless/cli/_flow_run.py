"""``flowless flow-run ls`` and ``flowless flow-run inspect``: read the store, print tables."""

from __future__ import annotations

import json
import time
from typing import TextIO

from flowless.cli._table import duration, render, timestamp
from flowless.exceptions import CorruptRecordError, RecordNotFoundError
from flowless.results import JSON, Results
from flowless.store import CorruptRecord, FlowRunRecord, Payload, Store, TaskRunRecord

__all__ = ["inspect_flow_run", "list_flow_runs"]


def _state(name: str, message: str | None) -> str:
    return f"{name}({message!r})" if message else f"{name}()"


def list_flow_runs(store: Store, out: TextIO, limit: int, flow_name: str | None) -> int:
    runs = store.list_flow_runs(limit=limit, flow_name=flow_name)
    if not runs:
        where = f" of flow {flow_name!r}" if flow_name else ""
        print(f"No flow runs{where} in {store.location}.", file=out)
        return 0
    now = time.time()
    rows = []
    for run in runs:
        if isinstance(run, CorruptRecord):
            rows.append([run.key[:8], "<corrupt>", "-", run.reason[:60], "-", "-"])
            continue
        rows.append(
            [
                run.id[:8],
                run.name,
                run.flow_name,
                run.state_name,
                timestamp(run.start_time),
                duration(run.start_time, run.end_time, now),
            ]
        )
    print(render(["ID", "NAME", "FLOW", "STATE", "STARTED", "DURATION"], rows), file=out)
    return 0


def _find(store: Store, ref: str) -> FlowRunRecord:
    """A flow run by full id, id prefix, or name (newest first)."""
    try:
        return store.read_flow_run(ref)
    except RecordNotFoundError:
        pass
    matches = [
        run
        for run in store.list_flow_runs(limit=10_000)
        if isinstance(run, FlowRunRecord) and (run.name == ref or run.id.startswith(ref))
    ]
    if not matches:
        raise RecordNotFoundError(f"No flow run with id or name {ref!r} in {store.location}.")
    ids = {run.id for run in matches}
    if len(ids) > 1 and not any(run.name == ref for run in matches):
        raise RecordNotFoundError(f"{ref!r} matches {len(ids)} flow runs; give more of the id.")
    return matches[0]


def _show(results: Results, payload: Payload | None, width: int = 100) -> str:
    """A stored value for a terminal. Pickles are described, not loaded: loading needs the
    program's own modules (and runs code), which a listing has no business doing."""
    if payload is None:
        return "-"
    if payload.serializer != JSON:
        where = "inline" if payload.data is not None else payload.location
        size = len(payload.data) if payload.data is not None else "?"
        return f"<{payload.serializer}, {size} bytes, {where}>"
    try:
        value = results.load(payload)
    except CorruptRecordError as exc:
        return f"<unreadable: {exc}>"
    try:
        text = json.dumps(value, default=repr)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _task_row(run: TaskRunRecord | CorruptRecord, now: float) -> list[str]:
    if isinstance(run, CorruptRecord):
        return ["<corrupt>", run.reason[:60], "-", "-", "-"]
    if run.child_flow_run_id:
        cache = "subflow"
    elif run.state_name == "Cached":
        cache = "hit"
    else:
        cache = "miss" if run.cache_key else "-"
    return [
        run.name,
        _state(run.state_name, run.state_message),
        str(run.run_count),
        duration(run.start_time, run.end_time, now),
        cache,
    ]


def inspect_flow_run(store: Store, results: Results, out: TextIO, ref: str) -> int:
    run = _find(store, ref)
    now = time.time()
    fields = [
        ("Flow run", f"{run.name}  ({run.id})"),
        ("Flow", run.flow_name),
        ("State", _state(run.state_name, run.state_message)),
        ("Started", timestamp(run.start_time)),
        ("Duration", duration(run.start_time, run.end_time, now)),
        ("Attempts", str(run.run_count)),
        ("Parameters", _show(results, run.parameters)),
        ("Result", _show(results, run.result)),
    ]
    if run.parent_flow_run_id:
        fields.append(("Parent run", run.parent_flow_run_id))
    for label, value in fields:
        print(f"{label:<11} {value}", file=out)
    task_runs = store.read_task_runs(run.id)
    print(f"\nTask runs ({len(task_runs)})", file=out)
    if task_runs:
        rows = [_task_row(t, now) for t in task_runs]
        print(render(["NAME", "STATE", "ATTEMPTS", "DURATION", "CACHE"], rows), file=out)
    hits = sum(isinstance(t, TaskRunRecord) and t.state_name == "Cached" for t in task_runs)
    if hits:
        print(f"\n{hits} cache hit(s)", file=out)
    return 0
