"""Taking and giving back slots on a ``LimitStore``: the waiting policy.

An attempt reads the limits, computes the new records (``_slots``), and writes them all
conditionally on their versions. A refused write means someone else got there first:
retry at once, after a few milliseconds of jitter. Limits that are full are waited on:

- a limit whose only occupants are draining (rate limits) is free at a known time, so the
  waiter sleeps until then, plus a little jitter so waiters do not all arrive together;
- a limit held by leases frees when a holder releases, which nobody can predict, so the
  waiter backs off exponentially with jitter from 10 ms up to 1 s (and never past the
  earliest lease expiry).

On DynamoDB an attempt costs one strongly consistent read and, when it can take, one
write: a waiter polling once a second is ~1 read unit per second.
"""

from __future__ import annotations

import math
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from flowless.concurrency._slots import free_in, released, renewed, taken
from flowless.exceptions import (
    AcquireConcurrencySlotTimeoutError,
    ConcurrencySlotAcquisitionError,
    RecordConflictError,
    RecordNotFoundError,
)
from flowless.store._limits import Lease, LimitRecord, LimitStore

__all__ = ["Acquired", "acquire", "release", "renew"]

BACKOFF_START = 0.01
BACKOFF_CAP = 1.0


@dataclass(frozen=True)
class Acquired:
    """What an acquisition took: the limits it holds slots of (existing, active ones)."""

    names: tuple[str, ...]
    occupy: int
    #: The lease's id for ``concurrency`` slots; None for ``rate_limit`` (they decay).
    lease_id: str | None
    #: Seconds spent waiting for slots (0.0 if they were free at the first look).
    waited: float
    #: Names asked for that do not exist (skipped, with a warning by the caller).
    missing: tuple[str, ...] = ()


def _unable(names: Sequence[str], why: str) -> ConcurrencySlotAcquisitionError:
    return ConcurrencySlotAcquisitionError(
        f"Unable to acquire concurrency slots on {list(names)!r}: {why}"
    )


def _check(records: list[LimitRecord], names: Sequence[str], occupy: int, rate: bool) -> None:
    if any(occupy > r.limit for r in records):
        raise _unable(names, "Slots requested is greater than the limit")
    if rate:
        flat = [r.name for r in records if r.slot_decay_per_second <= 0]
        if flat:
            raise _unable(
                names,
                "Only concurrency limits with slot decay can be used for rate limiting. The "
                f"following limits do not have a decay configured: {','.join(flat)!r}",
            )


def acquire(
    limits: LimitStore,
    names: Sequence[str],
    occupy: int = 1,
    *,
    lease_duration: float | None,
    timeout_seconds: float | None = None,
    max_retries: int | None = None,
    strict: bool = False,
    holder: str = "",
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> Acquired:
    """Take ``occupy`` slots of every named limit, all or nothing, waiting while they are
    full. ``lease_duration`` None takes them into the decaying pool (``rate_limit``);
    otherwise as a lease that expires unless renewed (``concurrency``)."""
    if occupy < 1:
        raise ValueError(f"occupy must be at least 1, got {occupy}.")
    wanted = list(dict.fromkeys(names))
    started = time.monotonic()
    deadline = None if timeout_seconds is None else started + timeout_seconds
    lease_id = uuid.uuid4().hex[:16] if lease_duration is not None else None
    missing: tuple[str, ...] | None = None
    full = conflicts = 0
    while True:
        records = limits.read_limits(wanted)
        if missing is None:
            missing = tuple(n for n in wanted if n not in records)
            if missing and strict:
                raise ConcurrencySlotAcquisitionError(
                    f"Concurrency limits {list(missing)!r} must be created before acquiring slots"
                )
        active = [records[n] for n in wanted if n in records and records[n].active]
        if not active:
            return Acquired((), occupy, None, time.monotonic() - started, missing)
        _check(active, wanted, occupy, lease_duration is None)
        now = clock()
        lease = None
        if lease_id is not None and lease_duration is not None:
            lease = Lease(lease_id, occupy, now + lease_duration, holder)
        new = [taken(r, occupy, now, lease) for r in active]
        if all(r is not None for r in new):
            try:
                limits.write_limits([r for r in new if r is not None])
            except (RecordConflictError, RecordNotFoundError):
                conflicts += 1  # someone wrote first: look again, almost at once
                sleep(random.uniform(0, 0.002 * 2 ** min(conflicts, 5)))
                continue
            names_taken = tuple(r.name for r in active)
            return Acquired(names_taken, occupy, lease_id, time.monotonic() - started, missing)
        full += 1
        if max_retries is not None and full > max_retries:
            raise _unable(wanted, f"no slots were free after {max_retries} retries")
        blocking = [r for r, n in zip(active, new, strict=True) if n is None]
        delay = _delay(blocking, occupy, now, full)
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AcquireConcurrencySlotTimeoutError(
                    "Attempt to acquire concurrency slots timed out after "
                    f"{timeout_seconds} second(s)"
                )
            delay = min(delay, left)
        sleep(delay)


def _delay(blocking: list[LimitRecord], occupy: int, now: float, attempt: int) -> float:
    """How long to wait before looking again (see the module docstring)."""
    known = max(free_in(r, occupy, now) for r in blocking)
    leased = any(lease.expires > now for r in blocking for lease in r.leases)
    if not leased and math.isfinite(known):
        return known + random.uniform(0, min(0.05, 0.1 * known + 0.005))
    backoff = min(BACKOFF_CAP, BACKOFF_START * 2 ** min(attempt - 1, 10))
    return min(known, random.uniform(backoff / 2, backoff))


def _update(
    limits: LimitStore,
    names: Sequence[str],
    change: Callable[[LimitRecord, float], LimitRecord | None],
    clock: Callable[[], float],
) -> list[str]:
    """Apply ``change`` to each limit and write, retrying on conflicts; the names whose
    ``change`` returned None (their lease was not there) come back."""
    attempt = 0
    while True:
        records = limits.read_limits(names)
        now = clock()
        changed, lost = [], []
        for name in names:
            if name not in records:
                continue  # deleted meanwhile: nothing to give back
            new = change(records[name], now)
            if new is None:
                lost.append(name)
            else:
                changed.append(new)
        if not changed:
            return lost
        try:
            limits.write_limits(changed)
            return lost
        except (RecordConflictError, RecordNotFoundError):
            attempt += 1
            time.sleep(random.uniform(0, 0.002 * 2 ** min(attempt, 5)))


def release(
    limits: LimitStore, acquired: Acquired, clock: Callable[[], float] = time.time
) -> list[str]:
    """Give a lease's slots back. Returns the limits where the lease was already gone
    (it expired and its slots were reclaimed while the holder still ran)."""
    lease_id = acquired.lease_id
    if lease_id is None or not acquired.names:
        return []
    return _update(limits, acquired.names, lambda r, now: released(r, lease_id, now), clock)


def renew(
    limits: LimitStore,
    acquired: Acquired,
    lease_duration: float,
    clock: Callable[[], float] = time.time,
) -> list[str]:
    """Push a lease's expiry to ``lease_duration`` from now. Returns the limits where the
    lease was lost (expired before this renewal)."""
    lease_id = acquired.lease_id
    if lease_id is None or not acquired.names:
        return []
    return _update(
        limits,
        acquired.names,
        lambda r, now: renewed(r, lease_id, now + lease_duration, now),
        clock,
    )
