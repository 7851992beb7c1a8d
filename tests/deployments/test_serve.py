"""``serve``: the skill card's ``my_flow.serve(...)`` fires its slot, runs made by
``run_deployment`` start, Ctrl-C says what was running, and two ``serve`` processes on
one ``FLOWLESS_HOME`` run each slot once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from flowless import flow, task
from flowless.deployments import _serve, run_deployment
from flowless.engine import current_runtime
from flowless.states import StateType
from tests.conftest import log_lines

REPO = Path(__file__).resolve().parents[2]
NINE = datetime(2027, 1, 4, 9, 0, tzinfo=timezone.utc)


@task
def shout(name: str) -> str:
    return f"Hello {name}"


@flow(log_prints=True)
def my_flow(name: str) -> str:
    message = shout(name)
    print(message)
    return message


def _runs() -> list[Any]:
    return list(current_runtime().store.list_flow_runs(limit=1000))


@pytest.fixture(autouse=True)
def ctrl_c_raises() -> Any:
    """A process started in the background (CI, `make test &`) ignores SIGINT: these tests
    press Ctrl-C, so the worker must hear it, as a terminal's foreground process does."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _interrupt_when(condition: Any, timeout: float = 30.0) -> threading.Thread:
    """Ctrl-C the main thread (where serve runs) once ``condition()`` holds."""

    def watch() -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not condition():
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, a real signal

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    return watcher


def test_the_skill_cards_serve_fires_its_slot(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    start = NINE.timestamp() - 1.5  # 08:59:58.5 on the test clock
    monkeypatch.setattr(_serve, "_now", lambda: start + (time.monotonic() - started))

    def completed() -> bool:
        return any(r.state_type is StateType.COMPLETED for r in _runs())

    _interrupt_when(completed)
    my_flow.serve(name="daily-greeting", cron="0 9 * * *", parameters={"name": "World"})

    [run] = _runs()
    assert run.state_type is StateType.COMPLETED
    assert run.deployment_name == "my-flow/daily-greeting"
    assert run.scheduled_start_time == NINE.timestamp()
    captured = capsys.readouterr()
    assert captured.out.splitlines()[:3] == [
        f"Serving 1 deployment(s) on {current_runtime().store.location}: my-flow/daily-greeting.",
        "To trigger a run of one, use the following command:",
        "    $ flowless deployment run 'my-flow/daily-greeting'",
    ]
    assert captured.out.splitlines()[-1] == "Stopped serving; no flow run was running."
    assert f"INFO | Flow run {run.name!r} - Hello World" in log_lines(captured.err)


def test_run_deployment_is_started_by_serve_and_waited_for(
    capsys: pytest.CaptureFixture[str],
) -> None:
    answers: list[Any] = []

    def client() -> None:
        while not _serve_registered():
            time.sleep(0.05)
        answers.append(
            run_deployment("my-flow/adhoc", parameters={"name": "Ada"}, poll_interval=0.1)
        )
        answers.append(run_deployment("my-flow/adhoc", parameters={"name": "Bob"}, timeout=0))

    threading.Thread(target=client, daemon=True).start()
    _interrupt_when(lambda: len(answers) == 2 and _final(answers[1].id))
    my_flow.serve(name="adhoc")

    waited, immediate = answers
    assert waited.state.is_completed() and waited.parameters == {"name": "Ada"}
    assert immediate.state_type is StateType.SCHEDULED  # timeout=0 returns at once
    assert _final(immediate.id)


def _serve_registered() -> bool:
    store = current_runtime().store
    return bool(getattr(store, "list_registrations", lambda: [])())


def _final(flow_run_id: str) -> bool:
    record = current_runtime().store.read_flow_run(flow_run_id)
    return record.state_type is StateType.COMPLETED


def test_ctrl_c_waits_for_the_running_run_and_says_so(
    capsys: pytest.CaptureFixture[str],
) -> None:
    gate = threading.Event()

    @flow
    def slow() -> str:
        gate.wait(10)
        return "done"

    def client() -> None:
        while not _serve_registered():
            time.sleep(0.05)
        run_deployment("slow/once", timeout=0)

    def running() -> bool:
        return any(r.state_type is StateType.RUNNING for r in _runs())

    threading.Thread(target=client, daemon=True).start()

    def release_after_interrupt() -> None:
        while not running():
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, a real signal
        time.sleep(0.5)
        gate.set()

    threading.Thread(target=release_after_interrupt, daemon=True).start()
    slow.serve(name="once")
    captured = capsys.readouterr()
    out = captured.out.splitlines()
    [run] = _runs()
    assert run.state_type is StateType.COMPLETED
    assert out[-2] == (
        f"Stopping: no new runs start. Waiting for 1 flow run(s) to finish: {run.name} "
        f"({run.id}). Ctrl-C again to leave them."
    )
    assert out[-1] == "Stopped serving; every flow run finished."


SERVE_SCRIPT = textwrap.dedent(
    """
    import sys
    from flowless import flow, task

    @task
    def stamp(tag: str) -> str:
        return tag

    @flow
    def ticker(tag: str = "t") -> str:
        return stamp(tag)

    if __name__ == "__main__":
        ticker.serve(name="every-second", interval=1)
    """
)


@pytest.mark.slow
def test_two_serve_processes_run_each_slot_once(tmp_path: Path, flowless_home: Path) -> None:
    script = tmp_path / "ticker.py"
    script.write_text(SERVE_SCRIPT)
    env = {**os.environ, "FLOWLESS_HOME": str(flowless_home), "PYTHONPATH": str(REPO / "sdk")}
    servers = [
        subprocess.Popen(
            [sys.executable, str(script)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    time.sleep(6)
    outputs = []
    for server in servers:
        server.send_signal(signal.SIGTERM)  # `kill`: what stops a background serve
    for server in servers:
        out, err = server.communicate(timeout=30)
        outputs.append(out + err)
        assert server.returncode == 0, out + err
    runs = [r for r in _runs() if r.deployment_name == "ticker/every-second"]
    slots = Counter(r.scheduled_start_time for r in runs)
    assert max(slots.values()) == 1  # one run per slot
    # A slot recorded at the last tick before Ctrl-C stays Scheduled for the next serve.
    states = Counter(r.state_type for r in runs)
    assert set(states) <= {StateType.COMPLETED, StateType.SCHEDULED}, states
    assert states[StateType.COMPLETED] >= 3 and states[StateType.SCHEDULED] <= 2, outputs
    runs = [r for r in runs if r.state_type is StateType.COMPLETED]
    # Each run ran its task once, in one of the two processes.
    store = current_runtime().store
    for run in runs:
        assert [t.run_count for t in store.read_task_runs(run.id)] == [1]
    owners = {r.owner.split(":")[1] for r in runs if r.owner}
    assert owners <= {str(s.pid) for s in servers}


def test_run_deployment_inside_a_flow_records_its_parent() -> None:
    from flowless.deployments._definition import definition_from_flow

    _serve.Runner([(definition_from_flow(my_flow, name="child"), my_flow)]).register()

    @flow
    def parent() -> str:
        child = run_deployment("my-flow/child", parameters={"name": "Kid"}, timeout=0)
        return child.id

    child_id = parent()
    child = current_runtime().store.read_flow_run(child_id)
    [parent_run] = [r for r in _runs() if r.flow_name == "parent"]
    assert child.parent_flow_run_id == parent_run.id
    assert child.state_type is StateType.SCHEDULED  # nobody serves it in this test


def _manual_runner(schedule: Any, clock: list[float]) -> _serve.Runner:
    from flowless.deployments._definition import definition_from_flow

    definition = definition_from_flow(
        my_flow, name="clocked", parameters={"name": "Tick"}, schedules=(schedule,)
    )
    runner = _serve.Runner([(definition, my_flow)], clock=lambda: clock[0])
    runner.register()
    return runner


def _slot_runs() -> list[Any]:
    return [r for r in _runs() if r.deployment_name == "my-flow/clocked"]


def test_a_slot_the_store_could_not_record_is_retried(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from flowless.exceptions import StoreError
    from flowless.schedules import Cron

    clock = [NINE.timestamp() - 30]
    runner = _manual_runner(Cron("0 9 * * *"), clock)
    runner.step()
    real = runner.service.fire_slot
    failures = [StoreError("database is locked")]

    def flaky(*args: Any) -> Any:
        if failures:
            raise failures.pop()
        return real(*args)

    runner.service.fire_slot = flaky  # type: ignore[method-assign]
    clock[0] = NINE.timestamp() + 1
    runner.step()  # the 09:00 slot fails to record
    assert _slot_runs() == []
    assert "(will retry at the next tick): database is locked" in capsys.readouterr().err
    clock[0] += 1
    runner.step()  # recorded now, and started
    runner.wait_for_runs()
    [run] = _slot_runs()
    assert run.scheduled_start_time == NINE.timestamp()
    assert run.state_type is StateType.COMPLETED


def test_serve_does_not_replay_a_night_of_missed_slots(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from flowless.schedules import Interval

    clock = [NINE.timestamp()]
    runner = _manual_runner(Interval(60), clock)
    runner.step()
    clock[0] += 8 * 3600  # the laptop slept
    runner.step()
    runner.wait_for_runs()
    runs = _slot_runs()
    assert [r.scheduled_start_time for r in runs] == [clock[0]]  # only the last minute's
    assert "Left out 479 slot(s) of 'my-flow/clocked'" in capsys.readouterr().err


def test_a_slot_run_sees_its_nominal_time_in_runtime() -> None:
    from flowless.runtime import flow_run as runtime_flow_run
    from flowless.schedules import Cron

    seen: list[Any] = []

    @flow
    def stamped() -> None:
        seen.append(runtime_flow_run.scheduled_start_time)

    from flowless.deployments._definition import definition_from_flow

    definition = definition_from_flow(stamped, name="nine", schedules=(Cron("0 9 * * *"),))
    clock = [NINE.timestamp() - 1]
    runner = _serve.Runner([(definition, stamped)], clock=lambda: clock[0])
    runner.register()
    runner.step()
    clock[0] = NINE.timestamp() + 0.5
    runner.step()
    runner.wait_for_runs()
    assert seen == [NINE]


def test_a_store_error_while_looking_for_due_runs_does_not_stop_serve(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from flowless.exceptions import StoreError
    from flowless.schedules import Cron

    clock = [NINE.timestamp() - 30]
    runner = _manual_runner(Cron("0 9 * * *"), clock)
    runner.step()
    real = runner.store.due_flow_runs
    failures = [StoreError("database is locked")]

    def flaky(*args: Any, **kwargs: Any) -> Any:
        if failures:
            raise failures.pop()
        return real(*args, **kwargs)

    runner.store.due_flow_runs = flaky  # type: ignore[method-assign]
    clock[0] = NINE.timestamp() + 1
    runner.step()  # the slot is recorded; looking for due runs fails
    assert "Could not start due flow runs (will retry): database is locked" in (
        capsys.readouterr().err
    )
    runner.step()
    runner.wait_for_runs()
    [run] = _slot_runs()
    assert run.state_type is StateType.COMPLETED
