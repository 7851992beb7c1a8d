"""Schedules: validation messages, fire times (Prefect's DST rules), slugs, slot keys, explain.

The DST cases in `TestPrefectDaylightSavingTime` are Prefect's own expectations
(`tests/server/schemas/test_schedules.py`, same dates and numbers), so flowless keeps
Prefect's behaviour where Prefect has one.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from flowless.deploy._explain import explain
from flowless.schedules import (
    Cron,
    Interval,
    ScheduleError,
    fire_times,
    next_fire_times,
    slot_key,
    slug_of,
)

UTC = timezone.utc
NY = ZoneInfo("America/New_York")
HELP = "(5 fields: minute hour day-of-month month day-of-week, e.g. '0 9 * * MON-FRI')"


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# -- validation ---------------------------------------------------------------------------

BAD_CRONS = {
    "61 * * * *": f"cron '61 * * * *' is not valid: minute 61 is out of range 0-59 {HELP}",
    "0 25 * * *": f"cron '0 25 * * *' is not valid: hour 25 is out of range 0-23 {HELP}",
    "0 9 32 * *": f"cron '0 9 32 * *' is not valid: day-of-month 32 is out of range 1-31 {HELP}",
    "0 9 * 13 *": f"cron '0 9 * 13 *' is not valid: month 13 is out of range 1-12 {HELP}",
    "0 9 * * 8": f"cron '0 9 * * 8' is not valid: day-of-week 8 is out of range 0-7 {HELP}",
    "0 9 * * FUNDAY": (
        f"cron '0 9 * * FUNDAY' is not valid: day-of-week field 'FUNDAY' is not cron syntax {HELP}"
    ),
    "*/0 * * * *": (
        "cron '*/0 * * * *' is not valid: minute step 0 in '*/0' is not allowed; "
        "a step must be 1 or more"
    ),
    "0 9 * * 5#6": (
        "cron '0 9 * * 5#6' is not valid: day-of-week '5#6': the n of DAY#n "
        "(the n-th weekday) must be 1-5"
    ),
    "0 9 * * * *": (
        "cron '0 9 * * * *' is not valid: it has 6 fields; write 5 fields: minute hour "
        "day-of-month month day-of-week, e.g. '0 9 * * MON-FRI'; seconds and years are not "
        "supported (EventBridge Scheduler fires at most once a minute)"
    ),
    "0 9 * *": (
        "cron '0 9 * *' is not valid: it has 4 fields; write 5 fields: minute hour "
        "day-of-month month day-of-week, e.g. '0 9 * * MON-FRI'"
    ),
    "@fortnightly": (
        "cron '@fortnightly' is not valid: unknown alias '@fortnightly'; use one of "
        "@annually, @daily, @hourly, @midnight, @monthly, @weekly, @yearly"
    ),
    "H 9 * * *": (
        "cron 'H 9 * * *' is not valid: random (R) and hashed (H) fields are not supported, "
        "as in Prefect; write the minute as a number"
    ),
    "0 0 30 2 *": (
        "cron '0 0 30 2 *' never fires: no date matches its day-of-month, month and "
        "day-of-week together; check them (e.g. day 30 never occurs in February)"
    ),
}


@pytest.mark.parametrize(("expr", "message"), BAD_CRONS.items(), ids=BAD_CRONS.keys())
def test_bad_cron_names_the_field_and_the_fix(expr: str, message: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        Cron(expr)
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    "expr",
    ["@hourly", "@daily", "@weekly", "@monthly", "@yearly", "* * * * MON", "30 8 * * sat-sun"],
)
def test_prefects_accepted_crons_are_accepted(expr: str) -> None:
    assert Cron(expr).cron == expr


def test_bad_timezone_suggests_the_right_name() -> None:
    with pytest.raises(ScheduleError) as caught:
        Cron("0 9 * * *", timezone="America/NewYork")
    assert str(caught.value) == (
        "timezone 'America/NewYork' is not an IANA time zone name (did you mean "
        "'America/New_York'?): write one such as 'America/New_York', 'Europe/London' or 'UTC'"
    )
    with pytest.raises(ScheduleError, match=r"^timezone 'Mars/Olympus' is not an IANA"):
        Interval(60, timezone="Mars/Olympus")


@pytest.mark.parametrize("value", [0, -5, timedelta(0), timedelta(seconds=-1)])
def test_interval_must_be_positive(value: object) -> None:
    with pytest.raises(ScheduleError) as caught:
        Interval(value)  # type: ignore[arg-type]
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    assert str(caught.value) == (
        f"interval must be positive, got {seconds:g} seconds: "
        "write e.g. timedelta(minutes=15) or 900"
    )


@pytest.mark.parametrize("value", [True, "60", None])
def test_interval_must_be_a_duration(value: object) -> None:
    with pytest.raises(
        ScheduleError, match=r"^interval must be a timedelta or a number of seconds"
    ):
        Interval(value)  # type: ignore[arg-type]


def test_interval_numbers_are_seconds_as_in_prefect() -> None:
    assert Interval(90).interval == timedelta(seconds=90)
    assert Interval(1.5).interval == timedelta(seconds=1.5)
    with pytest.raises(ScheduleError, match="finite"):
        Interval(float("inf"))


@pytest.mark.parametrize("slug", ["Bad Slug", "-leading-dash", "a" * 64, ""])
def test_bad_slug(slug: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        Cron("0 9 * * *", slug=slug)
    assert str(caught.value) == (
        f"slug {slug!r} is not valid: use 1-63 lowercase letters, digits and '-', "
        "starting with a letter or digit (e.g. 'weekday-morning')"
    )


def test_other_fields_are_checked() -> None:
    with pytest.raises(ScheduleError, match=r"^parameters must be a dict"):
        Cron("0 9 * * *", parameters=["x"])  # type: ignore[arg-type]
    with pytest.raises(ScheduleError, match=r"^anchor_date must be a datetime"):
        Interval(60, anchor_date="2027-01-01")  # type: ignore[arg-type]
    with pytest.raises(ScheduleError, match=r"^day_or must be True or False"):
        Cron("0 9 * * *", day_or="yes")  # type: ignore[arg-type]


def test_prefect_fields_and_defaults() -> None:
    schedule = Cron("0 9 * * *", "Europe/London", False, False, {"x": 1}, "morning")
    assert (schedule.timezone, schedule.day_or, schedule.active) == ("Europe/London", False, False)
    assert (schedule.parameters, schedule.slug) == ({"x": 1}, "morning")
    plain = Interval(timedelta(hours=1))
    assert (plain.anchor_date, plain.timezone, plain.active, plain.parameters) == (
        None,
        None,
        True,
        {},
    )
    assert hash(schedule) == hash(
        Cron("0 9 * * *", "Europe/London", False, False, {"y": 2}, "morning")
    )


def test_importing_schedules_does_not_import_croniter() -> None:
    code = "import sys, flowless.schedules; print('croniter' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- fire times ---------------------------------------------------------------------------


def test_fire_times_include_start_and_exclude_end() -> None:
    schedule = Cron("0 9 * * *")
    times = list(fire_times(schedule, _utc(2027, 1, 1, 9), _utc(2027, 1, 3, 9)))
    assert times == [_utc(2027, 1, 1, 9), _utc(2027, 1, 2, 9)]
    assert all(t.tzinfo == ZoneInfo("UTC") for t in times)


def test_next_fire_times_are_strictly_after() -> None:
    schedule = Cron("0 9 * * *", timezone="America/New_York")
    after = datetime(2027, 1, 1, 9, tzinfo=NY)
    assert next_fire_times(schedule, after, 2) == [
        datetime(2027, 1, 2, 9, tzinfo=NY),
        datetime(2027, 1, 3, 9, tzinfo=NY),
    ]
    assert next_fire_times(schedule, after, 0) == []


def test_start_and_end_must_be_aware() -> None:
    with pytest.raises(ScheduleError, match=r"^start must be a timezone-aware datetime"):
        list(fire_times(Cron("0 9 * * *"), datetime(2027, 1, 1), _utc(2027, 1, 2)))
    with pytest.raises(ScheduleError, match=r"^after must be a timezone-aware datetime"):
        next_fire_times(Cron("0 9 * * *"), datetime(2027, 1, 1), 1)


def _hours(times: list[datetime], zone: ZoneInfo | timezone) -> list[int]:
    return [t.astimezone(zone).hour for t in times]


class TestPrefectDaylightSavingTime:
    """Prefect's expectations; 2018-03-11 and 2018-11-04 are New York's DST days."""

    def test_cron_hourly_spring_forward_skips_2am(self) -> None:
        times = next_fire_times(
            Cron("0 * * * *", timezone="America/New_York"),
            datetime(2018, 3, 10, 23, tzinfo=NY) - timedelta(seconds=1),
            5,
        )
        assert _hours(times, NY) == [23, 0, 1, 3, 4]
        assert _hours(times, UTC) == [4, 5, 6, 7, 8]

    def test_cron_hourly_fall_back_runs_1am_once(self) -> None:
        times = next_fire_times(
            Cron("0 * * * *", timezone="America/New_York"),
            datetime(2018, 11, 3, 23, tzinfo=NY) - timedelta(seconds=1),
            5,
        )
        assert _hours(times, NY) == [23, 0, 1, 2, 3]
        assert _hours(times, UTC) == [3, 4, 5, 7, 8]

    @pytest.mark.parametrize(
        ("start", "utc_hours"),
        [((2018, 3, 8), [14, 14, 14, 13, 13]), ((2018, 11, 1), [13, 13, 13, 14, 14])],
    )
    def test_cron_9am_stays_9am(self, start: tuple[int, int, int], utc_hours: list[int]) -> None:
        schedule = Cron("0 9 * * *", timezone="America/New_York")
        begin = datetime(*start, 9, tzinfo=NY)
        times = list(fire_times(schedule, begin, begin + timedelta(days=5)))
        assert _hours(times, NY) == [9] * 5
        assert _hours(times, UTC) == utc_hours

    @pytest.mark.parametrize(
        ("start", "utc_hours"),
        [((2018, 3, 8), [14, 14, 14, 13, 13]), ((2018, 11, 1), [13, 13, 13, 14, 14])],
    )
    def test_daily_interval_keeps_the_clock_hour(
        self, start: tuple[int, int, int], utc_hours: list[int]
    ) -> None:
        anchor = datetime(*start, 9, tzinfo=NY)  # no timezone: Prefect infers it
        times = next_fire_times(
            Interval(timedelta(days=1), anchor_date=anchor), anchor - timedelta(seconds=1), 5
        )
        assert _hours(times, NY) == [9] * 5
        assert _hours(times, UTC) == utc_hours

    def test_hourly_interval_is_absolute(self) -> None:
        schedule = Interval(timedelta(hours=1), timezone="America/New_York")
        spring = next_fire_times(
            schedule, datetime(2018, 3, 10, 23, tzinfo=NY) - timedelta(seconds=1), 5
        )
        assert (_hours(spring, NY), _hours(spring, UTC)) == ([23, 0, 1, 3, 4], [4, 5, 6, 7, 8])
        fall = next_fire_times(
            schedule, datetime(2018, 11, 3, 23, tzinfo=NY) - timedelta(seconds=1), 5
        )
        assert (_hours(fall, NY), _hours(fall, UTC)) == ([23, 0, 1, 1, 2], [3, 4, 5, 6, 7])

    def test_cron_near_the_boundary(self) -> None:
        # After the day's run, before the shift (Prefect's nebula#4048 regression).
        schedule = Cron("10 0 * * *", timezone="America/Montreal")
        times = next_fire_times(schedule, _utc(2023, 3, 12, 5, 10, 2), 5)
        assert _hours(times, NY) == [0] * 5
        assert _hours(times, UTC) == [4] * 5

    def test_interval_anchor_in_the_future_is_a_phase(self) -> None:
        schedule = Interval(timedelta(hours=17), anchor_date=_utc(2030, 2, 2, 5, 24))
        times = next_fire_times(schedule, _utc(2021, 7, 1) - timedelta(seconds=1), 3)
        assert times == [_utc(2021, 7, 1, 7, 24) + timedelta(hours=17 * i) for i in range(3)]


def test_spring_forward_gap_moves_forward_and_merges() -> None:
    ny = "America/New_York"
    gap = list(fire_times(Cron("30 2 * * *", timezone=ny), _utc(2027, 3, 13), _utc(2027, 3, 16)))
    assert [t.isoformat() for t in gap] == [
        "2027-03-13T02:30:00-05:00",
        "2027-03-14T03:30:00-04:00",
        "2027-03-15T02:30:00-04:00",
    ]
    merged = list(
        fire_times(Cron("30 2,3 * * *", timezone=ny), _utc(2027, 3, 14), _utc(2027, 3, 15))
    )
    assert [t.isoformat() for t in merged] == ["2027-03-14T03:30:00-04:00"]


def test_lord_howe_half_hour_gap_is_in_time_order() -> None:
    # 02:10 does not exist on 2027-10-03 and lands at 02:40, after the 02:30 run.
    schedule = Cron("10,30 2 * * *", timezone="Australia/Lord_Howe")
    times = list(fire_times(schedule, _utc(2027, 10, 2), _utc(2027, 10, 3, 12)))
    assert [t.isoformat() for t in times] == [
        "2027-10-03T02:30:00+11:00",
        "2027-10-03T02:40:00+11:00",
    ]


def test_day_or_is_passed_to_croniter() -> None:
    first_or_monday = Cron("0 9 1 * 1")
    first_and_monday = Cron("0 9 1-7 * 1", day_or=False)
    window = (_utc(2027, 2, 1), _utc(2027, 3, 1))
    assert [t.day for t in fire_times(first_or_monday, *window)] == [1, 8, 15, 22]
    assert [t.day for t in fire_times(first_and_monday, *window)] == [1]


def test_daily_interval_anchored_in_a_gap_returns_to_its_hour() -> None:
    schedule = Interval(
        timedelta(days=1), anchor_date=datetime(2027, 3, 1, 2, 30), timezone="America/New_York"
    )
    times = list(fire_times(schedule, _utc(2027, 3, 13), _utc(2027, 3, 16)))
    assert [t.strftime("%d %H:%M %Z") for t in times] == [
        "13 02:30 EST",
        "14 03:30 EDT",
        "15 02:30 EDT",
    ]


def test_interval_of_36_hours_stays_on_the_wall_clock() -> None:
    schedule = Interval(
        timedelta(hours=36), anchor_date=datetime(2027, 1, 2, 9), timezone="America/New_York"
    )
    times = list(fire_times(schedule, _utc(2027, 1, 1), _utc(2028, 1, 1)))
    assert {t.strftime("%H:%M") for t in times} == {"09:00", "21:00"}


def test_default_anchor_is_midnight_2020_on_the_wall_clock() -> None:
    schedule = Interval(timedelta(hours=2), timezone="Asia/Kolkata")  # UTC+05:30
    times = next_fire_times(schedule, _utc(2027, 5, 1), 3)
    assert [t.strftime("%H:%M") for t in times] == ["06:00", "08:00", "10:00"]
    assert schedule.anchor == datetime(2020, 1, 1, tzinfo=ZoneInfo("Asia/Kolkata"))


def test_interval_takes_the_anchors_zone_but_timezone_wins() -> None:
    anchor = datetime(2027, 1, 1, 9, tzinfo=NY)
    assert Interval(86400, anchor_date=anchor).zone.key == "America/New_York"
    assert Interval(86400, anchor_date=anchor, timezone="Europe/London").zone.key == "Europe/London"
    assert Interval(86400, anchor_date=_utc(2027, 1, 1)).zone.key == "UTC"
    assert Cron("0 9 * * *").zone.key == "UTC"


# -- slugs and slot keys ------------------------------------------------------------------


def test_derived_slug_is_stable() -> None:
    # Pinned: a changed slug changes every dedupe key of a deployed schedule.
    assert slug_of(Cron("0 9 * * *")) == "cron-bbe0e184"
    assert slug_of(Interval(3600)) == "interval-f930f180"
    assert slug_of(Cron(" 0  9 * * * ", timezone="UTC", active=False)) == "cron-bbe0e184"
    assert slug_of(Cron("@daily")) == slug_of(Cron("0 0 * * *"))
    assert slug_of(Interval(3600)) == slug_of(
        Interval(timedelta(hours=1), anchor_date=datetime(2020, 1, 1))
    )


def test_derived_slug_changes_with_what_makes_it_fire() -> None:
    base = slug_of(Cron("0 9 * * *"))
    others = {
        slug_of(Cron("0 10 * * *")),
        slug_of(Cron("0 9 * * *", timezone="Europe/London")),
        slug_of(Cron("0 9 * * *", day_or=False)),
        slug_of(Cron("0 9 * * *", parameters={"region": "eu"})),
    }
    assert base not in others
    assert len(others) == 4
    assert slug_of(Interval(3600, anchor_date=datetime(2027, 1, 1, 0, 30))) != slug_of(
        Interval(3600)
    )


def test_slug_shape_and_user_slug() -> None:
    import re

    for schedule in (Cron("0 9 * * 1-5", timezone="Asia/Tokyo"), Interval(timedelta(days=7))):
        assert re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}", slug_of(schedule))
    assert slug_of(Cron("0 9 * * *", slug="morning")) == "morning"


def test_slot_key_is_the_same_instant_in_any_zone() -> None:
    in_ny = datetime(2027, 3, 14, 3, 30, tzinfo=NY)
    in_utc = _utc(2027, 3, 14, 7, 30)
    in_tokyo = in_utc.astimezone(ZoneInfo("Asia/Tokyo"))
    key = slot_key("etl", "cron-1a2b3c4d", in_ny)
    assert key == "etl|cron-1a2b3c4d|2027-03-14T07:30:00Z"
    assert slot_key("etl", "cron-1a2b3c4d", in_utc) == key
    assert slot_key("etl", "cron-1a2b3c4d", in_tokyo) == key
    assert slot_key("etl", "cron-1a2b3c4d", in_utc + timedelta(microseconds=999)) == key
    assert slot_key("etl", "cron-1a2b3c4d", in_utc + timedelta(seconds=1)) != key


def test_slot_key_refuses_naive_times_and_separators() -> None:
    with pytest.raises(ScheduleError, match=r"^nominal must be a timezone-aware datetime"):
        slot_key("etl", "daily", datetime(2027, 1, 1))
    with pytest.raises(ScheduleError, match=r"^deployment must be a non-empty name without '\|'"):
        slot_key("a|b", "daily", _utc(2027, 1, 1))


# -- explain ------------------------------------------------------------------------------


def test_explain_spring_forward_warns_about_the_skipped_slot() -> None:
    text = explain(Cron("30 2 * * *", timezone="America/New_York"), now=_utc(2027, 3, 12), count=4)
    assert text == (
        "Schedule cron-26be630d: cron '30 2 * * *' in America/New_York\n"
        "EventBridge Scheduler:\n"
        "  cron(30 2 * * ? *)  timezone America/New_York\n"
        "\n"
        "Next 4 fire times after 2027-03-12 00:00 UTC:\n"
        "  America/New_York      UTC\n"
        "  2027-03-12 02:30 EST  2027-03-12 07:30\n"
        "  2027-03-13 02:30 EST  2027-03-13 07:30\n"
        "  2027-03-14 03:30 EDT  2027-03-14 07:30\n"
        "  2027-03-15 02:30 EDT  2027-03-15 06:30\n"
        "\n"
        "Warnings:\n"
        "  - 2027-03-14 02:30 America/New_York does not exist (spring forward): this slot is "
        "skipped on AWS; flowless serve runs it at 03:30 EDT\n"
    )


def test_explain_fall_back_runs_once() -> None:
    text = explain(Cron("30 1 * * *", timezone="America/New_York"), now=_utc(2027, 11, 6), count=3)
    assert (
        "  - 2027-11-07 01:30 America/New_York happens twice (fall back): it runs once, at the "
        "first (01:30 EDT = 05:30 UTC)\n"
    ) in text


def test_explain_gap_time_that_the_cron_names_anyway() -> None:
    text = explain(
        Cron("0 * * * *", timezone="America/New_York"), now=_utc(2027, 3, 14, 5), count=3
    )
    assert (
        "2027-03-14 02:00 America/New_York does not exist (spring forward): it is the 03:00 EDT run"
        in text
    )


def test_explain_untranslatable_still_lists_times() -> None:
    text = explain(Interval(30), now=_utc(2027, 1, 1), count=2)
    assert (
        "EventBridge Scheduler: cannot be deployed to AWS: EventBridge Scheduler cannot run "
        "every 30 seconds" in text
    )
    assert "It can still be served locally (flowless serve)." in text
    assert (
        "  2027-01-01 00:00:30 UTC  2027-01-01 00:00:30\n"
        "  2027-01-01 00:01:00 UTC  2027-01-01 00:01:00\n" in text
    )


def test_explain_without_dst_has_no_warnings() -> None:
    text = explain(Cron("*/15 * * * *"), now=_utc(2027, 3, 14), count=2)
    assert "Warnings" not in text
    assert "  cron(0/15 * * * ? *)  timezone UTC\n" in text
