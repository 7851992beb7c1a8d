"""One setting moves ``python my_flow.py`` onto AWS; a wrong name says what is missing.

The script is the Prefect tutorial's pipeline (examples/github_stars.py), run as a user
runs it, in its own interpreter: first with the cloud's variables (the stack's outputs
after ``sam deploy``), then without them.
"""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from pathlib import Path

import e2e_flows
import pytest
from infra.local_cloud import REPO

from fake_github_api import repo_payload
from flowless.exceptions import StoreUnavailableError
from tests.e2e.cloud import Cloud

SCRIPT = REPO / "examples" / "github_stars.py"


def _run(env: dict[str, str], *repos: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *repos],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_python_my_flow_py_runs_its_tasks_on_lambda_and_caches_in_dynamodb(
    aws: Cloud, tmp_path: Path
) -> None:
    owner = f"e2e-{uuid.uuid4().hex[:8]}"
    repos = [f"{owner}/alpha", f"{owner}/beta", f"{owner}/gamma"]
    stars = {r: repo_payload(*r.split("/"))["stargazers_count"] for r in repos}
    env = aws.script_env(tmp_path / "home")
    requests_before = aws.github.total_requests

    with aws.counting() as first_calls:
        first = _run(env, *repos)
    assert first.returncode == 0, first.stderr
    # 3 fetch_stats and 3 get_stars task runs; retries (the fake API fails some repos'
    # first request) happen inside an invocation.
    assert first_calls == {"flow": 0, "task": 6}
    assert aws.github.total_requests - requests_before >= 3
    # The task runs logged in Lambda; the console shows their final states all the same.
    for task in ("fetch_stats", "get_stars"):
        finished = rf"Task run '{task}-\w+' - Finished in state Completed\(\)$"
        assert len(re.findall(finished, first.stderr, re.M)) == 3, first.stderr
    for repo, count in stars.items():
        assert re.search(
            rf"Flow run '[\w-]+' - {re.escape(repo)}: {count} stars$", first.stderr, re.M
        )

    requests_before = aws.github.total_requests
    with aws.counting() as second_calls:
        second = _run(env, *repos)
    assert second.returncode == 0, second.stderr
    assert second_calls == {"flow": 0, "task": 3}  # fetch_stats: cache hits, not invoked
    assert aws.github.total_requests == requests_before
    assert second.stderr.count("Finished in state Cached(type=COMPLETED)") == 3
    for repo, count in stars.items():
        assert f"{repo}: {count} stars" in second.stderr
    # Nothing was written on this machine: the state is in the cloud.
    assert not (tmp_path / "home" / "flowless.db").exists()


def test_without_the_setting_the_same_script_runs_embedded(aws: Cloud, tmp_path: Path) -> None:
    env = aws.script_env(tmp_path / "home")
    del env["FLOWLESS_BACKEND"]
    with aws.counting() as calls:
        done = _run(env, "e2e-local/only")
    assert done.returncode == 0, done.stderr
    assert calls == {"flow": 0, "task": 0}
    assert (tmp_path / "home" / "flowless.db").exists()


@pytest.mark.parametrize(
    ("variable", "expected"),
    [
        ("FLOWLESS_TABLE", "The DynamoDB table 'no-such-table' does not exist"),
        ("FLOWLESS_TASK_FUNCTION", "The Lambda function 'no-such-function' does not exist"),
    ],
)
def test_a_missing_resource_is_named_with_how_to_create_it(
    on_aws: Cloud, monkeypatch: pytest.MonkeyPatch, variable: str, expected: str
) -> None:
    before = {r.id for r in on_aws.store.list_flow_runs(limit=1000)}
    name = "no-such-table" if variable == "FLOWLESS_TABLE" else "no-such-function"
    monkeypatch.setenv(variable, name)
    with on_aws.counting() as calls, pytest.raises(StoreUnavailableError) as caught:
        e2e_flows.fan_out(2)
    assert expected in str(caught.value)
    assert "sam deploy" in str(caught.value)
    assert calls == {"flow": 0, "task": 0}
    after = {r.id for r in on_aws.store.list_flow_runs(limit=1000)}
    if variable == "FLOWLESS_TABLE":
        assert after == before  # nothing could be written anywhere
    else:
        # The run was recorded, and failed with the same message.
        [new] = after - before
        record = on_aws.store.read_flow_run(new)
        assert record.state_name == "Failed"
        assert expected in (record.state_message or "")


def test_a_missing_setting_says_which(monkeypatch: pytest.MonkeyPatch) -> None:
    from flowless.exceptions import ConfigurationError

    monkeypatch.setenv("FLOWLESS_BACKEND", "aws")
    for variable in ("FLOWLESS_TABLE", "FLOWLESS_BUCKET", "FLOWLESS_TASK_FUNCTION"):
        monkeypatch.delenv(variable, raising=False)
    with pytest.raises(ConfigurationError, match="FLOWLESS_TABLE, FLOWLESS_BUCKET, FLOWLESS_TASK"):
        e2e_flows.fan_out(1)
