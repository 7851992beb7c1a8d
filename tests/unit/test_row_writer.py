"""The row writer process (``flowless.store._sqlite_writer``): rows of a pooled flow reach
disk through it; when it dies, refuses a row, or fails, this process writes them, and a
forked child never keeps it alive."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from flowless import flow, task
from flowless.engine import current_runtime
from flowless.store import CacheEntry, Payload, _sqlite
from flowless.store._sqlite_held import HeldRows
from flowless.task_runners import ThreadPoolTaskRunner
from tests.records import task_run


def _store() -> _sqlite.SQLiteStore:
    store = current_runtime().store
    assert isinstance(store, _sqlite.SQLiteStore)
    return store


def _rows() -> HeldRows:
    writer = _store()._writer
    assert writer is not None
    return writer.rows


def _writer_pid() -> int:
    """The running writer's pid (it starts a moment after the first pooled row)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        writer = _rows().writer
        if writer is not None and writer.alive:
            return writer._proc.pid
        time.sleep(0.005)
    raise AssertionError("the row writer did not start")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # our own child: reap it if it has exited
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return True  # not ours to reap (not expected here)


def _states(home: Path) -> list[tuple[str, int]]:
    with sqlite3.connect(home / "flowless.db") as conn:
        return conn.execute("SELECT state_type, count(*) FROM task_runs GROUP BY 1").fetchall()


@task
def _double(i: int) -> int:
    return 2 * i


@flow(task_runner=ThreadPoolTaskRunner(max_workers=8))
def _pooled(n: int) -> int:
    return sum(f.result() for f in [_double.submit(i) for i in range(n)])


def test_a_pooled_flow_writes_through_the_writer_which_exits_with_the_store(
    flowless_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[int] = []
    original = HeldRows._written

    def counted(self: HeldRows, made: list[int]) -> None:
        written.extend(made)
        original(self, made)

    monkeypatch.setattr(HeldRows, "_written", counted)
    assert _pooled(3000) == 3000 * 2999
    assert len(written) > 1000  # most rows: the first ones go before it has started
    assert _states(flowless_home) == [("COMPLETED", 3000)]
    pid = _writer_pid()
    _close_store()
    assert not _alive(pid)


def _close_store() -> None:
    _store().close()


def test_a_killed_writer_loses_nothing(
    flowless_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    @task
    def kill_writer_at(i: int) -> int:
        if i == 1500:
            os.kill(_writer_pid(), signal.SIGKILL)
        return i

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=8))
    def pooled(n: int) -> int:
        futures = [kill_writer_at.submit(i) for i in range(n)]
        return sum(f.result() for f in futures)

    assert pooled(4000) == sum(range(4000))
    assert "row writer exited; this process writes the task runs it had" in capsys.readouterr().err
    assert _states(flowless_home) == [("COMPLETED", 4000)]
    assert _rows().writer is None and not _rows().sent


def test_a_row_the_writer_cannot_bind_is_written_here(
    flowless_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lone surrogate (from ``os.fsdecode``) in an error message: SQLite's binding
    refuses it in the writer; this process stores it as it always has."""

    name = os.fsdecode(b"x\xff")
    monkeypatch.setenv("FLOWLESS_LOGGING_LEVEL", "CRITICAL")  # xdist cannot send the lines

    @task
    def fails_at(i: int) -> int:
        if i % 500 == 7:
            raise ValueError(f"bad name {name}")
        return i

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=8))
    def pooled(n: int) -> None:
        for future in [fails_at.submit(i) for i in range(n)]:
            future.wait()

    pooled(3000)
    with sqlite3.connect(flowless_home / "flowless.db") as conn:
        failed = conn.execute(
            "SELECT state_message FROM task_runs WHERE state_type = 'FAILED'"
        ).fetchall()
    assert len(failed) == 6
    assert all("bad name x" in message for (message,) in failed)
    assert _rows().held == {}  # (answers for rows the flow run wrote may still come)


def test_a_forked_child_does_not_keep_the_writer_alive(flowless_home: Path) -> None:
    assert _pooled(2000) == 2000 * 1999
    pid = _writer_pid()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child only waits
        time.sleep(5)
        os._exit(0)
    try:
        _close_store()
        deadline = time.monotonic() + 3
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not _alive(pid)  # the child's copy of the pipe was closed at the fork
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)


def test_the_writer_is_not_used_for_a_sequential_flow(
    flowless_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One thread's rows are written by that thread: no process is started for them."""
    started: list[Any] = []
    monkeypatch.setattr(HeldRows, "_start_writer", lambda self: started.append(self))

    @flow
    def seq(n: int) -> int:
        return sum(_double(i) for i in range(n))

    assert seq(500) == 500 * 499
    assert started == []
    assert _states(flowless_home) == [("COMPLETED", 500)]


def _entry(n: int, size: int = 10) -> CacheEntry:
    return CacheEntry(f"key-{n}", Payload("json", b"1" * size), 1000.0 + n)


def _entries(path: Path) -> int:
    reader = sqlite3.connect(path)
    try:
        (count,) = reader.execute("SELECT count(*) FROM cache_entries").fetchone()
        return int(count)
    finally:
        reader.close()


def _started(store: _sqlite.SQLiteStore) -> HeldRows:
    """The store's held rows, sending to a started writer (as under a pool)."""
    assert store._writer is not None
    rows = store._writer.rows
    rows._pooled_until = float("inf")  # as if rows came from several threads
    rows._writer(time.monotonic())
    deadline = time.monotonic() + 10
    while not (rows.writer is not None and rows.writer.alive):
        assert time.monotonic() < deadline, "the row writer did not start"
        time.sleep(0.005)
    return rows


def _answered(rows: HeldRows, within: float) -> bool:
    deadline = time.monotonic() + within
    while rows.pending():  # (held, sent, or in a batch being written)
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


def test_a_row_right_after_a_commit_is_written_without_waiting_for_another(
    tmp_path: Path,
) -> None:
    """The writer commits at most every 2 ms; a row that comes within those 2 ms is
    committed once they pass, not when the next row comes (nor at the takeover)."""
    store = _sqlite.SQLiteStore(tmp_path / "x.db")
    try:
        rows = _started(store)
        for n in range(20):
            store.write_cache_entry(_entry(n))
            assert _answered(rows, 0.25), f"row {n} waited"  # the takeover is at 0.5 s
    finally:
        store.close()
    assert _entries(tmp_path / "x.db") == 20


def test_a_stopped_writer_blocks_no_thread_and_its_rows_are_taken_over(tmp_path: Path) -> None:
    """Frozen (SIGSTOP): its pipe fills, and rows that do not fit are written here at
    once; rows it has are taken over after WRITER_STALL; then nothing is due (the
    committer does not spin on the rows it took over)."""
    store = _sqlite.SQLiteStore(tmp_path / "x.db")
    rows = _started(store)
    assert rows.writer is not None
    pid = rows.writer._proc.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        done = threading.Event()

        def hold_many() -> None:
            for n in range(6000):  # ~3 MB of frames: three times the pipe
                store.write_cache_entry(_entry(n, 400))
            done.set()

        threading.Thread(target=hold_many, daemon=True).start()
        assert done.wait(20), "a thread blocked on the stopped writer's pipe"
        assert _answered(rows, 10)
        assert rows.due() is None and not rows.sent
        assert _entries(tmp_path / "x.db") == 6000
    finally:
        os.kill(pid, signal.SIGCONT)
        store.close()


def test_a_closed_writer_leaves_its_descriptor_on_dev_null(tmp_path: Path) -> None:
    """A send racing close() can never write into a file that reused the number."""
    store = _sqlite.SQLiteStore(tmp_path / "x.db")
    rows = _started(store)
    writer = rows.writer
    assert writer is not None
    store.close()
    assert os.readlink(f"/proc/self/fd/{writer._in}") == os.devnull
    assert writer.send(1, "log", ("x",)) is False


def _task_run_ids(path: Path) -> set[str]:
    reader = sqlite3.connect(path)
    try:
        return {row[0] for row in reader.execute("SELECT id FROM task_runs")}
    finally:
        reader.close()


def _ended_on(store: _sqlite.SQLiteStore, run_id: str) -> None:
    store.finish_task_run(task_run(run_id), new=True)


@pytest.mark.parametrize("pooled", [True, False])
def test_rows_held_while_the_writer_starts_are_written_at_once(
    tmp_path: Path, pooled: bool
) -> None:
    """A pool's first rows end while the writer process starts (10-40 ms): held for a
    batch ``delay`` later, with every thread busy, they waited 25-45 ms for one to write
    them (``bench/commit_lag.py``). Meanwhile they are due at once. One thread's rows
    still wait for their batch."""
    store = _sqlite.SQLiteStore(tmp_path / "start.db")
    assert store._writer is not None
    store._writer.rows.delay = 5.0  # a batch waits this long: anything sooner is "at once"
    try:
        _ended_on(store, "first")
        if pooled:  # a second thread's row: a pool, and the writer is asked for
            other = threading.Thread(target=_ended_on, args=(store, "second"))
            other.start()
            other.join()
            assert _task_run_ids(tmp_path / "start.db") == {"first", "second"}
            # the writer it asked for is up before the store closes (no thread of this
            # test is left starting a process while a later test forks)
            rows = store._writer.rows
            deadline = time.monotonic() + 10
            while not (rows.writer is not None and rows.writer.alive):
                assert time.monotonic() < deadline, "the row writer did not start"
                time.sleep(0.005)
        else:
            _ended_on(store, "second")
            assert _task_run_ids(tmp_path / "start.db") == set()
    finally:
        store.close()
    assert _task_run_ids(tmp_path / "start.db") == {"first", "second"}
