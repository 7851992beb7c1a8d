"""Lambda's limits, met for real: a task-run function that times out, and one whose
reserved concurrency throttles invocations. A stack of their own (TaskRunTimeout=3,
two execution environments, throttling on), in the same local cloud machinery."""

from __future__ import annotations

import os
from collections.abc import Iterator

import e2e_flows
import pytest
from infra.local_cloud import CODE_PATHS, LocalCloud

from flowless.states import StateType
from flowless.store import DynamoDBStore, TaskRunRecord
from tests.e2e.conftest import FLOWS


@pytest.fixture(scope="module")
def tight() -> Iterator[LocalCloud]:
    with LocalCloud(
        stack_name="flowless-tight",
        code_paths=(*CODE_PATHS, str(FLOWS)),
        parameters={"TaskRunTimeout": "3"},
        concurrency=2,
        throttle=True,
    ) as cloud:
        yield cloud


@pytest.fixture
def on_tight(tight: LocalCloud, monkeypatch: pytest.MonkeyPatch) -> LocalCloud:
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    for key, value in tight.env.items():
        monkeypatch.setenv(key, value)
    return tight


def test_a_lambda_timeout_is_the_task_runs_failure_recorded_by_the_flow_side(
    on_tight: LocalCloud,
) -> None:
    state = e2e_flows.sleepy(30, return_state=True)
    assert state.type is StateType.FAILED
    store = DynamoDBStore(on_tight.provisioned.table_name, on_tight.client("dynamodb"))
    [run] = store.read_task_runs(state.state_details.flow_run_id)
    assert isinstance(run, TaskRunRecord)
    assert (run.task_name, run.state_type, run.state_name) == ("nap", StateType.FAILED, "TimedOut")
    assert "Task timed out after 3.00 seconds" in (run.state_message or "")
    # The killed environment is replaced: the next call runs.
    assert e2e_flows.sleepy(0.01) == "woke up"


def test_throttled_invocations_back_off_and_every_task_run_completes(
    on_tight: LocalCloud,
) -> None:
    name = on_tight.provisioned.task_function_name
    before = on_tight.invocations.get(name, 0)
    assert e2e_flows.naps(6, 0.3) == ["woke up"] * 6
    received = on_tight.invocations[name] - before
    # 6 task runs of 0.3 s at once, 2 environments: calls were refused (429), tried again.
    assert received > 6
