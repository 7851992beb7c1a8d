"""The engine: runs flow runs and task runs against a store and an invoker.

Definitions (``Flow``, ``Task``) call into these entry points; nothing here is imported
by the definitions at module level.
"""

from flowless.engine._flow_run import (
    call_flow,
    resume_flow_run,
    run_flow,
    run_flow_async,
    start_flow_run_by_id,
)
from flowless.engine._runtime import Runtime, current_runtime
from flowless.engine._task_call import call_task
from flowless.engine._task_run import TaskRunExecutor
from flowless.engine._task_submit import map_task, submit_task

__all__ = [
    "Runtime",
    "TaskRunExecutor",
    "call_flow",
    "call_task",
    "current_runtime",
    "map_task",
    "resume_flow_run",
    "run_flow",
    "run_flow_async",
    "start_flow_run_by_id",
    "submit_task",
]
