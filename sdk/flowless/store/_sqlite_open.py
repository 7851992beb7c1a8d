"""Opening the embedded store's database: WAL, the schema, and migrations.

Two processes opening a new store at once (two ``serve`` processes on one
``FLOWLESS_HOME``) can meet SQLITE_BUSY where SQLite does not call its busy handler
(changing the journal mode): that is retried with backoff, up to ``OPEN_TIMEOUT``.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import time
from pathlib import Path

from flowless.store._sqlite_artifacts import ARTIFACT_SCHEMA
from flowless.store._sqlite_logs import LOG_SCHEMA
from flowless.store._sqlite_schema import (
    ADDED_FLOW_COLUMNS,
    ADDED_TASK_COLUMNS,
    SCHEMA,
    SCHEMA_VERSION,
)
from flowless.store._sqlite_writer import tune

__all__ = ["OPEN_TIMEOUT", "check_once", "open_connection", "remember_checked"]

#: How long opening waits for other processes setting up the same file.
OPEN_TIMEOUT = 30.0


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring a database made by an earlier flowless up to the current schema."""
    for table, added in (("flow_runs", ADDED_FLOW_COLUMNS), ("task_runs", ADDED_TASK_COLUMNS)):
        columns = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        for name, declaration in added:
            if name not in columns:
                try:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {declaration}")
                except sqlite3.OperationalError as exc:
                    if "duplicate column name" not in str(exc):
                        raise  # another process opening it at once added it first: done


def open_connection(path: Path) -> sqlite3.Connection:
    """A connection in WAL mode with the current schema, proven writable."""
    deadline = time.monotonic() + OPEN_TIMEOUT
    delay = 0.01
    while True:
        conn = sqlite3.connect(
            path, timeout=OPEN_TIMEOUT, isolation_level=None, check_same_thread=False
        )
        try:
            check_once(conn, path)  # before anything is written to it
            conn.execute("PRAGMA journal_mode=WAL")
            tune(conn)
            conn.executescript(SCHEMA + LOG_SCHEMA + ARTIFACT_SCHEMA)
            _migrate(conn)
            conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
            # Prove the file is writable now rather than at the first task run.
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            return conn
        except sqlite3.OperationalError as exc:
            conn.close()
            busy = "locked" in str(exc) or "busy" in str(exc)
            if not busy or time.monotonic() >= deadline:
                raise
            time.sleep(random.uniform(delay / 2, delay))
            delay = min(delay * 2, 0.5)
        except BaseException:
            conn.close()
            raise


def _stamp(path: Path) -> dict[str, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _checked_marker(path: Path) -> Path:
    return path.with_name(path.name + "-checked")


def check_once(conn: sqlite3.Connection, path: Path) -> None:
    """``PRAGMA quick_check`` (every page; ~40 ms for a 27 MB store) unless the file is
    exactly as a process that checked it and closed it cleanly left it. So a store that
    was damaged, edited, or left by a killed process is checked before anything is
    written to it, and a healthy one costs a stat() on most opens. ``sqlite3.DatabaseError``
    if it is damaged."""
    marker = _checked_marker(path)
    try:
        if json.loads(marker.read_text()) == _stamp(path) and not _wal_has_frames(path):
            return
    except (OSError, ValueError):
        pass
    problems = [row[0] for row in conn.execute("PRAGMA quick_check(5)")]
    if problems != ["ok"]:
        raise sqlite3.DatabaseError(f"database disk image is malformed: {'; '.join(problems)}")


def _wal_has_frames(path: Path) -> bool:
    try:
        return Path(f"{path}-wal").stat().st_size > 0
    except OSError:
        return False


def remember_checked(path: Path) -> None:
    """After a clean close: the file as it is now needs no check at the next open."""
    stamp = _stamp(path)
    if stamp is None:
        return
    marker = _checked_marker(path)
    tmp = marker.with_name(f"{marker.name}.{os.getpid()}")
    try:
        tmp.write_text(json.dumps(stamp))
        os.replace(tmp, marker)
    except OSError:
        pass  # the next open checks again: slower, never wrong
