"""Invokers: where a task run executes (this process now; AWS Lambda later)."""

from flowless.invoke._local import LocalInvoker
from flowless.invoke._protocol import NOT_RETURNED, Invoker, TaskCall

__all__ = ["NOT_RETURNED", "Invoker", "LocalInvoker", "TaskCall"]
