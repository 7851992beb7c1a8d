"""Futures for submitted task runs, and ``wait`` / ``as_completed`` over them.

A ``PrefectFuture`` wraps a ``concurrent.futures.Future`` that resolves to the task
run's final ``State``; ``result()`` unwraps it the way Prefect does (a failed run
raises its exception).
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar

from flowless.states import State, StateType

if TYPE_CHECKING:
    from flowless.invoke import TaskCall

__all__ = [
    "DoneAndNotDoneFutures",
    "PrefectFuture",
    "PrefectFutureList",
    "as_completed",
    "resolve_futures_to_states",
    "wait",
]

R = TypeVar("R")


class PrefectFuture(Generic[R]):
    """The eventual result of one submitted task run."""

    __slots__ = ("_call", "_future")

    def __init__(self, call: TaskCall, future: cf.Future[State[R]]) -> None:
        self._call = call
        self._future = future

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
        cf.wait([self._future], timeout=timeout)

    def done(self) -> bool:
        return self._future.done()

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> R:
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
    by_inner = {f._future: f for f in futures}
    done, not_done = cf.wait(by_inner, timeout=timeout)
    return DoneAndNotDoneFutures({by_inner[d] for d in done}, {by_inner[n] for n in not_done})


def as_completed(
    futures: Iterable[PrefectFuture[Any]], timeout: float | None = None
) -> Iterator[PrefectFuture[Any]]:
    """Yield futures as they finish; ``TimeoutError`` if ``timeout`` passes first."""
    by_inner = {f._future: f for f in futures}
    try:
        for inner in cf.as_completed(by_inner, timeout=timeout):
            yield by_inner[inner]
    except cf.TimeoutError:
        raise TimeoutError(f"Futures did not complete within {timeout} seconds") from None


def resolve_futures_to_states(value: Any) -> Any:
    """Replace futures (also inside lists, tuples, sets, dicts) by their final states."""
    if isinstance(value, PrefectFuture):
        value.wait()
        return value.state
    kind = type(value)
    if kind in (list, tuple, set):
        return kind(resolve_futures_to_states(v) for v in value)
    if kind is dict:
        return {k: resolve_futures_to_states(v) for k, v in value.items()}
    return value
