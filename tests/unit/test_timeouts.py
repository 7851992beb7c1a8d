"""Timeouts stop work at safe points, and attempts of one run never overlap."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from flowless import flow, task
from flowless.exceptions import FlowRunTimeoutError, TaskRunTimeoutError
from flowless.store import Store
from tests.conftest import log_lines


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


# What a timeout says, word for word as Prefect 3.4.25 says it. Prefect's exception is
# raised by its ``timeout()`` scope (``Scope timed out after ...``); the run's state and
# log line come from its engine's ``handle_timeout`` (``... exceeded timeout of ...``).


def _spin(seconds: float) -> None:
    """Python-level waiting, which a timeout interrupts at once (``time.sleep`` in C would
    only stop when it returns)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.005)


def _lines(err: str, who: str) -> list[str]:
    """``LEVEL | message`` of the console lines of runs whose name starts with ``who``."""
    lines = []
    for line in log_lines(err):
        head, _, message = line.partition(" - ")
        level, _, run = head.partition(" | ")
        if run.startswith((f"Task run '{who}", f"Flow run '{who}")):
            lines.append(f"{level} | {message}")
    return lines


def test_a_flow_timeout_says_what_prefects_says(capsys: pytest.CaptureFixture[str]) -> None:
    """Prefect:

    RAISED prefect.flow_engine FlowRunTimeoutError | Scope timed out after 0.5 second(s). |
        FlowRunTimeoutError('Scope timed out after 0.5 second(s).')
    STATE TimedOut('Flow run exceeded timeout of 0.5 second(s)', type=FAILED) |
        Flow run exceeded timeout of 0.5 second(s) |
        FlowRunTimeoutError('Scope timed out after 0.5 second(s).')
    ERROR   | Flow run 'gorgeous-agouti' - Flow run exceeded timeout of 0.5 second(s)
    INFO    | Flow run 'gorgeous-agouti' - Finished in state TimedOut('Flow run exceeded
        timeout of 0.5 second(s)', type=FAILED)
    """

    @flow(timeout_seconds=0.5)
    def slow_flow() -> None:
        _spin(3)

    state = slow_flow(return_state=True)
    assert str(state) == "TimedOut('Flow run exceeded timeout of 0.5 second(s)', type=FAILED)"
    assert state.message == "Flow run exceeded timeout of 0.5 second(s)"
    assert isinstance(state.data, FlowRunTimeoutError) and isinstance(state.data, TimeoutError)
    assert repr(state.data) == "FlowRunTimeoutError('Scope timed out after 0.5 second(s).')"
    with pytest.raises(FlowRunTimeoutError) as raised:
        state.result()
    assert str(raised.value) == "Scope timed out after 0.5 second(s)."
    assert _lines(capsys.readouterr().err, "")[-2:] == [
        "ERROR | Flow run exceeded timeout of 0.5 second(s)",
        "INFO | Finished in state TimedOut('Flow run exceeded timeout of 0.5 second(s)', "
        "type=FAILED)",
    ]


def test_a_whole_number_of_seconds_prints_as_a_float() -> None:
    """Prefect keeps ``timeout_seconds=1`` as ``1.0``:

    RAISED prefect.flow_engine FlowRunTimeoutError | Scope timed out after 1.0 second(s).
    STATE TimedOut('Flow run exceeded timeout of 1.0 second(s)', type=FAILED)
    """

    @flow(timeout_seconds=1)
    def slow_flow_int() -> None:
        _spin(3)

    state = slow_flow_int(return_state=True)
    assert str(state) == "TimedOut('Flow run exceeded timeout of 1.0 second(s)', type=FAILED)"
    assert str(state.data) == "Scope timed out after 1.0 second(s)."


def test_a_task_timeout_says_what_prefects_says(capsys: pytest.CaptureFixture[str]) -> None:
    """Prefect (a timed-out task called without ``return_state`` in a flow):

    ERROR | Task run 'slow-cbe' - Task run failed with exception:
        TaskRunTimeoutError('Scope timed out after 0.3 second(s).')
    ERROR | Task run 'slow-cbe' - Task run exceeded timeout of 0.3 second(s)
    ERROR | Task run 'slow-cbe' - Finished in state TimedOut('Task run exceeded timeout of
        0.3 second(s)', type=FAILED)
    ERROR | Flow run 'merry-python' - Flow run failed due to timeout:
        TaskRunTimeoutError('Scope timed out after 0.3 second(s).')
    INFO  | Flow run 'merry-python' - Finished in state TimedOut("Flow run failed due to
        timeout: TaskRunTimeoutError('Scope timed out after 0.3 second(s).')", type=FAILED)
    RAISED TaskRunTimeoutError | Scope timed out after 0.3 second(s).
    """

    @task(timeout_seconds=0.3)
    def slow() -> None:
        _spin(2)

    @flow
    def real_task_timeout_in_flow() -> None:
        slow()

    state = real_task_timeout_in_flow(return_state=True)
    assert str(state) == (
        "TimedOut(\"Flow run failed due to timeout: TaskRunTimeoutError('Scope timed out "
        "after 0.3 second(s).')\", type=FAILED)"
    )
    with pytest.raises(TaskRunTimeoutError, match=r"^Scope timed out after 0\.3 second\(s\)\.$"):
        state.result()
    err = capsys.readouterr().err
    assert _lines(err, "slow-") == [
        "ERROR | Task run failed with exception: "
        "TaskRunTimeoutError('Scope timed out after 0.3 second(s).')",
        "ERROR | Task run exceeded timeout of 0.3 second(s)",
        "ERROR | Finished in state TimedOut('Task run exceeded timeout of 0.3 second(s)', "
        "type=FAILED)",
    ]
    assert _lines(err, "")[-2:] == [
        "ERROR | Flow run failed due to timeout: "
        "TaskRunTimeoutError('Scope timed out after 0.3 second(s).')",
        'INFO | Finished in state TimedOut("Flow run failed due to timeout: '
        "TaskRunTimeoutError('Scope timed out after 0.3 second(s).')\", type=FAILED)",
    ]


def test_any_timeout_error_ends_a_run_timed_out(capsys: pytest.CaptureFixture[str]) -> None:
    """Prefect's engines catch every ``TimeoutError`` (a socket's, the user's own):

    ERROR | Task run 'raises_timeout-4f0' - Task run failed with exception:
        TimeoutError('socket read')
    ERROR | Task run 'raises_timeout-4f0' - Task run failed due to timeout:
        TimeoutError('socket read')
    ERROR | Task run 'raises_timeout-4f0' - Finished in state TimedOut("Task run failed due
        to timeout: TimeoutError('socket read')", type=FAILED)
    ERROR | Flow run 'mauve-pillbug' - Flow run failed due to timeout:
        TimeoutError('socket read')
    INFO  | Flow run 'mauve-pillbug' - Finished in state TimedOut("Flow run failed due to
        timeout: TimeoutError('socket read')", type=FAILED)
    STATE user-timeout-flow TimedOut("Flow run failed due to timeout: TimeoutError('my
        own')", type=FAILED)
    RAISED TimeoutError | my own
    """

    @task
    def raises_timeout() -> None:
        raise TimeoutError("socket read")

    @flow
    def task_timeout_in_flow() -> None:
        raises_timeout()

    @flow
    def user_timeout_flow() -> None:
        raise TimeoutError("my own")

    state = task_timeout_in_flow(return_state=True)
    err = capsys.readouterr().err
    assert _lines(err, "raises_timeout-") == [
        "ERROR | Task run failed with exception: TimeoutError('socket read')",
        "ERROR | Task run failed due to timeout: TimeoutError('socket read')",
        'ERROR | Finished in state TimedOut("Task run failed due to timeout: '
        "TimeoutError('socket read')\", type=FAILED)",
    ]
    assert _lines(err, "")[-2:] == [
        "ERROR | Flow run failed due to timeout: TimeoutError('socket read')",
        'INFO | Finished in state TimedOut("Flow run failed due to timeout: '
        "TimeoutError('socket read')\", type=FAILED)",
    ]
    assert state.name == "TimedOut"
    own = user_timeout_flow(return_state=True)
    assert str(own) == (
        "TimedOut(\"Flow run failed due to timeout: TimeoutError('my own')\", type=FAILED)"
    )
    with pytest.raises(TimeoutError, match=r"^my own$"):
        own.result()


def test_an_async_flow_that_times_out_logs_its_end_at_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Prefect's async engine logs an unsuccessful end at ERROR (its sync one at INFO):

    ERROR | Flow run 'peach-goldfish' - Flow run exceeded timeout of 0.5 second(s)
    ERROR | Flow run 'peach-goldfish' - Finished in state TimedOut('Flow run exceeded
        timeout of 0.5 second(s)', type=FAILED)
    RAISED async FlowRunTimeoutError | Scope timed out after 0.5 second(s).
    """

    @flow(timeout_seconds=0.5)
    async def slow_async_flow() -> None:
        await asyncio.sleep(3)

    with pytest.raises(FlowRunTimeoutError, match=r"^Scope timed out after 0\.5 second\(s\)\.$"):
        asyncio.run(slow_async_flow())
    assert _lines(capsys.readouterr().err, "")[-2:] == [
        "ERROR | Flow run exceeded timeout of 0.5 second(s)",
        "ERROR | Finished in state TimedOut('Flow run exceeded timeout of 0.5 second(s)', "
        "type=FAILED)",
    ]


def test_a_timed_out_flow_with_retries_is_retried() -> None:
    """Different on purpose. Prefect 3.4.25 does not retry a flow run that timed out: it
    stays ``AwaitingRetry`` and nothing runs it again (its ``handle_timeout`` proposes
    Failed, which its server turns into AwaitingRetry, and the engine stops):

    STATE retried-user-timeout AwaitingRetry("Flow run failed due to timeout:
        TimeoutError('again')", type=SCHEDULED)

    flowless runs the retry the ``retries`` option asks for."""
    attempts = {"n": 0}

    @flow(retries=1)
    def retried_user_timeout() -> None:
        attempts["n"] += 1
        raise TimeoutError("again")

    state = retried_user_timeout(return_state=True)
    assert attempts["n"] == 2
    assert str(state) == (
        "TimedOut(\"Flow run failed due to timeout: TimeoutError('again')\", type=FAILED)"
    )
