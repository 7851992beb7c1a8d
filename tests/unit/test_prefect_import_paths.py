"""Prefect's public import paths for flows, tasks, futures, states, caching, concurrency,
logging, hooks, runtime, testing and artifacts: each ``from prefect.X import Y`` works as
``from flowless.X import Y``; and the behaviour of the logging names added for it.

Where the list comes from (Prefect 3.4.25, tag ``3.4.25`` of PrefectHQ/prefect):

- every ``from prefect... import ...`` line for these areas in the guides and concepts,
  ``docs/v3/**/*.mdx`` (``get_run_logger``, ``disable_run_logger``, ``tags``, ``wait``,
  ``INPUTS``, ``TaskRun``/``FlowRun``/``StateType`` for hooks, ``prefect_test_harness``...);
- the names the API reference documents for these modules,
  ``docs/v3/api-ref/python/prefect-<module>.mdx``, where flowless has the feature.

Every name was checked to import from real Prefect 3.4.25. (Later Prefect docs also import
``prefect.utilities.annotations.opaque``, which 3.4.25 does not have.)

Left out on purpose (no server, or not built yet; see docs/prefect-compatibility.md):
``prefect.{get_client, serve, aserve, deploy, pause_flow_run, resume_flow_run,
suspend_flow_run, Transaction}``, ``prefect.transactions``, ``prefect.context``'s settings
and client contexts (``SettingsContext``, ``use_profile``, ``EngineContext``,
``serialize_context``...), ``prefect.logging.loggers.get_worker_logger``,
``prefect.task_runners.{TaskRunner, ProcessPoolTaskRunner, PrefectTaskRunner}``, the
server-model futures (``PrefectTaskRunFuture``, ``PrefectFlowRunFuture``,
``PrefectDistributedFuture``, ``PrefectWrappedFuture``), ``prefect.states.{Suspended,
AwaitingConcurrencySlot, StateGroup, get_state_result, exception_to_failed_state,
exception_to_crashed_state, return_value_to_state, format_exception,
aget_state_exception, araise_state_exception, to_state_create}``, the server and
signal exceptions (``ObjectNotFound``, ``PausedRun``, ``Abort``, ``Pause``...), and
``prefect.testing.utilities``' other helpers.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

import pytest

from flowless import flow, task
from flowless.exceptions import MissingContextError
from tests.conftest import log_lines

#: ``prefect.<module>`` -> the names imported from it. ``""`` is ``prefect`` itself.
PREFECT_NAMES: dict[str, list[str]] = {
    "": [
        "Flow",
        "State",
        "Task",
        "allow_failure",
        "flow",
        "get_run_logger",
        "runtime",
        "tags",
        "task",
        "unmapped",
    ],
    "flows": ["Flow", "flow"],
    "artifacts": [
        "acreate_image_artifact",
        "acreate_link_artifact",
        "acreate_markdown_artifact",
        "acreate_progress_artifact",
        "acreate_table_artifact",
        "aupdate_progress_artifact",
        "create_image_artifact",
        "create_link_artifact",
        "create_markdown_artifact",
        "create_progress_artifact",
        "create_table_artifact",
        "update_progress_artifact",
    ],
    "tasks": ["Task", "exponential_backoff", "task", "task_input_hash"],
    "states": [
        "AwaitingRetry",
        "Cancelled",
        "Cancelling",
        "Completed",
        "Crashed",
        "Failed",
        "Late",
        "Paused",
        "Pending",
        "Retrying",
        "Running",
        "Scheduled",
        "State",
        "StateType",
        "get_state_exception",
        "is_state_iterable",
        "raise_state_exception",
    ],
    "futures": [
        "DoneAndNotDoneFutures",
        "PrefectConcurrentFuture",
        "PrefectFuture",
        "PrefectFutureList",
        "as_completed",
        "resolve_futures_to_results",
        "resolve_futures_to_states",
        "wait",
    ],
    "cache_policies": [
        "DEFAULT",
        "FLOW_PARAMETERS",
        "INPUTS",
        "NONE",
        "NO_CACHE",
        "RUN_ID",
        "TASK_SOURCE",
        "CacheKeyFnPolicy",
        "CachePolicy",
        "CompoundCachePolicy",
        "FlowParameters",
        "Inputs",
        "RunId",
        "TaskSource",
    ],
    "context": [
        "FlowRunContext",
        "RunContext",
        "TagsContext",
        "TaskRunContext",
        "get_run_context",
        "tags",
    ],
    "exceptions": [
        "CancelledRun",
        "ConfigurationError",
        "CrashedRun",
        "FailedRun",
        "MappingLengthMismatch",
        "MappingMissingIterable",
        "MissingContextError",
        "MissingResult",
        "ParameterBindError",
        "ParameterTypeError",
        "PrefectException",
        "UnfinishedRun",
        "UpstreamTaskError",
    ],
    "task_runners": ["ConcurrentTaskRunner", "ThreadPoolTaskRunner"],
    "concurrency.sync": ["concurrency", "rate_limit"],
    "concurrency.asyncio": ["concurrency", "rate_limit"],
    "logging": ["LogEavesdropper", "disable_run_logger", "get_logger", "get_run_logger"],
    "logging.loggers": [
        "LogEavesdropper",
        "PrefectLogAdapter",
        "disable_logger",
        "disable_run_logger",
        "flow_run_logger",
        "get_logger",
        "get_run_logger",
        "patch_print",
        "print_as_log",
        "task_run_logger",
    ],
    "runtime": ["deployment", "flow_run", "task_run"],
    "runtime.deployment": ["flow_run_id", "id", "name", "parameters", "version"],
    "runtime.flow_run": [
        "api_url",
        "flow_name",
        "flow_version",
        "id",
        "job_variables",
        "name",
        "parameters",
        "parent_deployment_id",
        "parent_flow_run_id",
        "root_flow_run_id",
        "run_count",
        "scheduled_start_time",
        "tags",
        "ui_url",
    ],
    "runtime.task_run": [
        "api_url",
        "id",
        "name",
        "parameters",
        "run_count",
        "tags",
        "task_name",
        "ui_url",
    ],
    "testing.utilities": ["prefect_test_harness"],
    "client.schemas": ["FlowRun", "State", "StateDetails", "StateType", "TaskRun"],
    "client.schemas.objects": ["FlowRun", "State", "StateDetails", "StateType", "TaskRun"],
    "utilities.annotations": [
        "BaseAnnotation",
        "NotSet",
        "Quote",
        "allow_failure",
        "freeze",
        "quote",
        "unmapped",
    ],
}

PAIRS = [(module, name) for module, names in PREFECT_NAMES.items() for name in names]


def _importable(path: str, name: str) -> bool:
    """Whether ``from <path> import <name>`` works: an attribute (``runtime.flow_run.id``
    is one, ``None`` outside a run), or else a submodule."""
    module = importlib.import_module(path)
    if hasattr(module, name):
        return True
    try:
        importlib.import_module(f"{path}.{name}")
    except ModuleNotFoundError:
        return False
    return True


@pytest.mark.parametrize(("module", "name"), PAIRS, ids=[f"{m or 'prefect'}.{n}" for m, n in PAIRS])
def test_prefect_name_imports_from_the_same_flowless_path(module: str, name: str) -> None:
    path = f"flowless.{module}" if module else "flowless"
    assert _importable(path, name), f"from {path} import {name}"


# -- prefect.logging ------------------------------------------------------------------


@task
def my_favorite_task() -> int:
    from flowless.logging import get_run_logger

    get_run_logger().info("computing")
    return 42


def test_disable_run_logger_lets_a_task_function_log_in_a_unit_test() -> None:
    """Prefect's testing guide: ``with disable_run_logger(): my_favorite_task.fn()``."""
    from flowless.logging import disable_run_logger

    with pytest.raises(MissingContextError, match="There is no active flow or task run context"):
        my_favorite_task.fn()
    with disable_run_logger():
        assert my_favorite_task.fn() == 42
    with pytest.raises(MissingContextError):
        my_favorite_task.fn()


def test_disable_run_logger_silences_whole_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """As in Prefect, the two run loggers are disabled, the engine's lines go too; the
    run itself is the same."""
    from flowless.logging import disable_run_logger, get_run_logger

    @flow
    def quiet() -> int:
        get_run_logger().info("flow line")
        return my_favorite_task()

    with disable_run_logger():
        assert quiet() == 42
    assert log_lines(capsys.readouterr().err) == []
    assert quiet() == 42
    lines = log_lines(capsys.readouterr().err)
    assert any(line.endswith("- flow line") for line in lines)
    assert any("Task run 'my_favorite_task-" in line and "computing" in line for line in lines)


def test_disable_logger_restores_what_it_found() -> None:
    from flowless.logging.loggers import disable_logger, disable_run_logger

    runs = logging.getLogger("flowless.task_runs")
    with disable_logger("flowless.task_runs"):
        with disable_run_logger():
            assert runs.disabled
        assert runs.disabled, "it was disabled before the inner block"
    assert not runs.disabled


def test_get_logger_names_are_prefects_under_flowless() -> None:
    from flowless.logging import get_logger

    assert get_logger().name == "flowless"
    assert get_logger("x").name == "flowless.x"
    assert get_logger("flowless.y").name == "flowless.y"


def test_log_eavesdropper_collects_a_runs_lines() -> None:
    from flowless.logging import LogEavesdropper

    @flow(log_prints=True)
    def p() -> None:
        print("hello")

    with LogEavesdropper("flowless.flow_runs") as eavesdropper:
        p()
    lines = eavesdropper.text().splitlines()
    assert lines[1:] == ["[INFO]: hello", "[INFO]: Finished in state Completed()"]
    assert lines[0].startswith("[INFO]: Beginning flow run")


def test_printed_lines_are_logged_as_prefect_logs_them(capsys: pytest.CaptureFixture[str]) -> None:
    """Prefect 3.4.25's ``print_as_log``: ``sep``/``end`` applied, trailing whitespace
    dropped, and prints to stderr logged too."""

    @flow(log_prints=True)
    def p() -> None:
        print("a", "b", sep="-", end="!\n")
        print("x   ")
        print("to err", file=sys.stderr)

    p()
    captured = capsys.readouterr()
    assert captured.out == ""
    logged = [line.split(" - ", 1)[1] for line in log_lines(captured.err)]
    assert logged[1:4] == ["a-b!", "x", "to err"]


def test_flow_run_logger_and_task_run_logger_name_the_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from flowless.client.schemas.objects import FlowRun, TaskRun
    from flowless.logging.loggers import flow_run_logger, task_run_logger

    seen: list[str] = []

    def flow_hook(f: Any, flow_run: FlowRun, state: Any) -> None:
        flow_run_logger(flow_run, f).info("flow hook")
        seen.append(flow_run.name)

    def task_hook(t: Any, task_run: TaskRun, state: Any) -> None:
        task_run_logger(task_run, t).info("task hook")
        seen.append(task_run.name)

    @task(on_completion=[task_hook])
    def t() -> None:
        pass

    @flow(on_completion=[flow_hook])
    def f() -> None:
        t()

    f()
    lines = log_lines(capsys.readouterr().err)
    assert f"INFO | Flow run '{seen[1]}' - flow hook" in lines
    assert f"INFO | Task run '{seen[0]}' - task hook" in lines


# -- prefect.client.schemas.objects ---------------------------------------------------


def test_hooks_and_retry_conditions_receive_the_annotated_types() -> None:
    """Prefect's docs annotate hooks ``(task: Task, run: TaskRun, state: State)`` and
    ``(flow: Flow, run: FlowRun, state: State)``: what flowless passes is an instance."""
    from flowless import Flow, Task
    from flowless.client.schemas.objects import FlowRun, State, TaskRun

    seen: list[tuple[str, bool]] = []

    def my_task_state_hook(task: Task[..., Any], run: TaskRun, state: State[Any]) -> None:
        seen.append(("task hook", isinstance(run, TaskRun) and isinstance(state, State)))

    def my_flow_state_hook(flow: Flow[..., Any], run: FlowRun, state: State[Any]) -> None:
        seen.append(("flow hook", isinstance(run, FlowRun) and isinstance(state, State)))

    def retry_once(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
        seen.append(("retry condition", isinstance(task_run, TaskRun)))
        return task_run.run_count < 2

    @task(retries=3, retry_condition_fn=retry_once, on_failure=[my_task_state_hook])
    def flaky() -> None:
        raise ValueError("no")

    @flow(on_failure=[my_flow_state_hook])
    def f() -> None:
        flaky()

    with pytest.raises(ValueError):
        f()
    assert seen == [
        ("retry condition", True),
        ("retry condition", True),
        ("task hook", True),
        ("flow hook", True),
    ]
