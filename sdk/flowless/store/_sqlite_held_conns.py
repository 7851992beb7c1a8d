"""The batch writers' connections, a mixin of ``HeldRows`` (``_sqlite_held``): borrowed
by a thread for one batch and given back, as many as ever wrote at once (a connection
caches up to 2 MB of prepared statements: one per thread was 16 of them), pruned when
a flow run's pool is done, and closed only once no writer is inside SQLite with one.
Also the checkpoint a writer runs right after its batch, when asked or when the WAL has
grown past twice the committer's mark.

Every call into SQLite on these connections (connect, a batch, a checkpoint, close) is
made with an entry in ``_out``, so ``fork()`` can wait for none to be inside SQLite
(``quiesce``, from ``_sqlite_fork``): such a call runs without the GIL and may hold one
of SQLite's process-wide mutexes, which would stay held forever in the child.
"""

from __future__ import annotations

import os
import queue
import sqlite3
import threading
import time
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

from flowless.exceptions import StoreError
from flowless.store._sqlite_writer import tune

__all__ = ["BUSY_WAIT", "BatchConnections"]

#: How long a batch waits inside SQLite for another writer (SQLite's busy handler sleeps
#: 1, 2, 2 ms: a batch of 128 rows writes in ~1-2 ms). Past that, it gives its rows up
#: for the next writer rather than sleep longer; inside SQLite it needs no GIL.
BUSY_WAIT = 0.005


class BatchConnections:
    """See the module docstring."""

    if TYPE_CHECKING:  # HeldRows' own
        path: Path
        wal: str
        wal_size: int
        checkpoint_bytes: int
        lock: threading.Lock
        closed: bool
        restart_wanted: bool

        def stop_writer(self, wait: float = 5.0) -> None: ...

    def _init_connections(self) -> None:
        self._idle: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._conns: list[sqlite3.Connection] = []
        self._out: list[None] = []  # one entry per connection a writer has borrowed
        self.forking = False  # set around fork(): no new call into SQLite starts

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        self.restart_wanted = False  # once per request: the committer asks again
        with suppress(sqlite3.OperationalError):  # busy: another is checkpointing
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def _wal_too_large(self) -> bool:
        """Twice the size the committer acts at: it is waiting for its turn at the GIL
        (sixteen busy threads can keep it waiting half a second), so a writer acts."""
        try:
            self.wal_size = os.stat(self.wal).st_size
        except OSError:
            return False
        return self.wal_size > 2 * self.checkpoint_bytes

    def _enter(self) -> None:
        """An entry in ``_out`` for a call into SQLite, once no fork is under way."""
        # no lock here (a thread waiting for a lock waits for the GIL again): appending
        # to a list is atomic, and close() and quiesce() set their flag before they count
        while True:
            self._out.append(None)
            if self.closed:
                self._out.pop()
                raise StoreError(f"Store {str(self.path)!r} is closed.")
            if not self.forking:
                return
            self._out.pop()
            while self.forking:
                time.sleep(0.0005)

    def quiesce(self) -> None:
        """Wait until no thread is inside SQLite on a batch connection, and let none
        start one until ``forking`` is cleared (before ``fork()``)."""
        self.forking = True
        while self._out:
            time.sleep(0.0005)

    def _borrow(self) -> sqlite3.Connection:
        """An idle batch connection, or a new one (with a short busy timeout: see
        ``BUSY_WAIT``)."""
        self._enter()
        conn = None
        try:
            try:
                return self._idle.get_nowait()
            except queue.Empty:
                pass
            conn = sqlite3.connect(
                self.path, timeout=BUSY_WAIT, isolation_level=None, check_same_thread=False
            )
            tune(conn)
            with self.lock:
                self._conns.append(conn)
            return conn
        except BaseException:  # (even Ctrl-C: a count never taken back stops every fork)
            if conn is not None:
                with self.lock:
                    if conn in self._conns:
                        self._conns.remove(conn)
                conn.close()  # now, while counted: not by the garbage collector later
            self._out.pop()
            raise

    def _give_back(self, conn: sqlite3.Connection) -> None:
        self._idle.put(conn)
        self._out.pop()

    def prune(self, keep: int = 2) -> None:
        """Close idle batch connections beyond ``keep`` (a finished flow run's pool)."""
        if self._idle.qsize() <= keep:
            return
        try:
            self._enter()  # closing is a call into SQLite too
        except StoreError:
            return  # closed: close() closes them
        try:  # (from here on: a count never taken back stops every fork)
            spare: list[sqlite3.Connection] = []
            with suppress(queue.Empty):
                while True:
                    spare.append(self._idle.get_nowait())
            for conn in spare[:keep]:
                self._idle.put(conn)
            for conn in spare[keep:]:
                with self.lock:
                    if conn not in self._conns:
                        continue  # close() has it
                    self._conns.remove(conn)
                conn.close()
        finally:
            self._out.pop()

    def close(self, wait: float = 5.0) -> None:
        """Close every batch connection once no writer is using one (closing one in use
        by another thread can crash the process)."""
        deadline = time.monotonic() + wait
        self.stop_writer(wait)
        with self.lock:
            self.closed = True
        while self._out and time.monotonic() < deadline:
            time.sleep(0.001)
        with self.lock:
            if self._out:
                return  # a writer is stuck in SQLite: leave its connections to the exit
            conns, self._conns = self._conns, []
        for conn in conns:
            with suppress(sqlite3.Error):
                conn.close()
