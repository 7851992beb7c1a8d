"""The ``flowless`` command on the AWS store: with ``FLOWLESS_BACKEND=aws`` and the stack's
names it lists and inspects the table's runs and manages its concurrency limits, as it
does the embedded store's."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import e2e_flows

from tests.e2e.cloud import Cloud


def _flowless(aws: Cloud, home: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flowless", *argv],
        env=aws.script_env(home),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_flow_runs_and_limits_from_the_table(on_aws: Cloud, tmp_path: Path) -> None:
    key = uuid.uuid4().hex[:8]
    e2e_flows.retrying.with_options(flow_run_name=f"cli-{key}")(key, 0)

    listed = _flowless(on_aws, tmp_path, "flow-run", "ls", "--limit", "50")
    assert listed.returncode == 0, listed.stderr
    assert f"cli-{key}" in listed.stdout
    inspected = _flowless(on_aws, tmp_path, "flow-run", "inspect", f"cli-{key}")
    assert inspected.returncode == 0, inspected.stderr
    assert "flaky" in inspected.stdout and "Completed" in inspected.stdout

    name = f"cli-limit-{key}"
    made = _flowless(on_aws, tmp_path, "gcl", "create", name, "--limit", "2")
    assert made.returncode == 0, made.stderr
    assert f"Created global concurrency limit with name {name!r}" in made.stdout
    shown = _flowless(on_aws, tmp_path, "gcl", "ls")
    assert any(line.split()[:3] == [name, "True", "2"] for line in shown.stdout.splitlines())
    assert _flowless(on_aws, tmp_path, "gcl", "delete", name).returncode == 0
    gone = _flowless(on_aws, tmp_path, "gcl", "inspect", name)
    assert (gone.returncode, gone.stderr) == (1, f"Global concurrency limit {name!r} not found.\n")


def test_a_missing_table_is_named(on_aws: Cloud, tmp_path: Path) -> None:
    env_home = tmp_path
    proc = subprocess.run(
        [sys.executable, "-m", "flowless", "gcl", "ls"],
        env={**on_aws.script_env(env_home), "FLOWLESS_TABLE": "no-such-table"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    assert "The DynamoDB table 'no-such-table' does not exist" in proc.stderr
