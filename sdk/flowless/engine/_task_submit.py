"""The flow side of ``.submit()`` and ``.map()``: each call becomes a run on the flow
run's pool, decided there as a called task is (``_task_call``), and a future for it.

A submitted run always ends in a state (an error of the engine itself is ``Crashed``);
a pool worker about to wait for work writes its held records first; ``.map()`` makes one
submitted run per position of its iterable arguments, as Prefect maps.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterable
from functools import partial
from logging import ERROR, INFO
from typing import TYPE_CHECKING, Any

from flowless._annotations import allow_failure, quote, unmapped
from flowless.engine._cancel import CANCELLED_MESSAGE, FlowRunCancelling
from flowless.engine._outcome import stamp
from flowless.engine._task_call import Scope, _logger, _orchestrate, _prepare, _scope
from flowless.engine._timeouts import enter_engine, leave_engine
from flowless.exceptions import MappingLengthMismatch, MappingMissingIterable, ParameterBindError
from flowless.futures import PrefectFuture, PrefectFutureList, SubmittedRun
from flowless.invoke import TaskCall
from flowless.states import State, StateType

if TYPE_CHECKING:
    from flowless.tasks import Task

__all__ = ["map_task", "submit_task"]


def _submit(scope: Scope, call: TaskCall, wait_for: Iterable[Any] | None) -> PrefectFuture[Any]:
    ctx = contextvars.copy_context()
    run: SubmittedRun[Any] = SubmittedRun(
        partial(ctx.run, _orchestrate_submitted, scope, call, wait_for), scope.runs
    )
    scope.runs.add(run)
    scope.executor().submit(run.run)
    return PrefectFuture(call, run)


def _orchestrate_submitted(
    scope: Scope, call: TaskCall, wait_for: Iterable[Any] | None
) -> State[Any]:
    """A submitted run always ends in a state: an error of the engine itself (a bad
    ``task_run_name``, a store failure) becomes ``Crashed``, which ``result()`` raises."""
    try:
        return _orchestrate(scope, call, wait_for)
    except FlowRunCancelling:  # the flow run is being cancelled: this run never starts
        return _cancelled(scope, call)
    except Exception as exc:
        state: State[Any] = State(
            StateType.CRASHED, message=f"Task run crashed: {type(exc).__name__}: {exc}", data=exc
        )
        call.state = state
        with contextlib.suppress(Exception):  # recorded if the store still can
            stamp(call.task_run, state, None)
            scope.store.finish_task_run(call.task_run)
        _logger(call).emit(ERROR, "Finished in state %s", state, exc=exc)
        return state
    finally:
        if _queue_empty(scope):  # this worker is about to wait: its records go now
            with contextlib.suppress(Exception):
                scope.store.flush_thread()


def _cancelled(scope: Scope, call: TaskCall) -> State[Any]:
    state: State[Any] = State(StateType.CANCELLED, "Cancelled", CANCELLED_MESSAGE)
    call.state = state
    stamp(call.task_run, state, None)
    scope.store.finish_task_run(call.task_run, new=True)
    state.state_details.task_run_id = call.task_run.id
    _logger(call).emit(INFO, "Finished in state %s", state)
    return state


def _queue_empty(scope: Scope) -> bool:
    """Whether the pool has no submitted run waiting (``ThreadPoolExecutor`` keeps its
    queue in ``_work_queue``, the same since Python 3.2; unknown counts as not empty)."""
    queue = getattr(scope.executor(), "_work_queue", None)
    return queue is not None and queue.empty()


def submit_task(
    task: Task[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    wait_for: Iterable[Any] | None,
) -> PrefectFuture[Any]:
    guard = enter_engine()
    try:
        scope = _scope()
        return _submit(scope, _prepare(scope, task, args, kwargs), wait_for)
    finally:
        leave_engine(guard)


def _iterable(value: Any) -> bool:
    if isinstance(value, (str, bytes)):
        return False
    try:
        iter(value)
    except TypeError:
        return False
    return True


def map_task(
    task: Task[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    wait_for: Iterable[Any] | None,
) -> PrefectFutureList[Any]:
    """One submitted run per position of the iterable arguments, as Prefect maps."""
    guard = enter_engine()
    try:
        return _map(task, args, kwargs, wait_for)
    finally:
        leave_engine(guard)


def _map(
    task: Task[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    wait_for: Iterable[Any] | None,
) -> PrefectFutureList[Any]:
    try:
        bound = task.shape.signature.bind_partial(*args, **kwargs)
    except TypeError as exc:
        raise ParameterBindError.from_bind_failure(task.name, exc, args, kwargs) from None
    mapped: dict[str, list[Any]] = {}
    static: dict[str, Any] = {}
    # As Prefect: ``allow_failure(...)``/``quote(...)`` around an argument is looked
    # through to decide what is mapped, and put back around each call's value.
    annotated: dict[str, allow_failure[Any] | quote[Any]] = {}
    for name, given in bound.arguments.items():
        value = given.result() if isinstance(given, PrefectFuture) else given
        if isinstance(value, (allow_failure, quote)):
            annotated[name] = value
            value = value.unwrap()
        if isinstance(value, unmapped):
            static[name] = value.value
        elif _iterable(value):
            mapped[name] = list(value)
        else:
            static[name] = value
    if not mapped:
        raise MappingMissingIterable(
            "No iterable parameters were received. Parameters for map must include at least "
            f"one iterable. Parameters: {bound.arguments}"
        )
    lengths = {name: len(values) for name, values in mapped.items()}
    if len(set(lengths.values())) > 1:
        raise MappingLengthMismatch(
            "Received iterable parameters with different lengths. Parameters for map must all "
            f"be the same length. Got lengths: {lengths}"
        )
    scope = _scope()
    futures: PrefectFutureList[Any] = PrefectFutureList()
    for i in range(next(iter(lengths.values()))):
        call_kwargs = {**static, **{name: values[i] for name, values in mapped.items()}}
        for name, annotation in annotated.items():
            call_kwargs[name] = annotation.rewrap(call_kwargs[name])
        futures.append(_submit(scope, _prepare(scope, task, (), call_kwargs), wait_for))
    return futures
