"""Calling tasks: in flows, outside flows, with states, names, and log lines."""

from __future__ import annotations

import pytest

from flowless import flow, get_run_logger, task
from flowless.context import TaskRunContext
from flowless.exceptions import MissingContextError, ParameterBindError
from flowless.states import State
from flowless.store import Store, TaskRunRecord
from tests.conftest import log_lines


@task
def add(a: int, b: int = 10) -> int:
    return a + b


@task
def boom() -> None:
    raise ValueError("nope")


def test_task_in_flow_returns_value_and_is_recorded(store: Store) -> None:
    @flow
    def f() -> int:
        return add(1) + add(2, b=3)

    state = f(return_state=True)
    assert state.result() == 16
    runs = store.read_task_runs(state.state_details.flow_run_id)
    assert [(r.task_name, r.dynamic_key, r.state_name) for r in runs] == [  # type: ignore[union-attr]
        ("add", 0, "Completed"),
        ("add", 1, "Completed"),
    ]


def test_return_state(capsys: pytest.CaptureFixture[str]) -> None:
    @flow
    def f() -> tuple[State[int], State[None]]:
        return add(1, return_state=True), boom(return_state=True)

    ok, bad = f(return_state=True).result(raise_on_failure=False)
    assert ok.is_completed() and ok.result() == 11
    assert bad.is_failed()
    assert bad.message == "Task run encountered an exception ValueError: nope"
    with pytest.raises(ValueError, match="nope"):
        bad.result()


def test_failed_task_raises_in_flow_and_fails_it(capsys: pytest.CaptureFixture[str]) -> None:
    @flow
    def f() -> None:
        boom()

    state = f(return_state=True)
    assert state.message == "Flow run encountered an exception: ValueError: nope"
    lines = log_lines(capsys.readouterr().err)
    assert any(
        "ERROR | Task run 'boom-" in line
        and "Task run failed with exception: ValueError('nope')" in line
        for line in lines
    )
    assert any(
        "Encountered exception during execution: ValueError('nope')" in line for line in lines
    )


def test_task_outside_flow_runs_and_is_recorded(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    assert add(4) == 14
    assert "Finished in state Completed()" in capsys.readouterr().err
    with pytest.raises(ValueError, match="nope"):
        boom()
    assert add.submit(1, 1).result() == 2


def test_wrong_arguments_fail_the_flow_clearly(store: Store) -> None:
    @flow
    def f() -> int:
        return add(b=2)  # type: ignore[call-arg]

    state = f(return_state=True)
    assert state.is_failed()
    assert "Error binding parameters for function 'add': missing a required argument: 'a'" in (
        state.message or ""
    )
    assert store.read_task_runs(state.state_details.flow_run_id) == []
    with pytest.raises(ParameterBindError, match="unexpected keyword argument 'c'"):
        add(1, c=3)  # type: ignore[call-arg]


def test_task_run_names(capsys: pytest.CaptureFixture[str]) -> None:
    @task(task_run_name="sq-{x}")
    def sq(x: int) -> int:
        return x * x

    @flow
    def f() -> None:
        sq(3)
        sq.with_options(task_run_name=lambda: "custom")(4)

    f()
    err = capsys.readouterr().err
    assert "Task run 'sq-3' - Finished in state Completed()" in err
    assert "Task run 'custom' - Finished in state Completed()" in err


def test_default_task_run_name_has_three_hex_digits(capsys: pytest.CaptureFixture[str]) -> None:
    @flow
    def f() -> None:
        add(1)

    f()
    [line] = [line for line in log_lines(capsys.readouterr().err) if "Task run" in line]
    assert line.startswith("INFO | Task run 'add-")
    suffix = line.split("'")[1].split("-")[1]
    assert len(suffix) == 3 and int(suffix, 16) >= 0


def test_task_run_ids_are_deterministic_per_call_position(store: Store) -> None:
    @flow
    def f() -> None:
        add(1)
        add(1)

    a = f(return_state=True).state_details.flow_run_id
    ids = [r.id for r in store.read_task_runs(a) if isinstance(r, TaskRunRecord)]
    assert len(set(ids)) == 2


def test_run_logger_and_context(capsys: pytest.CaptureFixture[str]) -> None:
    @task
    def inner() -> str:
        ctx = TaskRunContext.get()
        assert ctx is not None
        get_run_logger().warning("careful")
        return ctx.task_run.name

    @flow
    def f() -> str:
        get_run_logger().info("flow says hi")
        return inner()

    name = f()
    lines = log_lines(capsys.readouterr().err)
    assert f"WARNING | Task run '{name}' - careful" in lines
    assert any(
        line.startswith("INFO | Flow run '") and line.endswith("' - flow says hi") for line in lines
    )
    no_run = r"^There is no active flow or task run context\.$"  # Prefect's words
    with pytest.raises(MissingContextError, match=no_run):
        get_run_logger()


def test_nested_task_call(store: Store) -> None:
    @task
    def outer(x: int) -> int:
        return add(x) * 2

    @flow
    def f() -> int:
        return outer(1)

    state = f(return_state=True)
    assert state.result() == 22
    names = {r.task_name for r in store.read_task_runs(state.state_details.flow_run_id)}  # type: ignore[union-attr]
    assert names == {"outer", "add"}


def test_log_prints(capsys: pytest.CaptureFixture[str]) -> None:
    @task
    def shout() -> None:
        print("from task")

    @task(log_prints=False)
    def quiet() -> None:
        print("plain print")

    @flow(log_prints=True)
    def f() -> None:
        print("from flow")
        shout()
        quiet()

    f()
    out, err = capsys.readouterr()
    assert "plain print" in out
    assert "from flow" not in out and "from task" not in out
    lines = log_lines(err)
    assert any(
        line.startswith("INFO | Flow run") and line.endswith("- from flow") for line in lines
    )
    assert any(
        line.startswith("INFO | Task run 'shout-") and line.endswith("- from task")
        for line in lines
    )
    print("after the flow")
    assert capsys.readouterr().out == "after the flow\n"


def test_hooks(capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[str] = []

    def on_done(tsk: object, run: TaskRunRecord, state: State[object]) -> None:
        seen.append(f"done {run.task_name} {state.name}")

    def on_fail(tsk: object, run: TaskRunRecord, state: State[object]) -> None:
        seen.append(f"failed {run.task_name}")
        raise RuntimeError("hook broke")

    ok = add.with_options(on_completion=[on_done])
    bad = boom.with_options(on_failure=[on_fail])

    @flow
    def f() -> None:
        ok(1)
        bad(return_state=True)

    assert f(return_state=True).is_completed()
    assert seen == ["done add Completed", "failed boom"]
    err = capsys.readouterr().err
    assert "Running hook 'on_done' in response to entering state 'Completed'" in err
    assert "Hook 'on_done' finished running successfully" in err
    assert "An error was encountered while running hook 'on_fail'" in err


def test_hooks_run_before_the_finished_line_on_cache_hits_and_async(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from flowless.cache_policies import INPUTS

    seen: list[str] = []

    async def notify(tsk: object, run: TaskRunRecord, state: State[object]) -> None:
        import asyncio

        await asyncio.sleep(0)
        seen.append(state.name)

    @task(cache_policy=INPUTS, on_completion=[notify])
    def cached(x: int) -> int:
        return x

    @flow
    def f() -> None:
        cached(1)

    f()
    f()
    assert seen == ["Completed", "Cached"]  # awaited, and run for the cache hit too
    lines = [line for line in log_lines(capsys.readouterr().err) if "Task run" in line]
    hook_done = [i for i, line in enumerate(lines) if "finished running successfully" in line]
    finished = [i for i, line in enumerate(lines) if "Finished in state" in line]
    assert len(hook_done) == 2 and all(h < f for h, f in zip(hook_done, finished, strict=True))
