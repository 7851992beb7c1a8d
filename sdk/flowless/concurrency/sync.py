"""``concurrency`` and ``rate_limit`` with Prefect's signatures and messages.

Limits are created beforehand (``flowless gcl create NAME --limit N``, or
``flowless.concurrency.create_limit``). A name that does not exist warns ``Concurrency
limits [...] do not exist - skipping acquisition.`` and the block runs without its slots
(``strict=True`` raises instead); a disabled limit is skipped silently; several names are
taken all or nothing. A wait shows in the run's log once the slots are taken.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flowless.concurrency._acquire import Acquired, acquire, release
from flowless.concurrency._leases import keep, stop_keeping
from flowless.context import get_run_context
from flowless.exceptions import MissingContextError

__all__ = ["concurrency", "rate_limit"]


def _names(names: str | list[str]) -> list[str]:
    return [names] if isinstance(names, str) else list(names)


def _logger() -> tuple[Any, bool]:
    """The run's logger (and True), or the module's outside runs."""
    try:
        return get_run_context().logger, True
    except MissingContextError:
        return logging.getLogger("flowless.concurrency"), False


def _holder() -> str:
    try:
        ctx: Any = get_run_context()
        run = getattr(ctx, "task_run", None) or getattr(ctx, "flow_run", None)
        if run is not None:
            return f"{run.name} ({run.id})"
    except MissingContextError:
        pass
    return f"{socket.gethostname()}:{os.getpid()}"


def _report(acquired: Acquired) -> None:
    logger, in_run = _logger()
    if acquired.missing:
        logger.warning(
            "Concurrency limits %r do not exist - skipping acquisition.", list(acquired.missing)
        )
    if acquired.names and acquired.waited > 0:
        # In a run's log a wait explains its duration; outside runs it is noise (DEBUG).
        logger.log(
            logging.INFO if in_run else logging.DEBUG,
            "Waited %.2fs for %d slot(s) of %r",
            acquired.waited,
            acquired.occupy,
            list(acquired.names),
        )


def _limits() -> Any:
    from flowless.engine._runtime import current_runtime

    return current_runtime().limits


def rate_limit(
    names: str | list[str],
    occupy: int = 1,
    timeout_seconds: float | None = None,
    strict: bool = False,
) -> None:
    """Take ``occupy`` slots of each named rate limit, waiting for them to decay free.
    The slots are never given back: they drain at the limit's ``slot_decay_per_second``."""
    wanted = _names(names)
    if not wanted:
        return
    acquired = acquire(
        _limits(),
        wanted,
        occupy,
        lease_duration=None,
        timeout_seconds=timeout_seconds,
        strict=strict,
    )
    _report(acquired)


@contextmanager
def concurrency(
    names: str | list[str],
    occupy: int = 1,
    timeout_seconds: float | None = None,
    max_retries: int | None = None,
    lease_duration: float = 300,
    strict: bool = False,
) -> Iterator[None]:
    """Hold ``occupy`` slots of each named limit for the duration of the block.

    The slots are a lease of ``lease_duration`` seconds, renewed in the background while
    the block runs: if the process dies, they are free again within that time."""
    wanted = _names(names)
    if not wanted:
        yield
        return
    if lease_duration <= 0:
        raise ValueError(f"lease_duration must be positive, got {lease_duration}.")
    limits = _limits()
    acquired = acquire(
        limits,
        wanted,
        occupy,
        lease_duration=lease_duration,
        timeout_seconds=timeout_seconds,
        max_retries=max_retries,
        strict=strict,
        holder=_holder(),
    )
    _report(acquired)
    keep(limits, acquired, lease_duration)
    try:
        yield
    finally:
        stop_keeping(acquired)
        lost = release(limits, acquired)
        if lost:
            _logger()[0].warning(
                "The concurrency lease on %r had expired before it was released: its slots "
                "may have been given to someone else meanwhile.",
                lost,
            )
