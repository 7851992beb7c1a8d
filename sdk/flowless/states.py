"""Run states with Prefect's names, types, and printed forms.

A state is a small in-memory value: the engine creates one per transition, so it is a
slotted class rather than a pydantic model (Prefect's states cost microseconds each).
``str(state)`` gives the form Prefect prints in ``Finished in state ...`` lines, e.g.
``Completed()``, ``Cached(type=COMPLETED)``, ``Failed('boom')``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone
from enum import Enum
from typing import Any, Generic, TypeVar

from flowless._annotations import BaseAnnotation
from flowless.exceptions import (
    CancelledRun,
    CrashedRun,
    FailedRun,
    MissingResult,
    UnfinishedRun,
)

__all__ = [
    "AwaitingRetry",
    "Cached",
    "Cancelled",
    "Cancelling",
    "Completed",
    "Crashed",
    "Failed",
    "Late",
    "Paused",
    "Pending",
    "Retrying",
    "Running",
    "Scheduled",
    "State",
    "StateDetails",
    "StateType",
    "TimedOut",
    "get_state_exception",
    "is_state",
    "is_state_iterable",
    "raise_state_exception",
]

R = TypeVar("R")


class StateType(str, Enum):
    """A state's type. Printed as Prefect prints it: ``repr()`` is ``StateType.COMPLETED``
    (Prefect's ``AutoEnum``), and ``str()``/``format()`` are Python's for a ``str`` enum
    (``StateType.COMPLETED`` on Python 3.11), exactly as with Prefect's class."""

    SCHEDULED = "SCHEDULED"
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    CRASHED = "CRASHED"
    PAUSED = "PAUSED"
    CANCELLING = "CANCELLING"

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.value}"


TERMINAL_TYPES = frozenset(
    {StateType.COMPLETED, StateType.FAILED, StateType.CANCELLED, StateType.CRASHED}
)
_DEFAULT_NAMES = {t: t.value.title() for t in StateType}


class _Unset:
    """Marks a state whose result is not held in memory (e.g. read back from the store)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<unset>"


UNSET: Any = _Unset()


class StateDetails:
    """Links a state to its run, as Prefect's ``state.state_details`` does."""

    __slots__ = ("cache_key", "flow_run_id", "task_run_id")

    def __init__(
        self,
        flow_run_id: str | None = None,
        task_run_id: str | None = None,
        cache_key: str | None = None,
    ) -> None:
        self.flow_run_id = flow_run_id
        self.task_run_id = task_run_id
        self.cache_key = cache_key

    def __repr__(self) -> str:
        return (
            f"StateDetails(flow_run_id={self.flow_run_id!r}, "
            f"task_run_id={self.task_run_id!r}, cache_key={self.cache_key!r})"
        )


class State(Generic[R]):
    """One state of a flow run or task run; ``data`` holds the result or the exception."""

    __slots__ = ("_details", "created", "data", "message", "name", "type")

    def __init__(
        self,
        type: StateType,
        name: str | None = None,
        message: str | None = None,
        data: Any = None,
        state_details: StateDetails | None = None,
        created: float | None = None,
    ) -> None:
        self.type = type
        self.name = name or _DEFAULT_NAMES[type]
        self.message = message
        self.data = data
        self._details = state_details
        self.created = time.time() if created is None else created

    @property
    def state_details(self) -> StateDetails:
        """Which run this state belongs to (made on first use: most states never need it)."""
        if self._details is None:
            self._details = StateDetails()
        return self._details

    @property
    def timestamp(self) -> datetime:
        return datetime.fromtimestamp(self.created, tz=timezone.utc)

    def result(self, raise_on_failure: bool = True, fetch: bool = True) -> Any:
        """The run's return value; for failed states, raise its exception (Prefect's rule)."""
        if self.type is StateType.COMPLETED:
            if self.data is UNSET:
                raise MissingResult(
                    f"State {self} has no result in memory; it was read from the store "
                    "without its result."
                )
            return self.data
        if self.type in (StateType.FAILED, StateType.CRASHED, StateType.CANCELLED):
            if raise_on_failure:
                raise get_state_exception(self)
            return self.data
        raise UnfinishedRun(f"Run is in {self.type.value} state, its result is not available.")

    def is_scheduled(self) -> bool:
        return self.type is StateType.SCHEDULED

    def is_pending(self) -> bool:
        return self.type is StateType.PENDING

    def is_running(self) -> bool:
        return self.type is StateType.RUNNING

    def is_completed(self) -> bool:
        return self.type is StateType.COMPLETED

    def is_failed(self) -> bool:
        return self.type is StateType.FAILED

    def is_crashed(self) -> bool:
        return self.type is StateType.CRASHED

    def is_cancelled(self) -> bool:
        return self.type is StateType.CANCELLED

    def is_cancelling(self) -> bool:
        return self.type is StateType.CANCELLING

    def is_paused(self) -> bool:
        return self.type is StateType.PAUSED

    def is_final(self) -> bool:
        return self.type in TERMINAL_TYPES

    def __str__(self) -> str:
        parts = []
        if self.message:
            parts.append(repr(self.message))
        value = self.type._value_  # (``.value`` is a Python-level descriptor call)
        if self.name.upper() != value:
            parts.append(f"type={value}")
        return f"{self.name}({', '.join(parts)})"

    def __repr__(self) -> str:
        # Prefect shows the result object it holds (a ``ResultRecord`` once persisted); a
        # flowless state holds the value itself.
        message, data = self.message, self.data
        return f"{self.name}(message={message!r}, type={self.type.value}, result={data!r})"


def is_state(obj: Any) -> bool:
    return isinstance(obj, State)


def is_state_iterable(obj: Any) -> bool:
    """True for a non-empty list/tuple/set whose members are all states (Prefect's rule:
    not a frozenset, and not an annotation, though ``quote(...)`` is a tuple)."""
    if isinstance(obj, (list, tuple, set)) and obj and not isinstance(obj, BaseAnnotation):
        return all(isinstance(o, State) for o in obj)
    return False


def get_state_exception(state: State[Any]) -> BaseException:
    """The exception a failed state stands for, digging through aggregated states."""
    data = state.data
    if isinstance(data, BaseException):
        return data
    if isinstance(data, State):
        return get_state_exception(data)
    if is_state_iterable(data):
        for inner in data:
            if inner.type in (StateType.FAILED, StateType.CRASHED, StateType.CANCELLED):
                return get_state_exception(inner)
    if state.type is StateType.CRASHED:
        return CrashedRun(state.message or "Run crashed.")
    if state.type is StateType.CANCELLED:
        return CancelledRun(state.message or "Run cancelled.")
    return FailedRun(state.message or "Run failed.")


def raise_state_exception(state: State[Any]) -> None:
    if state.type in (StateType.FAILED, StateType.CRASHED, StateType.CANCELLED):
        raise get_state_exception(state)


def _make(type_: StateType, default_name: str | None = None) -> Callable[..., State[Any]]:
    def constructor(
        message: str | None = None,
        data: Any = None,
        name: str | None = None,
        state_details: StateDetails | None = None,
        **kwargs: Any,
    ) -> State[Any]:
        if "result" in kwargs:  # Prefect 2 spelling
            data = kwargs.pop("result")
        if kwargs:
            raise TypeError(f"unexpected state argument(s): {sorted(kwargs)}")
        return State(type_, name or default_name, message, data, state_details)

    constructor.__name__ = default_name or _DEFAULT_NAMES[type_]
    constructor.__doc__ = f"A {type_.value} state named {constructor.__name__!r}."
    return constructor


Scheduled = _make(StateType.SCHEDULED)
Pending = _make(StateType.PENDING)
Running = _make(StateType.RUNNING)
Completed = _make(StateType.COMPLETED)
Failed = _make(StateType.FAILED)
Crashed = _make(StateType.CRASHED)
Cancelled = _make(StateType.CANCELLED)
Cancelling = _make(StateType.CANCELLING)
Paused = _make(StateType.PAUSED)
AwaitingRetry = _make(StateType.SCHEDULED, "AwaitingRetry")
Late = _make(StateType.SCHEDULED, "Late")
Retrying = _make(StateType.RUNNING, "Retrying")
Cached = _make(StateType.COMPLETED, "Cached")
TimedOut = _make(StateType.FAILED, "TimedOut")
