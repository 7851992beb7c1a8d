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
with a message that names the field and the fix.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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

#: croniter's (and Prefect's) aliases; @midnight and @annually are croniter's spellings.
_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_FIELD_NAMES = ("minute", "hour", "day-of-month", "month", "day-of-week")
_FIELD_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_CRON_HELP = "5 fields: minute hour day-of-month month day-of-week, e.g. '0 9 * * MON-FRI'"
_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_HASHED_FIELD_RE = re.compile(r"^[hr](\(|/|$)")

#: The phase of an interval without anchor_date: a fixed wall-clock moment, so that
#: rebuilding a project never moves its fire times.
_DEFAULT_ANCHOR = datetime(2020, 1, 1)

#: No zone is ahead of UTC by more than this (Kiribati: +14:00). Cron times are found in
#: wall-clock order; a wall time n never falls before the instant n - this, which is how
#: far ahead `_cron_times` must look to hand out instants in order.
_MAX_UTC_OFFSET = timedelta(hours=15)


class ScheduleError(ValueError):
    """A schedule that cannot be built: the message names the field and the fix."""


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
        _check_zone(self.timezone)
        _check_cron(self.cron, self.day_or)
        _check_common(self.active, self.parameters, self.slug)

    @property
    def expression(self) -> str:
        """The expression as croniter reads it: aliases spelled out, single spaces."""
        return _normal_cron(self.cron)

    @property
    def zone(self) -> ZoneInfo:
        return _check_zone(self.timezone)


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
        object.__setattr__(self, "interval", _check_interval(self.interval))
        anchor = self.anchor_date
        if anchor is not None and not isinstance(anchor, datetime):
            raise ScheduleError(
                f"anchor_date must be a datetime, got {anchor!r}: "
                "write e.g. datetime(2027, 1, 1, 9, 30) (wall clock in the schedule's timezone)"
            )
        _check_zone(self.timezone)
        _check_common(self.active, self.parameters, self.slug)

    @property
    def zone(self) -> ZoneInfo:
        """`timezone`, else the anchor's own `ZoneInfo` (as Prefect infers it), else UTC."""
        if self.timezone is None and self.anchor_date is not None:
            tz = self.anchor_date.tzinfo
            if isinstance(tz, ZoneInfo):
                return tz
        return _check_zone(self.timezone)

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
    _require_aware(start, "start")
    _require_aware(end, "end")
    for when in _times_from(schedule, start):
        if when >= end:
            return
        yield when


def next_fire_times(schedule: Schedule, after: datetime, n: int) -> list[datetime]:
    """The first `n` fire times strictly after `after` (fewer if the schedule ends)."""
    _require_aware(after, "after")
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
    _require_aware(nominal, "nominal")
    for name, value in (("deployment", deployment), ("slug", slug)):
        if not value or "|" in value:
            raise ScheduleError(f"{name} must be a non-empty name without '|', got {value!r}")
    return f"{deployment}|{slug}|{nominal.astimezone(_UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}"


# -- fire times -----------------------------------------------------------------------


def _times_from(schedule: Schedule, start: datetime) -> Iterator[datetime]:
    if isinstance(schedule, Cron):
        return _cron_times(schedule, start)
    return _interval_times(schedule, start)


def _cron_times(schedule: Cron, start: datetime) -> Iterator[datetime]:
    """Instants >= start, ascending: croniter on the wall clock, placed with fold=0.

    Placing a time from a spring-forward gap moves it forward, past wall times that come
    later in croniter's order (Lord Howe's 30-minute gap: 02:10 lands at 02:40, after
    02:30), so instants wait in a heap until no later wall time can precede them.
    """
    croniter = _croniter()

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


def _interval_times(schedule: Interval, start: datetime) -> Iterator[datetime]:
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


def _croniter() -> Any:
    """croniter, imported on first use: `import flowless.schedules` stays light."""
    import importlib

    return importlib.import_module("croniter")


def _offset(moment: datetime) -> timedelta:
    offset = moment.utcoffset()
    return offset if offset is not None else timedelta(0)


# -- validation -------------------------------------------------------------------------


def _normal_cron(expr: str) -> str:
    text = " ".join(expr.split())
    return _ALIASES.get(text.lower(), text)


def _check_cron(expr: object, day_or: object) -> None:
    croniter = _croniter()

    if not isinstance(expr, str) or not expr.strip():
        raise ScheduleError(f"cron must be a non-empty string ({_CRON_HELP}), got {expr!r}")
    if not isinstance(day_or, bool):
        raise ScheduleError(f"day_or must be True or False, got {day_or!r}")
    bad = f"cron {expr!r} is not valid"
    text = " ".join(expr.split())
    if text.startswith("@"):
        if text.lower() not in _ALIASES:
            known = ", ".join(sorted(_ALIASES))
            raise ScheduleError(f"{bad}: unknown alias {text!r}; use one of {known}")
        return
    fields = text.split(" ")
    if len(fields) != 5:
        extra = ""
        if len(fields) in (6, 7):
            extra = (
                "; seconds and years are not supported (EventBridge Scheduler fires at "
                "most once a minute)"
            )
        raise ScheduleError(f"{bad}: it has {len(fields)} fields; write {_CRON_HELP}{extra}")
    for index, value in enumerate(fields):
        if _HASHED_FIELD_RE.match(value.lower()):
            raise ScheduleError(
                f"{bad}: random (R) and hashed (H) fields are not supported, as in Prefect; "
                f"write the {_FIELD_NAMES[index]} as a number"
            )
        probe = ["*"] * 5
        probe[index] = value
        try:
            croniter.croniter.expand(" ".join(probe))
        except croniter.CroniterError:
            raise ScheduleError(f"{bad}: {_field_problem(index, value)}") from None
    try:
        croniter.croniter.expand(text)
    except croniter.CroniterError as exc:
        raise ScheduleError(f"{bad}: {exc} ({_CRON_HELP})") from None
    try:
        croniter.croniter(text, datetime(2000, 1, 1), day_or=day_or).get_next(datetime)
    except croniter.CroniterBadDateError:
        raise ScheduleError(
            f"cron {expr!r} never fires: no date matches its day-of-month, month and "
            "day-of-week together; check them (e.g. day 30 never occurs in February)"
        ) from None


def _field_problem(index: int, value: str) -> str:
    name = _FIELD_NAMES[index]
    low, high = _FIELD_RANGES[index]
    for token in value.split(","):
        base, _, step = token.partition("/")
        if step and step.isdigit() and int(step) == 0:
            return f"{name} step 0 in {token!r} is not allowed; a step must be 1 or more"
        base, hash_sign, nth = base.partition("#")
        if hash_sign and (not nth.isdigit() or not 1 <= int(nth) <= 5):
            return f"{name} {token!r}: the n of DAY#n (the n-th weekday) must be 1-5"
        for number in re.findall(r"\d+", base):
            if not low <= int(number) <= high:
                return f"{name} {int(number)} is out of range {low}-{high} ({_CRON_HELP})"
    return f"{name} field {value!r} is not cron syntax ({_CRON_HELP})"


def _check_zone(name: object) -> ZoneInfo:
    if name is None:
        return ZoneInfo("UTC")
    if isinstance(name, str) and name.strip():
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    raise ScheduleError(
        f"timezone {name!r} is not an IANA time zone name{_zone_hint(name)}: "
        "write one such as 'America/New_York', 'Europe/London' or 'UTC'"
    )


def _zone_hint(name: object) -> str:
    import difflib
    from zoneinfo import available_timezones

    if not isinstance(name, str):
        return ""
    by_lower = {zone.lower(): zone for zone in available_timezones()}
    near = difflib.get_close_matches(name.lower().replace(" ", "_"), by_lower, n=1)
    return f" (did you mean {by_lower[near[0]]!r}?)" if near else ""


def _check_interval(value: object) -> timedelta:
    if isinstance(value, bool) or not isinstance(value, (int, float, timedelta)):
        raise ScheduleError(
            f"interval must be a timedelta or a number of seconds, got {value!r}: "
            "write e.g. timedelta(minutes=15) or 900"
        )
    if not isinstance(value, timedelta):
        if not math.isfinite(value):
            raise ScheduleError(f"interval must be a finite number of seconds, got {value!r}")
        value = timedelta(seconds=value)
    if value <= timedelta(0):
        raise ScheduleError(
            f"interval must be positive, got {value.total_seconds():g} seconds: "
            "write e.g. timedelta(minutes=15) or 900"
        )
    return value


def _check_common(active: object, parameters: object, slug: object) -> None:
    if not isinstance(active, bool):
        raise ScheduleError(f"active must be True or False, got {active!r}")
    if not isinstance(parameters, dict):
        raise ScheduleError(
            f"parameters must be a dict of flow parameter names to values, got {parameters!r}"
        )
    if slug is not None and (not isinstance(slug, str) or not _SLUG_RE.match(slug)):
        raise ScheduleError(
            f"slug {slug!r} is not valid: use 1-63 lowercase letters, digits and '-', "
            "starting with a letter or digit (e.g. 'weekday-morning')"
        )


def _require_aware(moment: object, name: str) -> None:
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise ScheduleError(
            f"{name} must be a timezone-aware datetime, got {moment!r}: "
            "write e.g. datetime.now(timezone.utc)"
        )
