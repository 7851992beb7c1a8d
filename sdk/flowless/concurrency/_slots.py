"""The arithmetic of slots: what a limit has occupied now, and who may take what.

Pure functions of a ``LimitRecord`` and a time, shared by every backend (a backend only
reads and conditionally writes records). Property-tested, with the SQLite backend's lease
primitives, against a simple model in ``tests/unit/test_slots_model.py``.

Occupied slots at time t are the slots of unexpired leases plus what is left of the
decaying pool: ``max(0, pool - decay * (t - pool_time))``. A take succeeds when
``occupied + occupy <= limit``; it also drops expired leases, so a crashed holder's slots
are reclaimed by whoever next looks.
"""

from __future__ import annotations

import dataclasses
import math

from flowless.store._limits import Lease, LimitRecord

__all__ = ["free_in", "occupied", "pool_at", "taken"]

#: Float slack: the pool drains continuously, so ``5 - 10 * 0.5`` must count as free.
EPSILON = 1e-9


def pool_at(limit: LimitRecord, now: float) -> float:
    """What is left of the decaying pool at ``now`` (never below zero)."""
    if limit.pool <= 0:
        return 0.0
    elapsed = max(0.0, now - limit.pool_time)  # a writer's clock ahead of ours: no decay
    return max(0.0, limit.pool - limit.slot_decay_per_second * elapsed)


def _live(limit: LimitRecord, now: float) -> tuple[Lease, ...]:
    return tuple(lease for lease in limit.leases if lease.expires > now)


def occupied(limit: LimitRecord, now: float) -> float:
    """Slots in use at ``now``: live leases plus the pool, decay applied."""
    return sum(lease.slots for lease in _live(limit, now)) + pool_at(limit, now)


def taken(limit: LimitRecord, occupy: int, now: float, lease: Lease | None) -> LimitRecord | None:
    """The record after taking ``occupy`` slots at ``now`` (as ``lease``, or into the
    decaying pool when ``lease`` is None), or None if they are not free."""
    live = _live(limit, now)
    pool = pool_at(limit, now)
    if sum(x.slots for x in live) + pool + occupy > limit.limit + EPSILON:
        return None
    if lease is not None:
        live = (*live, lease)
    else:
        pool += occupy
    # Never move pool_time back (a writer whose clock is behind the last one's): the
    # pool would decay over the same seconds twice.
    pool_time = max(now, limit.pool_time)
    return dataclasses.replace(limit, leases=live, pool=pool, pool_time=pool_time, updated=now)


def free_in(limit: LimitRecord, occupy: int, now: float) -> float:
    """Seconds until ``occupy`` slots would be free if nobody released or took anything:
    the pool's decay and the leases' expiries. ``inf`` if only a release can free them."""
    live = _live(limit, now)
    pool = pool_at(limit, now)
    excess = sum(x.slots for x in live) + pool + occupy - limit.limit
    if excess <= EPSILON:
        return 0.0
    # freed(t) = slots of leases expired by now + t, plus min(pool, decay * t): a step
    # function plus a ramp. Walk the segments between expiries for the first t with
    # freed(t) >= excess.
    decay = limit.slot_decay_per_second
    start, freed_by_leases = 0.0, 0
    for end, slots in [*sorted((x.expires - now, x.slots) for x in live), (math.inf, 0)]:
        need = excess - freed_by_leases
        if need <= EPSILON:
            return start
        if decay > 0 and pool >= need - EPSILON and need / decay <= end:
            return max(start, need / decay)
        start, freed_by_leases = end, freed_by_leases + slots
    return math.inf
