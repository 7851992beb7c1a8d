"""The task-run function: one invocation runs one task run, all of its attempts.

Thin on purpose: read the event (``docs/aws.md``), check it against this stack
(``_task_event_checks``: its flow run is here and Running, its parameters are in the
results store), hand the call to the engine's task-run function, answer with the final
state and the result or the error. A malformed or rejected event, or a task run that
could not be recorded, raises: Lambda reports a function error, and the flow side records
the task run as failed with its message. The checks come before the first write, so a
refused event leaves the table as it was. A task run that ran and failed is not an error
of the function: its state travels back.
"""

from __future__ import annotations

import time
from typing import Any

from flowless.engine import TaskRunExecutor, current_runtime
from flowless.engine._inputs import task_inputs
from flowless.exceptions import CorruptRecordError, FlowlessException, StoreError
from flowless.invoke import (
    TaskCall,
    TaskSourceMismatchError,
    WireError,
    error_to_wire,
    payload_to_wire,
    read_task_event,
    state_to_wire,
)
from flowless.invoke._wire_logs import fits, lines_to_wire
from flowless.lambda_handlers._logging import MetricUnit, logger, metrics
from flowless.lambda_handlers._task_event_checks import (
    TaskRunEventRejectedError,
    check_flow_run,
    check_payload_location,
)
from flowless.logging._stored import keep_lines_in
from flowless.states import StateType
from flowless.store import LogLine, Store

__all__ = [
    "MalformedTaskEventError",
    "TaskRunEventRejectedError",
    "TaskRunNotRecordedError",
    "handler",
]


class MalformedTaskEventError(ValueError):
    """The event is not a task run this function can run."""


class TaskRunNotRecordedError(RuntimeError):
    """The store failed under the task run: its outcome is not durable."""


@logger.inject_lambda_context(clear_state=True)  # no keys carry over between invocations
@metrics.log_metrics
def handler(event: Any, context: Any) -> dict[str, Any]:
    runtime = current_runtime()
    try:
        task, parameters, record, rest = read_task_event(event)
    except TaskSourceMismatchError as exc:
        logger.error("%s", exc)
        metrics.add_metric(name="TaskSourceMismatches", unit=MetricUnit.Count, value=1)
        raise
    except WireError as exc:
        raise _malformed(exc) from None
    logger.append_keys(
        flow_run_id=record.flow_run_id, task_run_id=record.id, task_run_name=record.name
    )
    try:  # the location first: it costs nothing, the flow run costs a read
        check_payload_location(parameters, runtime.results.blobs, record)
        check_flow_run(runtime.store, record)
    except TaskRunEventRejectedError as exc:
        logger.error("%s", exc)
        metrics.add_metric(name="RejectedEvents", unit=MetricUnit.Count, value=1)
        raise
    except StoreError as exc:  # the table failed under the check, not the event
        logger.exception("Task run %s could not be checked", record.name)
        raise TaskRunNotRecordedError(
            f"Task run {record.name!r} could not be recorded: its flow run cannot be read: {exc}"
        ) from None
    try:
        arguments = runtime.results.load(parameters)
    except CorruptRecordError as exc:
        raise _malformed(exc) from None
    if record.inputs is None and isinstance(arguments, dict):  # from an older caller
        record.inputs = task_inputs(arguments)
    call = TaskCall(
        task=task,
        parameters=arguments,
        task_run=record,
        flow_run_name=rest["flow_run_name"],
        log_prints=rest["log_prints"],
        cache_key=rest["cache_key"],
        cache_expiration=rest["cache_expiration"],
    )
    started = time.perf_counter()
    lines: list[LogLine] = []
    try:
        with keep_lines_in(None) as lines:  # for the answer (kept below if too many)
            state = TaskRunExecutor(runtime.store, runtime.results, results_must_travel=True)(call)
    except FlowlessException as exc:  # the store failed under the task: say so, loudly
        logger.exception("Task run %s could not be recorded", record.name)
        _keep(runtime.store, lines, record.name)  # no answer carries them: try here
        raise TaskRunNotRecordedError(
            f"Task run {record.name!r} could not be recorded: {exc}"
        ) from None
    kept = not fits(lines) and _keep(runtime.store, lines, record.name)
    metrics.add_metric(name="TaskRuns", unit=MetricUnit.Count, value=1)
    metrics.add_metric(
        name="TaskRunDuration",
        unit=MetricUnit.Milliseconds,
        value=(time.perf_counter() - started) * 1000,
    )
    if state.type is not StateType.COMPLETED:
        metrics.add_metric(name="TaskRunFailures", unit=MetricUnit.Count, value=1)
    completed = state.type is StateType.COMPLETED
    return {
        "state": state_to_wire(state),
        "result": payload_to_wire(call.task_run.result) if completed else None,
        "error": error_to_wire(state.data, runtime.results.signer)
        if isinstance(state.data, BaseException)
        else None,
        "run_count": call.task_run.run_count,
        "logs": lines_to_wire(lines, kept),
    }


def _keep(store: Store, lines: list[LogLine], name: str) -> bool:
    """Keep a task run's lines in the table (its answer cannot carry them all, or there
    is no answer); whether they were kept (if not, the answer says so, and the flow side
    keeps those it carries)."""
    try:
        for line in lines:
            store.write_log(line)
        store.flush()  # (its records are written already)
    except FlowlessException:
        logger.exception("The log lines of task run %s could not be kept", name)
        return False
    return True


def _malformed(exc: Exception) -> MalformedTaskEventError:
    logger.error("Malformed task-run event: %s", exc)
    metrics.add_metric(name="MalformedEvents", unit=MetricUnit.Count, value=1)
    return MalformedTaskEventError(f"Malformed task-run event: {exc}")
