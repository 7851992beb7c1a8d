"""``find_flow_run``: what a person types for a run, on both stores, and ``resume_flow_run``
taking the same."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flowless import flow
from flowless.engine import resume_flow_run
from flowless.exceptions import RecordNotFoundError
from flowless.states import StateType
from flowless.store import (
    AmbiguousFlowRunError,
    DynamoDBStore,
    FlowRunRecord,
    SQLiteStore,
    Store,
    find_flow_run,
)
from tests.aws import dynamodb_table


@pytest.fixture(params=["sqlite", "dynamodb"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        store: Store = SQLiteStore(tmp_path / "find.db")
        yield store
        store.close()
        return
    with dynamodb_table() as (client, table):
        yield DynamoDBStore(table, client=client)


def _run(id: str, created: float, name: str) -> FlowRunRecord:
    return FlowRunRecord(
        id=id,
        name=name,
        flow_name="f",
        state_type=StateType.COMPLETED,
        state_name="Completed",
        created=created,
    )


def test_full_id_prefix_and_name(backend: Store) -> None:
    backend.create_flow_run(_run("1234abcd-0000", 1.0, "brave-fox"))
    backend.create_flow_run(_run("1234ef00-0000", 2.0, "brave-fox"))
    backend.create_flow_run(_run("9999aaaa-0000", 3.0, "calm-owl"))
    assert find_flow_run(backend, "1234abcd-0000").id == "1234abcd-0000"
    assert find_flow_run(backend, "1234a").id == "1234abcd-0000"
    assert find_flow_run(backend, "calm-owl").id == "9999aaaa-0000"
    assert find_flow_run(backend, "brave-fox").id == "1234ef00-0000"  # the newest
    with pytest.raises(AmbiguousFlowRunError, match=r"'1234' is the start of 2 flow run ids"):
        find_flow_run(backend, "1234")
    with pytest.raises(RecordNotFoundError, match="No flow run with id, id prefix or name 'zz'"):
        find_flow_run(backend, "zz")
    with pytest.raises(ValueError, match="empty string"):
        find_flow_run(backend, " ")


@flow(flow_run_name="resumable")
def fails_once(marker: str) -> str:
    path = Path(marker)
    if not path.exists():
        path.write_text("x")
        raise RuntimeError("first run fails")
    return "done"


def test_resume_takes_a_prefix_and_a_name(tmp_path: Path) -> None:
    state = fails_once(str(tmp_path / "marker"), return_state=True)
    assert state.is_failed()
    run_id = state.state_details.flow_run_id
    assert run_id is not None
    assert resume_flow_run(fails_once, run_id[:8]) == "done"
    assert resume_flow_run(fails_once, "resumable") == "done"  # completed: its result
