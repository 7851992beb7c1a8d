"""The ``@task`` decorator and ``Task`` definition, with Prefect 3's options.

A ``Task`` is pure definition: it validates its options when decorated (so a bad option
fails at import, not halfway through a run) and hands every call to the engine.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, overload

from flowless._callables import CallShape, module_name
from flowless._definitions import (
    MethodBinding,
    check_hooks,
    check_number,
    check_options,
    engine,
)
from flowless._hashing import hash_objects
from flowless.cache_policies import (
    DEFAULT,
    CacheKeyFnPolicy,
    CachePolicy,
    _None,
    source_hash,
)
from flowless.exceptions import ConfigurationError

if TYPE_CHECKING:
    from flowless.context import TaskRunContext
    from flowless.futures import PrefectFuture, PrefectFutureList
    from flowless.states import State
    from flowless.store import TaskRunRecord

__all__ = ["Task", "exponential_backoff", "task", "task_input_hash"]

P = ParamSpec("P")
R = TypeVar("R")

#: Prefect refuses more than 50 explicit retry delays; so do we.
MAX_RETRY_DELAYS = 50

RetryConditionFn = Callable[["Task[..., Any]", "TaskRunRecord", "State[Any]"], bool]
StateHook = Callable[["Task[..., Any]", "TaskRunRecord", "State[Any]"], None]


class _NotSet:
    def __repr__(self) -> str:
        return "NotSet"


NotSet: Any = _NotSet()


def exponential_backoff(backoff_factor: float) -> Callable[[int], list[float]]:
    """Retry delays that double each time: ``backoff_factor * 2**n`` for the n-th retry."""

    def retry_backoff_callable(retries: int) -> list[float]:
        retries = min(retries, MAX_RETRY_DELAYS)
        return [backoff_factor * max(0, 2**r) for r in range(retries)]

    return retry_backoff_callable


def task_input_hash(context: TaskRunContext, arguments: dict[str, Any]) -> str | None:
    """Prefect's classic ``cache_key_fn``: the task's identity, its bytecode, its inputs."""
    fn = context.task.fn
    code = getattr(fn, "__code__", None)
    return hash_objects(
        context.task.task_key, code.co_code.hex() if code is not None else "", arguments
    )


def _retry_delays(
    retries: int, value: float | Iterable[float] | Callable[[int], Iterable[float]] | None
) -> list[float]:
    if value is None:
        return [0.0]
    if callable(value):
        value = value(retries)
    if isinstance(value, (int, float)):
        return [check_number("retry_delay_seconds", value)]
    delays = [check_number("retry_delay_seconds", v) for v in value]
    if len(delays) > MAX_RETRY_DELAYS:
        raise ConfigurationError(
            f"Can not configure more than {MAX_RETRY_DELAYS} retry delays per task."
        )
    return delays or [0.0]


class Task(MethodBinding, Generic[P, R]):
    """A function whose calls become task runs: recorded, retried, cached, timed out."""

    def __init__(
        self,
        fn: Callable[P, R],
        name: str | None = None,
        description: str | None = None,
        tags: Iterable[str] | None = None,
        version: str | None = None,
        cache_policy: CachePolicy | None = NotSet,
        cache_key_fn: Callable[[TaskRunContext, dict[str, Any]], str | None] | None = None,
        cache_expiration: timedelta | None = None,
        task_run_name: str | Callable[[], str] | None = None,
        retries: int | None = None,
        retry_delay_seconds: float
        | Iterable[float]
        | Callable[[int], Iterable[float]]
        | None = None,
        retry_jitter_factor: float | None = None,
        persist_result: bool | None = None,
        timeout_seconds: float | None = None,
        log_prints: bool | None = None,
        refresh_cache: bool | None = None,
        retry_condition_fn: RetryConditionFn | None = None,
        on_completion: list[StateHook] | None = None,
        on_failure: list[StateHook] | None = None,
        on_running: list[StateHook] | None = None,
    ) -> None:
        on_completion_hooks = check_hooks("task", "on_completion", on_completion)
        on_failure_hooks = check_hooks("task", "on_failure", on_failure)
        on_running_hooks = check_hooks("task", "on_running", on_running)
        fn, self.method_kind = self.unwrap_method(fn)
        if not callable(fn):
            raise TypeError("'fn' must be callable")
        self.fn = fn
        self.name: str = name or str(getattr(fn, "__name__", type(fn).__name__))
        self.description = description or inspect.getdoc(fn)
        self.tags = set(tags or ())
        self.version = version
        # As in Prefect: an async generator function is async, and both kinds of generator
        # function are generators (a call returns a generator: engine/_generators.py).
        self.isasync = inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn)
        self.isgenerator = inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn)
        self.task_key = f"{module_name(fn)}.{getattr(fn, '__qualname__', self.name)}"

        retries = 0 if retries is None else retries
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ConfigurationError(
                f"`retries` must be a whole number 0 or more, got {retries!r}."
            )
        self.retries = retries
        self.retry_delay_seconds = retry_delay_seconds
        self.retry_delays = _retry_delays(retries, retry_delay_seconds)
        self.retry_jitter_factor = (
            None
            if retry_jitter_factor is None
            else check_number("retry_jitter_factor", retry_jitter_factor)
        )
        self.timeout_seconds = (
            None
            if timeout_seconds is None
            else check_number("timeout_seconds", timeout_seconds, positive=True)
        )
        if retry_condition_fn is not None and not callable(retry_condition_fn):
            raise ConfigurationError("`retry_condition_fn` must be callable.")
        self.retry_condition_fn = retry_condition_fn

        explicit_policy = cache_policy is not NotSet and cache_policy is not None
        if cache_key_fn is not None and explicit_policy:
            raise ConfigurationError(
                "Received both `cache_policy` and `cache_key_fn`; pass one of them "
                "(a `cache_key_fn` is itself a policy: CachePolicy.from_cache_key_fn)."
            )
        if explicit_policy and not isinstance(cache_policy, CachePolicy):
            raise ConfigurationError(
                f"`cache_policy` must be a CachePolicy such as INPUTS, got {cache_policy!r}."
            )
        if cache_expiration is not None and not isinstance(cache_expiration, timedelta):
            raise ConfigurationError(
                f"`cache_expiration` must be a datetime.timedelta, got {cache_expiration!r}."
            )
        self.cache_key_fn = cache_key_fn
        self.cache_policy = cache_policy
        self.cache_expiration = cache_expiration
        self.refresh_cache = refresh_cache
        #: The policy the engine applies, or None for "no cache lookups". Prefect gives
        #: a task without a policy its DEFAULT one (inputs, source, flow run id), which
        #: only takes effect when results are persisted: always with
        #: ``persist_result=True`` here, else when the flow run persists results by
        #: default (``persisted_cache_policy``; the engine decides per run). A task
        #: that persists nothing spends no store read on a cache that cannot hold it.
        policy: CachePolicy | None
        persisted_policy: CachePolicy | None = None
        if cache_key_fn is not None:
            policy = CacheKeyFnPolicy(cache_key_fn)
        elif cache_policy is NotSet:
            policy = DEFAULT if persist_result else None
            persisted_policy = DEFAULT if persist_result is None else None
        elif cache_policy is None or isinstance(cache_policy, _None):
            policy = None
        else:
            policy = cache_policy
        if persist_result is False:
            policy = None
        self.effective_cache_policy = policy
        self.persisted_cache_policy = persisted_policy

        if task_run_name is not None and not (
            isinstance(task_run_name, str) or callable(task_run_name)
        ):
            raise ConfigurationError("`task_run_name` must be a string or a callable.")
        self.task_run_name = task_run_name
        self.persist_result = persist_result
        self.log_prints = log_prints
        self.on_completion_hooks: list[StateHook] = on_completion_hooks
        self.on_failure_hooks: list[StateHook] = on_failure_hooks
        #: Prefect 3.5+ (3.4 has no task ``on_running``): each attempt, as it starts.
        self.on_running_hooks: list[StateHook] = on_running_hooks
        self.shape = CallShape(fn, self.name)
        #: Values computed on first use, shared with the bound copies of a method task.
        self._lazy: dict[str, Any] = {}
        self._options = {
            "name": name,
            "description": description,
            "tags": tags,
            "version": version,
            "cache_policy": cache_policy,
            "cache_key_fn": cache_key_fn,
            "cache_expiration": cache_expiration,
            "task_run_name": task_run_name,
            "retries": retries,
            "retry_delay_seconds": retry_delay_seconds,
            "retry_jitter_factor": retry_jitter_factor,
            "persist_result": persist_result,
            "timeout_seconds": timeout_seconds,
            "log_prints": log_prints,
            "refresh_cache": refresh_cache,
            "retry_condition_fn": retry_condition_fn,
            "on_completion": on_completion,
            "on_failure": on_failure,
            "on_running": on_running,
        }

    @property
    def source_hash(self) -> str:
        value = self._lazy.get("source_hash")
        if value is None:
            value = self._lazy["source_hash"] = source_hash(self.fn)
        return str(value)

    def with_options(self, **changes: Any) -> Task[P, R]:
        """A copy of this task with some options changed (same function, same identity)."""
        unknown = set(changes) - set(self._options)
        if unknown:
            raise TypeError(f"with_options() got unexpected option(s): {sorted(unknown)}")
        options = {**self._options, **changes}
        # As Prefect: hooks added with the decorator forms stay, unless replaced.
        options["on_completion"] = changes.get("on_completion") or self.on_completion_hooks
        options["on_failure"] = changes.get("on_failure") or self.on_failure_hooks
        options["on_running"] = changes.get("on_running") or self.on_running_hooks
        if "cache_key_fn" in changes and "cache_policy" not in changes:
            options["cache_policy"] = NotSet
        if "cache_policy" in changes and "cache_key_fn" not in changes:
            options["cache_key_fn"] = None
        return self.keep_binding(Task(self.fn, **options))

    def on_completion(self, fn: StateHook) -> StateHook:
        self.on_completion_hooks.append(fn)
        return fn

    def on_failure(self, fn: StateHook) -> StateHook:
        self.on_failure_hooks.append(fn)
        return fn

    def on_running(self, fn: StateHook) -> StateHook:
        self.on_running_hooks.append(fn)
        return fn

    @overload
    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R: ...

    @overload
    def __call__(self, *args: Any, return_state: bool = ..., **kwargs: Any) -> Any: ...

    def __call__(  # type: ignore[misc]
        self,
        *args: Any,
        return_state: bool = False,
        wait_for: Iterable[Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        if self.bound_to:
            args = (*self.bound_to, *args)
        return engine().call_task(self, args, kwargs, return_state, wait_for)

    def submit(
        self,
        *args: Any,
        return_state: bool = False,
        wait_for: Iterable[Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Run the task concurrently on the flow run's task runner; returns a future
        (or, with ``return_state=True``, waits and returns the final state, as Prefect)."""
        if self.bound_to:
            args = (*self.bound_to, *args)
        future: PrefectFuture[R] = engine().submit_task(self, args, kwargs, wait_for)
        if return_state:
            future.wait()
            return future.state
        return future

    def map(
        self,
        *args: Any,
        return_state: bool = False,
        wait_for: Iterable[Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Submit one run per element of the iterable arguments (``unmapped`` ones repeat).

        Returns a ``PrefectFutureList``, or with ``return_state=True`` the list of final
        states once all runs have finished.
        """
        if self.bound_to:
            args = (*self.bound_to, *args)
        futures: PrefectFutureList[R] = engine().map_task(self, args, kwargs, wait_for)
        if return_state:
            futures.wait()
            return [future.state for future in futures]
        return futures

    def __repr__(self) -> str:
        return f"Task(name={self.name!r}, fn={getattr(self.fn, '__qualname__', self.fn)!r})"


@overload
def task(__fn: Callable[P, R]) -> Task[P, R]: ...


@overload
def task(__fn: None = None, **options: Any) -> Callable[[Callable[P, R]], Task[P, R]]: ...


def task(__fn: Callable[P, R] | None = None, **options: Any) -> Any:
    """Decorate a function as a task: ``@task``, ``@task()`` or ``@task(retries=3, ...)``."""
    check_options("task", Task, options)
    if __fn is not None:
        return Task(__fn, **options)

    def decorator(fn: Callable[P, R]) -> Task[P, R]:
        return Task(fn, **options)

    return decorator
