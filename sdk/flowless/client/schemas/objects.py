"""``prefect.client.schemas.objects``: the types a state hook's arguments are annotated with.

In Prefect these are the API's models. Here a hook (``on_completion``, ``on_failure``, ...)
and a ``retry_condition_fn`` receive flowless's own records, so the names are aliases of
them, not new classes: ``def hook(task: Task, task_run: TaskRun, state: State)`` annotates
what is really passed, and ``isinstance(task_run, TaskRun)`` holds. The records carry the
fields Prefect code reads most (``id``, ``name``, ``flow_run_id``, ``tags``,
``run_count``, ``state_name``...), not the server's whole model.
"""

from flowless.states import State, StateDetails, StateType
from flowless.store import FlowRunRecord, TaskRunRecord

__all__ = ["FlowRun", "State", "StateDetails", "StateType", "TaskRun"]

#: A flow run as a flow's state hooks receive it (``flow, flow_run, state``).
FlowRun = FlowRunRecord
#: A task run as a task's state hooks and ``retry_condition_fn`` receive it.
TaskRun = TaskRunRecord
