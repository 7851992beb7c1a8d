"""Retries exactly as Prefect: attempts, delays, jitter, conditions, and the log lines."""

from __future__ import annotations

import pytest

from flowless import flow, task
from flowless.engine import _drivers, _task_run
from flowless.states import State
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
