"""flowless: Prefect-style flows and tasks with no server and no workers.

Change ``prefect`` to ``flowless`` in your imports; runs are recorded in an embedded
SQLite store (``FLOWLESS_HOME``, default ``~/.flowless``).
"""

from flowless._annotations import allow_failure, quote, unmapped
from flowless.context import FlowRunContext, TaskRunContext, get_run_context, tags
from flowless.flows import Flow, flow
from flowless.futures import PrefectFuture
from flowless.logging import get_run_logger
from flowless.states import State
from flowless.tasks import Task, task

__version__ = "0.1.0"

__all__ = [
    "Flow",
    "FlowRunContext",
    "PrefectFuture",
    "State",
    "Task",
    "TaskRunContext",
    "__version__",
    "allow_failure",
    "flow",
    "get_run_context",
    "get_run_logger",
    "quote",
    "tags",
    "task",
    "unmapped",
]
