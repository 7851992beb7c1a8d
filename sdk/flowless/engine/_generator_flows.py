"""Generator flows (see ``_generators``): a flow run that streams its values to the
caller, started, resumed or run to the end by a deployment's runner."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

from flowless.engine._flow_resume import begin_resume
from flowless.engine._flow_run import _Started, _timeout_error
from flowless.engine._flow_setup import Begun, start_flow_run
from flowless.engine._generators import (
    _FLOW_RETURN_STATE,
    _Answer,
    _avalues,
    _enter,
    _keep_values,
    _kept_values,
    _leave,
    _reset,
    _Run,
    _stream,
    _values,
)
from flowless.engine._outcome import call_result, crash_message
from flowless.engine._runtime import current_runtime
from flowless.engine._timeouts import (
    enter_engine,
    leave_engine,
)
from flowless.states import Crashed, State, StateType

if TYPE_CHECKING:
    from flowless.flows import Flow


__all__ = [
    "call_generator_flow",
    "drain_generator_flow",
    "drain_generator_flow_async",
    "resume_generator_flow",
]


class _FlowRun:
    """A generator flow run: the flow run's own attempts, context, settling and hooks."""

    def __init__(self, started: _Started) -> None:
        self.started = started
        self.flow = started.flow
        self.attempts = started.attempts()
        self.seconds = self.flow.timeout_seconds
        #: A subflow's values are kept for its parent's journal.
        self.kept: list[Any] | None = [] if started.entry is not None else None
        self.state: State[Any] | None = None

    def timed_out(self) -> BaseException:
        return _timeout_error(self.flow)()

    def open(self) -> Any:
        args, kwargs = self.flow.shape.split(self.started.ctx.parameters)
        return self.flow.fn(*args, **kwargs)

    def end(self, state: State[Any]) -> Any:
        self.state = state
        guard = _enter(closing=True)
        try:
            entry = self.started.entry
            if entry is not None and self.kept is not None and state.type is StateType.COMPLETED:
                ctx = self.started.ctx
                if not _keep_values(ctx.store, ctx.results, entry.record.id, self.kept):
                    entry.journaled = False  # its values cannot come back: it runs again
            _reset(self.started.leave)
            return self.started.end(state, False)
        finally:
            _leave(guard, closing=True)

    def crash(self, exc: BaseException) -> None:
        self.state = Crashed(message=crash_message(exc), data=exc)
        guard = _enter(closing=True)
        try:
            self.started.crash(exc)
            _reset(self.started.leave)
        finally:
            _leave(guard, closing=True)


def _start_flow(begin: Callable[[], Begun | State[Any]]) -> _Answer | _Run:
    guard = enter_engine()
    try:
        begun = begin()
        if not isinstance(begun, State):
            return _FlowRun(_Started(begun))
        value = call_result(begun)  # rejected parameters: the error is raised here
        values = None
        run_id = begun.state_details.task_run_id  # a subflow replayed from the journal
        if run_id is not None:
            runtime = current_runtime()
            values = _kept_values(runtime.store, runtime.results, run_id)
        return _Answer(values or [], value)
    finally:
        leave_engine(guard)


async def _astart_flow(begin: Callable[[], Begun | State[Any]]) -> _Answer | _Run:
    return _start_flow(begin)


def _flow_values(
    flow: Flow[..., Any], begin: Callable[[], Begun | State[Any]], return_state: bool
) -> Any:
    refused = _FLOW_RETURN_STATE if return_state else None
    if flow.isasync:
        return _avalues(partial(_astart_flow, begin), refused)
    return _values(partial(_start_flow, begin), refused)


def call_generator_flow(
    flow: Flow[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    return_state: bool,
    wait_for: Iterable[Any] | None,
) -> Any:
    """Calling a generator flow: the run (its parameters, its name, its record) begins
    when the first value is asked for, as in Prefect."""
    return _flow_values(flow, partial(start_flow_run, flow, args, kwargs, wait_for), return_state)


def resume_generator_flow(
    flow: Flow[..., Any], flow_run_id: str, return_state: bool, force: bool
) -> Any:
    """``resume_flow_run`` of a generator flow: a generator again, which continues the
    run as it is iterated (a run that had completed yields nothing and returns its
    result)."""
    return _flow_values(flow, partial(begin_resume, flow, flow_run_id, force), return_state)


def drain_generator_flow(started: _Started) -> State[Any]:
    """Run a generator flow that nobody iterates (a deployment's run, started by a
    runner) to its end; its final state."""
    run = _FlowRun(started)
    with contextlib.suppress(Exception):  # the state says what happened
        for _ in _stream(run):
            pass
    assert run.state is not None
    return run.state


async def drain_generator_flow_async(started: _Started) -> State[Any]:
    run = _FlowRun(started)

    async def begun() -> _Run:
        return run

    with contextlib.suppress(Exception):
        async for _ in _avalues(begun, None):
            pass
    assert run.state is not None
    return run.state
