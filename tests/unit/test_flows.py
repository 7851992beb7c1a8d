"""Flow runs: final states by Prefect's rules, timeouts, subflows, parameters, async."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from pydantic import BaseModel

from flowless import flow, task
from flowless.context import FlowRunContext
from flowless.exceptions import (
    FlowRunTimeoutError,
    ParameterBindError,
    ParameterTypeError,
    TaskRunTimeoutError,
)
from flowless.states import Completed, Failed, State, StateType
from flowless.store import FlowRunRecord, Store, TaskRunRecord
from tests.conftest import log_lines


@task
def ok() -> int:
    return 1


@task
def bad() -> None:
    raise RuntimeError("down")


@task(timeout_seconds=0.2)
def slow() -> None:
    time.sleep(5)


def test_completed_flow(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    @flow
    def show_stars() -> int:
        return ok()

    state = show_stars(return_state=True)
    assert str(state) == "Completed()" and state.result() == 1
    record = store.read_flow_run(state.state_details.flow_run_id)
    assert (record.flow_name, record.state_name, record.run_count) == ("show-stars", "Completed", 1)
    lines = log_lines(capsys.readouterr().err)
    assert lines[0] == (
        f"INFO | Flow run '{record.name}' - "
        f"Beginning flow run '{record.name}' for flow 'show-stars'"
    )
    assert lines[-1] == f"INFO | Flow run '{record.name}' - Finished in state Completed()"
    adjective, animal = record.name.split("-")
    assert adjective.isalpha() and animal.isalpha()


def test_exception_fails_flow_and_reraises() -> None:
    @flow
    def f() -> None:
        raise ValueError("bad value")

    state = f(return_state=True)
    assert state.is_failed()
    assert state.message == "Flow run encountered an exception: ValueError: bad value"
    with pytest.raises(ValueError, match="bad value"):
        f()


def test_returned_states_aggregate() -> None:
    @flow
    def f() -> list[State[Any]]:
        return [ok(return_state=True), bad(return_state=True), ok(return_state=True)]

    state = f(return_state=True)
    assert state.message == "1/3 states failed."
    with pytest.raises(RuntimeError, match="down"):
        state.result()
    # Prefect's rule: calling the flow gives back what the body returned
    assert [s.name for s in f()] == ["Completed", "Failed", "Completed"]


def test_returned_single_failed_state_raises() -> None:
    @flow
    def f() -> State[Any]:
        return bad(return_state=True)

    with pytest.raises(RuntimeError, match="down"):
        f()


def test_task_returning_states() -> None:
    attempts: list[int] = []

    @task(retries=2)
    def judged(ok: bool) -> State[Any]:
        attempts.append(1)
        if ok or len(attempts) > 2:
            return Completed(message="accepted")
        return Failed(message="rejected")

    @flow
    def g() -> tuple[Any, Any]:
        return judged(True, return_state=True), judged(False)

    accepted, second = g()
    assert (accepted.name, accepted.message) == ("Completed", "accepted")
    assert second.message == "accepted"  # the returned Failed state was retried once
    assert len(attempts) == 3


def test_returned_futures_aggregate() -> None:
    @flow
    def f() -> list[Any]:
        return [ok.submit(), ok.submit()]

    state = f(return_state=True)
    assert state.is_completed() and state.message == "All states completed."


def test_manual_state_is_final_state() -> None:
    @flow
    def f(fail: bool) -> State[Any]:
        return Failed(message="chose to fail") if fail else Completed(message="fine", data=7)

    assert f(True, return_state=True).message == "chose to fail"
    assert f(False) == 7


def test_task_timeout(capsys: pytest.CaptureFixture[str]) -> None:
    @flow
    def f() -> State[Any]:
        return slow(return_state=True)

    started = time.monotonic()
    flow_state = f(return_state=True)
    elapsed = time.monotonic() - started
    assert elapsed < 4  # reported at the deadline, not when the 5 s sleep ends
    [task_state] = [flow_state.data]
    assert task_state.name == "TimedOut" and task_state.type is StateType.FAILED
    assert task_state.message == "Task run exceeded timeout of 0.2 second(s)"
    assert isinstance(task_state.data, TaskRunTimeoutError)
    assert (
        "Finished in state TimedOut('Task run exceeded timeout of 0.2 second(s)', type=FAILED)"
        in (capsys.readouterr().err)
    )


def test_timed_out_task_is_retried() -> None:
    attempts = {"n": 0}

    @task(timeout_seconds=0.2, retries=1)
    def slow_once() -> str:
        attempts["n"] += 1
        if attempts["n"] == 1:
            time.sleep(1)
        return "second try"

    @flow
    def f() -> str:
        return slow_once()

    assert f() == "second try"


def test_flow_timeout() -> None:
    @flow(timeout_seconds=0.2)
    def f() -> None:
        time.sleep(5)

    started = time.monotonic()
    state = f(return_state=True)
    assert time.monotonic() - started < 4
    assert str(state) == "TimedOut('Flow run exceeded timeout of 0.2 second(s)', type=FAILED)"
    with pytest.raises(FlowRunTimeoutError):
        f()


def test_subflow_is_linked_and_journaled(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    @flow
    def child(x: int) -> int:
        return x + ok()

    @flow
    def parent() -> int:
        return child(1) + child(2)

    state = parent(return_state=True)
    assert state.result() == 5
    parent_id = state.state_details.flow_run_id
    entries = [r for r in store.read_task_runs(parent_id) if isinstance(r, TaskRunRecord)]
    assert [e.task_name for e in entries] == ["child", "child"]
    children = [store.read_flow_run(e.child_flow_run_id) for e in entries]  # type: ignore[arg-type]
    assert all(c.parent_flow_run_id == parent_id for c in children)
    assert all(c.parent_task_run_id == e.id for c, e in zip(children, entries))
    assert "Beginning subflow run" in capsys.readouterr().err


def test_flow_retry_runs_subflow_again_as_a_new_run(store: Store) -> None:
    runs = {"child": 0, "parent": 0}

    @flow
    def child() -> str:
        runs["child"] += 1
        return f"child run {runs['child']}"

    @flow(retries=2)
    def parent() -> str:
        runs["parent"] += 1
        value = child()
        if runs["parent"] < 3:
            raise RuntimeError("parent flakes after the subflow")
        return value

    state = parent(return_state=True)
    assert state.result() == "child run 3"
    entries = [
        r
        for r in store.read_task_runs(state.state_details.flow_run_id)
        if isinstance(r, TaskRunRecord)
    ]
    assert len({e.child_flow_run_id for e in entries}) == 3


def test_retried_parent_with_rejected_subflow_keeps_the_real_error() -> None:
    @flow
    def child(n: int) -> int:
        return n

    @flow(retries=1)
    def parent() -> int:
        return child("not a number")  # type: ignore[arg-type]

    with pytest.raises(ParameterTypeError, match=" - n: Input should be a valid integer"):
        parent()


class Config(BaseModel):
    name: str
    size: int = 1


def test_parameters_are_coerced() -> None:
    @flow
    def f(n: int, tags: list[str], cfg: Config, anything=None) -> tuple[Any, ...]:  # type: ignore[no-untyped-def]
        return n, tags, cfg, anything

    n, tags, cfg, anything = f("3", ("a", "b"), {"name": "x"}, anything=object)
    assert n == 3 and tags == ["a", "b"] and cfg == Config(name="x") and anything is object


def test_unresolvable_annotation_skips_only_that_parameter() -> None:
    class Local:
        pass

    @flow
    def f(n: int, thing: Local) -> tuple[Any, Any]:
        return n, thing

    assert f("4", "not checked") == (4, "not checked")


def test_bad_parameters_fail_before_anything_runs(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    ran: list[str] = []

    @flow
    def f(n: int, names: list[str]) -> None:
        ran.append("body")

    state = f("abc", 3, return_state=True)
    assert ran == []
    assert state.is_failed()
    assert state.message == (
        "Validation of flow parameters failed with error: ParameterTypeError: Flow run received "
        "invalid parameters:\n - n: Input should be a valid integer, unable to parse string as an "
        "integer\n - names: Input should be a valid list"
    )
    record = store.read_flow_run(state.state_details.flow_run_id)
    assert record.state_name == "Failed" and record.state_message == state.message
    assert store.read_task_runs(record.id) == []
    with pytest.raises(ParameterTypeError, match=" - n: Input should be a valid integer"):
        f("abc", ["ok"])
    with pytest.raises(ParameterBindError, match="missing a required argument: 'names'"):
        f(1)  # type: ignore[call-arg]
    assert "Validation of flow parameters failed" in capsys.readouterr().err


def test_validate_parameters_false_passes_through() -> None:
    @flow(validate_parameters=False)
    def f(n: int) -> Any:
        return n

    assert f("3") == "3"


def test_flow_run_name_template(store: Store) -> None:
    @flow(flow_run_name="stars-{day}")
    def f(day: str) -> str:
        ctx = FlowRunContext.get()
        assert ctx is not None
        return ctx.flow_run.name

    assert f("monday") == "stars-monday"


def test_async_flow_and_tasks() -> None:
    @task
    async def fetch(x: int) -> int:
        await asyncio.sleep(0.01)
        return x * 10

    @flow
    async def pipeline() -> list[int]:
        first = await fetch(1)
        futures = [fetch.submit(i) for i in (2, 3)]
        gathered = await asyncio.gather(fetch(4), fetch(5))
        return [first, *[f.result() for f in futures], *gathered]

    assert asyncio.run(pipeline()) == [10, 20, 30, 40, 50]
    state = asyncio.run(pipeline(return_state=True))
    assert state.is_completed()


def test_flow_hooks(capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[str] = []

    def notify(f: object, run: FlowRunRecord, state: State[Any]) -> None:
        seen.append(f"{run.flow_name}:{state.name}")

    @flow(on_failure=[notify], on_completion=[notify])
    def f(fail: bool) -> None:
        if fail:
            raise RuntimeError("x")

    f(False)
    f(True, return_state=True)
    assert seen == ["f:Completed", "f:Failed"]


def test_keyboard_interrupt_marks_crashed(store: Store) -> None:
    @flow
    def f() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        f()
    [record] = [r for r in store.list_flow_runs() if isinstance(r, FlowRunRecord)]
    assert record.state_name == "Crashed"
    assert record.state_message == "Execution was aborted by an interrupt signal."
