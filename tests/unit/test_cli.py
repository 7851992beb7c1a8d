"""``flowless flow-run ls`` and ``inspect`` as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flowless import flow, task
from flowless.cache_policies import INPUTS
from flowless.cli import main as cli


@task(retries=2, retry_delay_seconds=0)
def flaky(counter: list[int]) -> int:
    counter.append(1)
    if len(counter) < 2:
        raise RuntimeError("first attempt fails")
    return len(counter)


@task(cache_policy=INPUTS)
def cached(x: int) -> int:
    return x


@flow(flow_run_name="inspect-me")
def pipeline() -> int:
    return flaky([]) + cached(1)


def test_ls_and_inspect(capsys: pytest.CaptureFixture[str]) -> None:
    pipeline()
    pipeline.with_options(flow_run_name="second")()
    capsys.readouterr()
    assert cli(["flow-run", "ls"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "ID",
        "NAME",
        "FLOW",
        "STATE",
        "DEPLOYMENT",
        "STARTED",
        "DURATION",
    ]
    assert lines[1].split()[1:4] == ["second", "pipeline", "Completed"]
    assert lines[2].split()[1:4] == ["inspect-me", "pipeline", "Completed"]
    assert cli(["flow-run", "inspect", "inspect-me"]) == 0
    out = capsys.readouterr().out
    assert "State       Completed()" in out
    assert "Parameters  {}" in out and "Result      3" in out
    task_lines = out.split("Task runs (2)\n")[1].splitlines()
    assert task_lines[0].split() == [
        "NAME",
        "STATE",
        "ATTEMPTS",
        "STARTED",
        "ENDED",
        "DURATION",
        "CACHE/SUBFLOW",
    ]
    flaky_row, cached_row = task_lines[1].split(), task_lines[2].split()
    assert flaky_row[0].startswith("flaky-") and flaky_row[1:3] == ["Completed()", "2"]
    assert cached_row[0].startswith("cached-") and cached_row[-1] == "miss"
    assert cli(["flow-run", "inspect", "second"]) == 0
    out = capsys.readouterr().out
    assert "Cached()" in out and "hit" in out and "1 cache hit(s)" in out


def test_inspect_unknown_and_empty(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["flow-run", "ls"]) == 0
    assert "No flow runs in" in capsys.readouterr().out
    assert cli(["flow-run", "inspect", "nope"]) == 1
    assert "No flow run with id, id prefix or name 'nope'" in capsys.readouterr().err


def test_console_script(flowless_home: Path) -> None:
    pipeline()
    exe = Path(sys.executable).parent / "flowless"
    env = {**os.environ, "FLOWLESS_HOME": str(flowless_home)}
    out = subprocess.run(
        [str(exe), "flow-run", "ls", "--limit", "1"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "inspect-me" in out
    version = subprocess.run(
        [sys.executable, "-m", "flowless", "version"], capture_output=True, text=True, check=True
    ).stdout
    assert version.strip() == "0.1.0"


def test_ls_does_not_wait_for_writers(
    flowless_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3
    import time

    pipeline()
    from flowless.engine import current_runtime

    current_runtime().store.flush()
    writer = sqlite3.connect(flowless_home / "flowless.db", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process busy writing
    try:
        capsys.readouterr()
        started = time.monotonic()
        assert cli(["flow-run", "ls"]) == 0
        assert time.monotonic() - started < 5
        assert "inspect-me" in capsys.readouterr().out
    finally:
        writer.execute("ROLLBACK")
        writer.close()
