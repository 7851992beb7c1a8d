"""Finding the run that ``flowless.runtime`` attributes describe."""

from __future__ import annotations

from typing import Any

from flowless.context import _flow_run, _task_run, naming
from flowless.store import FlowRunRecord, TaskRunRecord

__all__ = ["current_flow_run", "current_task_run"]


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
