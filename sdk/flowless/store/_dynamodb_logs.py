"""Run log lines in the DynamoDB table: packed into items of up to ``CHUNK_BYTES`` in
their flow run's partition, ``sk`` ``LOG#<id of the item's last line>``, written 25
items per ``BatchWriteItem``.

Why packed: DynamoDB bills a write unit per KB of each item, and a line is ~150 bytes,
so an item per line cost a write unit per line (doubling what a cache hit costs). Packed,
a flow run's lines cost ~1 unit per 1 KB of text; a remote task run that logs only its
final line still writes one small item.

Why ``sk`` is the *last* line's id: ``--follow`` asks for the lines after a given one;
every item that can hold such a line has a last id after it, so one key range finds
them all (``sk BETWEEN LOG#<after> AND LOG$``), and lines at or before ``after`` are
dropped from the first item. A line written twice (a retried batch) is shown once.

Lines wait in a buffer until ``FLUSH_BYTES`` of them are there, a line comes
``FLUSH_AFTER`` after the oldest one, or the store is flushed (the engine flushes at
every top-level flow run's end), so a process killed mid-run may
lose its last lines, never a record; and lines that cannot be written (DynamoDB kept
throttling) are reported, not raised: a run's records are durable without them.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from flowless.exceptions import CorruptRecordError, StoreError
from flowless.store._dynamodb_calls import batch_write
from flowless.store._records import LogLine

__all__ = ["CHUNK_BYTES", "LogBuffer", "lines_from_item", "log_items", "read_logs"]

Item = dict[str, dict[str, Any]]
Call = Callable[..., Any]

_log = logging.getLogger("flowless.store")

_BATCH = 25
#: Text per item, so that an item with its keys stays within 4 KB, four write units (a
#: bigger line gets an item of its own: messages are cut at 32 KiB).
CHUNK_BYTES = 4 * 1024 - 256
#: Buffered text that is written without waiting for a flush.
FLUSH_BYTES = _BATCH * CHUNK_BYTES
#: A line that comes this long after the oldest waiting one writes them all: a run that
#: goes on logging shows its lines to ``flow-run logs`` (and ``--follow``) while it runs.
FLUSH_AFTER = 2.0


def _row(line: LogLine) -> list[Any]:
    """The line without its flow run (the item's partition says it)."""
    row = list(line.as_row())
    del row[1]
    return row


def log_items(lines: list[LogLine]) -> list[Item]:
    """``lines`` packed per flow run, in id order, ``CHUNK_BYTES`` of text per item."""
    by_run: dict[str, list[LogLine]] = {}
    for line in lines:
        by_run.setdefault(line.flow_run_id, []).append(line)
    items: list[Item] = []
    for flow_run_id, run_lines in by_run.items():
        run_lines.sort(key=lambda line: line.id)
        chunk: list[list[Any]] = []
        size = 0
        for line in run_lines:
            row = _row(line)
            text = len(json.dumps(row))  # ASCII (escapes): its length is its size
            if chunk and size + text > CHUNK_BYTES:
                items.append(_item(flow_run_id, chunk))
                chunk, size = [], 0
            chunk.append(row)
            size += text
        if chunk:
            items.append(_item(flow_run_id, chunk))
    return items


def _item(flow_run_id: str, rows: list[list[Any]]) -> Item:
    return {
        "pk": {"S": f"FLOWRUN#{flow_run_id}"},
        "sk": {"S": f"LOG#{rows[-1][0]}"},
        "lines": {"S": json.dumps(rows)},  # ASCII: a lone surrogate is kept as its escape
    }


def lines_from_item(item: Item) -> list[LogLine]:
    """The lines of one stored item; ``ValueError`` saying what is wrong if it is not
    what ``log_items`` writes."""
    pk, lines = item.get("pk", {}).get("S"), item.get("lines", {}).get("S")
    if not isinstance(pk, str) or not isinstance(lines, str):
        raise ValueError("the item has no pk or no lines")
    rows = json.loads(lines)
    if not isinstance(rows, list):
        raise ValueError("lines is not a list")
    out: list[LogLine] = []
    for row in rows:
        if not isinstance(row, list) or len(row) != 7:
            raise ValueError(f"a line is {row!r}, not 7 fields")
        id_, task_run_id, run_name, created, level, logger, message = row
        if not all(isinstance(v, str) for v in (id_, run_name, logger, message)):
            raise ValueError(f"line {id_!r}: id, run name, logger and message must be text")
        if task_run_id is not None and not isinstance(task_run_id, str):
            raise ValueError(f"line {id_!r}: task_run_id must be text")
        if isinstance(level, bool) or not isinstance(level, int):
            raise ValueError(f"line {id_!r}: level must be a whole number")
        if isinstance(created, bool) or not isinstance(created, (int, float)):
            raise ValueError(f"line {id_!r}: time must be a number")
        flow_run_id = pk.removeprefix("FLOWRUN#")
        out.append(
            LogLine(id_, flow_run_id, task_run_id, run_name, float(created), level, logger, message)
        )
    return out


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
    lines: dict[str, LogLine] = {}
    while True:
        response = call("read log lines", "query", **kwargs)
        for item in response.get("Items", []):
            try:
                for line in lines_from_item(item):
                    if after is None or line.id > after:
                        lines[line.id] = line
            except ValueError as exc:
                key = item.get("sk", {}).get("S", "?")
                raise CorruptRecordError(
                    f"Log lines {key} of flow run {flow_run_id!r} in {location} are corrupt: {exc}"
                ) from exc
        last = response.get("LastEvaluatedKey")
        if not last:
            return [lines[key] for key in sorted(lines)]
        kwargs["ExclusiveStartKey"] = last


class LogBuffer:
    """Lines waiting to be written, packed, 25 items per ``BatchWriteItem``."""

    def __init__(self, call: Call, table_name: str) -> None:
        self._call = call
        self._table = table_name
        self._lines: list[LogLine] = []
        self._bytes = 0
        self._since = 0.0  # when the oldest waiting line came
        self._lock = threading.Lock()

    def add(self, line: LogLine) -> None:
        now = time.monotonic()
        with self._lock:
            if not self._lines:
                self._since = now
            self._lines.append(line)
            self._bytes += len(line.message) + 100
            if self._bytes < FLUSH_BYTES and now - self._since < FLUSH_AFTER:
                return
            lines, self._lines, self._bytes = self._lines, [], 0
        try:
            self._write(log_items(lines))
        except StoreError as exc:
            _log.warning("%d log line(s) could not be kept: %s", len(lines), exc)

    def flush(self) -> None:
        with self._lock:
            lines, self._lines, self._bytes = self._lines, [], 0
        try:
            self._write(log_items(lines))
        except StoreError as exc:  # the records are on disk: a run never fails for its lines
            _log.warning("%d log line(s) could not be kept: %s", len(lines), exc)

    def _write(self, items: list[Item]) -> None:
        for start in range(0, len(items), _BATCH):
            self._write_batch(items[start : start + _BATCH])

    def _write_batch(self, items: list[Item]) -> None:
        # one request per key (a batch with a key twice is refused): the last one wins
        unique = {(item["pk"]["S"], item["sk"]["S"]): item for item in items}
        requests: list[Any] = [{"PutRequest": {"Item": item}} for item in unique.values()]
        requests = batch_write(self._call, self._table, "write log lines", requests)
        if requests:
            raise StoreError(
                f"Could not write {len(requests)} item(s) of log lines: DynamoDB kept "
                "throttling the writes."
            )
