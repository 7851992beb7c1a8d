"""A user's own project, from ``flowless init`` in an empty folder to scheduled and ad
hoc runs on the local cloud: the same template, manifest and handlers ``sam deploy``
ships, served on 127.0.0.1, its schedules fired as EventBridge Scheduler fires them."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from flowless.deployments import IdempotencyKeyReusedError, run_deployment
from flowless.localcloud.cloud import LocalCloud
from flowless.states import StateType
from flowless.store import DynamoDBStore

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
NINE = datetime(2027, 1, 4, 9, 0, tzinfo=timezone.utc)
BROKEN = """

@flow
def broken(reason: str = "boom") -> None:
    raise ValueError(reason)


@flow
def slow(seconds: float = 1.0) -> float:
    import time

    time.sleep(seconds)
    return seconds
"""
# Deployments with a concurrency limit, as a user adds them to flowless.yaml by hand.
LIMITED = """- name: queued
  entrypoint: flows.py:slow
  concurrency_limit: {limit: 1, collision_strategy: ENQUEUE}
- name: exclusive
  entrypoint: flows.py:slow
  concurrency_limit: {limit: 1, collision_strategy: CANCEL_NEW}
"""


def flowless(project: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    """The ``flowless`` command as a user runs it, in the project's folder."""
    return subprocess.run(
        [sys.executable, "-m", "flowless", *args],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(REPO / "sdk"), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("projects") / "greetings"
    folder.mkdir()
    for step in (("init",),):
        done = flowless(folder, *step)
        assert done.returncode == 0, done.stderr
    with open(folder / "flows.py", "a") as fh:
        fh.write(BROKEN)
    done = flowless(folder, "deploy", "flows.py:broken", "-n", "broken", "-p", "reason=kaput")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Created deployment 'broken' in flowless.yaml.")
    with open(folder / "flowless.yaml", "a") as fh:
        fh.write(LIMITED)
    built = flowless(folder, "build")
    assert built.returncode == 0, built.stderr
    assert "hello/daily-greeting  (1 schedule(s))" in built.stdout
    assert flowless(folder, "build", "--check").returncode == 0
    return folder


@pytest.fixture(scope="module")
def cloud(project: Path) -> Iterator[LocalCloud]:
    with LocalCloud(
        template=project / "template.yaml",
        code_paths=[project / ".flowless" / "build" / "function"],
        stack_name="greetings",
        ticker=True,
        concurrency=2,
    ) as running:
        yield running


@pytest.fixture
def env(cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for key in [k for k in os.environ if k.startswith(("AWS_", "FLOWLESS_"))]:
        monkeypatch.delenv(key)
    for key, value in cloud.env.items():
        monkeypatch.setenv(key, value)
    return dict(cloud.env)


def store(cloud: LocalCloud) -> DynamoDBStore:
    return DynamoDBStore(cloud.provisioned.table_name, cloud.client("dynamodb"))


def run_ids(cloud: LocalCloud) -> set[str]:
    return {r.id for r in store(cloud).list_flow_runs(limit=1000)}


def test_a_schedule_slot_runs_once_with_its_nominal_time(cloud: LocalCloud) -> None:
    assert cloud.ticker is not None
    [name] = [n for n in cloud.ticker.names() if n.startswith("hello.daily-greeting")]
    schedule = next(s for s in cloud.ticker.schedules() if s.name == name)
    assert (schedule.expression, schedule.timezone) == ("cron(0 9 * * ? *)", "UTC")
    tasks_before = cloud.invocations.get("greetings-task-run", 0)
    error, answer = cloud.ticker.fire(name, NINE, wait=True)
    assert error is None, answer
    assert answer["state"]["type"] == "COMPLETED" and answer["deployment"] == "hello/daily-greeting"
    record = store(cloud).read_flow_run(answer["flow_run_id"])
    assert record.scheduled_start_time == NINE.timestamp()
    assert record.schedule_slug == "morning" and record.code_hash
    assert cloud.invocations["greetings-task-run"] == tasks_before + 1
    # Scheduler delivers at least once: the same slot again is the same run, not rerun.
    for _ in range(3):
        again_error, again = cloud.ticker.fire(name, NINE, wait=True)
        assert again_error is None and again["flow_run_id"] == answer["flow_run_id"]
    assert cloud.invocations["greetings-task-run"] == tasks_before + 1


def test_the_ticker_fires_what_is_due(cloud: LocalCloud) -> None:
    assert cloud.ticker is not None
    before = len(cloud.ticker.fired)
    # Two days' window: the 09:00 slot of each day, nothing else.
    start = datetime(2027, 2, 1, 8, 0, tzinfo=timezone.utc).timestamp()
    cloud.ticker.fire_due(start, start + 2 * 86400)
    fired = [t for n, t in cloud.ticker.fired[before:] if n.startswith("hello.daily")]
    assert fired == ["2027-02-01T09:00:00Z", "2027-02-02T09:00:00Z"]


def test_run_deployment_waits_for_a_completed_run(env: dict[str, str], cloud: LocalCloud) -> None:
    run = run_deployment("hello/daily-greeting", parameters={"name": "Ada"}, poll_interval=0.2)
    assert run.state_type is StateType.COMPLETED, run.state
    assert run.parameters == {"name": "Ada"} and run.deployment_name == "hello/daily-greeting"


def test_deployment_run_watch_exits_0_and_1(env: dict[str, str], project: Path) -> None:
    ok = flowless(
        project,
        "deployment",
        "run",
        "hello/daily-greeting",
        "--watch",
        "--watch-interval",
        "0.2",
        env=env,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.splitlines()[-1] == "Flow run finished successfully in 'Completed'."
    bad = flowless(
        project, "deployment", "run", "broken/broken", "--watch", "--watch-interval", "0.2", env=env
    )
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert bad.stdout.splitlines()[-1] == (
        "Flow run finished in state 'Failed': Flow run encountered an exception: ValueError: kaput"
    )


def test_pause_stops_slots_and_resume_starts_them(
    env: dict[str, str], cloud: LocalCloud, project: Path
) -> None:
    assert cloud.ticker is not None
    [name] = [n for n in cloud.ticker.names() if n.startswith("hello.daily-greeting")]
    assert flowless(project, "deployment", "pause", "hello/daily-greeting", env=env).returncode == 0
    listed = flowless(project, "deployment", "ls", env=env).stdout
    assert "hello/daily-greeting" in listed and " yes " in listed
    _, skipped = cloud.ticker.fire(name, NINE.replace(day=5), wait=True)
    assert skipped["state"]["name"] == "Skipped"
    assert (
        flowless(project, "deployment", "resume", "hello/daily-greeting", env=env).returncode == 0
    )
    _, ran = cloud.ticker.fire(name, NINE.replace(day=6), wait=True)
    assert ran["state"]["type"] == "COMPLETED"


def test_an_idempotency_key_reused(env: dict[str, str], cloud: LocalCloud) -> None:
    first = run_deployment(
        "hello/daily-greeting", parameters={"name": "K"}, idempotency_key="nightly-1", timeout=0
    )
    again = run_deployment(
        "hello/daily-greeting", parameters={"name": "K"}, idempotency_key="nightly-1", timeout=0
    )
    assert again.id == first.id
    before = run_ids(cloud)
    with pytest.raises(IdempotencyKeyReusedError) as raised:
        run_deployment(
            "hello/daily-greeting", parameters={"name": "L"}, idempotency_key="nightly-1", timeout=0
        )
    assert "Idempotency key 'nightly-1' of deployment 'hello/daily-greeting'" in str(raised.value)
    assert run_ids(cloud) == before


def test_bad_input_is_a_function_error_and_touches_nothing(
    env: dict[str, str], cloud: LocalCloud, project: Path
) -> None:
    before = run_ids(cloud)
    client = cloud.client("lambda")
    for event, kind, message in (
        (
            {
                "deployment": "hello/nope",
                "schedule": "morning",
                "scheduled_time": "2027-01-04T09:00:00Z",
            },
            "UnknownDeploymentError",
            "Deployment 'hello/nope' not found (deployments: broken/broken, "
            "hello/daily-greeting, slow/exclusive, slow/queued).",
        ),
        (
            {"deployment": "hello/daily-greeting", "schedule": "morning", "scheduled_time": "soon"},
            "MalformedEventError",
            "Malformed flow-run event: 'scheduled_time' is not an ISO 8601 time: 'soon'",
        ),
        (
            {
                "action": "create_flow_run",
                "deployment": "hello/daily-greeting",
                "parameters": {"nam": "x"},
            },
            "DeploymentParameterError",
            "Deployment 'hello/daily-greeting': flow 'hello' has no parameter(s) 'nam'; its "
            "parameters are 'name'.",
        ),
    ):
        response = client.invoke(FunctionName="greetings-flow-run", Payload=json.dumps(event))
        body = json.loads(response["Payload"].read())
        assert response.get("FunctionError") == "Unhandled", body
        assert (body["errorType"], body["errorMessage"]) == (kind, message)
    cli = flowless(project, "deployment", "run", "hello/nope", env=env)
    assert cli.returncode == 1
    assert cli.stderr.strip() == (
        "Error: Deployment 'hello/nope' not found (deployments: broken/broken, "
        "hello/daily-greeting, slow/exclusive, slow/queued)."
    )
    assert run_ids(cloud) == before


def test_flowless_local_serves_the_project(project: Path) -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "flowless", "local", "--stack-name", "greetings-cli"],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(REPO / "sdk")},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    exports: dict[str, str] = {}
    try:
        assert server.stdout is not None
        for line in server.stdout:
            if line.startswith("export "):
                key, _, value = line[len("export ") :].strip().partition("=")
                exports[key] = value
            if line.startswith("# Ctrl-C stops it"):
                break
        listed = flowless(project, "deployment", "ls", env=exports)
        assert listed.returncode == 0, listed.stderr
        assert "hello/daily-greeting" in listed.stdout and "broken/broken" in listed.stdout
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)
    assert server.returncode == 0
    assert exports["FLOWLESS_FLOW_FUNCTION"] == "greetings-cli-flow-run"


def test_edited_code_is_refused_until_it_is_deployed(
    env: dict[str, str], project: Path, tmp_path: Path
) -> None:
    """The laptop's flows.py changed after the deploy: its task runs are refused by the
    deployed task-run function instead of running the old code silently."""
    laptop = tmp_path / "laptop"
    laptop.mkdir()
    source = (project / "flows.py").read_text()
    edited = source.replace('return f"Hello, {name}!"', 'return f"Howdy, {name}!"')
    assert edited != source
    (laptop / "flows.py").write_text(edited)

    def python_flows_py() -> Any:
        """`python flows.py` in the laptop's folder, switched onto the stack."""
        return subprocess.run(
            [sys.executable, "flows.py"],
            cwd=laptop,
            env={
                **os.environ,
                **env,
                "FLOWLESS_HOME": str(tmp_path / "home"),
                "PYTHONPATH": str(REPO / "sdk"),
            },
            capture_output=True,
            text=True,
            timeout=120,
        )

    done = python_flows_py()
    assert done.returncode == 1, done.stderr
    assert (
        "The task-run function failed: TaskSourceMismatchError: Task 'greet' (flows:greet) is "
        "not the code that called it: the deployed task's source differs from the caller's. "
        "Rebuild and deploy (`flowless build && sam build && sam deploy`), then run the flow "
        "again."
    ) in done.stderr
    # The unchanged code runs on the same stack.
    (laptop / "flows.py").write_text(source)
    again = python_flows_py()
    assert again.returncode == 0, again.stderr
    assert "Hello, World!" in again.stderr


def _overlap(runs: list[Any]) -> bool:
    spans = sorted((r.start_time, r.end_time) for r in runs)
    return any(later[0] < earlier[1] for earlier, later in itertools.pairwise(spans))


def _wait_final(cloud: LocalCloud, flow_run_id: str, timeout: float = 90.0) -> Any:
    import time

    final = (StateType.COMPLETED, StateType.FAILED, StateType.CANCELLED, StateType.CRASHED)
    deadline = time.monotonic() + timeout
    while True:
        record = store(cloud).read_flow_run(flow_run_id)
        if record.state_type in final:
            return record
        assert time.monotonic() < deadline, (record.state_type, record.state_name)
        time.sleep(0.2)


def test_a_deployment_limit_enqueues_or_cancels(env: dict[str, str], cloud: LocalCloud) -> None:
    """Two runs of a deployment limited to one at a time: ENQUEUE runs them one after the
    other; CANCEL_NEW cancels the one that finds the slot taken."""
    queued = [
        run_deployment("slow/queued", parameters={"seconds": 1.5}, timeout=0) for _ in range(2)
    ]
    records = [_wait_final(cloud, run.id) for run in queued]
    assert [r.state_type for r in records] == [StateType.COMPLETED] * 2, records
    assert not _overlap(records)
    exclusive = [
        run_deployment("slow/exclusive", parameters={"seconds": 1.5}, timeout=0) for _ in range(2)
    ]
    finals = [_wait_final(cloud, run.id) for run in exclusive]
    assert sorted(r.state_name for r in finals) == ["Cancelled", "Completed"]
    [cancelled] = [r for r in finals if r.state_name == "Cancelled"]
    assert cancelled.state_message == (
        "Not started: the deployment's concurrency limit of 1 is reached (collision strategy "
        "CANCEL_NEW)."
    )
