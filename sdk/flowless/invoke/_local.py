"""The in-process invoker: calls the task-run function directly on the calling thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowless.invoke._protocol import TaskCall
    from flowless.states import State

__all__ = ["LocalInvoker"]


class LocalInvoker:
    """Runs task runs in this process; concurrency comes from the flow run's thread pool."""

    def __init__(self, execute: Callable[[TaskCall], State[Any]]) -> None:
        self._execute = execute

    def run(self, call: TaskCall) -> State[Any]:
        return self._execute(call)
