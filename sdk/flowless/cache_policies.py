"""Cache policies with Prefect's names and composition rules.

A policy turns a task call into a key; equal keys mean "same work, reuse the result".
The engine scopes every key by the task's identity before it reaches the store, so
``INPUTS`` on two different tasks with equal inputs never share an entry (Prefect
lets them collide). A task without a policy whose result is persisted (``persist_result``
on the task, or on its flow) gets ``DEFAULT``, as in Prefect: a repeated call with the
same inputs in one flow run is ``Cached``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from flowless._hashing import hash_objects

if TYPE_CHECKING:
    from flowless.context import TaskRunContext

__all__ = [
    "DEFAULT",
    "FLOW_PARAMETERS",
    "INPUTS",
    "NONE",
    "NO_CACHE",
    "RUN_ID",
    "TASK_SOURCE",
    "CacheKeyFnPolicy",
    "CachePolicy",
    "CompoundCachePolicy",
    "FlowParameters",
    "Inputs",
    "RunId",
    "TaskSource",
]


class CachePolicy:
    """Base class: subclass and implement ``compute_key`` for a custom policy."""

    @classmethod
    def from_cache_key_fn(
        cls, cache_key_fn: Callable[[TaskRunContext, dict[str, Any]], str | None]
    ) -> CacheKeyFnPolicy:
        return CacheKeyFnPolicy(cache_key_fn=cache_key_fn)

    def compute_key(
        self,
        task_ctx: TaskRunContext,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        raise NotImplementedError

    def __add__(self, other: CachePolicy) -> CachePolicy:
        if not isinstance(other, CachePolicy):
            return NotImplemented
        if isinstance(self, _None):
            return other
        if isinstance(other, _None):
            return self
        return CompoundCachePolicy(policies=[*_flatten(self), *_flatten(other)])

    def __sub__(self, other: str) -> CachePolicy:
        if not isinstance(other, str):
            raise TypeError("Can only subtract strings (input names) from cache policies.")
        return self

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash(type(self).__name__)

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


def _flatten(policy: CachePolicy) -> list[CachePolicy]:
    return list(policy.policies) if isinstance(policy, CompoundCachePolicy) else [policy]


class CompoundCachePolicy(CachePolicy):
    """Several policies at once: the key changes when any part changes."""

    def __init__(self, policies: Iterable[CachePolicy] = ()) -> None:
        self.policies = list(policies)

    def compute_key(
        self,
        task_ctx: TaskRunContext,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        keys = []
        for policy in self.policies:
            key = policy.compute_key(task_ctx, inputs, flow_parameters, **kwargs)
            if key is not None:
                keys.append(key)
        return hash_objects(*keys) if keys else None

    def __sub__(self, other: str) -> CachePolicy:
        return CompoundCachePolicy(policies=[p - other for p in self.policies])


class _None(CachePolicy):
    """Never cache."""

    def compute_key(
        self,
        task_ctx: TaskRunContext,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        return None


class TaskSource(CachePolicy):
    """The task's source code: editing the task invalidates its entries."""

    def compute_key(
        self,
        task_ctx: TaskRunContext,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        return task_ctx.task.source_hash


class FlowParameters(CachePolicy):
    """The parameters of the flow run the task runs in."""

    def compute_key(
        self,
        task_ctx: TaskRunContext,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        return hash_objects(flow_parameters) if flow_parameters else None


class RunId(CachePolicy):
    """The flow run id: entries are reused only within one flow run (a repeated call, a
    retry). A task run outside any flow gets its own id, as in Prefect, so it never
    reuses another's entry."""

    def compute_key(
        self,
        task_ctx: TaskRunContext,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        return task_ctx.task_run.flow_run_id or task_ctx.task_run.id


class Inputs(CachePolicy):
    """The task's arguments, minus any names in ``exclude``."""

    def __init__(self, exclude: Iterable[str] = ()) -> None:
        self.exclude = list(exclude)

    def compute_key(
        self,
        task_ctx: TaskRunContext,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        if self.exclude:
            inputs = {k: v for k, v in inputs.items() if k not in self.exclude}
        key = hash_objects(inputs)
        if key is None:
            raise ValueError(
                "Unable to create a cache key: the task's inputs could not be serialized "
                "(JSON or cloudpickle). Exclude such arguments with `INPUTS - 'name'`, use a "
                "`cache_key_fn`, or pass `cache_policy=NO_CACHE`."
            )
        return key

    def __sub__(self, other: str) -> CachePolicy:
        if not isinstance(other, str):
            raise TypeError("Can only subtract strings (input names) from cache policies.")
        return Inputs(exclude=[*self.exclude, other])


class CacheKeyFnPolicy(CachePolicy):
    """Wraps a Prefect-style ``cache_key_fn(context, parameters)``."""

    def __init__(
        self, cache_key_fn: Callable[[TaskRunContext, dict[str, Any]], str | None]
    ) -> None:
        self.cache_key_fn = cache_key_fn

    def compute_key(
        self,
        task_ctx: TaskRunContext,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        return self.cache_key_fn(task_ctx, inputs)


def source_hash(fn: Callable[..., Any]) -> str:
    """Hash of a function's source, falling back to its bytecode when source is unavailable."""
    try:
        text = inspect.getsource(fn)
    except (OSError, TypeError):
        code = getattr(fn, "__code__", None)
        text = code.co_code.hex() if code is not None else repr(fn)
    return hash_objects(text) or ""


NONE = NO_CACHE = _None()
INPUTS = Inputs()
TASK_SOURCE = TaskSource()
FLOW_PARAMETERS = FlowParameters()
RUN_ID = RunId()
DEFAULT = INPUTS + TASK_SOURCE + RUN_ID
