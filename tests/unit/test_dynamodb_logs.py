"""Log lines on DynamoDB while a run goes on: a line that comes ``FLUSH_AFTER`` after the
oldest waiting one writes them, so ``flow-run logs`` shows a running run's lines."""

from __future__ import annotations

import time

import pytest

from flowless.store import DynamoDBStore, LogLine, _dynamodb_logs
from tests.aws import dynamodb_table


def _line(n: int) -> LogLine:
    return LogLine(f"{n:020d}-1-{n:012x}", "fr-1", None, "r", float(n), 20, "flowless", f"m{n}")


def _items(client: object, table: str) -> int:
    response = client.query(  # type: ignore[attr-defined]
        TableName=table,
        KeyConditionExpression="pk = :run",
        ExpressionAttributeValues={":run": {"S": "FLOWRUN#fr-1"}},
    )
    return len(response["Items"])


def test_waiting_lines_are_written_once_they_have_waited(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_dynamodb_logs, "FLUSH_AFTER", 0.05)
    with dynamodb_table() as (client, table):
        store = DynamoDBStore(table, client=client)
        store.write_log(_line(1))
        assert _items(client, table) == 0  # one line waits for more
        time.sleep(0.1)
        store.write_log(_line(2))
        assert _items(client, table) == 1  # both, packed in one item, without a flush
        assert store.read_logs("fr-1") == [_line(1), _line(2)]
