from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils import timezone

from cases.people import display_name
from permissions.audit import record_setting_change
from permissions.models import AuditAction, AuditEntry
from permissions.rules import can_set_deadlines

from ..choices import Urgency
from ..deadlines import policy_for
from ..errors import refuse
from ..models import DeadlinePolicy, DeadlineRule, Organisation
from ..transactions import atomic_change

# Bounds that keep a policy meaningful: a review is never due in zero time, nor in a month.
_LIMITS: dict[str, tuple[int, int]] = {
    DeadlineRule.HOURS: (1, 72),
    DeadlineRule.WORKING_DAYS: (1, 10),
}


@atomic_change()
def deadline_policy_set(
    *, organisation: Organisation, user: Any, urgency: str, rule: str, amount: int
) -> DeadlinePolicy:
    """Change how soon a setting's shares of one urgency must be decided (the lead only)."""
    if not can_set_deadlines(user, organisation):
        raise refuse("__all__", "Only the setting's lead can change its deadlines.")
    if urgency not in Urgency.values:
        raise refuse("urgency", "Choose an urgency from the list.")
    if rule not in DeadlineRule.values:
        raise refuse(f"{urgency}-rule", "Choose how the deadline is counted.")
    if rule == DeadlineRule.END_OF_WORKING_DAY:
        amount = 0
    else:
        low, high = _LIMITS[rule]
        if not low <= amount <= high:
            unit = "hours" if rule == DeadlineRule.HOURS else "working days"
            raise refuse(f"{urgency}-amount", f"Choose between {low} and {high} {unit}.")
    before = policy_for(organisation, urgency)
    policy, _ = DeadlinePolicy.objects.update_or_create(
        organisation=organisation, urgency=urgency, defaults={"rule": rule, "amount": amount}
    )
    if before != (rule, amount):
        # A change to how the setting works is on the audit chain like any other change.
        record_setting_change(
            AuditAction.DEADLINES_CHANGED,
            organisation,
            actor=user,
            detail=(
                f"{Urgency(urgency).label}: {_describe(rule, amount)} (was {_describe(*before)})"
            ),
        )
    return policy


def _describe(rule: str, amount: int) -> str:
    if rule == DeadlineRule.HOURS:
        return f"within {amount} clock hour{'s' if amount != 1 else ''}"
    if rule == DeadlineRule.WORKING_DAYS:
        return f"within {amount} working day{'s' if amount != 1 else ''}"
    return "by the end of the working day"


def deadline_policy_version(organisation: Organisation) -> str:
    """The whole policy as it stands, which the page carries from when it was opened: a save
    from a page opened before someone else's change is refused, not silently undone."""
    return "|".join(
        f"{urgency}:{rule}:{amount}"
        for urgency in Urgency.values
        for rule, amount in [policy_for(organisation, urgency)]
    )


@atomic_change()
def deadline_policies_set(
    *,
    organisation: Organisation,
    user: Any,
    rules: Mapping[str, tuple[str, int]],
    based_on: str | None,
) -> None:
    """Set every urgency's deadline at once, from a page opened at policy ``based_on``."""
    # One save at a time per setting, so two pages cannot both pass the check below.
    Organisation.objects.select_for_update(no_key=True).filter(pk=organisation.pk).first()
    if based_on is not None and based_on != deadline_policy_version(organisation):
        raise refuse("policy_version", _changed_since(organisation))
    for urgency, (rule, amount) in rules.items():
        deadline_policy_set(
            organisation=organisation, user=user, urgency=urgency, rule=rule, amount=amount
        )


def _changed_since(organisation: Organisation) -> str:
    last = (
        AuditEntry.objects.filter(
            organisation_id=organisation.pk, action=AuditAction.DEADLINES_CHANGED
        )
        .select_related("actor")
        .order_by("-pk")
        .first()
    )
    who = (
        f" by {display_name(last.actor)} at {timezone.localtime(last.at):%H:%M on %d %b %Y}"
        if last is not None and last.actor is not None
        else ""
    )
    now = "; ".join(
        f"{Urgency(urgency).label}: {_describe(*policy_for(organisation, urgency))}"
        for urgency in Urgency.values
    )
    return (
        f"The deadlines were changed{who} after you opened this page, so nothing was saved. "
        f"They now read: {now}. Your choices are kept below: save again to keep them instead."
    )
