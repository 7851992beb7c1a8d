"""``flowless flow-run ls`` filters and ids, ``inspect --json``, ``delete``, ``--version``."""

from __future__ import annotations

import json

import pytest

from flowless import flow, task
from flowless.cli import main as cli
from flowless.cli._table import render
from flowless.engine import current_runtime
from flowless.store import find_flow_run


@task
def double(x: int) -> int:
    return 2 * x


@flow(flow_run_name="child-run")
def child(x: int) -> int:
    return double(x)


@flow(flow_run_name="parent-run")
def parent(x: int) -> int:
    return child(x) + double(x)


@flow(flow_run_name="broken-run")
def broken() -> None:
    raise RuntimeError("no")


def _ls(capsys: pytest.CaptureFixture[str], *options: str) -> list[dict[str, object]]:
    capsys.readouterr()
    assert cli(["flow-run", "ls", "--json", *options]) == 0
    listed: list[dict[str, object]] = json.loads(capsys.readouterr().out)
    return listed


def test_ls_filters_and_prints_ids_others_accept(capsys: pytest.CaptureFixture[str]) -> None:
    parent(2)
    broken(return_state=True)
    assert [r["name"] for r in _ls(capsys)] == ["broken-run", "child-run", "parent-run"]
    assert [r["name"] for r in _ls(capsys, "--state", "failed")] == ["broken-run"]
    assert [r["name"] for r in _ls(capsys, "--flow", "child")] == ["child-run"]
    assert [r["name"] for r in _ls(capsys, "--limit", "1")] == ["broken-run"]
    assert _ls(capsys, "--deployment", "parent/nightly") == []
    assert cli(["flow-run", "ls", "--state", "done"]) == 1
    assert "Unknown state 'done': use one of SCHEDULED, PENDING" in capsys.readouterr().err
    assert cli(["flow-run", "ls"]) == 0
    lines = capsys.readouterr().out.splitlines()  # piped: whole values, nothing cut
    assert lines[0].split() == ["ID", "NAME", "FLOW", "STATE", "DEPLOYMENT", "STARTED", "DURATION"]
    printed_id = next(line.split()[0] for line in lines if " parent-run " in line)
    assert cli(["flow-run", "inspect", printed_id]) == 0
    assert "parent-run" in capsys.readouterr().out
    assert cli(["flow-run", "inspect", printed_id[:6]]) == 0
    assert "parent-run" in capsys.readouterr().out


def test_inspect_shows_times_subflows_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    parent(3)
    capsys.readouterr()
    assert cli(["flow-run", "inspect", "parent-run"]) == 0
    out = capsys.readouterr().out
    assert 'Parameters  {"x": 3}' in out and "Result      12" in out
    header = out.split("Task runs (2)\n")[1].splitlines()[0].split()
    assert header == ["NAME", "STATE", "ATTEMPTS", "STARTED", "ENDED", "DURATION", "CACHE/SUBFLOW"]
    assert "subflow child-run" in out
    assert cli(["flow-run", "inspect", "parent-run", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["parameters"] == {"x": 3} and document["result"] == 12
    assert document["state_type"] == "COMPLETED"
    subflows = [t["subflow_run_name"] for t in document["task_runs"]]
    assert "child-run" in subflows
    assert all(t["start_time"] and t["end_time"] for t in document["task_runs"])


def test_delete_removes_run_task_runs_and_subflows(capsys: pytest.CaptureFixture[str]) -> None:
    parent(1)
    broken(return_state=True)
    current_runtime().store.flush()
    capsys.readouterr()
    assert cli(["flow-run", "delete", "parent-run"]) == 0
    out = capsys.readouterr().out
    assert "Deleted subflow run 'child-run'" in out and "and its 1 task run(s)" in out
    assert "Deleted flow run 'parent-run'" in out and "and its 2 task run(s)" in out
    assert [r["name"] for r in _ls(capsys)] == ["broken-run"]
    assert cli(["flow-run", "delete", "parent-run"]) == 1
    assert "No flow run with id, id prefix or name 'parent-run'" in capsys.readouterr().err


def test_delete_refuses_a_running_run_unless_forced(capsys: pytest.CaptureFixture[str]) -> None:
    from flowless.states import StateType

    parent(1)
    store = current_runtime().store
    store.flush()
    record = find_flow_run(store, "parent-run")
    record.state_type, record.state_name = StateType.RUNNING, "Running"
    store.update_flow_run(record)
    store.flush()
    capsys.readouterr()
    assert cli(["flow-run", "delete", "parent-run"]) == 1
    err = capsys.readouterr().err
    assert "parent-run (Running) may still be running" in err and "Nothing was deleted" in err
    assert len(_ls(capsys)) == 2
    assert cli(["flow-run", "delete", "parent-run", "--force"]) == 0
    assert _ls(capsys) == []


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == "0.1.0"


def test_render_cuts_to_width_but_keeps_ids() -> None:
    rows = [["0123456789-abcdef", "a" * 50, "b" * 40]]
    text = render(["ID", "NAME", "FLOW"], rows, width=60, keep=1)
    assert all(len(line) <= 60 for line in text.splitlines())
    assert text.splitlines()[1].startswith("0123456789-abcdef  ") and "..." in text
    assert render(["ID", "NAME"], [["x", "y" * 200]]).endswith("y" * 200)  # uncut when piped


def test_cancel_marks_a_running_run_and_refuses_a_final_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from flowless.states import StateType

    parent(1)
    store = current_runtime().store
    store.flush()
    record = find_flow_run(store, "parent-run")
    capsys.readouterr()
    assert cli(["flow-run", "cancel", "parent-run"]) == 1
    err = capsys.readouterr().err
    assert f"Not cancelling flow run 'parent-run' ({record.id}): it is Completed" in err
    assert "Nothing was changed." in err
    assert find_flow_run(store, "parent-run") == record

    record.state_type, record.state_name = StateType.RUNNING, "Running"
    store.update_flow_run(record)
    store.flush()
    assert cli(["flow-run", "cancel", record.id[:8]]) == 0
    out = capsys.readouterr().out
    assert out == f"Cancelling flow run 'parent-run' ({record.id}): it stops at its next task.\n"
    assert find_flow_run(store, "parent-run").state_name == "Cancelling"


def test_cancel_ends_a_scheduled_run_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    from flowless.states import StateType

    parent(1)
    store = current_runtime().store
    store.flush()
    record = find_flow_run(store, "parent-run")
    record.state_type, record.state_name = StateType.SCHEDULED, "Scheduled"
    store.update_flow_run(record)
    store.flush()
    capsys.readouterr()
    assert cli(["flow-run", "cancel", "parent-run"]) == 0
    out = capsys.readouterr().out
    assert out == f"Cancelled flow run 'parent-run' ({record.id}): it had not started.\n"
    assert find_flow_run(store, "parent-run").state_type is StateType.CANCELLED
