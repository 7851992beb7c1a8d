"""``flowless flow-run cancel`` seen by a running flow: it stops at its next task."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from flowless import flow, task
from flowless.context import FlowRunContext
from flowless.exceptions import CancelledRun
from flowless.states import State, StateType
from flowless.store import Store, TaskRunRecord

TASKS = 100


@task
def step(n: int) -> int:
    time.sleep(0.02)
    return n


def test_a_running_flow_run_stops_at_its_next_task_once_cancelled(store: Store) -> None:
    hooks: list[str] = []
    started = threading.Event()
    ids: list[str] = []

    def on_cancel(flow_: Any, run: Any, state: State[Any]) -> None:
        hooks.append(state.name)

    @flow(on_cancellation=[on_cancel])
    def loop() -> int:
        ctx = FlowRunContext.get()
        assert ctx is not None
        ids.append(ctx.flow_run.id)
        started.set()
        return sum(step(n) for n in range(TASKS))

    def cancel_after_a_few_tasks() -> None:
        started.wait(5)
        time.sleep(0.2)  # ~10 tasks
        assert store.cancel_flow_run(ids[0]) is True

    canceller = threading.Thread(target=cancel_after_a_few_tasks)
    canceller.start()
    with pytest.raises(CancelledRun, match=r"Flow run was cancelled successfully\."):
        loop()
    canceller.join()

    stored = store.read_flow_run(ids[0])
    assert (stored.state_type, stored.state_name) == (StateType.CANCELLED, "Cancelled")
    assert stored.state_message == "Flow run was cancelled successfully."
    ran = [r for r in store.read_task_runs(ids[0]) if isinstance(r, TaskRunRecord)]
    assert 3 <= len(ran) < TASKS
    assert hooks == ["Cancelled"]


def test_a_flow_run_returns_its_cancelled_state(store: Store) -> None:
    @flow
    def loop() -> None:
        ctx = FlowRunContext.get()
        assert ctx is not None
        store.cancel_flow_run(ctx.flow_run.id)
        ctx.cancel_checked_at = 0.0  # the next task call looks now
        step(1)
        raise AssertionError("the flow should have stopped at the task above")

    state = loop(return_state=True)
    assert (state.type, state.message) == (
        StateType.CANCELLED,
        "Flow run was cancelled successfully.",
    )
    assert store.read_task_runs(state.state_details.flow_run_id) == []
