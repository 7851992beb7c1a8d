"""Futures for submitted task runs, ``wait`` / ``as_completed`` over them, and the search
for futures and states inside what a task receives and what a flow returns.

A ``PrefectFuture`` wraps the ``SubmittedRun`` whose outcome is the task run's final
``State``; ``result()`` unwraps it the way Prefect does (a failed run
raises its exception).
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar

from flowless._guard import enter_engine, leave_engine
from flowless._submitted import RunQueue, SubmittedRun, help_until_done
from flowless._traversal import visit_futures
from flowless.states import State, StateType

if TYPE_CHECKING:
    from flowless.invoke import TaskCall

__all__ = [
    "DoneAndNotDoneFutures",
    "PrefectFuture",
    "PrefectFutureList",
    "RunQueue",
    "SubmittedRun",
    "as_completed",
    "resolve_futures_to_results",
    "resolve_futures_to_states",
    "visit_futures",
    "wait",
]

R = TypeVar("R")


class PrefectFuture(Generic[R]):
    """The eventual result of one submitted task run.

    A worker thread that waits on a run helps run the flow run's queued runs first (see
    ``RunQueue``). Every method is engine code for
    the timeout guard (``flowless._guard``), so a timed worker is never interrupted in
    the middle of the futures' own locking.
    """

    __slots__ = ("_call", "_run")

    def __init__(self, call: TaskCall, run: SubmittedRun[R]) -> None:
        self._call = call
        self._run = run

    def _steal(self) -> None:
        # Also before a bounded wait: in a saturated pool the run would otherwise not start
        # before the wait gives up.
        help_until_done(self._run)

    @property
    def task_run_id(self) -> str:
        return self._call.task_run.id

    @property
    def state(self) -> State[R]:
        """The final state when done; otherwise the run's current Pending/Running state."""
        guard = enter_engine()
        try:
            run = self._run
            if run.done() and not run.cancelled() and not run.failed():
                return run.outcome()
            current: State[R] | None = self._call.state  # also a run ended by a BaseException
            return current if current is not None else State(StateType.PENDING)
        finally:
            leave_engine(guard)

    def wait(self, timeout: float | None = None) -> None:
        guard = enter_engine()
        try:
            self._steal()
            self._run.wait_done(timeout)
        finally:
            leave_engine(guard)

    def done(self) -> bool:
        return self._run.done()

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> R:
        guard = enter_engine()
        try:
            self._steal()
            if not self._run.wait_done(timeout):
                raise TimeoutError(
                    f"Task run {self.task_run_id} did not complete within {timeout} seconds"
                )
            state = self._run.outcome()
        finally:
            leave_engine(guard)
        value: R = state.result(raise_on_failure=raise_on_failure)
        return value

    def add_done_callback(self, fn: Callable[[PrefectFuture[R]], object]) -> None:
        guard = enter_engine()
        try:
            if not self._run.listen(lambda _: fn(self)):
                self._run._tell([lambda _: fn(self)])  # done already: at once, as
                # concurrent.futures does (an exception is logged, not raised)
        finally:
            leave_engine(guard)

    def __repr__(self) -> str:
        return f"PrefectFuture(task_run={self._call.task_run.name!r}, state={self.state})"


#: Prefect's concrete class name for thread-pool futures.
PrefectConcurrentFuture = PrefectFuture


class PrefectFutureList(list[PrefectFuture[R]]):
    """What ``task.map`` returns: a list of futures with list-wide ``wait`` and ``result``."""

    def wait(self, timeout: float | None = None) -> None:
        wait(self, timeout=timeout)

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> list[R]:
        not_done = wait(self, timeout=timeout).not_done
        if not_done:
            raise TimeoutError(f"{len(not_done)} task run(s) did not complete within {timeout} s")
        return [f.result(raise_on_failure=raise_on_failure) for f in self]


class DoneAndNotDoneFutures(NamedTuple):
    done: set[PrefectFuture[Any]]
    not_done: set[PrefectFuture[Any]]


def wait(
    futures: Iterable[PrefectFuture[Any]], timeout: float | None = None
) -> DoneAndNotDoneFutures:
    """Block until all futures are done or ``timeout`` passes; report which are which."""
    futures = list(futures)
    deadline = None if timeout is None else time.monotonic() + timeout
    guard = enter_engine()
    try:
        for future in futures:
            future._steal()
        for future in futures:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not future._run.wait_done(left):
                break
    finally:
        leave_engine(guard)
    done = {f for f in futures if f._run.done()}
    return DoneAndNotDoneFutures(done, {f for f in futures if f not in done})


def as_completed(
    futures: Iterable[PrefectFuture[Any]], timeout: float | None = None
) -> Iterator[PrefectFuture[Any]]:
    """Yield futures as they finish; ``TimeoutError`` if ``timeout`` passes first."""
    by_run = {f._run: f for f in futures}
    deadline = None if timeout is None else time.monotonic() + timeout
    finished: queue.SimpleQueue[SubmittedRun[Any]] = queue.SimpleQueue()
    guard = enter_engine()
    try:
        for future in by_run.values():
            future._steal()
        pending = {run for run in by_run if run.listen(finished.put)}
    finally:
        leave_engine(guard)
    for run, future in by_run.items():
        if run not in pending:
            yield future
    for _ in pending:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        guard = enter_engine()
        try:
            run = finished.get(timeout=left)
        except queue.Empty:
            raise TimeoutError(f"Futures did not complete within {timeout} seconds") from None
        finally:
            leave_engine(guard)
        yield by_run[run]


def _final_state(future: PrefectFuture[Any], allow_failed: bool) -> State[Any]:
    future.wait()
    return future.state


def resolve_futures_to_states(value: Any) -> Any:
    """Replace futures (also inside containers) by their final states, waiting for them,
    as Prefect does with what a flow returns: states already there stay, annotations stay
    (their contents are searched, except a ``quote``'s)."""
    return visit_futures(value, _final_state, unwrap=False)


def resolve_futures_to_results(value: Any) -> Any:
    """One task argument as the task receives it: futures and states (also inside
    containers) replaced by their results, annotations removed, a ``quote``'s contents
    untouched; ``UpstreamTaskError`` for an upstream that did not complete (a failed one
    inside ``allow_failure`` gives its exception instead).

    Prefect's function of this name replaces futures only and raises a plain
    ``Exception``; this one applies the rules of a task's arguments, which is what
    flowless uses it for (``flowless.utilities.engine.resolve_inputs_sync`` adds Prefect's
    error naming the parameter).
    """
    from flowless.utilities.engine import final_result

    return visit_futures(value, final_result, states=True)
