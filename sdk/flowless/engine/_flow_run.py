"""Running a flow: create the flow run, run the body (with retries and a timeout), and
settle its final state by Prefect's rules.

A subflow call is also an entry in the parent's journal, so a re-run of the parent body
replays a finished subflow instead of running it again.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from functools import partial
from logging import ERROR, INFO
from typing import TYPE_CHECKING, Any

from flowless.context import FlowRunContext, _flow_run, current_flow_run, naming
from flowless.engine._drivers import Attempts, await_with_timeout, drive, drive_async
from flowless.engine._hooks import run_hooks
from flowless.engine._names import generate_flow_run_name, task_run_display_name, task_run_id
from flowless.engine._outcome import call_result, crash_message, return_value_to_state, stamp
from flowless.engine._parameters import validate_parameters
from flowless.engine._runtime import Runtime, current_runtime
from flowless.engine._timeouts import (
    call_with_timeout,
    enter_engine,
    join_abandoned,
    leave_engine,
)
from flowless.exceptions import (
    FlowRunTimeoutError,
    ParameterBindError,
    ParameterTypeError,
    RecordExistsError,
    ResultSerializationError,
    StoreError,
)
from flowless.futures import resolve_futures_to_results, resolve_futures_to_states
from flowless.logging._console import RunLoggerAdapter
from flowless.logging._prints import install_print_logging
from flowless.states import Crashed, Failed, State, StateType, TimedOut
from flowless.store import FlowRunRecord, Payload, TaskRunRecord

if TYPE_CHECKING:
    from flowless.flows import Flow
    from flowless.results import Results

__all__ = ["call_flow", "run_flow"]

_FLOW_LOGGER = logging.getLogger("flowless.flow_runs")
_ENGINE_LOGGER = logging.getLogger("flowless.engine")


def call_flow(
    flow: Flow[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    return_state: bool,
    wait_for: Iterable[Any] | None = None,
) -> Any:
    if flow.isasync:
        return run_flow_async(flow, args, kwargs, return_state, wait_for)
    guard = enter_engine()  # a timed-out caller is not interrupted in here
    try:
        return run_flow(flow, args, kwargs, return_state, wait_for)
    finally:
        leave_engine(guard)


def _logger(record: FlowRunRecord) -> RunLoggerAdapter:
    return RunLoggerAdapter(
        _FLOW_LOGGER,
        {"flow_run_name": record.name, "flow_run_id": record.id, "flow_name": record.flow_name},
    )


def _dump(results: Results, value: Any) -> Payload | None:
    """A flow's parameters or result, stored when they can be (they are not needed to
    run it, only to show it and replay it)."""
    try:
        return results.dump(value)
    except (ResultSerializationError, StoreError):
        return None


def _flow_run_name(flow: Flow[..., Any], record: FlowRunRecord, parameters: dict[str, Any]) -> str:
    template = flow.flow_run_name
    if template is None:
        return generate_flow_run_name()
    if callable(template):
        token = naming.set((record, parameters))
        try:
            return str(template())
        finally:
            naming.reset(token)
    try:
        return template.format(**parameters)
    except (KeyError, IndexError, AttributeError, ValueError) as exc:
        raise ValueError(
            f"flow_run_name {template!r} of flow {flow.name!r} cannot be formatted with the "
            f"flow's parameters {sorted(parameters)}: {type(exc).__name__}: {exc}"
        ) from None


class _SubflowEntry:
    """The parent's journal entry standing for one subflow call."""

    def __init__(self, parent: FlowRunContext, flow: Flow[..., Any]) -> None:
        self.parent = parent
        task_key = f"flow:{flow.flow_key}"
        dynamic_key = parent.next_dynamic_key(task_key)
        run_id = task_run_id(parent.flow_run.id, task_key, dynamic_key)
        self.key = (task_key, dynamic_key)
        self.record = TaskRunRecord(
            id=run_id,
            flow_run_id=parent.flow_run.id,
            task_key=task_key,
            dynamic_key=dynamic_key,
            name=task_run_display_name(flow.name, run_id),
            task_name=flow.name,
            state_type=StateType.RUNNING,
            state_name="Running",
        )
        #: The child's id is derived from the entry, so a re-run finds the same child.
        self.child_id = task_run_id(run_id, "child", 0)
        self.record.child_flow_run_id = self.child_id

    def replayed(self) -> State[Any] | None:
        replay = self.parent.replay
        return None if replay is None else replay.get(self.key)

    def start(self) -> None:
        self.record.start_time = time.time()
        self.parent.store.start_task_run(self.record)

    def finish(self, state: State[Any], payload: Payload | None) -> None:
        stamp(self.record, state, payload)
        self.record.run_count += 1
        self.parent.store.finish_task_run(self.record)


class _Started:
    """A flow run that exists, has its context set, and is about to run its body."""

    def __init__(
        self,
        flow: Flow[..., Any],
        ctx: FlowRunContext,
        entry: _SubflowEntry | None,
        logger: RunLoggerAdapter,
    ) -> None:
        self.flow = flow
        self.ctx = ctx
        self.entry = entry
        self.logger = logger
        self.token = _flow_run.set(ctx)

    def attempts(self) -> Attempts:
        return _attempts(self.flow, self.ctx, self.logger)

    def crash(self, exc: BaseException) -> None:
        _settle(
            self.flow,
            self.ctx,
            Crashed(message=crash_message(exc), data=exc),
            self.entry,
            self.logger,
        )
        if self.entry is None:
            self.ctx.store.flush()

    def leave(self) -> None:
        _flow_run.reset(self.token)

    def end(self, state: State[Any], return_state: bool) -> Any:
        _settle(self.flow, self.ctx, state, self.entry, self.logger)
        if self.entry is None:
            self.ctx.store.flush()  # a finished flow run is on disk when the call returns
        return state if return_state else call_result(state)


def run_flow(
    flow: Flow[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    return_state: bool,
    wait_for: Iterable[Any] | None = None,
) -> Any:
    """Run a flow from synchronous code: the body runs on this thread."""
    started = _start(flow, args, kwargs, wait_for)
    if isinstance(started, State):
        return started if return_state else call_result(started)
    try:
        state = drive(started.attempts(), partial(_call_body_in_time, flow, started.ctx.parameters))
    except BaseException as exc:
        started.crash(exc)
        raise
    finally:
        started.leave()
    return started.end(state, return_state)


async def run_flow_async(
    flow: Flow[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    return_state: bool,
    wait_for: Iterable[Any] | None = None,
) -> Any:
    """Run an async flow: its body runs on the event loop that awaits it."""
    started = _start(flow, args, kwargs, wait_for)
    if isinstance(started, State):
        return started if return_state else call_result(started)
    try:
        body = partial(_await_body_in_time, flow, started.ctx.parameters)
        state = await drive_async(started.attempts(), body)
    except BaseException as exc:
        started.crash(exc)
        raise
    finally:
        started.leave()
    return started.end(state, return_state)


def _start(
    flow: Flow[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    wait_for: Iterable[Any] | None,
) -> _Started | State[Any]:
    """Create the flow run and its context; or the final state at once, for a replayed
    subflow or rejected parameters."""
    if wait_for:
        resolve_futures_to_states(list(wait_for))  # a subflow starts after its upstream ends
    parent = current_flow_run()
    runtime = current_runtime()
    entry = _SubflowEntry(parent, flow) if parent is not None else None
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
    )
    try:
        parameters = flow.shape.bind(args, kwargs)
        if parent is not None:
            parameters = {k: resolve_futures_to_results(v) for k, v in parameters.items()}
        if flow.validate_parameters:
            parameters = validate_parameters(flow, parameters)
        record.name = _flow_run_name(flow, record, parameters)
    except (ParameterBindError, ParameterTypeError) as exc:
        return _reject(record, runtime, args, kwargs, exc)
    record.parameters = _dump(runtime.results, parameters)

    if entry is not None:
        entry.start()
    _create_or_resume(runtime, record)

    logger = _logger(record)
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
    kind = "subflow run" if parent is not None else "flow run"
    logger.emit(INFO, "Beginning %s %r for flow %r", kind, record.name, flow.name)
    return _Started(flow, ctx, entry, logger)


def _create_or_resume(runtime: Runtime, record: FlowRunRecord) -> None:
    try:
        runtime.store.create_flow_run(record)
    except RecordExistsError:  # a resumed parent resumes this subflow's own run
        previous = runtime.store.read_flow_run(record.id)
        record.run_count = previous.run_count + 1
        record.created = previous.created
        runtime.store.update_flow_run(record)


def _attempts(flow: Flow[..., Any], ctx: FlowRunContext, logger: RunLoggerAdapter) -> Attempts:
    """The attempts of one flow run, for either driver (see ``_drivers``)."""
    while True:
        try:
            value = yield None
        except FlowRunTimeoutError as exc:
            logger.emit(ERROR, "%s", exc)
            _abandon_futures(ctx)
            state: State[Any] = TimedOut(message=str(exc), data=exc)
        except Exception as exc:
            logger.emit(ERROR, "Encountered exception during execution: %r", exc, exc=exc)
            _wait_for_futures(ctx)
            state = Failed(
                message=f"Flow run encountered an exception: {type(exc).__name__}: {exc}",
                data=exc,
            )
        else:
            _wait_for_futures(ctx)
            state = return_value_to_state(value)
        if state.type is StateType.FAILED and ctx.flow_run.run_count <= flow.retries:
            logger.emit(
                INFO,
                "Received non-final state 'AwaitingRetry' when proposing final state %r and "
                "will attempt to run again...",
                state.name,
            )
            join_abandoned(state.data)  # a timed-out body must stop before the next attempt
            if flow.retry_delay_seconds:
                yield flow.retry_delay_seconds
            ctx.flow_run.run_count += 1
            continue
        return state


def _timeout_error(flow: Flow[..., Any]) -> Callable[[], FlowRunTimeoutError]:
    return lambda: FlowRunTimeoutError(
        f"Flow run exceeded timeout of {flow.timeout_seconds} second(s)"
    )


def _call_body_in_time(flow: Flow[..., Any], parameters: dict[str, Any]) -> Any:
    args, kwargs = flow.shape.split(parameters)
    if flow.timeout_seconds is None:
        return flow.fn(*args, **kwargs)
    return call_with_timeout(
        lambda: flow.fn(*args, **kwargs), flow.timeout_seconds, _timeout_error(flow)
    )


async def _await_body_in_time(flow: Flow[..., Any], parameters: dict[str, Any]) -> Any:
    args, kwargs = flow.shape.split(parameters)
    return await await_with_timeout(
        flow.fn(*args, **kwargs), flow.timeout_seconds, _timeout_error(flow)
    )


def _wait_for_futures(ctx: FlowRunContext) -> None:
    """Every submitted task run finishes (and is recorded) before the flow run does."""
    seen = 0
    while seen < len(ctx.futures):
        pending = ctx.futures[seen:]
        seen = len(ctx.futures)
        cf.wait(pending)


def _abandon_futures(ctx: FlowRunContext) -> None:
    for future in ctx.futures:
        future.cancel()


def _settle(
    flow: Flow[..., Any],
    ctx: FlowRunContext,
    state: State[Any],
    entry: _SubflowEntry | None,
    logger: RunLoggerAdapter,
) -> None:
    """Record the final state, close the task runner, log, and run hooks."""
    ctx.shutdown(wait=state.name not in ("TimedOut", "Crashed"))
    record = ctx.flow_run
    payload = _dump(ctx.results, state.data) if state.type is StateType.COMPLETED else None
    stamp(record, state, payload)
    ctx.store.update_flow_run(record)
    state.state_details.flow_run_id = record.id
    if entry is not None:
        entry.finish(state, payload)
    hooks = {
        StateType.COMPLETED: flow.on_completion_hooks,
        StateType.FAILED: flow.on_failure_hooks,
        StateType.CRASHED: flow.on_crashed_hooks,
        StateType.CANCELLED: flow.on_cancellation_hooks,
    }.get(state.type, [])
    run_hooks(hooks, flow, record, state, logger)
    logger.emit(INFO, "Finished in state %s", state)


def _reject(
    record: FlowRunRecord,
    runtime: Runtime,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    exc: ParameterBindError | ParameterTypeError,
) -> State[Any]:
    """Bad parameters: a Failed flow run that says why, and nothing else runs. Calling the
    flow raises the error (its state's result)."""
    if not record.name:
        record.name = generate_flow_run_name()
    message = f"Validation of flow parameters failed with error: {type(exc).__name__}: {exc}"
    state = Failed(message=message, data=exc)
    given = dict(kwargs)
    if args:
        given["<positional>"] = list(args)
    record.parameters = _dump(runtime.results, given)
    stamp(record, state, None)
    _create_or_resume(runtime, record)
    _ENGINE_LOGGER.error("Validation of flow parameters failed with error: %s", exc)
    _ENGINE_LOGGER.info("Finished in state %s", state)
    state.state_details.flow_run_id = record.id
    return state
