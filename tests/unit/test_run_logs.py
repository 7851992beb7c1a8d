"""Run log lines kept with the run (embedded store) and ``flowless flow-run logs``: the
same lines the console showed, filtered by level and task, followed while the run goes
on; cut when huge; none when run logging is disabled."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from io import StringIO
from pathlib import Path

import pytest

from flowless import flow, get_run_logger, task
from flowless.cli import main as cli
from flowless.cli._flow_run_logs import show_logs
from flowless.engine import current_runtime
from flowless.logging import disable_run_logger
from flowless.logging._stored import MAX_MESSAGE
from flowless.store import find_flow_run
from flowless.task_runners import ThreadPoolTaskRunner


@contextmanager
def disable_console() -> Iterator[None]:
    """No console lines (xdist cannot send a lone surrogate in captured output); the run
    loggers' own handler still keeps them."""
    root = logging.getLogger("flowless")
    handlers = root.handlers[:]
    root.handlers = [logging.NullHandler()]  # not empty: the console handler stays out
    try:
        yield
    finally:
        root.handlers = handlers


_attempts: dict[str, int] = {}


@task(retries=1, retry_delay_seconds=0)
def shaky(key: str) -> str:
    _attempts[key] = _attempts.get(key, 0) + 1
    get_run_logger().info("attempt %d of %s", _attempts[key], key)
    if _attempts[key] == 1:
        raise ConnectionError(f"{key} dropped")
    return key


@task(log_prints=True)
def noisy(i: int) -> int:
    print(f"noisy {i}")
    return i


@task
def broken() -> None:
    raise ValueError("really broken")


@flow(flow_run_name="inner-{x}")
def inner(x: int) -> int:
    get_run_logger().warning("inner %d", x)
    return noisy(x)


@flow(flow_run_name="outer-{key}", log_prints=True, task_runner=ThreadPoolTaskRunner(4))
def outer(key: str) -> int:
    print(f"starting {key}")
    shaky(key)
    futures = [noisy.submit(i) for i in range(3)]
    broken(return_state=True)
    return inner(7) + sum(f.result() for f in futures)


_STAMP = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} \| ")


def _entries(text: str) -> list[str]:
    """Log entries: a stamped line and the lines after it that are not (a traceback)."""
    entries: list[str] = []
    for line in text.splitlines():
        if _STAMP.match(line) or not entries:
            entries.append(line)
        else:
            entries[-1] += "\n" + line
    return entries


def test_logs_shows_the_lines_the_console_showed(capsys: pytest.CaptureFixture[str]) -> None:
    outer("a1")
    console = _entries(capsys.readouterr().err)
    assert cli(["flow-run", "logs", "inner-7"]) == 0
    sub = _entries(capsys.readouterr().out)
    assert [line.split(" - ", 1)[1] for line in sub] == [
        "Beginning subflow run 'inner-7' for flow 'inner'",
        "inner 7",
        "noisy 7",
        "Finished in state Completed()",
        "Finished in state Completed()",
    ]
    assert cli(["flow-run", "logs", "outer-a1"]) == 0
    shown = _entries(capsys.readouterr().out)
    # the subflow's lines are its own run's; the rest is what the console showed, with
    # the tracebacks, in the order the lines were made
    ours = [e for e in console if e not in sub and ("Flow run '" in e or "Task run '" in e)]
    assert sorted(shown) == sorted(ours)
    assert shown == sorted(shown, key=lambda e: e[:12])  # (threads may interleave in a ms)
    assert any("ValueError: really broken" in e for e in shown)


def test_level_and_task_filters(capsys: pytest.CaptureFixture[str]) -> None:
    outer("b2")
    capsys.readouterr()
    assert cli(["flow-run", "logs", "outer-b2", "--level", "error"]) == 0
    errors = capsys.readouterr().out
    assert "| ERROR   | Task run 'broken-" in errors
    assert "ValueError: really broken" in errors  # the traceback is part of the line
    assert "| INFO " not in errors
    assert cli(["flow-run", "logs", "outer-b2", "--task", "shaky"]) == 0
    shaky_lines = [line.split(" - ", 1)[1] for line in capsys.readouterr().out.splitlines()]
    assert shaky_lines[0] == "attempt 1 of b2"
    assert shaky_lines[1].startswith(
        "Task run failed with exception: ConnectionError('b2 dropped')"
    )
    assert shaky_lines[-2:] == ["attempt 2 of b2", "Finished in state Completed()"]
    assert cli(["flow-run", "logs", "outer-b2", "--task", "nothing"]) == 0
    out = capsys.readouterr()
    assert out.out == ""
    assert "No log lines of task run 'nothing' kept for flow run 'outer-b2'" in out.err


def test_bad_level_and_unknown_run_say_what_is_wrong(capsys: pytest.CaptureFixture[str]) -> None:
    outer("c3")
    capsys.readouterr()
    assert cli(["flow-run", "logs", "outer-c3", "--level", "loud"]) == 1
    assert capsys.readouterr().err == (
        "Error: --level 'loud' is not a level; use one of DEBUG, INFO, WARNING, ERROR, CRITICAL.\n"
    )
    assert cli(["flow-run", "logs", "no-such-run"]) == 1
    assert "No flow run with id, id prefix or name 'no-such-run'" in capsys.readouterr().err


def test_follow_prints_lines_as_they_come_and_stops_when_the_run_ends() -> None:
    gate = threading.Event()

    @task
    def waits() -> None:
        get_run_logger().info("before the gate")
        assert gate.wait(10)
        get_run_logger().info("after the gate")

    @flow(flow_run_name="followed")
    def followed() -> None:
        waits()

    runner = threading.Thread(target=followed)
    runner.start()
    store = current_runtime().store
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            find_flow_run(store, "followed")
            break
        except Exception:
            time.sleep(0.01)
    polls: list[float] = []

    def sleep(seconds: float) -> None:
        polls.append(seconds)
        gate.set()  # the run goes on after the first look
        time.sleep(0.05)

    out, err = StringIO(), StringIO()
    assert show_logs(store, out, err, "followed", follow=True, sleep=sleep) == 0
    runner.join(10)
    messages = [line.split(" - ", 1)[1] for line in out.getvalue().splitlines()]
    assert messages[0] == "Beginning flow run 'followed' for flow 'followed'"
    assert "before the gate" in messages and "after the gate" in messages
    assert messages[-1] == "Finished in state Completed()"
    assert polls  # it waited for the run at least once
    lines = out.getvalue().splitlines()
    assert len(lines) == len(set(lines)) == 5  # nothing printed twice


def test_a_huge_line_is_cut_with_a_marker() -> None:
    @flow(flow_run_name="huge")
    def huge() -> None:
        get_run_logger().info("x" * (MAX_MESSAGE + 500))

    huge()
    store = current_runtime().store
    [line] = [
        line for line in store.read_logs(find_flow_run(store, "huge").id) if "xxx" in line.message
    ]
    assert line.message == "x" * MAX_MESSAGE + "\n... [500 more characters cut]"


def test_disabled_run_logging_keeps_nothing(flowless_home: Path) -> None:
    @flow(flow_run_name="quiet")
    def quiet() -> int:
        get_run_logger().info("not kept")
        return noisy(1)

    with disable_run_logger():
        assert quiet() == 1
    store = current_runtime().store
    assert store.read_logs(find_flow_run(store, "quiet").id) == []


def test_a_reader_that_goes_away_gets_no_traceback(flowless_home: Path) -> None:
    """``flowless flow-run logs x | head -1``: the pipe closes early; no BrokenPipeError."""

    @flow(flow_run_name="long")
    def long() -> None:
        for i in range(5000):
            get_run_logger().info("line %d of a long log", i)

    long()
    shown = subprocess.run(
        f"{sys.executable} -m flowless flow-run logs long | head -1",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "FLOWLESS_HOME": str(flowless_home)},
        check=False,
    )
    assert shown.stdout.count("\n") == 1 and "Beginning flow run 'long'" in shown.stdout
    assert shown.stderr == ""


def test_follow_shows_a_line_that_lands_after_a_newer_one(tmp_path: Path) -> None:
    """A line made a moment before another (another thread, a remote task run) can land
    after it: ``--follow`` looks back, and prints each line once."""
    from flowless.states import StateType
    from flowless.store import FlowRunRecord, LogLine, SQLiteStore

    store = SQLiteStore(tmp_path / "f.db")
    run = FlowRunRecord("fr-1", "followed", "f", StateType.RUNNING, "Running", created=1.0)
    store.create_flow_run(run)

    def line(t: float, text: str) -> LogLine:
        return LogLine(f"{int(t * 1e9):020d}-1-{text}", "fr-1", None, "followed", t, 20, "x", text)

    store.write_log(line(1000.0, "first"))
    store.write_log(line(1002.0, "newest"))
    polls = 0

    def sleep(_: float) -> None:
        nonlocal polls
        polls += 1
        store.write_log(line(1001.0, "late"))  # made before "newest", lands after it
        store.write_log(line(1003.0, "last"))
        run.state_type, run.state_name = StateType.COMPLETED, "Completed"
        run.version = store.read_flow_run("fr-1").version
        store.update_flow_run(run)

    out, err = StringIO(), StringIO()
    assert show_logs(store, out, err, "followed", follow=True, sleep=sleep) == 0
    store.close()
    assert [entry.split(" - ", 1)[1] for entry in out.getvalue().splitlines()] == [
        "first",
        "newest",
        "late",
        "last",
    ]


def test_follow_shows_the_lines_logged_after_the_final_state() -> None:
    """A hook runs, and the run's last line is logged, after its final state is written."""
    gate = threading.Event()

    def slow_hook(flow: object, flow_run: object, state: object) -> None:
        gate.wait(10)

    @flow(flow_run_name="hooked", on_completion=[slow_hook])
    def hooked() -> None:
        get_run_logger().info("body")

    runner = threading.Thread(target=hooked)
    runner.start()
    store = current_runtime().store
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # until its final state is written
        try:
            if find_flow_run(store, "hooked").state_type.value == "COMPLETED":
                break
        except Exception:
            pass
        time.sleep(0.01)

    def sleep(_: float) -> None:
        gate.set()
        time.sleep(0.05)

    out = StringIO()
    assert show_logs(store, out, StringIO(), "hooked", follow=True, sleep=sleep) == 0
    runner.join(10)
    messages = [line.split(" - ", 1)[1] for line in out.getvalue().splitlines()]
    assert messages[-1] == "Finished in state Completed()"
    assert any(m.startswith("Running hook 'slow_hook'") for m in messages)


def test_a_line_with_a_lone_surrogate_is_kept_and_the_run_completes() -> None:
    name = os.fsdecode(b"file-\xff.txt")

    @flow(flow_run_name="surrogate")
    def surrogate() -> int:
        get_run_logger().info("reading %s", name)
        return 1

    with disable_console():
        assert surrogate() == 1
    store = current_runtime().store
    run = find_flow_run(store, "surrogate")
    assert run.state_type.value == "COMPLETED"
    messages = [line.message for line in store.read_logs(run.id)]
    assert "reading file-\\udcff.txt" in messages or "reading file-\\xff.txt" in messages, messages
