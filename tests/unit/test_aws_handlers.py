"""The Lambda handlers, called in process against moto: what a task-run and a flow-run
invocation do, and that a malformed event is refused without touching any record."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from infra.template import table_definition
from moto import mock_aws

from flowless.engine._runtime import _runtimes
from flowless.invoke import TaskCall, payload_to_wire
from flowless.invoke._wire import payload_from_wire, task_event
from flowless.results import Results
from flowless.states import StateType
from flowless.store import FlowRunRecord, TaskRunRecord
from tests import aws_tasks
from tests.aws import signing_secret

REPO = Path(__file__).resolve().parents[2]


class Context:
    """What Lambda passes as ``context`` (the attributes Powertools reads)."""

    function_name = "flowless-task-run"
    memory_limit_in_mb = 512
    aws_request_id = "request-1"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:flowless-task-run"


CONTEXT = Context()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.syspath_prepend(str(REPO / "handlers"))
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "FLOWLESS_BACKEND": "aws",
        "FLOWLESS_TABLE": "state",
        "FLOWLESS_BUCKET": "results",
        "FLOWLESS_TASK_FUNCTION": "task-run",
        "POWERTOOLS_METRICS_NAMESPACE": "flowless",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        boto3.client("dynamodb").create_table(**table_definition("state"))
        boto3.client("s3").create_bucket(Bucket="results")
        signing_secret(monkeypatch)
        _runtimes.clear()
        yield env
        _runtimes.clear()
    for name in ("task_run", "flow_run"):
        sys.modules.pop(name, None)


def _runtime() -> Any:
    from flowless.engine import current_runtime

    return current_runtime()


def _flow_run(state: StateType, name: str | None = None, run_id: str = "fr-1") -> None:
    """The flow run a task-run event names, as the flow side creates it before invoking."""
    _runtime().store.create_flow_run(
        FlowRunRecord(
            id=run_id,
            name="brave-otter",
            flow_name="sum-flow",
            state_type=state,
            state_name=name or state.value.title(),
            created=1000.0,
            run_count=1,
        )
    )


@pytest.fixture
def running(aws: dict[str, Any]) -> dict[str, Any]:
    """The AWS environment with flow run ``fr-1`` Running: where task runs belong."""
    _flow_run(StateType.RUNNING)
    return aws


def _scan() -> list[dict[str, Any]]:
    items = boto3.client("dynamodb").scan(TableName="state", ConsistentRead=True)["Items"]
    return sorted(items, key=lambda i: (i["pk"]["S"], i["sk"]["S"]))


def _event(
    task: Any, parameters: dict[str, Any], run_id: str = "tr-1", flow_run_id: str | None = "fr-1"
) -> dict[str, Any]:
    runtime = _runtime()
    record = TaskRunRecord(
        id=run_id,
        flow_run_id=flow_run_id,
        task_key=task.task_key,
        dynamic_key=0,
        name=f"{task.name}-abc",
        task_name=task.name,
        state_type=StateType.PENDING,
        state_name="Pending",
    )
    call = TaskCall(task, parameters, record, "brave-otter", False)
    return json.loads(json.dumps(task_event(call, runtime.results.dump(parameters))))


def _result(response: dict[str, Any], results: Results) -> Any:
    payload = payload_from_wire(response["result"])
    return results.load(payload) if payload else None


def test_task_run_handler_runs_and_records(running: dict[str, Any]) -> None:
    from flowless.lambda_handlers import task_run

    response = task_run.handler(_event(aws_tasks.add, {"a": 2, "b": 3}), CONTEXT)
    assert response["state"] == {"type": "COMPLETED", "name": "Completed", "message": None}
    assert _result(response, _runtime().results) == 5
    [record] = _runtime().store.read_task_runs("fr-1")
    assert isinstance(record, TaskRunRecord) and record.state_name == "Completed"


def test_a_remote_task_runs_record_carries_its_inputs(running: dict[str, Any]) -> None:
    from flowless.lambda_handlers import task_run

    event = _event(aws_tasks.add, {"a": 2, "b": 3})
    assert event["task_run"]["inputs"] is None  # an older caller's: the function makes them
    task_run.handler(event, CONTEXT)
    [record] = _runtime().store.read_task_runs("fr-1")
    assert isinstance(record, TaskRunRecord) and record.inputs == {"a": "2", "b": "3"}
    event = _event(aws_tasks.add, {"a": 4, "b": 5}, run_id="tr-2")
    event["task_run"]["inputs"] = {"a": "4", "b": "5 (as the caller saw it)"}
    task_run.handler(event, CONTEXT)
    runs = {r.id: r for r in _runtime().store.read_task_runs("fr-1")}
    second = runs["tr-2"]
    assert isinstance(second, TaskRunRecord)
    assert second.inputs == {"a": "4", "b": "5 (as the caller saw it)"}


def test_task_run_handler_retries_inside_one_invocation(running: dict[str, Any]) -> None:
    from flowless.lambda_handlers import task_run

    response = task_run.handler(_event(aws_tasks.flaky_once, {"marker": []}), CONTEXT)
    assert response["state"]["name"] == "Completed" and response["run_count"] == 2


def test_failure_travels_with_the_exception(running: dict[str, Any]) -> None:
    from flowless.invoke._wire import error_from_wire
    from flowless.lambda_handlers import task_run

    response = task_run.handler(_event(aws_tasks.boom, {}), CONTEXT)
    assert response["state"]["type"] == "FAILED"
    exc = error_from_wire(response["error"], _runtime().results.signer)
    assert isinstance(exc, KeyError) and exc.args == ("missing thing",)


def test_result_that_cannot_travel_fails_the_run(running: dict[str, Any]) -> None:
    from flowless.lambda_handlers import task_run

    response = task_run.handler(_event(aws_tasks.unserializable, {}), CONTEXT)
    assert response["state"]["type"] == "FAILED"
    assert "cannot be sent back from AWS Lambda" in response["state"]["message"]


def test_large_result_goes_to_s3(running: dict[str, Any]) -> None:
    from flowless.lambda_handlers import task_run

    response = task_run.handler(_event(aws_tasks.big, {"n": 200_000}), CONTEXT)
    assert response["result"]["location"].startswith("s3://results/results/")
    assert response["result"]["data"] is None
    assert _result(response, _runtime().results) == "x" * 200_000


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ("not an object", "the event must be a JSON object"),
        ({"task": "no_colon"}, "'task' must look like 'module:attribute'"),
        ({"task": "tests.aws_tasks:missing", "options": {}}, "cannot be imported here"),
        ({"task": "tests.aws_tasks:sum_flow", "options": {}}, "is not a task"),
        ({"task": "tests.aws_tasks:add", "options": {"bogus": 1}}, "'options' cannot be applied"),
        (
            {
                "task": "tests.aws_tasks:add",
                "options": {},
                "parameters": {"serializer": "json", "data": "***"},
            },
            "payload data is not base64",
        ),
    ],
)
def test_malformed_task_event_touches_nothing(
    aws: dict[str, Any], event: Any, message: str
) -> None:
    from flowless.lambda_handlers import task_run

    with pytest.raises(task_run.MalformedTaskEventError) as raised:
        task_run.handler(event, CONTEXT)
    assert message in str(raised.value)
    items = boto3.client("dynamodb").scan(TableName="state")["Items"]
    assert items == []


def test_flow_run_handler_starts_and_continues(aws: dict[str, Any]) -> None:
    from flowless.engine import TaskRunExecutor
    from flowless.invoke import LocalInvoker
    from flowless.lambda_handlers import flow_run

    runtime = _runtime()
    # No Lambda here: the flow's task runs execute in process, through the same executor.
    object.__setattr__(
        runtime, "invoker", LocalInvoker(TaskRunExecutor(runtime.store, runtime.results))
    )
    response = flow_run.handler(
        {"flow": "tests.aws_tasks:sum_flow", "parameters": {"n": 3}}, CONTEXT
    )
    assert response["state"]["name"] == "Completed"
    assert _result(response, runtime.results) == 6
    again = flow_run.handler(
        {"flow": "tests.aws_tasks:sum_flow", "flow_run_id": response["flow_run_id"]}, CONTEXT
    )
    assert again["flow_run_id"] == response["flow_run_id"] and again["state"]["name"] == "Completed"
    rejected = flow_run.handler(
        {"flow": "tests.aws_tasks:sum_flow", "parameters": {"n": "x"}}, CONTEXT
    )
    assert (
        rejected["state"]["type"] == "FAILED"
        and " - n: Input should be a valid integer" in (rejected["state"]["message"])
    )


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({}, "expected a schedule slot"),
        ({"flow": 3}, "'flow' must look like 'module:attribute'"),
        ({"flow": "tests.aws_tasks:add"}, "is not a flow"),
        ({"flow": "tests.aws_tasks:sum_flow", "parameters": [1]}, "'parameters' must be an object"),
        ({"flow": "tests.aws_tasks:sum_flow", "flow_run_id": 7}, "'flow_run_id' must be a string"),
    ],
)
def test_malformed_flow_event_touches_nothing(
    aws: dict[str, Any], event: Any, message: str
) -> None:
    from flowless.lambda_handlers import flow_run

    with pytest.raises(ValueError) as raised:  # a function error, never a 200
        flow_run.handler(event, CONTEXT)
    assert type(raised.value).__name__ == "MalformedEventError"
    assert message in str(raised.value)
    assert boto3.client("dynamodb").scan(TableName="state")["Items"] == []


def test_payload_round_trip() -> None:
    from flowless.store import Payload

    payload = Payload("pickle", b"\x00\x01", None)
    assert payload_from_wire(json.loads(json.dumps(payload_to_wire(payload)))) == payload


@pytest.fixture
def function_log() -> Iterator[io.StringIO]:
    """What the functions write to CloudWatch. The handler's stream is swapped rather
    than captured: it was bound to ``sys.stdout`` when the handlers were first imported,
    which may be under another test's capture."""
    from flowless.lambda_handlers._logging import logger

    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        yield stream
    finally:
        handler.setStream(previous)


def test_log_lines_carry_their_own_runs_ids_only(
    running: dict[str, Any], function_log: io.StringIO
) -> None:
    """A warm function serves many runs: one invocation's keys must not label the next
    invocation's lines in CloudWatch."""
    from flowless.lambda_handlers import task_run

    task_run.handler(_event(aws_tasks.add, {"a": 1, "b": 1}, run_id="tr-first"), CONTEXT)
    with pytest.raises(task_run.MalformedTaskEventError):
        task_run.handler({"task": 42}, CONTEXT)  # malformed: its error line names no run
    lines = [json.loads(line) for line in function_log.getvalue().splitlines()]
    finished = [line for line in lines if line.get("message") == "Finished in state Completed()"]
    assert [(line["task_run_id"], line["flow_run_id"]) for line in finished] == [
        ("tr-first", "fr-1")
    ]
    # The engine's own lines carry the invocation's keys too.
    assert finished[0]["function_request_id"] == "request-1"
    [malformed] = [line for line in lines if "Malformed" in str(line.get("message"))]
    assert "task_run_id" not in malformed and "flow_run_id" not in malformed
    assert malformed["function_request_id"] == "request-1"


def test_a_task_whose_source_differs_from_the_callers_is_refused(aws: dict[str, Any]) -> None:
    from flowless.invoke import TaskSourceMismatchError
    from flowless.lambda_handlers import task_run

    event = _event(aws_tasks.add, {"a": 1, "b": 1})
    assert event["source_hash"] == aws_tasks.add.source_hash  # what the caller sends
    event["source_hash"] = "0" * 64  # the caller's add() was edited since the deploy
    with pytest.raises(TaskSourceMismatchError) as raised:
        task_run.handler(event, CONTEXT)
    assert str(raised.value) == (
        "Task 'add' (tests.aws_tasks:add) is not the code that called it: the deployed "
        "task's source differs from the caller's. Rebuild and deploy (`flowless build && "
        "sam build && sam deploy`), then run the flow again."
    )
    assert boto3.client("dynamodb").scan(TableName="state")["Items"] == []


# -- well-formed events that name the wrong thing (issue 9, item 6) ------------------------


def _calls(client: Any) -> list[str]:
    """The operations ``client`` sends from now on (botocore's own event hook)."""
    sent: list[str] = []
    client.meta.events.register("before-call", lambda model, **_: sent.append(model.name))
    return sent


def test_a_task_run_of_an_unknown_flow_run_is_refused_and_writes_nothing(
    aws: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """No orphan: before, the task ran and its record landed in a partition of no flow run."""
    from flowless.lambda_handlers import task_run

    event = _event(aws_tasks.add, {"a": 2, "b": 3}, flow_run_id="fr-unknown")
    with pytest.raises(ValueError) as raised:  # a function error, never a 200
        task_run.handler(event, CONTEXT)
    assert type(raised.value).__name__ == "TaskRunEventRejectedError"
    assert str(raised.value) == (
        "Task run 'add-abc' (tr-1) belongs to flow run 'fr-unknown', which is not in "
        "dynamodb://state (us-east-1): task runs are recorded in their flow run, so this one "
        "was neither run nor recorded. Is the caller's FLOWLESS_TABLE the deployed stack's?"
    )
    assert _scan() == []
    # Counted apart from malformed events (CloudWatch EMF, printed as the function ends).
    [emitted] = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line
    ]
    assert emitted["RejectedEvents"] == [1.0] and "MalformedEvents" not in emitted


@pytest.mark.parametrize(
    ("state", "name", "shown"),
    [
        (StateType.COMPLETED, "Completed", "Completed"),
        (StateType.FAILED, "TimedOut", "TimedOut (Failed)"),
        (StateType.CRASHED, "Crashed", "Crashed"),
        (StateType.CANCELLED, "Cancelled", "Cancelled"),
        (StateType.SCHEDULED, "Scheduled", "Scheduled"),
    ],
)
def test_a_task_run_of_a_flow_run_that_is_not_running_is_refused(
    aws: dict[str, Any], state: StateType, name: str, shown: str
) -> None:
    """As Prefect's server refuses it (PreventRunningTasksFromStoppedFlows): a finished
    flow run does not gain task runs, and its record is left exactly as it was."""
    from flowless.lambda_handlers import task_run

    _flow_run(state, name)
    before = _scan()
    with pytest.raises(ValueError) as raised:
        task_run.handler(_event(aws_tasks.add, {"a": 2, "b": 3}), CONTEXT)
    assert type(raised.value).__name__ == "TaskRunEventRejectedError"
    assert str(raised.value) == (
        f"Task run 'add-abc' (tr-1) belongs to flow run 'brave-otter' (fr-1), which is "
        f"{shown}: a flow run's tasks run only while it is Running, so this one was neither "
        "run nor recorded."
    )
    assert _scan() == before and len(before) == 1


@pytest.fixture
def foreign_objects(running: dict[str, Any]) -> bytes:
    """Parameters someone else stored: in another bucket, and in the results bucket
    outside the prefix this stack writes results under."""
    from flowless.results import serialize

    _, data = serialize({"a": 2, "b": 3}, _runtime().results.signer)
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="elsewhere")
    s3.put_object(Bucket="elsewhere", Key="results/params.json", Body=data)
    s3.put_object(Bucket="results", Key="uploads/params.json", Body=data)
    return data


@pytest.mark.parametrize(
    "location",
    [
        "s3://elsewhere/results/params.json",  # another bucket, readable by the function
        "s3://no-such-bucket/results/params.json",  # was blamed on the results bucket
        "s3://results/uploads/params.json",  # the results bucket, outside the prefix
        "s3://results/results/../uploads/params.json",  # out of the prefix by dot segments
        "/var/task/params.json",  # not in S3 at all
    ],
)
def test_parameters_outside_the_results_bucket_are_refused_unread(
    foreign_objects: bytes, location: str
) -> None:
    from flowless.lambda_handlers import task_run

    event = _event(aws_tasks.add, {"a": 2, "b": 3})
    event["parameters"] = {"serializer": "json", "data": None, "location": location}
    before = _scan()
    s3_calls = _calls(_runtime().results.blobs.client)
    with pytest.raises(ValueError) as raised:
        task_run.handler(event, CONTEXT)
    assert type(raised.value).__name__ == "TaskRunEventRejectedError"
    assert str(raised.value) == (
        f"Task run 'add-abc' (tr-1) was sent its parameters at {location!r}, outside this "
        "stack's results store: the function reads payloads only under "
        "'s3://results/results/' (bucket 'results' from FLOWLESS_BUCKET, prefix 'results/'), "
        "so this one was neither run nor recorded. Is the caller's FLOWLESS_BUCKET the "
        "deployed stack's?"
    )
    assert s3_calls == []  # not even read
    assert _scan() == before and len(before) == 1  # the flow run alone, as it was


def test_parameters_in_the_results_bucket_are_read_and_the_check_costs_one_read(
    running: dict[str, Any],
) -> None:
    """The legitimate case of the location check (a large argument, sent through S3) and
    what the flow-run check costs: one consistent GetItem before the two writes. Its log
    lines travel in the answer, for the flow side to keep with its own (no write here)."""
    from flowless.lambda_handlers import task_run

    text = "y" * 200_000
    event = _event(aws_tasks.length, {"text": text})
    assert event["parameters"]["location"].startswith("s3://results/results/")
    dynamodb_calls = _calls(_runtime().store.client)
    response = task_run.handler(event, CONTEXT)
    assert _result(response, _runtime().results) == len(text)
    assert dynamodb_calls == ["GetItem", "PutItem", "PutItem"]
    logs = response["logs"]
    assert logs["kept"] is False and logs["cut"] == 0
    assert logs["lines"][-1][1:] == [20, logs["lines"][-1][2], "Finished in state Completed()"]


def test_a_task_run_outside_any_flow_has_no_flow_run_to_check(aws: dict[str, Any]) -> None:
    """Prefect runs a task called outside a flow on its own; so does the function, with
    no read: there is no flow run to look up."""
    from flowless.lambda_handlers import task_run

    dynamodb_calls = _calls(_runtime().store.client)
    response = task_run.handler(_event(aws_tasks.add, {"a": 1, "b": 2}, flow_run_id=None), CONTEXT)
    assert _result(response, _runtime().results) == 3
    assert dynamodb_calls == ["PutItem", "PutItem"]
    [item] = _scan()
    assert item["pk"]["S"] == "TASKRUN#tr-1"
