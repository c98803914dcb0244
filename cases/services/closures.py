"""A setting's term dates: the periods it is closed to children (half-terms, holidays), kept
by its lead from the Term dates page. A child protection file's five school days skip them
(``cases.deadlines.school_calendar_of``). Each closure added or removed is an entry in the
setting's audit chain, since it moves the deadline of every file sent to the setting after.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from permissions.audit import record_setting_change
from permissions.models import AuditAction
from permissions.rules import may_run_setting

from ..deadlines import today_in
from ..errors import raise_if, refuse
from ..models import Organisation, SettingClosure
from ..transactions import atomic_change

# A summer holiday is about six weeks; a closure longer than ten weeks is a typing slip (a
# year instead of a week), which would silently stop a file's clock.
MAX_CLOSURE_DAYS = 70
# Term dates are entered for this year and next, and kept for the last two: a date further
# off is a slip too.
WITHIN = timedelta(days=731)
NAME_LENGTH = 100


def _day(value: date) -> str:
    return f"{value.day} {value:%B %Y}"


def closure_problems(
    organisation: Organisation, *, first_day: date | None, last_day: date | None, name: str
) -> dict[str, list[str]]:
    """What is wrong with a closure the setting's lead is adding, keyed by field."""
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = ["Give the closure a name, such as Autumn half-term."]
    elif len(name.strip()) > NAME_LENGTH:
        errors["name"] = [f"At most {NAME_LENGTH} characters (this has {len(name.strip())})."]
    today = today_in(organisation)
    for field, day, said in (
        ("first_day", first_day, "the first day the setting is closed"),
        ("last_day", last_day, "the last day the setting is closed"),
    ):
        if day is None:
            errors[field] = [f"Enter {said}."]
        elif not today - WITHIN <= day <= today + WITHIN:
            errors[field] = [f"Enter {said}: within two years of today."]
    if set(errors) & {"first_day", "last_day"} or first_day is None or last_day is None:
        return errors
    return errors | _span_problems(organisation, first_day, last_day)


def _span_problems(
    organisation: Organisation, first_day: date, last_day: date
) -> dict[str, list[str]]:
    """Two plausible days: in order, not too far apart, and clear of the setting's others."""
    if last_day < first_day:
        return {"last_day": ["The last day closed cannot be before the first."]}
    days = (last_day - first_day).days + 1
    if days > MAX_CLOSURE_DAYS:
        return {
            "last_day": [
                f"A closure is at most {MAX_CLOSURE_DAYS} days (a summer holiday is about six "
                f"weeks); this one is {days}. Check the dates, or enter it as two closures."
            ]
        }
    clash = (
        SettingClosure.objects.filter(
            organisation=organisation, last_day__gte=first_day, first_day__lte=last_day
        )
        .order_by("first_day")
        .first()
    )
    if clash is not None:
        return {"first_day": [f"These dates overlap {clash}: change or remove that one first."]}
    return {}


@atomic_change()
def closure_add(
    *, organisation: Organisation, first_day: date | None, last_day: date | None, name: str, by: Any
) -> SettingClosure:
    """The lead enters a period the setting is closed; the audit entry names its dates."""
    if not may_run_setting(by, organisation):
        raise refuse("__all__", "Only the setting's lead can change its term dates.")
    # Two additions at once wait here one after the other, so neither misses the other's
    # overlap.
    Organisation.objects.select_for_update(no_key=True).filter(pk=organisation.pk).first()
    raise_if(closure_problems(organisation, first_day=first_day, last_day=last_day, name=name))
    if first_day is None or last_day is None:  # closure_problems has said so already
        raise refuse("first_day", "Enter the first and last days the setting is closed.")
    closure = SettingClosure.objects.create(
        organisation=organisation,
        first_day=first_day,
        last_day=last_day,
        name=name.strip(),
        added_by=by,
    )
    record_setting_change(
        AuditAction.CLOSURE_ADDED,
        organisation,
        actor=by,
        record=closure,
        detail=f"{closure.name}: closed {_day(first_day)} to {_day(last_day)}",
    )
    return closure


@atomic_change()
def closure_remove(*, closure: SettingClosure, by: Any) -> None:
    """The lead removes a closure entered by mistake (or a holiday that was cancelled). A
    file already sent keeps the deadline it was given."""
    organisation = closure.organisation
    if not may_run_setting(by, organisation):
        raise refuse("__all__", "Only the setting's lead can change its term dates.")
    Organisation.objects.select_for_update(no_key=True).filter(pk=organisation.pk).first()
    found = SettingClosure.objects.filter(pk=closure.pk).first()
    if found is None:
        # Removed a moment ago (a second click): nothing left to do, and nothing to record.
        return
    record_setting_change(
        AuditAction.CLOSURE_REMOVED,
        organisation,
        actor=by,
        record=found,
        detail=f"{found.name}: closed {_day(found.first_day)} to {_day(found.last_day)}",
    )
    found.delete()
