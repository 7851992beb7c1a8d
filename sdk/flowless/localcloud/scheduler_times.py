"""When EventBridge Scheduler fires an expression: the local cloud's clock for the
schedules moto stores but never fires, and the tests' independent check of the
cron translation.

Evaluated without croniter (which is what ``flowless.schedules`` uses), from AWS's own
rules: ``cron(...)`` by pyawscron on the schedule zone's wall clock, with Scheduler's
documented DST behaviour (a local time that a spring-forward gap removes is skipped; a
time repeated at fall-back runs once, the first time); ``rate(...)`` every period from
its start date, or from when the schedule was created.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

__all__ = ["scheduler_fire_times"]

_RATE = re.compile(r"rate\((\d+) (minute|hour|day)s?\)")
_CRON = re.compile(r"cron\((.*)\)")
_UNIT_MINUTES = {"minute": 1, "hour": 60, "day": 1440}
_UTC = timezone.utc


def scheduler_fire_times(
    expression: str,
    zone_name: str,
    start: datetime,
    end: datetime,
    start_date: datetime | None = None,
) -> Iterator[datetime]:
    """The times in ``[start, end)``, in UTC and in order, that Scheduler fires at."""
    rate = _RATE.fullmatch(expression)
    if rate:
        if start_date is None:
            raise ValueError(f"{expression} needs the schedule's start (or creation) time")
        period = timedelta(minutes=int(rate[1]) * _UNIT_MINUTES[rate[2]])
        moment = start_date + period * max(0, -(-(start - start_date) // period))
        while moment < end:
            yield moment.astimezone(_UTC)
            moment += period
        return
    fields = _CRON.fullmatch(expression)
    if fields is None:
        raise ValueError(f"not a Scheduler expression this clock knows: {expression!r}")
    from pyawscron.awscron import AWSCron

    zone = ZoneInfo(zone_name)
    # pyawscron works on a naive wall clock (it wants it labelled UTC).
    wall_from = start.astimezone(zone).replace(tzinfo=_UTC) - timedelta(days=1)
    wall_to = end.astimezone(zone).replace(tzinfo=_UTC) + timedelta(days=1)
    found = set()
    for wall in AWSCron.get_all_schedule_bw_dates(wall_from, wall_to, fields[1]):
        naive = wall.replace(tzinfo=None)
        if not _exists(naive, zone):
            continue  # spring forward: "your schedule invocation gets skipped"
        moment = naive.replace(tzinfo=zone).astimezone(_UTC)  # fall back: once (first)
        if start <= moment < end:
            found.add(moment)
    yield from sorted(found)


def _exists(naive: datetime, zone: ZoneInfo) -> bool:
    back = naive.replace(tzinfo=zone).astimezone(_UTC).astimezone(zone)
    return back.replace(tzinfo=None) == naive
