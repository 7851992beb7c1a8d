"""Running a flow: its body (with retries and a timeout) through the sync or async driver,
and its final state by Prefect's rules, recorded with hooks and the closing log line.
``_flow_setup`` brings the run into being first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from logging import ERROR, INFO
from typing import TYPE_CHECKING, Any

from flowless.context import FlowRunContext, _flow_run, persisting_results
from flowless.engine._cancel import FlowRunCancelling, write_final
from flowless.engine._drivers import Attempts, await_with_timeout, drive, drive_async
from flowless.engine._hooks import run_hooks, run_on_running
from flowless.engine._outcome import call_result, crash_message, flow_return_to_state, stamp
from flowless.engine._timeouts import (
    call_with_timeout,
    enter_engine,
    join_abandoned,
    leave_engine,
    scope_timed_out,
    timed_out_message,
)
from flowless.exceptions import (
    FlowRunTimeoutError,
    StoreError,
)
from flowless.logging._console import RunLoggerAdapter
from flowless.states import Cancelled, Crashed, Failed, State, StateType, TimedOut

if TYPE_CHECKING:
    from flowless.flows import Flow

from flowless.engine._flow_resume import begin_resume
from flowless.engine._flow_setup import (
    Begun,
    SubflowEntry,
    dump,
    start_flow_run,
)

__all__ = [
    "call_flow",
    "resume_flow_run",
    "run_flow",
    "run_flow_async",
    "run_scheduled",
    "start_flow_run_by_id",
]


def call_flow(
    flow: Flow[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    return_state: bool,
    wait_for: Iterable[Any] | None = None,
) -> Any:
    if flow.isgenerator:  # its call returns a generator of its values
        from flowless.engine._generator_flows import call_generator_flow

        return call_generator_flow(flow, args, kwargs, return_state, wait_for)
    if flow.isasync:
        return run_flow_async(flow, args, kwargs, return_state, wait_for)
    guard = enter_engine()  # a timed-out caller is not interrupted in here
    try:
        return run_flow(flow, args, kwargs, return_state, wait_for)
    finally:
        leave_engine(guard)


class _Started:
    """A flow run that exists, has its context set, and is about to run its body."""

    def __init__(self, begun: Begun) -> None:
        self.flow, self.ctx, self.entry, self.logger = begun
        self.token = _flow_run.set(self.ctx)
        persist = self.flow.persist_result
        self.persisting = persisting_results.set(
            persisting_results.get() if persist is None else bool(persist)
        )

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
            self._flush()

    def leave(self) -> None:
        persisting_results.reset(self.persisting)
        _flow_run.reset(self.token)

    def end(self, state: State[Any], return_state: bool) -> Any:
        _settle(self.flow, self.ctx, state, self.entry, self.logger)
        if self.entry is None:
            self._flush()  # a finished flow run is on disk when the call returns
        return state if return_state else call_result(state)

    def _flush(self) -> None:
        try:
            self.ctx.store.flush()
        except StoreError:
            run = self.ctx.flow_run
            self.logger.emit(
                ERROR,
                "This flow run's final state and records are not on disk; once the store "
                "is writable again, resume it: resume_flow_run(%s, %r).",
                self.flow.fn.__name__,
                run.id,
            )
            raise


def run_flow(
    flow: Flow[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    return_state: bool,
    wait_for: Iterable[Any] | None = None,
) -> Any:
    """Run a flow from synchronous code: the body runs on this thread."""
    begun = start_flow_run(flow, args, kwargs, wait_for)
    if isinstance(begun, State):
        return begun if return_state else call_result(begun)
    return _drive_started(_Started(begun), flow, return_state)


def _drive_started(started: _Started, flow: Flow[..., Any], return_state: bool) -> Any:
    if flow.isgenerator:  # a runner's run (a deployment's): nobody iterates it, so drain it
        from flowless.engine._generator_flows import drain_generator_flow

        state = drain_generator_flow(started)
        return state if return_state else call_result(state)
    try:
        state = drive(started.attempts(), partial(_call_body_in_time, flow, started.ctx.parameters))
    except FlowRunCancelling as cancelling:  # marked Cancelling: see _cancel
        state = Cancelled(message=str(cancelling))
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
    guard = enter_engine()  # see flowless._guard: the loop's thread may be a timed worker
    try:
        begun = start_flow_run(flow, args, kwargs, wait_for)
        if isinstance(begun, State):
            return begun if return_state else call_result(begun)
        return await _drive_started_async(_Started(begun), flow, return_state)
    finally:
        leave_engine(guard)


async def _drive_started_async(started: _Started, flow: Flow[..., Any], return_state: bool) -> Any:
    if flow.isgenerator:
        from flowless.engine._generator_flows import drain_generator_flow_async

        state = await drain_generator_flow_async(started)
        return state if return_state else call_result(state)
    try:
        body = partial(_await_body_in_time, flow, started.ctx.parameters)
        state = await drive_async(started.attempts(), body)
    except FlowRunCancelling as cancelling:  # marked Cancelling: see _cancel
        state = Cancelled(message=str(cancelling))
    except BaseException as exc:
        started.crash(exc)
        raise
    finally:
        started.leave()
    return started.end(state, return_state)


def resume_flow_run(
    flow: Flow[..., Any], flow_run_id: str, return_state: bool = False, force: bool = False
) -> Any:
    """Continue a flow run that did not finish (its process was killed, it crashed, it
    failed): the body runs again with the run's stored parameters, and every call that
    completed before returns its recorded result instead of running. A run that already
    completed is not run again; its recorded result is returned. For an async flow this
    returns a coroutine, as calling the flow does; for a generator flow, a generator.

    A run is resumed only once the process running it has ended (``RecordConflictError``
    otherwise); the resuming process takes it over, so of two resumes only one proceeds.
    A run owned by a process on another host cannot be checked: ``force=True`` resumes it.
    """
    if flow.isgenerator:
        from flowless.engine._generator_flows import resume_generator_flow

        return resume_generator_flow(flow, flow_run_id, return_state, force)
    if flow.isasync:
        return _resume_async(flow, flow_run_id, return_state, force)
    begun = begin_resume(flow, flow_run_id, force)
    if isinstance(begun, State):
        return begun if return_state else call_result(begun)
    return _drive_started(_Started(begun), flow, return_state)


async def _resume_async(
    flow: Flow[..., Any], flow_run_id: str, return_state: bool, force: bool
) -> Any:
    begun = begin_resume(flow, flow_run_id, force)
    if isinstance(begun, State):
        return begun if return_state else call_result(begun)
    return await _drive_started_async(_Started(begun), flow, return_state)


def start_flow_run_by_id(flow: Flow[..., Any], flow_run_id: str) -> Any:
    """Run a flow run created ahead of time (a deployment's: ``run_deployment``, a
    schedule slot) and return its final state; for an async flow, a coroutine of it. A run
    that is not Scheduled any more is not run again: its current state comes back (it
    may be Running elsewhere)."""
    if flow.isasync:
        return _start_async(flow, flow_run_id)
    return _start(flow, flow_run_id)[0]


def run_scheduled(flow: Flow[..., Any], flow_run_id: str) -> tuple[State[Any], bool]:
    """``start_flow_run_by_id`` for a runner (serve, the flow-run function), waiting for
    an async flow too: the state, and whether this call ran it (False: someone else has
    it, or it had already ended)."""
    if flow.isasync:
        import asyncio

        return asyncio.run(_start_async_owned(flow, flow_run_id))
    return _start(flow, flow_run_id)


def _start(flow: Flow[..., Any], flow_run_id: str) -> tuple[State[Any], bool]:
    from flowless.engine._scheduled import begin_scheduled

    begun = begin_scheduled(flow, flow_run_id)
    if isinstance(begun, State):
        return begun, False
    return _drive_started(_Started(begun), flow, True), True


async def _start_async(flow: Flow[..., Any], flow_run_id: str) -> Any:
    return (await _start_async_owned(flow, flow_run_id))[0]


async def _start_async_owned(flow: Flow[..., Any], flow_run_id: str) -> tuple[State[Any], bool]:
    from flowless.engine._scheduled import begin_scheduled

    begun = begin_scheduled(flow, flow_run_id)
    if isinstance(begun, State):
        return begun, False
    return await _drive_started_async(_Started(begun), flow, True), True


def _attempts(flow: Flow[..., Any], ctx: FlowRunContext, logger: RunLoggerAdapter) -> Attempts:
    """The attempts of one flow run, for either driver (see ``_drivers``)."""
    while True:
        try:
            value = yield None
            returned = flow_return_to_state(value)  # its errors fail the run, as in Prefect
        except TimeoutError as exc:  # any, as Prefect: its own limit or the body's
            message = timed_out_message("Flow run", exc, FlowRunTimeoutError, flow.timeout_seconds)
            logger.emit(ERROR, "%s", message)
            if isinstance(exc, FlowRunTimeoutError):
                _abandon_futures(ctx)  # the body was stopped
            else:
                _wait_for_futures(ctx)  # the body ended by raising it
            state: State[Any] = TimedOut(message=message, data=exc)
        except Exception as exc:
            logger.emit(ERROR, "Encountered exception during execution: %r", exc, exc=exc)
            _wait_for_futures(ctx)
            state = Failed(
                message=f"Flow run encountered an exception: {type(exc).__name__}: {exc}",
                data=exc,
            )
        else:
            _wait_for_futures(ctx)
            state = returned
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
            run_on_running(flow, ctx.flow_run, logger)  # the run is Running again
            kind = "subflow run" if ctx.flow_run.parent_flow_run_id else "flow run"
            logger.emit(INFO, "Beginning %s %r for flow %r", kind, ctx.flow_run.name, flow.name)
            continue
        return state


def _timeout_error(flow: Flow[..., Any]) -> Callable[[], FlowRunTimeoutError]:
    return scope_timed_out(FlowRunTimeoutError, flow.timeout_seconds)


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
    while True:
        runs = ctx.runs.runs()
        if seen == len(runs):
            return
        for run in runs[seen:]:
            run.wait_done()
        seen = len(runs)


def _abandon_futures(ctx: FlowRunContext) -> None:
    for run in ctx.runs.runs():
        run.cancel()


def _settle(
    flow: Flow[..., Any],
    ctx: FlowRunContext,
    state: State[Any],
    entry: SubflowEntry | None,
    logger: RunLoggerAdapter,
) -> None:
    """Record the final state, close the task runner, log, and run hooks."""
    ctx.shutdown(wait=state.name not in ("TimedOut", "Crashed"))
    record = ctx.flow_run
    payload = dump(ctx.results, state.data) if state.type is StateType.COMPLETED else None
    stamp(record, state, payload)
    write_final(ctx.store, record)
    state.state_details.flow_run_id = record.id
    if entry is not None:
        entry.finish(state, payload)
    # A run that ends Cancelled because the body returned Cancelled() runs no hooks, as
    # in Prefect: its on_cancellation hooks are for a run that was being cancelled
    # (marked Cancelling, see _cancel).
    hooks = {
        StateType.COMPLETED: flow.on_completion_hooks,
        StateType.FAILED: flow.on_failure_hooks,
        StateType.CRASHED: flow.on_crashed_hooks,
        StateType.CANCELLED: flow.on_cancellation_hooks if ctx.cancelling else [],
    }.get(state.type, [])
    run_hooks(hooks, flow, record, state, logger)
    # Prefect's async engine logs a run that did not complete at ERROR, its sync one at INFO.
    level = ERROR if flow.isasync and state.type is not StateType.COMPLETED else INFO
    logger.emit(level, "Finished in state %s", state)
