"""Cron and intervals to EventBridge Scheduler, checked two independent ways.

Each row's expected expressions are written out by hand, and then the fire times of the
emitted expressions, evaluated by pyawscron (an AWS cron parser that shares no code with
croniter) plus EventBridge's documented DST rule, must equal `fire_times` over the
window, except for the exact DST slots listed in the row: a wall-clock time that a
spring-forward gap removes runs locally at the shifted time (Prefect) and never on AWS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from flowless.deploy._cron import AwsSchedule, UntranslatableSchedule, to_eventbridge
from flowless.localcloud.scheduler_times import scheduler_fire_times
from flowless.schedules import Cron, Interval, Schedule, fire_times

UTC = timezone.utc
NY = "America/New_York"
LONDON = "Europe/London"
LORD_HOWE = "Australia/Lord_Howe"  # DST moves the clock by 30 minutes


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


YEAR = ((_utc(2027, 1, 1), _utc(2028, 1, 1)),)
WEEK = ((_utc(2027, 3, 8), _utc(2027, 3, 15)),)
# 2027: New York springs forward on Mar 14 and falls back on Nov 7, London on Mar 28 and
# Oct 31, Lord Howe falls back on Apr 4 and springs forward on Oct 3.
NY_DST = ((_utc(2027, 3, 13), _utc(2027, 3, 16)), (_utc(2027, 11, 6), _utc(2027, 11, 9)))
LONDON_DST = ((_utc(2027, 3, 27), _utc(2027, 3, 30)), (_utc(2027, 10, 30), _utc(2027, 11, 2)))
LORD_HOWE_DST = ((_utc(2027, 4, 2), _utc(2027, 4, 6)), (_utc(2027, 10, 1), _utc(2027, 10, 5)))
YEARS = ((_utc(2027, 1, 1), _utc(2031, 1, 1)),)


@dataclass(frozen=True)
class Row:
    schedule: Schedule
    expressions: list[str]
    timezone: str = "UTC"
    windows: tuple[tuple[datetime, datetime], ...] = YEAR
    only_local: list[str] = field(default_factory=list)  # gap slots AWS skips


def cron(expr: str, tz: str | None = None, *, day_or: bool = True) -> Cron:
    return Cron(expr, timezone=tz, day_or=day_or)


TABLE = {
    "daily-utc": Row(cron("0 9 * * *"), ["cron(0 9 * * ? *)"]),
    "every-15-min": Row(cron("*/15 * * * *"), ["cron(0/15 * * * ? *)"], windows=WEEK),
    "start-step": Row(cron("5/20 * * * *"), ["cron(5/20 * * * ? *)"], windows=WEEK),
    "weekdays-ny": Row(cron("0 9 * * 1-5", NY), ["cron(0 9 ? * MON-FRI *)"], NY),
    "spring-gap-ny": Row(
        cron("30 2 * * *", NY),
        ["cron(30 2 * * ? *)"],
        NY,
        only_local=["2027-03-14T03:30:00-04:00"],
    ),
    "gap-hour-ny": Row(
        cron("0 2 * * *", NY), ["cron(0 2 * * ? *)"], NY, only_local=["2027-03-14T03:00:00-04:00"]
    ),
    "gap-lands-on-named-time": Row(cron("0 2,3 * * *", NY), ["cron(0 2,3 * * ? *)"], NY),
    "fall-back-once-ny": Row(cron("30 1 * * *", NY), ["cron(30 1 * * ? *)"], NY),
    "hourly-ny": Row(cron("0 * * * *", NY), ["cron(0 * * * ? *)"], NY),
    "half-hourly-london": Row(
        cron("*/30 * * * *", LONDON), ["cron(0,30 * * * ? *)"], LONDON, LONDON_DST
    ),
    "spring-gap-london": Row(
        cron("30 1 * * *", LONDON),
        ["cron(30 1 * * ? *)"],
        LONDON,
        only_local=["2027-03-28T02:30:00+01:00"],
    ),
    "sunday-gap-london": Row(
        cron("0 1 * * 0", LONDON),
        ["cron(0 1 ? * SUN *)"],
        LONDON,
        only_local=["2027-03-28T02:00:00+01:00"],
    ),
    "spring-gap-lord-howe": Row(
        cron("15 2 * * *", LORD_HOWE),
        ["cron(15 2 * * ? *)"],
        LORD_HOWE,
        only_local=["2027-10-03T02:45:00+11:00"],
    ),
    "fall-back-once-lord-howe": Row(
        cron("45 1 * * *", LORD_HOWE), ["cron(45 1 * * ? *)"], LORD_HOWE
    ),
    "hourly-lord-howe": Row(
        cron("20 * * * *", LORD_HOWE),
        ["cron(20 * * * ? *)"],
        LORD_HOWE,
        LORD_HOWE_DST,
        only_local=["2027-10-03T02:50:00+11:00"],
    ),
    "half-hour-gap-lands-on-named-lord-howe": Row(
        cron("10,40 * * * *", LORD_HOWE), ["cron(10,40 * * * ? *)"], LORD_HOWE, LORD_HOWE_DST
    ),
    "first-of-month": Row(cron("0 0 1 * *"), ["cron(0 0 1 * ? *)"]),
    "@daily": Row(cron("@daily", NY), ["cron(0 0 * * ? *)"], NY),
    "@hourly": Row(cron("@hourly"), ["cron(0 * * * ? *)"], windows=WEEK),
    "@weekly": Row(cron("@weekly", LONDON), ["cron(0 0 ? * SUN *)"], LONDON),
    "@monthly": Row(cron("@monthly"), ["cron(0 0 1 * ? *)"]),
    "@yearly": Row(cron("@yearly", NY), ["cron(0 0 1 JAN ? *)"], NY, YEARS),
    "month-list": Row(cron("0 12 * jan,jul *"), ["cron(0 12 * JAN,JUL ? *)"]),
    "month-range": Row(cron("0 12 * 3-5 *"), ["cron(0 12 * MAR-MAY ? *)"]),
    "sunday-as-7": Row(cron("0 8 * * 7"), ["cron(0 8 ? * SUN *)"]),
    "weekend-wrapping": Row(cron("0 8 * * 5-7"), ["cron(0 8 ? * SUN,FRI,SAT *)"]),
    "dow-step-becomes-list": Row(cron("0 12 * * */2"), ["cron(0 12 ? * SUN,TUE,THU,SAT *)"]),
    "dom-list": Row(cron("0 9 1,15 * *", LONDON), ["cron(0 9 1,15 * ? *)"], LONDON),
    "last-day": Row(cron("0 9 L * *", NY), ["cron(0 9 L * ? *)"], NY),
    "first-and-last-day": Row(cron("0 9 1,L * *"), ["cron(0 9 1 * ? *)", "cron(0 9 L * ? *)"]),
    "nearest-weekday": Row(cron("0 9 15W * *"), ["cron(0 9 15W * ? *)"]),
    "second-friday": Row(cron("0 9 * * 5#2", LONDON), ["cron(0 9 ? * 6#2 *)"], LONDON),
    "last-friday": Row(cron("0 9 * * L5", NY), ["cron(0 9 ? * 6L *)"], NY),
    "day-or-splits": Row(cron("0 9 1 * 1", NY), ["cron(0 9 1 * ? *)", "cron(0 9 ? * MON *)"], NY),
    "day-and-first-friday": Row(cron("0 9 1-7 * 5", day_or=False), ["cron(0 9 ? * 6#1 *)"]),
    "day-and-second-mon-wed": Row(
        cron("0 9 8-14 * 1,3", day_or=False), ["cron(0 9 ? * 2#2 *)", "cron(0 9 ? * 4#2 *)"]
    ),
    # pyawscron crashes on a day 31 in a shorter month (datetime(2027, 4, 31)), so
    # steps that reach day 29+ are compared over January only.
    "odd-days": Row(
        cron("0 0 */2 * *"),
        ["cron(0 0 1/2 * ? *)"],
        windows=((_utc(2027, 1, 1), _utc(2027, 1, 30)),),
    ),
    "dom-step": Row(cron("0 0 2/10 * *"), ["cron(0 0 2/10 * ? *)"]),
    "every-6-hours-ny": Row(cron("0 */6 * * *", NY), ["cron(0 0/6 * * ? *)"], NY),
    "office-hours-london": Row(
        cron("0 9-17 * * 1-5", LONDON), ["cron(0 9-17 ? * MON-FRI *)"], LONDON
    ),
    "day-or-with-every-day": Row(cron("0 9 1-31 * 1"), ["cron(0 9 * * ? *)"]),
    "day-and-with-every-day": Row(cron("0 9 1-31 * 1", day_or=False), ["cron(0 9 ? * MON *)"]),
    "new-years-eve": Row(cron("59 23 31 12 *"), ["cron(59 23 31 DEC ? *)"], windows=YEARS),
    "question-mark": Row(cron("0 9 ? * MON"), ["cron(0 9 ? * MON *)"]),
    # intervals shorter than a day: absolute time, so cron in UTC when it repeats daily
    "interval-15-min": Row(Interval(timedelta(minutes=15)), ["cron(0/15 * * * ? *)"], windows=WEEK),
    "interval-15-min-anchored": Row(
        Interval(900, anchor_date=_utc(2027, 1, 1, 0, 5)), ["cron(5/15 * * * ? *)"], windows=WEEK
    ),
    "interval-hourly-ny-is-utc": Row(
        Interval(3600, timezone=NY), ["cron(0 * * * ? *)"], windows=NY_DST
    ),
    "interval-2h-kolkata": Row(
        Interval(timedelta(hours=2), timezone="Asia/Kolkata"), ["cron(30 0/2 * * ? *)"]
    ),
    "interval-90-min": Row(
        Interval(timedelta(minutes=90), timezone=LONDON),
        ["cron(0 0/3 * * ? *)", "cron(30 1/3 * * ? *)"],
        windows=LONDON_DST,
    ),
    "interval-45-min": Row(
        Interval(timedelta(minutes=45)),
        ["cron(0,45 0/3 * * ? *)", "cron(30 1/3 * * ? *)", "cron(15 2/3 * * ? *)"],
        windows=WEEK,
    ),
    "interval-7-min": Row(Interval(420), ["rate(7 minutes)"], windows=WEEK),
    "interval-5-hours": Row(Interval(timedelta(hours=5)), ["rate(5 hours)"]),
    "interval-288-min": Row(Interval(timedelta(minutes=288)), ["rate(288 minutes)"]),
    # a day or more: the wall clock
    "interval-daily-ny": Row(
        Interval(timedelta(days=1), anchor_date=datetime(2027, 1, 1, 9, 30), timezone=NY),
        ["cron(30 9 * * ? *)"],
        NY,
    ),
    "interval-daily-in-gap-ny": Row(
        Interval(timedelta(days=1), anchor_date=datetime(2027, 1, 1, 2, 30), timezone=NY),
        ["cron(30 2 * * ? *)"],
        NY,
        only_local=["2027-03-14T03:30:00-04:00"],
    ),
    "interval-daily-zone-from-anchor": Row(
        Interval(
            timedelta(days=1), anchor_date=datetime(2027, 1, 2, 2, 15, tzinfo=ZoneInfo(LORD_HOWE))
        ),
        ["cron(15 2 * * ? *)"],
        LORD_HOWE,
        only_local=["2027-10-03T02:45:00+11:00"],
    ),
    "interval-weekly-london": Row(
        Interval(timedelta(days=7), anchor_date=datetime(2027, 1, 4, 8), timezone=LONDON),
        ["cron(0 8 ? * MON *)"],
        LONDON,
    ),
    "interval-2-days-utc": Row(
        Interval(timedelta(days=2), anchor_date=datetime(2027, 1, 1)), ["rate(2 days)"]
    ),
    "interval-36-hours-utc": Row(Interval(timedelta(hours=36), timezone="UTC"), ["rate(36 hours)"]),
    "interval-3-days-tokyo": Row(
        Interval(timedelta(days=3), anchor_date=datetime(2027, 1, 1, 9), timezone="Asia/Tokyo"),
        ["rate(3 days)"],
    ),
}


def aws_fire_times(aws: list[AwsSchedule], start: datetime, end: datetime) -> set[datetime]:
    """What EventBridge fires in [start, end), in UTC, evaluated without croniter."""
    fired: set[datetime] = set()
    for item in aws:
        if item.expression.startswith("rate("):
            assert item.start_date is not None
        fired.update(
            scheduler_fire_times(item.expression, item.timezone, start, end, item.start_date)
        )
    return fired


@pytest.mark.parametrize("row", TABLE.values(), ids=TABLE.keys())
def test_translation_fires_at_flowless_times(row: Row) -> None:
    aws = to_eventbridge(row.schedule)
    assert [item.expression for item in aws] == row.expressions
    assert {item.timezone for item in aws} == {row.timezone}
    local: set[datetime] = set()
    remote: set[datetime] = set()
    for start, end in row.windows:
        local |= {t.astimezone(UTC) for t in fire_times(row.schedule, start, end)}
        remote |= aws_fire_times(aws, start, end)
    assert local, "a window without fire times proves nothing"
    assert remote - local == set()
    expected = {datetime.fromisoformat(text).astimezone(UTC) for text in row.only_local}
    assert local - remote == expected


def test_table_is_big_and_covers_the_dst_zones() -> None:
    assert len(TABLE) >= 30
    zones = {row.schedule.zone.key for row in TABLE.values()}
    assert {NY, LONDON, LORD_HOWE} <= zones


def test_day_or_split_runs_a_shared_day_once() -> None:
    # 2027-02-01 is a Monday and the 1st: both EventBridge schedules name it, one slot.
    schedule = cron("0 9 1 * 1")
    aws = to_eventbridge(schedule)
    start, end = _utc(2027, 2, 1), _utc(2027, 2, 2)
    per_schedule = [aws_fire_times([item], start, end) for item in aws]
    assert per_schedule == [{_utc(2027, 2, 1, 9)}, {_utc(2027, 2, 1, 9)}]
    assert list(fire_times(schedule, start, end)) == [_utc(2027, 2, 1, 9)]
    assert all("share one slug" in item.note for item in aws)


def test_rate_start_date_is_on_the_grid_and_moves_forward() -> None:
    (aws,) = to_eventbridge(Interval(420))
    assert aws.start_date == _utc(2020, 1, 1)
    deploy = _utc(2027, 6, 1, 12, 3, 30)
    first = aws.first_start_after(deploy)
    assert first is not None
    assert first >= deploy
    assert first - deploy < timedelta(minutes=7)
    assert (first - _utc(2020, 1, 1)) % timedelta(minutes=7) == timedelta(0)
    assert "StartDate" in aws.note
    (daily,) = to_eventbridge(cron("0 9 * * *"))
    assert daily.first_start_after(deploy) is None


def test_dst_zone_cron_says_what_aws_does_on_dst_days() -> None:
    (aws,) = to_eventbridge(cron("30 2 * * *", NY))
    assert "skips a time that does not exist" in aws.note
    (plain,) = to_eventbridge(cron("30 2 * * *", "Asia/Tokyo"))
    assert plain.note == ""


UNTRANSLATABLE = {
    "sub-minute": (
        Interval(30),
        "EventBridge Scheduler cannot run every 30 seconds: it fires at most once a minute. "
        "Use an interval of 60 seconds or more; `flowless serve` can still run this one "
        "locally.",
    ),
    "not-whole-minutes": (
        Interval(90),
        "EventBridge Scheduler cannot run every 90 seconds: rate() and cron() count whole "
        "minutes. Use a multiple of 60 seconds (e.g. 60 or 120).",
    ),
    "anchor-with-seconds": (
        Interval(3600, anchor_date=_utc(2027, 1, 1, 0, 0, 15)),
        "EventBridge Scheduler fires on whole minutes, but anchor_date "
        "2027-01-01T00:00:15+00:00 has seconds. Put anchor_date on a whole minute "
        "(e.g. 2027-01-01T00:00:00+00:00).",
    ),
    "two-days-on-a-dst-clock": (
        Interval(timedelta(days=2), anchor_date=datetime(2027, 1, 1, 9, 30), timezone=NY),
        "EventBridge Scheduler cannot run every 2 days on the wall clock of America/New_York: "
        "rate() counts real time, which slips an hour against the wall clock at each DST "
        "change, and cron() cannot count days across months. Use an interval of 1 or 7 "
        "days, timezone='UTC', or a cron (e.g. '30 9 */2 * *', which restarts on the 1st "
        "of each month).",
    ),
    "36-hours-on-a-dst-clock": (
        Interval(timedelta(hours=36), timezone=LONDON),
        "EventBridge Scheduler cannot run every 36 hours on the wall clock of Europe/London: "
        "rate() counts real time, which slips an hour against the wall clock at each DST "
        "change, and cron() cannot count days across months. Use timezone='UTC' (then it "
        "is rate(36 hours)), or a cron.",
    ),
    "day-and-weekday": (
        cron("0 9 1 * 1", day_or=False),
        "cron '0 9 1 * 1' with day_or=False runs only on days that match both the "
        "day-of-month and the day-of-week, and EventBridge cron() cannot require both (one "
        "of them must be '?'). For the n-th weekday of a month use days 1-7, 8-14, 15-21 or "
        "22-28, or write the day-of-week as DAY#n ('0 9 * * 5#2': the second Friday); or "
        "use day_or=True to run on either.",
    ),
    "nearest-weekday-past-28": (
        cron("0 9 31W * *"),
        "cron '0 9 31W * *': '31W' (the weekday nearest day 31) has no exact EventBridge "
        "form: in months without day 31 croniter takes the last day, and EventBridge does "
        "not document what it does. Use a day of 28 or less.",
    ),
    "nearest-weekday-and-weekday": (
        cron("0 9 15W * 1"),
        "cron '0 9 15W * 1' combines 'W' (nearest weekday) with a restricted second day "
        "field: croniter then requires both, and EventBridge cron() needs one of "
        "day-of-month and day-of-week to be '?'. Make the other day field '*'.",
    ),
    "too-many-schedules": (
        cron("0 9 * * 1#1,1#2,1#3,1#4,1#5,2#1,2#2,2#3,2#4,2#5,3#1"),
        "cron '0 9 * * 1#1,1#2,1#3,1#4,1#5,2#1,2#2,2#3,2#4,2#5,3#1' would need 11 "
        "EventBridge schedules (one per alternative day term); flowless makes at most 10. "
        "Split it into fewer cron schedules.",
    ),
}


@pytest.mark.parametrize(
    ("schedule", "message"), UNTRANSLATABLE.values(), ids=UNTRANSLATABLE.keys()
)
def test_untranslatable_says_why_and_what_instead(schedule: Schedule, message: str) -> None:
    with pytest.raises(UntranslatableSchedule) as caught:
        to_eventbridge(schedule)
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)
    # Still a valid schedule: serve can run it.
    assert list(fire_times(schedule, _utc(2027, 1, 1), _utc(2027, 3, 1)))
