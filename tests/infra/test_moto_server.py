"""moto's server as the local cloud runs it: conditional writes over HTTP race honestly."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from infra.template import table_definition

from flowless.localcloud.moto_server import MotoServer


@pytest.fixture(scope="module")
def server() -> Iterator[MotoServer]:
    # A tiny switch interval interleaves the server's request threads as much as possible.
    server = MotoServer(switch_interval=1e-6).start()
    try:
        yield server
    finally:
        server.stop()


def _client(server: MotoServer) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_concurrent_conditional_puts_let_exactly_one_writer_win(server: MotoServer) -> None:
    """Many clients at once, each claiming the same items only if absent: as on DynamoDB,
    each item has one winner (moto alone has no per-table lock to guarantee it)."""
    setup = _client(server)
    setup.create_table(**table_definition("race"))
    writers, items = 10, 150
    wins: list[int] = [0] * writers
    barrier = threading.Barrier(writers)

    def claim(writer: int) -> None:
        client = _client(server)
        barrier.wait()
        for n in range(items):
            try:
                client.put_item(
                    TableName="race",
                    Item={"pk": {"S": f"ITEM#{n}"}, "sk": {"S": "X"}, "by": {"N": str(writer)}},
                    ConditionExpression="attribute_not_exists(pk)",
                )
                wins[writer] += 1
            except client.exceptions.ConditionalCheckFailedException:
                pass

    threads = [threading.Thread(target=claim, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(wins) == items
    assert server.requests["dynamodb"] >= writers * items


def test_requests_are_counted_by_service(server: MotoServer) -> None:
    before = server.requests
    s3 = boto3.client(
        "s3",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket="counted")
    s3.put_object(Bucket="counted", Key="k", Body=b"v")
    assert server.requests["s3"] - before.get("s3", 0) == 2


def test_mock_aws_in_this_process_leaves_the_server_alone(server: MotoServer) -> None:
    """The server's backends live in its own process: ``mock_aws`` here resets only ours."""
    from moto import mock_aws

    _client(server).create_table(**table_definition("survivor"))
    with mock_aws():
        pass
    assert _client(server).describe_table(TableName="survivor")["Table"]["TableName"] == "survivor"
