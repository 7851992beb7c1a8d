"""``prefect.client.schemas``: the run and state types, re-exported from ``.objects``."""

from flowless.client.schemas.objects import FlowRun, State, StateDetails, StateType, TaskRun

__all__ = ["FlowRun", "State", "StateDetails", "StateType", "TaskRun"]
