"""The ``Invoker`` protocol: how a prepared task call gets executed.

The flow side decides *whether* a task runs (journal replay, cache hit); an invoker
decides *where*: in this process, or as one AWS Lambda invocation. Either way the same
task-run function executes it, so behaviour cannot drift between the two.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from datetime import timedelta

    from flowless.states import State
    from flowless.store import TaskRunRecord
    from flowless.tasks import Task

__all__ = ["NOT_RETURNED", "Invoker", "TaskCall"]

#: ``TaskCall.returned`` before (or without) a return from the task function.
NOT_RETURNED: Any = object()


@dataclass(slots=True, eq=False)
class TaskCall:
    """Everything the task-run function needs to execute one task run."""

    task: Task[..., Any]
    parameters: dict[str, Any]
    task_run: TaskRunRecord
    #: Name of the flow run the call belongs to (for log lines), if any.
    flow_run_name: str | None
    log_prints: bool
    #: The scoped cache key to write on success, if the task caches.
    cache_key: str | None = None
    cache_expiration: timedelta | None = None
    #: The latest state, for ``future.state`` while the run is in flight.
    state: State[Any] | None = None
    #: What the task function returned, when it returned (Prefect's call result).
    returned: Any = NOT_RETURNED
    #: A remote task run's log lines (id, level, time, message), as its invocation
    #: answered; how many earlier ones the answer left out; whether the function kept
    #: them (else the flow side does). The flow's console shows them.
    remote_lines: list[tuple[str, int, float, str]] | None = None
    remote_lines_cut: int = 0
    remote_lines_kept: bool = True


class Invoker(Protocol):
    #: Whether task runs execute in another process (AWS Lambda). Their log lines are then
    #: in that process's log, so the engine logs each one's final state on the flow side
    #: as well: the flow's console (and the flow-run function's log) reads as it would
    #: with the tasks in process.
    remote: bool

    def run(self, call: TaskCall) -> State[Any]:
        """Execute the task run to a final state and return it (never raises for
        failures of the task itself; those are the returned state)."""

    async def arun(self, call: TaskCall) -> State[Any]:
        """The same, awaited from async code (an async task called with ``await``)."""
