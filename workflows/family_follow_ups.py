"""Chasing a promise to tell the family once the date set for it has passed (golden rule 2).

Run on the timer sweep's beat. Like escalation it only writes outbox rows, one per person
and once per follow-up, naming no child and no case; the retrying delivery task sends them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.urls import reverse
from django.utils import timezone

from cases.choices import Role
from cases.models import FamilyFollowUp
from permissions.rules import can_record_family_told
from permissions.selectors import people_to_alert

from .models import NotificationKind
from .notifications.outbox import notify


def _people_to_chase(follow_up: FamilyFollowUp) -> list[Any]:
    """The proposer and the setting's leads, each only while they may record it: the link
    names the share, and someone who may no longer see it must not learn it is waiting."""
    share = follow_up.share
    organisation = share.case.organisation
    proposer = people_to_alert(organisation, set(Role.values)).filter(pk=share.proposed_by_id)
    people = {person.pk: person for person in proposer}
    people.update({person.pk: person for person in people_to_alert(organisation, {Role.LEAD})})
    return [person for person in people.values() if can_record_family_told(person, share)]


def _chase(follow_up: FamilyFollowUp) -> bool:
    """Tell them once; a second sweep racing this one writes nothing more."""
    return bool(
        notify(
            _people_to_chase(follow_up),
            NotificationKind.FAMILY_FOLLOW_UP_OVERDUE,
            event=f"family_follow_up:{follow_up.pk}",
            link=reverse("safeguarding:family_told", args=[follow_up.share_id]),
            share=follow_up.share,
            due_at=follow_up.due_at,
            family_follow_up=follow_up,
        )
    )


def chase_overdue_family_follow_ups(now: datetime | None = None) -> int:
    """Notify once about each open follow-up past its deadline; returns how many were chased."""
    overdue = FamilyFollowUp.objects.filter(
        recorded_at__isnull=True,
        due_at__lte=now or timezone.now(),
        notifications__isnull=True,
    ).select_related("share__case__organisation")
    return sum(_chase(follow_up) for follow_up in overdue)
