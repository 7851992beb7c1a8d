"""Run log lines in the embedded store: their table, how a batch of them is written,
and how they are read back.

Lines are held and written with the task runs (``_sqlite_held``, kind ``log``): one
more row in a batch costs ~2 us, where a statement of its own would cost a commit. Their
Keyed by flow run, then ``id``, which starts with the time in ns: a run's lines are read
in order from one range, and a new line lands next to the run's last one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowless.exceptions import CorruptRecordError
from flowless.store._records import LogLine

if TYPE_CHECKING:
    from flowless.store._sqlite_commit import GroupCommit

__all__ = ["LOG_COLUMNS", "LOG_SCHEMA", "SQLiteLogs", "insert_logs", "log_from_row", "log_params"]

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
);
"""

LOG_COLUMNS = "id, flow_run_id, task_run_id, run_name, time, level, logger, message"


def insert_logs(rows: int) -> str:
    """``rows`` lines in one statement; a line written twice (batches may land twice)
    is kept once."""
    values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * rows)
    return f"INSERT OR IGNORE INTO logs ({LOG_COLUMNS}) VALUES {values}"


def log_params(line: LogLine) -> tuple[Any, ...]:
    return (
        line.id,
        line.flow_run_id,
        line.task_run_id,
        line.run_name,
        line.time,
        line.level,
        line.logger,
        line.message,
    )


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


class SQLiteLogs:
    """A mixin of ``SQLiteStore``: its lines go with the held rows."""

    location: str
    _writer: GroupCommit | None

    if TYPE_CHECKING:  # SQLiteStore's own

        def _query(self, action: str, sql: str, params: tuple[Any, ...] = ()) -> list[Any]: ...

        def _writer_or_fail(self) -> GroupCommit: ...

    def write_log(self, line: LogLine) -> None:
        key = f"{line.flow_run_id}/{line.id}"  # as the table's key: held rows are by key
        self._writer_or_fail().rows.hold("log", key, log_params(line))

    def read_logs(self, flow_run_id: str, after: str | None = None) -> list[LogLine]:
        if self._writer is not None:
            self._writer.flush()
        rows = self._query(
            "read log lines",
            f"SELECT {LOG_COLUMNS} FROM logs WHERE flow_run_id = ? AND id > ? ORDER BY id",
            (flow_run_id, after or ""),
        )
        try:
            return [log_from_row(tuple(row)) for row in rows]
        except (ValueError, TypeError) as exc:
            raise CorruptRecordError(
                f"A log line of flow run {flow_run_id!r} in {self.location!r} is corrupt: {exc}"
            ) from exc
