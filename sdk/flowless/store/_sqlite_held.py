"""Held rows: the embedded store's hot rows (task runs, cache entries), written in batches
by whichever thread is running when they are due.

Why: under a thread pool of fast tasks every thread is runnable, and getting the GIL
back after any call into SQLite takes 5 ms at best and hundreds of milliseconds at the
tail (16 spinning threads: p50 37 ms, p99 480 ms here). So nothing here holds a lock
across a call into SQLite, and no row waits for a particular thread's turn:

* a row is put in one shared dict (a few bytecodes under a small lock);
* the first thread to touch the dict once the oldest row is due takes every row not
  already being written and writes them with one statement per kind on its own
  connection, each statement a transaction of its own. The rows are on disk inside
  that one call into SQLite, before the thread waits for the GIL again;
* several threads may write at once, each on its own connection: SQLite serialises
  them, and a writer that finds another writing (SQLITE_BUSY, no busy wait: SQLite's
  busy handler sleeps 1, 2, 5 ... 100 ms) puts its rows back for the next writer;
* batches may land in any order, so each task-run row carries when it was made
  (``write_seq``) and never replaces a later one: a run's start cannot overwrite its end.

A task run's start and end are held under its id, so a fast run's end replaces its
start before either is written. The ids of runs started here and not yet ended are
kept: their end is held too, without asking the database whether someone else
completed the run first (the flow run is ours).
"""

from __future__ import annotations

import itertools
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

from flowless.exceptions import StoreError
from flowless.store._sqlite_rows import storable_text

__all__ = ["HeldRows", "BatchBusy"]

#: Rows per statement (the last row repeated to fill one, which writes nothing new), so a
#: handful of statements are prepared once per connection. Up to 128: a prepared
#: statement of 1,024 rows costs ~2.3 MB per connection, and each thread has one.
BATCHES = (1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128)
#: How long a write that must land (flush, close, the committer) waits for other writers.
BUSY_FOR = 30.0

_Key = tuple[str, str]
_Rows = dict[_Key, tuple[Any, ...]]


class BatchBusy(StoreError):
    """Another connection was writing; the rows are held again (not a failure)."""


def _encodable(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(storable_text(v) if isinstance(v, str) else v for v in row)


class HeldRows:
    """See the module docstring."""

    def __init__(
        self,
        path: Path,
        statements: dict[str, Callable[[int], str]],
        mapped: Callable[[str, sqlite3.Error], StoreError],
        delay: float,
        on_due: Callable[[], None],
    ) -> None:
        self.path = path
        self.wal = f"{path}-wal"
        self.checkpoint_bytes = 4 * 1024 * 1024  # set by the committer
        self.statements = statements
        self.mapped = mapped
        self.delay = delay
        self.on_due = on_due  # wakes the committer, for rows no thread comes back to
        self.lock = threading.Lock()  # never held across a call into SQLite
        self.held: _Rows = {}
        self.since: float | None = None  # when the oldest held row came
        #: Batches being written, by batch number (the rows are no longer held).
        self.inflight: dict[int, _Rows] = {}
        #: When each held row was made (a counter): a row coming back from a failed batch
        #: never replaces one made after it, however often either was taken and failed.
        self.made: dict[_Key, int] = {}
        self.inflight_made: dict[int, dict[_Key, int]] = {}
        self._counter = itertools.count()
        self._batches = itertools.count()
        self.open: set[str] = set()  # task runs started here and not yet ended
        #: When each held start was held. A start is written only once its run has been
        #: running ``delay``: a fast run's end replaces it first, and a start being
        #: written would make its end wait for that writer's next turn at the GIL.
        self.started: dict[_Key, float] = {}
        self.retry_at = 0.0  # after a failed write, not before
        self.closed = False
        #: Set by the committer once it has copied most of a large WAL (``_sqlite_commit``).
        self.restart_wanted = False
        #: Set when the database file is found damaged: nothing more is written to it.
        self.damaged: StoreError | None = None
        self.failures: Callable[[StoreError | None, int], float] = lambda exc, n: 0.0
        #: Idle batch connections. A writer borrows one, so there are as many as writers
        #: ever wrote at once (a connection costs ~0.5 MB: one per thread was 16 of them).
        self._idle: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._conns: list[sqlite3.Connection] = []

    # -- holding ------------------------------------------------------------------------

    def hold(self, kind: str, key: str, params: tuple[Any, ...], *, start: bool = False) -> None:
        now = time.monotonic()
        with self.lock:
            if start:
                self.open.add(key)
            due = self._hold(kind, key, params, now if start else None, now)
        if now >= due:
            self._write_due()

    def end(self, kind: str, key: str, params: tuple[Any, ...], *, new: bool = False) -> bool:
        """Hold a task run's end if it was started here (or is ``new``); else False
        (the caller writes it directly)."""
        now = time.monotonic()
        with self.lock:
            if key not in self.open and not new:
                return False
            self.open.discard(key)
            due = self._hold(kind, key, params, None, now)
        if now >= due:
            self._write_due()
        return True

    def _hold(
        self, kind: str, key: str, params: tuple[Any, ...], started: float | None, now: float
    ) -> float:
        """Hold one row (the caller holds ``lock``); when the held rows are due."""
        self.held[(kind, key)] = params
        self.made[(kind, key)] = next(self._counter)
        if started is not None:
            self.started[(kind, key)] = started
        else:
            self.started.pop((kind, key), None)
        if self.since is None:
            self.since = now
            self.on_due()
        return max(self.since + self.delay, self.retry_at)

    def _write_due(self) -> None:
        with suppress(StoreError):  # kept, and retried by the next write or flush()
            self.write()

    def settle(self, kind: str, key: str) -> tuple[Any, ...] | None:
        """Take the held row for ``key`` out (the caller writes it before the row it
        writes directly; one being written cannot overwrite that: it was made earlier)."""
        with self.lock:
            self.started.pop((kind, key), None)
            self.made.pop((kind, key), None)
            self.open.discard(key)
            return self.held.pop((kind, key), None)

    def held_row(self, kind: str, key: str) -> tuple[Any, ...] | None:
        """A row held or being written (in-process reads see it)."""
        with self.lock:
            row = self.held.get((kind, key))
            for number in sorted(self.inflight, reverse=True):  # the newest batch first
                row = row or self.inflight[number].get((kind, key))
            return row

    def count(self) -> int:
        with self.lock:
            return len(self.held) + sum(len(batch) for batch in self.inflight.values())

    def due(self) -> float | None:
        since = self.since
        return None if since is None else max(since + self.delay, self.retry_at)

    # -- writing ------------------------------------------------------------------------

    def _take(self, everything: bool = False) -> tuple[int, _Rows]:
        """Held rows (not young starts, unless ``everything``), now a batch in flight."""
        now = time.monotonic()
        young = now if everything else now - self.delay
        with self.lock:
            started = self.started
            batch = {k: v for k, v in self.held.items() if started.get(k, 0.0) <= young}
            if not batch:
                return -1, {}
            for k in batch:
                del self.held[k]
                started.pop(k, None)
            number = next(self._batches)
            self.inflight[number] = batch
            self.inflight_made[number] = {k: self.made.pop(k, -1) for k in batch}
            self.since = min((started.get(k, now) for k in self.held), default=None)
        return number, batch

    def _landed(self, number: int, unwritten: _Rows) -> None:
        """Batch ``number`` is done; ``unwritten`` rows are held again, unless a row made
        after it is held for the same key."""
        with self.lock:
            self.inflight.pop(number, None)
            made = self.inflight_made.pop(number, {})
            if not unwritten:
                return
            for key, row in unwritten.items():
                age = made.get(key, -1)
                if key not in self.held or self.made.get(key, -1) < age:
                    self.held[key] = row
                    self.made[key] = age
            self.since = self.since or time.monotonic()
        self.on_due()  # the committer may be asleep with nothing due when it looked

    def write(self, everything: bool = False) -> None:
        """Write what is held, on this thread's connection; ``BatchBusy`` if another
        connection was writing, ``StoreError`` if the rows could not be written (they
        are held again either way)."""
        if self.closed:
            return
        if self.damaged is not None:
            raise self.damaged
        number, batch = self._take(everything)
        if not batch:
            return
        done: set[_Key] = set()
        conn: sqlite3.Connection | None = None
        try:
            conn = self._borrow()
            if self._wal_too_large():  # the rest of the WAL first: this write restarts it
                self._checkpoint(conn)
            self.write_batch(batch, conn.execute, done)
            if self.restart_wanted:
                # the rest of the WAL after the rows (on disk already, so they do not
                # wait for it): the next write finds every frame copied and restarts it
                self._checkpoint(conn)
        except BaseException as exc:  # held again, whatever it was (even Ctrl-C)
            self._landed(number, {k: v for k, v in batch.items() if k not in done})
            if conn is not None:
                self._idle.put(conn)
            if not isinstance(exc, sqlite3.Error):
                raise
            if getattr(exc, "sqlite_errorcode", 0) == sqlite3.SQLITE_BUSY:
                raise BatchBusy from exc  # another connection is writing: no failure
            error = self.mapped("record task runs", exc)
            self.retry_at = time.monotonic() + self.failures(error, self.count())
            raise error from exc
        self._landed(number, {})
        self._idle.put(conn)
        if self.retry_at:
            self.retry_at = 0.0
            self.failures(None, 0)

    def write_all(self) -> None:
        """Everything held, and everything being written by others, on disk before this
        returns (``flush()``, in-process reads, close); ``StoreError`` if not."""
        deadline = time.monotonic() + BUSY_FOR
        while self.held or self.inflight:
            try:
                self.write(everything=True)
            except BatchBusy as exc:
                if time.monotonic() >= deadline:
                    raise self.mapped("record task runs", exc.__cause__) from exc  # type: ignore[arg-type]
            if self.held or self.inflight:
                if time.monotonic() >= deadline:
                    raise StoreError(
                        f"Store {str(self.path)!r}: {self.count()} task-run records were "
                        f"still being written after {BUSY_FOR:g} s."
                    )
                time.sleep(0.0005)  # another writer's batch is landing

    def take_all(self) -> tuple[int, _Rows]:
        """Every held row, once no batch is landing, as a batch the caller writes in its
        own transaction (a flow run's state after its task runs), then ``landed`` or
        ``put_back``."""
        deadline = time.monotonic() + BUSY_FOR
        while True:
            with self.lock:
                if not self.inflight:
                    batch = dict(self.held)
                    self.held.clear()
                    self.started.clear()
                    self.since = None
                    number = next(self._batches)
                    self.inflight[number] = batch
                    self.inflight_made[number] = self.made
                    self.made = {}
                    return number, batch
            if time.monotonic() >= deadline:
                raise StoreError(f"Store {str(self.path)!r}: rows stayed in flight for 30 s.")
            time.sleep(0.0005)

    def landed(self, number: int) -> None:
        self._landed(number, {})

    def put_back(self, number: int, batch: _Rows) -> None:
        self._landed(number, batch)

    def write_batch(
        self,
        batch: _Rows,
        execute: Callable[[str, tuple[Any, ...]], Any],
        done: set[_Key] | None = None,
    ) -> None:
        """Rows of every kind, many per statement; raises ``sqlite3.Error``."""
        for kind, statement in self.statements.items():
            keys = [k for k in batch if k[0] == kind]
            for first in range(0, len(keys), BATCHES[-1]):
                chunk = keys[first : first + BATCHES[-1]]
                rows = [batch[k] for k in chunk]
                size = next(n for n in BATCHES if n >= len(rows))
                rows += [rows[-1]] * (size - len(rows))
                try:
                    execute(statement(size), tuple(itertools.chain.from_iterable(rows)))
                except UnicodeEncodeError:  # a lone surrogate (os.fsdecode) in some text
                    rows = [_encodable(row) for row in rows]
                    execute(statement(size), tuple(itertools.chain.from_iterable(rows)))
                if done is not None:
                    done.update(chunk)

    def pause(self) -> None:
        """Hold ``lock`` with nothing being written (around ``fork()``)."""
        while True:
            self.lock.acquire()
            if not self.inflight:
                return
            self.lock.release()
            time.sleep(0.0005)

    def resume(self) -> None:
        if self.lock.locked():
            self.lock.release()

    # -- connections --------------------------------------------------------------------

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        self.restart_wanted = False  # once per request: the committer asks again
        with suppress(sqlite3.OperationalError):  # busy: another is checkpointing
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def _wal_too_large(self) -> bool:
        """Twice the size the committer acts at: it is waiting for its turn at the GIL
        (sixteen busy threads can keep it waiting half a second), so a writer acts."""
        try:
            return os.stat(self.wal).st_size > 2 * self.checkpoint_bytes
        except OSError:
            return False

    def _borrow(self) -> sqlite3.Connection:
        """An idle batch connection, or a new one. No busy timeout: see the module
        docstring."""
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        conn = sqlite3.connect(self.path, timeout=0, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA wal_autocheckpoint=0")
        conn.execute("PRAGMA cache_size=-256")  # a batch touches a few pages
        with self.lock:
            self._conns.append(conn)
        return conn

    def prune(self, keep: int = 2) -> None:
        """Close idle batch connections beyond ``keep`` (a finished flow run's pool)."""
        spare: list[sqlite3.Connection] = []
        with suppress(queue.Empty):
            while True:
                spare.append(self._idle.get_nowait())
        for conn in spare[:keep]:
            self._idle.put(conn)
        for conn in spare[keep:]:
            with self.lock:
                self._conns.remove(conn)
            conn.close()

    def close(self) -> None:
        self.closed = True
        with self.lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with suppress(sqlite3.Error):
                conn.close()
