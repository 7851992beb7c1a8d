"""Managing limits from Python (what ``flowless gcl`` and ``flowless concurrency-limit`` call).

A limit is read back as a ``GlobalConcurrencyLimit``: its settings plus the slots in use
*now*, decay applied and expired leases left out, never a stale counter.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from flowless.concurrency._slots import occupied, pool_at
from flowless.exceptions import ConfigurationError, RecordConflictError, RecordNotFoundError
from flowless.store._limits import TAG_PREFIX, Lease, LimitRecord, LimitStore
from flowless.store._records import CorruptRecord

__all__ = [
    "GlobalConcurrencyLimit",
    "create_limit",
    "delete_limit",
    "list_limits",
    "read_limit",
    "reset_limit",
    "update_limit",
]


@dataclass(frozen=True)
class GlobalConcurrencyLimit:
    name: str
    limit: int
    active: bool
    slot_decay_per_second: float
    #: Slots in use at the time of reading (leases held plus what has not yet decayed).
    active_slots: float
    #: The leases held now (expired ones left out).
    leases: tuple[Lease, ...]
    created: float
    updated: float

    @property
    def tag(self) -> str | None:
        """The task tag this limit applies to, for ``tag:<tag>`` limits."""
        return self.name.removeprefix(TAG_PREFIX) if self.name.startswith(TAG_PREFIX) else None


def _view(record: LimitRecord, now: float) -> GlobalConcurrencyLimit:
    return GlobalConcurrencyLimit(
        name=record.name,
        limit=record.limit,
        active=record.active,
        slot_decay_per_second=record.slot_decay_per_second,
        active_slots=round(occupied(record, now), 6),
        leases=tuple(x for x in record.leases if x.expires > now),
        created=record.created,
        updated=record.updated,
    )


def _store(limits: LimitStore | None) -> LimitStore:
    if limits is not None:
        return limits
    from flowless.engine._runtime import current_runtime

    return current_runtime().limits


def _validate(name: str | None, limit: int | None, decay: float | None) -> None:
    if name is not None and (not name or name != name.strip() or len(name) > 200):
        raise ConfigurationError(
            f"A concurrency limit's name must be 1-200 characters without surrounding "
            f"spaces, got {name!r}."
        )
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ConfigurationError(f"limit must be a whole number >= 0, got {limit!r}.")
    if decay is not None and (
        isinstance(decay, bool)
        or not isinstance(decay, (int, float))
        or not math.isfinite(decay)
        or decay < 0
    ):
        raise ConfigurationError(
            f"slot_decay_per_second must be a finite number >= 0, got {decay!r}."
        )


def create_limit(
    name: str,
    limit: int,
    slot_decay_per_second: float = 0.0,
    active: bool = True,
    *,
    limits: LimitStore | None = None,
) -> GlobalConcurrencyLimit:
    """Create a limit (``RecordExistsError`` if the name is taken)."""
    _validate(name, limit, slot_decay_per_second)
    now = time.time()
    record = LimitRecord(
        name=name,
        limit=limit,
        slot_decay_per_second=float(slot_decay_per_second),
        active=active,
        pool_time=now,
        created=now,
        updated=now,
    )
    _store(limits).create_limit(record)
    return _view(record, now)


def read_limit(name: str, *, limits: LimitStore | None = None) -> GlobalConcurrencyLimit:
    """The limit as it is now (``RecordNotFoundError`` if there is none)."""
    found = _store(limits).read_limits([name])
    if name not in found:
        raise RecordNotFoundError(f"Concurrency limit {name!r} not found.")
    return _view(found[name], time.time())


def list_limits(
    *, limits: LimitStore | None = None
) -> list[GlobalConcurrencyLimit | CorruptRecord]:
    now = time.time()
    return [
        x if isinstance(x, CorruptRecord) else _view(x, now) for x in _store(limits).list_limits()
    ]


def _rewrite(
    store: LimitStore, name: str, change: Callable[[LimitRecord, float], dict[str, object]]
) -> tuple[LimitRecord, float]:
    """Apply ``change`` (the fields to replace, from the record and the time) with a
    versioned write, again on the new state whenever a holder got in between; the stored
    record and the time."""
    while True:
        found = store.read_limits([name])
        if name not in found:
            raise RecordNotFoundError(f"Concurrency limit {name!r} not found.")
        now = time.time()
        changes = change(found[name], now)
        new = dataclasses.replace(found[name], updated=now, **changes)  # type: ignore[arg-type]
        try:
            store.write_limits([new])
        except RecordConflictError:
            continue
        return dataclasses.replace(new, version=new.version + 1), now


def update_limit(
    name: str,
    *,
    limit: int | None = None,
    slot_decay_per_second: float | None = None,
    active: bool | None = None,
    limits: LimitStore | None = None,
) -> GlobalConcurrencyLimit:
    """Change a limit's settings; holders keep their slots (a lower limit makes new
    acquirers wait until enough are given back)."""
    _validate(None, limit, slot_decay_per_second)

    def change(record: LimitRecord, now: float) -> dict[str, object]:
        changes: dict[str, object] = {}
        if limit is not None:
            changes["limit"] = limit
        if slot_decay_per_second is not None:
            # Settle the pool at the old rate before the new one applies; a limit without
            # decay has no rate-limited slots, since nothing would drain them.
            pool = pool_at(record, now) if slot_decay_per_second > 0 else 0.0
            changes.update(
                slot_decay_per_second=float(slot_decay_per_second), pool=pool, pool_time=now
            )
        if active is not None:
            changes["active"] = active
        return changes

    return _view(*_rewrite(_store(limits), name, change))


def reset_limit(name: str, *, limits: LimitStore | None = None) -> GlobalConcurrencyLimit:
    """Give back every slot (``concurrency-limit reset``): leases and pool are dropped,
    and the holders' releases then find nothing to give back."""
    return _view(
        *_rewrite(
            _store(limits), name, lambda _, now: {"leases": (), "pool": 0.0, "pool_time": now}
        )
    )


def delete_limit(name: str, *, limits: LimitStore | None = None) -> None:
    """Remove a limit; its holders' releases then find nothing to give back."""
    _store(limits).delete_limit(name)
