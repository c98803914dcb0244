"""Chasing a promise to tell the family once the date set for it has passed (golden rule 2).

Run on the timer sweep's beat. Like escalation it only writes outbox rows, one per person
and once per follow-up, naming no child and no case; the retrying delivery task sends them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from cases.choices import Role
from cases.models import FamilyFollowUp
from permissions.rules import can_record_family_told
from permissions.selectors import people_to_alert

from .models import Notification, NotificationKind


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
    link = reverse("safeguarding:family_told", args=[follow_up.share_id])
    notifications = [
        Notification(
            recipient=person,
            kind=NotificationKind.FAMILY_FOLLOW_UP_OVERDUE,
            link=link,
            family_follow_up=follow_up,
            share=follow_up.share,
            due_at=follow_up.due_at,
        )
        for person in _people_to_chase(follow_up)
    ]
    if not notifications:
        return False
    try:
        with transaction.atomic():
            Notification.objects.bulk_create(notifications)
    except IntegrityError:
        return False  # another sweep chased it first
    from .tasks import deliver_after_commit  # late import: tasks import this module

    deliver_after_commit(Notification.objects.filter(family_follow_up=follow_up))
    return True


def chase_overdue_family_follow_ups(now: datetime | None = None) -> int:
    """Notify once about each open follow-up past its deadline; returns how many were chased."""
    overdue = FamilyFollowUp.objects.filter(
        recorded_at__isnull=True,
        due_at__lte=now or timezone.now(),
        notifications__isnull=True,
    ).select_related("share__case__organisation")
    return sum(_chase(follow_up) for follow_up in overdue)
