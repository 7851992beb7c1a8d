"""Taking and giving back slots on a ``LimitStore``: the waiting policy.

An attempt reads the limits and decides locally whether the slots fit (a read is cheaper
than a refused write). Then:

- a lease on limits without decay is one versionless conditional update (``add_lease``:
  ``held <= :limit_minus_n``), so holders never make each other retry; a limit that is
  full because of expired leases gets them removed (a crashed holder's slots come back);
- anything with decay (rate limits, or a lease on a decaying limit) computes the new
  record (``_slots``) and writes it conditionally on the version read; a refused write
  means someone else got there first: retry at once, after a few milliseconds of jitter.

Giving back and renewing a lease are single updates, with no read. Limits that are full
are waited on:

- a limit whose only occupants are draining (rate limits) is free at a known time, so the
  waiter sleeps until then, plus a little jitter so waiters do not all arrive together;
- a limit held by leases frees when a holder releases, which nobody can predict, so the
  waiter backs off exponentially with jitter from 10 ms up to 1 s (and never past the
  earliest lease expiry).

On DynamoDB a waiter costs one strongly consistent read per look: ~1 read unit per second
at the longest backoff.
"""

from __future__ import annotations

import math
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from flowless.concurrency._slots import free_in, taken
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
    #: Seconds spent waiting for full limits (0.0 if the slots were free at the first look;
    #: a few milliseconds lost to another writer's race do not count).
    waited: float
    #: Names asked for that do not exist (skipped, with a warning by the caller).
    missing: tuple[str, ...] = ()
    #: The clock time (epoch seconds) the slots were taken at: what decay counts from.
    at: float = 0.0


def _unable(names: Sequence[str], why: str) -> ConcurrencySlotAcquisitionError:
    return ConcurrencySlotAcquisitionError(
        f"Unable to acquire concurrency slots on {list(names)!r}: {why}"
    )


def _timed_out(timeout_seconds: float | None) -> AcquireConcurrencySlotTimeoutError:
    return AcquireConcurrencySlotTimeoutError(
        f"Attempt to acquire concurrency slots timed out after {timeout_seconds} second(s)"
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
    if isinstance(occupy, bool) or not isinstance(occupy, int) or occupy < 1:
        # Checked before anything is written: a lease of 1.5 slots would be stored, and
        # every later read of the limit would fail on it.
        raise ValueError(f"occupy must be a whole number of slots >= 1, got {occupy!r}.")
    wanted = list(dict.fromkeys(names))
    started = time.monotonic()
    deadline = None if timeout_seconds is None else started + timeout_seconds
    lease_id = uuid.uuid4().hex[:16] if lease_duration is not None else None
    missing: tuple[str, ...] | None = None
    full = conflicts = 0
    fresh: dict[str, LimitRecord] | None = None  # what a refused write told us
    while True:
        records = fresh if fresh is not None else limits.read_limits(wanted)
        fresh = None
        if missing is None:
            missing = tuple(n for n in wanted if n not in records)
            if missing and strict:
                # Prefect's words, and its chain: the acquisition fails, because of this
                raise ConcurrencySlotAcquisitionError(
                    f"Unable to acquire concurrency slots on {list(names)!r}"
                ) from ConcurrencySlotAcquisitionError(
                    f"Concurrency limits {list(names)!r} must be created before acquiring slots"
                )
        active = [records[n] for n in wanted if n in records and records[n].active]
        if not active:
            return Acquired((), occupy, None, 0.0, missing, clock())
        _check(active, wanted, occupy, lease_duration is None)
        now = clock()
        lease = None
        if lease_id is not None and lease_duration is not None:
            lease = Lease(lease_id, occupy, now + lease_duration, holder)
        try:
            if lease is not None and all(r.slot_decay_per_second == 0 for r in active):
                blocking, fresh = _take_lease(limits, active, lease, now)
            else:
                blocking = _take_versioned(limits, active, occupy, lease, now)
        except (RecordConflictError, RecordNotFoundError):
            blocking = None  # someone wrote first, or a limit went: look again, almost at once
        if blocking is None:
            conflicts += 1
            if deadline is not None and time.monotonic() >= deadline:
                raise _timed_out(timeout_seconds)
            sleep(random.uniform(0, 0.002 * 2 ** min(conflicts, 5)))
            continue
        if not blocking:
            waited = time.monotonic() - started if full else 0.0
            taken_names = tuple(r.name for r in active)
            return Acquired(taken_names, occupy, lease_id, waited, missing, now)
        full += 1
        if max_retries is not None and full > max_retries:
            raise _unable(wanted, f"no slots were free after {max_retries} retries")
        delay = _delay(blocking, occupy, now, full)
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _timed_out(timeout_seconds)
            delay = min(delay, left)
        sleep(delay)


def _take_versioned(
    limits: LimitStore, active: list[LimitRecord], occupy: int, lease: Lease | None, now: float
) -> list[LimitRecord]:
    """Where decay must be computed: new records written on the versions read. Returns
    the limits that are full ([] once written); a race raises ``RecordConflictError``."""
    new = [taken(r, occupy, now, lease) for r in active]
    blocking = [r for r, n in zip(active, new, strict=True) if n is None]
    if not blocking:
        limits.write_limits([n for n in new if n is not None])
    return blocking


def _take_lease(
    limits: LimitStore, active: list[LimitRecord], lease: Lease, now: float
) -> tuple[list[LimitRecord] | None, dict[str, LimitRecord] | None]:
    """Limits without decay: one versionless conditional update (``add_lease``). Returns
    (the full limits, or None to look again at once; records to look at instead of a read).

    A limit that looks full because of expired leases gets them removed first: that is
    how a crashed holder's slots come back."""
    held = {r.name: sum(x.slots for x in r.leases) for r in active}
    full = [r for r in active if held[r.name] + lease.slots > r.limit]
    if full:
        expired = [(r.name, x) for r in full for x in r.leases if x.expires <= now]
        for name, old in expired:
            limits.remove_lease(name, old.id, old.slots, expires=old.expires)
        return (None if expired else full), None
    refused = limits.add_lease([r.name for r in active], lease, {r.name: r.limit for r in active})
    if not refused:
        return [], None
    # Someone took the room between our read and our write: their write is in ``refused``.
    records = {r.name: r for r in active}
    records.update(refused)
    return None, records


def _delay(blocking: list[LimitRecord], occupy: int, now: float, attempt: int) -> float:
    """How long to wait before looking again (see the module docstring)."""
    known = max(free_in(r, occupy, now) for r in blocking)
    leased = any(lease.expires > now for r in blocking for lease in r.leases)
    if not leased and math.isfinite(known):
        return known + random.uniform(0, min(0.05, 0.1 * known + 0.005))
    backoff = min(BACKOFF_CAP, BACKOFF_START * 2 ** min(attempt - 1, 10))
    return min(known, random.uniform(backoff / 2, backoff))


def release(limits: LimitStore, acquired: Acquired) -> list[str]:
    """Give a lease's slots back. Returns the limits where the lease was already gone
    (it expired and its slots were reclaimed while the holder still ran)."""
    lease_id = acquired.lease_id
    if lease_id is None:
        return []
    return [
        name for name in acquired.names if not limits.remove_lease(name, lease_id, acquired.occupy)
    ]


def renew(
    limits: LimitStore,
    acquired: Acquired,
    lease_duration: float,
    clock: Callable[[], float] = time.time,
) -> list[str]:
    """Push a lease's expiry to ``lease_duration`` from now. Returns the limits where the
    lease was lost (it expired and someone reclaimed it before this renewal)."""
    lease_id = acquired.lease_id
    if lease_id is None:
        return []
    expires = clock() + lease_duration
    return [name for name in acquired.names if not limits.renew_lease(name, lease_id, expires)]
