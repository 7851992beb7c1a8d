"""Taking a stored flow run back to continue it: the run read and checked as this flow's
(its name, then the identity of the code that made it); refused while it is cancelled,
not yet started by its runner, owned by a process still alive, or without its stored
parameters; a completed one gives its final state and runs nothing. Otherwise its
journal is loaded and the run claimed with a version-checked update, so only one
resume gets past it; ``_flow_setup.enter_flow_run`` then enters it as a new run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowless.engine._flow_setup import Begun, enter_flow_run
from flowless.engine._journal import load_journal
from flowless.engine._owner import is_alive_here, process_owner
from flowless.engine._runtime import Runtime, current_runtime
from flowless.exceptions import RecordConflictError
from flowless.states import State, StateType
from flowless.store import FlowRunRecord, find_flow_run

if TYPE_CHECKING:
    from flowless.flows import Flow

__all__ = ["begin_resume", "read_run_of"]


def read_run_of(
    runtime: Runtime, flow: Flow[..., Any], flow_run_id: str, *, by_ref: bool = False
) -> FlowRunRecord:
    """The stored run, refused (``ValueError``) if it is another flow's. ``by_ref``: a
    person gave it, so a unique id prefix or a run name will do too (what ``flowless
    flow-run ls`` prints); a runner's ids are exact, and a missing one is not searched."""
    if by_ref:
        record = find_flow_run(runtime.store, flow_run_id)
    else:
        record = runtime.store.read_flow_run(flow_run_id)
    if record.flow_name != flow.name:
        raise ValueError(
            f"Flow run {record.name!r} ({flow_run_id}) is a run of flow {record.flow_name!r}, "
            f"not of {flow.name!r}."
        )
    return record


def begin_resume(flow: Flow[..., Any], flow_run_id: str, force: bool) -> Begun | State[Any]:
    """Take over a stored flow run to continue it, with its journal to replay; or its final
    state, if it already completed."""
    runtime = current_runtime()
    record = read_run_of(runtime, flow, flow_run_id, by_ref=True)
    flow_run_id = record.id  # it may have been given as a prefix or a name
    if record.flow_identity is not None and record.flow_identity != flow.identity:
        made, given = record.flow_identity.split("@"), flow.identity.split("@")
        raise ValueError(
            f"Flow run {record.name!r} ({flow_run_id}) was made by flow {made[0]!r} (source "
            f"{made[-1]}), not by {given[0]!r} (source {given[-1]}): a flow of the same name "
            "with other code would replay the wrong journal. Resume it with the flow that "
            "made it."
        )
    if record.state_type in (StateType.CANCELLED, StateType.SCHEDULED, StateType.PENDING):
        why = {
            StateType.CANCELLED: f"it was cancelled ({record.state_name}: {record.state_message})",
            StateType.SCHEDULED: "it has not started: the deployment's runner starts it "
            "(flowless serve, or the flow-run function on AWS)",
            StateType.PENDING: "it is being started by its deployment's runner",
        }[record.state_type]
        raise RecordConflictError(
            f"Flow run {record.name!r} ({flow_run_id}) cannot be resumed: {why}."
        )
    if record.state_type is StateType.COMPLETED:
        value = runtime.results.load(record.result) if record.result is not None else None
        done: State[Any] = State(
            StateType.COMPLETED, record.state_name, record.state_message, value
        )
        done.state_details.flow_run_id = record.id
        return done
    if record.parameters is None:
        raise ValueError(
            f"Flow run {record.name!r} cannot be resumed: its parameters were not stored "
            "(they could not be serialized)."
        )
    # A run that ended (failed, crashed) may be resumed by anyone; one still marked
    # Running only once the process running it is gone.
    alive = is_alive_here(record.owner) if record.state_type is StateType.RUNNING else False
    if alive or (alive is None and not force):
        where = "on this host" if alive else "on another host (pass force=True if it is gone)"
        raise RecordConflictError(
            f"Flow run {record.name!r} ({flow_run_id}) is being run by process "
            f"{record.owner} {where}; resume it once that process has ended."
        )
    parameters = flow.parameters_from_store(runtime.results.load(record.parameters))
    journal = load_journal(runtime, record.id)  # a refused record: the run is left as it was
    record.owner = process_owner()
    record.state_type, record.state_name, record.state_message = StateType.RUNNING, "Running", None
    record.end_time = None
    record.result = None
    try:
        runtime.store.update_flow_run(record)  # the claim: only one resume gets past this
    except RecordConflictError as exc:
        raise RecordConflictError(
            f"Flow run {record.name!r} ({flow_run_id}) is being resumed elsewhere: it changed "
            "after this resume read it."
        ) from exc
    runtime.store.flush()
    return enter_flow_run(flow, record, parameters, runtime, None, None, journal)
