"""When a lead's decision on a share falls due, by the setting's policy and calendar."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

from django.utils import timezone

from .calendar import WorkingCalendar
from .models import DEFAULT_POLICY, DeadlinePolicy, DeadlineRule, Organisation, SettingClosure


def calendar_of(organisation: Organisation) -> WorkingCalendar:
    """The setting's working days: weekdays that are not bank holidays. Every deadline of a
    share is counted on it, through the school holidays too: safeguarding does not stop for
    them, and a designated safeguarding lead covers the holidays."""
    return WorkingCalendar(
        timezone=organisation.timezone,
        region=organisation.calendar_region,
        day_starts=organisation.working_day_starts,
        day_ends=organisation.working_day_ends,
    )


def school_calendar_of(organisation: Organisation, *, since: date | None = None) -> WorkingCalendar:
    """The setting's school days: its working days less the closures its lead has entered
    (half-terms, holidays). Only a child protection file's clock counts on it, as Keeping
    Children Safe in Education counts school days. ``since``: closures ending before it are
    left out, as a count that starts then never reaches them."""
    closures = SettingClosure.objects.filter(organisation=organisation)
    if since is not None:
        closures = closures.filter(last_day__gte=since)
    closed = frozenset(
        first + timedelta(days=offset)
        for first, last in closures.values_list("first_day", "last_day")
        for offset in range((last - first).days + 1)
    )
    return replace(calendar_of(organisation), closed=closed)


def policy_for(organisation: Organisation, urgency: str) -> tuple[str, int]:
    policy = DeadlinePolicy.objects.filter(organisation=organisation, urgency=urgency).first()
    return (policy.rule, policy.amount) if policy else DEFAULT_POLICY[urgency]


def retrospective_review_deadline(organisation: Organisation, released_at: datetime) -> datetime:
    """After an emergency release the lead reviews it by the end of the working day."""
    return calendar_of(organisation).end_of_working_day(released_at)


def review_deadline(organisation: Organisation, urgency: str, submitted_at: datetime) -> datetime:
    rule, amount = policy_for(organisation, urgency)
    if rule == DeadlineRule.HOURS:
        # Immediate risk does not wait for office hours: clock hours, day or night.
        return submitted_at + timedelta(hours=amount)
    # Working days, never school days: a review does not wait for the end of half-term.
    calendar = calendar_of(organisation)
    if rule == DeadlineRule.END_OF_WORKING_DAY:
        return calendar.end_of_working_day(submitted_at)
    return calendar.add_working_days(submitted_at, amount)


def escalation_times(submitted_at: datetime, due: datetime) -> tuple[datetime, datetime, datetime]:
    """When an undecided review escalates: the lead is reminded at half time, the deputies
    are brought in at the deadline, and the manager as long again after it."""
    span = due - submitted_at
    return submitted_at + span / 2, due, due + span


def today_in(organisation: Organisation) -> date:
    """Today as the setting counts days, in its own timezone."""
    return timezone.localdate(timezone=calendar_of(organisation).zone)


def _span(delta: timedelta) -> str:
    """A length of time in the words a lead reads at a glance: the two largest units."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [(days, "day"), (hours, "hour"), (minutes, "minute")]
    words = [f"{n} {unit}{'' if n == 1 else 's'}" for n, unit in parts if n]
    return " ".join(words[:2]) or "less than a minute"


def time_left(due: datetime | None, now: datetime | None = None) -> tuple[str, bool]:
    """("3 hours 20 minutes left", False) or ("overdue by 2 days 1 hour", True).

    Said in words, so that being late never rests on a colour alone.
    """
    if due is None:
        return "no deadline", False
    remaining = due - (now or timezone.now())
    if remaining.total_seconds() < 0:
        return f"overdue by {_span(-remaining)}", True
    return f"{_span(remaining)} left", False
