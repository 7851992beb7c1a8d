"""Futures for submitted task runs, ``wait`` / ``as_completed`` over them, and the search
for futures and states inside what a task receives and what a flow returns.

A ``PrefectFuture`` wraps the ``SubmittedRun`` whose outcome is the task run's final
``State``; ``result()`` unwraps it the way Prefect does (a failed run
raises its exception).
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import queue
import threading
import time
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
_log = logging.getLogger("flowless.futures")


def _done() -> Any:
    raise RuntimeError("a submitted run executes once")


_NEW, _RUNNING, _DONE, _CANCELLED = range(4)

Listener = Callable[["SubmittedRun[Any]"], object]


class SubmittedRun(Generic[R]):
    """One submitted task run, and the future of its final state.

    Whoever claims the run first executes it: the pool thread it was queued on, or a
    worker thread that helps while it waits (see ``RunQueue``). The other party finds it
    claimed and does nothing, so the run executes once and completes only by itself.

    Why not ``concurrent.futures.Future``: a flow that keeps 20,000 futures keeps every
    object each one holds, and each full garbage collection walks them all while every
    thread waits (issue 9 measured 100-240 ms, and task-run records waited with it). A
    ``Future`` brings a condition, a re-entrant lock, a deque, two lists and five bound
    methods, eleven tracked objects; this brings none until someone waits on it (one
    list of listeners, dropped once it is done). Its status is guarded by its queue's
    ``status_lock``, held for a few bytecodes.
    """

    __slots__ = ("_failed", "_listeners", "_outcome", "_status", "_work", "queue")

    def __init__(self, work: Callable[[], State[R]], queue: RunQueue) -> None:
        self._status = _NEW
        self._work = work
        self._outcome: Any = None  # the final State, or what the run raised
        self._failed = False
        self._listeners: list[Listener] | None = None  # called once, when done
        self.queue = queue

    def claim(self) -> bool:
        with self.queue.status_lock:
            if self._status != _NEW:
                return False
            self._status = _RUNNING
            return True

    def run(self) -> None:
        """The pool's entry point."""
        if self.claim():
            self.execute()

    def execute(self) -> None:
        """Run it (the caller has claimed it)."""
        work, self._work = self._work, _done  # its closure (arguments, context) goes now
        try:
            state = work()
        except BaseException as exc:
            self._finish(exc, failed=True)
            if not isinstance(exc, Exception):
                raise
        else:
            self._finish(state, failed=False)

    def cancel(self) -> bool:
        """Cancel it if nobody has started it (a flow run that timed out)."""
        with self.queue.status_lock:
            if self._status != _NEW:
                return self._status == _CANCELLED
            self._status = _CANCELLED
            self._work = _done
            listeners, self._listeners = self._listeners, None
        self._tell(listeners)
        return True

    def _finish(self, outcome: Any, failed: bool) -> None:
        with self.queue.status_lock:
            self._outcome, self._failed = outcome, failed
            self._status = _DONE
            listeners, self._listeners = self._listeners, None
        self._tell(listeners)

    def _tell(self, listeners: list[Listener] | None) -> None:
        """Every listener, even after one raised (waiters are listeners too: none may be
        left waiting); an exception is logged, a ``BaseException`` raised after all."""
        stop: BaseException | None = None
        for listener in listeners or ():
            try:
                listener(self)
            except Exception:
                _log.exception("A done callback of task run future %r raised", self)
            except BaseException as exc:
                stop = stop or exc
        if stop is not None:
            raise stop

    def done(self) -> bool:
        return self._status >= _DONE

    def cancelled(self) -> bool:
        return self._status == _CANCELLED

    def failed(self) -> bool:
        """It raised instead of ending in a state (a ``BaseException``, or the engine's)."""
        return self._failed

    def listen(self, listener: Listener) -> bool:
        """Call ``listener(self)`` once it is done; False (and no call) if it is already."""
        with self.queue.status_lock:
            if self._status >= _DONE:
                return False
            if self._listeners is None:
                self._listeners = []
            self._listeners.append(listener)
            return True

    def _unlisten(self, listener: Listener) -> None:
        with self.queue.status_lock:
            if self._listeners is not None and listener in self._listeners:
                self._listeners.remove(listener)

    def wait_done(self, timeout: float | None = None) -> bool:
        """Block until it is done or ``timeout`` passes; whether it is done."""
        if self._status >= _DONE:
            return True
        event = threading.Event()

        def wake(_: SubmittedRun[Any]) -> None:
            event.set()

        if not self.listen(wake):
            return True
        if event.wait(timeout):
            return True
        self._unlisten(wake)
        return self.done()

    def outcome(self) -> State[R]:
        """The final state (it is done); raises what the run raised, or
        ``CancelledError``."""
        if self._status == _CANCELLED:
            raise cf.CancelledError()
        if self._failed:
            raise self._outcome
        state: State[R] = self._outcome
        return state


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
        #: Guards each run's status and listeners (never held while taking ``_lock``).
        self.status_lock = threading.Lock()
        #: Keep every run (a flow run waits for all of them at its end); ``False`` for
        #: task runs outside flows, whose claimed runs are forgotten.
        self._keep = keep

    def add(self, run: SubmittedRun[Any]) -> None:
        with self._lock:
            self._runs.append(run)

    def runs(self) -> list[SubmittedRun[Any]]:
        with self._lock:
            return list(self._runs)

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


def _help_until_done(run: SubmittedRun[Any]) -> None:
    if not is_worker_thread():
        return  # the flow thread never helps: its waits (even polls) behave as on a free pool
    while not run.done():
        other = run.queue.claim_next()
        if other is None:
            return  # everything has started somewhere: just wait
        other.execute()


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
        _help_until_done(self._run)

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
