"""Generator tasks (see ``_generators``): calling one starts nothing; its run begins
when the caller asks for the first value, through the same steps as any task run
(``_task_call``: the journal, the upstreams, the tag slots; ``_task_run``: attempts)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from functools import partial
from logging import DEBUG
from typing import TYPE_CHECKING, Any

from flowless.context import _task_run
from flowless.engine._generators import (
    _TASK_RETURN_STATE,
    _Answer,
    _avalues,
    _enter,
    _keep_values,
    _kept_values,
    _leave,
    _reset,
    _Run,
    _values,
)
from flowless.engine._outcome import crash_message
from flowless.engine._tag_limits import (
    release_tag_slots,
    take_tag_slots,
    take_tag_slots_async,
)
from flowless.engine._task_call import (
    Scope,
    _cache_key,
    _call_result,
    _inputs_ready,
    _logger,
    _prepare,
    _scope,
    _settled,
)
from flowless.engine._task_run import TaskRunExecutor
from flowless.engine._timeouts import (
    enter_engine,
    leave_engine,
    scope_timed_out,
)
from flowless.exceptions import (
    TaskRunTimeoutError,
)
from flowless.states import Crashed, State, StateType

if TYPE_CHECKING:
    from flowless.concurrency._acquire import Acquired
    from flowless.invoke import TaskCall
    from flowless.tasks import Task


__all__ = ["call_generator_task"]


class _TaskRun:
    """A generator task run, driven by the task-run function's own steps (record Running,
    the attempts with their retries and messages, the result, hooks, the final line)."""

    def __init__(self, scope: Scope, call: TaskCall, cached: bool, held: Acquired | None) -> None:
        self.scope = scope
        self.call = call
        self.cached = cached
        self.held = held
        self.executor = TaskRunExecutor(scope.store, scope.results)
        self.seconds = call.task.timeout_seconds
        keep = scope.flow_run is not None and call.task.persist_result is not False
        self.kept: list[Any] | None = [] if keep else None

    def begin(self) -> None:
        self.logger, self.token = self.executor._begin(self.call)
        self.executor._running(self.call, self.logger)
        self.attempts = self.executor._attempts(self.call, self.logger)

    def timed_out(self) -> BaseException:
        return scope_timed_out(TaskRunTimeoutError, self.seconds)()

    def open(self) -> Any:
        args, kwargs = self.call.task.shape.split(self.call.parameters)
        return self.call.task.fn(*args, **kwargs)

    def end(self, state: State[Any]) -> Any:
        guard = _enter(closing=True)
        try:
            self._record(state)
        finally:
            self._release()
            _leave(guard, closing=True)
        return _call_result(self.call, self.call.state or state)

    def _record(self, state: State[Any]) -> None:
        call, executor = self.call, self.executor
        if state.type is StateType.COMPLETED and self.cached:
            state.name = "Cached"  # Prefect's name when the key has an entry, left as it is
            call.cache_key = None
        run = call.task_run
        if (
            state.type is StateType.COMPLETED
            and self.kept is not None
            and not _keep_values(self.scope.store, self.scope.results, run.id, self.kept)
        ):
            self.logger.emit(
                DEBUG, "The values it yielded cannot be stored: it will run again on resume."
            )
            executor._finish(call, state, None, self.logger)  # so out of the journal
        else:
            executor._end(call, state, self.logger)
        _settled(self.scope, call, call.state or state)

    def crash(self, exc: BaseException) -> None:
        guard = _enter(closing=True)
        try:
            crashed: State[Any] = Crashed(message=crash_message(exc), data=exc)
            self.executor._finish(self.call, crashed, None, self.logger)
        finally:
            self._release()
            _leave(guard, closing=True)

    def _release(self) -> None:
        _reset(partial(_task_run.reset, self.token))
        if self.held is not None:
            release_tag_slots(self.held)
            self.held = None


def _decide(scope: Scope, call: TaskCall, wait_for: Iterable[Any] | None) -> _Answer | bool:
    """Before running: the answer when the call does not run (an upstream did not
    complete, the journal has it), else whether its cache key already has an entry."""
    task = call.task
    not_ready = _inputs_ready(scope, call, wait_for)
    if not_ready is not None:
        _settled(scope, call, not_ready)
        return _Answer([], None)  # Prefect's generator yields nothing and returns None
    replay = scope.replay
    if replay is not None:
        replayed = replay.get((task.task_key, call.task_run.dynamic_key))
        if replayed is not None:
            run_id = replayed.state_details.task_run_id or call.task_run.id
            values = _kept_values(scope.store, scope.results, run_id)
            if values is not None:
                _logger(call).emit(DEBUG, "Replayed from the flow run's journal: %s", replayed)
                call.state = replayed
                return _Answer(values, replayed.data)
    cache_key = _cache_key(scope, call)
    if cache_key is None:
        return False
    call.cache_key = cache_key
    call.cache_expiration = task.cache_expiration
    if task.refresh_cache:
        return False
    return scope.store.read_cache_entry(cache_key, time.time()) is not None


def _begun(
    scope: Scope, call: TaskCall, cached: bool, held: Acquired | State[Any] | None
) -> _Answer | _TaskRun:
    if isinstance(held, State):  # a limit of 0 on a tag: the run can never start
        return _Answer([], None)
    run = _TaskRun(scope, call, cached, held)
    try:
        run.begin()
    except BaseException:
        if held is not None:
            release_tag_slots(held)
        raise
    return run


def _start_task(scope: Scope, call: TaskCall, wait_for: Iterable[Any] | None) -> _Answer | _Run:
    guard = enter_engine()
    try:
        cached = _decide(scope, call, wait_for)
        if isinstance(cached, _Answer):
            return cached
        return _begun(scope, call, cached, take_tag_slots(scope.store, call))
    finally:
        leave_engine(guard)


async def _astart_task(
    scope: Scope, call: TaskCall, wait_for: Iterable[Any] | None
) -> _Answer | _Run:
    guard = enter_engine()
    try:
        cached = _decide(scope, call, wait_for)
    finally:
        leave_engine(guard)
    if isinstance(cached, _Answer):
        return cached
    held = await take_tag_slots_async(scope.store, call)  # a wait, off the event loop
    guard = enter_engine()
    try:
        return _begun(scope, call, cached, held)
    finally:
        leave_engine(guard)


def call_generator_task(
    task: Task[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    return_state: bool,
    wait_for: Iterable[Any] | None,
) -> Any:
    """Calling a generator task: its arguments are bound now (a bad call raises here,
    as in Prefect); the run starts when its first value is asked for."""
    guard = enter_engine()
    try:
        scope = _scope()
        call = _prepare(scope, task, args, kwargs)
    finally:
        leave_engine(guard)
    refused = _TASK_RETURN_STATE if return_state else None
    if task.isasync:
        return _avalues(partial(_astart_task, scope, call, wait_for), refused)
    return _values(partial(_start_task, scope, call, wait_for), refused)
