"""The flow side of a task call: decide whether and how a task run executes.

Per call: bind the arguments, give the call its key in the flow run's journal
(task key, n-th call), resolve upstream futures, then in order: replay a completed call,
serve a cache hit, or hand the call to the invoker. This is the per-task hot path: a
fresh flow run has nothing to replay and a task without a cache policy reads nothing.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from logging import DEBUG, ERROR, INFO, WARNING
from typing import TYPE_CHECKING, Any

from flowless.context import (
    FlowRunContext,
    TaskRunContext,
    current_flow_run,
    current_tags,
    persisting_results,
)
from flowless.engine._cancel import check_cancelling
from flowless.engine._hooks import run_hooks
from flowless.engine._inputs import task_inputs
from flowless.engine._names import render_run_name, task_run_display_name, task_run_id
from flowless.engine._outcome import stamp
from flowless.engine._runtime import Runtime, current_runtime
from flowless.engine._tag_limits import with_tag_slots, with_tag_slots_async
from flowless.engine._task_run import task_run_logger
from flowless.engine._timeouts import enter_engine, leave_engine
from flowless.exceptions import (
    CorruptRecordError,
    UpstreamTaskError,
)
from flowless.futures import RunQueue
from flowless.invoke import NOT_RETURNED, TaskCall
from flowless.logging._stored import KEPT
from flowless.states import State, StateType
from flowless.store import LogLine, TaskRunRecord
from flowless.task_runners import ThreadPoolTaskRunner
from flowless.utilities.engine import resolve_inputs_sync, wait_for_dependencies

if TYPE_CHECKING:
    from flowless.tasks import Task

__all__ = ["call_task"]


class _Detached:
    """The scope of a task called outside any flow (Prefect runs it on its own)."""

    flow_run = None
    replay = None
    legacy_ids = False
    log_prints = False
    parameters: dict[str, Any] = {}  # noqa: RUF012 - never mutated
    runs = RunQueue(keep=False)  # shared by every task submitted outside a flow
    _pool: ThreadPoolExecutor | None = None

    def __init__(self, runtime: Runtime) -> None:
        self.store = runtime.store
        self.results = runtime.results
        self.invoker = runtime.invoker
        self.settings = runtime.settings

    def next_dynamic_key(self, task_key: str) -> int:
        return 0

    def executor(self) -> ThreadPoolExecutor:
        if _Detached._pool is None:
            _Detached._pool = ThreadPoolTaskRunner().new_executor(
                self.settings.task_runner_max_workers
            )
        return _Detached._pool


def _forget_pool_after_fork() -> None:
    _Detached._pool = None  # its threads stayed in the parent


os.register_at_fork(after_in_child=_forget_pool_after_fork)

Scope = FlowRunContext | _Detached


def _scope() -> Scope:
    ctx = current_flow_run()
    return ctx if ctx is not None else _Detached(current_runtime())


def _prepare(
    scope: Scope, task: Task[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> TaskCall:
    parameters = task.shape.bind(args, kwargs)
    flow_run = scope.flow_run
    if flow_run is not None:
        dynamic_key = scope.next_dynamic_key(task.task_key)
        run_id = task_run_id(flow_run.id, task.task_key, dynamic_key, legacy=scope.legacy_ids)
    else:
        dynamic_key = 0
        run_id = str(uuid.uuid4())
    record = TaskRunRecord(
        id=run_id,
        flow_run_id=flow_run.id if flow_run is not None else None,
        task_key=task.task_key,
        dynamic_key=dynamic_key,
        name=(
            task_run_display_name(task.name, run_id, legacy=scope.legacy_ids)
            if flow_run is not None
            else task.name
        ),
        task_name=task.name,
        state_type=StateType.PENDING,
        state_name="Pending",
        # The task's own tags and those of the ``tags(...)`` blocks around the call.
        tags=sorted(task.tags.union(extra) if (extra := current_tags()) else task.tags),
    )
    log_prints = task.log_prints if task.log_prints is not None else scope.log_prints
    return TaskCall(
        task=task,
        parameters=parameters,
        task_run=record,
        flow_run_name=flow_run.name if flow_run is not None else None,
        log_prints=log_prints,
        state=State(StateType.PENDING),
    )


def _task_run_name(call: TaskCall) -> str | None:
    template = call.task.task_run_name
    if template is None:
        return None
    return render_run_name(template, call.task_run, call.parameters, "task", call.task.name)


def _cache_key(scope: Scope, call: TaskCall) -> str | None:
    task = call.task
    policy = task.effective_cache_policy
    if policy is None:
        # Prefect's DEFAULT policy, for a task that persists its result only because the
        # flow run does (outside a flow it could never hit: its key holds the run's id).
        policy = task.persisted_cache_policy
        if policy is None or scope.flow_run is None or not persisting_results.get():
            return None
    ctx = TaskRunContext(task, call.task_run, call.parameters, _logger(call), call.log_prints)
    try:
        key = policy.compute_key(ctx, call.parameters, scope.parameters)
    except Exception as exc:
        _logger(call).emit(
            ERROR,  # Prefect's level (it logs the exception)
            "Error encountered when computing cache key - result will not be persisted. %s",
            exc,
        )
        return None
    return None if key is None else f"{task.task_key}:{key}"


def _logger(call: TaskCall) -> Any:
    return task_run_logger(call.task_run, call.task.name)


def _from_cache(scope: Scope, call: TaskCall, cache_key: str) -> State[Any] | None:
    try:
        entry = scope.store.read_cache_entry(cache_key, time.time())
        if entry is None:
            return None
        value = scope.results.load(entry.result)
    except CorruptRecordError as exc:
        _logger(call).emit(
            WARNING,
            "The cached result cannot be read (%s); running the task and replacing it.",
            exc,
        )
        return None
    run = call.task_run
    state: State[Any] = State(StateType.COMPLETED, "Cached", data=value)
    run.start_time = state.created
    run.cache_key = cache_key
    stamp(run, state, entry.result)
    scope.store.finish_task_run(run, new=True)
    state.state_details.task_run_id = run.id
    state.state_details.flow_run_id = run.flow_run_id
    state.state_details.cache_key = cache_key
    logger = _logger(call)
    run_hooks(call.task.on_completion_hooks, call.task, run, state, logger)  # as Prefect
    logger.emit(INFO, "Finished in state %s", state)
    return state


def _not_ready(scope: Scope, call: TaskCall, exc: UpstreamTaskError) -> State[Any]:
    run = call.task_run
    state: State[Any] = State(StateType.PENDING, "NotReady", str(exc))
    stamp(run, state, None)
    scope.store.finish_task_run(run, new=True)
    state.state_details.task_run_id = run.id
    _logger(call).emit(ERROR, "Finished in state %s", state)
    return state


def _inputs_ready(
    scope: Scope, call: TaskCall, wait_for: Iterable[Any] | None
) -> State[Any] | None:
    """The call's inputs resolved (first, as Prefect) and its ``wait_for`` waited for, then
    described on its record (``_inputs``) and its run named; the recorded NotReady state
    if an upstream did not complete."""
    try:
        call.parameters = resolve_inputs_sync(call.parameters)
        if wait_for:
            wait_for_dependencies(wait_for)
    except UpstreamTaskError as exc:
        return _not_ready(scope, call, exc)
    call.task_run.inputs = task_inputs(call.parameters)  # once, before it is first written
    if call.task.task_run_name is not None:
        call.task_run.name = _task_run_name(call) or call.task_run.name
    return None


def _decide(scope: Scope, call: TaskCall, wait_for: Iterable[Any] | None) -> State[Any] | None:
    """Everything before invoking: the final state when no run is needed (an upstream
    failed, the journal has the call, the cache has the result), else ``None``."""
    if isinstance(scope, FlowRunContext):
        check_cancelling(scope)  # a cheap clock check, a store read once per 100 ms
    task = call.task
    not_ready = _inputs_ready(scope, call, wait_for)
    if not_ready is not None:
        return not_ready
    replay = scope.replay
    if replay is not None:
        replayed = replay.get((task.task_key, call.task_run.dynamic_key))
        if replayed is not None:
            _logger(call).emit(DEBUG, "Replayed from the flow run's journal: %s", replayed)
            return replayed
    cache_key = _cache_key(scope, call)
    if cache_key is None:
        return None
    call.cache_key = cache_key
    call.cache_expiration = task.cache_expiration
    return None if task.refresh_cache else _from_cache(scope, call, cache_key)


def _invoked(scope: Scope, call: TaskCall, state: State[Any]) -> State[Any]:
    """A state the invoker returned. A remote run's lines are shown here as its own
    process logged them (they are kept already: not again); a run that answered none
    (the function failed) gets its final line here, kept with the flow run."""
    if not getattr(scope.invoker, "remote", False):  # invokers written before ``remote``
        return state
    logger = _logger(call)
    if call.remote_lines is None:
        level = INFO if state.type is StateType.COMPLETED else ERROR
        logger.emit(level, "Finished in state %s", state)
        return state
    if call.remote_lines_cut:
        logger.replay(
            WARNING,
            call.remote_lines[0][2] if call.remote_lines else time.time(),
            f"... {call.remote_lines_cut} earlier line(s) of this task run are not shown "
            "here; `flowless flow-run logs` shows them all",
            **{KEPT: True},
        )
    run = call.task_run
    for line_id, level, created, message in call.remote_lines:
        logger.replay(level, created, message, **{KEPT: True})
        if not call.remote_lines_kept and run.flow_run_id:
            with contextlib.suppress(Exception):  # a line lost never fails the run
                scope.store.write_log(
                    LogLine(
                        line_id,
                        run.flow_run_id,
                        run.id,
                        run.name,
                        created,
                        level,
                        "flowless.task_runs",
                        message,
                    )
                )
    return state


def _settled(scope: Scope, call: TaskCall, state: State[Any]) -> State[Any]:
    call.state = state
    if scope.flow_run is None:
        scope.store.flush()  # a standalone task run is on disk when it returns
    return state


def _orchestrate(scope: Scope, call: TaskCall, wait_for: Iterable[Any] | None) -> State[Any]:
    """Bring one prepared call to a final state (or NotReady); never raises for the task's
    own failures, which are the returned state."""
    state = _decide(scope, call, wait_for)
    if state is None:
        state = _invoked(scope, call, with_tag_slots(scope.store, scope.invoker, call))
    return _settled(scope, call, state)


async def _orchestrate_async(
    scope: Scope, call: TaskCall, wait_for: Iterable[Any] | None
) -> State[Any]:
    """The same for an awaited async task: its coroutine runs on the caller's loop."""
    state = _decide(scope, call, wait_for)
    if state is None:
        state = await with_tag_slots_async(scope.store, scope.invoker, call)
        state = _invoked(scope, call, state)
    return _settled(scope, call, state)


def call_task(
    task: Task[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    return_state: bool,
    wait_for: Iterable[Any] | None,
) -> Any:
    if task.isgenerator:  # its call returns a generator of its values
        from flowless.engine._generator_tasks import call_generator_task

        return call_generator_task(task, args, kwargs, return_state, wait_for)
    guard = enter_engine()  # a timed-out caller is not interrupted in here
    try:
        scope = _scope()
        call = _prepare(scope, task, args, kwargs)
        if task.isasync:
            return _await_call(scope, call, wait_for, return_state)
        state = _orchestrate(scope, call, wait_for)
    finally:
        leave_engine(guard)
    return state if return_state else _call_result(call, state)


def _call_result(call: TaskCall, state: State[Any]) -> Any:
    """Prefect's rule: a task call gives what the function returned (even a state it made);
    if it raised, or its result came from the journal or the cache, the state's result; if it
    never ran because an upstream did not complete (NotReady), ``None``."""
    returned = call.returned
    if returned is not NOT_RETURNED:
        return returned
    return None if state.name == "NotReady" else state.result()


async def _await_call(
    scope: Scope, call: TaskCall, wait_for: Iterable[Any] | None, return_state: bool
) -> Any:
    """An awaited async task: its coroutine runs on the caller's event loop, so objects
    bound to that loop (semaphores, async clients) can be shared between tasks."""
    guard = enter_engine()  # see flowless._guard: the loop's thread may be a timed worker
    try:
        state = await _orchestrate_async(scope, call, wait_for)
    finally:
        leave_engine(guard)
    return state if return_state else _call_result(call, state)
