"""The AWS store: one DynamoDB table (layout in ``docs/dynamodb-table.md``).

Every write that can race is a conditional PutItem: a flow run is created once, updated
only from the version that was read, and a task run's completion is written once (the
loser gets the winner back with the failed condition, at no extra read). Each write is
durable when it returns, so ``flush`` has nothing to do. The client is injected; all
botocore errors become flowless errors in ``_dynamodb_calls.call``, the one boundary.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from flowless.exceptions import (
    CorruptRecordError,
    RecordConflictError,
    RecordExistsError,
    RecordNotFoundError,
    StoreError,
)
from flowless.states import StateType
from flowless.store._dynamodb_artifacts import (
    artifact_item,
    list_artifacts,
    read_artifact,
    update_artifact,
)
from flowless.store._dynamodb_calls import ConditionFailed, Item, call
from flowless.store._dynamodb_items import (
    cache_from_item,
    cache_item,
    cache_key,
    deployment_state_key,
    flow_run_from_item,
    flow_run_item,
    flow_run_key,
    task_run_from_item,
    task_run_item,
)
from flowless.store._dynamodb_logs import LogBuffer, read_logs
from flowless.store._dynamodb_runs import cancel_run, delete_run, list_runs, match_runs
from flowless.store._records import (
    ArtifactRecord,
    CacheEntry,
    CorruptRecord,
    FlowRunRecord,
    LogLine,
    TaskRunRecord,
)

__all__ = ["DynamoDBStore", "ITEM_LIMIT_BYTES"]

#: DynamoDB refuses items over 400 KB; stay clear of it, attribute names included.
ITEM_LIMIT_BYTES = 390 * 1024
_NOT_COMPLETED = "attribute_not_exists(pk) OR state_type <> :completed"
_COMPLETED_VALUES = {":completed": {"S": StateType.COMPLETED.value}}


def _size(item: Item) -> int:
    total = 0
    for name, value in item.items():
        total += len(name)
        for kind, inner in value.items():
            if kind == "L":
                total += sum(len(v.get("S", "")) + 3 for v in inner)
            elif isinstance(inner, (bytes, bytearray)):
                total += len(inner)
            else:
                total += len(str(inner).encode())
    return total


class DynamoDBStore:
    """``Store`` on a DynamoDB table, through an injected low-level boto3 client."""

    def __init__(self, table_name: str, client: Any, ttl_attribute: str = "expires_at") -> None:
        self.table_name = table_name
        self.client = client
        self.ttl_attribute = ttl_attribute
        region = getattr(getattr(client, "meta", None), "region_name", None)
        self.location = f"dynamodb://{table_name}" + (f" ({region})" if region else "")
        self._logs = LogBuffer(self._call, table_name)

    # -- the boundary --------------------------------------------------------------------

    def _call(self, action: str, operation: str, **kwargs: Any) -> Any:
        return call(self.client, self.table_name, self.location, action, operation, **kwargs)

    def _put(self, action: str, item: Item, **kwargs: Any) -> None:
        size = _size(item)
        if size > ITEM_LIMIT_BYTES:
            raise StoreError(
                f"Refusing to {action}: the item would be {size} bytes, over DynamoDB's limit. "
                "Large results belong in the results bucket (lower "
                "FLOWLESS_RESULTS_INLINE_MAX_BYTES)."
            )
        self._call(action, "put_item", Item=item, **kwargs)

    # -- deployments (pause state; the definitions are the manifest's) -------------------

    def read_paused(self, deployment: str) -> bool | None:
        response = self._call(
            "read a deployment's pause state",
            "get_item",
            Key=deployment_state_key(deployment),
            ConsistentRead=True,
        )
        item = response.get("Item")
        if item is None:
            return None
        value = item.get("paused", {}).get("BOOL")
        if not isinstance(value, bool):
            raise CorruptRecordError(
                f"The pause state of deployment {deployment!r} in {self.location} is corrupt: "
                f"{item.get('paused')!r}"
            )
        return value

    def set_paused(self, deployment: str, paused: bool) -> None:
        item = deployment_state_key(deployment)
        item["paused"] = {"BOOL": paused}
        item["updated"] = {"N": repr(time.time())}
        self._put("pause or resume a deployment", item)

    # -- flow runs -----------------------------------------------------------------------

    def create_flow_run(self, run: FlowRunRecord) -> None:
        try:
            self._put(
                "create a flow run",
                flow_run_item(run),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ConditionFailed:
            raise RecordExistsError(f"Flow run {run.id!r} already exists.") from None

    def update_flow_run(self, run: FlowRunRecord) -> None:
        expected = run.version
        run.version = expected + 1
        try:
            self._put(
                "update a flow run",
                flow_run_item(run),
                ConditionExpression="attribute_exists(pk) AND version = :expected",
                ExpressionAttributeValues={":expected": {"N": str(expected)}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ConditionFailed as failed:
            run.version = expected
            if not failed.item:
                raise RecordNotFoundError(
                    f"Flow run {run.id!r} not found in {self.location}."
                ) from None
            stored = failed.item.get("version", {}).get("N", "?")
            raise RecordConflictError(
                f"Flow run {run.id!r} was changed by someone else (version {stored}, "
                f"this update expected {expected})."
            ) from None
        except BaseException:
            run.version = expected
            raise

    def read_flow_run(self, flow_run_id: str) -> FlowRunRecord:
        response = self._call(
            "read a flow run", "get_item", Key=flow_run_key(flow_run_id), ConsistentRead=True
        )
        item = response.get("Item")
        if item is None:
            raise RecordNotFoundError(f"Flow run {flow_run_id!r} not found in {self.location}.")
        try:
            return flow_run_from_item(item)
        except (ValueError, TypeError) as exc:
            raise CorruptRecordError(
                f"Flow run {flow_run_id!r} in {self.location} is corrupt: {exc}"
            ) from exc

    def list_flow_runs(
        self,
        limit: int = 20,
        flow_name: str | None = None,
        state: StateType | None = None,
        deployment: str | None = None,
    ) -> list[FlowRunRecord | CorruptRecord]:
        return list_runs(self._call, limit, flow_name, state, deployment)

    def match_flow_runs(self, ref: str, limit: int = 1000) -> list[FlowRunRecord | CorruptRecord]:
        return match_runs(self._call, ref, limit)

    def delete_flow_run(self, flow_run_id: str) -> int:
        return delete_run(self._call, self.table_name, self.location, flow_run_id)

    def cancel_flow_run(self, flow_run_id: str) -> bool:
        return cancel_run(self._call, self.location, flow_run_id)

    # -- task runs -----------------------------------------------------------------------

    def start_task_run(self, run: TaskRunRecord) -> None:
        with contextlib.suppress(ConditionFailed):  # already completed: left as it is
            self._put(
                "record a task run start",
                task_run_item(run),
                ConditionExpression=_NOT_COMPLETED,
                ExpressionAttributeValues=_COMPLETED_VALUES,
            )

    def finish_task_run(self, run: TaskRunRecord, *, new: bool = False) -> TaskRunRecord:
        try:
            self._put(
                "record a task run result",
                task_run_item(run),
                ConditionExpression=_NOT_COMPLETED,
                ExpressionAttributeValues=_COMPLETED_VALUES,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ConditionFailed as failed:
            try:
                return task_run_from_item(failed.item or {})
            except (ValueError, TypeError) as exc:
                raise CorruptRecordError(
                    f"Task run {run.id!r} in {self.location} is corrupt: {exc}"
                ) from exc
        return run

    def read_task_runs(self, flow_run_id: str) -> list[TaskRunRecord | CorruptRecord]:
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "pk = :run AND begins_with(sk, :task)",
            "ExpressionAttributeValues": {
                ":run": {"S": f"FLOWRUN#{flow_run_id}"},
                ":task": {"S": "TASKRUN#"},
            },
            "ConsistentRead": True,  # a resume must see every completion
        }
        runs: list[TaskRunRecord] = []
        corrupt: list[CorruptRecord] = []
        while True:
            response = self._call("read task runs", "query", **kwargs)
            for item in response.get("Items", []):
                try:
                    runs.append(task_run_from_item(item))
                except (ValueError, TypeError) as exc:
                    key = item.get("sk", {}).get("S", "?").removeprefix("TASKRUN#")
                    corrupt.append(CorruptRecord("task run", key, str(exc)))
            last = response.get("LastEvaluatedKey")
            if not last:
                break
            kwargs["ExclusiveStartKey"] = last
        runs.sort(key=lambda r: (r.start_time or 0.0, r.dynamic_key))
        return [*runs, *corrupt]

    # -- cache ---------------------------------------------------------------------------

    def read_cache_entry(self, key: str, now: float) -> CacheEntry | None:
        response = self._call("read a cache entry", "get_item", Key=cache_key(key))
        item = response.get("Item")
        if item is None:
            return None
        try:
            entry = cache_from_item(item)
        except (ValueError, TypeError) as exc:
            raise CorruptRecordError(
                f"Cache entry {key!r} in {self.location} is corrupt: {exc}"
            ) from exc
        return entry if entry.is_valid(now) else None  # TTL deletes expired items late

    def write_cache_entry(self, entry: CacheEntry) -> None:
        self._put("write a cache entry", cache_item(entry, self.ttl_attribute))

    # -- artifacts (``_dynamodb_artifacts``) ----------------------------------------------

    def create_artifact(self, artifact: ArtifactRecord) -> None:
        self._put("create an artifact", artifact_item(artifact))

    def update_artifact(self, artifact_id: str, data: Any, description: str | None) -> None:
        update_artifact(self._call, self.location, artifact_id, data, description)

    def read_artifact(self, artifact_id: str) -> ArtifactRecord:
        return read_artifact(self._call, self.location, artifact_id)

    def list_artifacts(
        self,
        key: str | None = None,
        flow_run_id: str | None = None,
        limit: int = 100,
        latest: bool = False,
    ) -> list[ArtifactRecord]:
        return list_artifacts(self._call, self.location, key, flow_run_id, limit, latest)

    # -- log lines -----------------------------------------------------------------------

    def write_log(self, line: LogLine) -> None:
        self._logs.add(line)

    def read_logs(self, flow_run_id: str, after: str | None = None) -> list[LogLine]:
        self._logs.flush()
        return read_logs(self._call, self.location, flow_run_id, after)

    def flush(self) -> None:
        """The buffered log lines; every other write is durable when DynamoDB
        acknowledges it."""
        self._logs.flush()

    def flush_thread(self) -> None:
        """Nothing to do: every record is durable when DynamoDB acknowledges it (log
        lines wait for ``flush``)."""

    def close(self) -> None:
        """The buffered log lines; the client belongs to whoever made it."""
        self._logs.flush()
