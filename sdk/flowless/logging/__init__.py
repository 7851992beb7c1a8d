"""Run logging: ``get_run_logger()`` and Prefect's console format."""

from __future__ import annotations

import logging
from typing import Any

from flowless.context import FlowRunContext, TaskRunContext, get_run_context
from flowless.logging._console import RunLoggerAdapter

__all__ = ["get_logger", "get_run_logger"]


def get_logger(name: str | None = None) -> logging.Logger:
    """A logger under the ``flowless`` hierarchy (shown with the console format)."""
    return logging.getLogger("flowless" if not name else f"flowless.{name}")


def get_run_logger(
    context: FlowRunContext | TaskRunContext | None = None, **kwargs: Any
) -> logging.LoggerAdapter[logging.Logger]:
    """The current run's logger: its lines read ``Flow run 'name' - ...`` or ``Task run ...``.

    Raises ``MissingContextError`` outside a flow or task run, as Prefect does.
    """
    ctx = context or get_run_context()
    if kwargs:
        return RunLoggerAdapter(ctx.logger.logger, {**(ctx.logger.extra or {}), **kwargs})
    return ctx.logger
