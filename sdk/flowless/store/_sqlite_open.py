"""Opening the embedded store's database: WAL, the schema, and migrations.

Two processes opening a new store at once (two ``serve`` processes on one
``FLOWLESS_HOME``) can meet SQLITE_BUSY where SQLite does not call its busy handler
(changing the journal mode): that is retried with backoff, up to ``OPEN_TIMEOUT``.
"""

from __future__ import annotations

import random
import sqlite3
import time
from pathlib import Path

from flowless.store._sqlite_rows import ADDED_FLOW_COLUMNS, SCHEMA, SCHEMA_VERSION

__all__ = ["OPEN_TIMEOUT", "open_connection"]

#: How long opening waits for other processes setting up the same file.
OPEN_TIMEOUT = 30.0


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring a database made by an earlier flowless up to the current schema."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(flow_runs)")}
    for name, declaration in ADDED_FLOW_COLUMNS:
        if name not in columns:
            try:
                conn.execute(f"ALTER TABLE flow_runs ADD COLUMN {name} {declaration}")
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
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            # Checkpoints (which fsync) run on the committer's own connection, outside
            # the store's lock, so they never stall the threads writing task runs.
            conn.execute("PRAGMA wal_autocheckpoint=0")
            conn.executescript(SCHEMA)
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
