"""Where runs are recorded: the ``Store`` protocol, its records, and its backends; and
where concurrency limits live (``LimitStore``).

The DynamoDB classes are imported on first use, so the embedded engine never loads boto3.
"""

from typing import Any

from flowless.store._deployment_state import DeploymentStateStore
from flowless.store._find import AmbiguousFlowRunError, find_flow_run
from flowless.store._limits import Lease, LimitRecord, LimitStore
from flowless.store._protocol import Store
from flowless.store._records import (
    ArtifactRecord,
    CacheEntry,
    CorruptRecord,
    FlowRunRecord,
    LogLine,
    Payload,
    TaskRunRecord,
)
from flowless.store._sqlite import SQLiteStore
from flowless.store._sqlite_limits import SQLiteLimits

__all__ = [
    "AmbiguousFlowRunError",
    "ArtifactRecord",
    "CacheEntry",
    "CorruptRecord",
    "DeploymentStateStore",
    "DynamoDBLimits",
    "DynamoDBStore",
    "FlowRunRecord",
    "Lease",
    "LimitRecord",
    "LimitStore",
    "LogLine",
    "Payload",
    "SQLiteLimits",
    "SQLiteStore",
    "Store",
    "TaskRunRecord",
    "find_flow_run",
]


def __getattr__(name: str) -> Any:
    if name == "DynamoDBStore":
        from flowless.store._dynamodb import DynamoDBStore

        return DynamoDBStore
    if name == "DynamoDBLimits":
        from flowless.store._dynamodb_limits import DynamoDBLimits

        return DynamoDBLimits
    raise AttributeError(f"module 'flowless.store' has no attribute {name!r}")
