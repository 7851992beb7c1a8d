"""Starting a flow run that was created ahead of its start: a deployment's run, made by a
schedule slot or ``run_deployment``, in state Scheduled with its parameters stored.

Whoever starts it (a ``serve`` process, the flow-run Lambda function) claims it with the
store's version-conditional update, so of two starters only one runs it: two ``serve``
processes on one store, or a slot's event delivered twice, still run it once.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from flowless.engine._flow_resume import read_run_of
from flowless.engine._flow_setup import Begun, enter_flow_run, reject
from flowless.engine._owner import process_owner
from flowless.engine._parameters import validate_parameters
from flowless.engine._runtime import current_runtime
from flowless.exceptions import (
    CorruptRecordError,
    ParameterBindError,
    ParameterTypeError,
    RecordConflictError,
)
from flowless.states import State, StateType

if TYPE_CHECKING:
    from flowless.flows import Flow

from flowless.store import FlowRunRecord

__all__ = ["begin_scheduled", "claim_pending", "state_of_record"]


def state_of_record(record: FlowRunRecord, load_result: bool = True) -> State[Any]:
    """The state a stored run is in, with its result when it completed."""
    value = None
    if load_result and record.state_type is StateType.COMPLETED and record.result is not None:
        try:
            value = current_runtime().results.load(record.result)
        except CorruptRecordError:
            value = None
    state: State[Any] = State(record.state_type, record.state_name, record.state_message, value)
    state.state_details.flow_run_id = record.id
    return state


def _ours(record: FlowRunRecord) -> bool:
    """Scheduled, or Pending under this process's claim (``claim_pending``)."""
    if record.state_type is StateType.SCHEDULED:
        return True
    return record.state_type is StateType.PENDING and record.owner == process_owner()


def claim_pending(flow_run_id: str) -> FlowRunRecord | None:
    """Take a Scheduled run for this process (Pending, owned here) before deciding whether
    it may start (a deployment's concurrency slot): of two starters, only the one whose
    claim lands decides, so a loser never cancels or re-queues the winner's run. None if
    someone else has it."""
    store = current_runtime().store
    record = store.read_flow_run(flow_run_id)
    if record.state_type is not StateType.SCHEDULED:
        return None
    record.state_type, record.state_name = StateType.PENDING, "Pending"
    record.owner = process_owner()
    try:
        store.update_flow_run(record)
    except RecordConflictError:
        return None
    store.flush()
    return record


def begin_scheduled(flow: Flow[..., Any], flow_run_id: str) -> Begun | State[Any]:
    """Claim a Scheduled run (or one this process claimed as Pending) and set it up to
    run; or, when it is not ours to start (someone else started it, it finished, it was
    cancelled), its current state."""
    runtime = current_runtime()
    record = read_run_of(runtime, flow, flow_run_id)
    if not _ours(record):
        return state_of_record(record)
    parameters: dict[str, Any] = (
        runtime.results.load(record.parameters) if record.parameters is not None else {}
    )
    now = time.time()
    record.state_type, record.state_name, record.state_message = StateType.RUNNING, "Running", None
    record.owner = process_owner()
    record.flow_identity = flow.identity
    record.start_time = now
    record.run_count = 1
    try:
        runtime.store.update_flow_run(record)  # the claim
    except RecordConflictError:
        return state_of_record(runtime.store.read_flow_run(flow_run_id))
    runtime.store.flush()
    try:
        bound = flow.shape.bind((), dict(parameters))
        if flow.validate_parameters:
            bound = validate_parameters(flow, bound)
    except (ParameterBindError, ParameterTypeError) as exc:
        return reject(record, runtime, (), parameters, exc, flow)
    return enter_flow_run(flow, record, bound, runtime, None, None, None)
