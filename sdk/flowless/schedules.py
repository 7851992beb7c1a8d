"""Schedules with Prefect 3's names (`prefect.schedules.Cron` / `Interval`) and fire times.

This is a definition: pure data and arithmetic, no I/O. `serve` asks it when a schedule
fires; the deploy step translates it for EventBridge Scheduler (`deploy/_cron.py`); both
key a run on `slot_key`, so a slot fires once wherever it is served.

What Prefect does, and so what this module does. Read in Prefect's source,
`src/prefect/server/schemas/schedules.py` (`CronSchedule._get_dates_generator`,
`IntervalSchedule._get_dates_generator`) and `tests/server/schemas/test_schedules.py`
(`Test*DaylightSavingsTime`), and checked by running Prefect 3.9.1's `get_dates` over
all of 2027 against `fire_times`: its pendulum path (Python < 3.13) and its `whenever`
path (3.13+; run on 3.11 by forcing that branch). Cron: identical for every case tried,
Lord Howe's 30-minute shift included, except that Prefect's `end` is inclusive:

- **Cron** is evaluated by croniter on the *naive wall clock* of the schedule's zone
  (`day_or` passed through), and each wall-clock time is placed in the zone as Python
  does with ``fold=0`` (PEP 495; `whenever`'s "compatible"):
  - a time that does not exist (spring forward: 02:30 on 2027-03-14 in New York) moves
    forward by the size of the gap and fires at 03:30 EDT. Where that lands on a time
    the cron also names, the two are one run (Prefect drops duplicates): an hourly cron
    has 01:00 and 03:00 that night, one run at 03:00.
  - a time that happens twice (fall back: 01:30 on 2027-11-07) fires once, at its first
    occurrence (EDT), so an hourly cron pauses two hours, as Prefect documents.
- **Interval** counts from ``anchor_date``, which is a phase, not a start: times before
  the anchor exist too (Prefect's `test_get_dates_from_future_anchor`). Shorter than a
  day, it is absolute time (hourly is every 60 real minutes; the clock shows 01:00 twice
  on fall-back night, as Prefect's 3.13+ path and its docs say; its pendulum path does
  not). A day or more, it is counted on the wall clock: daily at 09:00 stays 09:00
  across DST ("intervals greater than 24 hours follow DST conventions").
  Where Prefect's answer depends on where it started counting, flowless takes the k-th
  time as the anchor's wall clock plus k intervals, always:
  - a daily interval anchored at 02:30 New York runs at 03:30 on 2027-03-14 and at 02:30
    again the next day (Prefect stays at 03:30 from the gap on);
  - 36 hours anchored at 09:00 stays on 09:00/21:00 all year (Prefect's 3.13+ path
    slips to 08:00/20:00 after fall back).
  No ``anchor_date`` means 2020-01-01 00:00 on the schedule's wall clock (Prefect: the
  moment the object was created), so the times, the derived slug and the dedupe keys do
  not move each time a project is built.
  A ``timezone`` of None is UTC, except that an interval whose ``anchor_date`` carries a
  `ZoneInfo` takes that zone, as Prefect's `default_timezone` infers it.
- Prefect's vendored croniter rejects ``W`` (nearest weekday); croniter 7, used here,
  accepts it. Random and hashed fields (``H``, ``R``) are rejected, as in Prefect.

Cron and Interval validate on construction and raise `ScheduleError` (a `ValueError`)
with a message that names the field and the fix. Those checks live in
`flowless._schedule_checks`, the fire-time arithmetic in `flowless._schedule_times`:
this module stays the definition, and imports neither croniter nor anything heavy.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, TypeAlias
from zoneinfo import ZoneInfo

from flowless._schedule_checks import (
    ScheduleError,
    check_common,
    check_cron,
    check_interval,
    check_zone,
    normal_cron,
    require_aware,
)
from flowless._schedule_times import cron_times, interval_times

__all__ = [
    "Cron",
    "Interval",
    "Schedule",
    "ScheduleError",
    "fire_times",
    "next_fire_times",
    "slot_key",
    "slug_of",
]

_UTC = timezone.utc
_MICROSECOND = timedelta(microseconds=1)

#: The phase of an interval without anchor_date: a fixed wall-clock moment, so that
#: rebuilding a project never moves its fire times.
_DEFAULT_ANCHOR = datetime(2020, 1, 1)


@dataclass(frozen=True)
class Cron:
    """Runs at the times a 5-field cron expression names, on the zone's wall clock.

    Same fields as `prefect.schedules.Cron`. `day_or=True` (cron's rule) runs on a day
    that matches the day-of-month *or* the day-of-week when both are restricted;
    `day_or=False` needs both (e.g. days 8-14 and Friday: the second Friday).
    """

    cron: str
    timezone: str | None = None
    day_or: bool = True
    active: bool = True
    parameters: dict[str, Any] = field(default_factory=dict, hash=False)
    slug: str | None = None

    def __post_init__(self) -> None:
        check_zone(self.timezone)
        check_cron(self.cron, self.day_or)
        check_common(self.active, self.parameters, self.slug)

    @property
    def expression(self) -> str:
        """The expression as croniter reads it: aliases spelled out, single spaces."""
        return normal_cron(self.cron)

    @property
    def zone(self) -> ZoneInfo:
        return check_zone(self.timezone)


@dataclass(frozen=True)
class Interval:
    """Runs every `interval`, counted from `anchor_date` (a phase, not a start time).

    Same fields as `prefect.schedules.Interval`; a number is seconds. A naive
    `anchor_date` is wall-clock time in `timezone`.
    """

    interval: timedelta
    anchor_date: datetime | None = None
    timezone: str | None = None
    active: bool = True
    parameters: dict[str, Any] = field(default_factory=dict, hash=False)
    slug: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "interval", check_interval(self.interval))
        anchor = self.anchor_date
        if anchor is not None and not isinstance(anchor, datetime):
            raise ScheduleError(
                f"anchor_date must be a datetime, got {anchor!r}: "
                "write e.g. datetime(2027, 1, 1, 9, 30) (wall clock in the schedule's timezone)"
            )
        check_zone(self.timezone)
        check_common(self.active, self.parameters, self.slug)

    @property
    def zone(self) -> ZoneInfo:
        """`timezone`, else the anchor's own `ZoneInfo` (as Prefect infers it), else UTC."""
        if self.timezone is None and self.anchor_date is not None:
            tz = self.anchor_date.tzinfo
            if isinstance(tz, ZoneInfo):
                return tz
        return check_zone(self.timezone)

    @property
    def anchor(self) -> datetime:
        """The anchor as an aware datetime in `zone` (the default anchor if none)."""
        zone = self.zone
        anchor = _DEFAULT_ANCHOR if self.anchor_date is None else self.anchor_date
        if anchor.tzinfo is None or anchor.utcoffset() is None:
            anchor = anchor.replace(tzinfo=zone)
        # Through UTC: astimezone(zone) on a time already in `zone` would not normalise a
        # wall time that a spring-forward gap skips.
        return anchor.astimezone(_UTC).astimezone(zone)


Schedule: TypeAlias = Cron | Interval


def fire_times(schedule: Schedule, start: datetime, end: datetime) -> Iterator[datetime]:
    """Every time `schedule` fires with ``start <= t < end``, in order, in its zone."""
    require_aware(start, "start")
    require_aware(end, "end")
    for when in _times_from(schedule, start):
        if when >= end:
            return
        yield when


def next_fire_times(schedule: Schedule, after: datetime, n: int) -> list[datetime]:
    """The first `n` fire times strictly after `after` (fewer if the schedule ends)."""
    require_aware(after, "after")
    if n < 0:
        raise ScheduleError(f"n must be >= 0, got {n}")
    found: list[datetime] = []
    if n == 0:
        return found
    for when in _times_from(schedule, after):
        if when > after:
            found.append(when)
            if len(found) == n:
                break
    return found


def slug_of(schedule: Schedule) -> str:
    """The schedule's slug: the user's, else one derived from what makes it fire.

    The derived slug hashes the timing (normalised expression, zone, day_or / interval,
    resolved anchor) and the parameters, so it survives a rebuild, and two schedules
    that differ only in parameters (same times, different arguments) keep apart: the
    slug is part of every run's dedupe key. Set `slug` to keep one across edits.
    """
    if schedule.slug is not None:
        return schedule.slug
    basis: dict[str, Any]
    if isinstance(schedule, Cron):
        kind = "cron"
        basis = {
            "cron": schedule.expression,
            "timezone": schedule.zone.key,
            "day_or": schedule.day_or,
        }
    else:
        kind = "interval"
        basis = {
            "interval_us": schedule.interval // _MICROSECOND,
            "anchor": schedule.anchor.astimezone(_UTC).isoformat(),
            "timezone": schedule.zone.key,
        }
    basis["parameters"] = schedule.parameters
    text = json.dumps(basis, sort_keys=True, separators=(",", ":"), default=str)
    return f"{kind}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def slot_key(deployment: str, slug: str, nominal: datetime) -> str:
    """The dedupe key of one scheduled run: ``deployment|slug|2027-03-14T07:30:00Z``.

    `nominal` is the time the slot was due, not when it was noticed; the same instant
    written in any zone gives the same key.
    """
    require_aware(nominal, "nominal")
    for name, value in (("deployment", deployment), ("slug", slug)):
        if not value or "|" in value:
            raise ScheduleError(f"{name} must be a non-empty name without '|', got {value!r}")
    return f"{deployment}|{slug}|{nominal.astimezone(_UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}"


def _times_from(schedule: Schedule, start: datetime) -> Iterator[datetime]:
    if isinstance(schedule, Cron):
        return cron_times(schedule, start)
    return interval_times(schedule, start)
