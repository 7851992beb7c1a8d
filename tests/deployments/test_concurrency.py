"""A deployment's ``concurrency_limit``: at most N of its runs at once, and what a run
that finds no slot does (``ENQUEUE`` waits as AwaitingConcurrencySlot, ``CANCEL_NEW``
ends Cancelled), through ``serve``'s steps on the embedded store."""

from __future__ import annotations

import threading
import time
from typing import Any

from flowless import flow
from flowless.deployments import _serve
from flowless.deployments._definition import definition_from_flow
from flowless.engine import current_runtime
from flowless.states import StateType

gate = threading.Event()


@flow
def exclusive(label: str) -> str:
    gate.wait(10)
    return label


def _runner(strategy: str) -> _serve.Runner:
    definition = definition_from_flow(
        exclusive, name="one-at-a-time", concurrency_limit=1, collision_strategy=strategy
    )
    runner = _serve.Runner([(definition, exclusive)])
    runner.register()
    return runner


def _wait(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _state(run_id: str) -> tuple[StateType, str, str | None]:
    record = current_runtime().store.read_flow_run(run_id)
    return record.state_type, record.state_name, record.state_message


def test_enqueue_waits_for_the_slot_then_runs() -> None:
    gate.clear()
    runner = _runner("ENQUEUE")
    first, _ = runner.service.create_run("exclusive/one-at-a-time", {"label": "first"})
    runner.step()
    _wait(lambda: _state(first.id)[0] is StateType.RUNNING)
    second, _ = runner.service.create_run("exclusive/one-at-a-time", {"label": "second"})
    runner.step()
    _wait(lambda: _state(second.id)[1] == "AwaitingConcurrencySlot")
    assert _state(second.id) == (
        StateType.SCHEDULED,
        "AwaitingConcurrencySlot",
        "Waiting: the deployment's concurrency limit of 1 is reached (collision strategy ENQUEUE).",
    )
    gate.set()
    runner.wait_for_runs()
    assert _state(first.id)[0] is StateType.COMPLETED
    runner.step()  # the next tick finds the slot free
    runner.wait_for_runs()
    assert _state(second.id)[0] is StateType.COMPLETED


def test_cancel_new_ends_the_new_run_cancelled() -> None:
    gate.clear()
    runner = _runner("CANCEL_NEW")
    first, _ = runner.service.create_run("exclusive/one-at-a-time", {"label": "first"})
    runner.step()
    _wait(lambda: _state(first.id)[0] is StateType.RUNNING)
    second, _ = runner.service.create_run("exclusive/one-at-a-time", {"label": "second"})
    runner.step()
    _wait(lambda: _state(second.id)[0] is StateType.CANCELLED)
    assert _state(second.id) == (
        StateType.CANCELLED,
        "Cancelled",
        "Not started: the deployment's concurrency limit of 1 is reached (collision strategy "
        "CANCEL_NEW).",
    )
    gate.set()
    runner.wait_for_runs()
    assert _state(first.id)[0] is StateType.COMPLETED
    limit = current_runtime().limits.read_limits(["deployment:exclusive/one-at-a-time"])
    assert limit["deployment:exclusive/one-at-a-time"].leases == ()  # given back


def test_two_starters_never_cancel_a_run_that_one_of_them_runs() -> None:
    """Two serve processes see the same due run: the one whose claim lands decides; the
    other must not cancel it because the first already holds the slot."""

    @flow
    def quick(label: str) -> str:
        return label

    definition = definition_from_flow(
        quick, name="solo", concurrency_limit=1, collision_strategy="CANCEL_NEW"
    )
    first, second = (_serve.Runner([(definition, quick)]) for _ in range(2))
    first.register()
    outcomes = []
    for i in range(30):
        run, _ = first.service.create_run("quick/solo", {"label": str(i)})
        threads = [
            threading.Thread(target=r.start_due, args=(time.time(),)) for r in (first, second)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        first.wait_for_runs()
        second.wait_for_runs()
        outcomes.append(_state(run.id)[:2])
    assert set(outcomes) == {(StateType.COMPLETED, "Completed")}, outcomes


def test_a_store_error_after_the_claim_gives_the_run_back() -> None:
    """A transient failure between claiming a run (Pending) and starting it must not leave
    it Pending, where nothing would ever start it: it is Scheduled again, and runs next."""
    from flowless.exceptions import StoreError

    gate.set()
    runner = _runner("ENQUEUE")
    run, _ = runner.service.create_run("exclusive/one-at-a-time", {"label": "x"})
    real = runner.limits.read_limits
    failures = [StoreError("database is locked")]

    def flaky(names: Any) -> Any:
        if failures:
            raise failures.pop()
        return real(names)

    runner.limits.read_limits = flaky  # type: ignore[method-assign]
    runner.step()
    runner.wait_for_runs()
    assert _state(run.id)[:2] == (StateType.SCHEDULED, "Scheduled")
    runner.step()
    runner.wait_for_runs()
    assert _state(run.id)[0] is StateType.COMPLETED
