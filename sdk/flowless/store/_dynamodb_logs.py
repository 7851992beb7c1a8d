"""Run log lines in the DynamoDB table: one item per line, in its flow run's partition
(``sk`` ``LOG#<line id>``, so a query returns them in order), written 25 at a time.

Why batches: a line per ``put_item`` would be one request per log call, doubling the
requests of every task run; ``BatchWriteItem`` takes 25. Lines wait in a buffer until
25 are there or the store is flushed (the engine flushes at every flow run's end and
after each remote task run), so a process killed mid-run may lose its last few lines,
never a record.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from flowless.exceptions import CorruptRecordError, StoreError
from flowless.store._records import LogLine

__all__ = ["LogBuffer", "log_from_item", "log_item", "read_logs"]

Item = dict[str, dict[str, Any]]
Call = Callable[..., Any]

_BATCH = 25


def log_item(line: LogLine) -> Item:
    item: Item = {
        "pk": {"S": f"FLOWRUN#{line.flow_run_id}"},
        "sk": {"S": f"LOG#{line.id}"},
        "run_name": {"S": line.run_name},
        "time": {"N": repr(line.time)},
        "level": {"N": str(line.level)},
        "logger": {"S": line.logger},
        "message": {"S": line.message},
    }
    if line.task_run_id is not None:
        item["task_run_id"] = {"S": line.task_run_id}
    return item


def _text(item: Item, name: str) -> str:
    value = item.get(name)
    if not isinstance(value, dict) or not isinstance(value.get("S"), str):
        raise ValueError(f"{name} is {value!r}, not a string")
    text: str = value["S"]
    return text


def _number(item: Item, name: str) -> float:
    value = item.get(name)
    if not isinstance(value, dict) or not isinstance(value.get("N"), str):
        raise ValueError(f"{name} is {value!r}, not a number")
    return float(value["N"])


def log_from_item(item: Item) -> LogLine:
    """A stored line; ``ValueError`` naming the attribute if it is not one."""
    level = _number(item, "level")
    if not level.is_integer():
        raise ValueError(f"level is {level!r}, not a whole number")
    return LogLine(
        id=_text(item, "sk").removeprefix("LOG#"),
        flow_run_id=_text(item, "pk").removeprefix("FLOWRUN#"),
        task_run_id=_text(item, "task_run_id") if "task_run_id" in item else None,
        run_name=_text(item, "run_name"),
        time=_number(item, "time"),
        level=int(level),
        logger=_text(item, "logger"),
        message=_text(item, "message"),
    )


def read_logs(call: Call, location: str, flow_run_id: str, after: str | None) -> list[LogLine]:
    kwargs: dict[str, Any] = {
        # "LOG$" sorts right after every "LOG#..." and before the task runs' "TASKRUN#"
        "KeyConditionExpression": "pk = :run AND sk BETWEEN :from AND :to",
        "ExpressionAttributeValues": {
            ":run": {"S": f"FLOWRUN#{flow_run_id}"},
            ":from": {"S": f"LOG#{after or ''}"},
            ":to": {"S": "LOG$"},
        },
        "ConsistentRead": True,
    }
    lines: list[LogLine] = []
    while True:
        response = call("read log lines", "query", **kwargs)
        for item in response.get("Items", []):
            if after is not None and item.get("sk", {}).get("S") == f"LOG#{after}":
                continue  # BETWEEN includes its ends
            try:
                lines.append(log_from_item(item))
            except ValueError as exc:
                raise CorruptRecordError(
                    f"A log line of flow run {flow_run_id!r} in {location} is corrupt: {exc}"
                ) from exc
        last = response.get("LastEvaluatedKey")
        if not last:
            return lines
        kwargs["ExclusiveStartKey"] = last


class LogBuffer:
    """Lines waiting to be written, 25 per ``BatchWriteItem``."""

    def __init__(self, call: Call, table_name: str) -> None:
        self._call = call
        self._table = table_name
        self._lines: list[Item] = []
        self._lock = threading.Lock()

    def add(self, line: LogLine) -> None:
        with self._lock:
            self._lines.append(log_item(line))
            if len(self._lines) < _BATCH:
                return
            batch, self._lines = self._lines, []
        self._write(batch)

    def flush(self) -> None:
        with self._lock:
            batch, self._lines = self._lines, []
        for start in range(0, len(batch), _BATCH):
            self._write(batch[start : start + _BATCH])

    def _write(self, items: list[Item]) -> None:
        # one request per key (a batch with a key twice is refused): the last one wins
        unique = {(item["pk"]["S"], item["sk"]["S"]): item for item in items}
        requests: list[Any] = [{"PutRequest": {"Item": item}} for item in unique.values()]
        for attempt in range(8):
            response = self._call(
                "write log lines", "batch_write_item", RequestItems={self._table: requests}
            )
            requests = response.get("UnprocessedItems", {}).get(self._table, [])
            if not requests:
                return
            time.sleep(min(0.05 * 2**attempt, 2.0))  # throttled: back off, as AWS advises
        raise StoreError(
            f"Could not write {len(requests)} log line(s): DynamoDB kept throttling the writes."
        )
