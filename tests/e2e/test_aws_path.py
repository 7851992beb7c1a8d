"""The AWS path end to end, over HTTP: flows run on the local cloud's Lambda functions,
state in its DynamoDB table, large results in its S3 bucket.

Two ways in, as a user has them: invoke the flow-run function (``aws lambda invoke``,
the flow body runs in Lambda), or run the flow in this process with
``FLOWLESS_BACKEND=aws`` (the ``on_aws`` fixture; the flow body runs here). Either way
every task run that is not replayed or served from the cache is one invocation of the
task-run function, counted at the endpoint.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import e2e_flows
import pytest

from flowless.invoke import TaskCall
from flowless.invoke._wire import task_event
from flowless.states import StateType
from flowless.store import TaskRunRecord
from tests.e2e.cloud import Cloud


def _token() -> str:
    return uuid.uuid4().hex[:12]


def _value(answer: dict[str, Any]) -> Any:
    """The flow's return value from the flow-run function's answer (JSON payloads)."""
    payload = answer["result"]
    assert payload["serializer"] == "json" and payload["location"] is None, payload
    return json.loads(base64.b64decode(payload["data"]))


def _task_runs(aws: Cloud, flow_run_id: str) -> list[TaskRunRecord]:
    runs = aws.store.read_task_runs(flow_run_id)
    assert all(isinstance(r, TaskRunRecord) for r in runs), runs
    return sorted(runs, key=lambda r: (r.start_time or 0.0, r.task_key, r.dynamic_key))  # type: ignore[union-attr]


def test_the_example_pipeline_runs_on_the_flow_run_function(aws: Cloud) -> None:
    """examples/unreliable_api.py, deployed as is: three task runs, three invocations."""
    with aws.counting() as calls:
        answer = aws.invoke_flow(
            {"flow": "unreliable_api:pipeline", "parameters": {"msg": "from Lambda"}}
        )
    assert answer["state"]["type"] == "COMPLETED", answer
    assert calls == {"flow": 1, "task": 3}
    record = aws.store.read_flow_run(answer["flow_run_id"])
    assert (record.flow_name, record.name) == ("pipeline", answer["flow_run_name"])
    assert record.state_type is StateType.COMPLETED
    runs = _task_runs(aws, record.id)
    assert [r.task_name for r in runs] == [
        "Get data from API",
        "augment_data",
        "write_results_to_database",
    ]
    assert all(r.state_type is StateType.COMPLETED for r in runs)
    augmented = aws.results.load(runs[1].result)
    assert augmented == {"data": 42, "message": "from Lambda"}


def test_retries_run_inside_one_invocation(aws: Cloud) -> None:
    key = _token()
    with aws.counting() as calls:
        answer = aws.invoke_flow(
            {"flow": "e2e_flows:retrying", "parameters": {"key": key, "failures": 2}}
        )
    assert answer["state"]["type"] == "COMPLETED", answer
    assert _value(answer) == f"{key} after 3 attempts"
    assert calls == {"flow": 1, "task": 1}
    [run] = _task_runs(aws, answer["flow_run_id"])
    assert (run.state_type, run.run_count) == (StateType.COMPLETED, 3)


def test_retries_exhausted_fail_the_flow_with_the_last_error(aws: Cloud) -> None:
    key = _token()
    answer = aws.invoke_flow(
        {"flow": "e2e_flows:retrying", "parameters": {"key": key, "failures": 10}}
    )
    assert answer["state"]["type"] == "FAILED"
    assert f"attempt 4 of {key} failed" in answer["state"]["message"]
    [run] = _task_runs(aws, answer["flow_run_id"])
    assert (run.state_type, run.run_count) == (StateType.FAILED, 4)


def test_a_failing_task_fails_the_flow_and_keeps_what_completed(aws: Cloud) -> None:
    message = f"bad input {_token()}"
    with aws.counting() as calls:
        answer = aws.invoke_flow({"flow": "e2e_flows:failing", "parameters": {"message": message}})
    assert answer["state"]["type"] == "FAILED"
    assert message in answer["state"]["message"]
    assert answer["result"] is None
    assert calls == {"flow": 1, "task": 2}
    record = aws.store.read_flow_run(answer["flow_run_id"])
    assert record.state_type is StateType.FAILED
    ok, failed = _task_runs(aws, record.id)
    assert (ok.task_name, ok.state_type) == ("ok", StateType.COMPLETED)
    assert (failed.task_name, failed.state_type) == ("fail_with", StateType.FAILED)
    assert message in (failed.state_message or "")


def test_a_failing_task_raises_its_own_exception_in_a_local_flow(on_aws: Cloud) -> None:
    """With the flow body here, the remote task's exception comes back as itself."""
    message = f"bad input {_token()}"
    with on_aws.counting() as calls, pytest.raises(ValueError, match=message):
        e2e_flows.failing(message)
    assert calls == {"flow": 0, "task": 2}


def test_caching_across_two_flow_runs(aws: Cloud) -> None:
    """Run 1 computes once and hits its own cache; run 2 is all cache hits: no invocation."""
    token = _token()
    event = {"flow": "e2e_flows:cached_twice", "parameters": {"token": token}}
    with aws.counting() as first_calls:
        first = aws.invoke_flow(event)
    with aws.counting() as second_calls:
        second = aws.invoke_flow(event)
    assert first_calls == {"flow": 1, "task": 1}
    assert second_calls == {"flow": 1, "task": 0}
    assert first["state"]["type"] == second["state"]["type"] == "COMPLETED"
    computed = _value(first)[0]
    assert computed["token"] == token
    assert _value(first) == _value(second) == [computed, computed]
    states = [r.state_name for r in _task_runs(aws, second["flow_run_id"])]
    assert states == ["Cached", "Cached"]


def test_a_large_result_travels_through_s3(aws: Cloud) -> None:
    n = 300 * 1024  # above DynamoDB's comfort: the runtime keeps items under 100 KB inline
    s3 = aws.cloud.client("s3")
    bucket = aws.cloud.provisioned.bucket_name
    before = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
    with aws.counting() as calls:
        answer = aws.invoke_flow(
            {"flow": "e2e_flows:large_result", "parameters": {"n": n, "char": "q"}}
        )
    assert answer["state"]["type"] == "COMPLETED", answer
    assert _value(answer) == n
    assert calls == {"flow": 1, "task": 2}
    big, length = _task_runs(aws, answer["flow_run_id"])
    assert big.result is not None and big.result.data is None
    assert big.result.location is not None
    assert big.result.location.startswith(f"s3://{bucket}/")
    assert aws.results.load(big.result) == "q" * n
    assert length.result is not None and length.result.location is None
    after = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
    assert big.result.location.removeprefix(f"s3://{bucket}/") in after - before
    # The item that references it stays small.
    item = aws.cloud.client("dynamodb").query(
        TableName=aws.cloud.provisioned.table_name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"FLOWRUN#{answer['flow_run_id']}"}},
    )["Items"]
    assert max(len(repr(i)) for i in item) < 10 * 1024


def test_a_second_flow_run_loses_nothing_of_the_first(aws: Cloud) -> None:
    first = aws.invoke_flow({"flow": "e2e_flows:fan_out", "parameters": {"n": 5}})
    assert first["state"]["type"] == "COMPLETED"
    snapshot_run = aws.store.read_flow_run(first["flow_run_id"])
    snapshot_tasks = _task_runs(aws, first["flow_run_id"])
    assert len(snapshot_tasks) == 6

    # Another run of the same flow, and a failing one, in between.
    second = aws.invoke_flow({"flow": "e2e_flows:fan_out", "parameters": {"n": 7}})
    failed = aws.invoke_flow({"flow": "e2e_flows:failing", "parameters": {"message": "x"}})
    assert (second["state"]["type"], failed["state"]["type"]) == ("COMPLETED", "FAILED")
    assert second["flow_run_id"] != first["flow_run_id"]
    assert (_value(first), _value(second)) == (30, 91)

    assert aws.store.read_flow_run(first["flow_run_id"]) == snapshot_run
    assert _task_runs(aws, first["flow_run_id"]) == snapshot_tasks
    assert len(_task_runs(aws, second["flow_run_id"])) == 8
    listed = {r.id for r in aws.store.list_flow_runs(limit=1000)}
    assert {first["flow_run_id"], second["flow_run_id"], failed["flow_run_id"]} <= listed

    # Continuing the first run by id replays its journal: no task runs again.
    with aws.counting() as calls:
        again = aws.invoke_flow({"flow": "e2e_flows:fan_out", "flow_run_id": first["flow_run_id"]})
    assert again["flow_run_id"] == first["flow_run_id"]
    assert _value(again) == 30
    assert calls == {"flow": 1, "task": 0}
    assert _task_runs(aws, first["flow_run_id"]) == snapshot_tasks


def test_map_invokes_concurrently_one_invocation_per_task_run(on_aws: Cloud) -> None:
    with on_aws.counting() as calls:
        assert e2e_flows.fan_out(12) == sum(i * i for i in range(12))
    assert calls == {"flow": 0, "task": 13}


def test_a_malformed_event_gets_an_error_and_writes_nothing(aws: Cloud) -> None:
    before = {r.id for r in aws.store.list_flow_runs(limit=1000)}
    for event, expected in (
        ({"flow": "no_such_module:pipeline"}, "cannot be imported"),
        ({"flow": "e2e_flows:square"}, "is not a flow"),
        ({"flow": "e2e_flows:fan_out", "parameters": [1]}, "'parameters' must be an object"),
        (["not", "an", "object"], "must be a JSON object"),
    ):
        answer = aws.invoke_flow(event, expect_error=True)
        assert answer["errorType"] == "MalformedEventError", answer
        assert expected in answer["errorMessage"], answer
    assert {r.id for r in aws.store.list_flow_runs(limit=1000)} == before


def _invoke_task(aws: Cloud, event: dict[str, Any]) -> dict[str, Any]:
    """Invoke the task-run function directly, as someone holding its name could; the
    function error it must answer (``FunctionError`` set, never a plain 200)."""
    response = aws.cloud.client("lambda").invoke(
        FunctionName=aws.cloud.provisioned.task_function_name, Payload=json.dumps(event).encode()
    )
    body = json.loads(response["Payload"].read())
    assert response.get("FunctionError") == "Unhandled", body
    return dict(body)


def _partition(aws: Cloud, flow_run_id: str) -> list[dict[str, Any]]:
    return list(
        aws.cloud.client("dynamodb").query(
            TableName=aws.cloud.provisioned.table_name,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"FLOWRUN#{flow_run_id}"}},
            ConsistentRead=True,
        )["Items"]
    )


def test_a_task_run_event_naming_the_wrong_thing_is_refused_unrecorded(aws: Cloud) -> None:
    """Well-formed events, wrong for this stack: a flow run it does not have, one that has
    finished, parameters in another bucket. Each is a function error that says so, and
    the flow run's partition is left as it was."""
    done = aws.invoke_flow({"flow": "e2e_flows:fan_out", "parameters": {"n": 1}})
    assert done["state"]["type"] == "COMPLETED", done
    bucket = aws.cloud.provisioned.bucket_name

    def event(flow_run_id: str) -> dict[str, Any]:
        run = TaskRunRecord(
            id=f"probe-{_token()}",
            flow_run_id=flow_run_id,
            task_key=e2e_flows.square.task_key,
            dynamic_key=7,
            name="square-probe",
            task_name="square",
            state_type=StateType.PENDING,
            state_name="Pending",
        )
        call = TaskCall(e2e_flows.square, {"x": 3}, run, "brave-otter", False)
        return task_event(call, aws.results.dump({"x": 3}))

    unknown = f"unknown-{_token()}"
    foreign = event(done["flow_run_id"])
    foreign["parameters"] = {"serializer": "json", "data": None, "location": "s3://x/results/p"}
    before = _partition(aws, done["flow_run_id"])
    for sent, expected in (
        (event(unknown), f"belongs to flow run {unknown!r}, which is not in dynamodb://"),
        (event(done["flow_run_id"]), "which is Completed: a flow run's tasks run only while"),
        (
            foreign,
            f"at 's3://x/results/p', outside this stack's results store: the function "
            f"reads payloads only under 's3://{bucket}/results/'",
        ),
    ):
        answer = _invoke_task(aws, sent)
        assert answer["errorType"] == "TaskRunEventRejectedError", answer
        assert expected in answer["errorMessage"], answer
    assert _partition(aws, unknown) == []
    assert _partition(aws, done["flow_run_id"]) == before


def test_a_wrong_parameter_fails_the_run_before_any_task(aws: Cloud) -> None:
    with aws.counting() as calls:
        answer = aws.invoke_flow({"flow": "e2e_flows:fan_out", "parameters": {"n": "many"}})
    assert answer["state"]["type"] == "FAILED"
    assert "n" in answer["state"]["message"] and "valid integer" in answer["state"]["message"]
    assert calls == {"flow": 1, "task": 0}
    assert _task_runs(aws, answer["flow_run_id"]) == []


def test_a_task_that_calls_a_task_runs_it_inside_its_own_invocation(aws: Cloud) -> None:
    """The task-run function has no right to invoke Lambda (template.yaml): nested task
    runs execute in its process (FLOWLESS_INVOKER=local) and are recorded all the same."""
    with aws.counting() as calls:
        answer = aws.invoke_flow({"flow": "e2e_flows:nested", "parameters": {"x": 7}})
    assert answer["state"]["type"] == "COMPLETED", answer
    assert _value(answer) == 50
    assert calls == {"flow": 1, "task": 1}
    [outer] = _task_runs(aws, answer["flow_run_id"])
    assert (outer.task_name, outer.state_type) == ("outer", StateType.COMPLETED)
