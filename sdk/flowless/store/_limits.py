"""Concurrency limits as stored: one record per limit, and the ``LimitStore`` primitives.

A limit's whole state is one record (one SQLite row, one DynamoDB item), so every change
is a single conditional write on its ``version``: there is no counter that a crashed
holder could leave wrong. Slots are held two ways:

- **leases**, taken by ``concurrency()`` and by tag limits: each names its slots and an
  expiry. A holder renews its lease while it runs; a holder that dies stops renewing, and
  the next acquirer drops the expired lease, so the slots come back with no one's help.
  On a limit without decay, taking, giving back and renewing a lease are single
  conditional updates with no version (``add_lease`` compares the slots held with the
  room left, ``held <= :limit_minus_n``), so holders of one limit never make each other
  retry; only a full limit refuses.
- the **decaying pool**, taken by ``rate_limit()``: slots that are never released but
  drain at ``slot_decay_per_second`` (``pool`` slots as of ``pool_time``).

The arithmetic on these (what is occupied now, who may take what) is policy and lives in
``flowless.concurrency``; a backend only reads and conditionally writes records, so one
contract suite proves every backend means the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from flowless.store._records import CorruptRecord

__all__ = ["Lease", "LimitRecord", "LimitStore", "TAG_PREFIX"]

#: Task concurrency by tag is the global limit named ``tag:<tag>`` (as in Prefect 3).
TAG_PREFIX = "tag:"


@dataclass(frozen=True, slots=True)
class Lease:
    id: str
    slots: int
    #: Epoch seconds after which the slots are free again unless renewed.
    expires: float
    #: Who holds it, for ``gcl inspect`` (a task run, or ``host:pid``).
    holder: str = ""


@dataclass(frozen=True, slots=True)
class LimitRecord:
    name: str
    limit: int
    slot_decay_per_second: float = 0.0
    active: bool = True
    #: Slots taken by ``rate_limit`` as of ``pool_time``, draining at the decay rate.
    pool: float = 0.0
    pool_time: float = 0.0
    leases: tuple[Lease, ...] = field(default_factory=tuple)
    created: float = 0.0
    updated: float = 0.0
    #: Bumped by every write; a write based on an older version is refused.
    version: int = 0


@runtime_checkable
class LimitStore(Protocol):
    #: Where the limits live, for error messages.
    location: str

    def create_limit(self, limit: LimitRecord) -> None:
        """Insert a new limit (stored at version 0); ``RecordExistsError`` if the name is
        taken."""

    def read_limits(self, names: Sequence[str]) -> dict[str, LimitRecord]:
        """The limits of these names that exist, read consistently (what a conditional
        write will be checked against). ``CorruptRecordError`` if one is undecodable."""

    def list_limits(self) -> list[LimitRecord | CorruptRecord]:
        """Every limit, by name."""

    def write_limits(self, limits: Sequence[LimitRecord]) -> None:
        """Replace each limit if its stored version is still ``limit.version`` (it is
        then stored as ``version + 1``). All or nothing: ``RecordConflictError`` if any
        was changed since it was read, ``RecordNotFoundError`` if any is gone."""

    def delete_limit(self, name: str) -> None:
        """Remove a limit; ``RecordNotFoundError`` if there is none of that name."""

    # -- leases on limits without decay: no version, so holders never race each other ----

    def add_lease(
        self, names: Sequence[str], lease: Lease, limit: Mapping[str, int]
    ) -> dict[str, LimitRecord]:
        """Add ``lease`` to every named limit, all or nothing, if on each: the limit is
        still ``limit[name]``, active, without decay, and the slots of its leases (expired
        ones included: they count until someone removes them) plus ``lease.slots`` fit.
        Returns ``{}`` on success, else the limits that refused, as stored now.
        ``RecordNotFoundError`` if one of them is gone."""

    def remove_lease(
        self, name: str, lease_id: str, slots: int, expires: float | None = None
    ) -> bool:
        """Take the lease off the limit (only if its expiry is still ``expires``, when
        given: reclaiming an expired lease must not remove one just renewed). False if
        it was not there."""

    def renew_lease(self, name: str, lease_id: str, expires: float) -> bool:
        """Move the lease's expiry to ``expires``; False if it is no longer there."""
