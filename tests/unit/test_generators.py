"""Generator tasks and flows (``def f(): yield ...`` and ``async def`` ones), as Prefect
3.4.25 runs them. Each docstring holds what real Prefect 3.4.25 printed for the same
program (``prefect`` imports; run names and task-run suffixes vary, tracebacks and the
temporary server's lines left out); the assertions check flowless prints the same, and
say so where flowless differs on purpose."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import pytest

from flowless import flow, get_run_logger, runtime, task
from flowless.cache_policies import INPUTS
from flowless.context import TaskRunContext
from flowless.engine import current_runtime, resume_flow_run
from flowless.engine._generators import VALUES_KEY
from flowless.exceptions import TaskRunTimeoutError
from flowless.states import State
from flowless.store import Store, TaskRunRecord
from tests.conftest import log_lines

seen: list[Any] = []


@pytest.fixture(autouse=True)
def _reset() -> None:
    seen.clear()


def _named(err: str) -> list[str]:
    """Console lines with flow-run names as ``RUN`` and task-run suffixes as ``-xyz``."""
    out = []
    for line in log_lines(err):
        line = re.sub(r"((?:Flow|flow|subflow) run )'[a-z]+-[a-z]+'", r"\1'RUN'", line)
        out.append(re.sub(r"(Task run '\w+)-[0-9a-f]{3}'", r"\1-xyz'", line))
    return out


def _collect(values: Any, pause: float = 0.0) -> None:
    """The caller's loop: each value noted as ``got v`` (then a pause)."""
    for value in values:
        seen.append(f"got {value}")
        time.sleep(pause)


async def _acollect(values: Any) -> None:
    async for value in values:
        seen.append(f"got {value}")


def _raise_in_loop(values: Any) -> None:
    for _ in values:
        raise KeyError("consumer")


def _hook(name: str) -> Any:
    def hook(obj: Any, run: Any, state: State[Any]) -> None:
        seen.append(f"{name} hook: {state.name} result={state.result(raise_on_failure=False)!r}")

    return hook


@task(on_completion=[_hook("completion")], on_failure=[_hook("failure")])
def countdown(n: int) -> Any:
    try:
        for i in range(n):
            seen.append(f"yield {i}")
            yield i
        return "RET"
    finally:
        seen.append("finally")


@task
def consumer(x: int) -> int:
    seen.append(f"consumer {x} in {runtime.task_run.name[:8]}")
    return x


def test_task_values_stream_to_the_caller_while_it_runs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Prefect 3.4.25 (the loop body runs in the generator's task-run context)::

    gen yields 0
    loop body; ctx task = gen-629
    consumer 0 consumer-620
    INFO | Task run 'consumer-620' - Finished in state Completed()
    gen yields 1
    ...
    INFO | Task run 'consumer-583' - Finished in state Completed()
    gen finally
    INFO | Task run 'gen-629' - Running hook 'h' in response to entering state 'Completed'
    HOOK completion: Completed(...) result='RET'
    INFO | Task run 'gen-629' - Hook 'h' finished running successfully
    INFO | Task run 'gen-629' - Finished in state Completed()
    == yield from return value
    ...
    yield from got RET
    """

    @flow
    def pipeline() -> Any:
        values = countdown(2)
        seen.append(type(values).__name__)
        for value in values:
            ctx = TaskRunContext.get()
            seen.append(f"loop body in {ctx.task_run.name[:9] if ctx else None}")
            consumer(value)
        got = yield_from_result()
        seen.append(f"yield from got {got}")
        return "done"

    def yield_from_result() -> Any:
        def outer() -> Any:
            return (yield from countdown(1))

        gen = outer()
        try:
            while True:
                next(gen)
        except StopIteration as stop:
            return stop.value

    state = pipeline(return_state=True)
    assert state.result() == "done"
    assert seen == [
        "generator",  # nothing ran yet
        "yield 0",
        "loop body in countdown",
        "consumer 0 in consumer",
        "yield 1",
        "loop body in countdown",
        "consumer 1 in consumer",
        "finally",
        "completion hook: Completed result='RET'",
        "yield 0",
        "finally",
        "completion hook: Completed result='RET'",
        "yield from got RET",
    ]
    assert _named(capsys.readouterr().err) == [
        "INFO | Flow run 'RUN' - Beginning flow run 'RUN' for flow 'pipeline'",
        "INFO | Task run 'consumer-xyz' - Finished in state Completed()",
        "INFO | Task run 'consumer-xyz' - Finished in state Completed()",
        "INFO | Task run 'countdown-xyz' - Running hook 'hook' in response to entering state "
        "'Completed'",
        "INFO | Task run 'countdown-xyz' - Hook 'hook' finished running successfully",
        "INFO | Task run 'countdown-xyz' - Finished in state Completed()",
        "INFO | Task run 'countdown-xyz' - Running hook 'hook' in response to entering state "
        "'Completed'",
        "INFO | Task run 'countdown-xyz' - Hook 'hook' finished running successfully",
        "INFO | Task run 'countdown-xyz' - Finished in state Completed()",
        "INFO | Flow run 'RUN' - Finished in state Completed()",
    ]


def test_the_task_run_records_its_return_value(store: Store) -> None:
    """Prefect stores what the generator returned (``ResultRecord(... result='RET')``);
    flowless too, and in a flow run also the values, for the journal."""

    @flow
    def pipeline() -> list[int]:
        return list(countdown(3))

    state = pipeline(return_state=True)
    assert state.result() == [0, 1, 2]
    [record] = [
        r
        for r in store.read_task_runs(state.state_details.flow_run_id or "")
        if isinstance(r, TaskRunRecord)
    ]
    results = current_runtime().results
    assert (record.state_name, record.run_count) == ("Completed", 1)
    assert record.result is not None and results.load(record.result) == "RET"
    entry = store.read_cache_entry(VALUES_KEY + record.id, time.time())
    assert entry is not None and results.load(entry.result) == [0, 1, 2]


def test_break_completes_the_run_with_no_result(capsys: pytest.CaptureFixture[str]) -> None:
    """Prefect 3.4.25: the generator's ``finally`` runs, then the hook, then the line::

    gen yields 0
    gen yields 1
    gen finally
    INFO | Task run 'gen-151' - Running hook 'h' in response to entering state 'Completed'
    HOOK completion: Completed(...) result=None
    INFO | Task run 'gen-151' - Hook 'h' finished running successfully
    INFO | Task run 'gen-151' - Finished in state Completed()
    after break
    """

    @flow
    def pipeline() -> None:
        for value in countdown(5):
            if value == 1:
                break
        seen.append("after break")

    pipeline()
    assert seen == [
        "yield 0",
        "yield 1",
        "finally",
        "completion hook: Completed result=None",
        "after break",
    ]
    assert _named(capsys.readouterr().err)[-2:] == [
        "INFO | Task run 'countdown-xyz' - Finished in state Completed()",
        "INFO | Flow run 'RUN' - Finished in state Completed()",
    ]


def test_a_task_called_outside_a_flow(capsys: pytest.CaptureFixture[str]) -> None:
    """Prefect 3.4.25 (tests/compat/programs/generator_task.py, and a failing one)::

    INFO  | Task run 'consumer' - Finished in state Completed()   (x 10)
    INFO  | Task run 'generator' - Finished in state Completed()
    got 1
    ERROR | Task run 'lone' - Task run failed with exception: KeyError('lone')
    ERROR | Task run 'lone' - Finished in state Failed("Task run encountered an
            exception KeyError: 'lone'")
    raised KeyError 'lone'
    """

    @task
    def lone() -> Any:
        yield 1
        raise KeyError("lone")

    for value in countdown(2):
        consumer(value)
    with pytest.raises(KeyError, match="lone"):
        _collect(lone())
    assert seen[-1] == "got 1"
    assert _named(capsys.readouterr().err) == [
        "INFO | Task run 'consumer' - Finished in state Completed()",
        "INFO | Task run 'consumer' - Finished in state Completed()",
        "INFO | Task run 'countdown' - Running hook 'hook' in response to entering state "
        "'Completed'",
        "INFO | Task run 'countdown' - Hook 'hook' finished running successfully",
        "INFO | Task run 'countdown' - Finished in state Completed()",
        "ERROR | Task run 'lone' - Task run failed with exception: KeyError('lone')",
        "ERROR | Task run 'lone' - Finished in state Failed(\"Task run encountered an "
        "exception KeyError: 'lone'\")",
    ]


def test_return_state_raises_at_the_first_value() -> None:
    """Prefect 3.4.25::

    return_state gave generator
    return_state raised ValueError The return_type for a generator task must be 'result'
    (and for a flow: ... for a generator flow must be 'result')
    """

    @flow
    def gen_flow() -> Any:
        yield 1

    values = countdown(2, return_state=True)  # type: ignore[call-arg]
    assert type(values).__name__ == "generator"
    with pytest.raises(
        ValueError, match=r"^The return_type for a generator task must be 'result'$"
    ):
        next(values)
    flow_values = gen_flow(return_state=True)  # type: ignore[call-arg]
    with pytest.raises(
        ValueError, match=r"^The return_type for a generator flow must be 'result'$"
    ):
        list(flow_values)
    assert seen == []  # nothing ran


def test_an_exception_midway_fails_the_run_and_reaches_the_caller(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Prefect 3.4.25::

    got 1
    ERROR | Task run 'failing-6ef' - Task run failed with exception: RuntimeError('mid-way')
    ERROR | Task run 'failing-6ef' - Finished in state Failed('Task run encountered an
            exception RuntimeError: mid-way')
    raised RuntimeError mid-way
    """

    @task
    def failing() -> Any:
        yield 1
        raise RuntimeError("mid-way")

    @flow
    def pipeline() -> str:
        try:
            for value in failing():
                seen.append(f"got {value}")
        except RuntimeError as exc:
            seen.append(f"raised {exc}")
        return "done"

    assert pipeline() == "done"
    assert seen == ["got 1", "raised mid-way"]
    assert _named(capsys.readouterr().err)[1:3] == [
        "ERROR | Task run 'failing-xyz' - Task run failed with exception: RuntimeError('mid-way')",
        "ERROR | Task run 'failing-xyz' - Finished in state Failed('Task run encountered an "
        "exception RuntimeError: mid-way')",
    ]


def test_retries_run_the_function_again_from_the_start(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Prefect 3.4.25 (values yielded before the failure come again)::

    got (1, 0)
    got (1, 1)
    INFO | Task run 'flaky-9b6' - Task run failed with exception: ValueError('boom at
           attempt 1') - Retry 1/2 will start immediately
    got (2, 0)
    got (2, 1)
    INFO | Task run 'flaky-9b6' - Task run failed with exception: ValueError('boom at
           attempt 2') - Retry 2/2 will start immediately
    got (3, 0) ... got (3, 3)
    INFO | Task run 'flaky-9b6' - Finished in state Completed()
    """
    attempts = {"n": 0}

    @task(retries=2)
    def flaky(n: int) -> Any:
        attempts["n"] += 1
        a = attempts["n"]
        for i in range(n):
            if i == 2 and a < 3:
                raise ValueError(f"boom at attempt {a}")
            yield (a, i)

    @flow
    def pipeline() -> list[Any]:
        return list(flaky(4))

    assert pipeline() == [(1, 0), (1, 1), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2), (3, 3)]
    assert _named(capsys.readouterr().err)[1:4] == [
        "INFO | Task run 'flaky-xyz' - Task run failed with exception: ValueError('boom at "
        "attempt 1') - Retry 1/2 will start immediately",
        "INFO | Task run 'flaky-xyz' - Task run failed with exception: ValueError('boom at "
        "attempt 2') - Retry 2/2 will start immediately",
        "INFO | Task run 'flaky-xyz' - Finished in state Completed()",
    ]


def test_an_exception_in_the_loop_body_closes_it_completed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Prefect 3.4.25::

    INFO | Task run 'gen_plain-bb8' - Finished in state Completed()
    consumer raised 'consumer'
    """

    @flow
    def pipeline() -> None:
        with pytest.raises(KeyError):
            _raise_in_loop(countdown(3))
        seen.append("caught")

    pipeline()
    assert seen == ["yield 0", "finally", "completion hook: Completed result=None", "caught"]
    assert "INFO | Task run 'countdown-xyz' - Finished in state Completed()" in _named(
        capsys.readouterr().err
    )


def test_the_cache_is_never_read_but_a_known_key_is_named_cached(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Prefect 3.4.25 (``if False and txn.is_committed()`` in its engine)::

    cached_gen runs
    INFO | Task run 'cached_gen-22c' - Finished in state Completed()
    [0, 1]
    cached_gen runs
    INFO | Task run 'cached_gen-c10' - Finished in state Cached(type=COMPLETED)
    [0, 1]
    """

    @task(cache_policy=INPUTS)
    def cached_gen(n: int) -> Any:
        seen.append("cached_gen runs")
        yield from range(n)
        return "R"

    @flow
    def pipeline() -> None:
        seen.append(list(cached_gen(2)))
        seen.append(list(cached_gen(2)))

    pipeline()
    assert seen == ["cached_gen runs", [0, 1], "cached_gen runs", [0, 1]]
    assert _named(capsys.readouterr().err)[1:3] == [
        "INFO | Task run 'cached_gen-xyz' - Finished in state Completed()",
        "INFO | Task run 'cached_gen-xyz' - Finished in state Cached(type=COMPLETED)",
    ]


def test_submit_and_map_give_the_list_of_values() -> None:
    """Prefect 3.4.25 (its task runner calls the function like any other, and a returned
    generator becomes the list of its values)::

        INFO | Task run 'gen_plain-a9e' - Finished in state Completed()
        submit state Completed()
        submit result list [0, 1, 2]
        map result list [0]
        map result list [0, 1]
    """

    @task
    def plain(n: int) -> Any:
        yield from range(n)

    @flow
    def pipeline() -> list[Any]:
        future = plain.submit(3)
        future.wait()
        seen.append(str(future.state))
        return [future.result(), [f.result() for f in plain.map([1, 2])]]

    assert pipeline() == [[0, 1, 2], [[0], [0, 1]]]
    assert seen == ["Completed()"]


def test_a_slow_value_times_the_run_out(capsys: pytest.CaptureFixture[str]) -> None:
    """Prefect 3.4.25::

    got 1
    ERROR | Task run 'slow_body-208' - Task run failed with exception:
            TaskRunTimeoutError('Scope timed out after 0.5 second(s).')
    ERROR | Task run 'slow_body-208' - Task run exceeded timeout of 0.5 second(s)
    ERROR | Task run 'slow_body-208' - Finished in state TimedOut('Task run exceeded
            timeout of 0.5 second(s)', type=FAILED)
    raised TaskRunTimeoutError Scope timed out after 0.5 second(s).
    """

    @task(timeout_seconds=0.3)
    def slow_body() -> Any:
        yield 1
        time.sleep(1)
        yield 2

    @flow
    def pipeline() -> None:
        with pytest.raises(TaskRunTimeoutError, match=r"^Scope timed out after 0\.3 second"):
            _collect(slow_body())

    pipeline()
    assert seen == ["got 1"]
    assert _named(capsys.readouterr().err)[1:4] == [
        "ERROR | Task run 'slow_body-xyz' - Task run failed with exception: "
        "TaskRunTimeoutError('Scope timed out after 0.3 second(s).')",
        "ERROR | Task run 'slow_body-xyz' - Task run exceeded timeout of 0.3 second(s)",
        "ERROR | Task run 'slow_body-xyz' - Finished in state TimedOut('Task run exceeded "
        "timeout of 0.3 second(s)', type=FAILED)",
    ]


def test_the_callers_time_counts_toward_the_timeout(capsys: pytest.CaptureFixture[str]) -> None:
    """Prefect 3.4.25 interrupts the *caller's* code at the deadline (a bare
    ``CancelledError`` in the loop body) and records the run Completed::

        got 0
        got 1
        INFO | Task run 'slow_consumer-b90' - Finished in state Completed()
        raised CancelledError

    Different on purpose: flowless never interrupts the caller's own code; when the
    caller asks for the next value after the deadline, the run is ``TimedOut`` and the
    caller gets ``TaskRunTimeoutError`` there.
    """

    @task(timeout_seconds=0.3)
    def slow_consumer() -> Any:
        yield from range(3)

    @flow
    def pipeline() -> None:
        with pytest.raises(TaskRunTimeoutError):
            _collect(slow_consumer(), pause=0.2)

    pipeline()
    assert seen == ["got 0", "got 1"]
    assert (
        "ERROR | Task run 'slow_consumer-xyz' - Finished in state TimedOut('Task run exceeded "
        "timeout of 0.3 second(s)', type=FAILED)"
    ) in _named(capsys.readouterr().err)


def test_the_loop_body_runs_in_the_generators_run(capsys: pytest.CaptureFixture[str]) -> None:
    """Prefect 3.4.25 (a task called in the loop over a generator flow belongs to that flow
    run; a loop over a ``log_prints`` generator task logs prints as that task run)::

        INFO | Flow run 'proud-cougar' - Beginning flow run 'proud-cougar' for flow 'numbers'
        INFO | Task run 'process-979' - Finished in state Completed()
        loop body flow_run True 0
        INFO | Flow run 'proud-cougar' - logger at top-level loop body
        ...
        INFO | Flow run 'proud-cougar' - Finished in state Completed()
        INFO | Flow run 'puzzling-cockatoo' - Beginning flow run 'puzzling-cockatoo' for
               flow 'outer-flow'
        INFO | Task run 'tgen-a7e' - printed in loop body of log_prints gen task
        INFO | Task run 'tgen-a7e' - logger in loop body
        INFO | Task run 'tgen-a7e' - Finished in state Completed()
    """

    @task
    def process(x: int) -> int:
        return x * 10

    @flow
    def numbers() -> Any:
        yield from range(2)

    @task(log_prints=True)
    def tgen() -> Any:
        yield 1

    @flow
    def outer_flow() -> None:
        for _ in tgen():
            print("printed in loop body of log_prints gen task")
            get_run_logger().info("logger in loop body")

    for n in numbers():
        seen.append((runtime.flow_run.name is not None, process(n)))
        get_run_logger().info("logger at top-level loop body")
    outer_flow()
    assert seen == [(True, 0), (True, 10)]
    assert _named(capsys.readouterr().err) == [
        "INFO | Flow run 'RUN' - Beginning flow run 'RUN' for flow 'numbers'",
        "INFO | Task run 'process-xyz' - Finished in state Completed()",
        "INFO | Flow run 'RUN' - logger at top-level loop body",
        "INFO | Task run 'process-xyz' - Finished in state Completed()",
        "INFO | Flow run 'RUN' - logger at top-level loop body",
        "INFO | Flow run 'RUN' - Finished in state Completed()",
        "INFO | Flow run 'RUN' - Beginning flow run 'RUN' for flow 'outer-flow'",
        "INFO | Task run 'tgen-xyz' - printed in loop body of log_prints gen task",
        "INFO | Task run 'tgen-xyz' - logger in loop body",
        "INFO | Task run 'tgen-xyz' - Finished in state Completed()",
        "INFO | Flow run 'RUN' - Finished in state Completed()",
    ]


def test_an_upstream_failure_yields_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    """Prefect 3.4.25::

    ERROR | Task run 'gen-01f' - Finished in state NotReady("Upstream task run '...'
            did not reach a 'COMPLETED' state.", type=PENDING)
    INFO  | Flow run 'pompous-lori' - notready: []
    """

    @task
    def boom() -> None:
        raise ValueError("upstream")

    @flow
    def pipeline() -> list[Any]:
        return list(countdown(boom.submit()))

    assert pipeline() == []
    assert seen == []
    assert any(
        line.startswith("ERROR | Task run 'countdown-xyz' - Finished in state NotReady(")
        for line in _named(capsys.readouterr().err)
    )


def _flow_hook(name: str) -> Any:
    def hook(obj: Any, run: Any, state: State[Any]) -> None:
        seen.append(f"{name} hook: {state.name} result={state.result(raise_on_failure=False)!r}")

    return hook


@flow(on_completion=[_flow_hook("completion")], on_failure=[_flow_hook("failure")])
def gflow(n: int) -> Any:
    try:
        yield from range(n)
        return "FRET"
    finally:
        seen.append("gflow finally")


def test_a_generator_flow_streams_its_values(capsys: pytest.CaptureFixture[str]) -> None:
    """Prefect 3.4.25::

        INFO | Flow run 'fantastic-shellfish' - Beginning flow run 'fantastic-shellfish' for
               flow 'gflow'
        gflow finally
        INFO | Flow run 'fantastic-shellfish' - Running hook 'h' in response to entering
               state 'Completed'
        FHOOK completion: Completed(...result='FRET')
        INFO | Flow run 'fantastic-shellfish' - Hook 'h' finished running successfully
        INFO | Flow run 'fantastic-shellfish' - Finished in state Completed()
        yield from got FRET
        [0, 1]
        == top-level break
        INFO | Flow run 'gigantic-gharial' - Beginning flow run ...
        INFO | Flow run 'gigantic-gharial' - Running hook 'h' in response to entering state
               'Completed'
        FHOOK completion: Completed(... result=None)
        INFO | Flow run 'gigantic-gharial' - Hook 'h' finished running successfully
        gflow finally
        INFO | Flow run 'gigantic-gharial' - Finished in state Completed()
        after break

    Different: after a ``break``, Prefect runs a flow's hooks before the generator's
    ``finally``; flowless closes the generator first, as both do for a task.
    """

    def outer() -> Any:
        got = yield from gflow(2)
        seen.append(f"yield from got {got}")

    assert list(outer()) == [0, 1]
    for value in gflow(4):
        if value == 1:
            break
    seen.append("after break")
    assert seen == [
        "gflow finally",
        "completion hook: Completed result='FRET'",
        "yield from got FRET",
        "gflow finally",
        "completion hook: Completed result=None",
        "after break",
    ]
    assert (
        _named(capsys.readouterr().err)
        == [
            "INFO | Flow run 'RUN' - Beginning flow run 'RUN' for flow 'gflow'",
            "INFO | Flow run 'RUN' - Running hook 'hook' in response to entering state 'Completed'",
            "INFO | Flow run 'RUN' - Hook 'hook' finished running successfully",
            "INFO | Flow run 'RUN' - Finished in state Completed()",
        ]
        * 2
    )


def test_a_generator_flow_that_fails_then_retries(capsys: pytest.CaptureFixture[str]) -> None:
    """Prefect 3.4.25::

    INFO  | Flow run 'sandy-basilisk' - Beginning flow run 'sandy-basilisk' for flow
            'gflow-fail'
    got 1
    ERROR | Flow run 'sandy-basilisk' - Encountered exception during execution:
            ValueError('flow mid-way')
    INFO  | Flow run 'sandy-basilisk' - Finished in state Failed('Flow run encountered an
            exception: ValueError: flow mid-way')
    raised ValueError flow mid-way
    == retry
    INFO  | Flow run 'dramatic-mamba' - Beginning flow run 'dramatic-mamba' for flow
            'gflow-retry'
    got 1
    ERROR | Flow run 'dramatic-mamba' - Encountered exception during execution:
            ValueError('first attempt')
    INFO  | Flow run 'dramatic-mamba' - Received non-final state 'AwaitingRetry' when
            proposing final state 'Failed' and will attempt to run again...
    INFO  | Flow run 'dramatic-mamba' - Beginning flow run 'dramatic-mamba' for flow
            'gflow-retry'
    got 2
    got second
    INFO  | Flow run 'dramatic-mamba' - Finished in state Completed()
    """
    runs = {"n": 0}

    @flow
    def gflow_fail() -> Any:
        yield 1
        raise ValueError("flow mid-way")

    @flow(retries=1)
    def gflow_retry() -> Any:
        runs["n"] += 1
        yield runs["n"]
        if runs["n"] == 1:
            raise ValueError("first attempt")
        yield "second"

    with pytest.raises(ValueError, match="flow mid-way"):
        _collect(gflow_fail())
    assert list(gflow_retry()) == [1, 2, "second"]
    assert seen == ["got 1"]
    assert _named(capsys.readouterr().err) == [
        "INFO | Flow run 'RUN' - Beginning flow run 'RUN' for flow 'gflow-fail'",
        "ERROR | Flow run 'RUN' - Encountered exception during execution: "
        "ValueError('flow mid-way')",
        "INFO | Flow run 'RUN' - Finished in state Failed('Flow run encountered an exception: "
        "ValueError: flow mid-way')",
        "INFO | Flow run 'RUN' - Beginning flow run 'RUN' for flow 'gflow-retry'",
        "ERROR | Flow run 'RUN' - Encountered exception during execution: "
        "ValueError('first attempt')",
        "INFO | Flow run 'RUN' - Received non-final state 'AwaitingRetry' when proposing final "
        "state 'Failed' and will attempt to run again...",
        "INFO | Flow run 'RUN' - Beginning flow run 'RUN' for flow 'gflow-retry'",
        "INFO | Flow run 'RUN' - Finished in state Completed()",
    ]


def test_a_generator_subflow(capsys: pytest.CaptureFixture[str]) -> None:
    """Prefect 3.4.25::

    INFO | Flow run 'rigorous-gecko' - Beginning subflow run 'rigorous-gecko' for flow
           'gflow'
    gflow finally
    ... hook lines ...
    INFO | Flow run 'rigorous-gecko' - Finished in state Completed()
    sub: [0, 1]
    """

    @flow
    def parent() -> str:
        seen.append(list(gflow(2)))
        return "P"

    assert parent() == "P"
    assert seen == ["gflow finally", "completion hook: Completed result='FRET'", [0, 1]]
    assert _named(capsys.readouterr().err)[1] == (
        "INFO | Flow run 'RUN' - Beginning subflow run 'RUN' for flow 'gflow'"
    )


def test_async_generator_tasks(capsys: pytest.CaptureFixture[str]) -> None:
    """Prefect 3.4.25::

        async_generator
        got 0 / got 1 / got 2
        agen finally
        INFO  | Task run 'agen-b5f' - Running hook 'h' in response to entering state 'Completed'
        INFO  | Task run 'agen-b5f' - Hook 'h' finished running successfully
        INFO  | Task run 'agen-b5f' - Finished in state Completed()
        == async fail
        got 1
        ERROR | Task run 'afail-880' - Task run failed with exception: ValueError('async
                mid-way')
        ERROR | Task run 'afail-880' - Finished in state Failed('Task run encountered an
                exception ValueError: async mid-way')
        raised ValueError async mid-way
        == async retry
        got 1
        INFO  | Task run 'aretry-9d6' - Task run failed with exception: ValueError('retry me')
                - Retry 1/1 will start immediately
        got 2
        INFO  | Task run 'aretry-9d6' - Finished in state Completed()
        == submit async gen
        ERROR | Task run 'agen-374' - Finished in state Failed("Task run encountered an
                exception TypeError: object async_generator can't be used in 'await'
                expression")
        == return_state
        raised ValueError The return_type for a generator task must be 'result'

    Different: after ``break`` and ``aclose()``, Prefect 3.4.25 fails the run
    (``AttributeError: 'async_generator' object has no attribute 'throw'``) and leaves the
    function unclosed until the loop shuts down; flowless closes it and completes the run,
    as for a sync generator.
    """
    attempts = {"n": 0}

    @task(on_completion=[_hook("completion")], on_failure=[_hook("failure")])
    async def agen(n: int) -> Any:
        try:
            for i in range(n):
                await asyncio.sleep(0)
                yield i
        finally:
            seen.append("agen finally")

    @task
    async def afail() -> Any:
        yield 1
        raise ValueError("async mid-way")

    @task(retries=1)
    async def aretry() -> Any:
        attempts["n"] += 1
        yield attempts["n"]
        if attempts["n"] == 1:
            raise ValueError("retry me")

    @flow
    async def main() -> str:
        values = agen(3)
        seen.append(type(values).__name__)
        seen.extend([v async for v in values])
        values = agen(5)
        async for v in values:
            if v == 1:
                break
        await values.aclose()
        with pytest.raises(ValueError, match="async mid-way"):
            await _acollect(afail())
        seen.extend([v async for v in aretry()])
        with pytest.raises(TypeError, match="object async_generator can't be used in 'await'"):
            agen.submit(2).result()
        with pytest.raises(ValueError, match="must be 'result'"):
            await _acollect(agen(2, return_state=True))  # type: ignore[call-arg]
        return "M"

    assert asyncio.run(main()) == "M"
    assert seen == [
        "async_generator",
        "agen finally",
        "completion hook: Completed result=None",
        0,
        1,
        2,
        "agen finally",  # break, aclose()
        "completion hook: Completed result=None",
        "got 1",
        1,
        2,
        "failure hook: Failed result=TypeError(\"object async_generator can't be used in "
        "'await' expression\")",
    ]
    lines = _named(capsys.readouterr().err)
    assert "INFO | Task run 'agen-xyz' - Finished in state Completed()" in lines
    assert (
        "ERROR | Task run 'afail-xyz' - Finished in state Failed('Task run encountered an "
        "exception ValueError: async mid-way')"
    ) in lines
    assert (
        "INFO | Task run 'aretry-xyz' - Task run failed with exception: ValueError('retry me') "
        "- Retry 1/1 will start immediately"
    ) in lines
    assert (
        "ERROR | Task run 'agen-xyz' - Finished in state Failed(\"Task run encountered an "
        "exception TypeError: object async_generator can't be used in 'await' expression\")"
    ) in lines


def test_async_generator_flows(capsys: pytest.CaptureFixture[str]) -> None:
    """Prefect 3.4.25 (its async engine logs a failed run's last line at ERROR)::

    INFO  | Flow run 'sage-cat' - Beginning flow run 'sage-cat' for flow 'aflow'
    top got 0 / top got 1 / top got 2
    INFO  | Flow run 'sage-cat' - Finished in state Completed()
    INFO  | Flow run 'watchful-tuna' - Beginning flow run 'watchful-tuna' for flow 'afail'
    got 1
    ERROR | Flow run 'watchful-tuna' - Encountered exception during execution:
            ValueError('async flow mid-way')
    ERROR | Flow run 'watchful-tuna' - Finished in state Failed('Flow run encountered an
            exception: ValueError: async flow mid-way')
    raised ValueError async flow mid-way
    """

    @flow
    async def aflow(n: int) -> Any:
        for i in range(n):
            yield i

    @flow
    async def afail() -> Any:
        yield 1
        raise ValueError("async flow mid-way")

    async def main() -> None:
        seen.extend([v async for v in aflow(3)])
        with pytest.raises(ValueError, match="async flow mid-way"):
            await _acollect(afail())

    asyncio.run(main())
    assert seen == [0, 1, 2, "got 1"]
    assert _named(capsys.readouterr().err) == [
        "INFO | Flow run 'RUN' - Beginning flow run 'RUN' for flow 'aflow'",
        "INFO | Flow run 'RUN' - Finished in state Completed()",
        "INFO | Flow run 'RUN' - Beginning flow run 'RUN' for flow 'afail'",
        "ERROR | Flow run 'RUN' - Encountered exception during execution: "
        "ValueError('async flow mid-way')",
        "ERROR | Flow run 'RUN' - Finished in state Failed('Flow run encountered an exception: "
        "ValueError: async flow mid-way')",
    ]


def test_a_resumed_flow_run_replays_generator_calls(store: Store) -> None:
    """Not in Prefect (it has no journal, and never reads a generator task's cache): a
    resumed run gets a completed generator task's or subflow's values and return value
    again, without running it, so the calls made in its loop body replay too."""
    runs: list[str] = []
    attempt = {"n": 0}

    @task
    def numbers(n: int) -> Any:
        runs.append("numbers")
        yield from range(n)
        return "numbers done"

    @task
    def double(x: int) -> int:
        runs.append(f"double {x}")
        return 2 * x

    @flow
    def tens(n: int) -> Any:
        runs.append("tens")
        for i in range(n):
            yield i * 10

    @task
    def publish(total: int) -> int:
        attempt["n"] += 1
        if attempt["n"] == 1:
            raise RuntimeError("publisher down")
        runs.append("publish")
        return total

    @flow
    def report(n: int) -> int:
        values = numbers(n)
        total = sum(double(x) for x in values)
        return publish(total + sum(tens(n)))

    failed = report(3, return_state=True)
    assert failed.is_failed()
    assert runs == ["numbers", "double 0", "double 1", "double 2", "tens"]
    runs.clear()
    assert resume_flow_run(report, failed.state_details.flow_run_id or "") == 36
    assert runs == ["publish"]  # the generators and the calls in the loop replayed


def test_values_that_cannot_be_stored_run_again_on_resume(store: Store) -> None:
    runs: list[str] = []

    @task
    def locks() -> Any:
        import threading

        runs.append("locks")
        yield threading.Lock()

    @flow
    def report() -> int:
        count = len(list(locks()))
        if len(runs) == 1:
            raise RuntimeError("first time")
        return count

    failed = report(return_state=True)
    assert failed.is_failed()
    assert resume_flow_run(report, failed.state_details.flow_run_id or "") == 1
    assert runs == ["locks", "locks"]


def test_a_runner_drains_a_generator_flow(store: Store) -> None:
    """A deployment's run of a generator flow (nobody iterates it) runs to its end."""
    from flowless.engine._flow_run import run_scheduled
    from flowless.states import StateType
    from flowless.store import FlowRunRecord

    @flow
    def produce() -> Any:
        seen.extend(["a", "b"])
        yield 1
        return "end"

    record = FlowRunRecord(
        id="00000000-0000-4000-8000-000000000001",
        name="scheduled-run",
        flow_name="produce",
        state_type=StateType.SCHEDULED,
        state_name="Scheduled",
    )
    store.create_flow_run(record)
    state, ran = run_scheduled(produce, record.id)
    assert ran and state.is_completed() and state.result() == "end"
    assert seen == ["a", "b"]


def test_a_tag_limit_slot_is_held_while_the_caller_iterates() -> None:
    """Prefect holds a task's tag slots around the whole run (``engine.start()``), so a
    generator task holds its slot from its first value to its end."""
    from flowless.concurrency import create_limit, read_limit

    create_limit("tag:db", 1)

    @task(tags=["db"])
    def rows() -> Any:
        yield from range(2)

    @task(tags=["db"])
    async def arows() -> Any:
        yield 0

    @flow
    def load() -> None:
        for _ in rows():
            seen.append(read_limit("tag:db").active_slots)
        seen.append(read_limit("tag:db").active_slots)

    @flow
    async def aload() -> None:
        async for _ in arows():
            seen.append(read_limit("tag:db").active_slots)
        seen.append(read_limit("tag:db").active_slots)

    load()
    asyncio.run(aload())
    assert seen == [1, 1, 0, 1, 0]


def test_a_context_set_across_a_yield_survives_a_timeout() -> None:
    """A timed generator's steps run on a helper thread; each enters the attempt's own
    context, so a ``tags`` block around two ``yield``\\s holds for both (each step in a
    fresh copy raised ``ValueError: <Token ...> was created in a different Context``)."""
    from flowless import tags

    @task
    def inner() -> list[str]:
        return sorted(runtime.task_run.tags)

    @task(timeout_seconds=5)
    def g() -> Any:
        with tags("x"):
            yield inner()
            yield inner()

    @task(timeout_seconds=5)
    async def ag() -> Any:
        with tags("y"):
            yield inner()
            yield inner()

    @flow
    def f() -> list[Any]:
        return list(g())

    @flow
    async def af() -> list[Any]:
        return [v async for v in ag()]

    assert f() == [["x"], ["x"]]
    assert asyncio.run(af()) == [["y"], ["y"]]
