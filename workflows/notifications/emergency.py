"""Telling the leads and deputies at once that a share was released in an emergency.

An emergency release goes before any lead has signed it off; waiting for the retrospective
review's reminder would leave them unaware for half a working day. Written in the same
transaction as the release (``steps.release_in_emergency``), like escalation only as outbox
rows: one per person, naming no child and no case (a kind and a link to the review).
"""

from __future__ import annotations

from django.urls import reverse

from cases.choices import DECIDING_ROLES
from cases.models import Release
from permissions.selectors import people_to_alert

from ..models import Notification, NotificationKind
from .outbox import notify


def alert_leads_to_emergency_release(release: Release) -> list[Notification]:
    """One notification for each current lead and deputy of the setting, emailed after commit.

    Whoever released it is not told of their own act (a childminder is their own lead).
    """
    share = release.share
    return notify(
        people_to_alert(share.case.organisation, set(DECIDING_ROLES)),
        NotificationKind.EMERGENCY_RELEASE,
        event=f"emergency_release:{release.pk}",
        link=reverse("safeguarding:lead_review", args=[share.pk]),
        share=share,
        actor=release.released_by,
        due_at=share.review_due_at,
        release=release,
    )
