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
import contextvars
import sys
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from flowless.engine import _drivers
from flowless.engine._drivers import Attempts, await_with_timeout
from flowless.engine._timeouts import (
    TimeLimitExceeded,
    call_with_timeout,
    enter_engine,
    leave_engine,
)
from flowless.exceptions import (
    CorruptRecordError,
    ResultSerializationError,
    StoreError,
    UntrustedPayloadError,
)
from flowless.states import State
from flowless.store import CacheEntry

if TYPE_CHECKING:
    from flowless._guard import Guard
    from flowless.results import Results
    from flowless.store import Store

__all__ = ["VALUES_KEY"]  # the drivers; tasks: _generator_tasks, flows: _generator_flows

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
    context: contextvars.Context | None = None,
) -> Any:
    """Resume the user's generator once (``send``/``throw``) within the attempt's time.

    A timed step runs on a helper thread; ``context`` is the attempt's own, entered by
    every step, so a context variable the function sets before a ``yield`` (a ``tags``
    block around it) is still its own after (each step in a fresh copy failed on it)."""
    if deadline is None:
        return resume(given)
    left = deadline - time.monotonic()
    if left <= 0:  # the time ran out while the caller had the value
        with contextlib.suppress(Exception):
            gen.close()
        raise timed_out()
    step = partial(resume, given) if context is None else partial(context.run, resume, given)
    return call_with_timeout(step, left, timed_out)


def _one_attempt(run: _Run, problems: list[Exception]) -> Generator[Any, Any, Any]:
    """Call the function and pass its values on; what it returned."""
    gen = run.open()
    deadline = None if run.seconds is None else time.monotonic() + run.seconds
    context = None if deadline is None else contextvars.copy_context()
    resume: Callable[[Any], Any] = gen.send
    given: Any = None
    while True:
        try:
            value = _advance(gen, resume, given, deadline, run.timed_out, context)
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
    context: contextvars.Context | None = None,
) -> Any:
    """``_advance`` for an async generator: a timed step is a task of its own, run in the
    attempt's ``context`` (Python 3.11+; 3.10 cannot give a task a context, so there a
    context variable set before a ``yield`` is lost after it)."""
    if deadline is None:
        return await resume(given)
    left = deadline - time.monotonic()
    if left <= 0:
        with contextlib.suppress(Exception):
            await agen.aclose()
        raise timed_out()
    step = resume(given)
    if context is not None and sys.version_info >= (3, 11):
        import asyncio

        step = asyncio.get_running_loop().create_task(step, context=context)  # type: ignore[call-arg,unused-ignore]
    return await await_with_timeout(step, left, timed_out)


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
                    context = None if deadline is None else contextvars.copy_context()
                    resume: Callable[[Any], Any] = agen.asend
                    given: Any = None
                    while True:
                        try:
                            value = await _aadvance(
                                agen, resume, given, deadline, run.timed_out, context
                            )
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
