"""Held rows: the embedded store's hot rows (task runs, cache entries), written in batches
by whichever thread is running when they are due.

Why: under a thread pool of fast tasks every thread is runnable, and a thread that
lets go of the GIL (a call into SQLite, a ``stat()``, a contended lock, or simply its
5 ms turn running out) gets it back after 5 ms at best and hundreds of milliseconds at
the tail (16 spinning threads: p50 37 ms, p99 480 ms here). No row may wait for one
particular thread's turn, so:

* a row is put in one shared dict (a few bytecodes under a small lock that is never
  held across a call into SQLite);
* the first thread to touch the dict once the oldest row is due, or once it holds a
  full statement's worth (``BATCHES[-1]`` rows), *claims* the dict as a batch (it takes
  the dict and leaves an empty one: nothing is done per row) and writes it with one
  statement per kind (one call into SQLite, a transaction of its own). The batch stays
  known (``writing``, with in-process reads seeing its rows) until that call has
  returned, and is then dropped whole;
* a batch claimed longer than ``STALL`` ago means its writer lost the GIL before it
  reached SQLite: the next thread writes the same batch again. Writing a row twice is
  harmless (below), so no row waits for a stalled writer;
* several threads may write at once, each on its own connection: SQLite serialises
  them, and a writer that finds another writing (SQLITE_BUSY, no busy wait: SQLite's
  busy handler sleeps 1, 2, 5 ... 100 ms) puts its batch back for the next writer;
* batches may land in any order and twice, so each task-run row carries when it was
  made (``write_seq``) and never replaces a later one: a run's start cannot overwrite
  its end, and a late copy of a row changes nothing. A batch put back returns only the
  rows for which nothing newer is known here (held, or in a batch claimed later).

Where it can, a row also goes to the row writer process (``_sqlite_writer``) the moment
it is held: that process writes it within milliseconds whatever this one is doing. The
row is kept here (``sent``) until the writer says it is on disk; it is held again here
if the writer has not answered within ``WRITER_STALL``, or is gone.

A task run's start is kept apart (``starts``) until its run has been running ``delay``:
a fast run's end replaces it before either is written. The ids of runs started here and
not yet ended are kept: their end is held too, without asking the database whether
someone else completed the run first (the flow run is ours).
"""

from __future__ import annotations

import itertools
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Collection
from contextlib import suppress
from pathlib import Path
from typing import Any

from flowless.exceptions import StoreError
from flowless.store._sqlite_held_batches import (
    _FULL,
    BatchClaims,
    _Batch,
)
from flowless.store._sqlite_held_conns import BatchConnections
from flowless.store._sqlite_held_writer import WRITER_STALL, WriterLink
from flowless.store._sqlite_logs import HeldLines
from flowless.store._sqlite_writer import RowWriter

__all__ = ["HeldRows", "BatchBusy"]

#: How long a write that must land (flush, close, the committer) waits for other writers.
BUSY_FOR = 30.0
_NEVER = float("inf")
_log = logging.getLogger("flowless.store")

_Key = tuple[str, str]
_Rows = dict[_Key, tuple[Any, ...]]


class BatchBusy(StoreError):
    """Another connection was writing; the rows are held again (not a failure)."""


class HeldRows(BatchClaims, BatchConnections, WriterLink):
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
        #: Run log lines: written with the next batch (``_sqlite_logs``).
        self.lines = HeldLines(on_due)
        self.lock = threading.Lock()  # never held across a call into SQLite
        #: The newest row of each key not yet claimed by a batch.
        self.held: _Rows = {}
        #: Starts not yet ``delay`` old, and when each was held (not yet due).
        self.starts: dict[_Key, tuple[tuple[Any, ...], float]] = {}
        #: Batches being written, by number (the order they were first claimed in).
        self.writing: dict[int, _Batch] = {}
        #: Batches that landed while an older one was still being written: an older one
        #: put back must not bring back the rows they wrote (their keys).
        self.landed_early: dict[int, Collection[_Key]] = {}
        self._numbers = itertools.count()
        #: When the oldest unclaimed row was held (None: none), and when a claim stalls.
        self.since: float | None = None
        self.takeover_at = _NEVER
        self.open: set[str] = set()  # task runs started here and not yet ended
        self.retry_at = 0.0  # after a failed write, not before
        #: A batch landed since the committer last looked, and the WAL's size after it
        #: (the committer need not look at the file itself).
        self.wrote = False
        self.wal_size = 0
        #: Called as a batch goes into SQLite (the committer looks while the GIL is free).
        self.on_writing: Callable[[], None] = lambda: None
        self.closed = False
        #: Set when the database file is found damaged: nothing more is written to it.
        self.damaged: StoreError | None = None
        self.failures: Callable[[StoreError | None, int], float] = lambda exc, n: 0.0
        self._init_connections()
        self._init_writer_link()

    # -- holding ------------------------------------------------------------------------

    def hold(self, kind: str, key: str, params: tuple[Any, ...], *, start: bool = False) -> None:
        now = time.monotonic()
        k = (kind, key)
        if not start:
            self._put(k, params, now, self._writer(now))
            return
        with self.lock:
            self.open.add(key)
            self.starts[k] = (params, now)
            if self.held:
                self.held.pop(k, None)  # an older row (a retried run's last end)
            if self.sent_keys:
                self._unsend(k)
            since = self.since
            if since is None:
                self.since = now  # looked at once the start is ``delay`` old
                self.on_due()
                return
        # (a start makes no row due, but rows held before it may be by now)
        if self._due_by(now, since):
            self._write_due()

    def end(self, kind: str, key: str, params: tuple[Any, ...], *, new: bool = False) -> bool:
        """Hold a task run's end if it was started here (or is ``new``); else False
        (the caller writes it directly)."""
        now = time.monotonic()
        return self._put((kind, key), params, now, self._writer(now), end=True, new=new)

    def _put(
        self,
        k: _Key,
        params: tuple[Any, ...],
        now: float,
        writer: RowWriter | None,
        *,
        end: bool = False,
        new: bool = False,
    ) -> bool:
        """Hold a row, or send it to ``writer`` keeping it here until it answers; then
        write what is due. A run's ``end`` only if the run was started here or is
        ``new`` (else False: nothing is held)."""
        made = -1
        with self.lock:
            if end:
                if k[1] in self.open:
                    self.open.remove(k[1])
                elif not new:
                    return False
            if self.starts:
                self.starts.pop(k, None)
            if writer is not None:
                if self.held:
                    self.held.pop(k, None)
                made = self._send(k, params, now)
            else:
                self.held[k] = params
                if self.sent_keys:
                    self._unsend(k)
                if self.since is None:
                    self.since = now
                    self.on_due()
            since = self.since
        if writer is not None and not writer.send(made, k[0], params):
            self._hand_back([made])
        if self._due_by(now, since):
            self._write_due()
        return True

    def _due_by(self, now: float, since: float | None) -> bool:
        """Whether the rows held since ``since`` (read under the lock) are due: a
        statement's worth is held, or the oldest is ``delay`` old (none while rows are
        due at once as the row writer starts), or a claim stalled; never before
        ``retry_at``."""
        if now < self.retry_at:
            return False
        if len(self.held) >= _FULL or now >= self.takeover_at:
            return True
        if since is None:
            return False
        # (``starting`` also notices that the row writer has started)
        wait = 0.0 if now < self.starting_until and self.starting(now) else self.delay
        return now >= since + wait

    def _write_due(self) -> None:
        with suppress(StoreError):  # kept, and retried by the next write or flush()
            self.write()

    def settle(self, kind: str, key: str) -> tuple[Any, ...] | None:
        """Take the newest row for ``key`` out (the caller writes it before the row it
        writes directly; a batch still writing it cannot overwrite that: it was made
        earlier)."""
        k = (kind, key)
        with self.lock:
            self.open.discard(key)
            row = self.held.pop(k, None)
            start = self.starts.pop(k, None)
            if row is None and start is not None:
                row = start[0]
            sent = self._unsend(k)
            if row is None:
                row = sent if sent is not None else self._writing_row(k)
            return row

    def held_row(self, kind: str, key: str) -> tuple[Any, ...] | None:
        """The newest row not yet known to be on disk (in-process reads see it)."""
        k = (kind, key)
        with self.lock:  # (a cache read: once per cached task call)
            row = self.held.get(k)
            if row is not None:
                return row
            if self.starts:
                start = self.starts.get(k)
                if start is not None:
                    return start[0]
            if self.sent_keys:
                made = self.sent_keys.get(k)
                if made is not None:
                    return self.sent[made][1]
            return self._writing_row(k) if self.writing else None

    def count(self) -> int:
        """Rows not yet known to be on disk."""
        with self.lock:
            keys = set(self.held).union(self.starts, self.sent_keys)
            for batch in self.writing.values():
                keys.update(batch.rows)
            return len(keys)

    def due(self) -> float | None:
        """When a writer should next look: the oldest unclaimed row ``delay`` old, or a
        claim stalled."""
        since, takeover = self.since, self.takeover_at
        lines = self.lines.since
        if lines is not None:
            since = lines if since is None else min(since, lines)
        if self.sent:  # the row writer's oldest unanswered row, should it stall
            with suppress(StopIteration, RuntimeError):  # (answered meanwhile)
                takeover = min(takeover, next(iter(self.sent.values()))[2] + WRITER_STALL)
        if since is None and takeover == _NEVER:
            return None
        return max(min(_NEVER if since is None else since + self.delay, takeover), self.retry_at)

    # -- writing ------------------------------------------------------------------------

    def write(self, everything: bool = False) -> None:
        """Write what is due, on a connection of its own; ``BatchBusy`` if another
        connection was writing, ``StoreError`` if the rows could not be written (they stay
        held either way)."""
        if self.closed:
            return
        if self.damaged is not None:
            raise self.damaged
        at_once = self.starting_until and self.starting(time.monotonic())
        number, batch = self._take(everything, 0.0 if at_once else None)
        since = self.lines.since
        due = everything or batch or (since is not None and since + self.delay <= time.monotonic())
        lines = self.lines.take() if due else []
        if not batch and not lines:
            if number >= 0:
                self._landed(number)  # (nothing to write)
            return
        done: list[Collection[_Key]] = []
        conn: sqlite3.Connection | None = None
        try:
            conn = self._borrow()
            claimed = self.writing.get(number)
            if claimed is not None:
                claimed.entered = time.monotonic()  # from here on no GIL is needed
            self.on_writing()
            self.write_batch(batch, conn.execute, done)
            self.lines.write(lines, conn.execute)
        except BaseException as exc:  # held again, whatever it was (even Ctrl-C)
            self.lines.put_back(lines)
            if number >= 0:
                self._landed(number, set().union(*done))
            if conn is not None:
                self._give_back(conn)
            if not isinstance(exc, sqlite3.Error):
                raise
            if getattr(exc, "sqlite_errorcode", 0) == sqlite3.SQLITE_BUSY:
                raise BatchBusy from exc  # another connection is writing: no failure
            error = self.mapped("record task runs", exc)
            self.retry_at = time.monotonic() + self.failures(error, self.count())
            raise error from exc
        if number >= 0:
            self._landed(number)
        too_large = self._wal_too_large()  # (and the WAL's size, for the committer)
        self.wrote = True
        if self.restart_wanted or too_large:
            # the rest of the WAL after the rows (on disk already, so they do not wait
            # for it): the next write finds every frame copied and restarts it
            self._checkpoint(conn)
        self._give_back(conn)
        if self.retry_at:
            self.retry_at = 0.0
            self.failures(None, 0)

    def pending(self) -> bool:
        """Whether any row or log line is not yet known to be on disk."""
        return bool(self.held or self.starts or self.sent or self.writing or self.lines)

    def write_all(self) -> None:
        """Everything held on disk before this returns (``flush()``, in-process reads,
        close); ``StoreError`` if not."""
        deadline = time.monotonic() + BUSY_FOR
        while self.pending() and not self.closed:
            try:
                self.write(everything=True)
            except BatchBusy as exc:
                if time.monotonic() >= deadline:
                    raise self.mapped("record task runs", exc.__cause__) from exc  # type: ignore[arg-type]
                time.sleep(0.0005)  # another writer's batch is landing

    def take_all(self) -> tuple[int, _Rows]:
        """Every row not known to be on disk, as a batch the caller writes in its own
        transaction (a flow run's state after its task runs), then ``landed`` or
        ``put_back``."""
        number, batch = self._take(everything=True)
        if number < 0:  # (closed)
            with self.lock:
                number = next(self._numbers)
                self.writing[number] = _Batch({}, time.monotonic(), ())
        return number, batch

    def landed(self, number: int) -> None:
        self._landed(number)

    def put_back(self, number: int, batch: _Rows | None = None) -> None:
        self._landed(number, ())
