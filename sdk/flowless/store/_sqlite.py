"""The embedded store: one SQLite database in WAL mode under ``FLOWLESS_HOME``.

``SQLiteStore`` opens the file (checked for damage, ``_sqlite_open``; a file that cannot
be opened is ``StoreUnavailableError``), maps the errors of its reads and writes to
``StoreError`` in one place (``_mapped``), and holds what spans the tables: task runs,
cache entries, flush, close and fork. How it writes (``_sqlite_commit``): task runs,
cache entries (``_sqlite_held``) and run log lines (``_sqlite_logs``) are held and
written in batches by whichever thread is running when they are due; everything else,
and a task run's end that another executor may have written (one not started in this
process), is one statement committed before the call returns (a flow run's after every
held row, in the same transaction). SIGKILL can lose the last ``COMMIT_DELAY`` (plus a
wait for the GIL) of held rows and lines, never a finished flow run's; a write that
fails (a full disk) is kept and retried, and ``flush()`` raises if it never lands. Flow
runs, log lines, deployments and artifacts are mixins of their own
(``_sqlite_flow_runs``, ``_sqlite_logs``, ...).
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

from flowless.exceptions import (
    CorruptRecordError,
    RecordExistsError,
    StoreError,
    StoreUnavailableError,
)
from flowless.store import _sqlite_fork
from flowless.store._records import (
    CacheEntry,
    CorruptRecord,
    TaskRunRecord,
)
from flowless.store._sqlite_artifacts import SQLiteArtifacts
from flowless.store._sqlite_commit import GroupCommit
from flowless.store._sqlite_deployments import SQLiteDeployments
from flowless.store._sqlite_flow_runs import SQLiteFlowRuns
from flowless.store._sqlite_logs import SQLiteLogs
from flowless.store._sqlite_open import open_connection, remember_checked
from flowless.store._sqlite_rows import (
    number,
    payload_columns,
    task_run_from_row,
    task_run_write,
    to_payload,
)
from flowless.store._sqlite_schema import (
    TASK_COLUMNS,
    UPSERT_TASK_RUN,
    replace_cache_entries,
    task_columns,
    upsert_task_runs,
)

__all__ = ["SQLiteStore"]


def _is_damage(exc: sqlite3.Error) -> bool:
    text = str(exc)
    return "malformed" in text or "not a database" in text or "corrupt" in text


class SQLiteStore(SQLiteFlowRuns, SQLiteLogs, SQLiteDeployments, SQLiteArtifacts):
    """``Store`` on one SQLite file; see the module docstring for the durability model."""

    _writer: GroupCommit | None
    #: The columns a task run is read from (``task_columns``: an old database opened
    #: read-only has not got them all).
    _task_columns: str = TASK_COLUMNS

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        self._lock = threading.Lock()
        self._damaged: StoreError | None = None
        with _sqlite_fork.opening:  # a fork waits (``_sqlite_fork``)
            self._conn = self._open()
            self._closed = False
            try:
                self._writer = GroupCommit(
                    self._conn,
                    self.path,
                    self._lock,
                    self._mapped,
                    {
                        "task_run": functools.cache(upsert_task_runs),
                        "cache_entry": functools.cache(replace_cache_entries),
                    },
                )
                self._writer.start()
            except BaseException:
                self._conn.close()  # now, while a fork waits (see ``open_read_only``)
                raise
            _sqlite_fork.track(self)

    @classmethod
    def open_read_only(cls, path: str | os.PathLike[str]) -> SQLiteStore:
        """A store for looking only (the CLI): no schema writes, no write lock, no
        committer thread, so reading never waits behind flows that are writing.
        ``StoreUnavailableError`` if there is no database at ``path``."""
        store = cls.__new__(cls)
        store.path = Path(path)
        store.location = str(store.path)
        store._lock = threading.Lock()
        store._closed = False
        store._writer = None
        store._damaged = None
        if not store.path.is_file():
            raise StoreUnavailableError(f"There is no flowless store at {store.location!r} yet.")
        try:
            with _sqlite_fork.opening:  # a fork waits (``_sqlite_fork``)
                store._conn = sqlite3.connect(
                    f"file:{store.path}?mode=ro",
                    uri=True,
                    timeout=30.0,
                    isolation_level=None,
                    check_same_thread=False,
                )
                try:
                    store._conn.execute("SELECT 1 FROM flow_runs LIMIT 1")
                    present = {
                        row[1] for row in store._conn.execute("PRAGMA table_info(task_runs)")
                    }
                except BaseException:
                    # now, while a fork waits: left to the garbage collector, it would be
                    # closed in whatever thread collects, perhaps while another forks
                    store._conn.close()
                    raise
                _sqlite_fork.track(store)
        except sqlite3.DatabaseError as exc:
            raise StoreUnavailableError(
                f"Cannot read the flowless store {store.location!r}: {exc}."
            ) from exc
        store._task_columns = task_columns(present)
        return store

    def _open(self) -> sqlite3.Connection:
        hint = "Set FLOWLESS_HOME to a directory you can write to."
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailableError(
                f"Cannot create the flowless store directory {str(self.path.parent)!r}: "
                f"{exc.strerror or exc}. {hint}"
            ) from exc
        try:
            conn = open_connection(self.path)
        except sqlite3.DatabaseError as exc:
            detail = str(exc)
            if "not a database" in detail or "malformed" in detail:
                raise StoreUnavailableError(
                    f"The flowless store {self.location!r} is not a valid SQLite database "
                    f"({detail}). Move the file aside to start a fresh store, or set "
                    "FLOWLESS_HOME to another directory."
                ) from exc
            raise StoreUnavailableError(
                f"Cannot open the flowless store {self.location!r} for writing: {detail}. {hint}"
            ) from exc
        return conn

    def _mapped(self, action: str, exc: sqlite3.Error) -> StoreError:
        """The one place sqlite3 errors become flowless errors. A damaged file is
        remembered: nothing more is written to it."""
        if isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc):
            return RecordExistsError(f"{action}: {exc}")
        if _is_damage(exc):
            self._damaged = StoreUnavailableError(
                f"The flowless store {self.location!r} is damaged ({exc}); flowless stops "
                "writing to it. Move the file aside to start a fresh store, or set "
                "FLOWLESS_HOME to another directory."
            )
            if self._writer is not None:
                self._writer.rows.damaged = self._damaged
            return self._damaged
        return StoreError(f"Store {self.location!r} failed to {action}: {exc}")

    def _execute(self, action: str, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        """A write, committed when it returns (inside a transaction the caller opened)."""
        with self._lock:
            return self._execute_locked(action, sql, params)

    def _execute_locked(self, action: str, sql: str, params: tuple[Any, ...]) -> sqlite3.Cursor:
        if self._writer is None:
            raise StoreError(f"Store {self.location!r} was opened read-only.")
        if self._damaged is not None:
            raise self._damaged
        return self._writer.execute(action, sql, params)

    def _commit(self) -> None:
        """Commit a transaction the caller opened (the limits'); it holds the lock."""
        if self._conn.in_transaction:
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise self._mapped("commit", exc) from exc

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def flush_thread(self) -> None:
        """The held rows, now, unless another connection is writing (``_sqlite_held``)."""
        if self._writer is not None:
            with contextlib.suppress(StoreError):
                self._writer.rows.write()

    def _query(self, action: str, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise self._mapped(action, exc) from exc

    # -- task runs ---------------------------------------------------------------------

    def start_task_run(self, run: TaskRunRecord) -> None:
        """Held and written with the next batch (``_sqlite_held``); a run that ends
        first replaces its start before any other process saw it."""
        self._writer_or_fail().rows.hold("task_run", run.id, task_run_write(run), start=True)

    def finish_task_run(self, run: TaskRunRecord, *, new: bool = False) -> TaskRunRecord:
        """The end of a run this thread started, or of a ``new`` one (made by this call,
        never stored), is held like a start: no one else can complete it (the flow run
        is ours). Any other end is written at once, and a run someone completed first is
        returned instead."""
        params = task_run_write(run)
        held = self._writer_or_fail().rows
        if held.end("task_run", run.id, params, new=new):
            return run
        earlier = held.settle("task_run", run.id)
        with self._lock:
            if earlier is not None:  # a row held for it (even a Completed end) lands first
                self._execute_locked("record a task run", UPSERT_TASK_RUN, earlier)
            cursor = self._execute_locked("record a task run result", UPSERT_TASK_RUN, params)
        if cursor.rowcount:
            return run
        rows = self._query(
            "read a task run", f"SELECT {TASK_COLUMNS} FROM task_runs WHERE id = ?", (run.id,)
        )
        try:
            return task_run_from_row(rows[0])
        except (ValueError, TypeError, IndexError) as exc:
            raise CorruptRecordError(
                f"Task run {run.id!r} in {self.location!r} is corrupt: {exc}"
            ) from exc

    def read_task_runs(self, flow_run_id: str) -> list[TaskRunRecord | CorruptRecord]:
        if self._writer is not None:
            self._writer.flush()
        rows = self._query(
            "read task runs",
            f"SELECT {self._task_columns} FROM task_runs WHERE flow_run_id = ? "
            "ORDER BY start_time, rowid",
            (flow_run_id,),
        )
        out: list[TaskRunRecord | CorruptRecord] = []
        for row in rows:
            try:
                out.append(task_run_from_row(row))
            except (ValueError, TypeError) as exc:
                out.append(CorruptRecord("task run", str(row[0]), str(exc)))
        return out

    # -- cache -------------------------------------------------------------------------

    def read_cache_entry(self, key: str, now: float) -> CacheEntry | None:
        held = self._writer.rows.held_row("cache_entry", key) if self._writer else None
        if held is not None:
            row: Any = held
        else:
            rows = self._query(
                "read a cache entry",
                "SELECT key, result_serializer, result, result_location, created, expires "
                "FROM cache_entries WHERE key = ?",
                (key,),
            )
            if not rows:
                return None
            row = rows[0]
        try:
            payload = to_payload(row[1], row[2], row[3])
            if payload is None:
                raise ValueError("it has no result")
            entry = CacheEntry(
                key=key,
                result=payload,
                created=number(row[4], "created"),
                expires=number(row[5], "expires", optional=True),
            )
        except (ValueError, TypeError) as exc:
            raise CorruptRecordError(
                f"Cache entry {key!r} in {self.location!r} is corrupt: {exc}"
            ) from exc
        return entry if entry.is_valid(now) else None

    def write_cache_entry(self, entry: CacheEntry) -> None:
        """Held and written in a batch, like the task run it follows."""
        params = (entry.key, *payload_columns(entry.result), entry.created, entry.expires)
        self._writer_or_fail().rows.hold("cache_entry", entry.key, params)

    def _writer_or_fail(self) -> GroupCommit:
        if self._writer is None:
            raise StoreError(f"Store {self.location!r} was opened read-only.")
        return self._writer

    def close(self) -> None:
        """Write what is held, stop the committer, and leave at most a small WAL behind
        (SQLite removes it when the last connection closes; another process may still
        be open)."""
        writer = self._writer
        failed: BaseException | None = None
        if writer is not None and not writer.closed:  # before the lock: a flow run write
            # may be waiting on it
            try:
                writer.rows.stop_writer()  # it commits what it has; the rest is written here
                writer.rows.write_all()
            except BaseException as exc:
                failed = exc
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if writer is not None:
                writer.closed = True
                writer.stop()
                writer.rows.close()
                if self._damaged is None:
                    with contextlib.suppress(sqlite3.Error):
                        self._conn.execute("PRAGMA busy_timeout = 100")  # no reader waits
                        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._conn.close()
            if writer is not None and self._damaged is None and failed is None:
                remember_checked(self.path)
        if failed is not None:
            if writer is not None:
                writer.join(timeout=1.0)
            raise failed
        if writer is not None:
            writer.join(timeout=1.0)
