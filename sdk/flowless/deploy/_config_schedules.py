"""A deployment's ``schedules`` in ``flowless.yaml``: each entry checked, then built.

``Cron`` and ``Interval`` check their own values (``flowless.schedules``); this module
checks what YAML can get wrong before them (types, fields that belong to the other kind)
and rewrites their ``ScheduleError`` as a ``ProjectError`` that names the entry's field
and the fix, like every other message about the file.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, timedelta
from typing import Any

from flowless.deploy._config_fields import At, check_keys, kind_of, parse_parameters
from flowless.deploy._config_model import SCHEDULE_FIELDS, ProjectError, ScheduleConfig
from flowless.schedules import Cron, Interval, ScheduleError, slug_of

__all__ = ["parse_schedules"]


def parse_schedules(at: At, where: str, value: Any) -> tuple[ScheduleConfig, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise at.error(
            "schedules",
            f"expected a list of schedules, got {kind_of(value)}",
            "Write each schedule as a list item (`- cron: '0 9 * * *'`).",
        )
    schedules: list[ScheduleConfig] = []
    first_index: dict[str, int] = {}
    for index, entry in enumerate(value):
        schedule = _schedule(at, f"schedules[{index}]", entry)
        slug = slug_of(schedule)
        if slug in first_index:
            raise at.error(
                f"schedules[{index}]",
                f"schedules[{first_index[slug]}] and schedules[{index}] have the same slug "
                f"'{slug}' (a slug identifies a schedule's runs)",
                "Give each schedule a distinct `slug:`.",
            )
        first_index[slug] = index
        schedules.append(ScheduleConfig(schedule=schedule, where=f"{where}.schedules[{index}]"))
    return tuple(schedules)


def _schedule(at: At, prefix: str, entry: Any) -> Cron | Interval:
    if not isinstance(entry, dict):
        raise at.error(
            prefix,
            f"expected a mapping, got {kind_of(entry)}",
            "Write `- cron: '0 9 * * *'` or `- interval: 3600` (seconds).",
        )
    check_keys(at, f"{prefix}.", entry, SCHEDULE_FIELDS, "schedule")
    has_cron, has_interval = "cron" in entry, "interval" in entry
    if has_cron == has_interval:
        problem = "has both cron and interval" if has_cron else "has neither cron nor interval"
        raise at.error(
            prefix,
            problem,
            "Give exactly one: `cron: '0 9 * * *'` or `interval: 3600` (seconds); "
            "write two schedules for both.",
        )
    timezone = _timezone(at, f"{prefix}.timezone", entry.get("timezone"))
    active = _flag(at, f"{prefix}.active", entry.get("active"), True)
    parameters = parse_parameters(at, f"{prefix}.parameters", entry.get("parameters"))
    slug = entry.get("slug")
    if slug is not None and (not isinstance(slug, str) or not slug.strip()):
        raise at.error(
            f"{prefix}.slug",
            f"expected a non-empty string, got {kind_of(slug)}",
            "Write e.g. `slug: morning`, or remove it.",
        )
    if has_cron:
        if "anchor_date" in entry:
            raise at.error(
                f"{prefix}.anchor_date",
                "anchor_date applies to interval schedules only",
                "Remove it (a cron expression fixes its own times).",
            )
        cron = entry["cron"]
        if not isinstance(cron, str):
            raise at.error(
                f"{prefix}.cron",
                f"expected a cron expression as a string, got {kind_of(cron)}",
                "Quote it: `cron: '0 9 * * *'`.",
            )
        day_or = _flag(at, f"{prefix}.day_or", entry.get("day_or"), True)
        try:
            return Cron(
                cron,
                timezone=timezone,
                day_or=day_or,
                active=active,
                parameters=parameters,
                slug=slug,
            )
        except ScheduleError as exc:
            raise _schedule_error(at, prefix, "cron", exc) from None
    if "day_or" in entry:
        raise at.error(
            f"{prefix}.day_or",
            "day_or applies to cron schedules only",
            "Remove it.",
        )
    interval = entry["interval"]
    if (
        isinstance(interval, bool)
        or not isinstance(interval, (int, float))
        or not math.isfinite(interval)
        or interval <= 0
    ):
        raise at.error(
            f"{prefix}.interval",
            f"expected a positive number of seconds, got {kind_of(interval)}"
            + (f" ({interval})" if isinstance(interval, (int, float)) else ""),
            "Write e.g. `interval: 3600` for hourly.",
        )
    anchor = _anchor(at, f"{prefix}.anchor_date", entry.get("anchor_date"))
    try:
        return Interval(
            timedelta(seconds=interval),
            anchor_date=anchor,
            timezone=timezone,
            active=active,
            parameters=parameters,
            slug=slug,
        )
    except ScheduleError as exc:
        raise _schedule_error(at, prefix, "interval", exc) from None


#: The fields flowless.schedules names first in its messages.
_SCHEDULE_ERROR_FIELDS = frozenset(SCHEDULE_FIELDS) | {"slug"}
_CRON_FIX = "Fix the expression (5 fields: minute hour day-of-month month day-of-week)."
_HINT = re.compile(r"^(?P<problem>.*?):\s+(?P<hint>(?:write|use)\b.*)$", re.DOTALL)


def _schedule_error(at: At, prefix: str, kind: str, exc: ScheduleError) -> ProjectError:
    """``flowless.schedules``' message, as one naming the field and the fix."""
    message = str(exc).strip().rstrip(".")
    first = message.split(" ", 1)[0]
    field_name = first if first in _SCHEDULE_ERROR_FIELDS else kind
    if field_name == "cron":
        problem = re.sub(r"\s*\(5 fields: [^)]*\)", "", message)
        return at.error(f"{prefix}.cron", problem, _CRON_FIX)
    hint = _HINT.match(message)
    if hint:
        fix = hint["hint"][:1].upper() + hint["hint"][1:]
        return at.error(f"{prefix}.{field_name}", hint["problem"], f"{fix}.")
    return at.error(f"{prefix}.{field_name}", message, f"Fix `{field_name}`.")


def _flag(at: At, field_name: str, value: Any, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise at.error(
            field_name,
            f"expected true or false, got {kind_of(value)}",
            f"Write `{field_name.rsplit('.', 1)[-1]}: {str(default).lower()}`.",
        )
    return value


def _timezone(at: At, field_name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise at.error(
            field_name,
            f"expected a time zone name, got {kind_of(value)}",
            "Use an IANA time zone name such as 'America/New_York', 'Europe/London' or 'UTC'.",
        )
    return value  # the name itself is checked by Cron/Interval (with a suggestion)


def _anchor(at: At, field_name: str, value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    fix = "Write an ISO 8601 date and time, e.g. `anchor_date: '2027-01-01T00:00:00'`."
    if not isinstance(value, str):
        raise at.error(field_name, f"expected a date and time, got {kind_of(value)}", fix)
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise at.error(field_name, f"'{value}' is not an ISO 8601 date and time", fix) from None
