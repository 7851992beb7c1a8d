"""``flowless flow-run delete``: a run, its task runs (its journal), and its subflows' runs.

A run still Running is refused unless ``--force``: its process would keep writing task
runs under a run no listing shows, and a resume would find nothing to replay. Subflow
runs go with their parent (they cannot be resumed without it); cache entries and result
files stay, since other runs may share them.
"""

from __future__ import annotations

from typing import TextIO

from flowless.exceptions import RecordConflictError, RecordNotFoundError
from flowless.states import StateType
from flowless.store import FlowRunRecord, Store, TaskRunRecord, find_flow_run

__all__ = ["delete_flow_run"]

#: States in which some process may still be writing the run.
_LIVE = (StateType.RUNNING, StateType.PENDING, StateType.CANCELLING)


def _tree(store: Store, run: FlowRunRecord) -> list[FlowRunRecord]:
    """The run and its subflows' runs, children before their parent, so a delete cut
    short never leaves a subflow whose parent is gone."""
    children: list[FlowRunRecord] = []
    for task_run in store.read_task_runs(run.id):
        if isinstance(task_run, TaskRunRecord) and task_run.child_flow_run_id:
            try:
                child = store.read_flow_run(task_run.child_flow_run_id)
            except RecordNotFoundError:
                continue  # deleted already
            children += _tree(store, child)
    return [*children, run]


def delete_flow_run(store: Store, out: TextIO, ref: str, force: bool = False) -> int:
    run = find_flow_run(store, ref)
    runs = _tree(store, run)
    live = [r for r in runs if r.state_type in _LIVE]
    if live and not force:
        names = ", ".join(f"{r.name} ({r.state_name})" for r in live)
        raise RecordConflictError(
            f"Not deleting flow run {run.name!r} ({run.id}): {names} may still be running. "
            "Cancel it first (flowless flow-run cancel), or pass --force if its process is "
            "gone. Nothing was deleted."
        )
    for each in runs:
        task_runs = store.delete_flow_run(each.id)
        what = "subflow run" if each is not run else "flow run"
        print(
            f"Deleted {what} {each.name!r} ({each.id}, {each.state_name}) "
            f"and its {task_runs} task run(s).",
            file=out,
        )
    return 0
