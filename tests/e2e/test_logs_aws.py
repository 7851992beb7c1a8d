"""Run log lines on AWS: the flow-run function and the task-run function keep their
lines in the table, a remote task run's lines come back with its answer and show on the
flow's console as they would locally (once, and kept once), and the CLI reads them."""

from __future__ import annotations

import logging
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import e2e_flows
import pytest

from flowless.logging._console import ConsoleFormatter, ConsoleHandler
from flowless.store import LogLine, find_flow_run
from tests.e2e.cloud import Cloud


@pytest.fixture
def console() -> Iterator[None]:
    """flowless's console handler on the ``flowless`` logger, as in a user's process (a
    test in this worker may have imported the Lambda handlers, which log JSON there)."""
    root = logging.getLogger("flowless")
    saved = root.handlers[:], root.propagate
    handler = ConsoleHandler()
    handler.setFormatter(ConsoleFormatter())
    root.handlers = [handler]
    try:
        yield
    finally:
        root.handlers, root.propagate = saved


def _key() -> str:
    return uuid.uuid4().hex[:10]


def _messages(lines: list[LogLine]) -> list[str]:
    return [line.message for line in lines]


def test_the_functions_keep_every_line_once(aws: Cloud) -> None:
    key = _key()
    answer = aws.invoke_flow(
        {"flow": "e2e_flows:talkative", "parameters": {"key": key, "lines": 3}}
    )
    assert answer["state"]["type"] == "COMPLETED", answer
    lines = aws.store.read_logs(answer["flow_run_id"])
    messages = _messages(lines)
    name = answer["flow_run_name"]
    assert messages[0] == f"Beginning flow run {name!r} for flow 'talkative'"
    assert messages[-1] == "Finished in state Completed()"
    task_lines = [line for line in lines if line.task_run_id]
    assert [m.split(" line ")[0] for m in _messages(task_lines)[:3]] == [key] * 3
    assert _messages(task_lines)[3:] == [f"{key} printed", "Finished in state Completed()"]
    assert len({line.task_run_id for line in task_lines}) == 1
    assert task_lines[0].run_name.startswith("chatty-")
    assert f"{key} from the flow" in messages
    assert len(messages) == 8  # each once: the task's lines are not kept twice


def test_a_remote_task_runs_lines_show_on_the_flows_console(
    on_aws: Cloud, capfd: pytest.CaptureFixture[str], console: None
) -> None:
    key = _key()
    assert e2e_flows.talkative.with_options(flow_run_name=f"console-{key}")(key, 3) == key
    err = capfd.readouterr().err
    task_lines = [line for line in err.splitlines() if "| Task run 'chatty-" in line]
    assert [line.split(" - ", 1)[1].split(" line ")[0] for line in task_lines[:3]] == [key] * 3
    assert task_lines[3].endswith(f"- {key} printed")
    assert task_lines[4].endswith("- Finished in state Completed()")
    assert len(task_lines) == 5  # the flow side adds no second "Finished" line
    kept = on_aws.store.read_logs(find_flow_run(on_aws.store, f"console-{key}").id)
    assert len(kept) == 8
    assert len({line.id for line in kept}) == 8


def test_a_long_remote_log_is_cut_in_the_answer_and_kept_whole(
    on_aws: Cloud, capfd: pytest.CaptureFixture[str], console: None
) -> None:
    key = _key()
    assert e2e_flows.talkative.with_options(flow_run_name=f"long-{key}")(key, 2000) == key
    err = capfd.readouterr().err
    [marker] = [line for line in err.splitlines() if "earlier line(s)" in line]
    assert "WARNING | Task run 'chatty-" in marker
    assert "`flowless flow-run logs` shows them all" in marker
    shown = [line for line in err.splitlines() if f"{key} line " in line]
    assert 0 < len(shown) < 2000
    assert shown[-1].split(" - ", 1)[1].startswith(f"{key} line 1999 ")
    run = find_flow_run(on_aws.store, f"long-{key}")  # ~250 KB of lines
    kept = [m for m in _messages(on_aws.store.read_logs(run.id)) if f"{key} line " in m]
    assert len(kept) == 2000


def test_flow_run_logs_reads_the_table(on_aws: Cloud, tmp_path: Path) -> None:
    key = _key()
    e2e_flows.talkative.with_options(flow_run_name=f"logs-{key}")(key, 2)
    shown = subprocess.run(
        [sys.executable, "-m", "flowless", "flow-run", "logs", f"logs-{key}", "--task", "chatty"],
        env=on_aws.script_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert len(lines) == 4
    assert all("| INFO    | Task run 'chatty-" in line for line in lines)
    assert lines[2].endswith(f"- {key} printed")
