"""DynamoDB store behaviour behind the contract: corrupt items, missing tables, limits."""

from __future__ import annotations

import boto3
import pytest

from flowless.exceptions import CorruptRecordError, StoreError, StoreUnavailableError
from flowless.states import StateType
from flowless.store import CorruptRecord, DynamoDBStore, FlowRunRecord, Payload, TaskRunRecord
from tests.aws import REGION, dynamodb_table


def _flow_run(run_id: str, created: float = 1000.0) -> FlowRunRecord:
    return FlowRunRecord(
        id=run_id,
        name=f"name-{run_id}",
        flow_name="etl",
        state_type=StateType.RUNNING,
        state_name="Running",
        created=created,
        run_count=1,
    )


def test_corrupt_items_are_reported_and_others_read() -> None:
    with dynamodb_table() as (client, table):
        store = DynamoDBStore(table, client=client)
        store.create_flow_run(_flow_run("good", 1000.0))
        store.create_flow_run(_flow_run("bad", 2000.0))
        client.update_item(
            TableName=table,
            Key={"pk": {"S": "FLOWRUN#bad"}, "sk": {"S": "FLOWRUN"}},
            UpdateExpression="SET state_type = :x, run_count = :s",
            ExpressionAttributeValues={":x": {"S": "EXPLODED"}, ":s": {"S": "many"}},
        )
        listed = store.list_flow_runs()
        assert [type(r) for r in listed] == [CorruptRecord, FlowRunRecord]
        assert "state_type is 'EXPLODED'" in listed[0].reason  # type: ignore[union-attr]
        with pytest.raises(CorruptRecordError, match="Flow run 'bad' in dynamodb://"):
            store.read_flow_run("bad")
        assert store.read_flow_run("good").name == "name-good"


def test_missing_table_names_it_and_says_how_to_create_it() -> None:
    with dynamodb_table() as (client, _):
        store = DynamoDBStore("no-such-table", client=client)
        with pytest.raises(
            StoreUnavailableError, match=r"'no-such-table' does not exist.*sam deploy"
        ):
            store.read_flow_run("x")


def test_oversize_item_is_refused_before_sending() -> None:
    with dynamodb_table() as (client, table):
        store = DynamoDBStore(table, client=client)
        run = TaskRunRecord(
            id="t",
            flow_run_id="f",
            task_key="k",
            dynamic_key=0,
            name="t-abc",
            task_name="t",
            state_type=StateType.COMPLETED,
            state_name="Completed",
            run_count=1,
            result=Payload("pickle", b"x" * 500_000),
        )
        with pytest.raises(StoreError, match="over DynamoDB's limit"):
            store.finish_task_run(run)
        assert store.read_task_runs("f") == []


def test_unreachable_endpoint_is_unavailable() -> None:
    client = boto3.client(
        "dynamodb",
        region_name=REGION,
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=__import__("botocore.config", fromlist=["Config"]).Config(
            retries={"max_attempts": 1}, connect_timeout=1
        ),
    )
    with pytest.raises(StoreUnavailableError, match="Cannot reach DynamoDB"):
        DynamoDBStore("t", client=client).read_flow_run("x")
