"""The task-run function: execute one task run to a final state.

This is what an invoker calls, locally or (later) inside the task-run Lambda: record the
start, run attempts with retries and a timeout, persist the result, record the final
state (a completion is written once), write the cache entry, and log as Prefect does.
Whether the task should run at all (replay, cache hit) was decided on the flow side.
"""

from __future__ import annotations

import errno
import inspect
import logging
import math
import random
import time
from collections.abc import Callable
from contextvars import Token
from functools import partial
from logging import ERROR, INFO, WARNING
from typing import TYPE_CHECKING, Any

from flowless.context import TaskRunContext, _task_run, persisting_results
from flowless.engine._drivers import Attempts, await_with_timeout, drive, drive_async
from flowless.engine._hooks import run_awaitable, run_hooks
from flowless.engine._outcome import crash_message, return_value_to_state, stamp
from flowless.engine._timeouts import (
    call_with_timeout,
    join_abandoned,
    scope_timed_out,
    timed_out_message,
)
from flowless.exceptions import (
    ResultSerializationError,
    StoreError,
    StoreUnavailableError,
    TaskRunTimeoutError,
)
from flowless.logging._console import RunLoggerAdapter
from flowless.logging._prints import install_print_logging
from flowless.states import Crashed, Failed, State, StateType, TimedOut
from flowless.store import CacheEntry, Payload

if TYPE_CHECKING:
    from flowless.invoke import TaskCall
    from flowless.results import Results
    from flowless.store import Store, TaskRunRecord
    from flowless.tasks import Task

__all__ = ["TaskRunExecutor", "task_run_logger"]

_TASK_LOGGER = logging.getLogger("flowless.task_runs")
#: How long a result that cannot be written (a full disk) is retried before the task
#: run crashes: a result the store does not hold must never be reported as persisted.
RESULT_RETRY_FOR = 10.0
_TRANSIENT = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EAGAIN}


def task_run_logger(run: TaskRunRecord, task_name: str) -> RunLoggerAdapter:
    return RunLoggerAdapter(
        _TASK_LOGGER,
        {
            "task_run_name": run.name,
            "task_run_id": run.id,
            "task_name": task_name,
            "flow_run_id": run.flow_run_id,
        },
    )


def _jittered(delay: float, factor: float) -> float:
    """Prefect's clamped Poisson interval: random, at most ``delay * (1 + factor)``, and
    centred so the average delay stays about ``delay``."""
    if delay <= 0 or factor <= 0:
        return delay
    upper = delay * (1 + factor)
    k = 1 + factor
    lower_multiple = 0.0 if k >= 50 else math.log(max(2**k / (2**k - 1), 1e-10), 2)
    lower = max(0.0, delay * lower_multiple)

    def cdf(x: float) -> float:
        return 1 - math.exp(-x / delay)

    u = random.uniform(cdf(lower), cdf(upper))
    return min(upper, -math.log(max(1 - u, 1e-10)) * delay)


def _delay_text(delay: float) -> str:
    return f"will start {delay:g} second(s) from now" if delay > 0 else "will start immediately"


def _timeout_error(task: Task[..., Any]) -> Callable[[], TaskRunTimeoutError]:
    return scope_timed_out(TaskRunTimeoutError, task.timeout_seconds)


def _call_fn(task: Task[..., Any], parameters: dict[str, Any]) -> Any:
    args, kwargs = task.shape.split(parameters)
    return task.fn(*args, **kwargs)


def _call_fn_in_time(task: Task[..., Any], parameters: dict[str, Any]) -> Any:
    """One attempt from synchronous code. An async task submitted to the pool gets an
    event loop of its own here, and its timeout cancels the coroutine."""
    if task.isasync:
        import asyncio  # only async flows and tasks need it (~40 ms)

        return asyncio.run(_await_fn_in_time(task, parameters))
    if task.timeout_seconds is None:
        return _call_fn(task, parameters)
    return call_with_timeout(
        lambda: _call_fn(task, parameters), task.timeout_seconds, _timeout_error(task)
    )


async def _await_fn_in_time(task: Task[..., Any], parameters: dict[str, Any]) -> Any:
    """One attempt of an async task, awaited on the caller's own event loop."""
    args, kwargs = task.shape.split(parameters)
    return await await_with_timeout(
        task.fn(*args, **kwargs), task.timeout_seconds, _timeout_error(task)
    )


class TaskRunExecutor:
    """Executes task runs against one store; one instance serves every thread."""

    def __init__(self, store: Store, results: Results, results_must_travel: bool = False) -> None:
        self.store = store
        self.results = results
        #: In a task-run Lambda the result must reach the flow-run function: a result
        #: that cannot be serialized fails the run there, instead of a warning.
        self.results_must_travel = results_must_travel

    def __call__(self, call: TaskCall) -> State[Any]:
        """Run the task from synchronous code (this thread)."""
        logger, token = self._begin(call)
        persist = call.task.persist_result  # tasks it calls inherit it (Prefect's rule)
        persisting = None if persist is None else persisting_results.set(persist)
        try:
            self._running(call, logger)
            state = drive(
                self._attempts(call, logger), partial(_call_fn_in_time, call.task, call.parameters)
            )
            return self._end(call, state, logger)
        except BaseException as exc:  # interrupt or exit: record the crash, then let it go on
            self._finish(call, Crashed(message=crash_message(exc), data=exc), None, logger)
            raise
        finally:
            _task_run.reset(token)
            if persisting is not None:
                persisting_results.reset(persisting)

    async def arun(self, call: TaskCall) -> State[Any]:
        """Run an async task on the caller's event loop."""
        logger, token = self._begin(call)
        persist = call.task.persist_result
        persisting = None if persist is None else persisting_results.set(persist)
        try:
            self._running(call, logger)
            state = await drive_async(
                self._attempts(call, logger), partial(_await_fn_in_time, call.task, call.parameters)
            )
            return self._end(call, state, logger)
        except BaseException as exc:  # cancelled, interrupted: record the crash, go on
            self._finish(call, Crashed(message=crash_message(exc), data=exc), None, logger)
            raise
        finally:
            _task_run.reset(token)
            if persisting is not None:
                persisting_results.reset(persisting)

    def _begin(self, call: TaskCall) -> tuple[RunLoggerAdapter, Token[TaskRunContext | None]]:
        task = call.task
        run = call.task_run
        logger = task_run_logger(run, task.name)
        now = time.time()
        run.state_type = StateType.RUNNING
        run.state_name = "Running"
        run.start_time = now
        self.store.start_task_run(run)
        call.state = State(StateType.RUNNING, created=now)
        if call.log_prints:
            install_print_logging()
        ctx = TaskRunContext(task, run, call.parameters, logger, call.log_prints)
        return logger, _task_run.set(ctx)

    def _running(self, call: TaskCall, logger: RunLoggerAdapter) -> None:
        """``on_running`` hooks, as each attempt starts (Running, then Retrying)."""
        hooks = call.task.on_running_hooks
        if hooks and call.state is not None:
            run_hooks(hooks, call.task, call.task_run, call.state, logger)

    def _end(self, call: TaskCall, state: State[Any], logger: RunLoggerAdapter) -> State[Any]:
        payload = None
        if state.type is StateType.COMPLETED and (
            call.task.persist_result is not False or self.results_must_travel
        ):
            if self.results_must_travel:
                try:
                    payload = self.results.dump(state.data)
                except (ResultSerializationError, StoreError) as exc:
                    message = (
                        f"The task's result cannot be sent back from AWS Lambda: {exc}. Return "
                        "JSON-compatible or picklable data."
                    )
                    logger.emit(ERROR, "%s", message)
                    state = Failed(message=message, data=exc)
            else:
                payload = self._persist(state.data, logger)
        return self._finish(call, state, payload, logger)

    def _attempts(self, call: TaskCall, logger: RunLoggerAdapter) -> Attempts:
        """The attempts of one task run, for either driver (see ``_drivers``)."""
        task = call.task
        run = call.task_run
        while True:
            run.run_count += 1
            exc: Exception | None = None
            try:
                value = yield None
            except Exception as raised:
                exc = raised
                failure: Any = raised
                state = _failure_state(task, raised)
            else:
                call.returned = value
                if not (isinstance(value, State) and value.type is StateType.FAILED):
                    return return_value_to_state(value)
                failure = state = value  # a returned Failed state is retried like an exception
            kind = "exception" if exc is not None else "state"
            retries_done = run.run_count - 1
            # Prefect's rules: with retries left, a declined retry logs nothing; without,
            # the failure is logged (with its traceback) before the final state.
            retrying = retries_done < task.retries
            if retrying and self._should_retry(call, failure, kind, logger):
                if exc is not None:
                    join_abandoned(exc)  # a timed-out attempt must stop before the next
                delays = task.retry_delays
                delay = delays[min(retries_done, len(delays) - 1)]
                if task.retry_jitter_factor is not None:
                    delay = _jittered(delay, task.retry_jitter_factor)
                logger.emit(
                    INFO,
                    "Task run failed with %s: %r - Retry %d/%d %s",
                    kind,
                    failure,
                    retries_done + 1,
                    task.retries,
                    _delay_text(delay),
                )
                call.state = State(StateType.SCHEDULED, "AwaitingRetry")
                if delay > 0:
                    yield delay
                call.state = State(StateType.RUNNING, "Retrying")
                self._running(call, logger)
                continue
            if not retrying:
                suffix = " - Retries are exhausted" if task.retries else ""
                logger.emit(ERROR, "Task run failed with %s: %r%s", kind, failure, suffix, exc=exc)
            if isinstance(exc, TimeoutError):
                logger.emit(ERROR, "%s", state.message)
            return state

    def _should_retry(
        self, call: TaskCall, failure: Any, kind: str, logger: RunLoggerAdapter
    ) -> bool:
        """Ask ``retry_condition_fn`` with the state Prefect passes it: ``Failed`` holding
        the exception (or the returned state), ``Task run encountered unexpected
        exception: ValueError('...')``."""
        condition = call.task.retry_condition_fn
        if condition is None:
            return True
        state = Failed(message=f"Task run encountered unexpected {kind}: {failure!r}", data=failure)
        try:
            answer: Any = condition(call.task, call.task_run, state)  # or an awaitable
            if inspect.isawaitable(answer):
                answer = run_awaitable(answer)
            return bool(answer)
        except Exception as exc:
            logger.emit(
                ERROR,
                "An error was encountered while running `retry_condition_fn` check '%s' for "
                "task %r",
                repr(condition),
                call.task.name,
                exc=exc,
            )
            return False

    def _persist(self, value: Any, logger: RunLoggerAdapter) -> Payload | None:
        """The result as stored. A value that cannot be serialized is passed on in memory,
        as Prefect does; storage that fails is retried, then crashes the task run."""
        deadline: float | None = None
        pause = 0.01
        while True:
            try:
                return self.results.dump(value)
            except ResultSerializationError as exc:
                logger.emit(
                    WARNING,
                    "Encountered an error while persisting result: %s. Execution will continue, "
                    "but the result has not been persisted: it is passed on in memory, is not "
                    "cached, and the task will run again if this flow run is re-run. Return "
                    "JSON-compatible or picklable data, or set persist_result=False.",
                    exc,
                )
                return None
            except StoreUnavailableError:
                raise
            except StoreError as exc:
                cause = exc.__cause__
                if not (isinstance(cause, OSError) and cause.errno in _TRANSIENT):
                    raise  # a folder that is a file, a permission: waiting will not help
                now = time.monotonic()
                if deadline is None:
                    deadline = now + RESULT_RETRY_FOR
                    logger.emit(
                        WARNING,
                        "The result could not be stored (%s); retrying for up to %g s.",
                        exc,
                        RESULT_RETRY_FOR,
                    )
                elif now >= deadline:
                    raise StoreError(
                        f"The task's result could not be stored for {RESULT_RETRY_FOR:g} s: {exc}"
                    ) from exc
                time.sleep(pause)
                pause = min(pause * 2, 0.25)

    def _finish(
        self,
        call: TaskCall,
        state: State[Any],
        payload: Payload | None,
        logger: RunLoggerAdapter,
    ) -> State[Any]:
        run = call.task_run
        stamp(run, state, payload)
        run.cache_key = call.cache_key
        stored = self.store.finish_task_run(run)
        if stored is not run and stored.state_type is StateType.COMPLETED:
            # Another executor completed this run first; its result is the one on record.
            call.task_run = stored
            state = self._stored_state(stored, state)
        elif payload is not None and call.cache_key is not None:
            expiration = call.cache_expiration
            self.store.write_cache_entry(
                CacheEntry(
                    key=call.cache_key,
                    result=payload,
                    created=state.created,
                    expires=None
                    if expiration is None
                    else state.created + expiration.total_seconds(),
                )
            )
        state.state_details.task_run_id = run.id
        state.state_details.flow_run_id = run.flow_run_id
        state.state_details.cache_key = call.cache_key
        call.state = state
        if state.type is StateType.COMPLETED:
            run_hooks(call.task.on_completion_hooks, call.task, call.task_run, state, logger)
            logger.emit(INFO, "Finished in state %s", state)
        else:
            if state.type is StateType.FAILED:
                run_hooks(call.task.on_failure_hooks, call.task, call.task_run, state, logger)
            logger.emit(ERROR, "Finished in state %s", state)
        return state

    def _stored_state(self, stored: TaskRunRecord, fallback: State[Any]) -> State[Any]:
        if stored.result is None:
            return fallback
        data = self.results.load(stored.result)
        return State(StateType.COMPLETED, stored.state_name, stored.state_message, data)


def _failure_state(task: Task[..., Any], exc: BaseException) -> State[Any]:
    if isinstance(exc, TimeoutError):  # any, as Prefect: its own limit or the code's
        message = timed_out_message("Task run", exc, TaskRunTimeoutError, task.timeout_seconds)
        return TimedOut(message=message, data=exc)
    return Failed(
        message=f"Task run encountered an exception {type(exc).__name__}: {exc}", data=exc
    )
