"""Prefect's ``prefect.logging.loggers``: run loggers, and switching them off in tests.

Every run's log lines, the user's and the engine's own (``Finished in state ...``), go
through two loggers, ``flowless.flow_runs`` and ``flowless.task_runs``, as Prefect's go
through ``prefect.flow_runs`` and ``prefect.task_runs``. ``disable_run_logger`` disables
those two, which is why it silences a whole run and not only ``get_run_logger()`` calls.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from flowless.context import FlowRunContext, TaskRunContext
from flowless.exceptions import MissingContextError
from flowless.logging._console import RunLoggerAdapter
from flowless.logging._prints import patch_print, print_as_log

if TYPE_CHECKING:
    from flowless.flows import Flow
    from flowless.store import FlowRunRecord, TaskRunRecord
    from flowless.tasks import Task

__all__ = [
    "LogEavesdropper",
    "PrefectLogAdapter",
    "disable_logger",
    "disable_run_logger",
    "flow_run_logger",
    "get_logger",
    "get_run_logger",
    "patch_print",
    "print_as_log",
    "task_run_logger",
]

_ROOT = "flowless"
#: The loggers behind every flow run's and task run's lines (the engine's included).
_FLOW_RUNS = "flowless.flow_runs"
_TASK_RUNS = "flowless.task_runs"

#: Prefect's name for a run logger: a ``LoggerAdapter`` whose ``extra`` (the run's name
#: and ids) is merged with any ``extra`` a single call passes.
PrefectLogAdapter = RunLoggerAdapter


def get_logger(name: str | None = None) -> logging.Logger:
    """A logger under the ``flowless`` hierarchy (shown with the console format).

    As Prefect's ``get_logger``: ``get_logger("x")`` is ``flowless.x``, and a name that is
    already under ``flowless.`` is kept as it is."""
    if not name:
        return logging.getLogger(_ROOT)
    return logging.getLogger(name if name.startswith(_ROOT + ".") else f"{_ROOT}.{name}")


def get_run_logger(
    context: FlowRunContext | TaskRunContext | None = None, **kwargs: Any
) -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """The current run's logger: its lines read ``Flow run 'name' - ...`` or ``Task run ...``.

    ``kwargs`` are added to every record's attributes. Outside a flow or task run it raises
    ``MissingContextError``, as Prefect does, unless ``disable_run_logger`` is in force:
    then it returns a disabled logger, so a task's ``.fn()`` that logs can be called in a
    unit test.
    """
    ctx: FlowRunContext | TaskRunContext | None = (
        context or TaskRunContext.get() or FlowRunContext.get()
    )
    if ctx is None:
        if _disabled(_FLOW_RUNS) and _disabled(_TASK_RUNS):
            null = logging.getLogger("null")
            null.disabled = True
            return null
        raise MissingContextError("There is no active flow or task run context.")
    if kwargs:
        return RunLoggerAdapter(ctx.logger.logger, {**(ctx.logger.extra or {}), **kwargs})
    return ctx.logger


def _disabled(name: str) -> bool:
    return logging.getLogger(name).disabled


def flow_run_logger(
    flow_run: FlowRunRecord | None, flow: Flow[..., Any] | None = None, **kwargs: Any
) -> RunLoggerAdapter:
    """A logger whose lines read ``Flow run 'name' - ...``, for code that has the run but
    not its context (a state hook gets ``flow, flow_run, state``)."""
    return RunLoggerAdapter(
        logging.getLogger(_FLOW_RUNS),
        {
            "flow_run_name": flow_run.name if flow_run else "<unknown>",
            "flow_run_id": str(flow_run.id) if flow_run else "<unknown>",
            "flow_name": flow.name if flow else "<unknown>",
            **kwargs,
        },
    )


def task_run_logger(
    task_run: TaskRunRecord,
    task: Task[..., Any] | None = None,
    flow_run: FlowRunRecord | None = None,
    flow: Flow[..., Any] | None = None,
    **kwargs: Any,
) -> RunLoggerAdapter:
    """A logger whose lines read ``Task run 'name' - ...``; the flow run and flow default
    to the current flow run's, as in Prefect."""
    if flow_run is None or flow is None:
        current = FlowRunContext.get()
        if current is not None:
            flow_run = flow_run or current.flow_run
            flow = flow or current.flow
    return RunLoggerAdapter(
        logging.getLogger(_TASK_RUNS),
        {
            "task_run_id": str(task_run.id),
            "flow_run_id": str(task_run.flow_run_id),
            "task_run_name": task_run.name,
            "task_name": task.name if task else "<unknown>",
            "flow_run_name": flow_run.name if flow_run else "<unknown>",
            "flow_name": flow.name if flow else "<unknown>",
            **kwargs,
        },
    )


@contextmanager
def disable_logger(name: str) -> Iterator[None]:
    """Disable the logger ``name`` for the block, then restore what it was."""
    logger = logging.getLogger(name)
    was = logger.disabled
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = was


@contextmanager
def disable_run_logger() -> Iterator[None]:
    """No run log lines inside the block; ``get_run_logger()`` works outside runs.

    For unit tests of a task's or flow's function (``my_task.fn()``) that call
    ``get_run_logger()``. As in Prefect it disables the two run loggers for the whole
    process while the block lasts, so runs inside the block (in any thread) log nothing,
    the engine's own lines included; their states and results are unaffected.
    """
    with disable_logger(_FLOW_RUNS), disable_logger(_TASK_RUNS):
        yield


class LogEavesdropper(logging.Handler):
    """Collect the lines logged to ``eavesdrop_on`` (and its children) during a block.

    ``with LogEavesdropper("flowless.task_runs") as lines: ...`` then ``lines.text()``
    gives ``[LEVEL]: message`` lines, nothing about files or versions, so they can be
    shown back to a user."""

    def __init__(self, eavesdrop_on: str, level: int = logging.NOTSET) -> None:
        super().__init__(level=level)
        self.eavesdrop_on = eavesdrop_on
        self.formatter = logging.Formatter("[%(levelname)s]: %(message)s")
        self._target: logging.Logger | None = None
        self._original_level = logging.NOTSET
        self._lines: list[str] = []

    def __enter__(self) -> LogEavesdropper:
        self._target = logging.getLogger(self.eavesdrop_on)
        self._original_level = self._target.level
        self._target.setLevel(self.level)
        self._target.addHandler(self)
        self._lines = []
        return self

    def __exit__(self, *_: object) -> None:
        if self._target is not None:
            self._target.removeHandler(self)
            self._target.setLevel(self._original_level)

    def emit(self, record: logging.LogRecord) -> None:
        self._lines.append(self.format(record))

    def text(self) -> str:
        """The collected lines, newline-separated."""
        return "\n".join(self._lines)
