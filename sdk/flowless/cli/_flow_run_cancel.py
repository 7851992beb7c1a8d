"""``flowless flow-run cancel``: mark a flow run Cancelling; its process stops it.

No server can reach the process running the run, so the mark in the store is the whole
request: the engine looks at it before each task run starts (``engine._cancel``), ends
the run Cancelled and runs its ``on_cancellation`` hooks. A run still Scheduled is
Cancelled at once (no process has it). A final run is refused, with nothing changed:
cancelling it would rewrite how it ended.
"""

from __future__ import annotations

from typing import TextIO

from flowless.exceptions import RecordConflictError
from flowless.states import StateType
from flowless.store import Store, find_flow_run

__all__ = ["cancel_flow_run"]


def cancel_flow_run(store: Store, out: TextIO, ref: str) -> int:
    run = find_flow_run(store, ref)
    if not store.cancel_flow_run(run.id):
        now = store.read_flow_run(run.id)  # what it is now, not when it was found
        raise RecordConflictError(
            f"Not cancelling flow run {run.name!r} ({run.id}): it is {now.state_name} "
            f"({now.state_type.value}), so there is nothing to stop. Nothing was changed."
        )
    if store.read_flow_run(run.id).state_type is StateType.CANCELLED:  # it was Scheduled
        print(f"Cancelled flow run {run.name!r} ({run.id}): it had not started.", file=out)
        return 0
    print(f"Cancelling flow run {run.name!r} ({run.id}): it stops at its next task.", file=out)
    return 0
