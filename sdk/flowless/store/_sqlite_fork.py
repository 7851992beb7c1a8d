"""What a ``fork()`` waits for in this process's SQLite stores, and lets go of after.

SQLite's in-process state is copied into a forked child as it was at the fork. A write
lock held then looks held forever to the child's connections; a call into SQLite
running then (without the GIL: a batch, a checkpoint, opening or closing a connection)
may hold one of SQLite's process-wide mutexes (its allocator's, its table of open
files), and the child's first ``sqlite3.connect`` waits forever (1 run in ~15 of a pool
forked while the flow's other tasks wrote). So before a fork: no store is being opened
(``opening``), and for each store no thread is inside SQLite (its batch connections
counted, ``_sqlite_held_conns``; its own connection and the committer's under their
locks), its locks are taken in the order every other thread takes them (the store's,
then its held rows'), and its open transaction is committed. After the fork, the locks
this hook took are let go, in both processes; the child never uses its copies of the
stores (the engine opens its own) and stops tracking them.

A connection must be closed with ``close()``, not left to the garbage collector: that
closes it in whichever thread collects, outside every lock here, perhaps while another
thread forks (the store's own failure paths close theirs while ``opening`` is held).
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from typing import TYPE_CHECKING

from flowless.exceptions import StoreError

if TYPE_CHECKING:
    from flowless.store._sqlite import SQLiteStore
    from flowless.store._sqlite_held import HeldRows

__all__ = ["opening", "track"]

#: Held while a store opens (its connection, schema, committer): a fork waits for it.
opening = threading.Lock()
_stores: weakref.WeakSet[SQLiteStore] = weakref.WeakSet()
#: What the hook took, so that only those are let go (a hook cut short takes less).
_taken: list[threading.Lock] = []
_quiesced: list[HeldRows] = []


def track(store: SQLiteStore) -> None:
    """Have forks wait for ``store`` (the caller holds ``opening``)."""
    _stores.add(store)


def _take(lock: threading.Lock) -> None:
    lock.acquire()
    _taken.append(lock)


def _before_fork() -> None:
    _take(opening)
    for store in list(_stores):
        writer = store._writer
        if writer is not None:
            _take(writer.checkpoint_lock)
            _quiesced.append(writer.rows)
            writer.rows.quiesce()
        _take(store._lock)
        if writer is not None:
            _take(writer.rows.lock)
        if not store._closed:
            with contextlib.suppress(StoreError):
                store._commit()


def _let_go() -> None:
    # taken off the shared lists first: once ``opening`` is let go (last), another
    # thread's fork may start filling them
    quiesced, taken = _quiesced[:], _taken[:]
    _quiesced.clear()
    _taken.clear()
    for rows in quiesced:
        rows.forking = False
    for lock in reversed(taken):
        lock.release()


def _after_fork_in_child() -> None:
    _let_go()
    for store in list(_stores):
        if store._writer is not None:
            store._writer.rows.forget_writer()
    _stores.clear()


os.register_at_fork(
    before=_before_fork, after_in_parent=_let_go, after_in_child=_after_fork_in_child
)
