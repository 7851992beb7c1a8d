"""The embedded store: one SQLite database in WAL mode under ``FLOWLESS_HOME``.

Writes use group commit. A write executes at once inside the store's open transaction,
so every thread of the process (they share one connection, guarded by a lock) reads its
own writes and conditional writes see the true current state; SQLite's write lock
serialises other processes. The transaction is committed (appended to the WAL, no fsync:
``synchronous=NORMAL``) by a background committer at most ``COMMIT_DELAY`` seconds after
its first write, and at once by ``flush()``: the engine flushes when a flow run or a
standalone task run finishes, and at interpreter exit. A commit costs 50-100 us on a
virtual disk while a write inside a transaction costs ~10 us, which is the difference
between meeting and missing the per-task overhead budget. The price: a process killed
with SIGKILL can lose the last ``COMMIT_DELAY`` of records (never a completed flow run's).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import weakref
from pathlib import Path
from typing import Any

from flowless.exceptions import (
    CorruptRecordError,
    RecordConflictError,
    RecordExistsError,
    RecordNotFoundError,
    StoreError,
    StoreUnavailableError,
)
from flowless.store._records import (
    CacheEntry,
    CorruptRecord,
    FlowRunRecord,
    TaskRunRecord,
)
from flowless.store._sqlite_deployments import SQLiteDeployments
from flowless.store._sqlite_open import open_connection
from flowless.store._sqlite_rows import (
    FLOW_COLUMNS,
    TASK_COLUMNS,
    UPSERT_TASK_RUN,
    flow_run_from_row,
    flow_run_params,
    flow_runs_from_rows,
    number,
    payload_columns,
    task_run_from_row,
    task_run_params,
    to_payload,
)

__all__ = ["SQLiteStore"]

_FLOW_PLACEHOLDERS = ", ".join("?" * len(FLOW_COLUMNS.split(",")))


_open_stores: weakref.WeakSet[SQLiteStore] = weakref.WeakSet()


def _before_fork() -> None:
    """Quiesce every store before ``fork()``: SQLite's in-process lock bookkeeping is
    copied into the child, so a write lock held at the moment of the fork would look
    held forever to the child's own connection. With each store's lock taken and its
    transaction committed, the child starts from a clean state."""
    for store in list(_open_stores):
        store._lock.acquire()
        if not store._closed:
            with contextlib.suppress(StoreError):
                store._commit()


def _after_fork_in_parent() -> None:
    for store in list(_open_stores):
        if store._lock.locked():
            store._lock.release()


def _after_fork_in_child() -> None:
    """The child's copies of the parent's stores are never used (the engine opens its own),
    but their locks were copied held: release them and stop tracking the copies, or the
    child's own next fork would wait on them forever."""
    for store in list(_open_stores):
        if store._lock.locked():
            store._lock.release()
    _open_stores.clear()


os.register_at_fork(
    before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child
)


class SQLiteStore(SQLiteDeployments):
    """``Store`` on one SQLite file; see the module docstring for the durability model."""

    #: Longest time a write waits for its commit (unless ``flush()`` comes first).
    COMMIT_DELAY = 0.01
    #: WAL size above which the committer checkpoints (SQLite's default: 1000 pages).
    CHECKPOINT_BYTES = 4 * 1024 * 1024

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        self._lock = threading.Lock()
        self._conn = self._open()
        self._closed = False
        #: Starts not yet written, by task run id (see ``start_task_run``).
        self._pending_starts: dict[str, tuple[Any, ...]] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._committer = threading.Thread(
            target=self._commit_loop, name="flowless-sqlite-commit", daemon=True
        )
        self._committer.start()
        _open_stores.add(self)

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
        store._pending_starts = {}
        if not store.path.is_file():
            raise StoreUnavailableError(f"There is no flowless store at {store.location!r} yet.")
        try:
            store._conn = sqlite3.connect(
                f"file:{store.path}?mode=ro",
                uri=True,
                timeout=30.0,
                isolation_level=None,
                check_same_thread=False,
            )
            store._conn.execute("SELECT 1 FROM flow_runs LIMIT 1")
        except sqlite3.DatabaseError as exc:
            raise StoreUnavailableError(
                f"Cannot read the flowless store {store.location!r}: {exc}."
            ) from exc
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
        """The one place sqlite3 errors become flowless errors."""
        if isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc):
            return RecordExistsError(f"{action}: {exc}")
        return StoreError(f"Store {self.location!r} failed to {action}: {exc}")

    def _execute(self, action: str, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        """A write, inside the open transaction (opened here if needed)."""
        with self._lock:
            return self._execute_locked(action, sql, params)

    def _execute_locked(self, action: str, sql: str, params: tuple[Any, ...]) -> sqlite3.Cursor:
        # SQLite's own ``in_transaction`` is the only record of the open transaction: a
        # copy of it could disagree after an error or an interrupt, and then hold the
        # database's write lock with nobody to commit it.
        try:
            if not self._conn.in_transaction:
                self._wake.set()  # before BEGIN: the committer is never left unaware
                self._conn.execute("BEGIN IMMEDIATE")
            return self._conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise self._mapped(action, exc) from exc

    def _write_pending_starts(self) -> None:
        """Write the starts of task runs that are still running; the caller holds the lock.

        Each is removed only once written, so a failure part-way loses none."""
        pending = self._pending_starts
        while pending:
            run_id = next(iter(pending))
            self._execute_locked("record a task run start", UPSERT_TASK_RUN, pending[run_id])
            del pending[run_id]

    def _commit(self) -> None:
        """Commit the open transaction; the caller holds the lock."""
        if self._pending_starts:
            self._write_pending_starts()
        if self._conn.in_transaction:
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise self._mapped("commit", exc) from exc

    def _commit_loop(self) -> None:
        # Sleep until a transaction opens, give it COMMIT_DELAY to gather writes, commit;
        # then, without the lock, move the WAL back into the database once it is large.
        checkpointer: sqlite3.Connection | None = None
        wal = Path(f"{self.path}-wal")
        while self._wake.wait() and not self._stop.wait(self.COMMIT_DELAY):
            self._wake.clear()
            with self._lock:
                if self._closed:
                    break
                try:
                    self._commit()
                except StoreError as exc:  # the next write or flush tries again
                    logging.getLogger("flowless.store").error("%s", exc)
            try:
                if wal.stat().st_size > self.CHECKPOINT_BYTES:
                    if checkpointer is None:
                        checkpointer = sqlite3.connect(self.path, timeout=0, isolation_level=None)
                    checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except (OSError, sqlite3.Error):
                pass  # a busy or failed checkpoint is retried after a later commit
        if checkpointer is not None:
            checkpointer.close()

    def flush(self) -> None:
        with self._lock:
            if not self._closed:
                self._commit()

    def _query(self, action: str, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise self._mapped(action, exc) from exc

    # -- flow runs ---------------------------------------------------------------------

    def create_flow_run(self, run: FlowRunRecord) -> None:
        try:
            self._execute(
                "create a flow run",
                f"INSERT INTO flow_runs ({FLOW_COLUMNS}) VALUES ({_FLOW_PLACEHOLDERS})",
                flow_run_params(run),
            )
        except RecordExistsError:
            raise RecordExistsError(f"Flow run {run.id!r} already exists.") from None

    def update_flow_run(self, run: FlowRunRecord) -> None:
        columns = [c.strip() for c in FLOW_COLUMNS.split(",")][1:-1]  # not id, not version
        assignments = ", ".join(f"{c} = ?" for c in columns)
        params = flow_run_params(run)
        with self._lock:
            cursor = self._execute_locked(
                "update a flow run",
                f"UPDATE flow_runs SET {assignments}, version = version + 1 "
                "WHERE id = ? AND version = ?",
                (*params[1:-1], run.id, run.version),
            )
            if cursor.rowcount == 0:
                found = self._conn.execute(
                    "SELECT version FROM flow_runs WHERE id = ?", (run.id,)
                ).fetchone()
                if found is None:
                    raise RecordNotFoundError(
                        f"Flow run {run.id!r} not found in {self.location!r}."
                    )
                raise RecordConflictError(
                    f"Flow run {run.id!r} was changed by someone else (version {found[0]}, "
                    f"this update expected {run.version})."
                )
        run.version += 1

    def read_flow_run(self, flow_run_id: str) -> FlowRunRecord:
        rows = self._query(
            "read a flow run",
            f"SELECT {FLOW_COLUMNS} FROM flow_runs WHERE id = ?",
            (flow_run_id,),
        )
        if not rows:
            raise RecordNotFoundError(f"Flow run {flow_run_id!r} not found in {self.location!r}.")
        try:
            return flow_run_from_row(rows[0])
        except (ValueError, TypeError) as exc:
            raise CorruptRecordError(
                f"Flow run {flow_run_id!r} in {self.location!r} is corrupt: {exc}"
            ) from exc

    def list_flow_runs(
        self, limit: int = 20, flow_name: str | None = None
    ) -> list[FlowRunRecord | CorruptRecord]:
        where, params = ("WHERE flow_name = ?", (flow_name,)) if flow_name else ("", ())
        rows = self._query(
            "list flow runs",
            f"SELECT {FLOW_COLUMNS} FROM flow_runs {where} "
            "ORDER BY created DESC, rowid DESC LIMIT ?",
            (*params, limit),
        )
        return flow_runs_from_rows(rows)

    # -- task runs ---------------------------------------------------------------------

    def start_task_run(self, run: TaskRunRecord) -> None:
        """Held as a snapshot and written only if the run is still running when the next
        commit (or an in-process read) happens. A run that finishes first replaces its
        start before any other process could have seen it, so skipping the write changes
        nothing anyone can observe, and saves a statement per fast task run."""
        params = task_run_params(run)
        with self._lock:
            self._pending_starts[run.id] = params
            self._wake.set()

    def finish_task_run(self, run: TaskRunRecord) -> TaskRunRecord:
        with self._lock:
            self._pending_starts.pop(run.id, None)
            cursor = self._execute_locked(
                "record a task run result", UPSERT_TASK_RUN, task_run_params(run)
            )
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
        if self._pending_starts:
            with self._lock:
                self._write_pending_starts()
        rows = self._query(
            "read task runs",
            f"SELECT {TASK_COLUMNS} FROM task_runs WHERE flow_run_id = ? "
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
        self._execute(
            "write a cache entry",
            "INSERT OR REPLACE INTO cache_entries "
            "(key, result_serializer, result, result_location, created, expires) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (entry.key, *payload_columns(entry.result), entry.created, entry.expires),
        )

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                if self._conn.in_transaction or self._pending_starts:
                    self._commit()
            finally:
                self._conn.close()
                if hasattr(self, "_committer"):  # not for read-only stores
                    self._stop.set()
                    self._wake.set()
