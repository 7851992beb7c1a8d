"""``flowless flow-run ls``: the runs in the store, newest first, filtered.

It prints full ids: every command that takes a run (and ``resume_flow_run``) accepts
them, as well as a unique id prefix or the run's name (``flowless.store.find_flow_run``).
"""

from __future__ import annotations

import json
import time
from typing import Any, TextIO

from flowless.cli._table import duration, iso, render, terminal_width, timestamp
from flowless.states import StateType
from flowless.store import CorruptRecord, FlowRunRecord, Store

__all__ = ["list_flow_runs", "parse_state", "run_json", "state_text"]


def state_text(name: str, message: str | None) -> str:
    return f"{name}({message!r})" if message else f"{name}()"


def parse_state(text: str | None) -> StateType | None:
    """``--state``: a state type, in any case (``completed``, ``FAILED``), as Prefect's
    ``flow-run ls --state`` takes it."""
    if text is None:
        return None
    try:
        return StateType(text.strip().upper())
    except ValueError:
        choices = ", ".join(t.value for t in StateType)
        raise ValueError(f"Unknown state {text!r}: use one of {choices}.") from None


def run_json(run: FlowRunRecord) -> dict[str, Any]:
    """A flow run for ``--json``: its fields by their Prefect names, times in ISO 8601."""
    return {
        "id": run.id,
        "name": run.name,
        "flow_name": run.flow_name,
        "state_type": run.state_type.value,
        "state_name": run.state_name,
        "state_message": run.state_message,
        "deployment_name": run.deployment_name,
        "parent_flow_run_id": run.parent_flow_run_id,
        "created": iso(run.created),
        "start_time": iso(run.start_time),
        "end_time": iso(run.end_time),
        "run_count": run.run_count,
        "tags": list(run.tags),
    }


def list_flow_runs(
    store: Store,
    out: TextIO,
    limit: int,
    flow_name: str | None = None,
    state: str | None = None,
    deployment: str | None = None,
    as_json: bool = False,
) -> int:
    if limit < 1:
        raise ValueError(f"--limit must be 1 or more, not {limit}.")
    runs = store.list_flow_runs(
        limit=limit, flow_name=flow_name, state=parse_state(state), deployment=deployment
    )
    if as_json:
        listed = [
            run_json(run)
            if isinstance(run, FlowRunRecord)
            else {"id": run.key, "corrupt": run.reason}
            for run in runs
        ]
        print(json.dumps(listed, indent=2), file=out)
        return 0
    if not runs:
        where = "".join(
            f" {label} {value!r}"
            for label, value in (("of flow", flow_name), ("in state", state), ("of", deployment))
            if value
        )
        print(f"No flow runs{where} in {store.location}.", file=out)
        return 0
    now = time.time()
    rows = [_row(run, now) for run in runs]
    headers = ["ID", "NAME", "FLOW", "STATE", "DEPLOYMENT", "STARTED", "DURATION"]
    print(render(headers, rows, terminal_width(out), keep=1), file=out)
    return 0


def _row(run: FlowRunRecord | CorruptRecord, now: float) -> list[str]:
    if isinstance(run, CorruptRecord):
        return [run.key, "<corrupt>", "-", run.reason, "-", "-", "-"]
    return [
        run.id,
        run.name,
        run.flow_name,
        run.state_name,
        run.deployment_name or "-",
        timestamp(run.start_time),
        duration(run.start_time, run.end_time, now),
    ]
