"""Concurrency limits in the DynamoDB table (layout in ``docs/dynamodb-table.md``).

Each limit is one item, ``pk = LIMIT#<name>``, ``sk = LIMIT``, holding its settings, its
decaying pool, its leases (a map) and ``held``, the sum of their slots. Leases on limits
without decay are taken, given back and renewed with versionless conditional
UpdateItems (``held <= :limit_minus_n``); whatever computes decay, and any settings
change, is a PutItem conditioned on the version read. Several limits change together in
one TransactWriteItems. A second, tiny item per limit (``pk = LIMITS``, ``sk = <name>``)
is the registry that ``list_limits`` queries, so listing needs neither a Scan nor an
index write on every acquisition.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping, Sequence
from typing import Any

from flowless.exceptions import (
    CorruptRecordError,
    RecordConflictError,
    RecordExistsError,
    RecordNotFoundError,
)
from flowless.store._dynamodb_calls import (
    ConditionFailed,
    Item,
    TransactionFailed,
    call,
)
from flowless.store._limits import Lease, LimitRecord
from flowless.store._records import CorruptRecord

__all__ = ["DynamoDBLimits"]

REGISTRY = "LIMITS"
_VERSION_IS = "attribute_exists(pk) AND version = :expected"


def limit_key(name: str) -> Item:
    return {"pk": {"S": f"LIMIT#{name}"}, "sk": {"S": "LIMIT"}}


def _registry_key(name: str) -> Item:
    return {"pk": {"S": REGISTRY}, "sk": {"S": name}}


def _n(value: float) -> dict[str, str]:
    # DynamoDB numbers stop at a magnitude of 1e-130: a pool drained to 1e-300 is empty.
    return {"N": repr(0.0 if abs(value) < 1e-100 else value)}


def limit_item(limit: LimitRecord, version: int) -> Item:
    return {
        **limit_key(limit.name),
        "name": {"S": limit.name},
        "limit": _n(limit.limit),
        "decay": _n(limit.slot_decay_per_second),
        "active": {"BOOL": limit.active},
        "pool": _n(limit.pool),
        "pool_time": _n(limit.pool_time),
        "leases": {
            "M": {x.id: {"L": [_n(x.slots), _n(x.expires), {"S": x.holder}]} for x in limit.leases}
        },
        "created": _n(limit.created),
        "updated": _n(limit.updated),
        "version": _n(version),
        # Slots of the leases, kept beside them so that taking a lease is one comparison
        # in a condition (``held <= :room``): DynamoDB conditions cannot sum a map.
        "held": _n(sum(x.slots for x in limit.leases)),
    }


def _number(item: Item, name: str) -> float:
    value = item[name]
    if "N" not in value:
        raise TypeError(f"{name} is not a number")
    return float(value["N"])


def _integer(item: Item, name: str) -> int:
    number = _number(item, name)
    if number != int(number):
        raise ValueError(f"{name} is not an integer")
    return int(number)


def limit_from_item(item: Item) -> LimitRecord:
    name = item["name"].get("S")
    if not isinstance(name, str):
        raise TypeError("name is not a string")
    active = item["active"].get("BOOL")
    if not isinstance(active, bool):
        raise TypeError("active is not a boolean")
    leases = []
    for lease_id, value in item["leases"]["M"].items():
        slots, expires, holder = value["L"]
        leases.append(Lease(lease_id, int(slots["N"]), float(expires["N"]), str(holder["S"])))
    return LimitRecord(
        name=name,
        limit=_integer(item, "limit"),
        slot_decay_per_second=_number(item, "decay"),
        active=active,
        pool=_number(item, "pool"),
        pool_time=_number(item, "pool_time"),
        leases=tuple(leases),
        created=_number(item, "created"),
        updated=_number(item, "updated"),
        version=_integer(item, "version"),
    )


class DynamoDBLimits:
    """``LimitStore`` on the DynamoDB table, through an injected low-level boto3 client."""

    def __init__(self, table_name: str, client: Any) -> None:
        self.table_name = table_name
        self.client = client
        region = getattr(getattr(client, "meta", None), "region_name", None)
        self.location = f"dynamodb://{table_name}" + (f" ({region})" if region else "")

    def _call(self, action: str, operation: str, **kwargs: Any) -> Any:
        return call(self.client, self.table_name, self.location, action, operation, **kwargs)

    def _decode(self, name: str, item: Item) -> LimitRecord:
        try:
            return limit_from_item(item)
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise CorruptRecordError(
                f"Concurrency limit {name!r} in {self.location} is corrupt: {exc!r}"
            ) from None

    def create_limit(self, limit: LimitRecord) -> None:
        try:
            self._call(
                "create a concurrency limit",
                "transact_write_items",
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table_name,
                            "Item": limit_item(limit, 0),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {"Put": {"TableName": self.table_name, "Item": _registry_key(limit.name)}},
                ],
            )
        except TransactionFailed:
            raise RecordExistsError(f"Concurrency limit {limit.name!r} already exists.") from None

    def read_limits(self, names: Sequence[str]) -> dict[str, LimitRecord]:
        found: dict[str, LimitRecord] = {}
        for name in dict.fromkeys(names):
            response = self._call(
                "read a concurrency limit", "get_item", Key=limit_key(name), ConsistentRead=True
            )
            item = response.get("Item")
            if item is not None:
                found[name] = self._decode(name, item)
        return found

    def list_limits(self) -> list[LimitRecord | CorruptRecord]:
        names: list[str] = []
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "pk = :registry",
            "ExpressionAttributeValues": {":registry": {"S": REGISTRY}},
            "ConsistentRead": True,
        }
        while True:
            response = self._call("list concurrency limits", "query", **kwargs)
            names.extend(item["sk"]["S"] for item in response.get("Items", []))
            if not response.get("LastEvaluatedKey"):
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        out: list[LimitRecord | CorruptRecord] = []
        for name in names:
            try:
                out.extend(self.read_limits([name]).values())
            except CorruptRecordError as exc:
                out.append(CorruptRecord("concurrency limit", name, str(exc)))
        return out

    def write_limits(self, limits: Sequence[LimitRecord]) -> None:
        if len(limits) == 1:
            [limit] = limits
            try:
                self._call(
                    "write a concurrency limit",
                    "put_item",
                    Item=limit_item(limit, limit.version + 1),
                    ConditionExpression=_VERSION_IS,
                    ExpressionAttributeValues={":expected": _n(limit.version)},
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except ConditionFailed as failed:
                raise self._refused(limit, failed.item) from None
            return
        try:
            self._call(
                "write concurrency limits",
                "transact_write_items",
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table_name,
                            "Item": limit_item(limit, limit.version + 1),
                            "ConditionExpression": _VERSION_IS,
                            "ExpressionAttributeValues": {":expected": _n(limit.version)},
                            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                        }
                    }
                    for limit in limits
                ],
            )
        except TransactionFailed as failed:
            for limit, reason, item in zip(limits, failed.reasons, failed.items, strict=False):
                if reason == "ConditionalCheckFailed":
                    raise self._refused(limit, item) from None
            raise RecordConflictError("Concurrency limits changed during the write.") from None

    def _refused(self, limit: LimitRecord, item: Item | None) -> Exception:
        if not item:
            return RecordNotFoundError(f"Concurrency limit {limit.name!r} not found.")
        stored = item.get("version", {}).get("N", "?")
        return RecordConflictError(
            f"Concurrency limit {limit.name!r} was changed by someone else (version {stored}, "
            f"this write expected {limit.version})."
        )

    def delete_limit(self, name: str) -> None:
        try:
            self._call(
                "delete a concurrency limit",
                "transact_write_items",
                TransactItems=[
                    {
                        "Delete": {
                            "TableName": self.table_name,
                            "Key": limit_key(name),
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    },
                    {"Delete": {"TableName": self.table_name, "Key": _registry_key(name)}},
                ],
            )
        except TransactionFailed:
            raise RecordNotFoundError(f"Concurrency limit {name!r} not found.") from None

    # -- leases without versions ---------------------------------------------------------

    def _add_action(self, name: str, lease: Lease, limit: int) -> dict[str, Any]:
        return {
            "TableName": self.table_name,
            "Key": limit_key(name),
            "UpdateExpression": "SET leases.#id = :lease, held = held + :slots, "
            "version = version + :one, updated = :now",
            # Not already there: botocore retries a request whose answer was lost, and a
            # second ``held + :slots`` for one lease would leak slots for good.
            "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(leases.#id) "
            "AND #limit = :limit AND active = :true AND decay = :zero AND held <= :room",
            "ExpressionAttributeNames": {"#id": lease.id, "#limit": "limit"},
            "ExpressionAttributeValues": {
                ":lease": {"L": [_n(lease.slots), _n(lease.expires), {"S": lease.holder}]},
                ":slots": _n(lease.slots),
                ":one": _n(1),
                ":now": _n(time.time()),
                ":limit": _n(limit),
                ":true": {"BOOL": True},
                ":zero": _n(0),
                ":room": _n(limit - lease.slots),
            },
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }

    def add_lease(
        self, names: Sequence[str], lease: Lease, limit: Mapping[str, int]
    ) -> dict[str, LimitRecord]:
        actions = [self._add_action(n, lease, limit[n]) for n in dict.fromkeys(names)]
        failed: list[Item | None] = []  # the stored items of the limits that refused
        if len(actions) == 1:
            [action] = actions
            del action["TableName"]  # ``call`` names the table of a single-item request
            try:
                self._call("take concurrency slots", "update_item", **action)
            except ConditionFailed as refusal:
                failed = [refusal.item]
        else:
            try:
                self._call(
                    "take concurrency slots",
                    "transact_write_items",
                    TransactItems=[{"Update": action} for action in actions],
                )
            except TransactionFailed as refusal:
                failed = [
                    item
                    for reason, item in zip(refusal.reasons, refusal.items, strict=False)
                    if reason == "ConditionalCheckFailed"
                ]
        refused: dict[str, LimitRecord] = {}
        for item in failed:
            if not item:
                raise RecordNotFoundError("A concurrency limit was deleted.")
            record = self._decode(item.get("name", {}).get("S", "?"), item)
            if any(x.id == lease.id for x in record.leases):
                continue  # our own retried request got there: the lease is taken
            self._heal(item, record)
            refused[record.name] = record
        return refused

    def _heal(self, item: Item, record: LimitRecord) -> None:
        """Rewrite an item whose ``held`` is not its leases' sum (a write whose effect
        was applied twice, by an older flowless or a hand edit): a versioned put stores
        the true sum, so the next look is not refused by slots nobody holds."""
        held = item.get("held", {}).get("N")
        if held is not None and float(held) == sum(x.slots for x in record.leases):
            return
        with contextlib.suppress(RecordConflictError, RecordNotFoundError):
            self.write_limits([record])

    def remove_lease(
        self, name: str, lease_id: str, slots: int, expires: float | None = None
    ) -> bool:
        condition = "attribute_exists(leases.#id)"
        values: dict[str, Any] = {":slots": _n(slots), ":one": _n(1)}
        if expires is not None:
            condition += " AND leases.#id[1] = :expires"
            values[":expires"] = _n(expires)
        try:
            self._call(
                "give back concurrency slots",
                "update_item",
                Key=limit_key(name),
                UpdateExpression="REMOVE leases.#id SET held = held - :slots, "
                "version = version + :one",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#id": lease_id},
                ExpressionAttributeValues=values,
            )
        except ConditionFailed:
            return False
        return True

    def renew_lease(self, name: str, lease_id: str, expires: float) -> bool:
        try:
            self._call(
                "renew a concurrency lease",
                "update_item",
                Key=limit_key(name),
                UpdateExpression="SET leases.#id[1] = :expires, version = version + :one",
                ConditionExpression="attribute_exists(leases.#id)",
                ExpressionAttributeNames={"#id": lease_id},
                ExpressionAttributeValues={":expires": _n(expires), ":one": _n(1)},
            )
        except ConditionFailed:
            return False
        return True

    def close(self) -> None:
        """Nothing to release: the client belongs to whoever made it."""
