"""Retries exactly as Prefect: attempts, delays, jitter, conditions, and the log lines."""

from __future__ import annotations

import time

import pytest

from flowless import flow, task
from flowless.engine import _drivers, _task_run
from flowless.states import Failed, State
from flowless.store import Store, TaskRunRecord
from flowless.tasks import Task
from tests.conftest import log_lines


def flaky(failures: int, exc: type[Exception] = RuntimeError) -> object:
    calls = {"n": 0}

    def fn() -> str:
        calls["n"] += 1
        if calls["n"] <= failures:
            raise exc("boom")
        return "ok"

    fn.calls = calls  # type: ignore[attr-defined]
    return fn


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(_drivers, "sleep", slept.append)
    return slept


def test_retry_lines_match_prefect(
    capsys: pytest.CaptureFixture[str], sleeps: list[float], store: Store
) -> None:
    fn = flaky(2)
    fetch_stats = task(name="fetch_stats", retries=3, retry_delay_seconds=2)(fn)

    @flow
    def f() -> str:
        return fetch_stats()

    state = f(return_state=True)
    assert state.result() == "ok"
    assert sleeps == [2.0, 2.0]
    lines = [line for line in log_lines(capsys.readouterr().err) if "Task run 'fetch_stats" in line]
    name = lines[0].split("'")[1]
    assert lines == [
        f"INFO | Task run '{name}' - Task run failed with exception: RuntimeError('boom') - "
        "Retry 1/3 will start 2 second(s) from now",
        f"INFO | Task run '{name}' - Task run failed with exception: RuntimeError('boom') - "
        "Retry 2/3 will start 2 second(s) from now",
        f"INFO | Task run '{name}' - Finished in state Completed()",
    ]
    [record] = store.read_task_runs(state.state_details.flow_run_id)
    assert isinstance(record, TaskRunRecord) and record.run_count == 3


def test_retries_exhausted(capsys: pytest.CaptureFixture[str], sleeps: list[float]) -> None:
    always = task(name="always", retries=2)(flaky(10))

    @flow
    def f() -> None:
        always()

    state = f(return_state=True)
    assert state.message == "Flow run encountered an exception: RuntimeError: boom"
    lines = [line for line in log_lines(capsys.readouterr().err) if "Task run 'always" in line]
    assert [line.split(" - ", 1)[1] for line in lines] == [
        "Task run failed with exception: RuntimeError('boom') - Retry 1/2 will start immediately",
        "Task run failed with exception: RuntimeError('boom') - Retry 2/2 will start immediately",
        "Task run failed with exception: RuntimeError('boom') - Retries are exhausted",
        "Finished in state Failed('Task run encountered an exception RuntimeError: boom')",
    ]
    assert lines[2].startswith("ERROR") and lines[3].startswith("ERROR")
    assert sleeps == []


def test_delay_list_and_backoff(sleeps: list[float]) -> None:
    from flowless.tasks import exponential_backoff

    t1 = task(retries=3, retry_delay_seconds=[1, 5])(flaky(3))
    t2 = task(retries=3, retry_delay_seconds=exponential_backoff(backoff_factor=0.5))(flaky(3))

    @flow
    def f() -> None:
        t1()
        t2()

    f()
    assert sleeps == [1, 5, 5, 0.5, 1.0, 2.0]


def test_jitter_is_bounded(sleeps: list[float]) -> None:
    jittery = task(retries=40, retry_delay_seconds=10, retry_jitter_factor=0.5)(flaky(40))

    @flow
    def f() -> None:
        jittery()

    f()
    assert len(sleeps) == 40
    assert all(0 <= s <= 15 for s in sleeps)
    assert len(set(sleeps)) > 30  # actually random
    samples = [_task_run._jittered(10, 0.5) for _ in range(5000)]
    assert max(samples) <= 15
    assert 8.5 < sum(samples) / len(samples) < 11.5  # centred near the configured delay


def test_retry_condition_fn(sleeps: list[float]) -> None:
    def only_runtime_errors(
        tsk: Task[..., object], run: TaskRunRecord, state: State[object]
    ) -> bool:
        try:
            state.result()
        except RuntimeError:
            return True
        except Exception:
            return False
        return True

    transient = flaky(2, RuntimeError)
    permanent = flaky(2, KeyError)
    t1 = task(retries=3, retry_condition_fn=only_runtime_errors)(transient)
    t2 = task(retries=3, retry_condition_fn=only_runtime_errors)(permanent)

    @flow
    def f() -> tuple[State[str], State[str]]:
        return t1(return_state=True), t2(return_state=True)

    a, b = f(return_state=True).result(raise_on_failure=False)
    assert a.is_completed() and transient.calls["n"] == 3  # type: ignore[attr-defined]
    assert b.is_failed() and permanent.calls["n"] == 1  # type: ignore[attr-defined]


def test_flow_retries_run_tasks_again(capsys: pytest.CaptureFixture[str], store: Store) -> None:
    """As in Prefect: a retry re-runs the body, tasks included (a status check that made
    the first attempt fail must be asked again, not replayed)."""
    polls = {"n": 0}

    @task
    def job_status() -> str:
        polls["n"] += 1
        return "done" if polls["n"] >= 3 else "running"

    @task
    def double(x: int) -> int:
        return x * 2

    attempt = {"n": 0}

    @flow(retries=3)
    def f() -> tuple[int, str]:
        attempt["n"] += 1
        doubled = double(attempt["n"])  # different input on each attempt
        status = job_status()
        if status != "done":
            raise RuntimeError(f"job is {status}")
        return doubled, status

    state = f(return_state=True)
    assert state.result() == (6, "done")
    assert polls["n"] == 3
    err = capsys.readouterr().err
    assert (
        err.count(
            "Received non-final state 'AwaitingRetry' when proposing final state 'Failed' "
            "and will attempt to run again..."
        )
        == 2
    )
    record = store.read_flow_run(state.state_details.flow_run_id)
    assert record.run_count == 3 and record.state_name == "Completed"
    journal = [r for r in store.read_task_runs(record.id) if isinstance(r, TaskRunRecord)]
    assert sorted((r.task_name, r.dynamic_key) for r in journal) == [
        ("double", 0),
        ("double", 1),
        ("double", 2),
        ("job_status", 0),
        ("job_status", 1),
        ("job_status", 2),
    ]


def test_explicit_default_policy_reuses_within_the_run() -> None:
    from flowless.cache_policies import DEFAULT

    runs = {"expensive": 0, "attempts": 0}

    @task(cache_policy=DEFAULT)
    def expensive() -> int:
        runs["expensive"] += 1
        return 41

    @flow(retries=1)
    def f() -> int:
        runs["attempts"] += 1
        value = expensive()
        if runs["attempts"] == 1:
            raise RuntimeError("flaky after the expensive step")
        return value + 1

    assert f() == 42
    assert runs == {"expensive": 1, "attempts": 2}


# A retry that ``retry_condition_fn`` declines, as Prefect 3.4.25 runs it. Prefect's probe
# (each task has ``retries=2`` and is called with ``return_state=True`` in a flow; the
# conditions print what they are given):
#
# COND got Failed("Task run encountered unexpected exception: ValueError('nope')") |
#     "Task run encountered unexpected exception: ValueError('nope')" | ValueError 1
# ERROR | Task run 'declined-495' - Finished in state Failed('Task run encountered an
#     exception ValueError: nope')
# ERROR | Task run 'cond_raises-a98' - An error was encountered while running
#     `retry_condition_fn` check '<function boom_cond at 0x7f6fd3b89260>' for task
#     'cond_raises'
# ERROR | Task run 'cond_raises-a98' - Finished in state Failed('Task run encountered an
#     exception ValueError: nope2')
# COND got Failed("Task run encountered unexpected exception: TaskRunTimeoutError('Scope
#     timed out after 0.5 second(s).')") | ... | TaskRunTimeoutError 1
# ERROR | Task run 'declined_timeout-5e4' - Task run exceeded timeout of 0.5 second(s)
# ERROR | Task run 'declined_timeout-5e4' - Finished in state TimedOut('Task run exceeded
#     timeout of 0.5 second(s)', type=FAILED)
# COND got Failed("Task run encountered unexpected state: Failed(message='returned
#     failure', type=FAILED, result=None)") | ... | State 1
# ERROR | Task run 'declined_state-418' - Finished in state Failed('returned failure')
#
# So a declined retry logs nothing before the final state line (the "Task run failed
# with ..." line is only for a run that has no retries left).


def _task_lines(err: str, task_name: str) -> list[str]:
    """``LEVEL | message`` of the console lines of task ``task_name``'s runs."""
    lines = []
    for line in log_lines(err):
        who, _, message = line.partition(" - ")
        level, _, run = who.partition(" | ")
        if run.startswith(f"Task run '{task_name}-"):
            lines.append(f"{level} | {message}")
    return lines


def test_a_declined_retry_logs_nothing_before_the_final_state(
    capsys: pytest.CaptureFixture[str],
) -> None:
    given: list[tuple[str, str | None, str, int]] = []

    def show_state(tsk: Task[..., object], run: TaskRunRecord, state: State[object]) -> bool:
        given.append((str(state), state.message, type(state.data).__name__, run.run_count))
        return False

    @task(retries=2, retry_condition_fn=show_state)
    def declined() -> None:
        raise ValueError("nope")

    @task(retries=2, retry_condition_fn=show_state)
    def declined_state() -> State[object]:
        return Failed(message="returned failure")

    @flow
    def f() -> None:
        declined(return_state=True)
        declined_state(return_state=True)

    f()
    assert given == [
        (
            "Failed(\"Task run encountered unexpected exception: ValueError('nope')\")",
            "Task run encountered unexpected exception: ValueError('nope')",
            "ValueError",
            1,
        ),
        (
            "Failed(\"Task run encountered unexpected state: Failed(message='returned failure', "
            'type=FAILED, result=None)")',
            "Task run encountered unexpected state: Failed(message='returned failure', "
            "type=FAILED, result=None)",
            "State",
            1,
        ),
    ]
    err = capsys.readouterr().err
    assert _task_lines(err, "declined") == [
        "ERROR | Finished in state Failed('Task run encountered an exception ValueError: nope')"
    ]
    assert _task_lines(err, "declined_state") == [
        "ERROR | Finished in state Failed('returned failure')"
    ]


def test_a_retry_condition_that_raises(capsys: pytest.CaptureFixture[str]) -> None:
    def boom_cond(tsk: Task[..., object], run: TaskRunRecord, state: State[object]) -> bool:
        raise RuntimeError("cond broke")

    @task(retries=2, retry_condition_fn=boom_cond)
    def cond_raises() -> None:
        raise ValueError("nope2")

    @flow
    def f() -> str:
        return cond_raises(return_state=True).name

    assert f() == "Failed"
    err = capsys.readouterr().err
    assert _task_lines(err, "cond_raises") == [
        "ERROR | An error was encountered while running `retry_condition_fn` check "
        f"'{boom_cond!r}' for task 'cond_raises'",
        "ERROR | Finished in state Failed('Task run encountered an exception ValueError: nope2')",
    ]
    assert "RuntimeError: cond broke" in err  # with its traceback


def test_a_declined_retry_of_a_timeout(capsys: pytest.CaptureFixture[str]) -> None:
    given: list[str] = []

    def show_state(tsk: Task[..., object], run: TaskRunRecord, state: State[object]) -> bool:
        given.append(str(state))
        return False

    @task(retries=2, retry_condition_fn=show_state, timeout_seconds=0.5)
    def declined_timeout() -> None:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            time.sleep(0.005)

    @flow
    def f() -> str:
        return str(declined_timeout(return_state=True))

    assert f() == "TimedOut('Task run exceeded timeout of 0.5 second(s)', type=FAILED)"
    assert given == [
        "Failed(\"Task run encountered unexpected exception: TaskRunTimeoutError('Scope timed "
        "out after 0.5 second(s).')\")"
    ]
    assert _task_lines(capsys.readouterr().err, "declined_timeout") == [
        "ERROR | Task run exceeded timeout of 0.5 second(s)",
        "ERROR | Finished in state TimedOut('Task run exceeded timeout of 0.5 second(s)', "
        "type=FAILED)",
    ]


def test_an_async_retry_condition_is_awaited(sleeps: list[float]) -> None:
    """Prefect runs a coroutine function condition to its answer (``run_coro_as_sync``)."""
    asked: list[int] = []

    async def only_twice(tsk: Task[..., object], run: TaskRunRecord, state: State[object]) -> bool:
        asked.append(run.run_count)
        return run.run_count < 2

    fn = flaky(10)
    limited = task(name="limited", retries=5, retry_condition_fn=only_twice)(fn)

    @flow
    def f() -> str:
        return limited(return_state=True).name

    assert f() == "Failed"
    assert asked == [1, 2] and fn.calls["n"] == 2  # type: ignore[attr-defined]
