"""A task run's ``inputs``: what it was called with, as bounded reprs (for the run UI).

Made once per task run on the thread running it, once its futures are resolved; kept by
both stores; an SQLite database made before the column existed opens and reads."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from flowless import flow, task
from flowless.engine._inputs import MAX_CHARS, MAX_TOTAL, task_inputs
from flowless.invoke import TaskCall, WireError
from flowless.invoke._wire import read_task_event, task_event
from flowless.states import StateType
from flowless.store import CorruptRecord, Payload, SQLiteStore, Store, TaskRunRecord
from flowless.store._dynamodb_items import task_run_from_item, task_run_item


class Unrepresentable:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


class Counted:
    reprs = 0

    def __repr__(self) -> str:
        Counted.reprs += 1
        return "Counted()"


@task
def produce() -> list[int]:
    return [1, 2, 3]


@task
def take(value: Any, other: Any = None) -> int:
    return 1


@task(retries=2, retry_delay_seconds=0)
def flaky(value: Any) -> int:
    flaky.attempts += 1  # type: ignore[attr-defined]
    if flaky.attempts < 3:  # type: ignore[attr-defined]
        raise ValueError("not yet")
    return 1


@task
def fails() -> int:
    raise ValueError("upstream failed")


def _runs(store: Store, flow_run_id: str | None) -> list[TaskRunRecord]:
    assert flow_run_id is not None
    runs = store.read_task_runs(flow_run_id)
    assert all(isinstance(r, TaskRunRecord) for r in runs)
    return [r for r in runs if isinstance(r, TaskRunRecord)]


def test_a_flow_records_what_each_task_was_called_with(store: Store) -> None:
    @flow
    def calls() -> None:
        take(7)
        take("x" * 1000, other=None)
        take(list(range(10_000)))
        take(Unrepresentable())
        take(take.submit(produce.submit()))  # futures: the resolved values
        take(produce(), other={"k": [1, {"deep": [[["too deep"]]]}]})

    state = calls(return_state=True)
    assert state.is_completed()
    runs = [r for r in _runs(store, state.state_details.flow_run_id) if r.task_name == "take"]
    assert all(r.state_type is StateType.COMPLETED for r in runs)
    by_key = sorted(runs, key=lambda r: r.dynamic_key)
    assert by_key[0].inputs == {"value": "7", "other": "None"}  # defaults too
    long = by_key[1].inputs
    assert long is not None and len(long["value"]) == MAX_CHARS
    assert long["value"] == "'" + "x" * (MAX_CHARS - 4) + "..."
    assert by_key[2].inputs == {"value": "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, ...]", "other": "None"}
    assert by_key[3].inputs == {"value": "<unrepresentable Unrepresentable>", "other": "None"}
    assert by_key[4].inputs == {"value": "[1, 2, 3]", "other": "None"}  # produce's result
    assert by_key[5].inputs == {"value": "1", "other": "None"}  # the submitted take's
    assert by_key[6].inputs == {"value": "[1, 2, 3]", "other": "{'k': [1, {'deep': [...]}]}"}


def test_inputs_are_made_once_per_run_not_per_attempt(store: Store) -> None:
    flaky.attempts = 0  # type: ignore[attr-defined]
    Counted.reprs = 0

    @flow
    def retried() -> None:
        flaky(Counted())

    state = retried(return_state=True)
    [run] = _runs(store, state.state_details.flow_run_id)
    assert run.run_count == 3 and run.state_type is StateType.COMPLETED
    assert run.inputs == {"value": "Counted()"}
    assert Counted.reprs == 1


def test_a_subflow_entry_records_its_parameters(store: Store) -> None:
    @flow
    def child(n: int, label: str = "a") -> int:
        return n

    @flow
    def parent() -> None:
        child(3)

    state = parent(return_state=True)
    [entry] = _runs(store, state.state_details.flow_run_id)
    assert entry.child_flow_run_id is not None
    assert entry.inputs == {"n": "3", "label": "'a'"}


def test_a_run_whose_upstream_failed_has_no_inputs(store: Store) -> None:
    @flow
    def blocked() -> None:
        upstream = fails.submit()
        take.submit(upstream).wait()

    state = blocked(return_state=True)
    runs = {r.task_name: r for r in _runs(store, state.state_details.flow_run_id)}
    assert runs["take"].state_name == "NotReady" and runs["take"].inputs is None
    assert runs["fails"].inputs == {}


def test_the_bounds() -> None:
    class Huge:
        def __repr__(self) -> str:
            return "h" * 10_000

    inputs = task_inputs(
        {
            "big_int": 10**5000,  # past Python's digit limit: its repr raises
            "bytes": b"\x00" * 1000,
            "huge": Huge(),
            "surrogate": "\udc80",  # repr escapes it
            "nested": [Unrepresentable()],
        }
    )
    assert inputs["big_int"] == "<unrepresentable int>"
    assert len(inputs["bytes"]) == MAX_CHARS and inputs["bytes"].endswith("...")
    assert inputs["huge"] == "h" * (MAX_CHARS - 3) + "..."
    assert inputs["surrogate"] == "'\\udc80'"
    assert inputs["nested"] == "[<unrepresentable Unrepresentable>]"

    many = task_inputs({f"p{i}": "z" * 1000 for i in range(30)})
    assert sum(len(k) + len(v) for k, v in many.items() if k != "...") <= MAX_TOTAL
    assert many["..."] == f"{30 - (len(many) - 1)} more argument(s) not shown"
    assert all(len(v) <= MAX_CHARS for v in many.values())


# -- stores --------------------------------------------------------------------------------


def _record(**changes: Any) -> TaskRunRecord:
    record = TaskRunRecord(
        id="tr-1",
        flow_run_id="fr-1",
        task_key="pkg.t",
        dynamic_key=0,
        name="t-abc",
        task_name="t",
        state_type=StateType.COMPLETED,
        state_name="Completed",
        run_count=1,
        start_time=1000.0,
        result=Payload("json", b"1"),
    )
    for key, value in changes.items():
        setattr(record, key, value)
    return record


def _old_database(path: Path) -> None:
    """A store as an earlier flowless left it: ``task_runs`` without ``inputs``."""
    store = SQLiteStore(path)
    store.finish_task_run(_record(inputs={"a": "1"}))
    store.close()
    conn = sqlite3.connect(path)
    conn.execute("ALTER TABLE task_runs DROP COLUMN inputs")
    conn.commit()
    conn.close()


def test_an_old_sqlite_store_opens_reads_and_takes_inputs(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _old_database(path)
    reader = SQLiteStore.open_read_only(path)  # never migrated: reads NULL for it
    try:
        assert reader.read_task_runs("fr-1") == [_record()]
    finally:
        reader.close()
    store = SQLiteStore(path)  # opened for writing: the column is added
    try:
        assert store.read_task_runs("fr-1") == [_record()]
        store.finish_task_run(_record(id="tr-2", dynamic_key=1, inputs={"b": "'x'"}))
        runs = store.read_task_runs("fr-1")
        assert [r.inputs for r in runs if isinstance(r, TaskRunRecord)] == [None, {"b": "'x'"}]
    finally:
        store.close()


@pytest.mark.parametrize("stored", ["not json", "[1, 2]", '{"a": 1}', "7"])
def test_malformed_sqlite_inputs_make_a_corrupt_record(tmp_path: Path, stored: str) -> None:
    path = tmp_path / "bad.db"
    store = SQLiteStore(path)
    store.finish_task_run(_record(inputs={"a": "1"}))
    store.flush()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE task_runs SET inputs = ?", (stored if stored != "7" else 7,))
    conn.commit()
    conn.close()
    try:
        [corrupt] = store.read_task_runs("fr-1")
        assert isinstance(corrupt, CorruptRecord) and "inputs" in corrupt.reason
    finally:
        store.close()


@pytest.mark.parametrize(
    "attribute",
    [{"S": '{"a": "1"}'}, {"M": {"a": {"N": "1"}}}, {"M": {"a": "1"}}, {"L": []}, "x"],
)
def test_malformed_dynamodb_inputs_are_refused(attribute: Any) -> None:
    item = task_run_item(_record(inputs={"a": "1"}))
    assert item["inputs"] == {"M": {"a": {"S": "1"}}}
    assert task_run_from_item(item).inputs == {"a": "1"}
    item["inputs"] = attribute
    with pytest.raises(ValueError, match="inputs"):
        task_run_from_item(item)


# -- the Lambda wire -----------------------------------------------------------------------


def _event(inputs: Any) -> dict[str, Any]:
    record = _record(state_type=StateType.PENDING, state_name="Pending", inputs=inputs)
    call = TaskCall(take, {"value": 1}, record, "brave-otter", False)
    event = task_event(call, Payload("json", b'{"value": 1}'))
    event["task"] = f"{__name__}:take"
    event["source_hash"] = None
    return event


def test_inputs_travel_to_the_task_run_function() -> None:
    _, _, record, _ = read_task_event(_event({"value": "1", "other": "'\udc80'"}))
    assert record.inputs == {"value": "1", "other": "'\\udc80'"}  # storable
    _, _, record, _ = read_task_event(_event(None))
    assert record.inputs is None  # the function makes them (lambda_handlers.task_run)
    with pytest.raises(WireError, match="inputs"):
        read_task_event(_event({"value": 1}))


@task
def login(user: str, db_password: str, apiKey: str, github_token: str, author: str) -> str:
    return user


@flow
def logs_in() -> str:
    return login("ada", "hunter2", "k-123", "ghp_abc", "me")


def test_an_argument_named_like_a_secret_is_not_kept(store: Store) -> None:
    logs_in()
    store.flush()
    (run,) = [r for r in store.read_task_runs(_only_run(store)) if isinstance(r, TaskRunRecord)]
    assert run.inputs == {
        "user": "'ada'",
        "db_password": "<not kept: its name looks secret>",
        "apiKey": "<not kept: its name looks secret>",
        "github_token": "<not kept: its name looks secret>",
        "author": "'me'",
    }
    assert all("hunter2" not in v and "ghp_abc" not in v for v in run.inputs.values())


def test_a_big_bytearray_or_str_subclass_is_cut_before_it_is_formatted() -> None:
    class Name(str):
        pass

    shown = task_inputs({"blob": bytearray(50_000_000), "name": Name("x" * 10_000)})
    assert shown["blob"].startswith("bytearray(b'\\x00\\x00") and shown["blob"].endswith("...")
    assert len(shown["blob"]) == MAX_CHARS and len(shown["name"]) == MAX_CHARS


def _only_run(store: Store) -> str:
    (run,) = store.list_flow_runs(10)
    return run.key if isinstance(run, CorruptRecord) else run.id
