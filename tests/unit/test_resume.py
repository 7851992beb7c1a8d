"""Resuming an interrupted flow run replays its journal: completed calls do not run again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from flowless import flow, task
from flowless.engine import resume_flow_run
from flowless.states import StateType
from flowless.store import FlowRunRecord, Store, TaskRunRecord

PIPELINE = textwrap.dedent(
    """
    import os, sys, time
    from flowless import flow, task

    LOG = os.environ["SIDE_EFFECTS"]

    def effect(name):
        with open(LOG, "a") as fh:
            fh.write(name + "\\n")

    @task
    def extract(n: int) -> list[int]:
        effect(f"extract {n}")
        return list(range(n))

    @task
    def load(rows: list[int]) -> int:
        effect("load")
        if os.environ.get("CRASH_IN_LOAD"):
            time.sleep(0.5)  # well past the store's 10 ms group-commit window
            os.kill(os.getpid(), 9)  # the process dies mid-run: no final state is written
        return sum(rows)

    @flow
    def child(rows: list[int]) -> int:
        effect("child")
        return len(rows)

    @flow
    def etl(n: int) -> int:
        rows = extract(n)
        size = child(rows)
        return load(rows) + size

    if __name__ == "__main__":
        if sys.argv[1] == "start":
            etl(4)
        else:
            from flowless.engine import resume_flow_run
            print("RESULT", resume_flow_run(etl, sys.argv[2]))
    """
)


def test_resume_after_the_process_was_killed(flowless_home: Path, tmp_path: Path) -> None:
    script = tmp_path / "etl.py"
    script.write_text(PIPELINE)
    effects = tmp_path / "effects.txt"
    env = {**os.environ, "FLOWLESS_HOME": str(flowless_home), "SIDE_EFFECTS": str(effects)}
    crashed = subprocess.run(
        [sys.executable, str(script), "start"],
        env={**env, "CRASH_IN_LOAD": "1"},
        capture_output=True,
        text=True,
    )
    assert crashed.returncode == -signal.SIGKILL
    assert effects.read_text().split("\n")[:-1] == ["extract 4", "child", "load"]

    store = __import__("flowless.engine", fromlist=["current_runtime"]).current_runtime().store
    [run] = [
        r for r in store.list_flow_runs() if isinstance(r, FlowRunRecord) and r.flow_name == "etl"
    ]
    assert run.state_name == "Running"  # what a killed process leaves behind

    resumed = subprocess.run(
        [sys.executable, str(script), "resume", run.id],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "RESULT 10" in resumed.stdout
    assert "completed call(s) will replay from its journal" in resumed.stderr
    # extract and the child flow replayed from the journal; only load ran again
    assert effects.read_text().split("\n")[:-1] == ["extract 4", "child", "load", "load"]
    again = store.read_flow_run(run.id)
    assert again.state_name == "Completed"
    journal = [r for r in store.read_task_runs(run.id) if isinstance(r, TaskRunRecord)]
    assert sorted(r.task_name for r in journal) == ["child", "extract", "load"]


def test_resume_of_a_completed_run_returns_its_result(store: Store) -> None:
    calls: list[int] = []

    @flow
    def once(x: int) -> int:
        calls.append(x)
        return x * 2

    state = once(21, return_state=True)
    assert resume_flow_run(once, state.state_details.flow_run_id) == 42
    assert calls == [21]


def test_resume_names_the_wrong_flow(store: Store) -> None:
    @flow
    def first() -> None: ...

    @flow
    def second() -> None: ...

    run_id = first(return_state=True).state_details.flow_run_id
    with pytest.raises(ValueError, match="is a run of flow 'first', not of 'second'"):
        resume_flow_run(second, run_id)


def test_async_flow_resumes_on_the_awaiting_loop(store: Store) -> None:
    import asyncio

    calls: list[int] = []

    @task
    async def step(i: int) -> int:
        calls.append(i)
        if i == 2 and calls.count(2) == 1:
            raise RuntimeError("flaky")
        return i

    @flow
    async def pipeline() -> int:
        return sum([await step(i) for i in range(3)])

    failed = asyncio.run(pipeline(return_state=True))
    assert failed.is_failed()
    assert asyncio.run(resume_flow_run(pipeline, failed.state_details.flow_run_id)) == 3
    assert calls == [0, 1, 2, 2]


def test_a_running_run_is_not_resumed_twice(store: Store) -> None:
    import threading

    from flowless.exceptions import RecordConflictError

    release = threading.Event()
    started = threading.Event()

    @task
    def hold() -> str:
        started.set()
        release.wait(10)
        return "held"

    @flow
    def busy() -> str:
        return hold()

    thread = threading.Thread(target=busy)
    thread.start()
    try:
        assert started.wait(5)
        [run] = [r for r in store.list_flow_runs() if isinstance(r, FlowRunRecord)]
        with pytest.raises(RecordConflictError, match=r"is being run by process .* on this host"):
            resume_flow_run(busy, run.id)
    finally:
        release.set()
        thread.join()


def test_resume_refuses_another_flow_of_the_same_name(store: Store) -> None:
    """Issue 9, item 4: a name is not an identity. The other flow would replay the first
    one's journal and complete with its result."""
    ran: list[str] = []

    @flow(name="etl")
    def original(n: int) -> int:
        raise RuntimeError("fails before it completes")

    @flow(name="etl")
    def impostor(n: int) -> int:
        ran.append("impostor")
        return -1

    run_id = original(1, return_state=True).state_details.flow_run_id
    before = store.read_flow_run(run_id)
    with pytest.raises(ValueError) as raised:
        resume_flow_run(impostor, run_id)
    message = str(raised.value)
    assert message.startswith(f"Flow run {before.name!r} ({run_id}) was made by flow ")
    assert "test_resume_refuses_another_flow_of_the_same_name.<locals>.original'" in message
    assert "not by 'tests.unit.test_resume.test_resume_refuses_another_flow_of_the_same" in message
    assert "Resume it with the flow that made it." in message
    assert ran == []
    after = store.read_flow_run(run_id)
    assert (after.state_type, after.version, after.owner) == (
        before.state_type,
        before.version,
        before.owner,
    )


def test_a_killed_but_unreaped_owner_is_not_alive(store: Store) -> None:
    """A zombie (killed, not yet waited for by its parent) runs nothing: its runs can be
    resumed."""
    import socket
    import time

    from flowless.engine._owner import _start_time, is_alive_here

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        owner = f"{socket.gethostname()}:{child.pid}:{_start_time(child.pid)}"
        assert is_alive_here(owner) is True
        os.kill(child.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while open(f"/proc/{child.pid}/stat").read().split(")")[1].split()[0] != "Z":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert is_alive_here(owner) is False  # a zombie: not reaped (no wait() yet)
    finally:
        child.wait()


@pytest.mark.parametrize("ids", ["ordered", "all-hash"])
def test_resume_a_failed_run_replays_what_completed(
    store: Store, monkeypatch: pytest.MonkeyPatch, ids: str
) -> None:
    """Completed calls (a subflow too) replay; the failed call runs again and its record
    is updated, not made twice. A run stored before task-run ids were ordered
    (``all-hash``) keeps its kind of ids for the calls that run again."""
    from flowless.engine import _flow_setup, _names, _task_call

    original = _names.task_run_id
    runs: list[str] = []
    attempt = {"n": 0}

    @task
    def fetch(i: int) -> int:
        runs.append(f"fetch {i}")
        return i

    @flow
    def count(values: list[int]) -> int:
        runs.append("count")
        return len(values)

    @task
    def publish(total: int) -> int:
        attempt["n"] += 1
        if attempt["n"] == 1:
            raise RuntimeError("publisher down")
        runs.append("publish")
        return total

    @flow
    def report(n: int) -> int:
        values = [fetch(i) for i in range(n)]
        return publish(sum(values) + count(values))

    def all_hash(flow_run_id: str, task_key: str, dynamic_key: int, **_: object) -> str:
        return original(flow_run_id, task_key, dynamic_key, legacy=True)

    def old_name(task_name: str, task_run_id: str, **_: object) -> str:
        return _names.task_run_display_name(task_name, task_run_id, legacy=True)

    with monkeypatch.context() as patched:
        if ids == "all-hash":  # as runs were stored before ordered ids
            for module in (_task_call, _flow_setup):
                patched.setattr(module, "task_run_id", all_hash)
                patched.setattr(module, "task_run_display_name", old_name)
        failed = report(3, return_state=True)
    assert failed.is_failed()
    flow_run_id = failed.state_details.flow_run_id
    assert flow_run_id is not None
    before = {r.id: r for r in store.read_task_runs(flow_run_id) if isinstance(r, TaskRunRecord)}
    assert len(before) == 5  # three fetches, the subflow, the failed publish
    legacy = ids == "all-hash"
    assert all(
        r.id == original(flow_run_id, r.task_key, r.dynamic_key, legacy=legacy)
        for r in before.values()
    )

    assert resume_flow_run(report, flow_run_id) == 6
    after = {r.id: r for r in store.read_task_runs(flow_run_id) if isinstance(r, TaskRunRecord)}
    assert set(after) == set(before)  # nothing recorded twice
    assert {i: r.name for i, r in after.items()} == {i: r.name for i, r in before.items()}
    assert runs == ["fetch 0", "fetch 1", "fetch 2", "count", "publish"]  # fetches ran once
    published = after[original(flow_run_id, publish.task_key, 0, legacy=legacy)]
    assert published.state_type is StateType.COMPLETED


def test_a_fresh_run_and_its_resume_use_ordered_ids(store: Store) -> None:
    attempt = {"n": 0}

    @task
    def flaky(i: int) -> int:
        attempt["n"] += 1
        if attempt["n"] == 3:
            raise RuntimeError("once")
        return i

    @flow
    def walk(n: int) -> int:
        return sum(flaky(i) for i in range(n))

    failed = walk(4, return_state=True)
    flow_run_id = failed.state_details.flow_run_id
    assert flow_run_id is not None
    assert resume_flow_run(walk, flow_run_id) == 6
    records = [r for r in store.read_task_runs(flow_run_id) if isinstance(r, TaskRunRecord)]
    records.sort(key=lambda r: r.dynamic_key)
    assert [r.dynamic_key for r in records] == [0, 1, 2, 3]  # the failed one updated
    assert [r.id for r in records] == sorted(r.id for r in records)  # ids in call order
    assert {r.id[:8] for r in records} == {records[0].id[:8]}
