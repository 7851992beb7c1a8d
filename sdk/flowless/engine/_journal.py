"""A flow run's journal: its completed task calls, with their results, by (task key,
dynamic key). A resumed run (or a resumed parent meeting its subflow's run again) replays
a call found here instead of running it (``_task_call``), as DBOS replays a recorded
step.
"""

from __future__ import annotations

from typing import Any

from flowless.engine._names import task_run_id
from flowless.engine._runtime import Runtime
from flowless.exceptions import CorruptRecordError, UntrustedPayloadError
from flowless.states import State, StateType
from flowless.store import TaskRunRecord

__all__ = ["Journal", "load_journal"]


class Journal(dict[tuple[str, int], State[Any]]):
    """The completed calls of a flow run by (task key, dynamic key), and whether its task
    runs have the older all-hash ids (``legacy_ids``: its new ones must too)."""

    legacy_ids = False


def load_journal(runtime: Runtime, flow_run_id: str) -> Journal:
    """The completed calls of a flow run, with their results, ready to replay. A call whose
    result is missing or unreadable is left out: it runs again. A refused one (a pickle
    not signed with the store's key, a location outside the store) fails the resume."""
    journal = Journal()
    first = True
    for item in runtime.store.read_task_runs(flow_run_id):
        if first and isinstance(item, TaskRunRecord):
            first = False
            legacy = task_run_id(flow_run_id, item.task_key, item.dynamic_key, legacy=True)
            journal.legacy_ids = item.id == legacy
        if (
            isinstance(item, TaskRunRecord)
            and item.state_type is StateType.COMPLETED
            and item.result is not None
        ):
            try:
                what = f"the stored result of task run {item.name!r} ({item.id})"
                value = runtime.results.load(item.result, what)
            except UntrustedPayloadError:
                raise  # never run again in its place: someone wrote it (docs/security.md)
            except CorruptRecordError:
                continue
            state: State[Any] = State(
                StateType.COMPLETED,
                item.state_name,
                item.state_message,
                value,
                created=item.end_time,
            )
            state.state_details.task_run_id = item.id
            state.state_details.flow_run_id = flow_run_id
            journal[(item.task_key, item.dynamic_key)] = state
    return journal
