"""Run log lines in the embedded store: their table, how a batch of them is written,
and how they are read back.

Lines wait in ``HeldLines`` (a deque: no lock, no bookkeeping per line, ~0.3 us) and
are written by whichever batch of held rows comes next (``_sqlite_held``): the task runs'
batches, the committer ``COMMIT_DELAY`` after the oldest line, every flush, and before
every flow run write (a run never ends before its lines are on disk). Holding each line
as a task run is held cost 6-8 us per line, a third of a trivial task run. Their
Keyed by flow run, then ``id``, which starts with the time in ns, in one B-tree (``WITHOUT
ROWID``: no second index to write): a run's lines are read in order from one range, and a
new line lands next to the run's last one.
"""

from __future__ import annotations

import functools
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flowless.exceptions import CorruptRecordError, StoreError
from flowless.store._records import LogLine
from flowless.store._sqlite_rows import write_chunk

if TYPE_CHECKING:
    from flowless.store._sqlite_commit import GroupCommit

__all__ = [
    "LOG_COLUMNS",
    "LOG_SCHEMA",
    "HeldLines",
    "SQLiteLogs",
    "insert_logs",
    "log_from_row",
    "log_params",
]


LOG_SCHEMA = """
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
    """``rows`` lines in one statement; a line written twice (batches may land twice)
    is kept once."""
    values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * rows)
    return f"INSERT OR IGNORE INTO logs ({LOG_COLUMNS}) VALUES {values}"


@functools.cache
def _insert(rows: int) -> str:
    return insert_logs(rows)


def log_params(line: LogLine) -> tuple[Any, ...]:
    return line.as_row()


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
        """``taken`` in one statement per ``_SIZES[-1]`` lines; raises ``sqlite3.Error``."""
        for at in range(0, len(taken), _SIZES[-1]):
            write_chunk(execute, _insert, taken[at : at + _SIZES[-1]], _SIZES)


_SIZES = (1, 2, 4, 8, 16, 32, 64, 128)


class SQLiteLogs:
    """A mixin of ``SQLiteStore``: its lines go with the held rows."""

    location: str
    _writer: GroupCommit | None

    if TYPE_CHECKING:  # SQLiteStore's own

        def _query(self, action: str, sql: str, params: tuple[Any, ...] = ()) -> list[Any]: ...

        def _writer_or_fail(self) -> GroupCommit: ...

    def write_log(self, line: LogLine) -> None:
        self._writer_or_fail().rows.lines.add(log_params(line))

    def read_logs(self, flow_run_id: str, after: str | None = None) -> list[LogLine]:
        if self._writer is not None:
            self._writer.flush()
        try:
            rows = self._query(
                "read log lines",
                f"SELECT {LOG_COLUMNS} FROM logs WHERE flow_run_id = ? AND id > ? ORDER BY id",
                (flow_run_id, after or ""),
            )
        except StoreError as exc:
            if "no such table: logs" in str(exc):
                return []  # a store from before run logs, opened read-only: none kept
            raise
        try:
            return [log_from_row(tuple(row)) for row in rows]
        except (ValueError, TypeError) as exc:
            raise CorruptRecordError(
                f"A log line of flow run {flow_run_id!r} in {self.location!r} is corrupt: {exc}"
            ) from exc
