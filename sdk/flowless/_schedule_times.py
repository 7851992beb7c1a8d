"""When a schedule fires: the generators behind `flowless.schedules.fire_times`.

The rules (Prefect's, and where flowless departs from them) are in the docstring of
`flowless.schedules`; this module is their arithmetic, kept apart so that the public
module reads as the definition. Each generator yields instants >= ``start``, ascending,
in the schedule's zone, forever (or until croniter finds no later date); callers stop.

The schedules are read through their attributes only, so this module need not import
`flowless.schedules` (which imports it).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from flowless._schedule_checks import croniter_module

if TYPE_CHECKING:
    from flowless.schedules import Cron, Interval

__all__ = ["cron_times", "interval_times"]

_UTC = timezone.utc
_MICROSECOND = timedelta(microseconds=1)

#: No zone is ahead of UTC by more than this (Kiribati: +14:00). Cron times are found in
#: wall-clock order; a wall time n never falls before the instant n - this, which is how
#: far ahead `cron_times` must look to hand out instants in order.
_MAX_UTC_OFFSET = timedelta(hours=15)


def cron_times(schedule: Cron, start: datetime) -> Iterator[datetime]:
    """Instants >= start, ascending: croniter on the wall clock, placed with fold=0.

    Placing a time from a spring-forward gap moves it forward, past wall times that come
    later in croniter's order (Lord Howe's 30-minute gap: 02:10 lands at 02:40, after
    02:30), so instants wait in a heap until no later wall time can precede them.
    """
    croniter = croniter_module()

    zone = schedule.zone
    start_utc = start.astimezone(_UTC)
    local = start_utc.astimezone(zone)
    # Wall times in a gap just before `start` land after it: start that far back.
    earlier = (start_utc - timedelta(days=2)).astimezone(zone)
    gap = max(timedelta(0), _offset(local) - _offset(earlier))
    begin = local.replace(tzinfo=None) - gap - timedelta(minutes=1)
    walker = croniter.croniter(schedule.expression, begin, day_or=schedule.day_or)
    pending: list[datetime] = []
    last: datetime | None = None
    while True:
        try:
            wall = walker.get_next(datetime)
        except croniter.CroniterBadDateError:  # no later date matches (croniter looks 50 years)
            break
        instant = wall.replace(tzinfo=zone).astimezone(_UTC)
        if instant >= start_utc:
            heapq.heappush(pending, instant)
        horizon = wall.replace(tzinfo=_UTC) - _MAX_UTC_OFFSET
        while pending and pending[0] < horizon:
            ready = heapq.heappop(pending)
            if ready != last:
                last = ready
                yield ready.astimezone(zone)
    while pending:
        ready = heapq.heappop(pending)
        if ready != last:
            last = ready
            yield ready.astimezone(zone)


def interval_times(schedule: Interval, start: datetime) -> Iterator[datetime]:
    if schedule.interval.days == 0:
        return _absolute_times(schedule, start)
    return _calendar_times(schedule, start)


def _absolute_times(schedule: Interval, start: datetime) -> Iterator[datetime]:
    """Shorter than a day: every `interval` of real time from the anchor."""
    zone = schedule.zone
    anchor = schedule.anchor.astimezone(_UTC)  # aware + timedelta is wall-clock arithmetic
    step_us = schedule.interval // _MICROSECOND
    behind = (start.astimezone(_UTC) - anchor) // _MICROSECOND
    k = -(-behind // step_us)  # the first k with anchor + k*step >= start
    while True:
        yield (anchor + timedelta(microseconds=k * step_us)).astimezone(zone)
        k += 1


def _calendar_times(schedule: Interval, start: datetime) -> Iterator[datetime]:
    """A day or more: counted on the wall clock from the anchor's wall-clock time.

    The k-th time is the anchor's wall clock plus k intervals, placed in the zone with
    fold=0, computed from the anchor rather than from the previous time, so a time that
    a spring-forward gap moved does not drag the times after it.
    """
    zone = schedule.zone
    anchor = schedule.anchor
    wall = anchor.replace(tzinfo=None)
    step_us = schedule.interval // _MICROSECOND
    start_utc = start.astimezone(_UTC)
    # Offsets differ by hours and the step is at least a day: two steps back is enough.
    k = (start_utc - anchor) // _MICROSECOND // step_us - 2
    last: datetime | None = None
    while True:
        wall_k = wall + timedelta(microseconds=k * step_us)
        instant = wall_k.replace(tzinfo=zone).astimezone(_UTC)
        if instant >= start_utc and instant != last:
            last = instant
            yield instant.astimezone(zone)
        k += 1


def _offset(moment: datetime) -> timedelta:
    offset = moment.utcoffset()
    return offset if offset is not None else timedelta(0)
