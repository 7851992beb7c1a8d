"""Bringing a flow run into being: a new run (parameters bound, validated, named,
recorded), a subflow's entry in its parent's journal (a resumed parent meets its
unfinished subflow's run again and resumes it with its journal), or a run rejected for
bad parameters; and entering it (``enter_flow_run``), which a run resumed by id
(``_flow_resume``) goes through too. ``_flow_run`` then runs the body.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable
from logging import INFO
from typing import TYPE_CHECKING, Any, NamedTuple

from flowless.context import FlowRunContext, current_flow_run, current_tags
from flowless.engine._hooks import run_hooks, run_on_running
from flowless.engine._inputs import task_inputs
from flowless.engine._journal import Journal, load_journal
from flowless.engine._names import (
    generate_flow_run_name,
    render_run_name,
    task_run_display_name,
    task_run_id,
)
from flowless.engine._outcome import stamp
from flowless.engine._owner import process_owner
from flowless.engine._parameters import validate_parameters
from flowless.engine._runtime import Runtime, current_runtime
from flowless.exceptions import (
    ParameterBindError,
    ParameterTypeError,
    RecordExistsError,
    ResultSerializationError,
    StoreError,
    UpstreamTaskError,
)
from flowless.logging._console import RunLoggerAdapter
from flowless.logging._prints import install_print_logging
from flowless.logging._stored import remember as remember_store
from flowless.states import Failed, State, StateType
from flowless.store import FlowRunRecord, Payload, TaskRunRecord
from flowless.utilities.engine import resolve_inputs_sync, wait_for_dependencies

if TYPE_CHECKING:
    from flowless.flows import Flow
    from flowless.results import Results

__all__ = [
    "Begun",
    "SubflowEntry",
    "create_or_resume",
    "dump",
    "enter_flow_run",
    "flow_run_name",
    "reject",
    "run_logger",
    "start_flow_run",
]

_FLOW_LOGGER = logging.getLogger("flowless.flow_runs")


_ENGINE_LOGGER = logging.getLogger("flowless.engine")


def run_logger(record: FlowRunRecord) -> RunLoggerAdapter:
    return RunLoggerAdapter(
        _FLOW_LOGGER,
        {"flow_run_name": record.name, "flow_run_id": record.id, "flow_name": record.flow_name},
    )


def dump(results: Results, value: Any) -> Payload | None:
    """A flow's parameters or result, stored when they can be (they are not needed to
    run it, only to show it and replay it)."""
    try:
        return results.dump(value)
    except (ResultSerializationError, StoreError):
        return None


def flow_run_name(flow: Flow[..., Any], record: FlowRunRecord, parameters: dict[str, Any]) -> str:
    template = flow.flow_run_name
    if template is None:
        return generate_flow_run_name()
    return render_run_name(template, record, parameters, "flow", flow.name)


class Begun(NamedTuple):
    """A flow run that exists and has its context, ready for its body to run."""

    flow: Flow[..., Any]
    ctx: FlowRunContext
    entry: SubflowEntry | None
    logger: RunLoggerAdapter


class SubflowEntry:
    """The parent's journal entry standing for one subflow call."""

    def __init__(self, parent: FlowRunContext, flow: Flow[..., Any]) -> None:
        self.parent = parent
        task_key = f"flow:{flow.flow_key}"
        dynamic_key = parent.next_dynamic_key(task_key)
        run_id = task_run_id(parent.flow_run.id, task_key, dynamic_key, legacy=parent.legacy_ids)
        self.key = (task_key, dynamic_key)
        self.record = TaskRunRecord(
            id=run_id,
            flow_run_id=parent.flow_run.id,
            task_key=task_key,
            dynamic_key=dynamic_key,
            name=task_run_display_name(flow.name, run_id, legacy=parent.legacy_ids),
            task_name=flow.name,
            state_type=StateType.RUNNING,
            state_name="Running",
        )
        #: The child's id is derived from the entry, so a re-run finds the same child
        #: (a flow run's id: all hash, one per subflow call).
        self.child_id = task_run_id(run_id, "child", 0, legacy=True)
        self.record.child_flow_run_id = self.child_id
        #: Whether a resumed parent may replay it (a generator subflow whose values could
        #: not be stored may not: without them it runs again).
        self.journaled = True

    def replayed(self) -> State[Any] | None:
        replay = self.parent.replay
        return None if replay is None else replay.get(self.key)

    def start(self) -> None:
        self.record.start_time = time.time()
        self.parent.store.start_task_run(self.record)

    def finish(self, state: State[Any], payload: Payload | None) -> None:
        stamp(self.record, state, payload if self.journaled else None)
        self.record.run_count += 1
        self.parent.store.finish_task_run(self.record)


def start_flow_run(
    flow: Flow[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    wait_for: Iterable[Any] | None,
) -> Begun | State[Any]:
    """Create the flow run and its context; or the final state at once, for a replayed
    subflow or rejected parameters."""
    upstream: UpstreamTaskError | None = None
    if wait_for:
        try:
            wait_for_dependencies(wait_for)  # a subflow starts after its upstream ends
        except UpstreamTaskError as exc:
            upstream = exc  # the run is recorded NotReady below, as Prefect records it
    parent = current_flow_run()
    runtime = current_runtime()
    entry = SubflowEntry(parent, flow) if parent is not None else None
    if entry is not None:
        replayed = entry.replayed()
        if replayed is not None:
            return replayed

    now = time.time()
    record = FlowRunRecord(
        id=entry.child_id if entry is not None else str(uuid.uuid4()),
        name="",
        flow_name=flow.name,
        state_type=StateType.RUNNING,
        state_name="Running",
        parent_flow_run_id=parent.flow_run.id if parent is not None else None,
        parent_task_run_id=entry.record.id if entry is not None else None,
        created=now,
        start_time=now,
        run_count=1,
        owner=process_owner(),
        flow_identity=flow.identity,
        tags=sorted(current_tags()),  # those of the ``tags(...)`` blocks around the call
    )
    try:
        parameters = flow.shape.bind(args, kwargs)
        if upstream is not None:
            raise upstream
        # as Prefect, every flow's inputs: futures and states to results, ``quote`` removed
        parameters = resolve_inputs_sync(parameters)
        if flow.validate_parameters:
            parameters = validate_parameters(flow, parameters)
        record.name = flow_run_name(flow, record, parameters)
    except (ParameterBindError, ParameterTypeError) as exc:
        return reject(record, runtime, args, kwargs, exc, flow)
    except UpstreamTaskError as exc:
        return not_ready(record, runtime, entry, exc)
    record.parameters = dump(runtime.results, flow.parameters_to_store(parameters))

    if entry is not None:
        entry.record.inputs = task_inputs(flow.parameters_to_store(parameters))
        entry.start()
    resumed = create_or_resume(runtime, record)
    if parent is None:
        runtime.store.flush()  # the run exists on disk from its first moment
    replay = load_journal(runtime, record.id) if resumed else None
    return enter_flow_run(flow, record, parameters, runtime, parent, entry, replay)


def enter_flow_run(
    flow: Flow[..., Any],
    record: FlowRunRecord,
    parameters: dict[str, Any],
    runtime: Runtime,
    parent: FlowRunContext | None,
    entry: SubflowEntry | None,
    replay: Journal | None,
) -> Begun:
    logger = run_logger(record)
    remember_store(record.id, runtime.store)  # its lines are kept there (flow-run logs)
    log_prints = flow.log_prints
    if log_prints is None:
        log_prints = parent.log_prints if parent is not None else False
    if log_prints:
        install_print_logging()
    ctx = FlowRunContext(
        flow,
        record,
        parameters,
        runtime.store,
        runtime.results,
        runtime.invoker,
        runtime.settings,
        logger,
        log_prints,
    )
    ctx.replay = replay
    ctx.legacy_ids = replay is not None and replay.legacy_ids
    ctx.parent = parent
    kind = "subflow run" if parent is not None else "flow run"
    run_on_running(flow, record, RunLoggerAdapter(_ENGINE_LOGGER, {}))  # as Prefect: first
    if replay is None:
        logger.emit(INFO, "Beginning %s %r for flow %r", kind, record.name, flow.name)
    else:
        logger.emit(
            INFO,
            "Resuming %s %r for flow %r: %d completed call(s) will replay from its journal",
            kind,
            record.name,
            flow.name,
            len(replay),
        )
    return Begun(flow, ctx, entry, logger)


def create_or_resume(runtime: Runtime, record: FlowRunRecord) -> bool:
    """Create the run; ``True`` if it already existed (a resumed parent meets its
    unfinished subflow's run again, under the same derived id)."""
    try:
        runtime.store.create_flow_run(record)
    except RecordExistsError:
        previous = runtime.store.read_flow_run(record.id)
        record.run_count = previous.run_count
        record.created = previous.created
        record.version = previous.version
        runtime.store.update_flow_run(record)
        return True
    return False


def reject(
    record: FlowRunRecord,
    runtime: Runtime,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    exc: ParameterBindError | ParameterTypeError,
    flow: Flow[..., Any] | None = None,
) -> State[Any]:
    """Bad parameters: a Failed flow run that says why, and nothing else runs but the
    flow's ``on_failure`` hooks (as in Prefect). Calling the flow raises the error (its
    state's result)."""
    if not record.name:
        record.name = generate_flow_run_name()
    message = f"Validation of flow parameters failed with error: {type(exc).__name__}: {exc}"
    state = Failed(message=message, data=exc)
    given = dict(kwargs)
    if args:
        given["<positional>"] = list(args)
    record.parameters = dump(runtime.results, given)
    stamp(record, state, None)
    create_or_resume(runtime, record)
    _ENGINE_LOGGER.error("Validation of flow parameters failed with error: %s", exc)
    if flow is not None and flow.on_failure_hooks:
        hooks = flow.on_failure_hooks
        run_hooks(hooks, flow, record, state, RunLoggerAdapter(_ENGINE_LOGGER, {}))
    _ENGINE_LOGGER.info("Finished in state %s", state)
    state.state_details.flow_run_id = record.id
    return state


def not_ready(
    record: FlowRunRecord, runtime: Runtime, entry: SubflowEntry | None, exc: UpstreamTaskError
) -> State[Any]:
    """An upstream of the run (in ``wait_for`` or its arguments) did not complete: the run
    is recorded ``NotReady`` and its body never runs, as in Prefect. Calling the flow
    raises ``UnfinishedRun``; ``return_state=True`` gives the state. A resumed parent runs
    it again (a NotReady entry is not a result to replay)."""
    if not record.name:
        record.name = generate_flow_run_name()
    state: State[Any] = State(StateType.PENDING, "NotReady", str(exc))
    record.parameters = dump(runtime.results, {})  # they hold the upstream that failed
    stamp(record, state, None)
    if entry is not None:
        entry.start()
    create_or_resume(runtime, record)
    if entry is not None:
        entry.finish(state, None)
    state.state_details.flow_run_id = record.id
    return state
