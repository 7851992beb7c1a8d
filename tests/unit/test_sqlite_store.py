"""SQLite-specific behaviour behind the contract: group commit and deferred starts."""

from __future__ import annotations

import contextlib
import faulthandler
import itertools
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from flowless import flow, task
from flowless.exceptions import StoreError
from flowless.states import StateType
from flowless.store import (
    FlowRunRecord,
    LogLine,
    SQLiteStore,
    Store,
    TaskRunRecord,
    _sqlite_writer,
)
from flowless.store._sqlite_commit import GroupCommit
from tests.records import task_run


def _record(run_id: str, state: StateType) -> TaskRunRecord:
    return task_run(run_id, state, start_time=1.0)


def _other_process_view(db: Path) -> list[tuple[str, str]]:
    """What another process sees: a separate connection, committed data only."""
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT id, state_type FROM task_runs ORDER BY id").fetchall()


def test_writes_commit_within_the_delay(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    store.finish_task_run(_record("a", StateType.COMPLETED))
    deadline = time.monotonic() + 2
    while not _other_process_view(store.path) and time.monotonic() < deadline:
        time.sleep(0.005)
    assert _other_process_view(store.path) == [("a", "COMPLETED")]
    store.close()


def test_a_row_left_when_its_thread_goes_quiet_is_written_by_the_committer(
    tmp_path: Path,
) -> None:
    """The thread writes its own batch, holds one more row and stops calling in (a long
    task body): the committer writes that row."""
    store = SQLiteStore(tmp_path / "s.db")
    writer = store._writer
    assert writer is not None
    for run_id in "ab":
        store.start_task_run(_record(run_id, StateType.RUNNING))
    store.finish_task_run(_record("a", StateType.COMPLETED))
    writer.rows.write(everything=True)  # as a task thread writes its batch
    assert writer.rows.wrote
    store.finish_task_run(_record("b", StateType.COMPLETED))  # and then goes quiet
    landed = [("a", "COMPLETED"), ("b", "COMPLETED")]
    deadline = time.monotonic() + 5
    while _other_process_view(store.path) != landed and time.monotonic() < deadline:
        time.sleep(0.005)
    assert _other_process_view(store.path) == landed
    store.close()


def test_the_committer_looks_while_a_threads_batch_is_in_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each batch a thread writes wakes the committer as it goes into SQLite (the GIL is
    free then), so its own timer only fires when no thread writes: waking on its own,
    it waited for the GIL while every kernel call of the task threads woke it."""
    monkeypatch.setattr(GroupCommit, "IDLE_GRACE", 60.0)  # its own timer: far away
    store = SQLiteStore(tmp_path / "s.db")
    writer = store._writer
    assert writer is not None
    looks: list[float] = []
    step = writer._step

    def counted(checkpointer: sqlite3.Connection | None) -> sqlite3.Connection | None:
        looks.append(time.monotonic())
        return step(checkpointer)

    monkeypatch.setattr(writer, "_step", counted)
    store.finish_task_run(_record("a", StateType.COMPLETED), new=True)  # wakes it: due...
    deadline = time.monotonic() + 5
    while not looks and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.05)  # ...in 60 s: it sleeps
    before = len(looks)
    writer.rows.write(everything=True)  # a thread's batch
    deadline = time.monotonic() + 5
    while len(looks) == before and time.monotonic() < deadline:
        time.sleep(0.005)
    assert len(looks) > before
    assert _other_process_view(store.path) == [("a", "COMPLETED")]
    store.close()


def test_running_task_becomes_visible_finished_one_replaces_it(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    store.start_task_run(_record("slow", StateType.RUNNING))
    store.start_task_run(_record("fast", StateType.RUNNING))
    store.finish_task_run(_record("fast", StateType.COMPLETED))
    store.flush()
    assert _other_process_view(store.path) == [("fast", "COMPLETED"), ("slow", "RUNNING")]
    store.close()


def test_in_process_reads_see_pending_starts(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    store.start_task_run(_record("a", StateType.RUNNING))
    [seen] = store.read_task_runs("fr")
    assert isinstance(seen, TaskRunRecord) and seen.state_type is StateType.RUNNING
    store.close()
    assert _other_process_view(store.path) == [("a", "RUNNING")]  # close commits


def test_live_flow_shows_running_task_to_other_processes(store: Store) -> None:
    release = threading.Event()

    @task
    def long_running() -> str:
        release.wait(10)
        return "done"

    @flow
    def f() -> str:
        return long_running()

    thread = threading.Thread(target=f)
    thread.start()
    try:
        deadline = time.monotonic() + 5
        seen: list[tuple[str, str]] = []
        while time.monotonic() < deadline:
            seen = _other_process_view(Path(store.location))
            if seen:
                break
            time.sleep(0.01)
        assert [state for _, state in seen] == ["RUNNING"]
    finally:
        release.set()
        thread.join()
    assert [state for _, state in _other_process_view(Path(store.location))] == ["COMPLETED"]


def test_two_stores_on_one_file_complete_once(tmp_path: Path) -> None:
    """Two processes' stores (two connections) racing to complete the same task run."""
    stores = [SQLiteStore(tmp_path / "shared.db") for _ in range(2)]
    barrier = threading.Barrier(8)
    winners: list[TaskRunRecord] = []

    def complete(i: int) -> None:
        record = _record("contested", StateType.COMPLETED)
        record.state_message = f"writer {i}"
        barrier.wait()
        winners.append(stores[i % 2].finish_task_run(record))

    threads = [threading.Thread(target=complete, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({w.state_message for w in winners}) == 1
    for store in stores:
        store.close()
    [row] = (
        sqlite3.connect(tmp_path / "shared.db")
        .execute("SELECT state_message FROM task_runs")
        .fetchall()
    )
    assert row[0] == winners[0].state_message


def test_forked_workers_record_their_own_task_runs(store: Store) -> None:
    import multiprocessing

    @task
    def square(x: int) -> int:
        return x * x

    @task
    def fan_out(n: int) -> int:
        with multiprocessing.get_context("fork").Pool(2) as pool:
            return sum(pool.map(_square_in_worker, range(n)))

    @flow
    def f() -> tuple[int, int]:
        busy = [square.submit(i) for i in range(50)]  # keep the parent's store writing
        return fan_out(6), sum(b.result() for b in busy)

    result: list[tuple[int, int]] = []
    worker = threading.Thread(target=lambda: result.append(f()), daemon=True)
    worker.start()
    worker.join(30)
    assert result == [(55, 40425)]
    with sqlite3.connect(Path(store.location)) as conn:
        standalone = conn.execute(
            "SELECT count(*) FROM task_runs WHERE flow_run_id IS NULL"
        ).fetchone()
    assert standalone == (6,)  # the workers' calls, recorded from the forked processes


@task
def _square_in_worker_task(x: int) -> int:
    return x * x


def _square_in_worker(x: int) -> int:
    return _square_in_worker_task(x)


def test_wal_is_checkpointed_by_the_committer(tmp_path: Path) -> None:
    """The writing connection never checkpoints (it would fsync while holding the store's
    lock); the committer does, on its own connection, so the WAL stays bounded."""
    store = SQLiteStore(tmp_path / "busy.db")
    store._writer.CHECKPOINT_BYTES = 256 * 1024  # type: ignore[union-attr]
    wal = tmp_path / "busy.db-wal"
    largest = 0
    for i in range(20_000):
        record = _record(f"run-{i:06d}", StateType.COMPLETED)
        record.state_message = "x" * 200
        store.finish_task_run(record)
        if i % 500 == 0:
            time.sleep(0.02)  # let the committer run
            largest = max(largest, wal.stat().st_size if wal.exists() else 0)
    store.close()
    # unbounded, 20,000 single-row commits make a WAL of ~260 MB; the file is cut back
    # to journal_size_limit (4 MB) whenever the WAL starts over. Bounded by issue 9's
    # 32 MB: a committer kept from the GIL by a loaded machine (a fresh clone's make
    # test) was once seen at 13.7 MB here, where it is 2-6 MB usually
    assert largest < 32 * 1024 * 1024
    with sqlite3.connect(tmp_path / "busy.db") as conn:
        assert conn.execute("SELECT count(*) FROM task_runs").fetchone() == (20_000,)


def test_the_wal_file_is_cut_back_by_the_batches_that_start_it_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Task runs are written in batches, on connections of their own: the write that
    starts the WAL over is a batch's, and ``journal_size_limit`` is a setting of the
    connection that does it. When only the store's own connection had it, the file never
    shrank, and the committer (which looks at its size) checkpointed every few ms."""
    monkeypatch.setattr(_sqlite_writer, "JOURNAL_SIZE_LIMIT", 256 * 1024)
    store = SQLiteStore(tmp_path / "batches.db")
    store._writer.CHECKPOINT_BYTES = 256 * 1024  # type: ignore[union-attr]
    wal = tmp_path / "batches.db-wal"
    sizes = []
    for i in range(10_000):
        record = _record(f"run-{i:06d}", StateType.RUNNING)
        record.state_message = "x" * 300
        store.start_task_run(record)
        record.state_type, record.state_name = StateType.COMPLETED, "Completed"
        store.finish_task_run(record)
        if i % 100 == 0:
            time.sleep(0.015)  # the batch lands, the committer looks
            sizes.append(wal.stat().st_size if wal.exists() else 0)
    store.close()
    assert max(sizes) > 256 * 1024  # it grew past the limit (3 MB of rows were written)
    assert sum(b < a for a, b in itertools.pairwise(sizes)) >= 2, sizes  # and was cut back
    with sqlite3.connect(tmp_path / "batches.db") as conn:
        assert conn.execute("SELECT count(*) FROM task_runs").fetchone() == (10_000,)


def _dump_stacks_of(processes: Iterable[int]) -> None:
    """Have hung processes print their threads' stacks (``faulthandler`` on SIGUSR1): a
    pool worker here once hung in its first ``sqlite3.connect`` (a batch writer of the
    parent was inside SQLite at the fork; see the test below)."""
    for pid in processes:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGUSR1)
        time.sleep(0.3)  # one at a time: they print to the same stderr


def _child_flow_with_its_own_pool() -> None:
    import multiprocessing
    import sys

    faulthandler.register(signal.SIGUSR1, all_threads=True)  # the pool workers too

    @flow
    def child_flow() -> int:
        with multiprocessing.get_context("fork").Pool(2) as pool:
            squares = pool.map_async(_square_in_worker, range(4))
            try:
                return sum(squares.get(timeout=12))
            except multiprocessing.TimeoutError:
                _dump_stacks_of([os.getpid(), *(p.pid for p in multiprocessing.active_children())])
                raise

    sys.exit(child_flow())  # the result travels back as the exit code


def test_fork_from_a_forked_child(store: Store) -> None:
    """A process forked from a forked child: each generation quiesces its own stores."""
    import multiprocessing

    @task
    def spawn() -> int | None:
        child = multiprocessing.get_context("fork").Process(target=_child_flow_with_its_own_pool)
        child.start()
        child.join(20)
        if child.exitcode is None and child.pid is not None:
            _dump_stacks_of([child.pid])
            child.kill()
        return child.exitcode

    @flow
    def parent() -> int | None:
        return spawn()

    result: list[int | None] = []
    worker = threading.Thread(target=lambda: result.append(parent()), daemon=True)
    worker.start()
    worker.join(30)
    assert result == [14]


def _fork_while_writing(where: str) -> None:
    """Threads write batches, log lines, flow runs, checkpoints and close spare
    connections while this one forks 60 times; each child opens SQLite at once. Exits 0,
    or 3 if a child hung."""
    folder = Path(where)
    store = SQLiteStore(folder / "busy.db")
    writer = store._writer
    assert writer is not None
    stop = threading.Event()

    def churn(i: int) -> None:
        run = FlowRunRecord(f"fr{i}", "r", "f", StateType.RUNNING, "Running", created=1.0)
        store.create_flow_run(run)
        for n in itertools.count():
            if stop.is_set():
                return
            if n % 3 == 0:  # a flow run's write: the store's lock, then its held rows'
                store.update_flow_run(run)
            elif n % 3 == 1:
                store.finish_task_run(_record(f"w{i}-{n}", StateType.COMPLETED))
            else:  # a batch of lines only
                store.write_log(
                    LogLine(f"{n:020d}-{i}", "fr", None, "r", float(n), 20, "t", "x" * 50)
                )
            with contextlib.suppress(StoreError):
                writer.rows.write(everything=True)
            writer.rows.restart_wanted = True  # and a checkpoint after each
            writer.rows.prune(keep=0)  # and closes its connection

    threads = [threading.Thread(target=churn, args=(i,), daemon=True) for i in range(4)]
    for t in threads:
        t.start()
    for _ in range(60):
        time.sleep(0.002)
        pid = os.fork()
        if pid == 0:  # the child: a new connection, as the engine opens its own store
            try:
                sqlite3.connect(folder / "child.db").execute("SELECT 1").fetchall()
            finally:
                os._exit(0)
        deadline = time.monotonic() + 10
        while os.waitpid(pid, os.WNOHANG) == (0, 0):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os._exit(3)
            time.sleep(0.001)
    stop.set()
    for t in threads:
        t.join(10)
    store.close()


def test_a_fork_never_copies_a_thread_inside_sqlite(tmp_path: Path) -> None:
    """A call into SQLite runs without the GIL and may hold one of SQLite's process-wide
    mutexes; a child forked then keeps it held forever (its first ``sqlite3.connect``
    hung, 1 run in ~15 of the pool tests above, before a fork waited for the store's
    batch writers). And the fork itself must not wait forever for a lock (it took the
    held rows' lock before the store's, which a flow run's write takes the other way
    round). In a process of its own, so that a hang fails this test only."""
    import subprocess
    import sys

    code = f"from {__name__} import _fork_while_writing; _fork_while_writing({str(tmp_path)!r})"
    root = Path(__file__).resolve().parents[2]
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=90
        )
    except subprocess.TimeoutExpired:
        pytest.fail("a fork hung in the parent (its hooks waited for a lock forever)")
    assert done.returncode != 3, "a forked child hung in its first sqlite3.connect"
    assert done.returncode == 0, done.stderr[-3000:]


def test_a_write_after_close_is_a_store_error(tmp_path: Path) -> None:
    """Even when the write would first finish a checkpoint the committer asked for: that
    step raised sqlite3's own ``ProgrammingError``, past the store's error mapping."""
    store = SQLiteStore(tmp_path / "s.db")
    run = FlowRunRecord("fr", "r", "f", StateType.RUNNING, "Running", created=1.0)
    store.create_flow_run(run)
    store.close()
    assert store._writer is not None
    store._writer.rows.restart_wanted = True
    with pytest.raises(StoreError, match="failed to update a flow run: Cannot operate on a closed"):
        store.update_flow_run(run)


def test_a_store_that_cannot_be_read_closes_its_connection_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not left to the garbage collector, which closes it in whatever thread collects,
    perhaps while another thread forks (a child then hung in its first connect)."""
    from flowless.exceptions import StoreUnavailableError

    made: list[sqlite3.Connection] = []
    connect = sqlite3.connect

    def recorded(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        made.append(connect(*args, **kwargs))
        return made[-1]

    sqlite3.connect(tmp_path / "flowless.db").close()  # a database with no tables yet
    monkeypatch.setattr(sqlite3, "connect", recorded)
    with pytest.raises(StoreUnavailableError, match="no such table: flow_runs"):
        SQLiteStore.open_read_only(tmp_path / "flowless.db")
    assert len(made) == 1
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        made[0].execute("SELECT 1")
