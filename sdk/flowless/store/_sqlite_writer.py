"""The row writer: a small process that writes held rows to the embedded store, so how
soon a finished task run is on disk no longer depends on this process's GIL or its
garbage collector.

Why a process: with sixteen busy threads a thread that lets go of the GIL waits tens of
milliseconds for it back, and a full collection over 20,000 live futures stops every
thread for 100-250 ms. Any writer *thread* inherits both, so rows waited up to 0.5 s
(``bench/commit_lag.py``). A task thread now only sends its row down a pipe (a few
microseconds, one ``write()``); the writer, with its own interpreter and almost no
objects, commits whatever has arrived as soon as it has drained the pipe.

Nothing is trusted to it: a row stays held in this process (``_sqlite_held``) until
the writer says it committed it, and the in-process writers take over a row the writer
has not answered for within ``STALL``, every row when the writer dies or fails (a full
disk, a damaged file: the in-process path then reports it as before), and rows too big
for one atomic pipe write. If this process is killed, the writer still commits what it
was sent: it stops only when the pipe closes and is drained.

The same file is the writer's program (``python -I -S _sqlite_writer.py DB``): it
imports nothing outside the standard library, so it starts in ~15 ms, and nothing is
unpickled (``marshal`` of plain tuples).
"""

from __future__ import annotations

import array
import fcntl
import marshal
import os
import select
import signal
import sqlite3
import struct
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable
from contextlib import suppress
from typing import Any

__all__ = ["FRAME_LIMIT", "JOURNAL_SIZE_LIMIT", "SIZES", "RowWriter", "tune"]

#: A frame up to this size is written to the pipe in one piece (``PIPE_BUF``: 4 KiB on
#: Linux, 512 bytes on macOS), so frames from many threads never interleave; larger rows
#: stay with the in-process writers.
FRAME_LIMIT = getattr(select, "PIPE_BUF", 512)
_LEN = struct.Struct("!I")
#: How long the writer waits for the lock another connection holds before giving up
#: (then every row goes back to the in-process writers, which report it).
_BUSY = 10.0
#: Control frame: checkpoint after the next commit (``made`` of -1).
_CHECKPOINT = -1
#: Rows per statement the writer uses (largest first): one statement of many rows costs
#: about what one of a single row does, and a large batch is at most a few statements.
SIZES = (128, 32, 8, 1)
#: At most one commit per this long (a commit costs ~0.1 ms however few rows it has:
#: committing each row as it came kept the writer busy and late under a steady stream).
GAP = 0.002
#: Size the WAL file is cut back to when SQLite starts it over. A per-connection
#: setting, obeyed by the connection whose write starts the WAL over: set on every
#: connection that writes (when only one had it, the file never shrank, and every look
#: at its size asked for another checkpoint, each an fsync: 10-15% of a sequential run).
JOURNAL_SIZE_LIMIT = 4 * 1024 * 1024


def tune(conn: sqlite3.Connection) -> None:
    """The settings of every connection that writes to a store: commits not fsynced
    (``synchronous=NORMAL`` in WAL mode loses at most the last commits on power loss,
    never consistency), no automatic checkpoints (they would fsync on the writer's
    thread: the committer runs them, ``_sqlite_commit``), a WAL cut back when restarted;
    and None bound directly (``bind_directly``)."""
    bind_directly()
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")


#: An adapter that gives back None for any value, without a Python frame.
_NULL: Callable[[Any], None] = {}.get


def bind_directly() -> None:
    """Bind None and bytes without sqlite3's adapter search, on Python 3.11. Its sqlite3
    binds int, float, str and bytearray as they are and looks any other value up as an
    adapter, None and bytes included: the registry, then ``__adapt__`` on the protocol,
    whose absence raises an ``AttributeError`` that is then cleared (~0.17 us a value;
    3.12 looks it up without raising, and gains nothing from this). A task-run row binds
    four Nones (message, cache key, result location, child flow run) and its result's
    bytes: ~0.8 us of the row's ~3.4 us in SQLite (``bench/overhead.py``'s rows, 128 a
    statement). An adapter registered for the type is found first: for None one that
    returns None, which binds as NULL; for bytes ``bytes`` itself, which returns the
    very object (a subclass of bytes is looked up as before). The registry is the
    process's, so this is done when a store first opens a connection that writes, not
    when flowless is imported: a user's sqlite3 then sees ``sqlite3.adapt(None)`` return
    None (and ``adapt(b"")`` its bytes) instead of raising "can't adapt"; binding and
    reading are unchanged. A user's own adapter, registered before, is left alone, and
    one registered after takes its place."""
    if sys.version_info >= (3, 12):
        return
    adapters = getattr(sqlite3, "adapters", {})
    if (type(None), sqlite3.PrepareProtocol) not in adapters:
        sqlite3.register_adapter(type(None), _NULL)
    if (bytes, sqlite3.PrepareProtocol) not in adapters:
        sqlite3.register_adapter(bytes, bytes)


class RowWriter:
    """This process's end of one writer process: ``send`` rows, hear which landed."""

    def __init__(
        self,
        path: str,
        statements: dict[str, dict[int, str]],
        on_written: Callable[[list[int]], None],
        on_refused: Callable[[list[int]], None],
        on_gone: Callable[[str | None], None],
    ) -> None:
        self.alive = False
        self._closing = False
        self._on_written, self._on_refused, self._on_gone = on_written, on_refused, on_gone
        self._proc = subprocess.Popen(
            [sys.executable, "-I", "-S", __file__, path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        stdin, stdout = self._proc.stdin, self._proc.stdout
        assert stdin is not None
        assert stdout is not None
        self._in, self._out = stdin.fileno(), stdout.fileno()
        self._retired = False
        with suppress(OSError, AttributeError):  # room for bursts (Linux); 64 KiB if not
            fcntl.fcntl(self._in, fcntl.F_SETPIPE_SZ, 1 << 20)
        # a full pipe (the writer waits for another connection's lock, or the disk) must
        # not stop the task threads: a row that does not fit is handed back at once
        os.set_blocking(self._in, False)
        _live.add(self)
        #: Set once the writer has opened the database (rows sent before would wait for
        #: its start, ~40 ms: they are written here meanwhile).
        self.alive = False
        self._write(marshal.dumps(statements))
        self._reader = threading.Thread(target=self._listen, name="flowless-row-acks", daemon=True)
        self._reader.start()

    def send(self, made: int, kind: str, params: tuple[Any, ...]) -> bool:
        """Pass one row on; False if it must stay with the in-process writers."""
        if not self.alive:
            return False
        try:
            frame = marshal.dumps((made, kind, params))
        except ValueError:  # not a plain value (never expected): written in-process
            return False
        if len(frame) + _LEN.size > FRAME_LIMIT:
            return False
        return self._write(frame)

    def checkpoint(self) -> None:
        """Ask for a passive checkpoint after the next commit (see ``_sqlite_commit``)."""
        if self.alive:
            self._write(marshal.dumps((_CHECKPOINT, "", ())))

    def _write(self, frame: bytes) -> bool:
        try:
            os.write(self._in, _LEN.pack(len(frame)) + frame)
        except BlockingIOError:  # the pipe is full: the writer is behind, not gone
            return False
        except (OSError, ValueError):  # the writer is gone
            self.alive = False
            return False
        return True

    def _retire_input(self) -> None:
        """Close the writer's input (it commits what it has and exits) without freeing the
        descriptor's number: a send racing this writes to ``/dev/null``, never into a
        file that reused the number (a database, say)."""
        if self._retired:
            return
        self._retired = True
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, self._in)
        finally:
            os.close(null)

    def _listen(self) -> None:
        """Hear what the writer did; when it ends, hand everything back (``on_gone``, with
        the SQLite error that stopped it, if one did)."""
        why: str | None = None
        buffer = b""
        try:
            while True:
                chunk = os.read(self._out, 1 << 16)
                if not chunk:
                    break
                buffer += chunk
                while len(buffer) >= 5:
                    tag, size = buffer[:1], _LEN.unpack_from(buffer, 1)[0]
                    if len(buffer) < 5 + size:
                        break
                    body, buffer = buffer[5 : 5 + size], buffer[5 + size :]
                    if tag == b"R":
                        self.alive = not self._closing
                        continue
                    if tag == b"E":
                        why = body.decode("utf-8", "replace")
                        continue
                    made = array.array("q")
                    made.frombytes(body)
                    (self._on_written if tag == b"A" else self._on_refused)(made.tolist())
        except OSError:
            pass  # as if it had exited
        finally:
            self.alive = False
            if not self._closing:  # it died: reap it, and let go of its pipes
                self._retire_input()
                with suppress(subprocess.TimeoutExpired):
                    self._proc.wait(1.0)
            self._on_gone(why)

    def close(self, wait: float = 5.0) -> None:
        """Let the writer commit what it has and exit; its answers are heard before this
        returns (or ``wait`` passes: then it is killed, and ``on_gone`` hands back)."""
        self._closing = True
        self.alive = False
        self._retire_input()
        try:
            self._proc.wait(wait)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._reader.join(wait)
        with suppress(OSError):
            self._proc.stdout.close()  # type: ignore[union-attr]

    def forget(self) -> None:
        """In a forked child: drop this process's copies of the pipes (the parent's writer
        must see its input close when the parent closes it), and never use them."""
        self._closing = True
        self.alive = False
        self._retire_input()
        null = os.open(os.devnull, os.O_RDONLY)
        try:
            os.dup2(null, self._out)
        finally:
            os.close(null)


#: Every writer this process started: a forked child lets go of their pipes, even of one
#: still starting (its store does not know it yet).
_live: weakref.WeakSet[RowWriter] = weakref.WeakSet()


def _forget_in_child() -> None:
    for writer in list(_live):
        with suppress(OSError):
            writer.forget()
    _live.clear()


os.register_at_fork(after_in_child=_forget_in_child)


# -- the writer process ---------------------------------------------------------------


def _reply(tag: bytes, body: bytes) -> None:
    with suppress(OSError):  # the flow's process is gone: commit the rest all the same
        os.write(1, tag + _LEN.pack(len(body)) + body)


def _frames(data: bytearray) -> list[Any]:
    """Whole frames off the front of ``data``."""
    out, at = [], 0
    while len(data) - at >= _LEN.size:
        size = _LEN.unpack_from(data, at)[0]
        if len(data) - at - _LEN.size < size:
            break
        out.append(marshal.loads(bytes(data[at + _LEN.size : at + _LEN.size + size])))
        at += _LEN.size + size
    del data[:at]
    return out


def _read_available(data: bytearray, block: bool = True) -> bool:
    """Take all the input there is (waiting for some first if ``block``); False at end
    of input."""
    if block:
        select.select([0], [], [])
    got_any = False
    while True:
        try:
            chunk = os.read(0, 1 << 20)
        except BlockingIOError:
            return True
        if not chunk:
            return got_any
        got_any = True
        data += chunk


def _serve(path: str) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the flow, not its rows
    os.set_blocking(0, False)
    data = bytearray()
    header: Any = None
    while header is None:
        more = _read_available(data)
        frames = _frames(data)
        if frames:
            header, rest = frames[0], frames[1:]
        elif not more:
            return 0
    statements = header
    conn = sqlite3.connect(path, timeout=_BUSY, isolation_level=None)
    tune(conn)
    _reply(b"R", b"")
    pending: list[Any] = rest
    last = 0.0
    more = True
    while True:
        if pending:
            try:
                _commit(conn, statements, pending)
            except sqlite3.Error as exc:
                _reply(b"E", str(exc).encode())
                return 1
        if not more:
            return 0
        more = _read_available(data)
        wait = last + GAP - time.monotonic()
        if more and wait > 0:  # let a few more rows come: one commit for all of them
            time.sleep(wait)
            more = _read_available(data, block=False)
        last = time.monotonic()
        pending = _frames(data)


def _commit(
    conn: sqlite3.Connection, statements: dict[str, dict[int, str]], rows: list[Any]
) -> None:
    """Every row in one transaction, many per statement, kind by kind (rows of one key
    keep their order; a task run's ``write_seq`` settles any other)."""
    written, refused = array.array("q"), array.array("q")
    checkpoint = any(made == _CHECKPOINT for made, _, _ in rows)
    conn.execute("BEGIN IMMEDIATE")
    try:
        for kind, sql in statements.items():
            of_kind = [(made, params) for made, k, params in rows if k == kind]
            at = 0
            while at < len(of_kind):
                size = next(n for n in SIZES if n <= len(of_kind) - at)
                chunk, at = of_kind[at : at + size], at + size
                if _execute(conn, sql[size], chunk):
                    written.extend(made for made, _ in chunk)
                    continue
                for one in chunk:  # one row in it cannot be bound: find which
                    (written if _execute(conn, sql[1], [one]) else refused).append(one[0])
        refused.extend(made for made, k, _ in rows if k not in statements and made >= 0)
        conn.execute("COMMIT")
    except BaseException:
        with suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    if refused:
        _reply(b"X", refused.tobytes())
    if written:
        _reply(b"A", written.tobytes())
    if checkpoint:
        with suppress(sqlite3.OperationalError):  # busy: another is checkpointing
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def _execute(conn: sqlite3.Connection, sql: str, rows: list[tuple[int, Any]]) -> bool:
    """False if a value cannot be bound (a lone surrogate in some text): the in-process
    writers know how to store it, or say why not."""
    try:
        conn.execute(sql, [v for _, params in rows for v in params])
    except (UnicodeEncodeError, ValueError, OverflowError, TypeError):
        return False
    return True


if __name__ == "__main__":
    sys.exit(_serve(sys.argv[1]))
