"""``concurrency`` and ``rate_limit`` with Prefect's signatures.

No store offers named limits yet (``flowless gcl create`` arrives with the concurrency
issue), so every name is a limit that does not exist, and Prefect's rule for that case
applies: warn ``Concurrency limits [...] do not exist - skipping acquisition.`` and go
on, or raise with ``strict=True``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from flowless.context import get_run_context
from flowless.exceptions import ConcurrencySlotAcquisitionError, MissingContextError

__all__ = ["concurrency", "rate_limit"]


def _names(names: str | list[str]) -> list[str]:
    return [names] if isinstance(names, str) else list(names)


def _missing(names: list[str], occupy: int, strict: bool) -> None:
    if occupy < 1:
        raise ValueError(f"occupy must be at least 1, got {occupy}.")
    if strict:
        raise ConcurrencySlotAcquisitionError(
            f"Concurrency limits {names!r} must be created before acquiring slots"
        )
    message = f"Concurrency limits {names!r} do not exist - skipping acquisition."
    try:
        get_run_context().logger.warning(message)
    except MissingContextError:
        logging.getLogger("flowless.concurrency").warning(message)


def rate_limit(
    names: str | list[str],
    occupy: int = 1,
    timeout_seconds: float | None = None,
    strict: bool = False,
) -> None:
    """Take ``occupy`` slots of each named rate limit, waiting for them to decay free."""
    _missing(_names(names), occupy, strict)


@contextmanager
def concurrency(
    names: str | list[str],
    occupy: int = 1,
    timeout_seconds: float | None = None,
    max_retries: int | None = None,
    lease_duration: float = 300,
    strict: bool = False,
) -> Iterator[None]:
    """Hold ``occupy`` slots of each named limit for the duration of the block."""
    _missing(_names(names), occupy, strict)
    yield
