"""Records as DynamoDB items (the low-level client's typed attribute maps), and back.

Key layout in ``docs/dynamodb-table.md``. Decoding checks every attribute's type: an
item that is not what this module writes raises ``ValueError``/``TypeError`` naming the
attribute, which the store reports as a corrupt record.
"""

from __future__ import annotations

from typing import Any

from flowless.states import StateType
from flowless.store._records import CacheEntry, FlowRunRecord, Payload, TaskRunRecord

__all__ = [
    "FLOW_RUNS_INDEX",
    "cache_from_item",
    "cache_item",
    "cache_key",
    "deployment_state_key",
    "flow_run_from_item",
    "flow_run_item",
    "flow_run_key",
    "task_run_from_item",
    "task_run_item",
    "task_run_key",
]

Item = dict[str, dict[str, Any]]

FLOW_RUNS_INDEX = "gsi1"
FLOW_RUNS_PARTITION = "FLOWRUNS"


def flow_run_key(flow_run_id: str) -> Item:
    return {"pk": {"S": f"FLOWRUN#{flow_run_id}"}, "sk": {"S": "FLOWRUN"}}


def deployment_state_key(deployment: str) -> Item:
    return {"pk": {"S": f"DEPLOYMENT#{deployment}"}, "sk": {"S": "STATE"}}


def task_run_key(flow_run_id: str | None, task_run_id: str) -> Item:
    partition = f"FLOWRUN#{flow_run_id}" if flow_run_id else f"TASKRUN#{task_run_id}"
    return {"pk": {"S": partition}, "sk": {"S": f"TASKRUN#{task_run_id}"}}


def cache_key(key: str) -> Item:
    return {"pk": {"S": f"CACHE#{key}"}, "sk": {"S": "CACHE"}}


def _put(item: Item, name: str, value: Any) -> None:
    """Add an attribute; ``None`` is left out (absent means None when decoding)."""
    if value is None:
        return
    if isinstance(value, bool):
        raise TypeError(f"{name}: booleans are not stored")
    if isinstance(value, str):
        item[name] = {"S": value}
    elif isinstance(value, (int, float)):
        item[name] = {"N": repr(value)}
    elif isinstance(value, bytes):
        item[name] = {"B": value}
    elif isinstance(value, list):
        item[name] = {"L": [{"S": str(v)} for v in value]}
    else:  # pragma: no cover - a programming error, not user input
        raise TypeError(f"{name}: cannot store {type(value).__name__}")


def _put_payload(item: Item, prefix: str, payload: Payload | None) -> None:
    if payload is not None:
        _put(item, f"{prefix}_serializer", payload.serializer)
        _put(item, prefix, payload.data)
        _put(item, f"{prefix}_location", payload.location)


def _text(item: Item, name: str, *, optional: bool = False) -> Any:
    value = item.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, dict) or "S" not in value:
        raise ValueError(f"{name} is {value!r}, not a string")
    return value["S"]


def _number(item: Item, name: str, *, optional: bool = False, whole: bool = False) -> Any:
    value = item.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, dict) or "N" not in value:
        raise ValueError(f"{name} is {value!r}, not a number")
    text = value["N"]
    number = float(text)
    if whole:
        if not number.is_integer():
            raise ValueError(f"{name} is {text!r}, not a whole number")
        return int(number)
    return number


def _payload(item: Item, prefix: str) -> Payload | None:
    serializer = _text(item, f"{prefix}_serializer", optional=True)
    if serializer is None:
        return None
    data = item.get(prefix)
    if data is not None and (not isinstance(data, dict) or "B" not in data):
        raise ValueError(f"{prefix} is not binary")
    blob = data["B"] if data is not None else None
    return Payload(
        serializer,
        bytes(blob) if blob is not None else None,
        _text(item, f"{prefix}_location", optional=True),
    )


def _tags(item: Item) -> list[str]:
    value = item.get("tags", {"L": []})
    if not isinstance(value, dict) or "L" not in value:
        raise ValueError(f"tags is {value!r}")
    out = []
    for entry in value["L"]:
        if not isinstance(entry, dict) or "S" not in entry:
            raise ValueError(f"tags contains {entry!r}")
        out.append(entry["S"])
    return out


def _inputs(item: Item) -> dict[str, str] | None:
    value = item.get("inputs")
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("M"), dict):
        raise ValueError(f"inputs is {value!r}, not a map")
    out = {}
    for name, entry in value["M"].items():
        if not isinstance(entry, dict) or not isinstance(entry.get("S"), str):
            raise ValueError(f"inputs[{name!r}] is {entry!r}, not a string")
        out[name] = entry["S"]
    return out


def _state_type(item: Item) -> StateType:
    value = _text(item, "state_type")
    try:
        return StateType(value)
    except ValueError:
        raise ValueError(f"state_type is {value!r}, not a state type") from None


def flow_run_item(run: FlowRunRecord) -> Item:
    item = flow_run_key(run.id)
    item["gsi1pk"] = {"S": FLOW_RUNS_PARTITION}
    item["gsi1sk"] = {"S": f"{run.created:020.6f}#{run.id}"}
    for name in (
        "id",
        "name",
        "flow_name",
        "state_name",
        "state_message",
        "parent_flow_run_id",
        "parent_task_run_id",
        "deployment_id",
        "created",
        "start_time",
        "end_time",
        "run_count",
        "owner",
        "version",
        "deployment_name",
        "schedule_slug",
        "scheduled_start_time",
        "idempotency_key",
        "code_hash",
        "flow_identity",
    ):
        _put(item, name, getattr(run, name))
    _put(item, "state_type", run.state_type.value)
    _put_payload(item, "parameters", run.parameters)
    _put_payload(item, "result", run.result)
    _put(item, "tags", run.tags)
    return item


def flow_run_from_item(item: Item) -> FlowRunRecord:
    return FlowRunRecord(
        id=_text(item, "id"),
        name=_text(item, "name"),
        flow_name=_text(item, "flow_name"),
        state_type=_state_type(item),
        state_name=_text(item, "state_name"),
        state_message=_text(item, "state_message", optional=True),
        parameters=_payload(item, "parameters"),
        parent_flow_run_id=_text(item, "parent_flow_run_id", optional=True),
        parent_task_run_id=_text(item, "parent_task_run_id", optional=True),
        deployment_id=_text(item, "deployment_id", optional=True),
        created=_number(item, "created"),
        start_time=_number(item, "start_time", optional=True),
        end_time=_number(item, "end_time", optional=True),
        run_count=_number(item, "run_count", whole=True),
        result=_payload(item, "result"),
        tags=_tags(item),
        owner=_text(item, "owner", optional=True),
        version=_number(item, "version", whole=True),
        deployment_name=_text(item, "deployment_name", optional=True),
        schedule_slug=_text(item, "schedule_slug", optional=True),
        scheduled_start_time=_number(item, "scheduled_start_time", optional=True),
        idempotency_key=_text(item, "idempotency_key", optional=True),
        code_hash=_text(item, "code_hash", optional=True),
        flow_identity=_text(item, "flow_identity", optional=True),
    )


def task_run_item(run: TaskRunRecord) -> Item:
    item = task_run_key(run.flow_run_id, run.id)
    for name in (
        "id",
        "flow_run_id",
        "task_key",
        "dynamic_key",
        "name",
        "task_name",
        "state_name",
        "state_message",
        "run_count",
        "start_time",
        "end_time",
        "cache_key",
        "child_flow_run_id",
    ):
        _put(item, name, getattr(run, name))
    _put(item, "state_type", run.state_type.value)
    _put_payload(item, "result", run.result)
    _put(item, "tags", run.tags)
    if run.inputs is not None:  # a map of strings (absent: not known)
        item["inputs"] = {"M": {name: {"S": text} for name, text in run.inputs.items()}}
    return item


def task_run_from_item(item: Item) -> TaskRunRecord:
    return TaskRunRecord(
        id=_text(item, "id"),
        flow_run_id=_text(item, "flow_run_id", optional=True),
        task_key=_text(item, "task_key"),
        dynamic_key=_number(item, "dynamic_key", whole=True),
        name=_text(item, "name"),
        task_name=_text(item, "task_name"),
        state_type=_state_type(item),
        state_name=_text(item, "state_name"),
        state_message=_text(item, "state_message", optional=True),
        run_count=_number(item, "run_count", whole=True),
        start_time=_number(item, "start_time", optional=True),
        end_time=_number(item, "end_time", optional=True),
        cache_key=_text(item, "cache_key", optional=True),
        result=_payload(item, "result"),
        child_flow_run_id=_text(item, "child_flow_run_id", optional=True),
        tags=_tags(item),
        inputs=_inputs(item),
    )


def cache_item(entry: CacheEntry, ttl_attribute: str) -> Item:
    item = cache_key(entry.key)
    _put(item, "key", entry.key)
    _put(item, "created", entry.created)
    _put(item, "expires", entry.expires)
    if entry.expires is not None:  # DynamoDB's TTL wants whole epoch seconds
        _put(item, ttl_attribute, int(entry.expires) + 1)
    _put_payload(item, "result", entry.result)
    return item


def cache_from_item(item: Item) -> CacheEntry:
    payload = _payload(item, "result")
    if payload is None:
        raise ValueError("it has no result")
    return CacheEntry(
        key=_text(item, "key"),
        result=payload,
        created=_number(item, "created"),
        expires=_number(item, "expires", optional=True),
    )
