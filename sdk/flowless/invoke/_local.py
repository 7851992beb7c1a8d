"""The in-process invoker: calls the task-run function directly on the calling thread."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from flowless.invoke._protocol import TaskCall
    from flowless.states import State

__all__ = ["LocalInvoker", "TaskRunFunction"]


class TaskRunFunction(Protocol):
    """The task-run function (the engine's ``TaskRunExecutor``), handed in so that this
    layer does not import the engine."""

    def __call__(self, call: TaskCall) -> State[Any]: ...

    async def arun(self, call: TaskCall) -> State[Any]: ...


class LocalInvoker:
    """Runs task runs in this process; concurrency comes from the flow run's thread pool,
    or, for awaited async tasks, from the caller's event loop."""

    #: The task run logs in this process (see ``Invoker.remote``).
    remote = False

    def __init__(self, execute: TaskRunFunction) -> None:
        self._execute = execute

    def run(self, call: TaskCall) -> State[Any]:
        return self._execute(call)

    async def arun(self, call: TaskCall) -> State[Any]:
        return await self._execute.arun(call)
