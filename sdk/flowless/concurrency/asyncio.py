"""``concurrency`` and ``rate_limit`` for ``async`` code, as ``prefect.concurrency.asyncio``.

The same limits, messages and waiting policy as ``flowless.concurrency.sync``: these are
that module's functions, run off the event loop (``_off_loop``). So a coroutine waiting
for a slot leaves the loop free for the other coroutines, among them the holder that
will give the slot back, and there is one implementation of acquiring, holding, renewing
and releasing slots, not a second async one.

If the waiting coroutine is cancelled, slots that its wait goes on to take are given back
at once; a ``rate_limit`` slot, once taken, only decays.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from flowless.concurrency import sync
from flowless.concurrency._off_loop import off_loop
from flowless.exceptions import AcquireConcurrencySlotTimeoutError, ConcurrencySlotAcquisitionError

__all__ = [
    "AcquireConcurrencySlotTimeoutError",
    "ConcurrencySlotAcquisitionError",
    "concurrency",
    "rate_limit",
]


@asynccontextmanager
async def concurrency(
    names: str | list[str],
    occupy: int = 1,
    timeout_seconds: float | None = None,
    max_retries: int | None = None,
    lease_duration: float = 300,
    strict: bool = False,
) -> AsyncIterator[None]:
    """``async with concurrency("db"):`` holds ``occupy`` slots of each named limit for
    the block; see ``flowless.concurrency.sync.concurrency`` for the rules."""
    held = sync.concurrency(names, occupy, timeout_seconds, max_retries, lease_duration, strict)
    await off_loop(held.__enter__, undo=lambda _: held.__exit__(None, None, None))
    try:
        yield
    finally:
        # Given back on its thread even if this coroutine is cancelled while it waits.
        # The block's exception is not passed in: releasing is the same either way, and
        # it goes on propagating from here.
        await off_loop(partial(held.__exit__, None, None, None))


async def rate_limit(
    names: str | list[str],
    occupy: int = 1,
    timeout_seconds: float | None = None,
    strict: bool = False,
) -> None:
    """``await rate_limit("api")`` takes ``occupy`` slots of each named rate limit, waiting
    for them to decay free; see ``flowless.concurrency.sync.rate_limit``."""
    await off_loop(partial(sync.rate_limit, names, occupy, timeout_seconds, strict))
