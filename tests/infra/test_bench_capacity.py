"""The bench's DynamoDB capacity rules (bench/aws/instrument/aws_call_log.py).

The cost table in the README comes from these rules, so they are checked against
DynamoDB's documented arithmetic here rather than trusted.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

_PATH = Path(__file__).resolve().parents[2] / "bench" / "aws" / "instrument" / "aws_call_log.py"
_spec = importlib.util.spec_from_file_location("aws_call_log", _PATH)
assert _spec is not None and _spec.loader is not None
aws_call_log = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(aws_call_log)
capacity, item_size = aws_call_log.capacity, aws_call_log.item_size


def _item(size: int, **extra: Any) -> dict[str, Any]:
    """An item of exactly ``size`` bytes: key "pk" (2) + string, plus ``extra``."""
    item = {"pk": {"S": "x" * (size - 2)}}
    item.update({k: {"S": v} for k, v in extra.items()})
    return item


def test_item_size_follows_the_documented_rules() -> None:
    assert item_size({"ab": {"S": "héllo"}}) == 2 + 6  # UTF-8 bytes of name and value
    assert item_size({"n": {"N": "123.45"}}) == 1 + 4  # 5 digits -> 3 bytes + 1
    assert item_size({"b": {"BOOL": True}, "z": {"NULL": True}}) == 4
    assert item_size({"m": {"M": {"k": {"S": "v"}}}}) == 1 + 3 + 1 + 1 + 1


@pytest.mark.parametrize(("size", "units"), [(1, 1), (1024, 1), (1025, 2), (3000, 3)])
def test_a_put_costs_one_write_unit_per_started_kb(size: int, units: float) -> None:
    assert capacity("PutItem", {"Item": _item(size)}, {}) == (0.0, units)


def test_a_put_of_an_indexed_item_also_writes_the_index() -> None:
    item = _item(600)
    item["gsi1pk"] = {"S": "flow-runs"}
    # table: 1 KB; index entry: item + 100 bytes overhead, still 1 KB
    assert capacity("PutItem", {"Item": item}, {}) == (0.0, 2.0)
    big = _item(1000)
    big["gsi1pk"] = {"S": "flow-runs"}
    assert capacity("PutItem", {"Item": big}, {}) == (0.0, 1.0 + 2.0)


def test_a_failed_condition_costs_the_existing_items_size_or_one() -> None:
    params = {"Item": _item(100)}
    assert capacity("PutItem", params, {"Item": _item(2500)}, ok=False) == (0.0, 3.0)
    assert capacity("PutItem", params, {}, ok=False) == (0.0, 1.0)
    indexed = {"Item": {**_item(100), "gsi1pk": {"S": "flow-runs"}}}
    assert capacity("PutItem", indexed, {}, ok=False) == (0.0, 1.0)  # nothing was indexed


def test_reads_cost_per_started_4kb_halved_when_eventually_consistent() -> None:
    assert capacity("GetItem", {"ConsistentRead": True}, {"Item": _item(5000)}) == (2, 0.0)
    assert capacity("GetItem", {}, {"Item": _item(5000)}) == (1.0, 0.0)
    assert capacity("GetItem", {}, {}) == (0.5, 0.0)  # a miss still costs a read
    items = [_item(3000), _item(3000)]
    assert capacity("Query", {}, {"Items": items}) == (1.0, 0.0)  # 6000 bytes summed first
