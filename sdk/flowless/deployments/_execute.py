"""Running one Scheduled run of a deployment, under the deployment's concurrency limit.

Shared by ``serve`` and the flow-run Lambda function. A deployment with
``concurrency_limit`` holds a lease on the limit ``deployment:<flow>/<name>`` (the same
conditional-write slots as ``flowless gcl``) for the whole run. When none is free:

- ``CANCEL_NEW``: the run ends Cancelled, saying which limit was full;
- ``ENQUEUE``: the run goes back to Scheduled, named ``AwaitingConcurrencySlot`` as in
  Prefect, and ``execute`` answers no state: the caller tries again later (``serve`` at
  its next tick; the Lambda function waits in place for a while, then hands the run to a
  fresh invocation of itself).
"""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING, Any, NamedTuple

from flowless.exceptions import (
    ConcurrencySlotAcquisitionError,
    FlowlessException,
    RecordExistsError,
)
from flowless.states import State, StateType

if TYPE_CHECKING:
    from flowless.deployments._definition import DeploymentDefinition
    from flowless.flows import Flow
    from flowless.store import FlowRunRecord, LimitStore, Store

__all__ = ["LEASE_SECONDS", "Outcome", "execute", "limit_name"]

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


class Outcome(NamedTuple):
    """What ``execute`` did: the run's state (None: it waits for a slot, ``ENQUEUE``),
    and whether this call ran it (a duplicate starter's call did not)."""

    state: State[Any] | None
    ran: bool


def _run(flow: Flow[..., Any], flow_run_id: str) -> Outcome:
    from flowless.engine._flow_run import run_scheduled

    return Outcome(*run_scheduled(flow, flow_run_id))


def execute(
    definition: DeploymentDefinition,
    flow: Flow[..., Any],
    flow_run_id: str,
    store: Store,
    limits: LimitStore,
    *,
    wait_for_slot: float = 0.0,
) -> Outcome:
    """Run it, unless someone else has it or it must wait for a slot of the deployment's
    limit. With a limit, the run is first claimed for this process (Pending), then the
    slot is taken: only the claim's winner may cancel or re-queue it."""
    if definition.concurrency_limit is None:
        return _run(flow, flow_run_id)
    from flowless.concurrency._acquire import acquire, release
    from flowless.concurrency._leases import keep, stop_keeping
    from flowless.engine._scheduled import claim_pending, state_of_record

    claimed = claim_pending(flow_run_id)
    if claimed is None:
        return Outcome(state_of_record(store.read_flow_run(flow_run_id), False), False)
    if definition.collision_strategy != "ENQUEUE":
        wait_for_slot = 0.0  # CANCEL_NEW decides at once
    try:
        _ensure_limit(limits, definition)
        acquired = acquire(
            limits,
            [limit_name(definition)],
            lease_duration=LEASE_SECONDS,
            timeout_seconds=wait_for_slot if wait_for_slot > 0 else None,
            max_retries=None if wait_for_slot > 0 else 0,
            holder=f"flow run {flow_run_id}",
        )
    except (ConcurrencySlotAcquisitionError, TimeoutError):
        return Outcome(_no_slot(definition, claimed, store), False)
    except BaseException:
        _release_if_pending(flow_run_id, store)
        raise
    try:
        keep(limits, acquired, LEASE_SECONDS)
        return _run(flow, flow_run_id)
    except BaseException:
        _release_if_pending(flow_run_id, store)  # it failed before the run began
        raise
    finally:
        stop_keeping(acquired)
        release(limits, acquired)


def _release_if_pending(flow_run_id: str, store: Store) -> None:
    """Best effort, on the way out of an error: a claim that never became a run goes back
    to Scheduled, so the next tick or delivery can start it (never stuck in Pending)."""
    from flowless.engine._owner import process_owner

    try:
        record = store.read_flow_run(flow_run_id)
        if record.state_type is StateType.PENDING and record.owner == process_owner():
            _release_claim(record, store)
    except FlowlessException:
        pass  # the store is failing: the error being raised says so


def _release_claim(record: FlowRunRecord, store: Store) -> None:
    """Give an unstarted claim back (Scheduled again), so another starter can take it."""
    record.state_type, record.owner = StateType.SCHEDULED, None
    if record.state_name == "Pending":
        record.state_name = "Scheduled"
    store.update_flow_run(record)
    store.flush()


def _no_slot(
    definition: DeploymentDefinition, record: FlowRunRecord, store: Store
) -> State[Any] | None:
    """The claimed run found the limit full: cancel it, or give it back to wait."""
    full = f"the deployment's concurrency limit of {definition.concurrency_limit} is reached"
    if definition.collision_strategy == "CANCEL_NEW":
        record.state_type, record.state_name = StateType.CANCELLED, "Cancelled"
        record.state_message = f"Not started: {full} (collision strategy CANCEL_NEW)."
        record.end_time = time.time()
        store.update_flow_run(record)  # ours (claimed): a conflict is a real error
        store.flush()
        return State(record.state_type, record.state_name, record.state_message)
    record.state_name = "AwaitingConcurrencySlot"
    record.state_message = f"Waiting: {full} (collision strategy ENQUEUE)."
    _release_claim(record, store)
    return None
