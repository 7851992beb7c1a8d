"""The text `flowless schedule explain NAME` prints.

A schedule is read three ways that must agree: the user's cron or interval, what
EventBridge Scheduler is sent, and the times `flowless serve` fires. This puts them side
by side, times in the schedule's zone and in UTC, and names each DST moment in view
where AWS and `serve` part (a time that does not exist) or where a time happens twice.
"""

from __future__ import annotations

import importlib
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from flowless.deploy._cron import UntranslatableSchedule, to_eventbridge
from flowless.schedules import Cron, Interval, Schedule, next_fire_times, slug_of

__all__ = ["explain"]

_UTC = timezone.utc
_MINUTE = timedelta(minutes=1)


def explain(schedule: Schedule, *, now: datetime, count: int = 10) -> str:
    """The expression(s) sent to AWS, the next `count` fire times, and DST warnings."""
    zone = schedule.zone
    lines = [f"Schedule {slug_of(schedule)}: {_describe(schedule)}"]
    deployed = True
    try:
        aws = to_eventbridge(schedule)
    except UntranslatableSchedule as exc:
        deployed = False
        lines.append(f"EventBridge Scheduler: cannot be deployed to AWS: {exc}")
        lines.append("It can still be served locally (flowless serve).")
    else:
        lines.append("EventBridge Scheduler:")
        for item in aws:
            start = ""
            if item.start_date is not None:
                start = f"  (StartDate on the grid of {item.start_date:%Y-%m-%dT%H:%M:%SZ})"
            lines.append(f"  {item.expression}  timezone {item.timezone}{start}")
    times = next_fire_times(schedule, now, count)
    lines.append("")
    lines.append(f"Next {len(times)} fire times after {now.astimezone(_UTC):%Y-%m-%d %H:%M} UTC:")
    lines.extend(_table(zone, times))
    warnings = _dst_warnings(schedule, now, times[-1] if times else now, deployed)
    if warnings:
        lines.append("")
        lines.append("Warnings:")
        lines.extend(f"  - {warning}" for warning in warnings)
    return "\n".join(lines) + "\n"


def _describe(schedule: Schedule) -> str:
    zone = schedule.zone.key
    if isinstance(schedule, Cron):
        days = "" if schedule.day_or else ", day_or=False (day-of-month AND day-of-week)"
        return f"cron {schedule.cron!r} in {zone}{days}"
    anchor = schedule.anchor
    return f"every {schedule.interval} from {anchor:%Y-%m-%d %H:%M:%S} {zone}"


def _table(zone: ZoneInfo, times: list[datetime]) -> list[str]:
    seconds = any(t.second or t.microsecond for t in times)
    clock = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    rows = [(zone.key, "UTC")]
    rows += [(f"{t:{clock}} {t.tzname()}", f"{t.astimezone(_UTC):{clock}}") for t in times]
    width = max(len(left) for left, _ in rows)
    return [f"  {left:<{width}}  {right}" for left, right in rows]


# -- DST --------------------------------------------------------------------------------


def _dst_warnings(schedule: Schedule, start: datetime, last: datetime, deployed: bool) -> list[str]:
    zone = schedule.zone
    wall_clock = isinstance(schedule, Cron) or schedule.interval >= timedelta(days=1)
    warnings = []
    for moment, before, after in _transitions(zone, start, last + timedelta(days=1)):
        if moment > last:
            break
        if not wall_clock:
            warnings.append(
                f"clocks in {zone.key} change at {moment:%Y-%m-%d %H:%M} UTC: an interval "
                "shorter than a day counts real time, so its local times move by "
                f"{_size(after - before)}"
            )
            continue
        local_start = (moment + before).replace(tzinfo=None)
        size = abs(after - before)
        if after > before:
            for wall in _named(schedule, local_start, local_start + size):
                warnings.append(_gap_warning(schedule, zone, wall, deployed))
        else:
            repeated_from = (moment + after).replace(tzinfo=None)
            for wall in _named(schedule, repeated_from, repeated_from + size):
                first = wall.replace(tzinfo=zone)
                warnings.append(
                    f"{wall:%Y-%m-%d %H:%M} {zone.key} happens twice (fall back): it runs "
                    f"once, at the first ({first:%H:%M %Z} = "
                    f"{first.astimezone(_UTC):%H:%M} UTC)"
                )
    return warnings


def _gap_warning(schedule: Schedule, zone: ZoneInfo, wall: datetime, deployed: bool) -> str:
    shifted = wall.replace(tzinfo=zone).astimezone(_UTC).astimezone(zone)
    head = f"{wall:%Y-%m-%d %H:%M} {zone.key} does not exist (spring forward)"
    if list(_named(schedule, shifted.replace(tzinfo=None), shifted.replace(tzinfo=None) + _MINUTE)):
        return f"{head}: it is the {shifted:%H:%M %Z} run, which runs once"
    if deployed:
        return f"{head}: this slot is skipped on AWS; flowless serve runs it at {shifted:%H:%M %Z}"
    return f"{head}: flowless serve runs it at {shifted:%H:%M %Z}"


def _named(schedule: Schedule, begin: datetime, end: datetime) -> list[datetime]:
    """Wall-clock minutes in [begin, end) that the schedule names."""
    found = []
    if isinstance(schedule, Cron):
        croniter: Any = importlib.import_module("croniter").croniter
        wall = begin.replace(second=0, microsecond=0)
        if wall < begin:
            wall += _MINUTE
        while wall < end:
            if croniter.match(schedule.expression, wall, day_or=schedule.day_or):
                found.append(wall)
            wall += _MINUTE
        return found
    assert isinstance(schedule, Interval)
    anchor = schedule.anchor.replace(tzinfo=None)
    step = schedule.interval
    k = -(-(begin - anchor) // step)  # the first wall time at or after begin
    while anchor + step * k < end:
        found.append(anchor + step * k)
        k += 1
    return found


def _transitions(
    zone: ZoneInfo, start: datetime, end: datetime
) -> list[tuple[datetime, timedelta, timedelta]]:
    """(UTC instant, offset before, offset after) for each change of offset in range."""
    found = []
    day = timedelta(days=1)
    here = start.astimezone(_UTC)
    while here < end:
        there = min(here + day, end.astimezone(_UTC))
        before, after = _offset(zone, here), _offset(zone, there)
        if before != after:
            low, high = here, there
            while high - low > _MINUTE:
                middle = low + (high - low) / 2
                if _offset(zone, middle) == before:
                    low = middle
                else:
                    high = middle
            moment = high.replace(second=0, microsecond=0)
            found.append((moment, before, after))
        here = there
    return found


def _offset(zone: ZoneInfo, moment: datetime) -> timedelta:
    offset = moment.astimezone(zone).utcoffset()
    return offset if offset is not None else timedelta(0)


def _size(delta: timedelta) -> str:
    minutes = abs(delta) // _MINUTE
    if minutes % 60:
        return f"{minutes} minutes"
    return "1 hour" if minutes == 60 else f"{minutes // 60} hours"
