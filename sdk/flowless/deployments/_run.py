"""``run_deployment``: Prefect's way to start a deployment's flow run from code."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from flowless.deployments._client import FlowRun, deployments_for, flow_run_view, wait_for_final
from flowless.exceptions import ConfigurationError

__all__ = ["run_deployment"]


def run_deployment(
    name: str | UUID,
    client: Any = None,
    parameters: dict[str, Any] | None = None,
    scheduled_time: datetime | None = None,
    flow_run_name: str | None = None,
    timeout: float | None = None,
    poll_interval: float = 5,
    tags: Iterable[str] | None = None,
    idempotency_key: str | None = None,
    work_queue_name: str | None = None,
    as_subflow: bool = True,
    job_variables: dict[str, Any] | None = None,
) -> FlowRun:
    """Create a flow run of deployment ``name`` (``flow-name/deployment-name``) and, unless
    ``timeout=0``, wait until it is final or ``timeout`` seconds pass (``None``: no limit);
    the run is never cancelled by the wait. Returns the run as it is then.

    Embedded, a ``serve`` process serving the deployment starts the run; on AWS the
    flow-run function does. Reusing ``idempotency_key`` returns the run it made, and
    raises ``IdempotencyKeyReusedError`` if the parameters differ. Called inside a flow
    run with ``as_subflow`` (the default), the new run records it as its parent.
    """
    if client is not None or work_queue_name is not None or job_variables:
        raise ConfigurationError(
            "run_deployment: flowless has no API client, work queues or job variables (the "
            "stack is the work pool: docs/deployments.md); leave client, work_queue_name "
            "and job_variables unset."
        )
    if isinstance(timeout, bool) or (timeout is not None and timeout < 0):
        raise ValueError(f"timeout must be None or seconds >= 0, got {timeout!r}")
    when = None
    if scheduled_time is not None:
        if scheduled_time.tzinfo is None:
            scheduled_time = scheduled_time.replace(tzinfo=timezone.utc)
        when = scheduled_time.timestamp()
    parent = None
    if as_subflow:
        from flowless.context import current_flow_run

        running = current_flow_run()
        parent = running.flow_run.id if running is not None else None
    deployments = deployments_for()
    record = deployments.create_run(
        str(name),
        parameters=dict(parameters or {}),
        scheduled_time=when,
        flow_run_name=flow_run_name,
        tags=list(tags or ()),
        idempotency_key=idempotency_key,
        parent_flow_run_id=parent,
    )
    if timeout == 0:
        return flow_run_view(record, deployments.results)
    return wait_for_final(deployments.store, deployments.results, record.id, timeout, poll_interval)
