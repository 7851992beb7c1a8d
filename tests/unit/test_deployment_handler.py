"""The flow-run function as a deployment API, in process against moto: what a schedule
slot, an ad hoc request and a start do with a manifest, and that whatever cannot be done
is a function error that leaves no run waiting forever."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from infra.template import table_definition
from moto import mock_aws

from flowless.deployments import DeploymentParameterError, UnknownDeploymentError
from flowless.deployments._definition import DeploymentDefinition, definition_from_flow
from flowless.engine._runtime import _runtimes
from flowless.schedules import Cron
from flowless.states import StateType
from flowless.store import DynamoDBStore
from tests import aws_tasks
from tests.aws import signing_secret
from tests.unit.test_aws_handlers import CONTEXT

SLOT = {"deployment": "sum-flow/nightly", "schedule": "nine"}


def _definitions() -> list[DeploymentDefinition]:
    good = definition_from_flow(
        aws_tasks.sum_flow,
        name="nightly",
        parameters={"n": 0},
        schedules=(Cron("0 9 * * *", slug="nine"),),
    )
    # Deployed, but its module is missing from the package (a dependency left out).
    broken = DeploymentDefinition.from_json(
        {**good.to_json(), "name": "broken", "module": "not_packaged", "entrypoint": "x.py:f"}
    )
    return [good, broken]


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DynamoDBStore]:
    manifest = tmp_path / "flowless-manifest.json"
    manifest.write_text(
        json.dumps({"format": 1, "deployments": [d.to_json() for d in _definitions()]})
    )
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "FLOWLESS_BACKEND": "aws",
        "FLOWLESS_TABLE": "state",
        "FLOWLESS_BUCKET": "results",
        "FLOWLESS_TASK_FUNCTION": "task-run",
        "FLOWLESS_FLOW_FUNCTION": "flow-run",  # not in moto: a hand-off fails
        "FLOWLESS_INVOKER": "local",
        "FLOWLESS_MANIFEST": str(manifest),
        "POWERTOOLS_METRICS_NAMESPACE": "flowless",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    from flowless.lambda_handlers import _manifest

    _manifest.manifest.cache_clear()
    with mock_aws():
        client = boto3.client("dynamodb")
        client.create_table(**table_definition("state"))
        boto3.client("s3").create_bucket(Bucket="results")
        signing_secret(monkeypatch)
        _runtimes.clear()
        yield DynamoDBStore("state", client)
        _runtimes.clear()
    _manifest.manifest.cache_clear()


def _handle(event: Any) -> Any:
    from flowless.lambda_handlers import flow_run

    return flow_run.handler(event, CONTEXT)


def test_a_slot_runs_its_deployment_once(stack: DynamoDBStore) -> None:
    event = {**SLOT, "scheduled_time": "2027-01-04T09:00:00Z"}
    first = _handle(event)
    assert first["state"]["type"] == "COMPLETED" and first["deployment"] == "sum-flow/nightly"
    again = _handle(event)
    assert again["flow_run_id"] == first["flow_run_id"]
    [run] = stack.list_flow_runs()
    assert run.run_count == 1 and run.schedule_slug == "nine"


def test_a_slot_whose_flow_cannot_be_imported_makes_no_run(stack: DynamoDBStore) -> None:
    event = {
        "deployment": "sum-flow/broken",
        "schedule": "nine",
        "scheduled_time": "2027-01-04T09:00:00Z",
    }
    with pytest.raises(UnknownDeploymentError, match=r"'x\.py:f' cannot be imported"):
        _handle(event)
    assert stack.list_flow_runs() == []


def test_a_run_that_cannot_be_started_is_crashed_not_left_waiting(stack: DynamoDBStore) -> None:
    from flowless.lambda_handlers.flow_run import RunNotStartedError

    with pytest.raises(RunNotStartedError) as raised:
        _handle({"action": "create_flow_run", "deployment": "sum-flow/nightly"})
    [run] = stack.list_flow_runs()
    assert str(raised.value).startswith(
        f"Flow run {run.name!r} ({run.id}) of deployment 'sum-flow/nightly' was created but "
        "could not be started, and is marked Crashed: "
    )
    assert run.state_type is StateType.CRASHED
    assert (run.state_message or "").startswith("Flow run never started: it could not be started")


@pytest.mark.parametrize(
    ("event", "error", "message"),
    [
        (
            {"action": "create_flow_run", "deployment": "sum-flow/nightly", "parameters": []},
            "MalformedEventError",
            "'parameters' must be an object, got []",
        ),
        (
            {"action": "create_flow_run", "deployment": "sum-flow/nightly", "idempotency_key": ""},
            "MalformedEventError",
            "'idempotency_key' must be a non-empty string, got ''",
        ),
        (
            {**SLOT, "scheduled_time": "0001-01-01T00:30:00+01:00"},
            "MalformedEventError",
            "'scheduled_time' is out of range",
        ),
        (
            {
                "action": "create_flow_run",
                "deployment": "sum-flow/nightly",
                "scheduled_time": 4102444800,
            },
            "DeploymentParameterError",
            "scheduled_time in the future is not supported on AWS yet",
        ),
    ],
)
def test_refused_requests_write_nothing(
    stack: DynamoDBStore, event: dict[str, Any], error: str, message: str
) -> None:
    with pytest.raises((ValueError, DeploymentParameterError)) as raised:
        _handle(event)
    assert type(raised.value).__name__ == error
    assert message in str(raised.value)
    assert stack.list_flow_runs() == []


def test_a_repeated_key_whose_hand_off_fails_leaves_the_queued_run_alone(
    stack: DynamoDBStore,
) -> None:
    from flowless.deployments._service import DeploymentService
    from flowless.engine import current_runtime

    runtime = current_runtime()
    service = DeploymentService(_definitions(), stack, runtime.results, stack)
    first, _ = service.create_run("sum-flow/nightly", idempotency_key="k")  # start queued
    with pytest.raises(Exception, match=r"Function not found|ResourceNotFound"):
        _handle(
            {"action": "create_flow_run", "deployment": "sum-flow/nightly", "idempotency_key": "k"}
        )
    assert stack.read_flow_run(first.id).state_type is StateType.SCHEDULED
