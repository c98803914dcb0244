"""Deadlines are counted on the setting's working-day calendar, in its own timezone."""

from datetime import UTC, date, datetime, time

import pytest

from cases.calendar import WorkingCalendar

LONDON = WorkingCalendar("Europe/London", "england_wales")
EDINBURGH = WorkingCalendar("Europe/London", "scotland")
BELFAST = WorkingCalendar("Europe/London", "northern_ireland")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_weekends_are_not_working_days():
    assert LONDON.is_working_day(date(2026, 11, 27))  # Friday
    assert not LONDON.is_working_day(date(2026, 11, 28))  # Saturday
    assert not LONDON.is_working_day(date(2026, 11, 29))  # Sunday


@pytest.mark.parametrize(
    ("calendar", "day", "working"),
    [
        (LONDON, date(2026, 8, 31), False),  # summer bank holiday in England and Wales
        (EDINBURGH, date(2026, 8, 31), True),  # not in Scotland...
        (EDINBURGH, date(2026, 8, 3), False),  # ...whose summer holiday is earlier
        (LONDON, date(2026, 3, 17), True),
        (BELFAST, date(2026, 3, 17), False),  # St Patrick's Day
        (EDINBURGH, date(2026, 1, 2), False),  # 2 January
        (LONDON, date(2026, 1, 2), True),
    ],
)
def test_bank_holidays_follow_the_settings_region(calendar, day, working):
    assert calendar.is_working_day(day) is working


def test_the_end_of_the_working_day_is_local_time_on_both_sides_of_the_clock_change():
    winter = LONDON.end_of_working_day(utc(2026, 3, 27, 9, 0))  # Friday, GMT
    summer = LONDON.end_of_working_day(utc(2026, 3, 30, 9, 0))  # Monday, BST
    assert winter.astimezone(LONDON.zone).time() == time(18, 0)
    assert summer.astimezone(LONDON.zone).time() == time(18, 0)
    assert winter == utc(2026, 3, 27, 18, 0)
    assert summer == utc(2026, 3, 30, 17, 0)


def test_after_hours_the_working_day_is_the_next_one():
    friday_evening = utc(2026, 11, 27, 18, 30)
    assert LONDON.end_of_working_day(friday_evening) == utc(2026, 11, 30, 18, 0)


def test_working_days_skip_weekends_and_christmas():
    christmas_eve = utc(2026, 12, 24, 11, 15)  # Thursday
    # 25 Dec (Fri) and 28 Dec (Boxing Day, moved to Monday) are holidays.
    assert LONDON.add_working_days(christmas_eve, 3) == utc(2026, 12, 31, 11, 15)


def test_working_days_counted_from_out_of_hours_start_at_the_next_days_opening():
    saturday = utc(2026, 11, 28, 10, 0)
    # Counting starts on Monday 30th at 08:00; three working days on is Thursday 08:00.
    assert LONDON.add_working_days(saturday, 3) == utc(2026, 12, 3, 8, 0)


def test_working_days_keep_local_time_across_the_clock_change():
    thursday = utc(2026, 3, 26, 14, 0)  # 14:00 GMT
    deadline = LONDON.add_working_days(thursday, 3)  # Tuesday 31 March, after the change
    assert deadline.astimezone(LONDON.zone).time() == time(14, 0)
    assert deadline == utc(2026, 3, 31, 13, 0)


def test_a_setting_abroad_counts_in_its_own_timezone():
    calendar = WorkingCalendar("America/New_York", "england_wales")
    # 21:00 UTC is 16:00 in New York: still the same working day there.
    assert calendar.end_of_working_day(utc(2026, 11, 24, 21, 0)) == utc(2026, 11, 24, 23, 0)


def test_a_school_calendar_skips_its_closed_days_as_well():
    half_term = frozenset(date(2026, 10, 19 + n) for n in range(5))
    school = WorkingCalendar("Europe/London", "england_wales", closed=half_term)
    assert not school.is_working_day(date(2026, 10, 21))
    assert LONDON.is_working_day(date(2026, 10, 21))
    friday = utc(2026, 10, 16, 9, 0)
    assert school.next_working_day(date(2026, 10, 16)) == date(2026, 10, 26)
    assert school.add_working_days(friday, 1).date() == date(2026, 10, 26)
    assert LONDON.add_working_days(friday, 1).date() == date(2026, 10, 19)
