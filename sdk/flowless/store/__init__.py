"""Where runs are recorded: the ``Store`` protocol, its records, and its backends."""

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
    "CorruptRecord",
    "FlowRunRecord",
    "Payload",
    "SQLiteStore",
    "Store",
    "TaskRunRecord",
]
