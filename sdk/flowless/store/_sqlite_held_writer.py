"""The held rows' side of the row writer process (``_sqlite_writer``): when to use it,
starting it off the task's thread, what its answers do to the held rows, and handing
rows back when it stalls, refuses, dies or is stopped.

A mixin of ``HeldRows`` (``_sqlite_held``), which holds the rows and their claims; every
method here changes them under ``HeldRows.lock`` only, and never calls into SQLite.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from flowless.exceptions import StoreError
from flowless.store._sqlite_writer import SIZES, RowWriter

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "POOLED_FOR",
    "STARTING_FOR",
    "WRITER_RESTART",
    "WRITER_STALL",
    "WRITER_STARTS",
    "WriterLink",
]

#: How long a row sent to the row writer waits for its answer before a writer here
#: takes it over (the writer commits within milliseconds unless the disk stalls).
WRITER_STALL = 0.5
#: Rows go to the row writer until this long after they last came from a new thread.
POOLED_FOR = 1.0
#: A writer that ended (it was killed, or a write failed there) is started again this
#: long after, at most ``WRITER_STARTS`` times in all per store.
WRITER_RESTART = 5.0
WRITER_STARTS = 3
#: Longest time rows are due at once while a writer starts (it answers in 10-40 ms).
STARTING_FOR = 1.0
_NEVER = float("inf")
_log = logging.getLogger("flowless.store")

_Key = tuple[str, str]


class WriterLink:
    """The row writer's state in ``HeldRows`` (see the module docstring)."""

    if TYPE_CHECKING:  # HeldRows' own
        path: Path
        statements: dict[str, Callable[[int], str]]
        mapped: Callable[[str, sqlite3.Error], StoreError]
        delay: float
        on_due: Callable[[], None]
        lock: threading.Lock
        held: dict[_Key, tuple[Any, ...]]
        since: float | None
        takeover_at: float
        retry_at: float
        closed: bool
        failures: Callable[[StoreError | None, int], float]
        _numbers: Iterator[int]
        starts: dict[_Key, Any]
        writing: dict[int, Any]
        landed_early: dict[int, Collection[_Key]]

        def count(self) -> int: ...

    def _init_writer_link(self) -> None:
        self._restart_wanted = False
        #: The row writer process, once started (``use_writer``), and the rows sent to
        #: it and not yet answered, by number: key, row, and when each was sent; and the
        #: number of each key's newest (an older one's answer no longer matters).
        self.writer: RowWriter | None = None
        self.sent: dict[int, tuple[_Key, tuple[Any, ...], float]] = {}
        self.sent_keys: dict[_Key, int] = {}
        self._writer_wanted = False
        #: Until when rows are due at once: a writer was asked for and has not answered
        #: yet (see ``_writer``; at most ``STARTING_FOR``).
        self.starting_until = 0.0
        self._writer_wanted_at = 0.0  # not before (after one ended)
        self._writer_starts = 0
        self._stopping_writer = False
        self._sender = 0  # the thread that held the last row, and until when rows count
        self._pooled_until = 0.0  # as coming from several threads
        self._threads = 0  # how often the sender changed since the last batch was claimed
        self.on_wrote: Callable[[], None] = lambda: None  # the WAL grew (the writer wrote)

    def starting(self, now: float) -> bool:
        """Whether rows are due at once: the writer was asked for, has not answered, and
        not for long (one that never answers costs at most ``STARTING_FOR`` of small
        batches)."""
        if now >= self.starting_until:
            return False
        writer = self.writer
        if writer is not None and writer.alive:
            self.starting_until = 0.0
            return False
        return True

    @property
    def restart_wanted(self) -> bool:
        """Set by the committer once it has copied most of a large WAL (``_sqlite_commit``):
        the next writer checkpoints right after its batch, the row writer included."""
        return self._restart_wanted

    @restart_wanted.setter
    def restart_wanted(self, value: bool) -> None:
        self._restart_wanted = value
        writer = self.writer
        if value and writer is not None:
            writer.checkpoint()

    def use_writer(self) -> None:
        """Send rows to a row writer process, started when the first pooled row is held
        (not where ``sys.executable`` cannot start one: a frozen app is not Python)."""
        if sys.executable and not getattr(sys, "frozen", False):
            self._writer_wanted = True

    def _writer(self, now: float) -> RowWriter | None:
        """The row writer, while rows come from several threads (a pool). Rows of one
        thread are written on time by that thread (it is the one running), and sending
        costs more than writing them in batches here (~4 us a row against ~2)."""
        thread = threading.get_ident()
        if thread != self._sender:
            if self._sender:
                self._pooled_until = now + POOLED_FOR
            self._sender = thread
            self._threads += 1  # (not under the lock: a count lost now and then is harmless)
        if now >= self._pooled_until:
            return None
        writer = self.writer
        if writer is not None:
            return writer if writer.alive else None
        if self._writer_wanted and now >= self._writer_wanted_at:
            self._writer_wanted = False
            # A pool's first rows come while the writer starts (10-40 ms): with every
            # thread busy, rows held for a batch ``delay`` later waited 25-45 ms for a
            # thread to write them; due at once, each lands within a few ms.
            self.starting_until = now + STARTING_FOR
            threading.Thread(target=self._start_writer, name="flowless-row-writer").start()
        return None

    def _start_writer(self) -> None:
        """Start the writer off the task's thread (rows held meanwhile are written here)."""
        statements = {kind: {n: sql(n) for n in SIZES} for kind, sql in self.statements.items()}
        self._writer_starts += 1
        try:
            writer = RowWriter(
                str(self.path),
                statements,
                self._written,
                self._hand_back,
                self._writer_gone,
            )
        except Exception as exc:
            self.starting_until = 0.0
            _log.warning(
                "flowless could not start its row writer (%s); rows are written by this process.",
                exc,
            )
            return
        with self.lock:
            if not self.closed and not self._stopping_writer:
                self.writer = writer
                return
        writer.close()

    def _send(self, k: _Key, row: tuple[Any, ...], now: float) -> int:
        """Keep a row sent to the writer (the caller holds ``lock``, and sends it)."""
        made = next(self._numbers)
        older = self.sent_keys.get(k)
        if older is not None:
            del self.sent[older]  # its answer no longer matters
        self.sent[made] = (k, row, now)
        self.sent_keys[k] = made
        return made

    def _unsend(self, k: _Key) -> tuple[Any, ...] | None:
        """A newer row for ``k`` is held here: the one sent is no longer the newest
        (the caller holds ``lock``); it is returned."""
        made = self.sent_keys.pop(k, None)
        return None if made is None else self.sent.pop(made)[1]

    def _sent_stalled(self, now: float) -> float:
        """Rows the writer has not answered for ``WRITER_STALL`` are held here again (the
        caller holds ``lock``); when the next one stalls."""
        stalled = []
        for made, (_k, _row, sent_at) in self.sent.items():  # the oldest first
            if sent_at + WRITER_STALL > now:
                break
            stalled.append(made)
        else:
            sent_at = _NEVER
        if stalled and self._held_again(stalled):
            due = now - self.delay  # due at once
            self.since = due if self.since is None else min(self.since, due)
        return sent_at + WRITER_STALL

    def _held_again(self, made: Iterable[int]) -> bool:
        """(The caller holds ``lock``.) Whether any row was held again."""
        back = False
        for m in made:
            sent = self.sent.pop(m, None)
            if sent is None:
                continue
            k, row, _sent_at = sent
            if self.sent_keys.get(k) == m:
                del self.sent_keys[k]
                self.held[k] = row  # (a newer row held here would have unsent this one)
                back = True
        return back

    def _written(self, made: list[int]) -> None:
        """The row writer committed these rows: forget those not sent again since."""
        with self.lock:
            for m in made:
                sent = self.sent.pop(m, None)
                if sent is None or self.sent_keys.get(sent[0]) != m:
                    continue  # a newer row was held or sent since: it is what counts
                del self.sent_keys[sent[0]]
                if self.writing and next(iter(self.writing)) < m:
                    # an older batch with this key may still be writing: if it fails,
                    # its row must not come back, nor be what in-process reads see
                    self.landed_early[m] = (sent[0],)
            if not (self.held or self.starts):
                self.since = None
            if not (self.writing or self.sent):
                self.takeover_at = _NEVER  # (it may have been a sent row's stall)
        self.on_wrote()

    def _hand_back(self, made: list[int] | None = None) -> None:
        """Rows the row writer will not write (``None``: all it has): due here now."""
        with self.lock:
            back = self._held_again(list(self.sent) if made is None else made)
            if back:
                now = time.monotonic() - self.delay
                self.since = now if self.since is None else min(self.since, now)
        if back:
            self.on_due()

    def _writer_gone(self, error: str | None) -> None:
        """The row writer ended: its rows are written here, now and from now on. If a
        write failed there (a full disk, a damaged file), it is reported as one that
        failed here, and retried here as one would be."""
        with self.lock:
            self.writer = None
            self.starting_until = 0.0
            expected = self._stopping_writer or self.closed
            if not expected and self._writer_starts < WRITER_STARTS:
                self._writer_wanted = True  # again, a while later
                self._writer_wanted_at = time.monotonic() + WRITER_RESTART
        if error is not None:
            failed = self.mapped("record task runs", sqlite3.OperationalError(error))
            self.retry_at = time.monotonic() + self.failures(failed, self.count())
        elif not expected:
            _log.warning(
                "flowless's row writer exited; this process writes the task runs it had%s.",
                " (it is started again in a few seconds)" if self._writer_wanted else "",
            )
        self._hand_back()

    def stop_writer(self, wait: float = 5.0) -> None:
        """Let the row writer commit what it has and exit (its answers are heard first);
        what it did not write is held here again."""
        with self.lock:
            self._stopping_writer = True
            self._writer_wanted = False
            writer, self.writer = self.writer, None
        if writer is not None:
            writer.close(wait)
        self._hand_back()

    def forget_writer(self) -> None:
        """In a forked child: the parent's writer is not ours."""
        writer, self.writer = self.writer, None
        self._writer_wanted = False
        if writer is not None:
            writer.forget()
