"""The embedded store: one SQLite database in WAL mode under ``FLOWLESS_HOME``.

Writes use group commit (``_sqlite_commit``): a write executes at once inside the
store's open transaction, so every thread of the process (they share one connection,
guarded by a lock) reads its own writes and conditional writes see the true current
state; SQLite's write lock serialises other processes. The transaction is committed
(appended to the WAL, no fsync: ``synchronous=NORMAL``) ``COMMIT_DELAY`` after its first
write, by the next write or the committer thread, and at once by ``flush()``: the engine
flushes when a flow run or a standalone task run finishes, and at interpreter exit. The
price: a process killed with SIGKILL can lose the last ``COMMIT_DELAY`` of records (never
a completed flow run's). A commit that fails (a full disk) loses nothing: its writes
are kept and retried, and ``flush()`` raises if they never land.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
import threading
import time
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
from flowless.states import StateType
from flowless.store._protocol import CANCELLABLE
from flowless.store._records import (
    CacheEntry,
    CorruptRecord,
    FlowRunRecord,
    TaskRunRecord,
)
from flowless.store._sqlite_artifacts import SQLiteArtifacts
from flowless.store._sqlite_commit import GroupCommit
from flowless.store._sqlite_deployments import SQLiteDeployments
from flowless.store._sqlite_logs import SQLiteLogs
from flowless.store._sqlite_open import open_connection, remember_checked
from flowless.store._sqlite_rows import (
    FLOW_COLUMNS,
    TASK_COLUMNS,
    UPSERT_TASK_RUN,
    flow_run_from_row,
    flow_run_params,
    flow_runs_from_rows,
    number,
    payload_columns,
    replace_cache_entries,
    task_columns,
    task_run_from_row,
    task_run_write,
    to_payload,
    upsert_task_runs,
)

__all__ = ["SQLiteStore"]

_FLOW_PLACEHOLDERS = ", ".join("?" * len(FLOW_COLUMNS.split(",")))


_open_stores: weakref.WeakSet[SQLiteStore] = weakref.WeakSet()


def _before_fork() -> None:
    """Quiesce every store before ``fork()``: SQLite's in-process lock bookkeeping is
    copied into the child, so a write lock held at the moment of the fork would look
    held forever to the child's own connection. With each store's rows paused, its lock
    taken and its transaction committed, the child starts from a clean state."""
    for store in list(_open_stores):
        writer = store._writer
        if writer is not None:
            writer.checkpoint_lock.acquire()
            writer.rows.pause()
        store._lock.acquire()
        if not store._closed:
            with contextlib.suppress(StoreError):
                store._commit()


def _after_fork_in_parent() -> None:
    for store in list(_open_stores):
        _release(store)


def _after_fork_in_child() -> None:
    """The child's copies of the parent's stores are never used (the engine opens its own),
    but their locks were copied held: release them and stop tracking the copies, or the
    child's own next fork would wait on them forever."""
    for store in list(_open_stores):
        _release(store)
        if store._writer is not None:
            store._writer.rows.forget_writer()
    _open_stores.clear()


def _release(store: SQLiteStore) -> None:
    if store._lock.locked():
        store._lock.release()
    if store._writer is not None:
        store._writer.rows.resume()
        if store._writer.checkpoint_lock.locked():
            store._writer.checkpoint_lock.release()


os.register_at_fork(
    before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child
)


def _is_damage(exc: sqlite3.Error) -> bool:
    text = str(exc)
    return "malformed" in text or "not a database" in text or "corrupt" in text


class SQLiteStore(SQLiteLogs, SQLiteDeployments, SQLiteArtifacts):
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
        self._conn = self._open()
        self._closed = False
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
        store._writer = None
        store._damaged = None
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
            present = {row[1] for row in store._conn.execute("PRAGMA table_info(task_runs)")}
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

    # -- flow runs ---------------------------------------------------------------------

    def create_flow_run(self, run: FlowRunRecord) -> None:
        sql = f"INSERT INTO flow_runs ({FLOW_COLUMNS}) VALUES ({_FLOW_PLACEHOLDERS})"
        try:
            self._writer_or_fail().write_after_rows(
                "create a flow run",
                lambda: self._conn.execute(sql, flow_run_params(run)),
            )
        except RecordExistsError:
            raise RecordExistsError(f"Flow run {run.id!r} already exists.") from None

    def update_flow_run(self, run: FlowRunRecord) -> None:
        columns = [c.strip() for c in FLOW_COLUMNS.split(",")][1:-1]  # not id, not version
        assignments = ", ".join(f"{c} = ?" for c in columns)
        params = flow_run_params(run)

        def update() -> sqlite3.Cursor:
            cursor = self._conn.execute(
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
            return cursor

        self._writer_or_fail().write_after_rows("update a flow run", update)
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
        self,
        limit: int = 20,
        flow_name: str | None = None,
        state: StateType | None = None,
        deployment: str | None = None,
    ) -> list[FlowRunRecord | CorruptRecord]:
        filters = [
            (column, value)
            for column, value in (
                ("flow_name", flow_name),
                ("state_type", state.value if state is not None else None),
                ("deployment_name", deployment),
            )
            if value
        ]
        where = " AND ".join(f"{column} = ?" for column, _ in filters)
        rows = self._query(
            "list flow runs",
            f"SELECT {FLOW_COLUMNS} FROM flow_runs {'WHERE ' + where if where else ''} "
            "ORDER BY created DESC, rowid DESC LIMIT ?",
            (*(value for _, value in filters), limit),
        )
        return flow_runs_from_rows(rows)

    def match_flow_runs(self, ref: str, limit: int = 1000) -> list[FlowRunRecord | CorruptRecord]:
        # substr, not LIKE: an id prefix holding % or _ must match only itself.
        rows = self._query(
            "find flow runs",
            f"SELECT {FLOW_COLUMNS} FROM flow_runs WHERE name = ? OR substr(id, 1, ?) = ? "
            "ORDER BY created DESC, rowid DESC LIMIT ?",
            (ref, len(ref), ref, limit),
        )
        return flow_runs_from_rows(rows)

    def delete_flow_run(self, flow_run_id: str) -> int:
        deleted = 0

        def delete() -> sqlite3.Cursor:
            nonlocal deleted
            cursor = self._conn.execute("DELETE FROM flow_runs WHERE id = ?", (flow_run_id,))
            if cursor.rowcount == 0:
                raise RecordNotFoundError(
                    f"Flow run {flow_run_id!r} not found in {self.location!r}."
                )
            deleted = self._conn.execute(
                "DELETE FROM task_runs WHERE flow_run_id = ?", (flow_run_id,)
            ).rowcount
            self._conn.execute("DELETE FROM logs WHERE flow_run_id = ?", (flow_run_id,))
            self._conn.execute("DELETE FROM log_chunks WHERE flow_run_id = ?", (flow_run_id,))
            return cursor

        self._writer_or_fail().write_after_rows("delete a flow run", delete)
        return deleted

    def cancel_flow_run(self, flow_run_id: str) -> bool:
        """One conditional UPDATE: a run that ended meanwhile is not touched."""
        changed = False
        allowed = ", ".join("?" for _ in CANCELLABLE)

        def cancel() -> sqlite3.Cursor:
            nonlocal changed
            # SET's expressions all see the row as it was: a Scheduled run (nobody runs
            # it) ends at once; a started one is marked for its process to see
            scheduled = StateType.SCHEDULED.value
            cursor = self._conn.execute(
                "UPDATE flow_runs SET "
                "state_type = CASE WHEN state_type = ? THEN ? ELSE ? END, "
                "state_name = CASE WHEN state_type = ? THEN 'Cancelled' ELSE 'Cancelling' END, "
                "end_time = CASE WHEN state_type = ? THEN ? ELSE end_time END, "
                "state_message = NULL, version = version + 1 "
                f"WHERE id = ? AND state_type IN ({allowed})",
                (
                    scheduled,
                    StateType.CANCELLED.value,
                    StateType.CANCELLING.value,
                    scheduled,
                    scheduled,
                    time.time(),
                    flow_run_id,
                    *(t.value for t in CANCELLABLE),
                ),
            )
            changed = cursor.rowcount == 1
            if (
                not changed
                and not self._conn.execute(
                    "SELECT 1 FROM flow_runs WHERE id = ?", (flow_run_id,)
                ).fetchone()
            ):
                raise RecordNotFoundError(
                    f"Flow run {flow_run_id!r} not found in {self.location!r}."
                )
            return cursor

        self._writer_or_fail().write_after_rows("cancel a flow run", cancel)
        return changed

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
