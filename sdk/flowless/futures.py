"""Futures for submitted task runs, ``wait`` / ``as_completed`` over them, and the search
for futures and states inside what a task receives and what a flow returns.

A ``PrefectFuture`` wraps a ``concurrent.futures.Future`` that resolves to the task
run's final ``State``; ``result()`` unwraps it the way Prefect does (a failed run
raises its exception).
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar

from flowless._guard import enter_engine, leave_engine
from flowless._traversal import visit_futures
from flowless.states import State, StateType
from flowless.task_runners import is_worker_thread

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


def _done() -> Any:
    raise RuntimeError("a submitted run executes once")


class SubmittedRun(Generic[R]):
    """One submitted task run: its public future, and the work that completes it.

    Whoever claims the run first executes it: the pool thread it was queued on, or a
    worker thread that helps while it waits (see ``RunQueue``). The other party finds it
    claimed and does nothing, so the run executes once and its future is completed only
    by the run itself.
    """

    __slots__ = ("_claim", "_work", "future", "queue")

    def __init__(self, work: Callable[[], State[R]], queue: RunQueue) -> None:
        self.future: cf.Future[State[R]] = cf.Future()
        self._work = work
        self._claim = threading.Lock()
        self.queue = queue

    def claim(self) -> bool:
        return self._claim.acquire(blocking=False)

    def run(self) -> None:
        """The pool's entry point."""
        if self.claim():
            self.execute()

    def execute(self) -> None:
        """Run it (the caller has claimed it)."""
        if not self.future.set_running_or_notify_cancel():
            return  # cancelled before it started (the flow run timed out)
        work, self._work = self._work, _done  # its closure (arguments, context) goes now
        try:
            state = work()
        except BaseException as exc:
            self.future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
        else:
            self.future.set_result(state)


class RunQueue:
    """The runs submitted in one flow run, in submission order.

    A worker thread (a pool thread, or the worker of a timed task) that is about to wait
    on a run helps instead: it claims and executes the oldest run nobody has started,
    until what it waits for is done. Tasks that submit tasks and wait for them therefore
    never starve a bounded pool, and because the oldest runs go first (a chain of
    ``wait_for`` dependencies runs front to back), helping never recurses deeply.
    """

    def __init__(self, keep: bool = True) -> None:
        self._runs: list[SubmittedRun[Any]] = []
        self._next = 0
        self._lock = threading.Lock()
        #: Keep every run (a flow run waits for all of them at its end); ``False`` for
        #: task runs outside flows, whose claimed runs are forgotten.
        self._keep = keep

    def add(self, run: SubmittedRun[Any]) -> None:
        with self._lock:
            self._runs.append(run)

    def futures(self) -> list[cf.Future[Any]]:
        with self._lock:
            return [run.future for run in self._runs]

    def claim_next(self) -> SubmittedRun[Any] | None:
        with self._lock:
            runs = self._runs
            while self._next < len(runs):
                run = runs[self._next]
                self._next += 1
                if run.claim():
                    self._forget_claimed()
                    return run
            self._forget_claimed()
            return None

    def _forget_claimed(self) -> None:
        if not self._keep and self._next > 256:
            del self._runs[: self._next]
            self._next = 0


def _help_until_done(future: cf.Future[Any], queue: RunQueue) -> None:
    if not is_worker_thread():
        return  # the flow thread never helps: its waits (even polls) behave as on a free pool
    while not future.done():
        run = queue.claim_next()
        if run is None:
            return  # everything has started somewhere: just wait
        run.execute()


class PrefectFuture(Generic[R]):
    """The eventual result of one submitted task run.

    A worker thread that waits on a run helps run the flow run's queued runs first (see
    ``RunQueue``). Every method is engine code for
    the timeout guard (``flowless._guard``), so a timed worker is never interrupted in
    the middle of the futures' own locking.
    """

    __slots__ = ("_call", "_future", "_run")

    def __init__(self, call: TaskCall, run: SubmittedRun[R]) -> None:
        self._call = call
        self._run = run
        self._future = run.future

    def _steal(self) -> None:
        # Also before a bounded wait: in a saturated pool the run would otherwise not start
        # before the wait gives up.
        _help_until_done(self._future, self._run.queue)

    @property
    def task_run_id(self) -> str:
        return self._call.task_run.id

    @property
    def state(self) -> State[R]:
        """The final state when done; otherwise the run's current Pending/Running state."""
        guard = enter_engine()
        try:
            future = self._future
            if future.done() and not future.cancelled() and future.exception() is None:
                return future.result()
            current: State[R] | None = self._call.state  # also a run ended by a BaseException
            return current if current is not None else State(StateType.PENDING)
        finally:
            leave_engine(guard)

    def wait(self, timeout: float | None = None) -> None:
        guard = enter_engine()
        try:
            self._steal()
            cf.wait([self._future], timeout=timeout)
        finally:
            leave_engine(guard)

    def done(self) -> bool:
        guard = enter_engine()
        try:
            return self._future.done()
        finally:
            leave_engine(guard)

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> R:
        guard = enter_engine()
        try:
            self._steal()
            try:
                state = self._future.result(timeout=timeout)
            except cf.TimeoutError:
                raise TimeoutError(
                    f"Task run {self.task_run_id} did not complete within {timeout} seconds"
                ) from None
        finally:
            leave_engine(guard)
        value: R = state.result(raise_on_failure=raise_on_failure)
        return value

    def add_done_callback(self, fn: Callable[[PrefectFuture[R]], object]) -> None:
        guard = enter_engine()
        try:
            self._future.add_done_callback(lambda _: fn(self))
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
    guard = enter_engine()
    try:
        for future in futures:
            future._steal()
        by_inner = {f._future: f for f in futures}
        done, not_done = cf.wait(by_inner, timeout=timeout)
    finally:
        leave_engine(guard)
    return DoneAndNotDoneFutures({by_inner[d] for d in done}, {by_inner[n] for n in not_done})


def as_completed(
    futures: Iterable[PrefectFuture[Any]], timeout: float | None = None
) -> Iterator[PrefectFuture[Any]]:
    """Yield futures as they finish; ``TimeoutError`` if ``timeout`` passes first."""
    futures = list(futures)
    guard = enter_engine()
    try:
        for future in futures:
            future._steal()
        by_inner = {f._future: f for f in futures}
        finished = cf.as_completed(by_inner, timeout=timeout)
    finally:
        leave_engine(guard)
    while True:
        guard = enter_engine()
        try:
            inner = next(finished)
        except StopIteration:
            return
        except cf.TimeoutError:
            raise TimeoutError(f"Futures did not complete within {timeout} seconds") from None
        finally:
            leave_engine(guard)
        yield by_inner[inner]


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
