"""Deployment runs on both stores: one run per slot however often it is delivered,
idempotency keys, pause, and bad input that touches nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from flowless import flow, task
from flowless.deployments import (
    DeploymentParameterError,
    IdempotencyKeyReusedError,
    UnknownDeploymentError,
)
from flowless.deployments._definition import definition_from_flow
from flowless.deployments._service import DeploymentService
from flowless.results import LocalFileStorage, Results, local_signer
from flowless.schedules import Cron, Interval
from flowless.states import StateType
from flowless.store import DynamoDBStore, SQLiteStore, Store
from tests.aws import dynamodb_table


@task
def double(x: int) -> int:
    return 2 * x


@flow
def etl(x: int, label: str = "run") -> int:
    return double(x)


MORNING = Cron("0 9 * * *", timezone="America/New_York", slug="morning", parameters={"x": 1})
SLOT = datetime(2027, 3, 15, 13, 0, tzinfo=timezone.utc)  # 09:00 in New York (EDT)


def definition(**changes: Any) -> Any:
    options: dict[str, Any] = {
        "name": "daily",
        "parameters": {"label": "nightly"},
        "schedules": (MORNING,),
        "tags": ("etl",),
    }
    options.update(changes)
    return definition_from_flow(etl, **options)


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "sqlite":
        sqlite = SQLiteStore(tmp_path / "deployments.db")
        yield sqlite
        sqlite.close()
        return
    with dynamodb_table() as (client, table):
        yield DynamoDBStore(table, client=client)


def service(store: Any, tmp_path: Path, *definitions: Any) -> DeploymentService:
    results = Results(LocalFileStorage(tmp_path / "results"), 65536, local_signer(tmp_path))
    return DeploymentService(list(definitions) or [definition()], store, results, store)


def all_runs(store: Store) -> list[Any]:
    return store.list_flow_runs(limit=1000)


def test_a_slot_delivered_ten_times_at_once_makes_one_run(store: Any, tmp_path: Path) -> None:
    deployments = service(store, tmp_path)
    answers: list[tuple[Any, bool]] = []
    barrier = threading.Barrier(10)

    def deliver() -> None:
        barrier.wait()
        answers.append(deployments.fire_slot("etl/daily", "morning", SLOT))

    threads = [threading.Thread(target=deliver) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(created for _, created in answers) == 1
    assert len({record.id for record, _ in answers}) == 1
    [run] = all_runs(store)
    assert run.state_type is StateType.SCHEDULED
    assert run.deployment_name == "etl/daily" and run.schedule_slug == "morning"
    assert run.scheduled_start_time == SLOT.timestamp()
    assert run.tags == ["etl"]
    assert deployments.results.load(run.parameters) == {"label": "nightly", "x": 1}


def test_the_same_instant_in_another_zone_is_the_same_slot(store: Any, tmp_path: Path) -> None:
    from zoneinfo import ZoneInfo

    deployments = service(store, tmp_path)
    first, _ = deployments.fire_slot("etl/daily", "morning", SLOT)
    local = SLOT.astimezone(ZoneInfo("America/New_York"))
    again, created = deployments.fire_slot("etl/daily", "morning", local)
    assert not created and again.id == first.id


def test_a_redeploy_never_repeats_a_slot(store: Any, tmp_path: Path) -> None:
    before, _ = service(store, tmp_path).fire_slot("etl/daily", "morning", SLOT)
    # A new build: another code hash, another description; same deployment and slug.
    redeployed = service(store, tmp_path, definition(code_hash="v2", description="new"))
    after, created = redeployed.fire_slot("etl/daily", "morning", SLOT)
    assert not created and after.id == before.id
    assert len(all_runs(store)) == 1


def test_a_paused_deployment_records_the_slot_as_skipped(store: Any, tmp_path: Path) -> None:
    deployments = service(store, tmp_path)
    deployments.set_paused("etl/daily", True)
    skipped, created = deployments.fire_slot("etl/daily", "morning", SLOT)
    assert created and skipped.state_type is StateType.CANCELLED
    assert skipped.state_name == "Skipped"
    assert skipped.state_message == "Slot skipped: deployment 'etl/daily' is paused."
    # Resuming does not revive a skipped slot; the next slot is scheduled.
    deployments.set_paused("etl/daily", False)
    again, created = deployments.fire_slot("etl/daily", "morning", SLOT)
    assert not created and again.state_name == "Skipped"
    nxt, created = deployments.fire_slot("etl/daily", "morning", SLOT.replace(day=16))
    assert created and nxt.state_type is StateType.SCHEDULED


def test_pause_state_outlives_the_definition_default(store: Any, tmp_path: Path) -> None:
    paused_by_default = definition(paused=True)
    deployments = service(store, tmp_path, paused_by_default)
    assert deployments.is_paused(paused_by_default)
    deployments.set_paused("etl/daily", False)
    assert not service(store, tmp_path, paused_by_default).is_paused(paused_by_default)


def test_an_idempotency_key_returns_the_same_run(store: Any, tmp_path: Path) -> None:
    deployments = service(store, tmp_path)
    first, created = deployments.create_run("etl/daily", {"x": 3}, idempotency_key="k-1")
    again, created_again = deployments.create_run("etl/daily", {"x": 3}, idempotency_key="k-1")
    assert created and not created_again and again.id == first.id and again.name == first.name
    with pytest.raises(IdempotencyKeyReusedError) as raised:
        deployments.create_run("etl/daily", {"x": 4}, idempotency_key="k-1")
    assert str(raised.value).startswith(
        f"Idempotency key 'k-1' of deployment 'etl/daily' already started flow run "
        f"{first.name!r} ({first.id}) with parameters {{'label': 'nightly', 'x': 3}}; "
        "these differ ({'label': 'nightly', 'x': 4})."
    )
    [run] = all_runs(store)
    assert deployments.results.load(run.parameters) == {"label": "nightly", "x": 3}


@pytest.mark.parametrize(
    ("name", "parameters", "error", "message"),
    [
        (
            "etl/nope",
            {"x": 1},
            UnknownDeploymentError,
            "Deployment 'etl/nope' not found (deployments: etl/daily).",
        ),
        (
            "daily",
            {"x": 1},
            UnknownDeploymentError,
            "Deployment 'daily' not found (deployments: etl/daily). Did you mean 'etl/daily'? "
            "Names are 'flow-name/deployment-name'.",
        ),
        (
            "etl/daily",
            {"x": 1, "y": 2},
            DeploymentParameterError,
            "Deployment 'etl/daily': flow 'etl' has no parameter(s) 'y'; its parameters are "
            "'x', 'label'.",
        ),
        (
            "etl/daily",
            {},
            DeploymentParameterError,
            "Deployment 'etl/daily': missing required parameter(s) 'x' of flow 'etl'; pass "
            "them with parameters={...} (or -p name=value on the command line).",
        ),
    ],
)
def test_bad_runs_are_refused_and_write_nothing(
    store: Any, tmp_path: Path, name: str, parameters: dict[str, Any], error: type, message: str
) -> None:
    deployments = service(store, tmp_path)
    kept, _ = deployments.fire_slot("etl/daily", "morning", SLOT)
    with pytest.raises(error) as raised:
        deployments.create_run(name, parameters)
    assert str(raised.value) == message
    assert [r.id for r in all_runs(store)] == [kept.id]


def test_an_unknown_schedule_slug_is_refused(store: Any, tmp_path: Path) -> None:
    with pytest.raises(UnknownDeploymentError, match="has no schedule 'evening'"):
        service(store, tmp_path).fire_slot("etl/daily", "evening", SLOT)
    assert all_runs(store) == []


def test_definitions_check_parameters_against_the_signature() -> None:
    with pytest.raises(DeploymentParameterError) as raised:
        definition(parameters={"x": "many"})
    assert "parameters do not match flow 'etl''s signature" in str(raised.value)
    assert "x: Input should be a valid integer" in str(raised.value)
    with pytest.raises(DeploymentParameterError, match="missing required parameter"):
        definition(parameters={}, schedules=(Interval(3600, slug="hourly"),))
