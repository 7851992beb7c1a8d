"""Cancelling a running flow run from outside (``flowless flow-run cancel``).

No server can signal the process running a flow run, so the run's own record is the
channel: the CLI marks it Cancelling (``Store.cancel_flow_run``), and the engine looks
at the record before a task run starts. It looks at most once per ``CHECK_INTERVAL`` per
flow run, so the per-task hot path reads nothing from the store in the common case. The
AWS flow-run function runs this same engine against DynamoDB, so it stops the same way.

Once seen, every later task call of the run stops too: the flow body's thread gets
``FlowRunCancelling`` (a ``BaseException``, as Prefect's ``TerminationSignal``, so the
body's ``except Exception`` does not swallow it) and the run ends Cancelled; a submitted
task run ends Cancelled without running.
"""

from __future__ import annotations

import time

from flowless.context import FlowRunContext
from flowless.exceptions import RecordConflictError, StoreError
from flowless.states import StateType
from flowless.store import FlowRunRecord, Store

__all__ = [
    "CANCELLED_MESSAGE",
    "CHECK_INTERVAL",
    "FlowRunCancelling",
    "check_cancelling",
    "write_final",
]

#: Seconds between two looks at a flow run's stored state from its task calls.
CHECK_INTERVAL = 0.1

#: The message of the Cancelled state, Prefect's (its runner's, ``runner.py``).
CANCELLED_MESSAGE = "Flow run was cancelled successfully."


class FlowRunCancelling(BaseException):
    """Raised at a task boundary of a flow run whose record says Cancelling."""


def check_cancelling(ctx: FlowRunContext) -> None:
    """Raise ``FlowRunCancelling`` if the run was marked Cancelling, as far as a look at
    most ``CHECK_INTERVAL`` old knows. A failing read is no reason to stop a run: it is
    skipped until the next look."""
    if ctx.cancelling:
        raise FlowRunCancelling(CANCELLED_MESSAGE)
    now = time.monotonic()
    if now - ctx.cancel_checked_at < CHECK_INTERVAL:
        return
    ctx.cancel_checked_at = now
    try:
        stored = ctx.store.read_flow_run(ctx.flow_run.id)
    except StoreError:
        return
    if stored.state_type is StateType.CANCELLING:
        # The mark bumped the version: the final write goes on from the stored one.
        ctx.flow_run.version = max(ctx.flow_run.version, stored.version)
        ctx.cancelling = True
        raise FlowRunCancelling(CANCELLED_MESSAGE)


def write_final(store: Store, record: FlowRunRecord) -> None:
    """Write a run's final state. A cancel that came after the run's last task boundary
    is too late to stop it: its mark (a newer version, Cancelling) gives way to the state
    the run ended in, as the run stops at a task boundary or not at all."""
    try:
        store.update_flow_run(record)
    except RecordConflictError:
        stored = store.read_flow_run(record.id)
        if stored.state_type is not StateType.CANCELLING:
            raise
        record.version = stored.version
        store.update_flow_run(record)
