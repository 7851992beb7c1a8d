"""Async flows and tasks run on the caller's event loop, with the same engine."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from flowless import flow, task
from flowless.states import State
from flowless.store import Store, TaskRunRecord

_inside = {"now": 0, "peak": 0}


@task
async def guarded(i: int, gate: asyncio.Semaphore, seen: list[int]) -> int:
    async with gate:  # bound to the loop it was created on
        _inside["now"] += 1
        _inside["peak"] = max(_inside["peak"], _inside["now"])
        seen.append(i)
        await asyncio.sleep(0.02)
        _inside["now"] -= 1
        return i


def test_tasks_share_loop_bound_objects_and_run_concurrently() -> None:
    @flow
    async def pipeline(n: int) -> tuple[list[int], float]:
        gate = asyncio.Semaphore(3)
        seen: list[int] = []
        started = time.monotonic()
        results = await asyncio.gather(*[guarded(i, gate, seen) for i in range(n)])
        return list(results), time.monotonic() - started

    results, _ = asyncio.run(pipeline(12))
    assert results == list(range(12))
    assert _inside["peak"] == 3  # concurrent up to the semaphore, on one loop


def test_async_flow_body_runs_on_the_awaiting_loop() -> None:
    @task
    async def loop_of_task() -> int:
        return id(asyncio.get_running_loop())

    @flow
    async def f() -> tuple[int, int]:
        return id(asyncio.get_running_loop()), await loop_of_task()

    async def main() -> tuple[int, int, int]:
        body_loop, task_loop = await f()
        return id(asyncio.get_running_loop()), body_loop, task_loop

    outer, body_loop, task_loop = asyncio.run(main())
    assert outer == body_loop == task_loop


def test_async_task_retries_and_timeouts(store: Store) -> None:
    attempts: list[float] = []

    @task(retries=2, retry_delay_seconds=0.01, timeout_seconds=0.1)
    async def sometimes_hangs() -> str:
        attempts.append(time.monotonic())
        if len(attempts) < 3:
            await asyncio.sleep(5)  # cancelled at the deadline
        return "third time"

    @flow
    async def f() -> State[Any]:
        return await sometimes_hangs(return_state=True)

    state = asyncio.run(f(return_state=True)).data
    assert state.is_completed() and state.result() == "third time"
    assert len(attempts) == 3 and attempts[-1] - attempts[0] < 4.0  # not 2 x 5 s sleeps
    [record] = [
        r
        for r in store.read_task_runs(state.state_details.flow_run_id)
        if isinstance(r, TaskRunRecord)
    ]
    assert record.run_count == 3 and record.state_name == "Completed"


def test_async_task_timeout_is_timed_out() -> None:
    @task(timeout_seconds=0.05)
    async def hangs() -> None:
        await asyncio.sleep(5)

    @flow
    async def f() -> State[Any]:
        return await hangs(return_state=True)

    state = asyncio.run(f(return_state=True)).data  # calling f() itself would raise
    assert str(state) == "TimedOut('Task run exceeded timeout of 0.05 second(s)', type=FAILED)"


def test_async_flow_timeout_and_failure() -> None:
    @flow(timeout_seconds=0.05)
    async def slow() -> None:
        await asyncio.sleep(5)

    @flow
    async def broken() -> None:
        raise KeyError("missing")

    assert asyncio.run(slow(return_state=True)).name == "TimedOut"
    with pytest.raises(KeyError, match="missing"):
        asyncio.run(broken())


def test_async_task_outside_a_flow() -> None:
    @task
    async def double(x: int) -> int:
        await asyncio.sleep(0)
        return 2 * x

    assert asyncio.run(double(21)) == 42


def test_submitted_async_task_timeout_cancels_the_coroutine() -> None:
    cleanups: list[float] = []
    started = time.monotonic()

    @task(timeout_seconds=0.1, retries=1)
    async def hangs() -> None:
        try:
            await asyncio.sleep(5)
        finally:
            cleanups.append(time.monotonic() - started)

    @flow
    def f() -> str:
        future = hangs.submit()
        future.wait()
        return future.state.name

    assert f() == "TimedOut"
    assert len(cleanups) >= 2 and max(cleanups) < 4.0  # cancelled, not after 2 x 5 s


def test_cancelling_the_caller_waits_for_the_body_cleanup() -> None:
    events: list[str] = []

    @flow(timeout_seconds=5)
    async def body() -> None:
        try:
            await asyncio.sleep(5)
        finally:
            await asyncio.sleep(0.05)
            events.append("cleanup done")

    async def main() -> None:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(body(), 0.1)
        events.append("caller resumed")

    asyncio.run(main())
    assert events == ["cleanup done", "caller resumed"]
