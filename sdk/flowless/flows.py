"""The ``@flow`` decorator and ``Flow`` definition, with Prefect 3's options.

Like ``Task``, a ``Flow`` only describes: options are checked when decorated and each
call is handed to the engine, which creates the flow run.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, overload

from flowless._callables import CallShape, module_name
from flowless._definitions import MethodBinding, check_hooks, check_number, check_options, engine
from flowless.exceptions import ConfigurationError
from flowless.task_runners import ThreadPoolTaskRunner

if TYPE_CHECKING:
    from flowless.states import State
    from flowless.store import FlowRunRecord

__all__ = ["Flow", "flow"]

P = ParamSpec("P")
R = TypeVar("R")

FlowStateHook = Callable[["Flow[..., Any]", "FlowRunRecord", "State[Any]"], None]


class Flow(MethodBinding, Generic[P, R]):
    """A function whose calls become flow runs; tasks called inside it are recorded in it."""

    def __init__(
        self,
        fn: Callable[P, R],
        name: str | None = None,
        version: str | None = None,
        flow_run_name: str | Callable[[], str] | None = None,
        retries: int | None = None,
        retry_delay_seconds: float | None = None,
        task_runner: ThreadPoolTaskRunner | None = None,
        description: str | None = None,
        timeout_seconds: float | None = None,
        validate_parameters: bool = True,
        persist_result: bool | None = None,
        log_prints: bool | None = None,
        on_completion: list[FlowStateHook] | None = None,
        on_failure: list[FlowStateHook] | None = None,
        on_cancellation: list[FlowStateHook] | None = None,
        on_crashed: list[FlowStateHook] | None = None,
        on_running: list[FlowStateHook] | None = None,
    ) -> None:
        hooks = {
            option: check_hooks("flow", option, value)
            for option, value in (
                ("on_completion", on_completion),
                ("on_failure", on_failure),
                ("on_cancellation", on_cancellation),
                ("on_crashed", on_crashed),
                ("on_running", on_running),
            )
        }
        fn, self.method_kind = self.unwrap_method(fn)
        if not callable(fn):
            raise TypeError("'fn' must be callable")
        self.fn = fn
        self.name: str = name or str(getattr(fn, "__name__", type(fn).__name__)).replace("_", "-")
        if not self.name or any(c in self.name for c in "/%&><"):
            raise ConfigurationError(
                f"Flow name {self.name!r} is not valid: it must be non-empty and contain "
                "none of '/', '%', '&', '>', '<'."
            )
        self.version = version
        self.description = description or inspect.getdoc(fn)
        # As in Prefect: an async generator function is async, and both kinds of generator
        # function are generators (a call returns a generator: engine/_generators.py).
        self.isasync = inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn)
        self.isgenerator = inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn)
        self.flow_key = f"{module_name(fn)}.{getattr(fn, '__qualname__', self.name)}"
        retries = 0 if retries is None else retries
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ConfigurationError(
                f"`retries` must be a whole number 0 or more, got {retries!r}."
            )
        self.retries = retries
        self.retry_delay_seconds = (
            0.0
            if retry_delay_seconds is None
            else check_number("retry_delay_seconds", retry_delay_seconds)
        )
        self.timeout_seconds = (
            None
            if timeout_seconds is None
            else check_number("timeout_seconds", timeout_seconds, positive=True)
        )
        runner: Any = task_runner
        if isinstance(runner, type) and issubclass(runner, ThreadPoolTaskRunner):
            runner = runner()  # Prefect accepts the class as well as an instance
        if runner is not None and not isinstance(runner, ThreadPoolTaskRunner):
            raise ConfigurationError(
                f"`task_runner` must be a ThreadPoolTaskRunner, got {runner!r}."
            )
        self.task_runner: ThreadPoolTaskRunner | None = runner
        if flow_run_name is not None and not (
            isinstance(flow_run_name, str) or callable(flow_run_name)
        ):
            raise ConfigurationError("`flow_run_name` must be a string or a callable.")
        self.flow_run_name = flow_run_name
        self.validate_parameters = validate_parameters
        self.persist_result = persist_result
        self.log_prints = log_prints
        self.on_completion_hooks: list[FlowStateHook] = hooks["on_completion"]
        self.on_failure_hooks: list[FlowStateHook] = hooks["on_failure"]
        self.on_cancellation_hooks: list[FlowStateHook] = hooks["on_cancellation"]
        self.on_crashed_hooks: list[FlowStateHook] = hooks["on_crashed"]
        #: Called each time the run enters Running: when it starts, and again before
        #: each retry (Prefect's order: before the "Beginning flow run" line).
        self.on_running_hooks: list[FlowStateHook] = hooks["on_running"]
        self.shape = CallShape(fn, self.name)
        #: Values computed on first use, shared with the bound copies of a method flow.
        self._lazy: dict[str, Any] = {}
        self._options = {
            "name": name,
            "version": version,
            "flow_run_name": flow_run_name,
            "retries": retries,
            "retry_delay_seconds": retry_delay_seconds,
            "task_runner": task_runner,
            "description": description,
            "timeout_seconds": timeout_seconds,
            "validate_parameters": validate_parameters,
            "persist_result": persist_result,
            "log_prints": log_prints,
            "on_completion": on_completion,
            "on_failure": on_failure,
            "on_cancellation": on_cancellation,
            "on_crashed": on_crashed,
            "on_running": on_running,
        }

    @property
    def identity(self) -> str:
        """``module.qualname@<source hash>``: what a stored run remembers of the flow that
        made it, so a resume by another flow of the same name is refused. Computed on
        first use (reading the source costs a file read)."""
        identity = self._lazy.get("identity")
        if identity is None:
            from flowless.cache_policies import source_hash

            identity = self._lazy["identity"] = f"{self.flow_key}@{source_hash(self.fn)[:16]}"
        return str(identity)

    @property
    def parameter_validator(self) -> Any:
        """The engine's validator for this flow's parameters, built on first validated
        call (and then shared by the bound copies of a method flow)."""
        return self._lazy.get("parameter_validator")

    @parameter_validator.setter
    def parameter_validator(self, validator: Any) -> None:
        self._lazy["parameter_validator"] = validator

    def parameters_to_store(self, parameters: dict[str, Any]) -> dict[str, Any]:
        """The parameters a run records: a method flow's bound ``self``/``cls`` is the
        caller's object, not input, and is left out (Prefect's ``serialize_parameters``
        skips it too)."""
        if not self.bound_to:
            return parameters
        skip = self.shape.names[: len(self.bound_to)]
        return {k: v for k, v in parameters.items() if k not in skip}

    def parameters_from_store(self, stored: dict[str, Any]) -> dict[str, Any]:
        """Stored parameters ready to call this flow with: the bound object put back
        first, so a method flow resumes on the instance it is resumed through."""
        if not self.bound_to:
            return stored
        return {**dict(zip(self.shape.names, self.bound_to, strict=False)), **stored}

    def with_options(self, **changes: Any) -> Flow[P, R]:
        """A copy of this flow with some options changed."""
        unknown = set(changes) - set(self._options)
        if unknown:
            raise TypeError(f"with_options() got unexpected option(s): {sorted(unknown)}")
        options = {**self._options, **changes}
        # As Prefect: hooks added with the decorator forms stay, unless replaced.
        for option, current in (
            ("on_completion", self.on_completion_hooks),
            ("on_failure", self.on_failure_hooks),
            ("on_cancellation", self.on_cancellation_hooks),
            ("on_crashed", self.on_crashed_hooks),
            ("on_running", self.on_running_hooks),
        ):
            options[option] = changes.get(option) or current
        return self.keep_binding(Flow(self.fn, **options))

    def on_completion(self, fn: FlowStateHook) -> FlowStateHook:
        """Decorator form of ``on_completion=[fn]``."""
        self.on_completion_hooks.append(fn)
        return fn

    def on_failure(self, fn: FlowStateHook) -> FlowStateHook:
        """Decorator form of ``on_failure=[fn]``."""
        self.on_failure_hooks.append(fn)
        return fn

    def on_cancellation(self, fn: FlowStateHook) -> FlowStateHook:
        """Decorator form of ``on_cancellation=[fn]``."""
        self.on_cancellation_hooks.append(fn)
        return fn

    def on_crashed(self, fn: FlowStateHook) -> FlowStateHook:
        """Decorator form of ``on_crashed=[fn]``."""
        self.on_crashed_hooks.append(fn)
        return fn

    def on_running(self, fn: FlowStateHook) -> FlowStateHook:
        """Decorator form of ``on_running=[fn]``."""
        self.on_running_hooks.append(fn)
        return fn

    def serve(
        self,
        name: str | None = None,
        interval: Any = None,
        cron: str | Iterable[str] | None = None,
        paused: bool | None = None,
        schedule: Any = None,
        schedules: Iterable[Any] | None = None,
        global_limit: int | None = None,
        parameters: dict[str, Any] | None = None,
        description: str | None = None,
        tags: Iterable[str] | None = None,
        version: str | None = None,
        limit: int | None = None,
        print_starting_message: bool = True,
    ) -> None:
        """Serve this flow as a deployment until Ctrl-C: its schedules fire here and runs
        made by ``run_deployment`` start here (Prefect's ``Flow.serve``; see
        docs/deployments.md). ``global_limit`` is the deployment's concurrency limit."""
        from flowless.deployments._serve import serve_flow

        serve_flow(
            self,
            name=name or self.name,
            interval=interval,
            cron=cron,
            paused=bool(paused),
            schedules=[*([schedule] if schedule is not None else []), *(schedules or ())],
            global_limit=global_limit,
            parameters=parameters,
            description=description,
            tags=tuple(tags or ()),
            limit=limit,
            quiet=not print_starting_message,
        )

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
        return engine().call_flow(self, args, kwargs, return_state, wait_for)

    def __repr__(self) -> str:
        return f"Flow(name={self.name!r})"


@overload
def flow(__fn: Callable[P, R]) -> Flow[P, R]: ...


@overload
def flow(__fn: None = None, **options: Any) -> Callable[[Callable[P, R]], Flow[P, R]]: ...


def flow(__fn: Callable[P, R] | None = None, **options: Any) -> Any:
    """Decorate a function as a flow: ``@flow``, ``@flow()`` or ``@flow(name=..., ...)``."""
    check_options("flow", Flow, options)
    if __fn is not None:
        return Flow(__fn, **options)

    def decorator(fn: Callable[P, R]) -> Flow[P, R]:
        return Flow(fn, **options)

    return decorator
