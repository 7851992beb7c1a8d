"""The flow-run function: runs flow bodies (their task runs are task-run invocations) and
is the stack's deployment API.

Events (``docs/deployments.md``, ``docs/aws.md``):

- ``{"deployment": "flow/name", "schedule": "slug", "scheduled_time": "..."}``: a
  schedule slot, sent by EventBridge Scheduler with ``<aws.scheduler.scheduled-time>``.
  Makes the slot's one flow run (a duplicate delivery finds it) and runs it.
- ``{"flow_run_id": "..."}``: start a Scheduled run (what ``run_deployment`` sends, as an
  asynchronous invocation, once the run exists).
- ``{"action": "describe" | "pause" | "resume" | "create_flow_run", ...}``: the
  deployment operations of ``run_deployment`` and ``flowless deployment``.
- ``{"flow": "module:attribute", "parameters": {...}}`` or with ``"flow_run_id"``: run a
  flow by reference, or continue one (replaying its journal).

Anything that cannot be done raises, so Lambda reports a function error: the caller of a
synchronous invoke gets the message, an asynchronous one goes to the stack's failure
destination, and the Errors metric and alarms see it. A flow run that ran and failed is
not an error of the function: it is recorded, answered, and counted in FlowRunFailures.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import time
from datetime import datetime, timezone
from typing import Any

from flowless.deployments import (
    DeploymentDefinition,
    DeploymentParameterError,
    UnknownDeploymentError,
)
from flowless.deployments._execute import execute
from flowless.deployments._service import DeploymentService
from flowless.engine import current_runtime, resume_flow_run
from flowless.engine._scheduled import state_of_record
from flowless.invoke import payload_to_wire, state_to_wire
from flowless.lambda_handlers._logging import MetricUnit, logger, metrics
from flowless.lambda_handlers._manifest import import_flow, manifest
from flowless.states import State, StateType
from flowless.store import DeploymentStateStore, FlowRunRecord

__all__ = ["MalformedEventError", "RunNotStartedError", "handler"]

#: Longest an invocation waits for a slot of its deployment's limit before handing the
#: run to a fresh invocation of itself (ENQUEUE).
SLOT_WAIT_SECONDS = 60.0


class MalformedEventError(ValueError):
    """The event is not one this function takes."""


class RunNotStartedError(RuntimeError):
    """A run was created but its start failed; it is marked Crashed, never left waiting."""


def _crash_unstarted(service: DeploymentService, flow_run_id: str, why: str) -> bool:
    """A Scheduled run nothing will start must not look like it is waiting: Crashed, with
    the reason (only if it is still Scheduled: someone else may have started it)."""
    from flowless.exceptions import RecordConflictError

    record = service.store.read_flow_run(flow_run_id)
    if record.state_type is not StateType.SCHEDULED:
        return False
    record.state_type, record.state_name = StateType.CRASHED, "Crashed"
    record.state_message = f"Flow run never started: {why}"
    record.end_time = time.time()
    try:
        service.store.update_flow_run(record)
    except RecordConflictError:
        return False
    return True


@logger.inject_lambda_context(clear_state=True)  # no keys carry over between invocations
@metrics.log_metrics
def handler(event: Any, context: Any) -> dict[str, Any]:
    try:
        if not isinstance(event, dict):
            raise MalformedEventError(
                f"the event must be a JSON object, got {type(event).__name__}"
            )
        if "action" in event:
            return _action(event)
        if "schedule" in event:
            return _slot(event, context)
        if "flow" in event:
            return _by_reference(event)
        if "flow_run_id" in event:
            return _start(_text(event, "flow_run_id"), context)
        raise MalformedEventError(
            "expected a schedule slot ({'deployment', 'schedule', 'scheduled_time'}), "
            "{'flow_run_id'}, {'action'}, or {'flow'}; got keys "
            f"{sorted(event)!r}"
        )
    except MalformedEventError as exc:
        metrics.add_metric(name="MalformedEvents", unit=MetricUnit.Count, value=1)
        logger.error("Malformed flow-run event: %s", exc)
        raise MalformedEventError(f"Malformed flow-run event: {exc}") from None
    except Exception as exc:  # a Lambda error, counted (the Errors metric counts it too)
        metrics.add_metric(name="RefusedRequests", unit=MetricUnit.Count, value=1)
        logger.error("%s: %s", type(exc).__name__, exc)
        raise


def _text(event: dict[str, Any], key: str) -> str:
    value = event.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedEventError(f"{key!r} must be a non-empty string, got {value!r}")
    return value


def _service() -> DeploymentService:
    found = manifest()
    if found is None:
        raise UnknownDeploymentError(
            "This function has no deployments: it was deployed without a manifest "
            "(FLOWLESS_MANIFEST is unset). Build the project with `flowless build`."
        )
    runtime = current_runtime()
    states = runtime.store
    assert isinstance(states, DeploymentStateStore)
    return DeploymentService(found.deployments, runtime.store, runtime.results, states)


def _flow(definition: DeploymentDefinition) -> Any:
    return import_flow(definition.module, definition.attribute, definition.entrypoint)


# -- deployment API ----------------------------------------------------------------------


def _action(event: dict[str, Any]) -> dict[str, Any]:
    action = event["action"]
    service = _service()
    if action == "describe":
        return {"deployments": service.describe()}
    if action in ("pause", "resume"):
        definition = service.set_paused(_text(event, "deployment"), action == "pause")
        return {"deployment": definition.full_name, "paused": action == "pause"}
    if action == "create_flow_run":
        return _create(service, event)
    raise MalformedEventError(
        f"unknown action {action!r}; actions: describe, pause, resume, create_flow_run"
    )


def _create(service: DeploymentService, event: dict[str, Any]) -> dict[str, Any]:
    parameters = event.get("parameters", {})
    if not isinstance(parameters, dict):
        raise MalformedEventError(f"'parameters' must be an object, got {parameters!r}")
    scheduled_time = event.get("scheduled_time")
    if scheduled_time is not None and (
        isinstance(scheduled_time, bool) or not isinstance(scheduled_time, (int, float))
    ):
        raise MalformedEventError(f"'scheduled_time' must be epoch seconds, got {scheduled_time!r}")
    if scheduled_time is not None and scheduled_time > time.time() + 60:
        raise DeploymentParameterError(
            "scheduled_time in the future is not supported on AWS yet: the stack's runs "
            "start when created (or schedule them with flowless.yaml's schedules)."
        )
    tags = event.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise MalformedEventError(f"'tags' must be a list of strings, got {tags!r}")
    key = event.get("idempotency_key")
    name = event.get("flow_run_name")
    parent = event.get("parent_flow_run_id")
    for field, value in (
        ("idempotency_key", key),
        ("flow_run_name", name),
        ("parent_flow_run_id", parent),
    ):
        if value is not None and (not isinstance(value, str) or not value):
            raise MalformedEventError(f"{field!r} must be a non-empty string, got {value!r}")
    deployment = _text(event, "deployment")
    _flow(service.get(deployment))  # a run this function cannot import is never created
    record, created = service.create_run(
        deployment,
        parameters,
        scheduled_time=scheduled_time,
        flow_run_name=name,
        tags=tags,
        idempotency_key=key,
        parent_flow_run_id=parent,
    )
    if record.state_type is StateType.SCHEDULED:
        try:  # again for a repeated key: a lost start is started; claims dedupe
            _hand_off(record.id)
        except Exception as exc:
            if not created:  # the first start may still be queued: leave the run to it
                raise
            crashed = _crash_unstarted(service, record.id, f"it could not be started: {exc}")
            raise RunNotStartedError(
                f"Flow run {record.name!r} ({record.id}) of deployment "
                f"{record.deployment_name!r} was created but could not be started"
                + (", and is marked Crashed" if crashed else "")
                + f": {type(exc).__name__}: {exc}"
            ) from exc
    logger.info(
        "%s flow run %r (%s) of deployment %r",
        "Created" if created else "Found existing",
        record.name,
        record.id,
        record.deployment_name,
    )
    return {"flow_run_id": record.id, "flow_run_name": record.name, "created": created}


def _hand_off(flow_run_id: str) -> None:
    """Start the run in a fresh invocation of this function (asynchronous: it returns at
    once, and Lambda queues the event durably)."""
    from flowless.engine._runtime import aws_clients

    function = os.environ.get("FLOWLESS_FLOW_FUNCTION") or os.environ.get(
        "AWS_LAMBDA_FUNCTION_NAME", ""
    )
    aws_clients("lambda")["lambda"].invoke(
        FunctionName=function,
        InvocationType="Event",
        Payload=json.dumps({"flow_run_id": flow_run_id}).encode(),
    )


# -- running -------------------------------------------------------------------------------


def _slot(event: dict[str, Any], context: Any) -> dict[str, Any]:
    deployment = _text(event, "deployment")
    slug = _text(event, "schedule")
    raw = _text(event, "scheduled_time")
    try:
        nominal = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise MalformedEventError(f"'scheduled_time' is not an ISO 8601 time: {raw!r}") from None
    if nominal.tzinfo is None:
        raise MalformedEventError(f"'scheduled_time' has no time zone: {raw!r}")
    try:
        nominal = nominal.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        raise MalformedEventError(f"'scheduled_time' is out of range: {raw!r}") from None
    service = _service()
    _flow(service.get(deployment))  # a slot whose flow cannot be imported makes no run
    record, created = service.fire_slot(deployment, slug, nominal)
    name = "ScheduleSlots" if created else "DuplicateSlotDeliveries"
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    if record.state_type is not StateType.SCHEDULED:
        if created:
            metrics.add_metric(name="SkippedSlots", unit=MetricUnit.Count, value=1)
            logger.info("%s", record.state_message)
        return _answer(record, state_of_record(record))
    return _run(service, record, context)


def _start(flow_run_id: str, context: Any) -> dict[str, Any]:
    service = _service()
    record = service.store.read_flow_run(flow_run_id)
    if record.deployment_name is None:
        raise UnknownDeploymentError(
            f"Flow run {record.name!r} ({flow_run_id}) is not a deployment's run; continue "
            "it with {'flow': 'module:attribute', 'flow_run_id': ...}."
        )
    if record.state_type is not StateType.SCHEDULED:
        return _answer(record, state_of_record(record))
    return _run(service, record, context)


def _run(service: DeploymentService, record: FlowRunRecord, context: Any) -> dict[str, Any]:
    assert record.deployment_name is not None
    try:
        definition = service.get(record.deployment_name)
        flow = _flow(definition)
    except UnknownDeploymentError as exc:  # e.g. a redeploy removed it: it can never start
        _crash_unstarted(service, record.id, str(exc))
        raise
    remaining = _remaining_seconds(context)
    wait = min(SLOT_WAIT_SECONDS, max(0.0, remaining / 4))
    started = time.perf_counter()
    runtime = current_runtime()
    outcome = execute(
        definition, flow, record.id, runtime.store, runtime.limits, wait_for_slot=wait
    )
    stored = service.store.read_flow_run(record.id)
    if outcome.state is None:  # still waiting for a slot: a fresh invocation takes over
        try:
            _hand_off(record.id)
        except Exception as exc:  # nobody would start it: it must not look queued
            _crash_unstarted(service, record.id, f"its hand-off failed: {exc}")
            raise
        return _answer(stored, state_of_record(stored, load_result=False))
    if outcome.ran:  # a duplicate delivery that found the run taken counts nothing
        _count(outcome.state, started)
    return _answer(stored, outcome.state)


def _remaining_seconds(context: Any) -> float:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return remaining() / 1000 if callable(remaining) else 900.0


def _count(state: State[Any], started: float) -> None:
    metrics.add_metric(name="FlowRuns", unit=MetricUnit.Count, value=1)
    metrics.add_metric(
        name="FlowRunDuration",
        unit=MetricUnit.Milliseconds,
        value=(time.perf_counter() - started) * 1000,
    )
    if state.type is not StateType.COMPLETED:
        metrics.add_metric(name="FlowRunFailures", unit=MetricUnit.Count, value=1)


def _answer(record: FlowRunRecord, state: State[Any]) -> dict[str, Any]:
    completed = record.state_type is StateType.COMPLETED
    return {
        "flow_run_id": record.id,
        "flow_run_name": record.name,
        "deployment": record.deployment_name,
        "state": state_to_wire(state),
        "result": payload_to_wire(record.result) if completed else None,
    }


# -- flows by reference (the repo's own stack) -------------------------------------------


def _by_reference(event: dict[str, Any]) -> dict[str, Any]:
    reference = event.get("flow")
    if not isinstance(reference, str) or ":" not in reference:
        raise MalformedEventError(f"'flow' must look like 'module:attribute', got {reference!r}")
    module, _, attribute = reference.partition(":")
    try:
        flow = import_flow(module, attribute, reference)
    except UnknownDeploymentError as exc:
        raise MalformedEventError(str(exc)) from None
    flow_run_id = event.get("flow_run_id")
    parameters = event.get("parameters", {})
    if flow_run_id is not None and not isinstance(flow_run_id, str):
        raise MalformedEventError(f"'flow_run_id' must be a string, got {flow_run_id!r}")
    if not isinstance(parameters, dict):
        raise MalformedEventError(f"'parameters' must be an object, got {parameters!r}")
    started = time.perf_counter()
    if flow_run_id is not None:
        outcome = resume_flow_run(flow, flow_run_id, return_state=True)
    else:
        outcome = flow(**parameters, return_state=True)
    state = asyncio.run(outcome) if inspect.iscoroutine(outcome) else outcome
    _count(state, started)
    # The run's own log lines carry its ids (the engine's records); none are appended to
    # the logger here, where they would stick to the next invocation's lines.
    record = current_runtime().store.read_flow_run(state.state_details.flow_run_id)
    return _answer(record, state)
