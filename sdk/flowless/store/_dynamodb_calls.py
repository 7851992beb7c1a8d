"""The one boundary where botocore's DynamoDB errors become flowless errors.

Both DynamoDB classes (the run store and the concurrency limits) call the client through
``call``: a failed condition becomes ``ConditionFailed`` carrying the stored item (asked
back with ``ReturnValuesOnConditionCheckFailure=ALL_OLD``), a cancelled transaction
``TransactionFailed`` with one entry per action, a missing table an error that says how
to create it, and everything else a ``StoreError`` naming what was being done.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flowless.exceptions import StoreError, StoreUnavailableError

__all__ = ["ConditionFailed", "Item", "TransactionFailed", "batch_write", "call"]

Item = dict[str, dict[str, Any]]


class ConditionFailed(Exception):
    def __init__(self, item: Item | None) -> None:
        self.item = item


class TransactionFailed(Exception):
    """Some actions' conditions failed: ``reasons[i]`` is action i's reason code
    (``"None"`` if it was fine) and ``items[i]`` its stored item, when asked for."""

    def __init__(self, reasons: list[str], items: list[Item | None]) -> None:
        self.reasons = reasons
        self.items = items


def call(
    client: Any, table_name: str, location: str, action: str, operation: str, **kwargs: Any
) -> Any:
    """``client.<operation>(**kwargs)`` on ``table_name`` (transactions and batches name
    the table in each request instead)."""
    from botocore.exceptions import BotoCoreError, ClientError

    if not operation.startswith(("transact_", "batch_")):
        kwargs["TableName"] = table_name
    try:
        return getattr(client, operation)(**kwargs)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = error.get("Code", "")
        if code == "ConditionalCheckFailedException":
            item: Item | None = exc.response.get("Item")  # type: ignore[assignment]
            raise ConditionFailed(item) from None
        if code == "TransactionCanceledException":
            reasons: list[Any] = list(exc.response.get("CancellationReasons", []))
            if any(r.get("Code") == "ConditionalCheckFailed" for r in reasons):
                raise TransactionFailed(
                    [str(r.get("Code", "None")) for r in reasons],
                    [r.get("Item") for r in reasons],
                ) from None
        if code == "ResourceNotFoundException":
            raise StoreUnavailableError(
                f"The DynamoDB table {table_name!r} does not exist in {location}. "
                "Create it with `sam deploy` (template.yaml), or set FLOWLESS_TABLE to the "
                "name of the deployed table."
            ) from exc
        raise StoreError(
            f"DynamoDB could not {action} in {location}: {code}: {error.get('Message', exc)}"
        ) from exc
    except BotoCoreError as exc:
        raise StoreUnavailableError(
            f"Cannot reach DynamoDB to {action} in {location}: {exc}"
        ) from exc


def batch_write(
    call: Callable[..., Any], table_name: str, action: str, requests: list[Any]
) -> list[Any]:
    """``BatchWriteItem`` (at most 25 requests), sending back what DynamoDB left
    unprocessed with growing pauses, as AWS advises; what is still unprocessed after
    eight tries (the caller says what that means)."""
    for attempt in range(8):
        response = call(action, "batch_write_item", RequestItems={table_name: requests})
        requests = response.get("UnprocessedItems", {}).get(table_name, [])
        if not requests:
            return []
        time.sleep(min(0.05 * 2**attempt, 2.0))
    return requests
