"""Errors a flowless user can see, named as in `prefect.exceptions` where Prefect has one.

Every error here carries a message written for the person reading a terminal: what
went wrong, which run/parameter/record it concerns, and what to do about it.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AcquireConcurrencySlotTimeoutError",
    "CancelledRun",
    "ConcurrencySlotAcquisitionError",
    "ConfigurationError",
    "CorruptRecordError",
    "CrashedRun",
    "FailedRun",
    "FlowRunTimeoutError",
    "FlowlessException",
    "MappingLengthMismatch",
    "MappingMissingIterable",
    "MissingContextError",
    "MissingResult",
    "ParameterBindError",
    "ParameterTypeError",
    "PrefectException",
    "RecordConflictError",
    "RemoteTaskError",
    "RecordExistsError",
    "RecordNotFoundError",
    "ResultSerializationError",
    "SigningKeyError",
    "StoreError",
    "StoreUnavailableError",
    "TaskRunTimeoutError",
    "UnfinishedRun",
    "UntrustedPayloadError",
    "UpstreamTaskError",
]


class FlowlessException(Exception):
    """Base class of every error flowless raises on purpose."""


#: Prefect code catches ``PrefectException``; the name keeps that code working.
PrefectException = FlowlessException


class MissingContextError(FlowlessException, RuntimeError):
    """A run-scoped helper (e.g. ``get_run_logger``) was called outside a flow or task run."""


class ParameterBindError(FlowlessException, TypeError):
    """The call's arguments do not fit the function's signature."""

    @classmethod
    def from_bind_failure(
        cls, fn_name: str, exc: TypeError, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> ParameterBindError:
        return cls(
            f"Error binding parameters for function {fn_name!r}: {exc}. "
            f"It was called with {len(args)} positional argument(s) and keyword "
            f"argument(s) {sorted(kwargs)}."
        )


class ParameterTypeError(FlowlessException, TypeError):
    """Flow parameters failed validation against the flow's signature."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        lines = "\n".join(f" - {name}: {msg}" for name, msg in problems)
        super().__init__(f"Flow run received invalid parameters:\n{lines}")


class MappingMissingIterable(FlowlessException, ValueError):
    """``task.map`` was given no iterable argument to map over."""


class MappingLengthMismatch(FlowlessException, ValueError):
    """``task.map`` was given iterables of different lengths."""


class RemoteTaskError(FlowlessException):
    """A task run's exception from its Lambda invocation, when the exception's own class
    cannot be rebuilt here; it carries the original type name and message."""

    def __init__(self, type_name: str, message: str) -> None:
        self.type_name = type_name
        self.remote_message = message
        super().__init__(f"{type_name}: {message}")

    def __reduce__(self) -> tuple[type[RemoteTaskError], tuple[str, str]]:
        return type(self), (self.type_name, self.remote_message)


class UpstreamTaskError(FlowlessException):
    """A task's input came from a task run that did not complete."""


class TaskRunTimeoutError(FlowlessException, TimeoutError):
    """A task run exceeded its ``timeout_seconds``. Prefect's words: ``Scope timed out
    after 0.5 second(s).`` (its run's state says ``Task run exceeded timeout of 0.5
    second(s)``). Prefect's class (``prefect.task_engine``) is a ``TimeoutError`` only;
    this one is also a ``FlowlessException``, as every error flowless raises."""


class FlowRunTimeoutError(FlowlessException, TimeoutError):
    """A flow run exceeded its ``timeout_seconds``: ``Scope timed out after 0.5
    second(s).``, as Prefect's (``prefect.flow_engine``); see ``TaskRunTimeoutError``."""


class FailedRun(FlowlessException):
    """Raised by ``State.result()`` for a failed state that carries no exception of its own."""


class CrashedRun(FlowlessException):
    """The run stopped because of something outside the user's code (interrupt, process exit)."""


class CancelledRun(FlowlessException):
    """The run was cancelled."""


class UnfinishedRun(FlowlessException):
    """``result()`` was asked of a state that is not final."""


class MissingResult(FlowlessException):
    """A state has no result to give (it was not persisted, or is not available here)."""


class ResultSerializationError(FlowlessException, TypeError):
    """A value could not be serialized for the store (neither JSON nor cloudpickle)."""


class ConfigurationError(FlowlessException, ValueError):
    """A decorator option or setting has a value flowless cannot use."""


class ConcurrencySlotAcquisitionError(FlowlessException):
    """Slots of a concurrency limit could not be acquired."""


class AcquireConcurrencySlotTimeoutError(FlowlessException, TimeoutError):
    """Slots were not free within ``timeout_seconds`` (Prefect's name, a TimeoutError)."""


class StoreError(FlowlessException):
    """Base class of errors raised by a store backend, mapped at the backend's boundary."""


class StoreUnavailableError(StoreError):
    """The store cannot be opened or written (missing, read-only, not a database)."""


class RecordExistsError(StoreError):
    """A conditional create found the record already there."""


class RecordConflictError(StoreError):
    """A conditional update found the record changed since it was read."""


class RecordNotFoundError(StoreError, LookupError):
    """The record asked for is not in the store."""


class CorruptRecordError(StoreError):
    """A stored record (or the result it points at) cannot be decoded."""


class UntrustedPayloadError(CorruptRecordError):
    """A stored value was refused before it was loaded: a pickle not signed with this
    store's key, or a result location outside the store (docs/security.md). Unpickling
    either could run code of whoever wrote it, so nothing of it is loaded. A resume fails
    with it rather than running the task again; a cache entry is replaced."""


class SigningKeyError(StoreUnavailableError):
    """The key that signs this store's pickles cannot be read or created (a key file with
    loose permissions, a secret that is missing or not readable)."""
