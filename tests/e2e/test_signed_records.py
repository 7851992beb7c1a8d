"""Forged records on the local cloud: the flow-run function, and a developer machine with
``FLOWLESS_BACKEND=aws``, refuse a pickle the stack's secret did not sign.

A failed flow run's completed task run gets, through a plain ``UpdateItem`` (what any
principal allowed to write the table can do), a pickle that would create a file when
loaded. Continuing the run on the flow-run function, or resuming it here, must fail
naming that task run, and the file must not exist: the functions run on this machine,
so a loaded pickle would have created it.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import cloudpickle
import e2e_flows
import pytest

from flowless.engine import resume_flow_run
from flowless.exceptions import UntrustedPayloadError
from flowless.states import StateType
from flowless.store import TaskRunRecord
from tests.e2e.cloud import Cloud
from tests.unit.test_signing import Plant


def _forge_completed_task(aws: Cloud, marker: Path) -> tuple[str, TaskRunRecord]:
    answer = aws.invoke_flow(
        {"flow": "e2e_flows:failing", "parameters": {"message": uuid.uuid4().hex}}
    )
    assert answer["state"]["type"] == "FAILED"
    run_id = answer["flow_run_id"]
    [done] = [
        r
        for r in aws.store.read_task_runs(run_id)
        if isinstance(r, TaskRunRecord) and r.state_type is StateType.COMPLETED
    ]
    aws.cloud.client("dynamodb").update_item(
        TableName=aws.cloud.provisioned.table_name,
        Key={"pk": {"S": f"FLOWRUN#{run_id}"}, "sk": {"S": f"TASKRUN#{done.id}"}},
        UpdateExpression="SET #r = :r, result_serializer = :s",
        ExpressionAttributeNames={"#r": "result"},
        ExpressionAttributeValues={
            ":r": {"B": cloudpickle.dumps(Plant(marker))},
            ":s": {"S": "pickle"},
        },
    )
    return run_id, done


def test_the_flow_run_function_refuses_a_forged_result(aws: Cloud, tmp_path: Path) -> None:
    marker = tmp_path / "planted-in-lambda"
    run_id, done = _forge_completed_task(aws, marker)
    with aws.counting() as calls:
        error = aws.invoke_flow(
            {"flow": "e2e_flows:failing", "flow_run_id": run_id}, expect_error=True
        )
    assert error["errorType"] == "UntrustedPayloadError"
    assert f"task run {done.name!r} ({done.id})" in error["errorMessage"]
    assert "is a pickle that is not signed; refusing to unpickle it" in error["errorMessage"]
    assert calls == {"flow": 1, "task": 0}
    assert not marker.exists()
    assert aws.store.read_flow_run(run_id).state_type is StateType.FAILED


def test_a_developer_machine_refuses_a_forged_result(on_aws: Cloud, tmp_path: Path) -> None:
    marker = tmp_path / "planted-here"
    run_id, done = _forge_completed_task(on_aws, marker)
    with pytest.raises(UntrustedPayloadError, match=rf"task run '{done.name}'.* not signed"):
        resume_flow_run(e2e_flows.failing, run_id)
    assert not marker.exists()
