"""Task concurrency by tag: a task run carrying tag ``t`` holds a slot of the limit
``tag:t`` (when one exists) while it runs, across every flow run and process.

The slot is taken on the calling side, around the invoker: on AWS that is the flow-run
function, which is billed while it waits on its task runs anyway, so a task run that
waits for a slot costs no Lambda invocation of its own. It is a lease, renewed while the
task run lasts, so a flow run that dies gives its slots back within ``TAG_LEASE_SECONDS``.
Tags without a limit cost one read per task run and are otherwise ignored, as in Prefect.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from logging import ERROR, INFO
from typing import TYPE_CHECKING, Any

from flowless.engine._outcome import stamp
from flowless.engine._runtime import current_runtime
from flowless.engine._task_run import task_run_logger
from flowless.exceptions import ConcurrencySlotAcquisitionError
from flowless.invoke import TaskCall
from flowless.states import State, StateType
from flowless.store import LimitStore, Store
from flowless.store._limits import TAG_PREFIX

if TYPE_CHECKING:
    from flowless.concurrency._acquire import Acquired

__all__ = ["TAG_LEASE_SECONDS", "with_tag_slots", "with_tag_slots_async"]

TAG_LEASE_SECONDS = 60.0


def _take(limits: LimitStore, call: TaskCall) -> Acquired:
    from flowless.concurrency._acquire import acquire  # only for tasks with tags

    run = call.task_run
    return acquire(
        limits,
        [TAG_PREFIX + tag for tag in run.tags],
        1,
        lease_duration=TAG_LEASE_SECONDS,
        holder=f"task run {run.name!r} ({run.id})",
    )


def _refused(
    store: Store, limits: LimitStore, call: TaskCall, exc: ConcurrencySlotAcquisitionError
) -> State[Any]:
    """A limit of 0 on one of the tags: the task run can never run (Prefect aborts it)."""
    run = call.task_run
    found = limits.read_limits([TAG_PREFIX + tag for tag in run.tags])
    zero = [t for t in run.tags if (x := found.get(TAG_PREFIX + t)) and x.active and x.limit < 1]
    message = (
        f'The concurrency limit on tag "{zero[0]}" is 0 and will deadlock if the task tries '
        "to run again."
        if zero
        else str(exc)
    )
    state: State[Any] = State(StateType.FAILED, "Failed", message)
    stamp(run, state, None)
    store.finish_task_run(run)
    state.state_details.task_run_id = run.id
    task_run_logger(run, call.task.name).emit(ERROR, "Finished in state %s", state)
    return state


def _waited(call: TaskCall, acquired: Acquired) -> None:
    if acquired.names and acquired.waited > 0:
        task_run_logger(call.task_run, call.task.name).emit(
            INFO,
            "Waited %.2fs for a slot of concurrency limit(s) %r",
            acquired.waited,
            list(acquired.names),
        )


def with_tag_slots(store: Store, call: TaskCall, run: Callable[[], State[Any]]) -> State[Any]:
    """``run()`` while holding a slot of every tag's limit."""
    if not call.task_run.tags:
        return run()
    limits = current_runtime().limits
    try:
        acquired = _take(limits, call)
    except ConcurrencySlotAcquisitionError as exc:
        return _refused(store, limits, call, exc)
    _waited(call, acquired)
    from flowless.concurrency._acquire import release
    from flowless.concurrency._leases import keep, stop_keeping

    keep(limits, acquired, TAG_LEASE_SECONDS)
    try:
        return run()
    finally:
        stop_keeping(acquired)
        release(limits, acquired)


async def with_tag_slots_async(
    store: Store, call: TaskCall, run: Callable[[], Awaitable[State[Any]]]
) -> State[Any]:
    """The same around an awaited task; the waits run off the event loop."""
    if not call.task_run.tags:
        return await run()
    import asyncio  # here, not at the top: sync-only programs never import asyncio

    limits = current_runtime().limits
    try:
        acquired = await asyncio.to_thread(_take, limits, call)
    except ConcurrencySlotAcquisitionError as exc:
        return _refused(store, limits, call, exc)
    _waited(call, acquired)
    from flowless.concurrency._acquire import release
    from flowless.concurrency._leases import keep, stop_keeping

    keep(limits, acquired, TAG_LEASE_SECONDS)
    try:
        return await run()
    finally:
        stop_keeping(acquired)
        await asyncio.to_thread(release, limits, acquired)
