"""A task-run record for store tests: the fields every one needs, and any others given."""

from __future__ import annotations

from typing import Any

from flowless.states import StateType
from flowless.store import TaskRunRecord


def task_run(run_id: str, state: StateType = StateType.COMPLETED, **changes: Any) -> TaskRunRecord:
    record = TaskRunRecord(
        id=run_id,
        flow_run_id="fr",
        task_key="k",
        dynamic_key=0,
        name="t-abc",
        task_name="t",
        state_type=state,
        state_name=state.value.title(),
        run_count=1,
    )
    for name, value in changes.items():
        setattr(record, name, value)
    return record
