"""A hand-edited or damaged log record: reading the run's lines says which run and what
is wrong, and nothing else is touched (the run, its task runs, other runs' lines)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from flowless.cli import main as cli
from flowless.exceptions import CorruptRecordError
from flowless.states import StateType
from flowless.store import DynamoDBStore, FlowRunRecord, LogLine, SQLiteStore
from tests.aws import dynamodb_table


def _run(id: str) -> FlowRunRecord:
    return FlowRunRecord(id, f"name-{id}", "f", StateType.COMPLETED, "Completed", created=1.0)


def _line(flow_run_id: str, n: int) -> LogLine:
    return LogLine(f"{n:020d}-1-{n:012x}", flow_run_id, None, "r", 1.0, 20, "flowless", f"m{n}")


def test_a_corrupt_line_in_sqlite(flowless_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flowless_home.mkdir(parents=True, exist_ok=True)
    store = SQLiteStore(flowless_home / "flowless.db")
    for id in ("fr-1", "fr-2"):
        store.create_flow_run(_run(id))
        store.write_log(_line(id, 1))
    store.close()
    with sqlite3.connect(flowless_home / "flowless.db") as conn:
        conn.execute(
            "UPDATE log_chunks SET lines = replace(lines, ',20,', ',\"loud\",') "
            "WHERE flow_run_id = 'fr-1'"
        )
    store = SQLiteStore(flowless_home / "flowless.db")
    with pytest.raises(CorruptRecordError, match=r"A log line of flow run 'fr-1' .* is corrupt"):
        store.read_logs("fr-1")
    assert store.read_logs("fr-2") == [_line("fr-2", 1)]
    assert store.read_flow_run("fr-1").state_type is StateType.COMPLETED
    store.close()
    assert cli(["flow-run", "logs", "name-fr-1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: A log line of flow run 'fr-1'")
    assert "time/level: expected numbers" in err


def test_a_corrupt_item_in_dynamodb() -> None:
    with dynamodb_table() as (client, table):
        store = DynamoDBStore(table, client=client)
        for id in ("fr-1", "fr-2"):
            store.create_flow_run(_run(id))
            store.write_log(_line(id, 1))
        store.flush()
        client.put_item(
            TableName=table,
            Item={"pk": {"S": "FLOWRUN#fr-1"}, "sk": {"S": "LOG#9"}, "lines": {"S": "[1, 2"}},
        )
        with pytest.raises(CorruptRecordError, match=r"Log lines LOG#9 of flow run 'fr-1'"):
            store.read_logs("fr-1")
        assert store.read_logs("fr-2") == [_line("fr-2", 1)]
        assert store.read_flow_run("fr-1").state_type is StateType.COMPLETED


def test_lines_of_an_older_store_and_a_batch_that_landed_twice_are_read_once(
    flowless_home: Path,
) -> None:
    """A store written before chunks keeps a row per line in ``logs``; a batch retried
    with other lines lands a second chunk holding some of the same lines."""
    flowless_home.mkdir(parents=True, exist_ok=True)
    store = SQLiteStore(flowless_home / "flowless.db")
    store.create_flow_run(_run("fr-1"))
    for n in (2, 3):
        store.write_log(_line("fr-1", n))
    store.flush()
    for n in (3, 4):  # 3 again, in another batch
        store.write_log(_line("fr-1", n))
    store.close()
    with sqlite3.connect(flowless_home / "flowless.db") as conn:
        conn.execute("INSERT INTO logs VALUES (?, ?, ?, ?, ?, ?, ?, ?)", _line("fr-1", 1).as_row())
        assert conn.execute("SELECT count(*) FROM log_chunks").fetchone() == (2,)
    store = SQLiteStore(flowless_home / "flowless.db")
    assert store.read_logs("fr-1") == [_line("fr-1", n) for n in (1, 2, 3, 4)]
    assert store.read_logs("fr-1", after=_line("fr-1", 2).id) == [_line("fr-1", n) for n in (3, 4)]
    assert store.delete_flow_run("fr-1") == 0
    assert store.read_logs("fr-1") == []
    store.close()
