"""Escalating an undecided lead review: remind, bring in the deputies, then the manager.

Called from the flow's timer paths. It only writes rows (the escalation and one outbox
notification per person); sending happens afterwards in a retrying task, so a mail
server being down can never leave the flow stuck in an error state.
"""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.urls import reverse

from cases.choices import Role, ShareStatus
from cases.models import Share
from permissions.audit import record_event
from permissions.models import AuditAction
from permissions.selectors import people_to_alert

from .models import Escalation, EscalationLevel, NotificationKind
from .notifications.outbox import notify

_WHO: dict[str, set[str]] = {
    EscalationLevel.REMINDER: {Role.LEAD},
    EscalationLevel.DEPUTIES: {Role.DEPUTY, Role.LEAD},
    EscalationLevel.MANAGER: {Role.MANAGER},
}
_KIND: dict[str, str] = {
    EscalationLevel.REMINDER: NotificationKind.REVIEW_REMINDER,
    EscalationLevel.DEPUTIES: NotificationKind.REVIEW_OVERDUE,
    EscalationLevel.MANAGER: NotificationKind.REVIEW_STILL_OVERDUE,
}


def review_window(share: Share) -> tuple[datetime, datetime]:
    """When the current review round started and when its decision falls due."""
    fresh = Share.objects.only("submitted_at", "review_due_at").get(pk=share.pk)
    if fresh.submitted_at is None or fresh.review_due_at is None:
        raise ValueError(f"Share #{share.pk} is under review without a deadline.")
    return fresh.submitted_at, fresh.review_due_at


def escalate(share: Share, level: str) -> Escalation | None:
    """Record this escalation once per review round and queue a notification per person."""
    share = Share.objects.select_related("case__organisation").get(pk=share.pk)
    if share.status not in (ShareStatus.AWAITING_REVIEW, ShareStatus.RELEASED_IN_EMERGENCY):
        return None  # decided in the meantime: nobody needs chasing
    submitted_at, due = review_window(share)
    with transaction.atomic():
        try:
            with transaction.atomic():
                escalation = Escalation.objects.create(
                    share=share, level=level, submitted_at=submitted_at, review_due_at=due
                )
        except IntegrityError:
            return None  # this round was already escalated to this level
        # Outside the guard above: a failure to log must fail the escalation, not pass for
        # "already escalated".
        record_event(AuditAction.ESCALATION, share, detail=escalation.get_level_display())
        _notify(share, level, escalation)
    return escalation


def _notify(share: Share, level: str, escalation: Escalation) -> None:
    organisation = share.case.organisation
    people = people_to_alert(organisation, _WHO[level])
    if not organisation.is_one_person_setting:
        # A lead who proposed the share cannot decide it: remind whoever can.
        people = people.exclude(pk=share.proposed_by_id)
        if level == EscalationLevel.REMINDER and not people.exists():
            people = people_to_alert(organisation, _WHO[EscalationLevel.DEPUTIES]).exclude(
                pk=share.proposed_by_id
            )
    if level == EscalationLevel.MANAGER:
        # A manager cannot open the share (no case content): they chase the leads, so theirs
        # names the share by its number, as the reports do, and links nowhere.
        notify(
            people,
            _KIND[level],
            event=f"escalation:{escalation.pk}",
            link="",
            detail=f"Share #{share.pk}",
            due_at=escalation.review_due_at,
            escalation=escalation,
        )
        return
    notify(
        people,
        _KIND[level],
        event=f"escalation:{escalation.pk}",
        link=reverse("safeguarding:lead_review", args=[share.pk]),
        share=share,
        due_at=escalation.review_due_at,
        escalation=escalation,
    )
