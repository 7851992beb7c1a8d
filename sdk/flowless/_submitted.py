"""One submitted task run (``SubmittedRun``: executed once, by whoever claims it first)
and a flow run's queue of them (``RunQueue``: a worker about to wait helps run the
oldest unstarted one). ``flowless.futures`` wraps them for users (``PrefectFuture``)
and exports both.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from flowless.states import State
from flowless.task_runners import is_worker_thread

__all__ = ["Listener", "RunQueue", "SubmittedRun", "help_until_done"]

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


def help_until_done(run: SubmittedRun[Any]) -> None:
    if not is_worker_thread():
        return  # the flow thread never helps: its waits (even polls) behave as on a free pool
    while not run.done():
        other = run.queue.claim_next()
        if other is None:
            return  # everything has started somewhere: just wait
        other.execute()
