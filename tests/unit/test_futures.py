"""Futures: submit, map, wait, as_completed, futures as arguments, wait_for."""

from __future__ import annotations

import gc
import threading
import time
from typing import Any

import pytest

from flowless import allow_failure, flow, quote, task, unmapped
from flowless.exceptions import MappingLengthMismatch, MappingMissingIterable, UnfinishedRun
from flowless.futures import PrefectFuture, PrefectFutureList, as_completed, wait
from flowless.task_runners import ThreadPoolTaskRunner


@task
def sq(x: int) -> int:
    return x * x


@task
def add(a: int, b: int) -> int:
    return a + b


@task
def fail() -> int:
    raise RuntimeError("upstream broke")


@task
def sleepy(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def test_submit_and_result() -> None:
    @flow
    def f() -> list[int]:
        futures = [sq.submit(i) for i in range(5)]
        assert all(isinstance(fu, PrefectFuture) for fu in futures)
        return [fu.result() for fu in futures]

    assert f() == [0, 1, 4, 9, 16]


def test_map_with_unmapped_and_static() -> None:
    @flow
    def f() -> list[int]:
        futures = add.map([1, 2, 3], unmapped(10))
        assert isinstance(futures, PrefectFutureList)
        return futures.result()

    assert f() == [11, 12, 13]


def test_map_return_state() -> None:
    @flow
    def f() -> list[str]:
        return [str(s) for s in sq.map([1, 2], return_state=True)]

    assert f() == ["Completed()", "Completed()"]


def test_map_errors() -> None:
    @flow
    def f(case: str) -> None:
        if case == "none":
            add.map(1, 2)
        else:
            add.map([1, 2], [1])

    with pytest.raises(MappingMissingIterable, match="at least one iterable"):
        f("none")
    with pytest.raises(MappingLengthMismatch, match="same length"):
        f("mismatch")


def test_futures_as_arguments_resolve() -> None:
    @flow
    def f() -> int:
        a = sq.submit(3)
        b = sq.submit(4)
        c = add.submit(a, b)
        return add(c, [a][0])  # a future inside a call, and nested in a list literal

    assert f() == 34


def test_futures_inside_collections_resolve() -> None:
    @task
    def total(values: dict[str, list[int]]) -> int:
        return sum(values["xs"])

    @flow
    def f() -> int:
        return total({"xs": [sq.submit(1), sq.submit(2)]})

    assert f() == 5


def test_wait_and_as_completed() -> None:
    @flow
    def f() -> tuple[int, list[float]]:
        futures = [sleepy.submit(s) for s in (0.2, 0.0, 0.1)]
        done, not_done = wait(futures, timeout=5)
        order = [fu.result() for fu in as_completed(futures)]
        return len(done) + len(not_done) * 100, order

    count, order = f()
    assert count == 3 and sorted(order) == [0.0, 0.1, 0.2]


def test_result_timeout() -> None:
    @flow
    def f() -> None:
        slow = sleepy.submit(0.5)
        with pytest.raises(TimeoutError, match=r"did not complete within 0\.05 seconds"):
            slow.result(timeout=0.05)
        assert not wait([slow], timeout=0.01).done
        with pytest.raises(TimeoutError):
            list(as_completed([slow], timeout=0.01))
        assert slow.result() == 0.5

    f()


def test_future_state_progresses() -> None:
    gate = threading.Event()

    running = threading.Event()

    @task
    def blocked() -> str:
        running.set()
        gate.wait(5)
        return "done"

    @flow
    def f() -> tuple[str, str]:
        future = blocked.submit()
        assert running.wait(10)
        during = future.state.name
        gate.set()
        future.wait()
        return during, str(future.state)

    assert f() == ("Running", "Completed()")


def test_failed_future(capsys: pytest.CaptureFixture[str]) -> None:
    @flow
    def f() -> None:
        future = fail.submit()
        assert future.result(raise_on_failure=False).args == ("upstream broke",)
        assert future.state.is_failed()
        with pytest.raises(RuntimeError, match="upstream broke"):
            future.result()

    f()


def test_downstream_of_failure_is_not_ready() -> None:
    @flow
    def f() -> None:
        bad = fail.submit()
        downstream = add.submit(bad, 1)
        state = downstream.state if downstream.wait() is None else None
        assert state is not None and state.name == "NotReady"
        assert "did not reach a 'COMPLETED' state" in (state.message or "")
        with pytest.raises(UnfinishedRun):
            downstream.result()

    f()


def test_allow_failure_passes_the_exception() -> None:
    @task
    def describe(value: object) -> str:
        return type(value).__name__

    @flow
    def f() -> str:
        return describe(allow_failure(fail.submit()))

    assert f() == "RuntimeError"


def test_wait_for_orders_runs() -> None:
    order: list[str] = []

    @task
    def first() -> None:
        time.sleep(0.1)
        order.append("first")

    @task
    def second() -> None:
        order.append("second")

    @flow
    def f() -> None:
        a = first.submit()
        second.submit(wait_for=[a]).wait()
        failed = fail.submit()
        assert second.submit(wait_for=[failed]).state.name in ("Pending", "NotReady", "Running")

    f()
    assert order[:2] == ["first", "second"]


def test_pool_is_bounded() -> None:
    active = {"now": 0, "max": 0}
    lock = threading.Lock()

    @task
    def track(i: int) -> None:
        with lock:
            active["now"] += 1
            active["max"] = max(active["max"], active["now"])
        time.sleep(0.05)
        with lock:
            active["now"] -= 1

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=3))
    def f() -> None:
        track.map(range(12)).wait()

    f()
    assert 1 <= active["max"] <= 3  # never more than the pool allows


def test_unwaited_futures_finish_before_flow(store: object) -> None:
    from flowless.store import Store

    assert isinstance(store, Store)

    @flow
    def f() -> None:
        for i in range(20):
            sleepy.submit(0.01 * (i % 3))

    state = f(return_state=True)
    runs = store.read_task_runs(state.state_details.flow_run_id)
    assert len(runs) == 20 and all(r.state_name == "Completed" for r in runs)  # type: ignore[union-attr]


def test_tasks_waiting_on_submitted_tasks_cannot_starve_the_pool() -> None:
    """More parents than threads, each submitting a child and waiting for it: a waiting
    pool thread runs the child itself instead of deadlocking."""

    @task
    def child(i: int) -> int:
        return i * 10

    @task
    def parent(i: int) -> int:
        return child.submit(i).result() + 1

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=2))
    def f() -> list[int]:
        return [fu.result() for fu in [parent.submit(i) for i in range(8)]]

    result: list[list[int]] = []
    worker = threading.Thread(target=lambda: result.append(f()), daemon=True)
    worker.start()
    worker.join(20)
    assert result == [[1, 11, 21, 31, 41, 51, 61, 71]]


def test_submit_return_state_waits() -> None:
    @flow
    def f() -> str:
        return str(sq.submit(3, return_state=True))

    assert f() == "Completed()"


def test_engine_error_in_a_submitted_run_is_a_crashed_state() -> None:
    @task(task_run_name="{missing}")
    def badly_named(x: int) -> int:
        return x

    @flow
    def f() -> tuple[str, str]:
        future = badly_named.submit(1)
        future.wait()
        with pytest.raises(ValueError, match="cannot be formatted"):
            future.result()
        return future.state.name, future.state.message or ""

    name, message = f()
    assert name == "Crashed" and "task_run_name '{missing}'" in message


def test_subflow_wait_for() -> None:
    order: list[str] = []

    @task
    def upstream() -> None:
        time.sleep(0.1)
        order.append("upstream")

    @flow
    def child() -> None:
        order.append("child")

    @flow
    def parent() -> None:
        child(wait_for=[upstream.submit()])

    parent()
    assert order == ["upstream", "child"]


def _run_in_thread(fn: object, seconds: float = 30) -> list[object]:
    out: list[object] = []
    worker = threading.Thread(target=lambda: out.append(fn()), daemon=True)  # type: ignore[operator]
    worker.start()
    worker.join(seconds)
    return out


class _Later:
    """A future handed to a task before it exists: the task waits until it is set."""

    def __init__(self) -> None:
        self.future: Any = None
        self.ready = threading.Event()

    def set(self, future: Any) -> None:
        self.future = future
        self.ready.set()

    def result(self) -> Any:
        self.ready.wait(10)
        return self.future.result()


def test_long_wait_for_chain_on_one_thread() -> None:
    """A waiting pool thread helps with the oldest queued runs first, so a chain of
    wait_for dependencies runs front to back without deep recursion or starvation."""

    @task
    def link(i: int) -> int:
        return i

    @task
    def waits_for(later: _Later) -> int:
        return int(later.result())

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=1))
    def f() -> int:
        later = _Later()
        waiter = waits_for.submit(quote(later))
        previous = link.submit(0)
        for i in range(1, 300):
            previous = link.submit(i, wait_for=[previous])
        later.set(previous)
        return int(waiter.result())

    assert _run_in_thread(f) == [299]


def test_other_waiters_see_a_helped_run_as_running_not_cancelled() -> None:
    gate = threading.Event()

    started = threading.Event()

    @task
    def slow() -> str:
        started.set()
        gate.wait(5)
        return "B"

    @task
    def helper(later: _Later) -> str:
        return str(later.result())  # runs slow itself: the single pool thread is here

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=1))
    def f() -> tuple[bool, str, str]:
        later = _Later()
        h = helper.submit(quote(later))
        b = slow.submit()
        later.set(b)
        assert started.wait(10)
        seen = (b.done(), b.state.name)
        gate.set()
        return seen[0], seen[1], str(h.result())

    assert _run_in_thread(f) == [(False, "Running", "B")]


def test_timed_task_that_submits_and_waits() -> None:
    @task
    def child(i: int) -> int:
        return i

    @task(timeout_seconds=5, retries=1)
    def parent(i: int) -> int:
        return int(child.submit(i).result())

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=2))
    def f() -> list[int]:
        return [fu.result() for fu in [parent.submit(i) for i in range(4)]]

    assert _run_in_thread(f) == [[0, 1, 2, 3]]


def test_as_completed_yields_in_the_order_runs_finish() -> None:
    gates = [threading.Event() for _ in range(3)]

    @task
    def gated(i: int) -> int:
        assert gates[i].wait(10)
        return i

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=3))
    def f() -> list[int]:
        futures = [gated.submit(i) for i in range(3)]
        order = []
        gates[2].set()
        for future in as_completed(futures, timeout=10):
            order.append(future.result())
            if len(order) < 3:
                gates[[1, 0][len(order) - 1]].set()
        return order

    assert f() == [2, 1, 0]


def test_done_callbacks_run_once_each_before_and_after_completion(
    capsys: pytest.CaptureFixture[str],
) -> None:
    gate = threading.Event()
    seen: list[str] = []

    @task
    def gated() -> int:
        assert gate.wait(10)
        return 1

    def broken(_: PrefectFuture[Any]) -> None:
        raise ValueError("callback broke")

    @flow
    def f() -> None:
        future = gated.submit()
        future.add_done_callback(lambda fu: seen.append(f"before {fu.result()}"))
        future.add_done_callback(broken)  # logged; the others still run
        future.add_done_callback(lambda fu: seen.append("second"))
        gate.set()
        future.wait()
        future.add_done_callback(lambda fu: seen.append(f"after {fu.state.name}"))

    f()
    assert seen == ["before 1", "second", "after Completed"]
    assert "A done callback of task run future" in capsys.readouterr().err


def test_timed_out_waits_leave_nothing_behind() -> None:
    """A run polled with short timeouts keeps no listener per poll; a finished run keeps
    its state and nothing else (no lock, no condition, no closure)."""
    gate = threading.Event()

    @task
    def gated() -> int:
        assert gate.wait(10)
        return 1

    @flow
    def f() -> None:
        future = gated.submit()
        run = future._run
        for _ in range(50):
            future.wait(0.001)
            assert not wait([future], timeout=0.001).done
        assert not run._listeners
        gate.set()
        assert future.result() == 1
        assert run._listeners is None and run.done() and not run.failed()
        kept = sorted(type(o).__name__ for o in gc.get_referents(run) if gc.is_tracked(o))
        assert kept == ["RunQueue", "State", "function", "type"]  # _done, and its class

    f()


def test_a_callback_raising_a_base_exception_leaves_no_waiter_waiting() -> None:
    """Waiters are listeners too: every one is woken, even after a callback raised
    ``KeyboardInterrupt`` (which then goes on, in the thread that finished the run)."""
    gate = threading.Event()

    @task
    def gated() -> int:
        assert gate.wait(10)
        return 1

    def interrupt(_: PrefectFuture[Any]) -> None:
        raise KeyboardInterrupt

    @flow
    def f() -> float:
        future = gated.submit()
        future.add_done_callback(interrupt)
        threading.Timer(0.1, gate.set).start()
        started = time.monotonic()
        future.wait(5)
        return time.monotonic() - started

    assert f() < 2
