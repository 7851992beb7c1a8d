"""Finding the run that ``flowless.runtime`` attributes describe."""

from __future__ import annotations

from typing import Any

from flowless.context import _flow_run, _task_run, naming
from flowless.store import FlowRunRecord, TaskRunRecord

__all__ = ["attribute_of", "current_flow_run", "current_task_run"]


def current_flow_run() -> tuple[FlowRunRecord, dict[str, Any]] | None:
    named = naming.get()
    if named is not None and isinstance(named[0], FlowRunRecord):
        return named
    ctx = _flow_run.get()
    return (ctx.flow_run, ctx.parameters) if ctx is not None else None


def current_task_run() -> tuple[TaskRunRecord, dict[str, Any]] | None:
    named = naming.get()
    if named is not None and isinstance(named[0], TaskRunRecord):
        return named
    ctx = _task_run.get()
    return (ctx.task_run, ctx.parameters) if ctx is not None else None


def attribute_of(
    view: tuple[FlowRunRecord | TaskRunRecord, dict[str, Any]] | None, attribute: str
) -> Any:
    """One ``flowless.runtime`` attribute of a run (or its value outside any run)."""
    if view is None:
        return {} if attribute == "parameters" else [] if attribute == "tags" else None
    record, parameters = view
    if attribute == "parameters":
        return dict(parameters)
    if attribute == "scheduled_start_time":
        return None  # schedules arrive with deployments
    return getattr(record, attribute)
