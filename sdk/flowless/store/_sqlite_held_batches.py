"""Claiming and landing batches of held rows, a mixin of ``HeldRows`` (``_sqlite_held``,
whose docstring says why rows are written this way).

A batch is claimed whole: the dict of held rows is taken and an empty one left, so a
row costs nothing here however it ends. Batches are numbered in the order they were
first claimed, which is the order of their rows' age; a stalled batch is written again
under its own number. Everything here but ``write_batch`` (the statements, called
outside the lock) runs under ``HeldRows.lock`` and never calls into SQLite.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Collection, Iterator
from typing import TYPE_CHECKING, Any

from flowless.store._sqlite_rows import write_chunk

__all__ = ["BATCHES", "STALL", "STALL_IN_SQLITE", "BatchClaims"]

#: Rows per statement (the last row repeated to fill one, which writes nothing new), so a
#: handful of statements are prepared once per connection. A batch claims at most the
#: largest, and rows are due as soon as that many are held: one statement per kind, so
#: its rows never wait between two calls into SQLite (a prepared statement of 1,024 rows
#: costs ~2.3 MB per connection).
BATCHES = (1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128)
_FULL = BATCHES[-1]
#: A claim older than this is taken over: its writer lost the GIL before reaching SQLite
#: (a batch of 128 rows is in SQLite ~0.3 ms after it is claimed when nothing interrupts).
STALL = 0.003
#: The same for a batch already in SQLite: it lands without the GIL, and is only late if
#: SQLite refused it (another connection was writing) and its writer waits for its turn.
STALL_IN_SQLITE = 0.025

_NEVER = float("inf")

_Key = tuple[str, str]
_Rows = dict[_Key, tuple[Any, ...]]


class _Batch:
    """A claimed batch: its rows (never changed once claimed), when it was claimed, when
    its writer went into SQLite (0: not yet), and for a batch of everything (flush,
    close, a flow run's write: never taken over, its caller waits for it) the older
    batches whose rows it holds too (landing it lands them)."""

    __slots__ = ("claimed", "covers", "entered", "rows")

    def __init__(self, rows: _Rows, claimed: float, covers: tuple[int, ...] | None = None) -> None:
        self.rows = rows
        self.claimed = claimed
        self.entered = 0.0
        self.covers = covers


class BatchClaims:
    """Batches in ``HeldRows`` (see the module docstring)."""

    if TYPE_CHECKING:  # HeldRows' own
        statements: dict[str, Callable[[int], str]]
        delay: float
        on_due: Callable[[], None]
        lock: threading.Lock
        held: _Rows
        starts: dict[_Key, tuple[tuple[Any, ...], float]]
        writing: dict[int, _Batch]
        landed_early: dict[int, Collection[_Key]]
        since: float | None
        takeover_at: float
        closed: bool
        sent: dict[int, tuple[_Key, tuple[Any, ...], float]]
        sent_keys: dict[_Key, int]
        _numbers: Iterator[int]
        _threads: int

        def _sent_stalled(self, now: float) -> float: ...

    def _take(self, everything: bool = False, after: float | None = None) -> tuple[int, _Rows]:
        """Claim a batch: a stalled one again; else, once the oldest unclaimed row is
        ``after`` (default: the delay) old or a statement's worth is held, the held rows
        (at most ``BATCHES[-1]``), starts ``delay`` old among them. ``everything``: the
        newest row of every key not known to be on disk, whatever claims it."""
        now = time.monotonic()
        with self.lock:
            if self.closed:
                return -1, {}
            if everything:
                return self._take_everything(now)
            takeover, stalled = _NEVER, -1
            for number, batch in self.writing.items():
                if batch.covers is not None:
                    continue  # flush, close, a flow run's write: their callers wait for it
                entered = batch.entered
                until = entered + STALL_IN_SQLITE if entered else batch.claimed + STALL
                if until > now:
                    takeover = min(takeover, until)
                elif stalled < 0:
                    stalled = number
                else:
                    takeover = now  # another one stalled: the next writer takes it
            if self.sent:
                takeover = min(takeover, self._sent_stalled(now))
            next_since = _NEVER
            starts = self.starts
            if starts:
                young = now - self.delay
                for k, (row, held_at) in list(starts.items()):
                    if held_at <= young:  # running ``delay``: written like any row
                        del starts[k]
                        self.held[k] = row
                    else:
                        next_since = min(next_since, held_at)
            held, since = self.held, self.since
            wait = self.delay if after is None else after
            number, rows = -1, {}
            if stalled >= 0:
                # written again, whole, under its own number (the order batches were
                # claimed in stays the order of their rows' age)
                batch = self.writing[stalled]
                batch.claimed, batch.entered = now, 0.0
                number, rows = stalled, batch.rows
                if held and since is not None:
                    next_since = min(next_since, since)
            elif held and (len(held) >= _FULL or (since is not None and since + wait <= now)):
                if len(held) <= _FULL:
                    rows, self.held = held, {}
                else:
                    rows = dict(itertools.islice(held.items(), _FULL))
                    for k in rows:
                        del held[k]
                    next_since = now - self.delay  # more is due than one statement holds
                number = next(self._numbers)
                self.writing[number] = _Batch(rows, now)
            elif held:
                next_since = min(next_since, since if since is not None else now)
            if rows:
                takeover = min(takeover, now + STALL)  # if this batch stalls
                if self._threads > 1:
                    # rows come from several threads (a pool): the rows held next are
                    # written soon too, in small batches, as one more writer is likely
                    # to lose its turn at the GIL
                    next_since = min(next_since, now + STALL - self.delay)
            self._threads = 0
            self.since = None if next_since == _NEVER else next_since
            self.takeover_at = takeover
            return number, rows

    def _take_everything(self, now: float) -> tuple[int, _Rows]:
        """(The caller holds ``lock``.) Older rows first, so the newest of a key wins: a
        batch claimed later, a row sent since, a start, a held row are each newer."""
        rows: _Rows = {}
        covers = tuple(self.writing)
        early = self.landed_early
        for number in sorted(early.keys() | self.writing.keys()):
            batch = self.writing.get(number)
            if batch is not None:
                rows.update(batch.rows)
            else:  # landed: its rows' newest are on disk
                for k in early[number]:
                    rows.pop(k, None)
        for k, row, _sent_at in self.sent.values():
            rows[k] = row
        self.sent.clear()  # taken over: their answers no longer matter
        self.sent_keys.clear()
        for k, (row, _held_at) in self.starts.items():
            rows[k] = row
        self.starts = {}
        rows.update(self.held)
        self.held = {}
        self._threads = 0
        self.since = None
        number = next(self._numbers)
        self.writing[number] = _Batch(rows, now, covers)
        return number, rows

    def _landed(self, number: int, written: Collection[_Key] | None = None) -> None:
        """Batch ``number`` is done: dropped if every row was ``written`` (None: all of
        them); rows not written are held again unless something newer is known."""
        with self.lock:
            batch = self.writing.pop(number, None)
            if batch is None:
                return  # written by another writer too, or put back by it
            for older in batch.covers or ():
                self.writing.pop(older, None)  # their rows' newest are on disk now
            if written is None or len(written) == len(batch.rows):
                if self.writing and next(iter(self.writing)) < number:
                    self.landed_early[number] = batch.rows
                self._forget_early()
                if not (self.held or self.starts):
                    self.since = None
                if not (self.writing or self.sent):
                    self.takeover_at = _NEVER
                return
            if written:
                self.landed_early[number] = written
            newer: list[Collection[_Key]] = [b.rows for n, b in self.writing.items() if n > number]
            newer.extend(keys for n, keys in self.landed_early.items() if n > number)
            held, starts, sent = self.held, self.starts, self.sent_keys
            for k, row in batch.rows.items():
                if k in written or k in held or k in starts or k in sent:
                    continue
                if any(k in keys for keys in newer):
                    continue
                held[k] = row
            self._forget_early()
            if not held:
                return
            # rows not written are due again soon (a busy writer is done in ~1 ms)
            soon = time.monotonic() - self.delay + STALL / 3
            self.since = min(self.since or soon, soon)
        self.on_due()  # the committer may be asleep with nothing due when it looked

    def _forget_early(self) -> None:
        """Batches that landed early matter only while an older one is being written."""
        if self.landed_early:
            oldest = next(iter(self.writing), None)
            for n in [n for n in self.landed_early if oldest is None or n < oldest]:
                del self.landed_early[n]

    def _writing_row(self, k: _Key) -> tuple[Any, ...] | None:
        """The newest row for ``k`` in a batch being written, unless a newer batch with
        one has landed already (the caller holds ``lock``)."""
        found, row = -1, None
        for number, batch in reversed(self.writing.items()):  # the newest first
            row = batch.rows.get(k)
            if row is not None:
                found = number
                break
        for number, keys in self.landed_early.items():
            if number > found and k in keys:
                return None  # on disk
        return row

    def write_batch(
        self,
        batch: _Rows,
        execute: Callable[[str, tuple[Any, ...]], Any],
        done: list[Collection[_Key]] | None = None,
    ) -> None:
        """Rows of every kind, many per statement; raises ``sqlite3.Error``. The keys
        of each statement that landed are added to ``done``."""
        kinds = {k[0] for k in batch}
        if len(kinds) == 1 and len(batch) <= _FULL:  # (a batch claimed by ``_take``, mostly)
            for kind in kinds:
                write_chunk(execute, self.statements[kind], list(batch.values()), BATCHES)
            if done is not None:
                done.append(batch)
            return
        for kind, statement in self.statements.items():  # (in a fixed order)
            if kind not in kinds:
                continue
            keys = [k for k in batch if k[0] == kind]
            for first in range(0, len(keys), _FULL):
                chunk = keys[first : first + _FULL]
                write_chunk(execute, statement, [batch[k] for k in chunk], BATCHES)
                if done is not None:
                    done.append(chunk)
