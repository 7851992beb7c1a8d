"""Invokers: where a task run executes (this process, or one AWS Lambda invocation), and
the JSON that crosses an invocation."""

from flowless.invoke._aws_lambda import LambdaInvoker
from flowless.invoke._local import LocalInvoker, TaskRunFunction
from flowless.invoke._protocol import NOT_RETURNED, Invoker, TaskCall
from flowless.invoke._wire import (
    TaskSourceMismatchError,
    WireError,
    error_to_wire,
    payload_to_wire,
    read_task_event,
    state_to_wire,
)

__all__ = [
    "NOT_RETURNED",
    "Invoker",
    "LambdaInvoker",
    "LocalInvoker",
    "TaskCall",
    "TaskRunFunction",
    "TaskSourceMismatchError",
    "WireError",
    "error_to_wire",
    "payload_to_wire",
    "read_task_event",
    "state_to_wire",
]
