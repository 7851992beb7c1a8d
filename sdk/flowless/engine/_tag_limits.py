"""Task concurrency by tag: a task run carrying tag ``t`` holds a slot of the limit
``tag:t`` (when one exists) while it runs, across every flow run and process.

The slot is taken on the calling side, around the invoker: on AWS that is the flow-run
function, which is billed while it waits on its task runs anyway, so a task run that
waits for a slot costs no Lambda invocation of its own. It is a lease, renewed while the
task run lasts, so a flow run that dies gives its slots back within ``TAG_LEASE_SECONDS``.
Tags without a limit cost one read per task run and are otherwise ignored, as in Prefect.
"""

from __future__ import annotations

from functools import partial
from logging import ERROR, INFO
from typing import TYPE_CHECKING, Any

from flowless.engine._outcome import stamp
from flowless.engine._runtime import current_runtime
from flowless.engine._task_run import task_run_logger
from flowless.exceptions import ConcurrencySlotAcquisitionError
from flowless.invoke import Invoker, TaskCall
from flowless.states import State, StateType
from flowless.store import LimitStore, Store
from flowless.store._limits import TAG_PREFIX

if TYPE_CHECKING:
    from flowless.concurrency._acquire import Acquired

__all__ = [
    "TAG_LEASE_SECONDS",
    "release_tag_slots",
    "take_tag_slots",
    "take_tag_slots_async",
    "with_tag_slots",
    "with_tag_slots_async",
]

TAG_LEASE_SECONDS = 60.0


def _take(limits: LimitStore, call: TaskCall) -> Acquired | ConcurrencySlotAcquisitionError:
    """The slots, or why they can never be had (returned: the async path takes them in a
    thread)."""
    from flowless.concurrency._acquire import acquire  # only for tasks with tags

    run = call.task_run
    try:
        return acquire(
            limits,
            [TAG_PREFIX + tag for tag in run.tags],
            1,
            lease_duration=TAG_LEASE_SECONDS,
            holder=f"task run {run.name!r} ({run.id})",
        )
    except ConcurrencySlotAcquisitionError as exc:
        return exc


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
    store.finish_task_run(run, new=True)
    state.state_details.task_run_id = run.id
    task_run_logger(run, call.task.name).emit(ERROR, "Finished in state %s", state)
    return state


def _hold(
    store: Store, limits: LimitStore, call: TaskCall, taken: Acquired | Exception
) -> Acquired | State[Any]:
    """Log the wait and keep the lease renewed; or the task run's final state if the
    slots can never be had."""
    if isinstance(taken, ConcurrencySlotAcquisitionError):
        return _refused(store, limits, call, taken)
    assert not isinstance(taken, Exception)
    if taken.names and taken.waited > 0:
        task_run_logger(call.task_run, call.task.name).emit(
            INFO,
            "Waited %.2fs for a slot of concurrency limit(s) %r",
            taken.waited,
            list(taken.names),
        )
    from flowless.concurrency._leases import keep

    keep(limits, taken, TAG_LEASE_SECONDS)
    return taken


def _give_back(limits: LimitStore, acquired: Acquired) -> None:
    from flowless.concurrency._acquire import release
    from flowless.concurrency._leases import stop_keeping

    stop_keeping(acquired)
    release(limits, acquired)


def with_tag_slots(store: Store, invoker: Invoker, call: TaskCall) -> State[Any]:
    """``invoker.run(call)`` while holding a slot of every tag's limit."""
    if not call.task_run.tags:  # the hot path: nothing to hold
        return invoker.run(call)
    limits = current_runtime().limits
    held = _hold(store, limits, call, _take(limits, call))
    if isinstance(held, State):
        return held
    try:
        return invoker.run(call)
    finally:
        _give_back(limits, held)


async def with_tag_slots_async(store: Store, invoker: Invoker, call: TaskCall) -> State[Any]:
    """The same around an awaited task; the waits run off the event loop, each on a thread
    of its own (``off_loop``): in the loop's small default executor, tasks waiting for a
    slot could take every thread and leave none for the holder to give its slot back."""
    if not call.task_run.tags:
        return await invoker.arun(call)
    from flowless.concurrency._off_loop import off_loop  # only for tasks with tags

    limits = current_runtime().limits

    def undo(taken: Acquired | Exception) -> None:
        if not isinstance(taken, Exception):  # the task was cancelled while it waited
            _give_back(limits, taken)

    held = _hold(store, limits, call, await off_loop(partial(_take, limits, call), undo))
    if isinstance(held, State):
        return held
    try:
        return await invoker.arun(call)
    finally:
        await off_loop(partial(_give_back, limits, held))


def take_tag_slots(store: Store, call: TaskCall) -> Acquired | State[Any] | None:
    """The slots ``with_tag_slots`` holds, for a run that outlives one call (a generator
    task's, held while its caller iterates): ``None`` without tags, the final state if
    they can never be had. Give them back with ``release_tag_slots``."""
    if not call.task_run.tags:
        return None
    limits = current_runtime().limits
    return _hold(store, limits, call, _take(limits, call))


async def take_tag_slots_async(store: Store, call: TaskCall) -> Acquired | State[Any] | None:
    """``take_tag_slots``, waiting off the event loop."""
    if not call.task_run.tags:
        return None
    from flowless.concurrency._off_loop import off_loop

    limits = current_runtime().limits

    def undo(taken: Acquired | Exception) -> None:
        if not isinstance(taken, Exception):
            _give_back(limits, taken)

    return _hold(store, limits, call, await off_loop(partial(_take, limits, call), undo))


def release_tag_slots(acquired: Acquired) -> None:
    _give_back(current_runtime().limits, acquired)
