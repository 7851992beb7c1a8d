"""The artifact part of the Store contract: both backends keep, version, list and
update artifacts alike, and name a corrupt one."""

from __future__ import annotations

import sqlite3

import pytest

from flowless.exceptions import CorruptRecordError, RecordNotFoundError
from flowless.store import ArtifactRecord, DynamoDBStore, SQLiteStore, Store


def artifact(
    id: str,
    created: float,
    key: str | None = "report",
    flow_run_id: str | None = "fr-1",
    data: object = "# hi",
    **changes: object,
) -> ArtifactRecord:
    record = ArtifactRecord(
        id=id,
        key=key,
        type="markdown",
        description=f"desc {id}",
        data=data,
        flow_run_id=flow_run_id,
        task_run_id=None,
        created=created,
        updated=created,
    )
    for name, value in changes.items():
        setattr(record, name, value)
    return record


def test_an_artifact_reads_back_as_written(backend: Store) -> None:
    table = artifact("a-1", 1000.0, data='[{"a": null}]', task_run_id="tr-1", type="table")
    progress = artifact("a-2", 1001.0, key=None, data=42.5, description=None, type="progress")
    backend.create_artifact(table)
    backend.create_artifact(progress)
    assert backend.read_artifact("a-1") == table
    assert backend.read_artifact("a-2") == progress
    assert isinstance(backend.read_artifact("a-2").data, float)


def test_reading_a_missing_artifact_is_not_found(backend: Store) -> None:
    with pytest.raises(RecordNotFoundError, match="nope"):
        backend.read_artifact("nope")


def test_the_versions_of_a_key_list_newest_first(backend: Store) -> None:
    backend.create_artifact(artifact("a-1", 1000.0))
    backend.create_artifact(artifact("b-1", 1001.0, key="other"))
    backend.create_artifact(artifact("a-2", 1002.0))
    backend.create_artifact(artifact("n-1", 1003.0, key=None))
    backend.create_artifact(artifact("a-3", 1004.0))
    assert [a.id for a in backend.list_artifacts(key="report")] == ["a-3", "a-2", "a-1"]
    assert [a.id for a in backend.list_artifacts(key="report", limit=2)] == ["a-3", "a-2"]
    assert [a.id for a in backend.list_artifacts()] == ["a-3", "n-1", "a-2", "b-1", "a-1"]
    assert backend.list_artifacts(key="absent") == []


def test_latest_lists_each_keys_newest_artifact_only(backend: Store) -> None:
    backend.create_artifact(artifact("a-1", 1000.0))
    backend.create_artifact(artifact("b-1", 1001.0, key="other"))
    backend.create_artifact(artifact("a-2", 1002.0))
    backend.create_artifact(artifact("n-1", 1003.0, key=None))
    assert [a.id for a in backend.list_artifacts(latest=True)] == ["a-2", "b-1"]
    assert [a.id for a in backend.list_artifacts(latest=True, limit=1)] == ["a-2"]


def test_artifacts_of_a_flow_run(backend: Store) -> None:
    backend.create_artifact(artifact("a-1", 1000.0, flow_run_id="fr-1"))
    backend.create_artifact(artifact("a-2", 1001.0, flow_run_id="fr-2", key=None))
    backend.create_artifact(artifact("a-3", 1002.0, flow_run_id="fr-1", key=None))
    backend.create_artifact(artifact("a-4", 1003.0, flow_run_id=None))
    assert [a.id for a in backend.list_artifacts(flow_run_id="fr-1")] == ["a-3", "a-1"]
    assert [a.id for a in backend.list_artifacts(flow_run_id="fr-2")] == ["a-2"]
    assert [a.id for a in backend.list_artifacts(key="report", flow_run_id="fr-1")] == ["a-1"]


def test_update_replaces_data_and_keeps_the_description_unless_given(backend: Store) -> None:
    backend.create_artifact(artifact("p-1", 1000.0, data=10.0, type="progress"))
    backend.update_artifact("p-1", 50.0, None)
    stored = backend.read_artifact("p-1")
    assert (stored.data, stored.description, stored.created) == (50.0, "desc p-1", 1000.0)
    assert stored.updated > 1000.0
    backend.update_artifact("p-1", 100.0, "done")
    stored = backend.read_artifact("p-1")
    assert (stored.data, stored.description, stored.type) == (100.0, "done", "progress")


def test_updating_a_missing_artifact_is_not_found(backend: Store) -> None:
    with pytest.raises(RecordNotFoundError, match="nope"):
        backend.update_artifact("nope", 1.0, None)
    assert backend.list_artifacts() == []


def _corrupt(backend: Store, artifact_id: str) -> None:
    if isinstance(backend, SQLiteStore):
        backend.flush()
        conn = sqlite3.connect(backend.path)
        conn.execute("UPDATE artifacts SET created = 'soon' WHERE id = ?", (artifact_id,))
        conn.commit()
        conn.close()
        return
    assert isinstance(backend, DynamoDBStore)
    item = backend.client.get_item(
        TableName=backend.table_name,
        Key={"pk": {"S": f"ARTIFACT#{artifact_id}"}, "sk": {"S": "ARTIFACT"}},
    )["Item"]
    item["created"] = {"S": "soon"}
    backend.client.put_item(TableName=backend.table_name, Item=item)


def test_a_corrupt_artifact_is_named(backend: Store) -> None:
    backend.create_artifact(artifact("ok-1", 1000.0))
    backend.create_artifact(artifact("bad-1", 1001.0))
    _corrupt(backend, "bad-1")
    with pytest.raises(CorruptRecordError, match=r"bad-1.*created"):
        backend.read_artifact("bad-1")
    with pytest.raises(CorruptRecordError, match="bad-1"):
        backend.list_artifacts(key="report")
    assert backend.read_artifact("ok-1").id == "ok-1"
