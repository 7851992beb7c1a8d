"""Logs every AWS API call a process makes, with the DynamoDB capacity it would consume.

Installed through botocore's event hooks on every botocore session the process creates
(``botocore.session.get_session`` is wrapped, since flowless builds its own session):
``before-parameter-build`` keeps the request's parameters, ``after-call`` writes one JSON
line per call to the file named by ``FLOWLESS_BENCH_CALL_LOG`` (appends of one short line
are atomic, so the bench process and every Lambda worker share one file).

Capacity follows DynamoDB's on-demand rules:

- A write costs one write unit per started KB of the larger of the old and the new item.
  The old item is known only when the response returns it, so a successful put that
  replaces an item is counted at the new item's size (our puts rewrite records of about
  the same size, so this rarely changes the count).
- A write whose condition fails costs the existing item's size (which our store asks
  back with ``ReturnValuesOnConditionCheckFailure=ALL_OLD``), or one unit if there is none.
- A successful write of an item that carries the flow-runs index's key (``gsi1pk``) also
  writes the index: the index projects ALL attributes, so that is one more write unit per
  started KB of the item plus DynamoDB's 100 bytes of index-entry overhead.
- A read costs one read unit per started 4 KB (half for an eventually consistent read,
  at least that for an item that is not there); a query sums the sizes of the items it
  returns first.
"""

from __future__ import annotations

import json
import math
import os
from decimal import Decimal
from typing import Any

_installed = False


def _value_size(value: dict[str, Any]) -> int:
    """Bytes of one DynamoDB attribute value (the documented item-size rules)."""
    kind, data = next(iter(value.items()))
    if kind == "S":
        return len(data.encode())
    if kind == "B":
        return len(data)
    if kind == "N":
        digits = Decimal(data).as_tuple().digits
        return (len(digits) + 1) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in data)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + _value_size(v) for k, v in data.items())
    if kind == "SS":
        return sum(len(s.encode()) for s in data)
    if kind == "BS":
        return sum(len(b) for b in data)
    if kind == "NS":
        return sum(_value_size({"N": n}) for n in data)
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / 4096))
    return units if consistent else units / 2


INDEX_KEY = "gsi1pk"
INDEX_ENTRY_OVERHEAD = 100


def _write_units(size: int) -> float:
    return float(max(1, math.ceil(size / 1024)))


def capacity(
    operation: str, params: dict[str, Any], parsed: dict[str, Any], ok: bool = True
) -> tuple[float, float]:
    """(read units, write units) of one DynamoDB call; ``ok`` is false for an error answer."""
    consistent = bool(params.get("ConsistentRead"))
    if operation in ("PutItem", "UpdateItem", "DeleteItem"):
        old = parsed.get("Item") or parsed.get("Attributes") or {}
        if not ok:  # a failed condition: the existing item's size (ALL_OLD), else 1
            return 0.0, _write_units(item_size(old))
        new = params.get("Item", {})
        units = _write_units(max(item_size(new), item_size(old)))
        if INDEX_KEY in new:
            units += _write_units(item_size(new) + INDEX_ENTRY_OVERHEAD)
        return 0.0, units
    if operation == "BatchWriteItem":  # each item as its own write (log lines, deletes)
        units = 0.0
        for requests in params.get("RequestItems", {}).values():
            for request in requests:
                put = request.get("PutRequest")
                units += _write_units(item_size(put["Item"])) if put else 1.0
        return 0.0, units if ok else 0.0
    if operation == "GetItem":
        return _read_units(item_size(parsed.get("Item") or {}), consistent), 0.0
    if operation in ("Query", "Scan"):
        size = sum(item_size(i) for i in parsed.get("Items", []))
        return _read_units(size, consistent), 0.0
    return 0.0, 0.0


def _remember_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    context["flowless_bench_params"] = dict(params)


def _log_call(
    http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
) -> None:
    service = model.service_model.service_name
    operation = model.name
    params = context.get("flowless_bench_params", {})
    rru = wru = 0.0
    if service == "dynamodb":
        status = getattr(http_response, "status_code", 200)
        rru, wru = capacity(operation, params, parsed, ok=status < 300)
    line = {
        "pid": os.getpid(),
        "where": os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "caller"),
        "service": service,
        "operation": operation,
        "status": getattr(http_response, "status_code", 0),
        "rru": rru,
        "wru": wru,
    }
    path = os.environ["FLOWLESS_BENCH_CALL_LOG"]
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(line) + "\n").encode())
    finally:
        os.close(fd)


def install() -> None:
    """Hook every botocore session created from now on (idempotent)."""
    global _installed
    if _installed or not os.environ.get("FLOWLESS_BENCH_CALL_LOG"):
        return
    import botocore.session

    original = botocore.session.get_session

    def get_session(env_vars: Any = None) -> Any:
        session = original(env_vars)
        session.register("before-parameter-build", _remember_params)
        session.register("after-call", _log_call)
        return session

    botocore.session.get_session = get_session
    _installed = True
