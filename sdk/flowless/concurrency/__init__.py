"""Global concurrency limits and rate limits.

``flowless.concurrency.sync`` has ``concurrency`` and ``rate_limit`` (Prefect's API), and
``flowless.concurrency.asyncio`` the same for ``async`` code; this module manages the
limits themselves, as ``flowless gcl`` does. A limit named ``tag:<tag>`` limits the
running task runs that carry that tag.
"""

from flowless.concurrency._admin import (
    GlobalConcurrencyLimit,
    create_limit,
    delete_limit,
    list_limits,
    read_limit,
    update_limit,
)
from flowless.exceptions import AcquireConcurrencySlotTimeoutError, ConcurrencySlotAcquisitionError

__all__ = [
    "AcquireConcurrencySlotTimeoutError",
    "ConcurrencySlotAcquisitionError",
    "GlobalConcurrencyLimit",
    "create_limit",
    "delete_limit",
    "list_limits",
    "read_limit",
    "update_limit",
]
