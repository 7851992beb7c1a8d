"""Held rows (``flowless.store._sqlite_held``): batches that land in any order, or fail
and come back, never let an older row of a task run replace a newer one."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from flowless import flow, task
from flowless.exceptions import StoreError
from flowless.store import _sqlite_held, _sqlite_held_batches
from flowless.store._sqlite_held import HeldRows
from flowless.task_runners import ThreadPoolTaskRunner


def _rows(tmp_path: Path) -> HeldRows:
    def mapped(action: str, exc: sqlite3.Error) -> StoreError:
        return StoreError(f"{action}: {exc}")

    rows = HeldRows(tmp_path / "x.db", {}, mapped, 60.0, lambda: None)  # nothing due
    rows.write = lambda everything=False: None  # type: ignore[method-assign]  # (by hand)
    return rows


def _clocked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[HeldRows, list[float]]:
    """Held rows with a delay of 10 ms on a clock moved by hand, written by hand."""
    clock = [100.0]
    monkeypatch.setattr(_sqlite_held.time, "monotonic", lambda: clock[0])
    rows = HeldRows(tmp_path / "x.db", {}, lambda a, e: StoreError(a), 0.01, lambda: None)
    rows.write = lambda everything=False: None  # type: ignore[method-assign]
    return rows, clock


def test_rows_put_back_in_any_order_keep_the_newest(tmp_path: Path) -> None:
    rows = _rows(tmp_path)
    rows.hold("task_run", "x", ("start",), start=True)
    first = rows._take(everything=True)
    rows.hold("task_run", "x", ("end",))
    second = rows._take(everything=True)
    assert first[1] == {("task_run", "x"): ("start",)}
    assert second[1] == {("task_run", "x"): ("end",)}
    rows.put_back(*first)  # both batches failed; the older comes back first
    rows.put_back(*second)
    assert rows.held == {("task_run", "x"): ("end",)}
    third = rows._take(everything=True)
    rows.hold("task_run", "x", ("newer",))
    rows.put_back(*third)  # a row held since a batch was taken wins over its return
    assert rows.held == {("task_run", "x"): ("newer",)}


def test_a_row_stays_held_until_written_and_only_the_newest_is_written_again(
    tmp_path: Path,
) -> None:
    """A start's batch fails late (after its end was taken): the end is what is held and
    written next; the failed batch never brings the start back."""
    rows = _rows(tmp_path)
    rows.hold("task_run", "x", ("start",), start=True)
    a = rows._take(everything=True)
    rows.hold("task_run", "x", ("end",))
    b = rows._take(everything=True)
    rows.put_back(*a)  # the start's batch fails, late
    c = rows._take(everything=True)
    assert c[0] > b[0] and c[1] == {("task_run", "x"): ("end",)}
    rows.landed(a[0])  # landing the start's batch after all changes nothing either
    assert rows.held_row("task_run", "x") == ("end",) and rows.count() == 1
    rows.landed(c[0])  # (c holds b's rows too: b is done)
    rows.put_back(*b)
    assert rows.held == {} and rows.writing == {} and rows.count() == 0
    assert rows.held_row("task_run", "x") is None
    assert rows.due() is None


def test_a_stalled_batch_is_taken_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer that lost the GIL between claiming rows and writing them does not hold them
    up: after STALL the next writer claims them too (writing a row twice is harmless)."""
    rows, clock = _clocked(tmp_path, monkeypatch)
    rows.hold("task_run", "x", ("end",))
    clock[0] += 0.01
    first = rows._take()
    assert first[1] == {("task_run", "x"): ("end",)}
    assert rows._take() == (-1, {})  # claimed a moment ago
    assert rows.due() == pytest.approx(clock[0] + _sqlite_held_batches.STALL)
    clock[0] += _sqlite_held_batches.STALL + 0.0001
    second = rows._take()
    assert second == first  # the same batch, written again
    rows.landed(second[0])
    rows.landed(first[0])  # the stalled writer comes back: nothing left to do
    assert rows.held == {} and rows.writing == {}


def test_a_batch_put_back_after_a_newer_one_landed_brings_nothing_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches land in any order: an older batch that fails after a newer one with the
    same key landed neither holds its older row again nor shows it to in-process reads."""
    rows, clock = _clocked(tmp_path, monkeypatch)
    rows.hold("cache_entry", "k", ("older",))
    clock[0] += 0.01
    older = rows._take()
    rows.hold("cache_entry", "k", ("newer",))
    assert rows.held_row("cache_entry", "k") == ("newer",)
    clock[0] += 0.001  # the older batch's writer is not late yet
    newer = rows._take(after=0.0)
    assert older[1] == {("cache_entry", "k"): ("older",)}
    assert newer[1] == {("cache_entry", "k"): ("newer",)}
    rows.landed(newer[0])
    assert rows.held_row("cache_entry", "k") is None  # on disk: read from there
    rows.put_back(older[0])
    assert rows.held == {} and rows.writing == {} and rows.count() == 0
    assert rows.held_row("cache_entry", "k") is None


def test_a_statements_worth_of_rows_is_due_at_once(tmp_path: Path) -> None:
    """Rows are written as soon as a full statement's worth is held, however long the
    delay: a batch is never padded because it waited."""
    rows = _rows(tmp_path)  # a delay of 60 s
    writes: list[bool] = []
    rows.write = lambda everything=False: writes.append(everything)  # type: ignore[method-assign]
    full = _sqlite_held_batches.BATCHES[-1]
    for i in range(full - 1):
        rows.hold("task_run", str(i), (i,))
    assert rows._take() == (-1, {}) and writes == []
    rows.hold("task_run", "last", ("last",))
    assert writes == [False]  # the thread that held the last row writes them
    number, batch = rows._take()
    assert len(batch) == full and rows.held == {}
    rows.landed(number)
    assert rows.count() == 0


def test_a_batch_is_one_statement_and_the_rest_is_due_at_once(tmp_path: Path) -> None:
    rows = _rows(tmp_path)
    for i in range(300):
        rows.hold("task_run", str(i), (i,))
    number, batch = rows._take(everything=True)
    assert len(batch) == 300  # flush, close and flow run writes take everything
    rows.put_back(number)
    rows.delay = 0.0
    number, batch = rows._take()
    assert len(batch) == _sqlite_held_batches.BATCHES[-1]
    assert rows.due() is not None and rows.due() <= time.monotonic()


def test_a_young_start_waits_and_its_end_replaces_it(tmp_path: Path) -> None:
    rows = _rows(tmp_path)
    rows.hold("task_run", "x", ("start",), start=True)
    # however early a writer looks, a start younger than the delay is not written
    assert rows._take(after=0.0) == (-1, {})
    assert rows.end("task_run", "x", ("end",))
    assert rows._take(after=0.0)[1] == {("task_run", "x"): ("end",)}
    assert not rows.end("task_run", "y", ("end",))  # not started here: the caller writes it


@task
def _square(i: int) -> int:
    return i * i


def test_sixteen_threads_leave_every_task_run_completed(flowless_home: Path) -> None:
    """Batches written by sixteen threads at once, with SQLITE_BUSY between them, land in
    any order; every run ends as it ended."""

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=16))
    def fan_out(n: int) -> int:
        return sum(f.result() for f in [_square.submit(i) for i in range(n)])

    threads_before = threading.active_count()
    assert fan_out(6000) == sum(i * i for i in range(6000))
    with sqlite3.connect(flowless_home / "flowless.db") as conn:
        states = conn.execute("SELECT state_type, count(*) FROM task_runs GROUP BY 1").fetchall()
    assert states == [("COMPLETED", 6000)]
    assert threading.active_count() <= threads_before + 2  # the committer, the row acks


def test_a_second_end_never_drops_a_completed_end_still_held(flowless_home: Path) -> None:
    """The engine's crash path may finish a run again after its Completed end was held:
    the Completed end lands first and stays (COMPLETED is final)."""
    from flowless.engine import current_runtime
    from flowless.states import StateType
    from flowless.store import Payload, TaskRunRecord

    store = current_runtime().store

    def record(state: StateType, name: str) -> TaskRunRecord:
        return TaskRunRecord(
            id="t-1",
            flow_run_id=None,
            task_key="k",
            dynamic_key="0",
            name="n-1",
            task_name="n",
            state_type=state,
            state_name=name,
        )

    run = record(StateType.RUNNING, "Running")
    store.start_task_run(run)
    run = record(StateType.COMPLETED, "Completed")
    run.result = Payload("json", b"1")
    store.finish_task_run(run)  # held
    crashed = record(StateType.CRASHED, "Crashed")
    stored = store.finish_task_run(crashed)  # not held for this thread: written at once
    assert stored.state_type is StateType.COMPLETED
    with sqlite3.connect(flowless_home / "flowless.db") as conn:
        assert conn.execute("SELECT state_name FROM task_runs").fetchall() == [("Completed",)]


class _AcceptingWriter:
    """A row writer process that takes every row (its answers are given by hand)."""

    alive = True

    def send(self, made: int, kind: str, params: tuple[object, ...]) -> bool:
        return True


def test_a_row_the_row_writer_wrote_outranks_an_older_batch_still_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows go to the row writer process while a batch with an older row of the same key
    is still being written here: once the writer has the newer row on disk, reads do not
    see the older one, and the older batch failing does not hold it again."""
    rows, clock = _clocked(tmp_path, monkeypatch)
    key = ("cache_entry", "k")
    rows.hold(*key, ("older",))
    clock[0] += 0.01
    number, batch = rows._take()
    assert batch == {key: ("older",)}
    rows._put(key, ("newer",), clock[0], _AcceptingWriter())  # type: ignore[arg-type]
    assert rows.held_row(*key) == ("newer",)
    rows._written(list(rows.sent))  # the writer committed it
    assert rows.held_row(*key) is None  # on disk: read from there
    rows.put_back(number)  # the older batch was refused (the writer held SQLite's lock)
    assert rows.held == {} and rows.held_row(*key) is None and rows.count() == 0


def test_everything_taken_leaves_out_rows_a_newer_batch_landed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flush while an older batch is still writing and a newer one with the same key
    has landed: the flush neither writes nor shows the older row, nor brings it back."""
    rows, clock = _clocked(tmp_path, monkeypatch)
    key = ("cache_entry", "k")
    rows.hold(*key, ("older",))
    clock[0] += 0.01
    rows._take()
    rows.hold(*key, ("newer",))
    clock[0] += 0.001
    newer = rows._take(after=0.0)
    rows.landed(newer[0])
    rows.hold("cache_entry", "other", ("other",))
    number, everything = rows._take(everything=True)
    assert everything == {("cache_entry", "other"): ("other",)}
    assert rows.held_row(*key) is None
    rows.put_back(number)
    assert rows.held == {("cache_entry", "other"): ("other",)}


def test_a_batch_of_everything_is_never_taken_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Flush, close and a flow run's write wait for their own batch (the flow run's
    write does so inside its transaction): another thread writing all of it again
    would only be refused, and write every row twice."""
    rows, clock = _clocked(tmp_path, monkeypatch)
    for i in range(300):
        rows.hold("task_run", str(i), (i,))
    number, batch = rows.take_all()
    assert len(batch) == 300
    clock[0] += 1.0
    assert rows._take() == (-1, {})
    rows.landed(number)
    assert rows.count() == 0 and rows.due() is None
