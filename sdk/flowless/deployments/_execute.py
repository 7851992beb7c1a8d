"""Running one Scheduled run of a deployment, under the deployment's concurrency limit.

Shared by ``serve`` and the flow-run Lambda function. A deployment with
``concurrency_limit`` holds a lease on the limit ``deployment:<flow>/<name>`` (the same
conditional-write slots as ``flowless gcl``) for the whole run. When none is free:

- ``CANCEL_NEW``: the run ends Cancelled, saying which limit was full;
- ``ENQUEUE``: the run stays Scheduled, renamed ``AwaitingConcurrencySlot`` as in Prefect,
  and ``execute`` answers None: the caller tries again later (``serve`` at its next tick;
  the Lambda function waits in place for a while, then hands the run to a fresh
  invocation of itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from typing import TYPE_CHECKING, Any

from flowless.exceptions import (
    ConcurrencySlotAcquisitionError,
    RecordConflictError,
    RecordExistsError,
)
from flowless.states import State, StateType

if TYPE_CHECKING:
    from flowless.deployments._definition import DeploymentDefinition
    from flowless.flows import Flow
    from flowless.store import LimitStore, Store

__all__ = ["LEASE_SECONDS", "execute", "limit_name"]

#: A run holds its deployment slot as a lease renewed every half of this; a crashed
#: runner's slot is free again at most this long after it died.
LEASE_SECONDS = 60.0


def limit_name(definition: DeploymentDefinition) -> str:
    return f"deployment:{definition.full_name}"


def _ensure_limit(limits: LimitStore, definition: DeploymentDefinition) -> None:
    from flowless.concurrency._admin import create_limit, update_limit

    assert definition.concurrency_limit is not None
    name = limit_name(definition)
    existing = limits.read_limits([name]).get(name)
    if existing is None:
        with contextlib.suppress(RecordExistsError):  # another runner created it first
            create_limit(name, definition.concurrency_limit, limits=limits)
    elif existing.limit != definition.concurrency_limit:
        update_limit(name, limit=definition.concurrency_limit, limits=limits)


def _run(flow: Flow[..., Any], flow_run_id: str) -> State[Any]:
    from flowless.engine import start_flow_run_by_id

    outcome = start_flow_run_by_id(flow, flow_run_id)
    state: State[Any] = asyncio.run(outcome) if inspect.iscoroutine(outcome) else outcome
    return state


def execute(
    definition: DeploymentDefinition,
    flow: Flow[..., Any],
    flow_run_id: str,
    store: Store,
    limits: LimitStore,
    *,
    wait_for_slot: float = 0.0,
) -> State[Any] | None:
    """Run it and return its final state; its current state if someone else started it;
    None if it must wait for a slot of the deployment's limit (``ENQUEUE``)."""
    if definition.concurrency_limit is None:
        return _run(flow, flow_run_id)
    from flowless.concurrency._acquire import acquire, release
    from flowless.concurrency._leases import keep, stop_keeping

    _ensure_limit(limits, definition)
    try:
        acquired = acquire(
            limits,
            [limit_name(definition)],
            lease_duration=LEASE_SECONDS,
            timeout_seconds=wait_for_slot if wait_for_slot > 0 else None,
            max_retries=None if wait_for_slot > 0 else 0,
            holder=f"flow run {flow_run_id}",
        )
    except (ConcurrencySlotAcquisitionError, TimeoutError):
        return _no_slot(definition, flow_run_id, store)
    keep(limits, acquired, LEASE_SECONDS)
    try:
        return _run(flow, flow_run_id)
    finally:
        stop_keeping(acquired)
        release(limits, acquired)


def _no_slot(definition: DeploymentDefinition, flow_run_id: str, store: Store) -> State[Any] | None:
    record = store.read_flow_run(flow_run_id)
    if record.state_type is not StateType.SCHEDULED:
        return State(record.state_type, record.state_name, record.state_message)
    full = f"the deployment's concurrency limit of {definition.concurrency_limit} is reached"
    if definition.collision_strategy == "CANCEL_NEW":
        record.state_type, record.state_name = StateType.CANCELLED, "Cancelled"
        record.state_message = f"Not started: {full} (collision strategy CANCEL_NEW)."
        record.end_time = time.time()
    elif record.state_name != "AwaitingConcurrencySlot":
        record.state_name = "AwaitingConcurrencySlot"
        record.state_message = f"Waiting: {full} (collision strategy ENQUEUE)."
    else:
        return None
    try:
        store.update_flow_run(record)
        store.flush()
    except RecordConflictError:
        pass  # someone else moved it on; their state stands
    if record.state_type is StateType.CANCELLED:
        return State(record.state_type, record.state_name, record.state_message)
    return None
