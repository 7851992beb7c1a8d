"""Artifacts in the DynamoDB table: one item each, ``pk`` ``ARTIFACT#<id>``, ``sk``
``ARTIFACT``, listed through ``gsi1`` in their own ``ARTIFACTS`` partition, newest first.

Why no index per key or per run: the table has one secondary index, and artifacts are
few (a person makes them, not the engine per task), so reading the ``ARTIFACTS``
partition with a filter (``key``, ``flow_run_id``) costs little, and a write costs one
item plus its index entry. ``data`` is JSON text, so a progress float and a markdown
string both come back as they went in.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from flowless.exceptions import CorruptRecordError, RecordNotFoundError
from flowless.store._dynamodb_calls import ConditionFailed, Item
from flowless.store._dynamodb_items import FLOW_RUNS_INDEX
from flowless.store._records import ArtifactRecord

__all__ = [
    "ARTIFACTS_PARTITION",
    "artifact_from_item",
    "artifact_item",
    "artifact_key",
    "list_artifacts",
    "read_artifact",
    "update_artifact",
]

Call = Callable[..., Any]

#: The ``gsi1pk`` every artifact's index entry shares.
ARTIFACTS_PARTITION = "ARTIFACTS"


def artifact_key(artifact_id: str) -> Item:
    return {"pk": {"S": f"ARTIFACT#{artifact_id}"}, "sk": {"S": "ARTIFACT"}}


def artifact_item(artifact: ArtifactRecord) -> Item:
    item = artifact_key(artifact.id)
    item.update(
        {
            "gsi1pk": {"S": ARTIFACTS_PARTITION},
            "gsi1sk": {"S": f"{artifact.created:020.6f}#{artifact.id}"},
            "id": {"S": artifact.id},
            "type": {"S": artifact.type},
            "data": {"S": json.dumps(artifact.data)},
            "created": {"N": repr(artifact.created)},
            "updated": {"N": repr(artifact.updated)},
        }
    )
    for name, value in (
        ("key", artifact.key),
        ("description", artifact.description),
        ("flow_run_id", artifact.flow_run_id),
        ("task_run_id", artifact.task_run_id),
    ):
        if value is not None:
            item[name] = {"S": value}
    return item


def _text(item: Item, name: str, optional: bool = True) -> str | None:
    value = item.get(name)
    if value is None and optional:
        return None
    text = (value or {}).get("S")
    if not isinstance(text, str):
        raise TypeError(f"{name}: expected a string attribute, got {value!r}")
    return text


def _number(item: Item, name: str) -> float:
    text = (item.get(name) or {}).get("N")
    if not isinstance(text, str):
        raise TypeError(f"{name}: expected a number attribute, got {item.get(name)!r}")
    return float(text)


def artifact_from_item(item: Item) -> ArtifactRecord:
    """A stored artifact; ``ValueError``/``TypeError`` naming the attribute if it is not one."""
    return ArtifactRecord(
        id=str(_text(item, "id", optional=False)),
        key=_text(item, "key"),
        type=str(_text(item, "type", optional=False)),
        description=_text(item, "description"),
        data=json.loads(str(_text(item, "data", optional=False))),
        flow_run_id=_text(item, "flow_run_id"),
        task_run_id=_text(item, "task_run_id"),
        created=_number(item, "created"),
        updated=_number(item, "updated"),
    )


def _decoded(item: Item, location: str) -> ArtifactRecord:
    try:
        return artifact_from_item(item)
    except (ValueError, TypeError) as exc:
        name = item.get("pk", {}).get("S", "?").removeprefix("ARTIFACT#")
        raise CorruptRecordError(f"Artifact {name!r} in {location} is corrupt: {exc}") from exc


def read_artifact(call: Call, location: str, artifact_id: str) -> ArtifactRecord:
    response = call(
        "read an artifact", "get_item", Key=artifact_key(artifact_id), ConsistentRead=True
    )
    item = response.get("Item")
    if item is None:
        raise RecordNotFoundError(f"Artifact {artifact_id!r} not found in {location}.")
    return _decoded(item, location)


def update_artifact(
    call: Call, location: str, artifact_id: str, data: Any, description: str | None
) -> None:
    sets = ["#data = :data", "updated = :updated"]
    values: Item = {":data": {"S": json.dumps(data)}, ":updated": {"N": repr(time.time())}}
    if description is not None:
        sets.append("description = :description")
        values[":description"] = {"S": description}
    try:
        call(
            "update an artifact",
            "update_item",
            Key=artifact_key(artifact_id),
            UpdateExpression="SET " + ", ".join(sets),
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames={"#data": "data"},
            ExpressionAttributeValues=values,
        )
    except ConditionFailed:
        raise RecordNotFoundError(f"Artifact {artifact_id!r} not found in {location}.") from None


def list_artifacts(
    call: Call,
    location: str,
    key: str | None,
    flow_run_id: str | None,
    limit: int,
    latest: bool,
) -> list[ArtifactRecord]:
    """Reads index pages until ``limit`` match (with ``latest``: ``limit`` keys, the
    first, newest, artifact of each key kept) or the partition ends."""
    filters: list[str] = []
    names: dict[str, str] = {}
    values: Item = {":all": {"S": ARTIFACTS_PARTITION}}
    if key is not None or latest:
        names["#key"] = "key"
        filters.append("attribute_exists(#key)")
    if key is not None:
        filters.append("#key = :key")
        values[":key"] = {"S": key}
    if flow_run_id is not None:
        filters.append("flow_run_id = :run")
        values[":run"] = {"S": flow_run_id}
    kwargs: dict[str, Any] = {
        "IndexName": FLOW_RUNS_INDEX,
        "KeyConditionExpression": "gsi1pk = :all",
        "ExpressionAttributeValues": values,
        "ScanIndexForward": False,
    }
    if filters:
        kwargs["FilterExpression"] = " AND ".join(filters)
    if names:
        kwargs["ExpressionAttributeNames"] = names
    out: list[ArtifactRecord] = []
    seen: set[str | None] = set()
    while len(out) < limit:
        response = call("list artifacts", "query", Limit=max(min(limit, 1000), 25), **kwargs)
        for item in response.get("Items", []):
            artifact = _decoded(item, location)
            if latest:
                if artifact.key in seen:
                    continue
                seen.add(artifact.key)
            out.append(artifact)
        last = response.get("LastEvaluatedKey")
        if not last:
            break
        kwargs["ExclusiveStartKey"] = last
    return out[:limit]
