"""Run log lines in the embedded store: their table, how a batch of them is written,
and how they are read back.

Lines wait in ``HeldLines`` (a deque: no lock, no bookkeeping per line, ~0.3 us) and
are written by whichever batch of held rows comes next (``_sqlite_held``): the task runs'
batches, the committer ``COMMIT_DELAY`` after the oldest line, every flush, and before
every flow run write (a run never ends before its lines are on disk). Holding each line
as a task run is held cost 6-8 us per line, a third of a trivial task run.

A batch's lines of one flow run are one row of ``log_chunks`` (their JSON), keyed by the
flow run and the batch's last line id (ids start with the time in ns, so the key sorts as
the lines were made), in one B-tree (``WITHOUT ROWID``). A row per line cost 3-7 us a
line in SQLite, a fifth of a trivial task run; a chunk costs under 1 us a line. Reading
takes the run's chunks whose last line is after ``after`` and keeps the lines after it,
each once (a batch that was retried may land twice, in other company), in id order.
Stores written before chunks keep their rows in ``logs``, which is read too.
"""

from __future__ import annotations

import functools
import json
import operator
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flowless.exceptions import CorruptRecordError, StoreError
from flowless.store._records import LogLine
from flowless.store._sqlite_rows import storable_text, write_chunk

if TYPE_CHECKING:
    from flowless.store._sqlite_commit import GroupCommit

__all__ = [
    "LOG_COLUMNS",
    "LOG_SCHEMA",
    "HeldLines",
    "SQLiteLogs",
    "insert_logs",
    "log_from_row",
]


LOG_SCHEMA = """
CREATE TABLE IF NOT EXISTS log_chunks (
    flow_run_id TEXT NOT NULL,
    last_id TEXT NOT NULL,
    lines TEXT NOT NULL,
    PRIMARY KEY (flow_run_id, last_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS logs (
    id TEXT NOT NULL,
    flow_run_id TEXT NOT NULL,
    task_run_id TEXT,
    run_name TEXT NOT NULL,
    time REAL NOT NULL,
    level INTEGER NOT NULL,
    logger TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (flow_run_id, id)
) WITHOUT ROWID;
"""

LOG_COLUMNS = "id, flow_run_id, task_run_id, run_name, time, level, logger, message"


def insert_logs(rows: int) -> str:
    """``rows`` chunks in one statement; a chunk written twice (batches may land twice)
    is kept once."""
    values = ", ".join(["(?, ?, ?)"] * rows)
    return f"INSERT OR IGNORE INTO log_chunks (flow_run_id, last_id, lines) VALUES {values}"


@functools.cache
def _insert(rows: int) -> str:
    return insert_logs(rows)


#: A chunk holds at most this many lines, and this many characters of messages (a line's
#: message is at most 32 KiB): a run's page reads whole chunks.
CHUNK_LINES = 256
CHUNK_CHARS = 256 * 1024
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode


_line_id = operator.itemgetter(0)
_flow_run = operator.itemgetter(1)
_stored_fields = operator.itemgetter(0, 2, 3, 4, 5, 6, 7)  # a line without its flow run
_message = operator.itemgetter(-1)


def chunk_rows(taken: list[tuple[Any, ...]]) -> list[tuple[str, str, str]]:
    """``taken`` lines (``LogLine.as_row``) as chunk rows: (flow run, last id, JSON of
    the lines without their flow run), in the order taken. Per line only C-level calls
    in the usual case (one flow run, one chunk): a Python loop over the lines cost as
    much as their JSON."""
    runs: dict[str, list[tuple[Any, ...]]]
    if len(set(map(_flow_run, taken))) == 1:
        runs = {taken[0][1]: list(map(_stored_fields, taken))}
    else:
        runs = {}
        for row in taken:
            runs.setdefault(row[1], []).append(_stored_fields(row))
    chunks = []
    for flow_run_id, lines in runs.items():
        if len(lines) <= CHUNK_LINES and sum(map(len, map(_message, lines))) <= CHUNK_CHARS:
            chunks.append(_chunk(flow_run_id, lines))
            continue
        start = size = 0
        for at, line in enumerate(lines):
            size += len(line[-1])
            if at - start == CHUNK_LINES or (size > CHUNK_CHARS and at > start):
                chunks.append(_chunk(flow_run_id, lines[start:at]))
                start, size = at, len(line[-1])
        chunks.append(_chunk(flow_run_id, lines[start:]))
    return chunks


def _chunk(flow_run_id: str, lines: list[tuple[Any, ...]]) -> tuple[str, str, str]:
    text = _dumps(lines)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (os.fsdecode): stored as its escape
        text = _dumps(
            [[storable_text(v) if isinstance(v, str) else v for v in line] for line in lines]
        )
    return flow_run_id, max(map(_line_id, lines)), text


def lines_from_chunk(flow_run_id: str, text: Any) -> list[LogLine]:
    """A stored chunk's lines; ``ValueError``/``TypeError`` saying what is wrong."""
    if not isinstance(text, str):
        raise TypeError(f"lines: expected text, got {type(text).__name__}")
    lines = json.loads(text)
    if not isinstance(lines, list):
        raise TypeError(f"lines: expected a list, got {type(lines).__name__}")
    out = []
    for line in lines:
        if not isinstance(line, list) or len(line) != 7:
            raise TypeError(f"a line is {line!r:.80}, not 7 fields")
        out.append(log_from_row((line[0], flow_run_id, *line[1:])))
    return out


def log_from_row(row: tuple[Any, ...]) -> LogLine:
    """A stored line; ``ValueError``/``TypeError`` naming the column if it is not one."""
    id_, flow_run_id, task_run_id, run_name, time, level, logger, message = row
    for name, value in (("id", id_), ("flow_run_id", flow_run_id), ("run_name", run_name)):
        if not isinstance(value, str):
            raise TypeError(f"{name}: expected text, got {type(value).__name__}")
    if task_run_id is not None and not isinstance(task_run_id, str):
        raise TypeError(f"task_run_id: expected text, got {type(task_run_id).__name__}")
    if not isinstance(time, (int, float)) or not isinstance(level, int):
        raise TypeError("time/level: expected numbers")
    if not isinstance(logger, str) or not isinstance(message, str):
        raise TypeError("logger/message: expected text")
    return LogLine(id_, flow_run_id, task_run_id, run_name, float(time), level, logger, message)


class HeldLines:
    """Log lines not yet written. ``append`` and ``popleft`` are atomic, so any number of
    threads add and any number of writers take at once; a writer that fails puts its
    lines back."""

    def __init__(self, on_first: Callable[[], None]) -> None:
        self._lines: deque[tuple[Any, ...]] = deque()
        #: When the oldest waiting line came (None: none is waiting).
        self.since: float | None = None
        self._on_first = on_first  # wakes the committer

    def __len__(self) -> int:
        return len(self._lines)

    def add(self, params: tuple[Any, ...]) -> None:
        self._lines.append(params)
        if self.since is None:
            self.since = time.monotonic()
            self._on_first()

    def take(self) -> list[tuple[Any, ...]]:
        self.since = None  # before taking: a line added meanwhile sets it again
        taken: list[tuple[Any, ...]] = []
        lines = self._lines
        try:
            while True:
                taken.append(lines.popleft())
        except IndexError:
            return taken

    def put_back(self, taken: list[tuple[Any, ...]]) -> None:
        if taken:
            self._lines.extendleft(reversed(taken))
            if self.since is None:
                self.since = time.monotonic()

    def write(self, taken: list[tuple[Any, ...]], execute: Callable[..., Any]) -> None:
        """``taken`` as chunks, in one statement per ``_SIZES[-1]`` chunks; raises
        ``sqlite3.Error``. A lone surrogate (``os.fsdecode``) is stored as its escape."""
        chunks: list[tuple[Any, ...]] = chunk_rows(taken)
        for at in range(0, len(chunks), _SIZES[-1]):
            write_chunk(execute, _insert, chunks[at : at + _SIZES[-1]], _SIZES)


_SIZES = (1, 2, 4, 8)


class SQLiteLogs:
    """A mixin of ``SQLiteStore``: its lines go with the held rows."""

    location: str
    _writer: GroupCommit | None

    if TYPE_CHECKING:  # SQLiteStore's own

        def _query(self, action: str, sql: str, params: tuple[Any, ...] = ()) -> list[Any]: ...

        def _writer_or_fail(self) -> GroupCommit: ...

    def write_log(self, line: LogLine) -> None:
        writer = self._writer
        (writer if writer is not None else self._writer_or_fail()).rows.lines.add(line)

    def read_logs(self, flow_run_id: str, after: str | None = None) -> list[LogLine]:
        if self._writer is not None:
            self._writer.flush()
        after = after or ""
        chunks = self._read_or_none(
            "SELECT lines FROM log_chunks WHERE flow_run_id = ? AND last_id > ?",
            (flow_run_id, after),
        )
        rows = self._read_or_none(  # a store written before chunks
            f"SELECT {LOG_COLUMNS} FROM logs WHERE flow_run_id = ? AND id > ?",
            (flow_run_id, after),
        )
        try:
            lines = {line.id: line for line in map(log_from_row, map(tuple, rows))}
            for (text,) in chunks:
                for line in lines_from_chunk(flow_run_id, text):
                    if line.id > after:
                        lines.setdefault(line.id, line)
        except (ValueError, TypeError) as exc:
            raise CorruptRecordError(
                f"A log line of flow run {flow_run_id!r} in {self.location!r} is corrupt: {exc}"
            ) from exc
        return [lines[key] for key in sorted(lines)]

    def _read_or_none(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        try:
            return self._query("read log lines", sql, params)
        except StoreError as exc:
            if "no such table" in str(exc):
                return []  # a store from before run logs, opened read-only: none kept
            raise
