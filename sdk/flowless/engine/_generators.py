"""Generator tasks and flows: a ``@task`` or ``@flow`` whose function is a generator
function (``def f(): yield ...``) or an async one, run the way Prefect 3 runs them
(``run_generator_task_sync`` and friends in its engines).

Calling one returns a generator. The run starts when the caller asks for the first
value, stays Running while the caller iterates, and ends when the function returns
(Completed; the return value is the run's result, and ``x = yield from gen()`` gets it),
raises (Failed; the exception reaches the caller) or is closed early by the caller
(``break``, ``close()``: Completed with result ``None``). As in Prefect:

- a failure is retried (``retries``) by calling the function again from the start, even
  after values were yielded, so the caller sees those values again;
- ``timeout_seconds`` limits each attempt from its start, the caller's time between
  values included. (Unlike Prefect, the caller's own code is never interrupted: a value
  asked for after the deadline fails at once, and one the function takes too long to
  produce is interrupted as a plain timed call is.)
- while the caller iterates, the run's context is current: ``get_run_logger()``,
  ``runtime.task_run``, ``log_prints`` and the flow run a task called in the loop belongs
  to are the generator's;
- ``return_state=True`` raises ``ValueError`` when the first value is asked for;
- a generator task never reads the cache (its values are not its result); a run whose
  key already has an entry ends ``Cached(type=COMPLETED)``, as Prefect names it;
- ``.submit``/``.map`` do not come here: they call the function like any other, so a
  sync generator's future holds the list of its values and an async one fails with
  Prefect's ``TypeError``.

A generator run never goes through the invoker: its values stream to the caller, so it
runs in the caller's process (on AWS, the flow-run function). In a flow run, the values
it yielded are kept as well, under ``VALUES_KEY + run id`` in the cache table, next to
its result: a resumed flow run gets a completed generator call's values (and return
value) again without running it, so the resumed body makes the same calls. Values that
cannot be stored leave the call out of the journal: it runs again on resume.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Iterable
from functools import partial
from logging import DEBUG
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from flowless.context import _task_run
from flowless.engine import _drivers
from flowless.engine._drivers import Attempts, await_with_timeout
from flowless.engine._flow_run import _Started, _timeout_error
from flowless.engine._flow_setup import Begun, begin_resume, start_flow_run
from flowless.engine._outcome import call_result, crash_message
from flowless.engine._runtime import current_runtime
from flowless.engine._tag_limits import (
    release_tag_slots,
    take_tag_slots,
    take_tag_slots_async,
)
from flowless.engine._task_call import (
    Scope,
    _cache_key,
    _call_result,
    _logger,
    _not_ready,
    _prepare,
    _scope,
    _settled,
    _task_run_name,
)
from flowless.engine._task_run import TaskRunExecutor
from flowless.engine._timeouts import (
    TimeLimitExceeded,
    call_with_timeout,
    enter_engine,
    leave_engine,
    scope_timed_out,
)
from flowless.exceptions import (
    CorruptRecordError,
    ResultSerializationError,
    StoreError,
    TaskRunTimeoutError,
    UntrustedPayloadError,
    UpstreamTaskError,
)
from flowless.states import Crashed, State, StateType
from flowless.store import CacheEntry
from flowless.utilities.engine import resolve_inputs_sync, wait_for_dependencies

if TYPE_CHECKING:
    from flowless._guard import Guard
    from flowless.concurrency._acquire import Acquired
    from flowless.flows import Flow
    from flowless.invoke import TaskCall
    from flowless.results import Results
    from flowless.store import Store
    from flowless.tasks import Task

__all__ = [
    "VALUES_KEY",
    "call_generator_flow",
    "call_generator_task",
    "drain_generator_flow",
    "drain_generator_flow_async",
    "resume_generator_flow",
]

#: Prefix of the cache-table key holding the values a generator run yielded (a task
#: key never has a ``-`` in it, so it cannot meet a cache key).
VALUES_KEY = "generator-values:"

_TASK_RETURN_STATE = "The return_type for a generator task must be 'result'"
_FLOW_RETURN_STATE = "The return_type for a generator flow must be 'result'"


class _Answer(NamedTuple):
    """A call answered without running: the values to yield and what the call returns."""

    values: list[Any]
    value: Any


class _Run(Protocol):
    """One started generator run, as the two drivers below need it."""

    attempts: Attempts
    #: Every value yielded to the caller, across attempts (``None``: not kept).
    kept: list[Any] | None
    seconds: float | None

    def timed_out(self) -> BaseException: ...

    def open(self) -> Any:
        """The user's generator, for one attempt."""

    def end(self, state: State[Any]) -> Any:
        """Record the final state; what the call returns (a failure raises)."""

    def crash(self, exc: BaseException) -> None: ...


def _enter(closing: bool = False) -> Guard | None:
    """``enter_engine``; when closing, also on a caller whose time is up (it is being
    stopped already, and the run must still be recorded)."""
    try:
        return enter_engine()
    except TimeLimitExceeded:
        if closing:
            return None
        raise


def _leave(guard: Guard | None, closing: bool = False) -> None:
    try:
        leave_engine(guard)
    except TimeLimitExceeded:
        if not closing:
            raise


def _reset(reset: Callable[[], object]) -> None:
    """Leave a run's context. A generator closed elsewhere (garbage-collected on another
    thread, closed by asyncio at shutdown) is in another context: nothing to reset there."""
    with contextlib.suppress(ValueError, RuntimeError):
        reset()


def _returned_none(attempts: Attempts) -> State[Any]:
    """The final state of an attempt the caller closed early: as if the function returned
    ``None`` (Prefect's ``handle_success(None)``)."""
    try:
        attempts.send(None)
    except StopIteration as done:
        state: State[Any] = done.value
        return state
    raise RuntimeError("a successful attempt was retried")  # pragma: no cover - cannot be


def _kept_values(store: Store, results: Results, run_id: str) -> list[Any] | None:
    """The values a completed generator run yielded, if they were kept and can be read."""
    entry = store.read_cache_entry(VALUES_KEY + run_id, time.time())
    if entry is None:
        return None
    try:
        values: list[Any] = results.load(entry.result, f"the values of generator run {run_id}")
    except UntrustedPayloadError:
        raise  # never run again in its place, as the journal (docs/security.md)
    except CorruptRecordError:
        return None
    return values


def _keep_values(store: Store, results: Results, run_id: str, values: list[Any]) -> bool:
    """Store what a completed run yielded; ``False`` if it cannot be serialized."""
    try:
        payload = results.dump(values)
    except (ResultSerializationError, StoreError):
        return False
    store.write_cache_entry(CacheEntry(VALUES_KEY + run_id, payload, time.time()))
    return True


# -- the sync driver ------------------------------------------------------------------


def _advance(
    gen: Any,
    resume: Callable[[Any], Any],
    given: Any,
    deadline: float | None,
    timed_out: Callable[[], BaseException],
) -> Any:
    """Resume the user's generator once (``send``/``throw``) within the attempt's time."""
    if deadline is None:
        return resume(given)
    left = deadline - time.monotonic()
    if left <= 0:  # the time ran out while the caller had the value
        with contextlib.suppress(Exception):
            gen.close()
        raise timed_out()
    return call_with_timeout(partial(resume, given), left, timed_out)


def _one_attempt(run: _Run, problems: list[Exception]) -> Generator[Any, Any, Any]:
    """Call the function and pass its values on; what it returned."""
    gen = run.open()
    deadline = None if run.seconds is None else time.monotonic() + run.seconds
    resume: Callable[[Any], Any] = gen.send
    given: Any = None
    while True:
        try:
            value = _advance(gen, resume, given, deadline, run.timed_out)
        except StopIteration as done:
            return done.value
        if run.kept is not None:
            run.kept.append(value)
        try:
            given = yield value
            resume = gen.send
        except GeneratorExit:
            try:
                gen.close()  # its ``finally`` runs now, before the run is recorded
            except Exception as exc:
                problems.append(exc)
            raise
        except BaseException as exc:  # thrown in by the caller: the function gets it
            resume, given = gen.throw, exc


def _attempts_of(run: _Run, problems: list[Exception]) -> Generator[Any, Any, State[Any]]:
    """``_drivers.drive`` for a generator function: an attempt's call streams values."""
    attempts = run.attempts
    step = next(attempts)
    while True:
        try:
            if step is None:
                try:
                    value = yield from _one_attempt(run, problems)
                except Exception as exc:
                    step = attempts.throw(exc)
                else:
                    step = attempts.send(value)
            else:
                _drivers.sleep(step)
                step = attempts.send(None)
        except StopIteration as done:
            final: State[Any] = done.value
            return final


def _stream(run: _Run) -> Generator[Any, Any, Any]:
    """A begun run's values, then what the call returns."""
    problems: list[Exception] = []
    try:
        state = yield from _attempts_of(run, problems)
    except GeneratorExit:
        run.end(_returned_none(run.attempts))
        if problems:  # the function's cleanup failed: the caller closing it gets that
            raise problems[0] from None
        return None
    except BaseException as exc:  # interrupted: record the crash, then let it go on
        run.crash(exc)
        raise
    return run.end(state)


def _values(start: Callable[[], _Answer | _Run], refused: str | None) -> Generator[Any, Any, Any]:
    """The generator a call returns: nothing happens until its first value is asked for."""
    if refused is not None:
        raise ValueError(refused)
    run = start()
    if isinstance(run, _Answer):
        yield from run.values
        return run.value
    return (yield from _stream(run))


# -- the async driver -----------------------------------------------------------------


async def _aadvance(
    agen: Any,
    resume: Callable[[Any], Any],
    given: Any,
    deadline: float | None,
    timed_out: Callable[[], BaseException],
) -> Any:
    if deadline is None:
        return await resume(given)
    left = deadline - time.monotonic()
    if left <= 0:
        with contextlib.suppress(Exception):
            await agen.aclose()
        raise timed_out()
    return await await_with_timeout(resume(given), left, timed_out)


async def _avalues(
    start: Callable[[], Awaitable[_Answer | _Run]], refused: str | None
) -> AsyncGenerator[Any, Any]:
    """The async generator a call returns: the sync driver's work, written out in one
    frame (an async generator can neither ``yield from`` nor return a value: a failure
    is raised, as in Prefect)."""
    import asyncio

    if refused is not None:
        raise ValueError(refused)
    run = await start()
    if isinstance(run, _Answer):
        for value in run.values:
            yield value
        return
    attempts = run.attempts
    problems: list[Exception] = []
    try:
        step = next(attempts)
        while True:
            try:
                if step is None:
                    failure: Exception | None = None
                    agen = run.open()
                    deadline = None if run.seconds is None else time.monotonic() + run.seconds
                    resume: Callable[[Any], Any] = agen.asend
                    given: Any = None
                    while True:
                        try:
                            value = await _aadvance(agen, resume, given, deadline, run.timed_out)
                        except StopAsyncIteration:
                            break
                        except Exception as exc:
                            failure = exc
                            break
                        if run.kept is not None:
                            run.kept.append(value)
                        try:
                            given = yield value
                            resume = agen.asend
                        except GeneratorExit:
                            try:
                                await agen.aclose()
                            except Exception as exc:
                                problems.append(exc)
                            raise
                        except BaseException as exc:
                            resume, given = agen.athrow, exc
                    step = attempts.send(None) if failure is None else attempts.throw(failure)
                else:
                    await asyncio.sleep(step)
                    step = attempts.send(None)
            except StopIteration as done:
                state: State[Any] = done.value
                break
    except GeneratorExit:
        run.end(_returned_none(attempts))
        if problems:
            raise problems[0] from None
        return
    except BaseException as exc:
        run.crash(exc)
        raise
    run.end(state)


# -- tasks ----------------------------------------------------------------------------


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
    try:
        call.parameters = resolve_inputs_sync(call.parameters)
        if wait_for:
            wait_for_dependencies(wait_for)
    except UpstreamTaskError as exc:
        _settled(scope, call, _not_ready(scope, call, exc))
        return _Answer([], None)  # Prefect's generator yields nothing and returns None
    if task.task_run_name is not None:
        call.task_run.name = _task_run_name(call) or call.task_run.name
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


# -- flows ----------------------------------------------------------------------------


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
