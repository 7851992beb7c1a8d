"""A run's final state from what its body did, by Prefect's rules.

- returned a state made by the user: that state;
- returned task/flow states or futures (alone or in a list, tuple, set): Completed when
  all completed, else Failed('k/n states failed.') (or cancelled, or not final);
- returned anything else: Completed with that value.
"""

from __future__ import annotations

from typing import Any

from flowless.futures import resolve_futures_to_states
from flowless.states import State, StateType, is_state_iterable
from flowless.store import FlowRunRecord, Payload, TaskRunRecord

__all__ = ["call_result", "crash_message", "return_value_to_state", "stamp"]

_FAILED = (StateType.FAILED, StateType.CRASHED)


def return_value_to_state(value: Any) -> State[Any]:
    value = resolve_futures_to_states(value)
    if isinstance(value, State):
        details = value.state_details
        if details.task_run_id is None and details.flow_run_id is None:
            return value
    if not (isinstance(value, State) or is_state_iterable(value)):
        return State(StateType.COMPLETED, data=value)
    states = [value] if isinstance(value, State) else list(value)
    total = len(states)
    failed = sum(s.type in _FAILED for s in states)
    cancelled = sum(s.type is StateType.CANCELLED for s in states)
    not_final = sum(not s.is_final() for s in states)
    if failed == 0 and cancelled == 0 and not_final == 0:
        return State(StateType.COMPLETED, message="All states completed.", data=value)
    if cancelled:
        return State(
            StateType.CANCELLED, message=f"{cancelled}/{total} states cancelled.", data=value
        )
    if failed:
        return State(StateType.FAILED, message=f"{failed}/{total} states failed.", data=value)
    return State(StateType.FAILED, message=f"{not_final}/{total} states are not final.", data=value)


def call_result(state: State[Any]) -> Any:
    """What calling a flow returns, by Prefect's rule: the body's return value unless that
    was a single state (futures in it resolved to states), else the state's result."""
    if state.type is not StateType.COMPLETED and is_state_iterable(state.data):
        return state.data
    return state.result()


def stamp(record: FlowRunRecord | TaskRunRecord, state: State[Any], result: Payload | None) -> None:
    """Copy a final state (and its stored result) onto the run's record."""
    record.state_type = state.type
    record.state_name = state.name
    record.state_message = state.message
    record.end_time = state.created
    record.result = result


def crash_message(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "Execution was aborted by an interrupt signal."
    if isinstance(exc, SystemExit):
        return "Execution was aborted by Python's exit."
    return f"Execution was interrupted by {type(exc).__name__}: {exc}"
