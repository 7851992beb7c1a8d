"""Futures for submitted task runs, and ``wait`` / ``as_completed`` over them.

A ``PrefectFuture`` wraps a ``concurrent.futures.Future`` that resolves to the task
run's final ``State``; ``result()`` unwraps it the way Prefect does (a failed run
raises its exception).
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar

from flowless._annotations import allow_failure, quote, unmapped
from flowless.exceptions import UpstreamTaskError
from flowless.states import State, StateType
from flowless.task_runners import POOL_THREAD_PREFIX

if TYPE_CHECKING:
    from flowless.invoke import TaskCall

__all__ = [
    "DoneAndNotDoneFutures",
    "PrefectFuture",
    "PrefectFutureList",
    "as_completed",
    "resolve_futures_to_results",
    "resolve_futures_to_states",
    "visit_futures",
    "wait",
]

R = TypeVar("R")


def _in_pool_thread() -> bool:
    return threading.current_thread().name.startswith(POOL_THREAD_PREFIX)


class PrefectFuture(Generic[R]):
    """The eventual result of one submitted task run."""

    __slots__ = ("_call", "_future", "_inline")

    def __init__(
        self,
        call: TaskCall,
        future: cf.Future[State[R]],
        inline: Callable[[], State[R]] | None = None,
    ) -> None:
        self._call = call
        self._future = future
        self._inline = inline

    def _steal(self) -> None:
        """A pool thread about to wait on a run that has not started runs it itself, so
        tasks that submit tasks and wait for them can never starve a bounded pool."""
        inline, self._inline = self._inline, None
        if inline is None or not _in_pool_thread() or not self._future.cancel():
            return
        replacement: cf.Future[State[R]] = cf.Future()
        try:
            replacement.set_result(inline())
        except BaseException as exc:
            replacement.set_exception(exc)
            raise
        finally:
            self._future = replacement

    @property
    def task_run_id(self) -> str:
        return self._call.task_run.id

    @property
    def state(self) -> State[R]:
        """The final state when done; otherwise the run's current Pending/Running state."""
        if self._future.done() and not self._future.cancelled():
            return self._future.result()
        current: State[R] | None = self._call.state
        return current if current is not None else State(StateType.PENDING)

    def wait(self, timeout: float | None = None) -> None:
        self._steal()
        cf.wait([self._future], timeout=timeout)

    def done(self) -> bool:
        return self._future.done()

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> R:
        self._steal()
        try:
            state = self._future.result(timeout=timeout)
        except cf.TimeoutError:
            raise TimeoutError(
                f"Task run {self.task_run_id} did not complete within {timeout} seconds"
            ) from None
        value: R = state.result(raise_on_failure=raise_on_failure)
        return value

    def add_done_callback(self, fn: Callable[[PrefectFuture[R]], object]) -> None:
        self._future.add_done_callback(lambda _: fn(self))

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
    for future in futures:
        future._steal()
    by_inner = {f._future: f for f in futures}
    done, not_done = cf.wait(by_inner, timeout=timeout)
    return DoneAndNotDoneFutures({by_inner[d] for d in done}, {by_inner[n] for n in not_done})


def as_completed(
    futures: Iterable[PrefectFuture[Any]], timeout: float | None = None
) -> Iterator[PrefectFuture[Any]]:
    """Yield futures as they finish; ``TimeoutError`` if ``timeout`` passes first."""
    futures = list(futures)
    for future in futures:
        future._steal()
    by_inner = {f._future: f for f in futures}
    try:
        for inner in cf.as_completed(by_inner, timeout=timeout):
            yield by_inner[inner]
    except cf.TimeoutError:
        raise TimeoutError(f"Futures did not complete within {timeout} seconds") from None


_ATOMIC = frozenset({str, int, float, bool, type(None), bytes})


def visit_futures(
    value: Any, on_future: Callable[[PrefectFuture[Any], bool], Any], allow_failed: bool = False
) -> Any:
    """``value`` with every future in it (also inside lists, tuples, sets, dicts, and the
    ``allow_failure``/``unmapped`` wrappers, not inside ``quote``) replaced by
    ``on_future(future, allow_failed)``."""
    kind = type(value)
    if kind in _ATOMIC:
        return value
    if isinstance(value, PrefectFuture):
        return on_future(value, allow_failed)
    if kind is allow_failure:
        return visit_futures(value.value, on_future, True)
    if kind is quote:
        return value.value
    if kind is unmapped:
        return visit_futures(value.value, on_future, allow_failed)
    if kind is list or kind is tuple or kind is set:
        return kind(visit_futures(v, on_future, allow_failed) for v in value)
    if isinstance(value, PrefectFutureList):
        return [visit_futures(v, on_future, allow_failed) for v in value]
    if kind is dict:
        return {k: visit_futures(v, on_future, allow_failed) for k, v in value.items()}
    return value


def _final_state(future: PrefectFuture[Any], allow_failed: bool) -> State[Any]:
    future.wait()
    return future.state


def _result(future: PrefectFuture[Any], allow_failed: bool) -> Any:
    future.wait()
    state = future.state
    if state.type is not StateType.COMPLETED and not (allow_failed and state.is_final()):
        raise UpstreamTaskError(
            f"Upstream task run '{future.task_run_id}' did not reach a 'COMPLETED' state."
        )
    return state.data


def resolve_futures_to_states(value: Any) -> Any:
    """Replace futures (also inside collections) by their final states."""
    return visit_futures(value, _final_state)


def resolve_futures_to_results(value: Any) -> Any:
    """Replace futures (also inside collections) by their results; ``UpstreamTaskError`` if
    one did not complete (unless wrapped in ``allow_failure``: then its exception)."""
    return visit_futures(value, _result)
