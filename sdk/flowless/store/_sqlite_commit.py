"""How the embedded store writes: hot rows held and written in batches, everything else
at once, a committer thread for rows nobody comes back to, checkpoints that keep the
WAL small, and writes that fail (a full disk) kept and retried rather than forgotten.

* **Task runs and cache entries** are held and written ``COMMIT_DELAY`` after the
  oldest by whichever thread is running then, many rows per statement, each statement a
  transaction of its own (``_sqlite_held``: why not one shared transaction). A commit
  costs 50-100 us where a row costs ~10 us, which is the difference between meeting and
  missing the per-task overhead budget; the price is that SIGKILL can lose the last
  ``COMMIT_DELAY`` (plus the wait for the GIL) of task runs, never a finished flow run's.
* **Every other write** (flow runs, deployments, a task run's end that may race another
  executor) is one statement that commits before the call returns, so its caller learns
  at once whether it landed. A flow run write first writes every held row in the same
  transaction: a flow run's new state never reaches the disk before the task runs it
  ran, so a run never ends Completed with records missing.
* **Nothing forgotten.** A batch that fails keeps its rows, and they are retried,
  backing off, by the next write, the committer and ``flush()``; ``flush()`` (and a flow
  run write) retries for ``RETRY_FOR`` seconds and then raises, saying what is not on
  disk and why.
* **A bounded WAL.** Only a checkpoint that has copied every frame lets SQLite start the
  WAL over, and rows are written all the time: so the committer copies the bulk while
  they are, and the next thread to write a batch copies the little written meanwhile
  right after it; the write after that starts the WAL over, and ``journal_size_limit``
  cuts its file back.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flowless.exceptions import StoreError
from flowless.store import _sqlite_writer
from flowless.store._sqlite_held import HeldRows
from flowless.store._sqlite_held_writer import WRITER_STALL

__all__ = ["GroupCommit"]

_log = logging.getLogger("flowless.store")


class GroupCommit:
    """The write side of one store (its connection, guarded by ``lock``, and held rows)."""

    #: Longest time a held row waits to be written (unless ``flush()`` comes first).
    COMMIT_DELAY = 0.01
    #: How long after held rows are due the committer thread writes them. The thread holding
    #: the rows writes them at once if it is writing anyway; the committer, waiting for
    #: its turn at the GIL, would only hold it up. (Writing first from the committer, so
    #: that SQLite's work ran beside the task threads, was no faster: the GIL changed
    #: hands four times per batch.)
    IDLE_GRACE = 0.005
    #: Longest pause between retries of a write that failed.
    MAX_BACKOFF = 0.25
    #: How long ``flush()`` and flow run writes retry a write that fails (a disk full for
    #: a moment) before raising.
    RETRY_FOR = 10.0
    #: WAL size above which the committer checkpoints.
    CHECKPOINT_BYTES = 4 * 1024 * 1024

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path,
        lock: threading.Lock,
        mapped: Callable[[str, sqlite3.Error], StoreError],
        held: dict[str, Callable[[int], str]],
    ) -> None:
        self.conn = conn
        self.path = path
        self.lock = lock
        self.mapped = mapped
        self.closed = False
        self._failing: StoreError | None = None
        self._failing_since = 0.0
        self._backoff = 0.0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._look = threading.Event()
        self._thread: threading.Thread | None = None
        self._grew = False  # a write since the committer last looked at the WAL
        self._page_size = 4096
        self._copied_at = -1  # the WAL's size when a checkpoint last copied all of it
        #: Held while the committer checkpoints; taken before ``fork()`` too, so a child
        #: never starts with SQLite's in-process locks copied mid-checkpoint.
        self.checkpoint_lock = threading.Lock()
        #: Task runs and cache entries, written in batches by whichever thread is running.
        self.rows = HeldRows(path, held, mapped, self.COMMIT_DELAY, self._wake.set)
        self.rows.failures = self._rows_failed
        self.rows.on_wrote = self._wrote
        self.rows.on_writing = self._look_now
        if os.environ.get("FLOWLESS_ROW_WRITER", "process").strip().lower() != "thread":
            self.rows.use_writer()

    # -- writes that commit at once -----------------------------------------------------

    def execute(self, action: str, sql: str, params: tuple[Any, ...]) -> sqlite3.Cursor:
        """One statement, committed when it returns (the caller holds ``lock``)."""
        try:
            self._finish_checkpoint()
            cursor = self.conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise self.mapped(action, exc) from exc
        self._wrote()
        return cursor

    def _finish_checkpoint(self) -> None:
        """The rest of a large WAL just before this write, which then starts it over."""
        if self.rows.restart_wanted:
            self.rows.restart_wanted = False  # once per request: the committer asks again
            with contextlib.suppress(sqlite3.OperationalError):  # busy: try at the next
                self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def _wrote(self) -> None:
        """The WAL grew: have the committer look at its size (once per look)."""
        if not self._grew:
            self._grew = True
            self._wake.set()

    def write_after_rows(self, action: str, write: Callable[[], sqlite3.Cursor]) -> sqlite3.Cursor:
        """Every held row, then ``write()``, in one transaction, retried while the disk
        is full for up to ``RETRY_FOR`` (the caller does not hold ``lock``)."""
        deadline = time.monotonic() + self.RETRY_FOR
        while True:
            if self.rows.damaged is not None:
                raise self.rows.damaged
            number, taken = self.rows.take_all()
            lines = self.rows.lines.take()  # a run's lines land before its new state
            with self.lock:
                try:
                    self._finish_checkpoint()
                    self.conn.execute("BEGIN IMMEDIATE")
                    try:
                        self.rows.write_batch(taken, self.conn.execute)
                        self.rows.lines.write(lines, self.conn.execute)
                        cursor = write()
                        self.conn.execute("COMMIT")
                    except BaseException:
                        if self.conn.in_transaction:
                            self.conn.execute("ROLLBACK")
                        raise
                except sqlite3.Error as exc:
                    self.rows.put_back(number, taken)
                    self.rows.lines.put_back(lines)
                    error = self.mapped(action, exc)
                except BaseException as exc:
                    self.rows.put_back(number, taken)
                    self.rows.lines.put_back(lines)
                    if not (isinstance(exc, StoreError) and _transient(exc)):
                        raise
                    error = exc
                else:
                    self.rows.landed(number)
                    self._recovered()
                    self._wrote()
                    return cursor
                if not _transient(error):
                    raise error
                if time.monotonic() >= deadline:
                    raise self._not_durable(error)
                pause = self._failed(error, self.rows.count())
            time.sleep(pause)

    # -- failures -----------------------------------------------------------------------

    def _failed(self, exc: StoreError, kept: int) -> float:
        """Note a write that did not land (logged once until one lands); the pause before
        the next try."""
        if self._failing is None:
            self._failing_since = time.monotonic()
            _log.error(
                "%s. flowless keeps every write made since in memory (%d so far) and "
                "retries; they are lost only if this process ends first.",
                exc,
                kept,
            )
        self._failing = exc
        self._backoff = min(max(2 * self._backoff, self.COMMIT_DELAY), self.MAX_BACKOFF)
        return self._backoff

    def _recovered(self) -> None:
        if self._failing is not None:
            _log.warning(
                "Store %r wrote the records it had kept since the error above, %.2f s later; "
                "nothing was lost.",
                str(self.path),
                time.monotonic() - self._failing_since,
            )
            self._failing = None
            self._backoff = 0.0

    def _rows_failed(self, exc: StoreError | None, kept: int) -> float:
        if exc is None:
            self._recovered()
            return 0.0
        self._wake.set()
        return self._failed(exc, kept)

    def _not_durable(self, exc: StoreError) -> StoreError:
        return StoreError(
            f"{exc}. flowless retried for {self.RETRY_FOR:g} s; {self.rows.count()} records "
            f"made since {time.monotonic() - self._failing_since:.1f} s ago (task runs, cache "
            "entries) are not on disk and are lost when this process exits. Free space under "
            f"{str(self.path.parent)!r} (or fix the error above), then resume the flow run: "
            "only what was lost runs again."
        )

    # -- flush --------------------------------------------------------------------------

    def flush(self) -> None:
        """Write every held row now, retrying for ``RETRY_FOR`` seconds before raising."""
        deadline = time.monotonic() + self.RETRY_FOR
        while not self.closed:
            try:
                self.rows.write_all()
                self._recovered()
                return
            except StoreError as exc:
                if not _transient(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise self._not_durable(exc) from exc
                pause = self._failed(exc, self.rows.count())
            time.sleep(pause)

    # -- the committer thread -----------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="flowless-sqlite-commit", daemon=True)
        self._thread.start()

    def _look_now(self) -> None:
        """A thread's batch is going into SQLite, without the GIL for a while: the
        committer looks now. Waking at its own time instead, it waits for its turn at
        the GIL, and while it waits every call a task thread makes into the kernel (a
        console line's write, SQLite's I/O) wakes it and takes the GIL back: 4-8 us
        each, +8% per sequential task. Woken here, it looks while the GIL is free, and
        its own timer (rows due + ``IDLE_GRACE``) only fires when no thread writes."""
        if threading.current_thread() is not self._thread:
            self._look.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._look.set()

    def join(self, timeout: float) -> None:
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def run(self) -> None:
        """Write rows no thread came back to write; checkpoint a large WAL. An error here
        is logged and the loop goes on: without this thread no idle rows are written."""
        checkpointer: sqlite3.Connection | None = None
        try:
            while not self._stop.is_set():
                try:
                    checkpointer = self._step(checkpointer)
                except Exception:
                    _log.exception("flowless's store committer failed; it goes on")
                    self._stop.wait(self.MAX_BACKOFF)
        finally:
            if checkpointer is not None:
                with self.checkpoint_lock:
                    checkpointer.close()

    def _step(self, checkpointer: sqlite3.Connection | None) -> sqlite3.Connection | None:
        self._wake.clear()  # before looking: a row held after the look wakes us
        self._look.clear()
        if self.closed:
            self._stop.set()
            return checkpointer
        # the WAL's size as the writer of a batch since the last look found it, else a stat()
        # (which would make this thread wait for the GIL once more)
        wrote, self.rows.wrote = self.rows.wrote, False
        checkpointer = self._checkpoint(checkpointer, self.rows.wal_size if wrote else None)
        due = self.rows.due()
        if due is None:
            if self._grew or self.rows.writing:  # look again in a while
                self._grew = False
                self._look.wait(self.COMMIT_DELAY)
            else:  # rows sent to the row writer are taken over if it stalls
                self._wake.wait(WRITER_STALL if self.rows.writer is not None else None)
            return checkpointer
        wait = due + self.IDLE_GRACE - time.monotonic()
        if wait > 0:  # not due yet
            self._look.wait(wait)
            return checkpointer
        with contextlib.suppress(StoreError):  # held again, tried again
            self.rows.write()
        self.rows.prune()
        self._grew = False
        return checkpointer

    def _wal_bytes(self) -> int:
        try:
            return Path(f"{self.path}-wal").stat().st_size
        except OSError:
            return 0

    def _checkpoint(
        self, checkpointer: sqlite3.Connection | None, size: int | None = None
    ) -> sqlite3.Connection | None:
        """Copy the WAL into the database while everyone writes; then ask the next thread
        that writes a batch to copy the little written meanwhile, so the write after it
        finds every frame copied and SQLite starts the WAL over (cutting its file back
        to ``journal_size_limit``). Pausing every writer for that last step instead cost
        them 20-40 ms each time: the committer waits for its turn at the GIL. The file
        stays at ``journal_size_limit`` after a restart, so what counts is the frames in
        it (``PASSIVE`` says), not its size: asking on size alone made every batch run a
        checkpoint (10 us per task run)."""
        self.rows.checkpoint_bytes = self.CHECKPOINT_BYTES
        if size is None:
            size = self._wal_bytes()
        # Past the size a restart cuts the file back to, the WAL ends where the file does,
        # so every write grows the file: an unchanged size means nothing was written.
        grows = size > _sqlite_writer.JOURNAL_SIZE_LIMIT
        if size <= self.CHECKPOINT_BYTES or (grows and size == self._copied_at):
            # small, or every frame was copied at this size: the next write starts the
            # WAL over (and cuts the file back) without another checkpoint
            if not grows:
                self._copied_at = -1  # (cut back: growing again, it may pass that size)
            self.rows.restart_wanted = False
            return checkpointer
        try:
            with self.checkpoint_lock:
                if checkpointer is None:
                    checkpointer = sqlite3.connect(self.path, timeout=0, isolation_level=None)
                    self._page_size = checkpointer.execute("PRAGMA page_size").fetchone()[0]
                for _ in range(2):  # the bulk, then what was written meanwhile
                    busy, frames, copied = checkpointer.execute(
                        "PRAGMA wal_checkpoint(PASSIVE)"
                    ).fetchone()
                    # every frame copied, and none written since: the next write starts
                    # the WAL over
                    if not busy and frames == copied and grows and self._wal_bytes() == size:
                        self._copied_at = size
                        break
                    size = self._wal_bytes()
                    grows = size > _sqlite_writer.JOURNAL_SIZE_LIMIT
            self.rows.restart_wanted = (
                self._copied_at != size and frames * self._page_size > self.CHECKPOINT_BYTES
            )
        except (OSError, sqlite3.Error):
            pass  # a busy or failed checkpoint is retried after a later write
        return checkpointer


def _transient(exc: StoreError) -> bool:
    """A failure that may pass: a full disk, an I/O error, a lock held too long."""
    text = str(exc)
    return any(s in text for s in ("disk is full", "disk I/O error", "database is locked"))
