"""Schedules to EventBridge Scheduler: croniter's 5-field cron and intervals, as AWS reads them.

A schedule is deployed only if EventBridge fires it at the times `flowless.schedules`
computes (up to DST, below), because `serve` and AWS must agree on every slot's
nominal time: it is the dedupe key. What cannot be said exactly raises
`UntranslatableSchedule`, which says why and what to write instead.

EventBridge facts this relies on:

- cron has six fields, ``cron(minutes hours day-of-month month day-of-week year)``;
  day-of-week is 1-7 = SUN-SAT (croniter: 0-6, and 7, = SUN-SAT), so day names are sent;
  one of day-of-month and day-of-week must be ``?``; day-of-week takes ``, - * ? L #`` but
  no ``/``, and only one ``#`` term; ``L`` and ``W`` belong to day-of-month, ``L`` also to
  day-of-week (``6L``: the last Friday); ``a/n`` means a, a+n, ... up to the field's end.
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cron-expressions.html
- a recurring schedule is evaluated in its ``ScheduleExpressionTimezone`` (an IANA
  name; UTC by default) and fires with 60-second precision; ``rate(value unit)`` counts
  from ``StartDate`` ("the first occurrence"), or from creation without one.
  https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html
- DST: "When the time shifts forward in Spring, your schedule invocation gets skipped
  if the cron expression falls on a non-existent date and time. When the time shifts
  back in the Fall, your schedule runs only once and doesn't repeat its invocation."
  A ``rate`` in days is 24 hours after the last invocation.
  https://repost.aws/knowledge-center/eventbridge-scheduler-adjust-dst
- ``StartDate`` may not be more than 5 minutes in the past when a schedule is created
  or updated ("The StartDate you specify cannot be earlier than 5 minutes ago.", the
  ValidationException moto mirrors in getmoto/moto#8172).

So on DST days a cron deployed in a zone differs from `flowless serve` (Prefect's rule)
in one documented way: a wall-clock time that a spring-forward gap removes runs on AWS
never, and locally at the shifted time (02:30 -> 03:30), unless the cron also names the
shifted time, which then runs in both. A repeated fall-back time runs once in both;
which of the two occurrences AWS picks is not documented, flowless runs the first.

Intervals shorter than a day are absolute time, so they become cron in UTC when their
times repeat each UTC day (every 15 minutes, 2 hours, 90 minutes ...), else
``rate()`` with a ``StartDate`` on the interval's grid. A day or more is wall-clock
time: 1 day and 7 days are a daily / weekly cron in the schedule's zone; others only
in a zone without DST, where wall clock and real time agree.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from flowless.schedules import Cron, Interval, Schedule

__all__ = ["AwsSchedule", "UntranslatableSchedule", "to_eventbridge"]

_UTC = timezone.utc
_DOW_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_NEAREST_WEEKDAY_RE = re.compile(r"^(?:(\d+)w|w(\d+))$")
_RATE_RE = re.compile(r"^rate\((\d+) (minute|hour|day)s?\)$")
_UNIT_MINUTES = {"minute": 1, "hour": 60, "day": 1440}
_MINUTES_PER_DAY = 1440
_MINUTES_PER_WEEK = 7 * _MINUTES_PER_DAY
#: One schedule in flowless.yaml may become several on AWS; past these, write fewer.
_MAX_CRON_SPLIT = 10
_MAX_GRID_CRONS = 4
#: CreateSchedule's ScheduleExpression limit.
_MAX_EXPRESSION = 256


@dataclass(frozen=True)
class AwsSchedule:
    """One EventBridge Scheduler schedule: what goes into ``AWS::Scheduler::Schedule``.

    `start_date` is set for ``rate()`` only: a UTC instant on the interval's grid (the
    anchor). Scheduler rejects a StartDate more than 5 minutes old, so the template
    must carry `first_start_after(deploy time)`, a later point of the same grid.
    """

    expression: str
    timezone: str = "UTC"
    start_date: datetime | None = None
    note: str = ""

    def first_start_after(self, moment: datetime) -> datetime | None:
        """The first point of a rate()'s grid at or after `moment` (None for cron)."""
        match = _RATE_RE.match(self.expression)
        if match is None or self.start_date is None:
            return None
        period = timedelta(minutes=int(match[1]) * _UNIT_MINUTES[match[2]])
        periods = -(-(moment - self.start_date) // period)  # ceil, in whole microseconds
        return (self.start_date + period * periods).astimezone(_UTC)


class UntranslatableSchedule(ValueError):
    """EventBridge Scheduler cannot fire this schedule at flowless's times.

    The schedule is still valid: `flowless serve` runs it locally.
    """


def to_eventbridge(schedule: Schedule) -> list[AwsSchedule]:
    """The EventBridge schedules that together fire at `schedule`'s times.

    Usually one; several when cron's day-of-month OR day-of-week (or a list of
    ``DAY#n`` terms) needs one per alternative, or an interval's times fall on different
    minutes in different hours. All of them carry the schedule's one slug, so a time
    that two of them name is still one run.
    """
    if isinstance(schedule, Cron):
        return _from_cron(schedule)
    return _from_interval(schedule)


# -- cron ---------------------------------------------------------------------------------


def _from_cron(schedule: Cron) -> list[AwsSchedule]:
    expr = schedule.expression
    fields = expr.split(" ")
    if len(fields) != 5:
        raise UntranslatableSchedule(
            f"cron {schedule.cron!r} has {len(fields)} fields: EventBridge Scheduler fires "
            "at most once a minute and takes no seconds field. Use the 5-field form."
        )
    croniter: Any = importlib.import_module("croniter").croniter
    expanded, nth = croniter.expand(expr)
    minute, hour, dom, month, dow = expanded
    days = _day_fields(schedule, fields, dom, dow, nth)
    zone = schedule.zone.key
    note = _dst_note(schedule.zone)
    if len(days) > 1:
        note = (
            f"one of {len(days)} EventBridge schedules for {schedule.cron!r}; they share "
            "one slug, so a time two of them name runs once. " + note
        ).strip()
    head = f"{_render(minute, 0, 59)} {_render(hour, 0, 23)}"
    month_text = _render(month, 1, 12, _MONTH_NAMES)
    schedules = []
    for dom_text, dow_text in days:
        expression = f"cron({head} {dom_text} {month_text} {dow_text} *)"
        _check_length(expression)
        schedules.append(AwsSchedule(expression=expression, timezone=zone, note=note))
    return schedules


def _day_fields(
    schedule: Cron, fields: list[str], dom: list[Any], dow: list[Any], nth: dict[Any, Any]
) -> list[tuple[str, str]]:
    """(day-of-month, day-of-week) pairs, one per EventBridge schedule."""
    expr = schedule.cron
    dom_set = dom != ["*"]
    dow_set = dow != ["*"] or bool(nth)
    nearest = _NEAREST_WEEKDAY_RE.match(fields[2].lower())
    if nth and set(dow) - set(nth):
        raise UntranslatableSchedule(
            f"cron {expr!r} mixes plain days of the week with DAY#n or L terms, which "
            "EventBridge cannot put in one day-of-week field. Split it into two schedules."
        )
    if dom_set and dow_set and (nth or nearest):
        feature = "'W' (nearest weekday)" if nearest else "'#'/'L' (n-th or last weekday)"
        raise UntranslatableSchedule(
            f"cron {expr!r} combines {feature} with a restricted second day field: croniter "
            "then requires both, and EventBridge cron() needs one of day-of-month and "
            "day-of-week to be '?'. Make the other day field '*'."
        )
    dom_days = [d for d in dom if isinstance(d, int)]
    full_month = dom_days == list(range(1, 32))
    full_week = sorted(dow) == list(range(7)) and not nth
    if dom_set and dow_set:
        if full_month or full_week:
            if schedule.day_or:  # either side matches every day
                return [("*", "?")]
            dom_set = not full_month
            dow_set = not full_week
        elif not schedule.day_or:
            return _nth_weekdays(expr, dom, dow)
    if not dom_set and not dow_set:
        return [("*", "?")]
    pairs = [(text, "?") for text in _dom_terms(expr, dom, nearest)] if dom_set else []
    if dow_set:
        pairs += [("?", text) for text in _dow_terms(dow, nth)]
    if len(pairs) > _MAX_CRON_SPLIT:
        raise UntranslatableSchedule(
            f"cron {expr!r} would need {len(pairs)} EventBridge schedules (one per "
            f"alternative day term); flowless makes at most {_MAX_CRON_SPLIT}. Split it "
            "into fewer cron schedules."
        )
    return pairs


def _dom_terms(expr: str, dom: list[Any], nearest: re.Match[str] | None) -> list[str]:
    if nearest is not None:
        day = int(nearest[1] or nearest[2])
        if day > 28:
            raise UntranslatableSchedule(
                f"cron {expr!r}: '{day}W' (the weekday nearest day {day}) has no exact "
                f"EventBridge form: in months without day {day} croniter takes the last "
                "day, and EventBridge does not document what it does. Use a day of 28 "
                "or less."
            )
        return [f"{day}W"]
    terms = []
    numbers = [d for d in dom if isinstance(d, int)]
    if numbers:
        terms.append(_render(numbers, 1, 31))
    if "l" in dom:
        terms.append("L")
    return terms


def _dow_terms(dow: list[Any], nth: dict[Any, Any]) -> list[str]:
    if not nth:
        return [_render(dow, 0, 6, _DOW_NAMES)]
    terms = []
    for day in sorted(nth):
        for n in sorted(nth[day], key=str):  # EventBridge's numbers: 1 = SUN
            terms.append(f"{day + 1}L" if n == "l" else f"{day + 1}#{n}")
    return terms


def _nth_weekdays(expr: str, dom: list[Any], dow: list[Any]) -> list[tuple[str, str]]:
    """day_or=False: days 1-7 AND Friday is the first Friday, which is ``6#1``."""
    for n in range(1, 5):
        if dom == list(range(7 * n - 6, 7 * n + 1)):
            return [("?", f"{day + 1}#{n}") for day in sorted(dow)]
    raise UntranslatableSchedule(
        f"cron {expr!r} with day_or=False runs only on days that match both the "
        "day-of-month and the day-of-week, and EventBridge cron() cannot require both "
        "(one of them must be '?'). For the n-th weekday of a month use days 1-7, 8-14, "
        "15-21 or 22-28, or write the day-of-week as DAY#n ('0 9 * * 5#2': the second "
        "Friday); or use day_or=True to run on either."
    )


def _render(values: list[Any], low: int, high: int, names: tuple[str, ...] = ()) -> str:
    """One field in EventBridge syntax: ``*``, ``a/n``, or a list of values and ranges."""
    numbers = sorted({v for v in values if isinstance(v, int)})
    if values == ["*"] or numbers == list(range(low, high + 1)):
        return "*"
    step = numbers[1] - numbers[0] if len(numbers) >= 3 else 0
    if (
        not names
        and step >= 2
        and all(b - a == step for a, b in pairwise(numbers))
        and numbers[-1] + step > high
    ):
        return f"{numbers[0]}/{step}"

    def label(value: int) -> str:
        return names[value - low] if names else str(value)

    runs: list[list[int]] = []
    for value in numbers:
        if runs and value == runs[-1][-1] + 1:
            runs[-1].append(value)
        else:
            runs.append([value])
    parts = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{label(run[0])}-{label(run[-1])}")
        else:
            parts.extend(label(value) for value in run)
    return ",".join(parts)


def _check_length(expression: str) -> None:
    if len(expression) > _MAX_EXPRESSION:
        raise UntranslatableSchedule(
            f"{expression} is {len(expression)} characters; EventBridge takes at most "
            f"{_MAX_EXPRESSION}. Use ranges or steps instead of long lists."
        )


# -- interval -----------------------------------------------------------------------------


def _from_interval(schedule: Interval) -> list[AwsSchedule]:
    step = schedule.interval
    seconds = step.total_seconds()
    if step < timedelta(minutes=1):
        raise UntranslatableSchedule(
            f"EventBridge Scheduler cannot run every {seconds:g} seconds: it fires at most "
            "once a minute. Use an interval of 60 seconds or more; `flowless serve` can "
            "still run this one locally."
        )
    if step % timedelta(minutes=1):
        below = int(seconds // 60) * 60
        raise UntranslatableSchedule(
            f"EventBridge Scheduler cannot run every {seconds:g} seconds: rate() and cron() "
            f"count whole minutes. Use a multiple of 60 seconds (e.g. {below} or "
            f"{below + 60})."
        )
    anchor = schedule.anchor
    if anchor.second or anchor.microsecond:
        raise UntranslatableSchedule(
            f"EventBridge Scheduler fires on whole minutes, but anchor_date "
            f"{anchor.isoformat()} has seconds. Put anchor_date on a whole minute "
            f"(e.g. {anchor.replace(second=0, microsecond=0).isoformat()})."
        )
    minutes = step // timedelta(minutes=1)
    zone = schedule.zone
    if minutes in (_MINUTES_PER_DAY, _MINUTES_PER_WEEK):
        dow = "?"
        dom = "*"
        if minutes == _MINUTES_PER_WEEK:
            dom = "?"
            dow = _DOW_NAMES[(anchor.weekday() + 1) % 7]
        expression = f"cron({anchor.minute} {anchor.hour} {dom} * {dow} *)"
        return [AwsSchedule(expression=expression, timezone=zone.key, note=_dst_note(zone))]
    if minutes > _MINUTES_PER_DAY and _observes_dst(zone):
        if minutes % _MINUTES_PER_DAY:
            instead = f"timezone='UTC' (then it is rate({_duration(minutes)})), or a cron"
        else:
            instead = (
                f"an interval of 1 or 7 days, timezone='UTC', or a cron (e.g. "
                f"'{anchor.minute} {anchor.hour} */{minutes // _MINUTES_PER_DAY} * *', "
                "which restarts on the 1st of each month)"
            )
        raise UntranslatableSchedule(
            f"EventBridge Scheduler cannot run every {_duration(minutes)} on the wall clock "
            f"of {zone.key}: rate() counts real time, which slips an hour against the "
            "wall clock at each DST change, and cron() cannot count days across months. "
            f"Use {instead}."
        )
    # Absolute time from here (or a zone whose wall clock never jumps).
    anchor_utc = anchor.astimezone(_UTC)
    if _MINUTES_PER_DAY % minutes == 0:
        grid = _grid_crons(anchor_utc, minutes)
        if len(grid) <= _MAX_GRID_CRONS:
            note = ""
            if len(grid) > 1:
                note = (
                    f"one of {len(grid)} EventBridge schedules for every {_duration(minutes)}; "
                    "they share one slug"
                )
            return [AwsSchedule(expression=text, note=note) for text in grid]
    value, unit = _rate(minutes)
    return [
        AwsSchedule(
            expression=f"rate({value} {unit})",
            start_date=anchor_utc,
            note=(
                "rate() counts from StartDate: put first_start_after(deploy time) in the "
                "template (Scheduler rejects a StartDate more than 5 minutes old)"
            ),
        )
    ]


def _grid_crons(anchor_utc: datetime, minutes: int) -> list[str]:
    """Cron in UTC for an interval that divides a day: its times repeat every UTC day.

    Times are grouped by minute of the hour; minutes that fire in the same hours share
    one expression (90 minutes: ``0 0/3`` and ``30 1/3``).
    """
    first = (anchor_utc.hour * 60 + anchor_utc.minute) % minutes
    hours_by_minute: dict[int, list[int]] = {}
    for at in range(first, _MINUTES_PER_DAY, minutes):
        hours_by_minute.setdefault(at % 60, []).append(at // 60)
    minutes_by_hours: dict[tuple[int, ...], list[int]] = {}
    for minute, hours in sorted(hours_by_minute.items()):
        minutes_by_hours.setdefault(tuple(hours), []).append(minute)
    ordered = sorted(minutes_by_hours.items(), key=lambda item: (item[0][0], item[1][0]))
    return [
        f"cron({_render(mins, 0, 59)} {_render(list(hours), 0, 23)} * * ? *)"
        for hours, mins in ordered
    ]


def _rate(minutes: int) -> tuple[int, str]:
    for unit, size in (("day", _MINUTES_PER_DAY), ("hour", 60)):
        if minutes % size == 0:
            value = minutes // size
            return value, unit if value == 1 else f"{unit}s"
    return minutes, "minute" if minutes == 1 else "minutes"


def _duration(minutes: int) -> str:
    value, unit = _rate(minutes)
    return f"{value} {unit}"


@lru_cache(maxsize=64)
def _observes_dst(zone: ZoneInfo) -> bool:
    """Whether the zone's UTC offset changes (sampled monthly, 2000-2060)."""
    offsets = {
        datetime(year, month, 15, 12, tzinfo=zone).utcoffset()
        for year in range(2000, 2061)
        for month in range(1, 13)
    }
    return len(offsets) > 1


def _dst_note(zone: ZoneInfo) -> str:
    if not _observes_dst(zone):
        return ""
    return (
        f"{zone.key} changes its clocks: EventBridge skips a time that does not exist "
        "(flowless serve runs it at the shifted time) and runs a repeated time once"
    )
