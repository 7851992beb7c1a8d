"""State hooks as Prefect 3.4.25 runs them. The expected console lines were printed by
real Prefect 3.4.25 for the same programs (``prefect.engine`` reads ``flowless.engine``
here; run names and task-run suffixes vary and are substituted)."""

from __future__ import annotations

import functools
import re
from typing import Any

import pytest

from flowless import flow, task
from flowless.exceptions import ParameterTypeError
from flowless.flows import Flow
from flowless.states import Cancelled, State, StateType
from flowless.store import FlowRunRecord
from tests.conftest import log_lines

seen: list[Any] = []


@pytest.fixture(autouse=True)
def _reset() -> None:
    seen.clear()


def named_hook(obj: Any, run: Any, state: State[Any]) -> None:
    seen.append(("named_hook", obj, run, state))


def hook_with_arg(tag: str, obj: Any, run: Any, state: State[Any]) -> None:
    seen.append(("partial", tag, state.name))


class CallableHook:
    def __call__(self, obj: Any, run: Any, state: State[Any]) -> None:
        seen.append(("callable object", state.name))


async def async_hook(obj: Any, run: Any, state: State[Any]) -> None:
    seen.append(("async hook", state.name))


def failing_hook(obj: Any, run: Any, state: State[Any]) -> None:
    raise RuntimeError("hook broke")


def _named(lines: list[str]) -> list[str]:
    """Log lines with run names as ``RUN`` and task-run suffixes as ``-xyz``."""
    out = []
    for line in lines:
        line = re.sub(r"'[a-z]+-[a-z]+'", "'RUN'", line)
        out.append(re.sub(r"(Task run '\w+)-[0-9a-f]{3}'", r"\1-xyz'", line))
    return out


def test_flow_on_running_runs_before_beginning(capsys: pytest.CaptureFixture[str]) -> None:
    @flow(on_running=[named_hook, functools.partial(hook_with_arg, "f"), async_hook])
    def f1() -> int:
        seen.append("body")
        return 1

    @f1.on_running
    def f1_running(f: Any, r: Any, s: State[Any]) -> None:
        seen.append(("decorator", s.name, s.type))

    state = f1(return_state=True)
    assert state.result() == 1
    hook, obj, run, running = seen[0]
    assert hook == "named_hook" and obj is f1 and isinstance(obj, Flow)
    assert isinstance(run, FlowRunRecord) and run.id == state.state_details.flow_run_id
    assert (running.name, running.type) == ("Running", StateType.RUNNING)
    assert seen[1:] == [
        ("partial", "f", "Running"),
        ("async hook", "Running"),
        ("decorator", "Running", StateType.RUNNING),
        "body",
    ]
    assert _named(log_lines(capsys.readouterr().err)) == [
        "INFO | flowless.engine - Running hook 'named_hook' in response to entering state "
        "'Running'",
        "INFO | flowless.engine - Hook 'named_hook' finished running successfully",
        "INFO | flowless.engine - Running hook 'hook_with_arg' in response to entering state "
        "'Running'",
        "INFO | flowless.engine - Hook 'hook_with_arg' finished running successfully",
        "INFO | flowless.engine - Running hook 'async_hook' in response to entering state "
        "'Running'",
        "INFO | flowless.engine - Hook 'async_hook' finished running successfully",
        "INFO | flowless.engine - Running hook 'f1_running' in response to entering state "
        "'Running'",
        "INFO | flowless.engine - Hook 'f1_running' finished running successfully",
        "INFO | Flow run 'RUN' - Beginning flow run 'RUN' for flow 'f1'",
        "INFO | Flow run 'RUN' - Finished in state Completed()",
    ]


def test_flow_on_running_again_on_each_retry(capsys: pytest.CaptureFixture[str]) -> None:
    attempts = []

    @flow(retries=1)
    def f2() -> str:
        attempts.append(len(attempts) + 1)
        if len(attempts) == 1:
            raise ValueError("first fails")
        return "ok"

    @f2.on_running
    def f2_running(f: Any, r: Any, s: State[Any]) -> None:
        seen.append(("running", s.name, len(attempts)))

    assert f2() == "ok"
    assert seen == [("running", "Running", 0), ("running", "Running", 1)]
    lines = [
        line
        for line in _named(log_lines(capsys.readouterr().err))
        if "Encountered exception" not in line
    ]
    assert lines == [
        "INFO | flowless.engine - Running hook 'f2_running' in response to entering state "
        "'Running'",
        "INFO | flowless.engine - Hook 'f2_running' finished running successfully",
        "INFO | Flow run 'RUN' - Beginning flow run 'RUN' for flow 'f2'",
        "INFO | Flow run 'RUN' - Received non-final state 'AwaitingRetry' when proposing final "
        "state 'Failed' and will attempt to run again...",
        "INFO | Flow run 'RUN' - Running hook 'f2_running' in response to entering state 'Running'",
        "INFO | Flow run 'RUN' - Hook 'f2_running' finished running successfully",
        "INFO | Flow run 'RUN' - Beginning flow run 'RUN' for flow 'f2'",
        "INFO | Flow run 'RUN' - Finished in state Completed()",
    ]


def test_subflow_on_running(capsys: pytest.CaptureFixture[str]) -> None:
    @flow(on_running=[named_hook])
    def child() -> int:
        return 1

    @flow
    def parent() -> int:
        return child()

    assert parent() == 1
    assert seen[0][1] is child
    assert _named(log_lines(capsys.readouterr().err)) == [
        "INFO | Flow run 'RUN' - Beginning flow run 'RUN' for flow 'parent'",
        "INFO | flowless.engine - Running hook 'named_hook' in response to entering state "
        "'Running'",
        "INFO | flowless.engine - Hook 'named_hook' finished running successfully",
        "INFO | Flow run 'RUN' - Beginning subflow run 'RUN' for flow 'child'",
        "INFO | Flow run 'RUN' - Finished in state Completed()",
        "INFO | Flow run 'RUN' - Finished in state Completed()",
    ]


def test_failing_hook_is_logged_and_the_run_goes_on(capsys: pytest.CaptureFixture[str]) -> None:
    @flow(on_running=[failing_hook])
    def f4() -> int:
        return 4

    assert f4() == 4
    err = capsys.readouterr().err
    assert "RuntimeError: hook broke" in err
    assert _named(log_lines(err)) == [
        "INFO | flowless.engine - Running hook 'failing_hook' in response to entering state "
        "'Running'",
        "ERROR | flowless.engine - An error was encountered while running hook 'failing_hook'",
        "INFO | Flow run 'RUN' - Beginning flow run 'RUN' for flow 'f4'",
        "INFO | Flow run 'RUN' - Finished in state Completed()",
    ]


def test_bad_parameters_run_on_failure_not_on_running(
    capsys: pytest.CaptureFixture[str],
) -> None:
    @flow(on_running=[named_hook])
    def f3(x: int) -> int:
        return x

    @f3.on_failure
    def f3_failed(f: Any, r: Any, s: State[Any]) -> None:
        seen.append(("failure", s.name))

    state = f3(x="bad", return_state=True)  # type: ignore[arg-type]
    assert state.name == "Failed" and isinstance(state.data, ParameterTypeError)
    assert seen == [("failure", "Failed")]
    assert log_lines(capsys.readouterr().err) == [
        "ERROR | flowless.engine - Validation of flow parameters failed with error: Flow run "
        "received invalid parameters:",
        "INFO | flowless.engine - Running hook 'f3_failed' in response to entering state 'Failed'",
        "INFO | flowless.engine - Hook 'f3_failed' finished running successfully",
        "INFO | flowless.engine - Finished in state Failed('Validation of flow parameters "
        "failed with error: ParameterTypeError: Flow run received invalid parameters:\\n - x: "
        "Input should be a valid integer, unable to parse string as an integer')",
    ]


def test_task_hook_names_partial_lambda_callable(capsys: pytest.CaptureFixture[str]) -> None:
    @task(
        on_completion=[
            functools.partial(hook_with_arg, "t"),
            lambda t, r, s: seen.append(("lambda", s.name)),
            CallableHook(),
        ]
    )
    def t1(x: int) -> int:
        return x

    @t1.on_completion
    def t1_done(t: Any, r: Any, s: State[Any]) -> None:
        seen.append(("t1 done hook", s.name))

    @flow
    def f() -> int:
        return t1(1)

    assert f() == 1
    assert seen == [
        ("partial", "t", "Completed"),
        ("lambda", "Completed"),
        ("callable object", "Completed"),
        ("t1 done hook", "Completed"),
    ]
    lines = [line for line in _named(log_lines(capsys.readouterr().err)) if "Task run" in line]
    assert lines == [
        "INFO | Task run 't1-xyz' - Running hook 'hook_with_arg' in response to entering "
        "state 'Completed'",
        "INFO | Task run 't1-xyz' - Hook 'hook_with_arg' finished running successfully",
        "INFO | Task run 't1-xyz' - Running hook '<lambda>' in response to entering state "
        "'Completed'",
        "INFO | Task run 't1-xyz' - Hook '<lambda>' finished running successfully",
        "INFO | Task run 't1-xyz' - Running hook 'CallableHook' in response to entering state "
        "'Completed'",
        "INFO | Task run 't1-xyz' - Hook 'CallableHook' finished running successfully",
        "INFO | Task run 't1-xyz' - Running hook 't1_done' in response to entering state "
        "'Completed'",
        "INFO | Task run 't1-xyz' - Hook 't1_done' finished running successfully",
        "INFO | Task run 't1-xyz' - Finished in state Completed()",
    ]


def test_task_on_failure_decorator(capsys: pytest.CaptureFixture[str]) -> None:
    @task
    def t_fail() -> None:
        raise ValueError("no")

    @t_fail.on_failure
    def t_failed(t: Any, r: Any, s: State[Any]) -> None:
        seen.append(("task failed hook", t is t_fail, s.name))

    @flow
    def f() -> str:
        t_fail(return_state=True)
        return "done"

    assert f() == "done"
    assert seen == [("task failed hook", True, "Failed")]
    lines = [line for line in _named(log_lines(capsys.readouterr().err)) if "Task run" in line]
    assert lines == [
        "ERROR | Task run 't_fail-xyz' - Task run failed with exception: ValueError('no')",
        "INFO | Task run 't_fail-xyz' - Running hook 't_failed' in response to entering "
        "state 'Failed'",
        "INFO | Task run 't_fail-xyz' - Hook 't_failed' finished running successfully",
        "ERROR | Task run 't_fail-xyz' - Finished in state Failed('Task run encountered an "
        "exception ValueError: no')",
    ]


class Boom(BaseException):
    pass


def test_flow_on_crashed_decorator() -> None:
    @flow
    def fk() -> None:
        raise Boom("bang")

    @fk.on_crashed
    def fk_crashed(f: Any, r: Any, s: State[Any]) -> None:
        seen.append(("crashed hook", s.name, s.type))

    with pytest.raises(Boom):
        fk()
    assert seen == [("crashed hook", "Crashed", StateType.CRASHED)]


def test_returned_cancelled_state_runs_no_hooks() -> None:
    @flow
    def fc() -> State[Any]:
        return Cancelled(message="stop")

    @fc.on_cancellation
    def fc_cancel(f: Any, r: Any, s: State[Any]) -> None:
        seen.append("cancel hook")

    @fc.on_completion
    def fc_done(f: Any, r: Any, s: State[Any]) -> None:
        seen.append("completion hook")

    assert str(fc(return_state=True)) == "Cancelled('stop')"
    assert seen == []  # Prefect runs on_cancellation hooks only for a run being cancelled
    assert fc.on_cancellation_hooks == [fc_cancel]


def test_decorator_hooks_survive_with_options() -> None:
    @flow
    def f() -> int:
        return 1

    @f.on_running
    def running(fl: Any, r: Any, s: State[Any]) -> None:
        seen.append(("running", fl.name))

    @f.on_completion
    def done(fl: Any, r: Any, s: State[Any]) -> None:
        seen.append(("done", fl.name))

    renamed = f.with_options(name="renamed")
    assert renamed.on_running_hooks == [running] and renamed.on_completion_hooks == [done]
    assert renamed() == 1
    assert seen == [("running", "renamed"), ("done", "renamed")]
    assert f.with_options(on_running=[named_hook]).on_running_hooks == [named_hook]

    @task
    def t() -> int:
        return 1

    t.on_failure(failing_hook)
    assert t.with_options(retries=2).on_failure_hooks == [failing_hook]


def test_task_on_running_runs_as_each_attempt_starts(capsys: pytest.CaptureFixture[str]) -> None:
    """Prefect 3.5+ (3.4.25 has no task ``on_running``). Real Prefect 3.9.1 printed, for
    this program (with ``prefect`` for ``flowless``)::

        Task run 'flaky-d2d' - Running hook 'announce' in response to entering state 'Running'
        Task run 'flaky-d2d' - Hook 'announce' finished running successfully
        Task run 'flaky-d2d' - Task run failed with exception: ValueError('boom') - Retry 1/2 ...
        Task run 'flaky-d2d' - Running hook 'announce' in response to entering state 'Retrying'
        ...
        Task run 'plain-346' - Running hook 'hook2' in response to entering state 'Running'
    """
    calls = {"n": 0}

    @task(retries=2, on_running=[named_hook])
    def flaky() -> int:
        calls["n"] += 1
        if calls["n"] < 3:
            raise ValueError("boom")
        return calls["n"]

    @task
    def plain() -> int:
        return 1

    @plain.on_running
    def hook2(obj: Any, run: Any, state: State[Any]) -> None:
        seen.append(("hook2", state.name))

    @flow
    def f() -> tuple[int, int]:
        return flaky(), plain()

    assert f() == (3, 1)
    assert [(e[0], e[-1].name) for e in seen[:3]] == [
        ("named_hook", "Running"),
        ("named_hook", "Retrying"),
        ("named_hook", "Retrying"),
    ]
    assert seen[0][1] is flaky and seen[0][2].task_name == "flaky"
    assert seen[3] == ("hook2", "Running")
    lines = [line.split(" - ", 1)[1] for line in log_lines(capsys.readouterr().err)]
    assert lines[1:5] == [
        "Running hook 'named_hook' in response to entering state 'Running'",
        "Hook 'named_hook' finished running successfully",
        "Task run failed with exception: ValueError('boom') - Retry 1/2 will start immediately",
        "Running hook 'named_hook' in response to entering state 'Retrying'",
    ]
    assert plain.with_options(retries=1).on_running_hooks == [hook2]


def test_unknown_hook_options_are_refused() -> None:
    with pytest.raises(
        TypeError, match=r"^flow\(\) got an unexpected keyword argument 'on_commit'$"
    ):
        flow(on_commit=[named_hook])

    @task
    def t() -> None:
        pass

    assert not hasattr(t, "on_crashed")


def test_hook_options_are_checked_as_prefect_checks_them() -> None:
    with pytest.raises(TypeError) as info:
        flow(on_running=named_hook)(lambda: 1)  # type: ignore[arg-type]
    assert str(info.value) == (
        "Expected iterable for 'on_running'; got function instead. Please provide a list of "
        "hooks to 'on_running':\n\n@flow(on_running=[hook1, hook2])\ndef my_flow():\n\tpass"
    )
    with pytest.raises(TypeError) as info:
        flow(on_completion=[1])(lambda: 1)  # type: ignore[list-item]
    assert str(info.value) == (
        "Expected callables in 'on_completion'; got int instead. Please provide a list of "
        "hooks to 'on_completion':\n\n@flow(on_completion=[hook1, hook2])\ndef my_flow():"
        "\n\tpass"
    )
    with pytest.raises(TypeError) as info:
        task(on_failure=[None])(lambda: 1)  # type: ignore[list-item]
    assert str(info.value) == (
        "Expected callables in 'on_failure'; got NoneType instead. Please provide a list of "
        "hooks to 'on_failure':\n\n@task(on_failure=[hook1, hook2])\ndef my_task():\n\tpass"
    )
