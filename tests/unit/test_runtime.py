"""``flowless.runtime``: the current run as module attributes, as ``prefect.runtime``."""

from __future__ import annotations

from typing import Any

import pytest

from flowless import flow, task
from flowless.runtime import flow_run, task_run


def test_outside_any_run() -> None:
    assert flow_run.id is None and flow_run.name is None and flow_run.parameters == {}
    assert task_run.name is None and task_run.parameters == {} and task_run.tags == []
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = flow_run.nope


def generate_flow_run_name() -> str:
    return f"{flow_run.flow_name}-with-{flow_run.parameters['name']}"


def generate_task_run_name() -> str:
    return f"{task_run.task_name}-on-{task_run.parameters['x']}"


@task(task_run_name=generate_task_run_name, tags=["t1"])
def work(x: int) -> dict[str, Any]:
    return {
        "task": (task_run.name, task_run.task_name, task_run.run_count, task_run.tags),
        "flow": (flow_run.name, flow_run.flow_name, flow_run.parameters),
    }


@flow(flow_run_name=generate_flow_run_name)
def my_flow(name: str, limit: int = 3) -> dict[str, Any]:
    return work(7)


def test_inside_runs_and_in_name_callables() -> None:
    result = my_flow("marvin")
    assert result["task"] == ("work-on-7", "work", 1, ["t1"])
    assert result["flow"] == ("my-flow-with-marvin", "my-flow", {"name": "marvin", "limit": 3})
