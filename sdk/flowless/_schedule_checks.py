"""The checks `Cron` and `Interval` run on construction, apart from the schedules.

`flowless.schedules` is what users read; the rules for a valid cron field, time zone or
slug, and the messages naming the fix, would bury it. `ScheduleError` lives here so
these checks can raise it without importing `flowless.schedules` (which imports them);
it keeps the public module as its ``__module__``, the name error wire types and pickles
record.

croniter is imported on first use (`croniter_module`): `import flowless.schedules`
stays light.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "ScheduleError",
    "check_common",
    "check_cron",
    "check_interval",
    "check_zone",
    "croniter_module",
    "normal_cron",
    "require_aware",
]

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


class ScheduleError(ValueError):
    """A schedule that cannot be built: the message names the field and the fix."""

    __module__ = "flowless.schedules"


def croniter_module() -> Any:
    """croniter, imported on first use: `import flowless.schedules` stays light."""
    import importlib

    return importlib.import_module("croniter")


def normal_cron(expr: str) -> str:
    text = " ".join(expr.split())
    return _ALIASES.get(text.lower(), text)


def check_cron(expr: object, day_or: object) -> None:
    croniter = croniter_module()

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


def check_zone(name: object) -> ZoneInfo:
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


def check_interval(value: object) -> timedelta:
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


def check_common(active: object, parameters: object, slug: object) -> None:
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


def require_aware(moment: object, name: str) -> None:
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise ScheduleError(
            f"{name} must be a timezone-aware datetime, got {moment!r}: "
            "write e.g. datetime.now(timezone.utc)"
        )
