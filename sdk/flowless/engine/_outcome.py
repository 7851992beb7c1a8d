"""A run's final state from what its body returned, by Prefect's rules
(``prefect.states.return_value_to_state``):

- a state made by the user (no run id in it): that state;
- a state of a task or flow run, or a non-empty list, tuple or set holding only such
  states: Completed('All states completed.') when all completed, else Cancelled('k/n
  states cancelled.'), Paused('k/n states paused.'), or Failed('k/n states failed.')
  (failed or crashed) / Failed('k/n states are not final.'); the states are its data;
- a generator: consumed, Completed with the list of what it yielded (after the check
  above, so a generator of failed states still completes);
- anything else (a frozenset, a dict, a dataclass, an annotation such as ``quote``):
  Completed with that value.

A flow's futures become their final states first (``resolve_futures_to_states``, in
``flow_return_to_state``); a task's return value is taken as it is, as in Prefect.
"""

from __future__ import annotations

from collections import Counter
from types import GeneratorType
from typing import Any

from flowless.futures import resolve_futures_to_states
from flowless.states import State, StateType, is_state_iterable
from flowless.store import FlowRunRecord, Payload, TaskRunRecord

__all__ = [
    "call_result",
    "crash_message",
    "flow_return_to_state",
    "return_value_to_state",
    "stamp",
]


def return_value_to_state(value: Any) -> State[Any]:
    if isinstance(value, State):
        details = value.state_details
        if not details.task_run_id and not details.flow_run_id:
            return value
        return _aggregate([value], value)
    if is_state_iterable(value):
        return _aggregate(list(value), value)
    if isinstance(value, GeneratorType):
        value = list(value)  # a generator cannot be stored or replayed: what it yields can
    return State(StateType.COMPLETED, data=value)


def _aggregate(states: list[State[Any]], data: Any) -> State[Any]:
    total = len(states)
    counts = Counter(s.type for s in states)
    if counts[StateType.COMPLETED] == total:
        return State(StateType.COMPLETED, message="All states completed.", data=data)
    if counts[StateType.CANCELLED]:
        message = f"{counts[StateType.CANCELLED]}/{total} states cancelled."
        return State(StateType.CANCELLED, message=message, data=data)
    if counts[StateType.PAUSED]:
        message = f"{counts[StateType.PAUSED]}/{total} states paused."
        return State(StateType.PAUSED, message=message, data=data)
    failed = counts[StateType.FAILED] + counts[StateType.CRASHED]
    if failed:
        return State(StateType.FAILED, message=f"{failed}/{total} states failed.", data=data)
    # Not all completed, none failed, crashed or cancelled: some are not final.
    not_final = sum(not s.is_final() for s in states)
    return State(StateType.FAILED, message=f"{not_final}/{total} states are not final.", data=data)


def flow_return_to_state(value: Any) -> State[Any]:
    """A flow's final state from its body's return value: its futures (also inside
    containers) waited for and replaced by their final states, then Prefect's rules. Call
    it where an exception counts as the body's own: a container that cannot be rebuilt
    (a named tuple of futures, say) fails the flow run, as in Prefect."""
    return return_value_to_state(resolve_futures_to_states(value))


def call_result(state: State[Any]) -> Any:
    """What calling a flow returns, by Prefect's rule: the body's return value (futures in
    it resolved to states; a generator's items as a list) unless that was a single state,
    else the state's result. (Prefect 3.4.25 returns ``None`` for a generator on Python
    3.11 and the spent generator on 3.12; the list is the value its state holds.)"""
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
