"""Held rows: the embedded store's hot rows (task runs, cache entries), written in batches
by whichever thread is running when they are due.

Why: under a thread pool of fast tasks every thread is runnable, and a thread that
lets go of the GIL (a call into SQLite, a ``stat()``, a contended lock, or simply its
5 ms turn running out) gets it back after 5 ms at best and hundreds of milliseconds at
the tail (16 spinning threads: p50 37 ms, p99 480 ms here). No row may wait for one
particular thread's turn, so:

* a row is put in one shared dict (a few bytecodes under a small lock that is never
  held across a call into SQLite);
* the first thread to touch the dict once the oldest row is due *claims* up to
  ``BATCHES[-1]`` rows and writes them with one statement per kind (one call into
  SQLite, a transaction of its own); the rows stay in the dict until that call has
  returned, and only then are they dropped;
* a claim older than ``STALL`` means its writer lost the GIL before it reached SQLite:
  the next thread claims and writes the same rows again. Writing a row twice is
  harmless (below), so no row waits for a stalled writer;
* several threads may write at once, each on its own connection: SQLite serialises
  them, and a writer that finds another writing (SQLITE_BUSY, no busy wait: SQLite's
  busy handler sleeps 1, 2, 5 ... 100 ms) gives its claim up for the next writer;
* batches may land in any order and twice, so each task-run row carries when it was
  made (``write_seq``) and never replaces a later one: a run's start cannot overwrite
  its end, and a late copy of a row changes nothing.

Where it can, a row also goes to the row writer process (``_sqlite_writer``) the moment
it is held: that process writes it within milliseconds whatever this one is doing. The
row stays held here, claimed by the writer, until the writer says it is on disk; the
writers here take it over if the writer has not answered within ``WRITER_STALL``, or
is gone.

A task run's start and end are held under its id, so a fast run's end replaces its
start before either is written. The ids of runs started here and not yet ended are
kept: their end is held too, without asking the database whether someone else
completed the run first (the flow run is ours).
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
from flowless.store._sqlite_held_conns import BatchConnections
from flowless.store._sqlite_held_writer import _WRITER, WRITER_STALL, WriterLink
from flowless.store._sqlite_logs import HeldLines
from flowless.store._sqlite_rows import write_chunk
from flowless.store._sqlite_writer import RowWriter

__all__ = ["HeldRows", "BatchBusy"]

#: Rows per statement (the last row repeated to fill one, which writes nothing new), so a
#: handful of statements are prepared once per connection. A batch claims at most the
#: largest: one statement per kind, so its rows never wait between two calls into SQLite
#: (a prepared statement of 1,024 rows costs ~2.3 MB per connection).
BATCHES = (1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128)
#: How long a write that must land (flush, close, the committer) waits for other writers.
BUSY_FOR = 30.0
#: A claim older than this is taken over: its writer lost the GIL before reaching SQLite
#: (a batch of 128 rows is in SQLite ~0.3 ms after it is claimed when nothing interrupts).
STALL = 0.003
#: The same for a batch already in SQLite: it lands without the GIL, and is only late if
#: SQLite refused it (another connection was writing) and its writer waits for its turn.
STALL_IN_SQLITE = 0.025

_NEVER = float("inf")
_log = logging.getLogger("flowless.store")

_Key = tuple[str, str]
_Rows = dict[_Key, tuple[Any, ...]]


class BatchBusy(StoreError):
    """Another connection was writing; the rows are held again (not a failure)."""


class HeldRows(BatchConnections, WriterLink):
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
        #: Every row not known to be on disk, including rows a batch is writing.
        self.held: _Rows = {}
        #: When each held row was made (a counter): a batch drops a row after writing it
        #: only if no newer row was held for its key meanwhile.
        self.made: dict[_Key, int] = {}
        self._counter = itertools.count()
        #: Rows a batch is writing: the batch's number and when it claimed them.
        self.claims: dict[_Key, int] = {}
        #: When each batch claimed its rows, and when it went into SQLite (0: not yet).
        self.times: dict[int, list[float]] = {}
        #: Batches being written: the rows each claimed, and their ``made`` then.
        self.writing: dict[int, dict[_Key, int]] = {}
        self._batches = itertools.count()
        #: When the oldest unclaimed row was held (None: none), and when a claim stalls.
        self.since: float | None = None
        self.takeover_at = _NEVER
        self.open: set[str] = set()  # task runs started here and not yet ended
        #: When each held start was held. A start is written only once its run has been
        #: running ``delay``: a fast run's end replaces it first.
        self.started: dict[_Key, float] = {}
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
        self._thread = 0  # the thread that held the last row
        self._threads = 0  # how often that changed since the last batch was claimed
        self._init_connections()
        self._init_writer_link()

    # -- holding ------------------------------------------------------------------------

    def hold(self, kind: str, key: str, params: tuple[Any, ...], *, start: bool = False) -> None:
        now = time.monotonic()
        writer = None if start else self._writer(now)
        with self.lock:
            if start:
                self.open.add(key)
            due, made = self._hold(kind, key, params, now if start else None, now, writer)
        if writer is not None and not writer.send(made, kind, params):
            self._hand_back([made])
        if now >= due:
            self._write_due()

    def end(self, kind: str, key: str, params: tuple[Any, ...], *, new: bool = False) -> bool:
        """Hold a task run's end if it was started here (or is ``new``); else False
        (the caller writes it directly)."""
        now = time.monotonic()
        writer = self._writer(now)
        with self.lock:
            if key not in self.open and not new:
                return False
            self.open.discard(key)
            due, made = self._hold(kind, key, params, None, now, writer)
        if writer is not None and not writer.send(made, kind, params):
            self._hand_back([made])
        if now >= due:
            self._write_due()
        return True

    def _hold(
        self,
        kind: str,
        key: str,
        params: tuple[Any, ...],
        started: float | None,
        now: float,
        writer: RowWriter | None,
    ) -> tuple[float, int]:
        """Hold one row (the caller holds ``lock``); when the held rows are due, and the
        row's ``made`` (the caller sends it to ``writer``, which has claimed it)."""
        k = (kind, key)
        thread = threading.get_ident()
        if thread != self._thread:
            self._thread = thread
            self._threads += 1
        self.held[k] = params
        if self.sent:  # (none without the row writer)
            older = self.made.get(k)
            if older is not None:
                self.sent.pop(older, None)  # its answer no longer matters
        self.made[k] = made = next(self._counter)
        if self.claims:  # (none while no batch is writing)
            self.claims.pop(k, None)  # a batch writing the older row leaves this one held
        if started is not None:
            self.started[k] = started
        elif self.started:
            self.started.pop(k, None)
        since = self.since
        if writer is not None:
            self.claims[k] = _WRITER
            self.sent[made] = (k, now)
        elif since is None:
            since = self.since = now if started is None else started
            self.on_due()
        # (``starting`` also notices that the row writer has started)
        wait = 0.0 if now < self.starting_until and self.starting(now) else self.delay
        due = self.takeover_at if since is None else min(since + wait, self.takeover_at)
        return (due if due >= self.retry_at else self.retry_at), made

    def _write_due(self) -> None:
        with suppress(StoreError):  # kept, and retried by the next write or flush()
            self.write()

    def settle(self, kind: str, key: str) -> tuple[Any, ...] | None:
        """Take the held row for ``key`` out (the caller writes it before the row it
        writes directly; a batch still writing it cannot overwrite that: it was made
        earlier)."""
        k = (kind, key)
        with self.lock:
            self.started.pop(k, None)
            made = self.made.pop(k, None)
            if made is not None:
                self.sent.pop(made, None)
            self.claims.pop(k, None)
            self.open.discard(key)
            return self.held.pop(k, None)

    def held_row(self, kind: str, key: str) -> tuple[Any, ...] | None:
        """A row not yet known to be on disk (in-process reads see it)."""
        with self.lock:
            return self.held.get((kind, key))

    def count(self) -> int:
        with self.lock:
            return len(self.held)

    def due(self) -> float | None:
        """When a writer should next look: the oldest unclaimed row ``delay`` old, or a
        claim stalled."""
        since, takeover = self.since, self.takeover_at
        lines = self.lines.since
        if lines is not None:
            since = lines if since is None else min(since, lines)
        if self.sent:  # the row writer's oldest unanswered row, should it stall
            with suppress(StopIteration, RuntimeError):  # (answered meanwhile)
                takeover = min(takeover, next(iter(self.sent.values()))[1] + WRITER_STALL)
        if since is None and takeover == _NEVER:
            return None
        return max(min(_NEVER if since is None else since + self.delay, takeover), self.retry_at)

    # -- writing ------------------------------------------------------------------------

    def _take(self, everything: bool = False, after: float | None = None) -> tuple[int, _Rows]:
        """Claim the rows due: once the oldest unclaimed row is ``after`` (default: the
        delay) old, every unclaimed row but young starts; and rows whose claim stalled.
        At most ``BATCHES[-1]`` rows (``everything``: every held row, claimed or not)."""
        now = time.monotonic()
        young = now if everything else now - self.delay
        limit = len(self.held) if everything else BATCHES[-1]
        batch: _Rows = {}
        with self.lock:
            if self.closed:
                return -1, {}
            since = self.since
            wait = self.delay if after is None else after
            unclaimed = everything or (since is not None and since + wait <= now)
            started, claims, made, times = self.started, self.claims, self.made, self.times
            next_since, takeover = _NEVER, _NEVER
            for k, row in self.held.items():
                claim = claims.get(k)
                if claim == _WRITER and not everything:
                    sent = self.sent.get(made[k])
                    if sent is not None and sent[1] + WRITER_STALL > now:
                        takeover = min(takeover, sent[1] + WRITER_STALL)
                        continue  # the row writer has it
                elif claim is not None:
                    if not everything:
                        claimed, entered = times[claim]
                        until = entered + STALL_IN_SQLITE if entered else claimed + STALL
                        if until > now:
                            takeover = min(takeover, until)
                            continue
                else:
                    start = started.get(k)
                    if start is not None and start > young:
                        next_since = min(next_since, start)  # due once it ran ``delay``
                        continue
                    if not unclaimed:
                        next_since = min(next_since, since or now)
                        continue
                if len(batch) >= limit:
                    next_since = now - self.delay  # more is due than one statement holds
                    break
                batch[k] = row
            if batch:
                takeover = min(takeover, now + STALL)  # if this batch stalls
                if self._threads > 1:
                    # rows come from several threads (a pool): the rows held next are
                    # written soon too, in small batches, as one more writer is likely
                    # to lose its turn at the GIL
                    next_since = min(next_since, now + STALL - self.delay)
            self._threads = 0
            self.since = None if next_since == _NEVER else next_since
            self.takeover_at = takeover
            if not batch:
                return -1, {}
            number = next(self._batches)
            for k in batch:
                if claims.get(k) == _WRITER:
                    self.sent.pop(made[k], None)  # taken over: its answer no longer matters
                claims[k] = number
            times[number] = [now, 0.0]
            self.writing[number] = {k: made[k] for k in batch}
        return number, batch

    def _landed(self, number: int, written: Collection[_Key]) -> None:
        """Batch ``number`` is done: the ``written`` rows are dropped unless a newer row
        was held for the key meanwhile; the rest stay held, unclaimed."""
        with self.lock:
            made = self.writing.pop(number, {})
            self.times.pop(number, None)
            for k in made:
                if self.claims.get(k) == number:
                    del self.claims[k]
            for k in written:
                if k in made and self.made.get(k) == made[k]:
                    del self.held[k]
                    del self.made[k]
                    self.started.pop(k, None)
            if not self.held:
                self.since, self.takeover_at = None, _NEVER
                return
            if all(k in written for k in made):
                return
            # rows not written are due again soon (a busy writer is done in ~1 ms)
            soon = time.monotonic() - self.delay + STALL / 3
            self.since = min(self.since or soon, soon)
        self.on_due()  # the committer may be asleep with nothing due when it looked

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
            return
        done: set[_Key] = set()
        conn: sqlite3.Connection | None = None
        try:
            conn = self._borrow()
            if number >= 0:
                self.times[number][1] = time.monotonic()  # from here on no GIL is needed
            self.on_writing()
            self.write_batch(batch, conn.execute, done)
            self.lines.write(lines, conn.execute)
        except BaseException as exc:  # held again, whatever it was (even Ctrl-C)
            self.lines.put_back(lines)
            self._landed(number, done)
            if conn is not None:
                self._give_back(conn)
            if not isinstance(exc, sqlite3.Error):
                raise
            if getattr(exc, "sqlite_errorcode", 0) == sqlite3.SQLITE_BUSY:
                raise BatchBusy from exc  # another connection is writing: no failure
            error = self.mapped("record task runs", exc)
            self.retry_at = time.monotonic() + self.failures(error, self.count())
            raise error from exc
        self._landed(number, done)
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

    def write_all(self) -> None:
        """Everything held on disk before this returns (``flush()``, in-process reads,
        close); ``StoreError`` if not."""
        deadline = time.monotonic() + BUSY_FOR
        while (self.held or self.lines) and not self.closed:
            try:
                self.write(everything=True)
            except BatchBusy as exc:
                if time.monotonic() >= deadline:
                    raise self.mapped("record task runs", exc.__cause__) from exc  # type: ignore[arg-type]
                time.sleep(0.0005)  # another writer's batch is landing

    def take_all(self) -> tuple[int, _Rows]:
        """Every held row (claimed or not), as a batch the caller writes in its own
        transaction (a flow run's state after its task runs), then ``landed`` or
        ``put_back``."""
        number, batch = self._take(everything=True)
        if number < 0:
            with self.lock:
                number = next(self._batches)
                self.writing[number] = {}
        return number, batch

    def landed(self, number: int) -> None:
        with self.lock:
            written = list(self.writing.get(number, ()))
        self._landed(number, written)

    def put_back(self, number: int, batch: _Rows | None = None) -> None:
        self._landed(number, ())

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
                write_chunk(execute, statement, [batch[k] for k in chunk], BATCHES)
                if done is not None:
                    done.update(chunk)
