"""Finding and deleting flow runs in the DynamoDB table: the CLI's queries.

They read the ``gsi1`` index (every flow run, newest first) with filter expressions:
DynamoDB has no secondary index per filter, and one per CLI option would cost a write
per flow run for a read a person makes now and then. So a filtered listing reads index
pages until it has ``limit`` runs, and a match by name or id prefix reads the index
to its end (a prefix is only unambiguous once every run was seen).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flowless.exceptions import RecordNotFoundError, StoreError
from flowless.states import StateType
from flowless.store._dynamodb_calls import ConditionFailed, Item, batch_write
from flowless.store._dynamodb_items import FLOW_RUNS_INDEX, flow_run_from_item, flow_run_key
from flowless.store._protocol import CANCELLABLE
from flowless.store._records import CorruptRecord, FlowRunRecord

__all__ = ["cancel_run", "delete_run", "list_runs", "match_runs"]

Call = Callable[..., Any]

#: BatchWriteItem takes at most 25 requests.
_BATCH = 25


def _query_index(
    call: Call, limit: int, filters: list[str], values: Item, names: dict[str, str]
) -> list[FlowRunRecord | CorruptRecord]:
    out: list[FlowRunRecord | CorruptRecord] = []
    kwargs: dict[str, Any] = {
        "IndexName": FLOW_RUNS_INDEX,
        "KeyConditionExpression": "gsi1pk = :all",
        "ExpressionAttributeValues": {":all": {"S": "FLOWRUNS"}, **values},
        "ScanIndexForward": False,
    }
    if filters:
        kwargs["FilterExpression"] = " AND ".join(f"({f})" for f in filters)
    if names:
        kwargs["ExpressionAttributeNames"] = names
    # Limit counts the items read before the filter: a filter that matches few runs (the
    # UI's failed runs among 10,000) reads in full pages (1 MB) rather than many small ones.
    page = {} if filters else {"Limit": max(limit, 25)}
    while len(out) < limit:
        response = call("list flow runs", "query", **page, **kwargs)
        for item in response.get("Items", []):
            try:
                out.append(flow_run_from_item(item))
            except (ValueError, TypeError) as exc:
                key = item.get("id", item.get("pk", {})).get("S", "?")
                out.append(CorruptRecord("flow run", key, str(exc)))
        last = response.get("LastEvaluatedKey")
        if not last:
            break
        kwargs["ExclusiveStartKey"] = last
    return out[:limit]


def list_runs(
    call: Call,
    limit: int,
    flow_name: str | None,
    state: StateType | None,
    deployment: str | None,
) -> list[FlowRunRecord | CorruptRecord]:
    filters: list[str] = []
    values: Item = {}
    if flow_name:
        filters.append("flow_name = :flow")
        values[":flow"] = {"S": flow_name}
    if state is not None:
        filters.append("state_type = :state")
        values[":state"] = {"S": state.value}
    if deployment:
        filters.append("deployment_name = :deployment")
        values[":deployment"] = {"S": deployment}
    return _query_index(call, limit, filters, values, {})


def match_runs(call: Call, ref: str, limit: int) -> list[FlowRunRecord | CorruptRecord]:
    return _query_index(
        call,
        limit,
        ["#name = :ref OR begins_with(id, :ref)"],
        {":ref": {"S": ref}},
        {"#name": "name"},  # a reserved word in DynamoDB expressions
    )


def cancel_run(call: Call, location: str, flow_run_id: str) -> bool:
    """One conditional UpdateItem; its failed condition (the run is final, or absent) is
    the domain answer here, at the one place it can happen."""
    allowed = {f":s{i}": {"S": t.value} for i, t in enumerate(CANCELLABLE)}
    try:  # a Scheduled run (nobody runs it) ends at once
        call(
            "cancel a scheduled flow run",
            "update_item",
            Key=flow_run_key(flow_run_id),
            UpdateExpression="SET state_type = :cancelled, state_name = :name, "
            "end_time = :now, version = version + :one REMOVE state_message",
            ConditionExpression="attribute_exists(pk) AND state_type = :scheduled",
            ExpressionAttributeValues={
                ":cancelled": {"S": StateType.CANCELLED.value},
                ":name": {"S": "Cancelled"},
                ":now": {"N": repr(time.time())},
                ":one": {"N": "1"},
                ":scheduled": {"S": StateType.SCHEDULED.value},
            },
        )
        return True
    except ConditionFailed:
        pass  # started, final or absent: the conditional write below tells which
    try:
        call(
            "cancel a flow run",
            "update_item",
            Key=flow_run_key(flow_run_id),
            UpdateExpression="SET state_type = :cancelling, state_name = :name, "
            "version = version + :one REMOVE state_message",
            ConditionExpression=f"attribute_exists(pk) AND state_type IN ({', '.join(allowed)})",
            ExpressionAttributeValues={
                ":cancelling": {"S": StateType.CANCELLING.value},
                ":name": {"S": "Cancelling"},
                ":one": {"N": "1"},
                **allowed,
            },
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ConditionFailed as failed:
        if not failed.item:
            raise RecordNotFoundError(
                f"Flow run {flow_run_id!r} not found in {location}."
            ) from None
        return False
    return True


def delete_run(call: Call, table_name: str, location: str, flow_run_id: str) -> int:
    """Delete the task runs first and the flow run last: a delete cut short leaves the run
    listed, so it can be deleted again, rather than task runs no listing shows."""
    keys: list[Item] = []
    kwargs: dict[str, Any] = {
        "KeyConditionExpression": "pk = :run",
        "ExpressionAttributeValues": {":run": {"S": f"FLOWRUN#{flow_run_id}"}},
        "ProjectionExpression": "pk, sk",
        "ConsistentRead": True,
    }
    while True:
        response = call("read a flow run's items to delete them", "query", **kwargs)
        keys += [{"pk": item["pk"], "sk": item["sk"]} for item in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        if not last:
            break
        kwargs["ExclusiveStartKey"] = last
    run_key = flow_run_key(flow_run_id)
    if run_key not in keys:
        raise RecordNotFoundError(f"Flow run {flow_run_id!r} not found in {location}.")
    items = [key for key in keys if key != run_key]  # task runs and log lines
    for start in range(0, len(items), _BATCH):
        _batch_delete(call, table_name, items[start : start + _BATCH])
    call("delete a flow run", "delete_item", Key=run_key)
    return sum(1 for key in items if key["sk"]["S"].startswith("TASKRUN#"))


def _batch_delete(call: Call, table_name: str, keys: list[Item]) -> None:
    requests: list[Any] = [{"DeleteRequest": {"Key": key}} for key in keys]
    requests = batch_write(call, table_name, "delete a flow run's task runs", requests)
    if not requests:
        return
    raise StoreError(
        f"Could not delete {len(requests)} task run(s) of a flow run: DynamoDB kept "
        "throttling the deletes. The flow run is kept; delete it again."
    )
