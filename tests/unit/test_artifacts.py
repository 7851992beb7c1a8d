"""``flowless.artifacts`` on the embedded store, and ``flowless artifact``: Prefect's
formatting, the run ids an artifact is kept with, and the CLI's listing."""

from __future__ import annotations

import asyncio
import json
import math
import warnings
from uuid import UUID

import pytest

from flowless import flow, task
from flowless.artifacts import (
    acreate_markdown_artifact,
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from flowless.cli import main as cli
from flowless.context import TaskRunContext, current_flow_run
from flowless.store import Store
from tests.conftest import log_lines


@task
def task_with_artifact() -> tuple[str, str]:
    ctx = TaskRunContext.get()
    assert ctx is not None
    artifact_id = create_markdown_artifact("# from a task", key="task-report")
    return str(artifact_id), ctx.task_run.id


@flow
def flow_with_artifacts() -> tuple[str, str, str, str]:
    ctx = current_flow_run()
    assert ctx is not None
    flow_artifact = create_markdown_artifact("# from the flow", key="flow-report", description="d")
    task_artifact, task_run_id = task_with_artifact()
    return str(flow_artifact), task_artifact, ctx.flow_run.id, task_run_id


def test_artifacts_are_kept_with_their_flow_run_and_task_run(store: Store) -> None:
    flow_artifact, task_artifact, flow_run_id, task_run_id = flow_with_artifacts()
    made = store.read_artifact(flow_artifact)
    assert (made.type, made.key, made.description, made.data) == (
        "markdown",
        "flow-report",
        "d",
        "# from the flow",
    )
    assert (made.flow_run_id, made.task_run_id) == (flow_run_id, None)
    in_task = store.read_artifact(task_artifact)
    assert (in_task.flow_run_id, in_task.task_run_id) == (flow_run_id, task_run_id)
    listed = store.list_artifacts(flow_run_id=flow_run_id)
    assert [a.id for a in listed] == [task_artifact, flow_artifact]


@flow
def formatted() -> list[UUID]:
    return [
        create_link_artifact("https://example.com/a", "the report", key="with-text"),
        create_link_artifact("https://example.com/b"),
        create_table_artifact({"x": [1.0, math.nan], "y": [{"z": math.nan}, "s"]}),
        create_table_artifact([[1, math.nan]]),
    ]


def test_links_and_tables_are_stored_as_prefect_formats_them(store: Store) -> None:
    ids = formatted()
    assert all(isinstance(i, UUID) for i in ids)
    link, bare, table, rows = (store.read_artifact(str(i)) for i in ids)
    assert (link.type, link.data) == ("markdown", "[the report](https://example.com/a)")
    assert (bare.type, bare.data) == ("markdown", "[https://example.com/b](https://example.com/b)")
    assert table.type == "table"
    assert json.loads(table.data) == {"x": [1.0, None], "y": [{"z": None}, "s"]}
    assert rows.data == "[[1, null]]"


@flow
def progressing() -> UUID:
    artifact_id = create_progress_artifact(150, key="progress", description="start")
    assert update_progress_artifact(artifact_id, 40.0) == artifact_id
    return artifact_id


def test_progress_is_clamped_with_prefects_warnings_and_updated(
    store: Store, capfd: pytest.CaptureFixture[str]
) -> None:
    artifact_id = progressing()
    err = capfd.readouterr().err
    assert (
        "WARNING | flowless.artifacts - ProgressArtifact received an invalid value, Progress: 150%"
        in log_lines(err)
    )
    assert "WARNING | flowless.artifacts - Interpreting as 100.0% progress" in log_lines(err)
    stored = store.read_artifact(str(artifact_id))
    assert (stored.type, stored.data, stored.description) == ("progress", 40.0, "start")
    update_progress_artifact(artifact_id, -5, description="again")
    stored = store.read_artifact(str(artifact_id))
    assert (stored.data, stored.description) == (0.0, "again")
    assert "WARNING | flowless.artifacts - Interpreting as 0.0% progress" in log_lines(
        capfd.readouterr().err
    )


@flow
def bad_key() -> None:
    create_markdown_artifact("x", key="Not_OK")


def test_a_bad_key_is_refused_before_anything_is_stored(store: Store) -> None:
    message = "Artifact key must only contain lowercase letters, numbers, and dashes."
    with pytest.raises(ValueError) as raised:
        bad_key()
    assert str(raised.value) == message
    assert store.list_artifacts() == []


def test_outside_a_run_it_warns_and_keeps_it_without_run_ids(store: Store) -> None:
    with pytest.warns(FutureWarning, match="Artifact creation outside of a flow or task run"):
        artifact_id = create_markdown_artifact("# alone", key="alone")
    stored = store.read_artifact(str(artifact_id))
    assert (stored.key, stored.flow_run_id, stored.task_run_id) == ("alone", None, None)


@flow
async def async_flow() -> UUID:
    # As in Prefect, the sync name returns a coroutine in an async flow.
    return await create_markdown_artifact("# async", key="async-report")  # type: ignore[no-any-return]


def test_async_flows_await_the_calls_and_the_a_names_are_coroutines(store: Store) -> None:
    artifact_id = asyncio.run(async_flow())
    assert store.read_artifact(str(artifact_id)).data == "# async"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        other = asyncio.run(acreate_markdown_artifact("# a", key="a-name"))
    assert store.read_artifact(str(other)).key == "a-name"


@flow
def versions() -> None:
    create_markdown_artifact("v1", key="report", description="first")
    create_markdown_artifact("other", key="other")
    create_markdown_artifact("v2", key="report", description="second")
    create_markdown_artifact("no key")


def test_cli_lists_each_keys_newest_and_inspects_every_version(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    versions()
    newest = store.list_artifacts(key="report")
    assert cli(["artifact", "ls"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ID", "KEY", "TYPE", "UPDATED", "DESCRIPTION"]
    assert [line.split()[1] for line in lines[1:]] == ["report", "other"]
    assert lines[1].startswith(newest[0].id) and lines[1].endswith("second")
    assert cli(["artifact", "inspect", "report"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [v["data"] for v in shown] == ["v2", "v1"]
    assert [v["id"] for v in shown] == [a.id for a in newest]
    assert set(shown[0]) == {
        "id",
        "key",
        "type",
        "description",
        "data",
        "flow_run_id",
        "task_run_id",
        "created",
        "updated",
    }
    assert shown[0]["flow_run_id"] == newest[0].flow_run_id is not None


def test_cli_unknown_key_and_empty_store(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["artifact", "inspect", "x"]) == 1
    assert capsys.readouterr().err == "Error: No artifact with key 'x'.\n"
    assert cli(["artifact", "ls"]) == 0
    assert capsys.readouterr().out == "No artifacts found.\n"
