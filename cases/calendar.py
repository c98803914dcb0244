"""A setting's working-day calendar: weekdays that are not bank holidays in its region, and
(for a school-day count only) not days the setting is closed for its holidays.

Deadlines are counted in the setting's own timezone, so a deadline "at the end of the
working day" stays at 18:00 local time across the clocks changing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

# The holidays package names the UK's regions by subdivision code.
_SUBDIVISION = {
    "england_wales": "ENG",
    "scotland": "SCT",
    "northern_ireland": "NIR",
}


@lru_cache(maxsize=64)
def _bank_holidays(region: str, year: int) -> frozenset[date]:
    return frozenset(holidays.UK(subdiv=_SUBDIVISION[region], years=year))


@dataclass(frozen=True)
class WorkingCalendar:
    timezone: str
    region: str
    day_starts: time = time(8, 0)
    day_ends: time = time(18, 0)
    # Days the setting is closed besides weekends and bank holidays (its half-terms and
    # holidays), each day listed: a set look-up keeps is_working_day as cheap as it was,
    # since deadlines call it in loops. Empty but for a school-day calendar.
    closed: frozenset[date] = frozenset()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_working_day(self, day: date) -> bool:
        return (
            day.weekday() < 5
            and day not in _bank_holidays(self.region, day.year)
            and day not in self.closed
        )

    def next_working_day(self, day: date) -> date:
        day += timedelta(days=1)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def _at(self, day: date, moment: time) -> datetime:
        # Built from local wall-clock time, so 18:00 is 18:00 in summer and in winter.
        return datetime.combine(day, moment, tzinfo=self.zone)

    def working_day_of(self, when: datetime) -> date:
        """The working day a moment counts towards: later ones roll to the next working day."""
        local = when.astimezone(self.zone)
        day = local.date()
        if self.is_working_day(day) and local.time() < self.day_ends:
            return day
        return self.next_working_day(day)

    def end_of_working_day(self, when: datetime) -> datetime:
        return self._at(self.working_day_of(when), self.day_ends)

    def add_working_days(self, when: datetime, days: int) -> datetime:
        """The same time of day, ``days`` working days on (from the day's start if out of hours)."""
        local = when.astimezone(self.zone)
        day = self.working_day_of(when)
        moment = (
            local.time()
            if day == local.date() and local.time() >= self.day_starts
            else (self.day_starts)
        )
        for _ in range(days):
            day = self.next_working_day(day)
        return self._at(day, moment)
