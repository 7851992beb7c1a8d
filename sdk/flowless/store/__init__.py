"""Where runs are recorded: the ``Store`` protocol, its records, and its backends.

``DynamoDBStore`` is imported on first use, so the embedded engine never loads boto3.
"""

from typing import Any

from flowless.store._protocol import Store
from flowless.store._records import (
    CacheEntry,
    CorruptRecord,
    FlowRunRecord,
    Payload,
    TaskRunRecord,
)
from flowless.store._sqlite import SQLiteStore

__all__ = [
    "CacheEntry",
    "DynamoDBStore",
    "CorruptRecord",
    "FlowRunRecord",
    "Payload",
    "SQLiteStore",
    "Store",
    "TaskRunRecord",
]


def __getattr__(name: str) -> Any:
    if name == "DynamoDBStore":
        from flowless.store._dynamodb import DynamoDBStore

        return DynamoDBStore
    raise AttributeError(f"module 'flowless.store' has no attribute {name!r}")
