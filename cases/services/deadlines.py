from __future__ import annotations

from typing import Any

from django.db import transaction

from permissions.rules import can_set_deadlines

from ..choices import Urgency
from ..errors import refuse
from ..models import DeadlinePolicy, DeadlineRule, Organisation

# Bounds that keep a policy meaningful: a review is never due in zero time, nor in a month.
_LIMITS: dict[str, tuple[int, int]] = {
    DeadlineRule.HOURS: (1, 72),
    DeadlineRule.WORKING_DAYS: (1, 10),
}


@transaction.atomic
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
    policy, _ = DeadlinePolicy.objects.update_or_create(
        organisation=organisation, urgency=urgency, defaults={"rule": rule, "amount": amount}
    )
    return policy
