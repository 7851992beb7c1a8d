"""Finding the run that ``flowless.runtime`` attributes describe."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from flowless.context import _task_run, current_flow_run, naming
from flowless.store import FlowRunRecord, TaskRunRecord

__all__ = ["attribute_of", "flow_run_view", "task_run_view"]


def flow_run_view() -> tuple[FlowRunRecord, dict[str, Any]] | None:
    named = naming.get()
    if named is not None and isinstance(named[0], FlowRunRecord):
        return named
    ctx = current_flow_run()
    return (ctx.flow_run, ctx.parameters) if ctx is not None else None


def task_run_view() -> tuple[TaskRunRecord, dict[str, Any]] | None:
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
        # A deployment's run: its slot's nominal time (or when run_deployment asked for
        # it); any other flow run was expected to start when it was created, as in Prefect.
        when = getattr(record, "scheduled_start_time", None) or getattr(record, "created", None)
        return None if when is None else datetime.fromtimestamp(when, tz=timezone.utc)
    return getattr(record, attribute)
