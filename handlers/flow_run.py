"""The flow-run function: runs a flow body; its tasks run as task-run invocations.

Events (``docs/aws.md``): ``{"flow": "module:attribute", "parameters": {...}}`` starts a
run; ``{"flow": "module:attribute", "flow_run_id": "..."}`` continues one, replaying the
calls it completed. A malformed event gets an ``error_response`` and touches no record.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from _lambda_logging import logger, metrics, tracer
from flowless.engine import current_runtime, resume_flow_run
from flowless.flows import Flow
from flowless.invoke import payload_to_wire, state_to_wire
from flowless.states import StateType

__all__ = ["handler"]


class _Malformed(ValueError):
    pass


def _flow(event: Any) -> Flow[..., Any]:
    if not isinstance(event, dict):
        raise _Malformed(f"the event must be a JSON object, got {type(event).__name__}")
    reference = event.get("flow")
    if not isinstance(reference, str) or ":" not in reference:
        raise _Malformed(f"'flow' must look like 'module:attribute', got {reference!r}")
    module_path, _, attribute = reference.partition(":")
    try:
        target: Any = importlib.import_module(module_path)
        for part in attribute.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise _Malformed(f"flow {reference!r} cannot be imported: {exc}") from None
    if not isinstance(target, Flow):
        raise _Malformed(f"{reference!r} is not a flow (it is {type(target).__name__})")
    return target


@logger.inject_lambda_context(clear_state=True)  # no keys carry over between invocations
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: Any, context: Any) -> dict[str, Any]:
    try:
        flow = _flow(event)
        flow_run_id = event.get("flow_run_id")
        parameters = event.get("parameters", {})
        if flow_run_id is not None and not isinstance(flow_run_id, str):
            raise _Malformed(f"'flow_run_id' must be a string, got {flow_run_id!r}")
        if not isinstance(parameters, dict):
            raise _Malformed(f"'parameters' must be an object, got {parameters!r}")
    except _Malformed as exc:
        logger.error("Malformed flow-run event: %s", exc)
        metrics.add_metric(name="MalformedEvents", unit=MetricUnit.Count, value=1)
        return {"error_response": f"Malformed flow-run event: {exc}"}
    started = time.perf_counter()
    if flow_run_id is not None:
        outcome = resume_flow_run(flow, flow_run_id, return_state=True)
    else:
        outcome = flow(**parameters, return_state=True)
    state = asyncio.run(outcome) if inspect.iscoroutine(outcome) else outcome
    metrics.add_metric(name="FlowRuns", unit=MetricUnit.Count, value=1)
    metrics.add_metric(
        name="FlowRunDuration",
        unit=MetricUnit.Milliseconds,
        value=(time.perf_counter() - started) * 1000,
    )
    # The run's own log lines carry its ids (the engine's records); none are appended to
    # the logger here, where they would stick to the next invocation's lines.
    record = current_runtime().store.read_flow_run(state.state_details.flow_run_id)
    return {
        "flow_run_id": record.id,
        "flow_run_name": record.name,
        "state": state_to_wire(state),
        "result": payload_to_wire(record.result) if state.type is StateType.COMPLETED else None,
    }
