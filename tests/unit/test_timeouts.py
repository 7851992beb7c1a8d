"""Timeouts stop work at safe points, and attempts of one run never overlap."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from flowless import flow, task
from flowless.store import Store


def test_timeout_around_nested_task_calls_leaves_the_store_sound(store: Store) -> None:
    """A timed task that keeps calling tasks is stopped between calls, never inside the
    engine: an interrupt inside a store transaction once locked the database."""

    @task
    def inner(i: int) -> int:
        return i

    @task(timeout_seconds=0.003)
    def outer() -> None:
        i = 0
        while True:
            inner(i)
            i += 1

    @flow
    def f() -> None:
        outer(return_state=True)

    baseline = threading.active_count()
    for _ in range(200):
        f()
    deadline = time.monotonic() + 5
    while threading.active_count() > baseline + 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() <= baseline + 1  # no runaway workers left behind

    @flow
    def after() -> int:
        return inner(7)

    assert after() == 7
    other = sqlite3.connect(Path(store.location), timeout=2)
    other.execute("INSERT INTO meta VALUES ('probe', 'written by another process')")
    other.commit()
    other.close()


def test_retry_waits_for_the_timed_out_attempt() -> None:
    running = {"now": 0, "peak": 0}
    lock = threading.Lock()

    @task(timeout_seconds=0.1, retries=2)
    def blocking_call() -> None:
        with lock:
            running["now"] += 1
            running["peak"] = max(running["peak"], running["now"])
        try:
            time.sleep(0.3)  # blocked in C: the interrupt lands when it returns
        finally:
            with lock:
                running["now"] -= 1

    @flow
    def f() -> str:
        return blocking_call(return_state=True).name

    assert f() == "TimedOut"
    assert running["peak"] == 1


def test_flow_retry_after_timeout_does_not_overlap_the_old_body() -> None:
    bodies = {"now": 0, "peak": 0, "runs": 0}
    lock = threading.Lock()

    @flow(timeout_seconds=0.1, retries=1)
    def f() -> None:
        with lock:
            bodies["runs"] += 1
            bodies["now"] += 1
            bodies["peak"] = max(bodies["peak"], bodies["now"])
        try:
            time.sleep(0.3)
        finally:
            with lock:
                bodies["now"] -= 1

    state = f(return_state=True)
    assert state.name == "TimedOut"
    assert bodies["runs"] == 2 and bodies["peak"] == 1
