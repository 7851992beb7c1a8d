"""Held rows (``flowless.store._sqlite_held``): batches that land in any order, or fail
and come back, never let an older row of a task run replace a newer one."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from flowless import flow, task
from flowless.exceptions import StoreError
from flowless.store._sqlite_held import HeldRows
from flowless.task_runners import ThreadPoolTaskRunner


def _rows(tmp_path: Path) -> HeldRows:
    def mapped(action: str, exc: sqlite3.Error) -> StoreError:
        return StoreError(f"{action}: {exc}")

    return HeldRows(tmp_path / "x.db", {}, mapped, 60.0, lambda: None)  # nothing due


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


def test_an_old_row_taken_and_failed_again_never_replaces_a_newer_one(tmp_path: Path) -> None:
    """A start's batch fails late (after its end was taken), so the start is taken again
    by a later batch than its end's; both fail: the end is what stays held."""
    rows = _rows(tmp_path)
    rows.hold("task_run", "x", ("start",), start=True)
    a = rows._take(everything=True)
    rows.hold("task_run", "x", ("end",))
    b = rows._take(everything=True)
    rows.put_back(*a)  # the start's batch fails, late: the start is held again
    c = rows._take(everything=True)  # and taken again, by a batch numbered after b
    assert c[0] > b[0] and c[1] == {("task_run", "x"): ("start",)}
    rows.put_back(*c)
    rows.put_back(*b)
    assert rows.held == {("task_run", "x"): ("end",)}


def test_a_young_start_waits_and_its_end_replaces_it(tmp_path: Path) -> None:
    rows = _rows(tmp_path)
    rows.hold("task_run", "x", ("start",), start=True)
    assert rows._take() == (-1, {})  # a start younger than the delay is not written
    assert rows.end("task_run", "x", ("end",))
    assert rows._take()[1] == {("task_run", "x"): ("end",)}
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
    assert threading.active_count() <= threads_before + 1  # the committer at most


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
