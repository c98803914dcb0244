"""Escalating an undecided lead review: remind, bring in the deputies, then the manager.

The timer sweep (tasks.sweep_timers) calls ``escalate_due_reviews``, which reads only the
shares whose ``escalation_due_at`` has passed: it grows with what falls due, not with the
reviews open. Each escalation only writes rows (the escalation and one outbox notification
per person); sending happens afterwards in a retrying task, so a mail server being down
never holds an escalation up.

Why not viewflow timers on the lead review: three timer tasks per review round cost every
submission three task rows, their links and their activations, and every decision the
cancelling of all three; one indexed column on the share does the same job.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from cases.choices import Role, ShareStatus
from cases.deadlines import escalation_times
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
# In the order they fall due (deadlines.escalation_times gives their times in this order).
LEVELS = (EscalationLevel.REMINDER, EscalationLevel.DEPUTIES, EscalationLevel.MANAGER)
UNDER_REVIEW = (ShareStatus.AWAITING_REVIEW, ShareStatus.RELEASED_IN_EMERGENCY)
# Shares escalated per database read: a backlog after an outage is worked through in
# batches, each share in a transaction of its own.
SWEEP_BATCH = 200

logger = logging.getLogger(__name__)

_KIND: dict[str, str] = {
    EscalationLevel.REMINDER: NotificationKind.REVIEW_REMINDER,
    EscalationLevel.DEPUTIES: NotificationKind.REVIEW_OVERDUE,
    EscalationLevel.MANAGER: NotificationKind.REVIEW_STILL_OVERDUE,
}


def escalate(share: Share, level: str) -> Escalation | None:
    """Record this escalation once per review round and queue a notification per person."""
    share = Share.objects.select_related("case__organisation").get(pk=share.pk)
    if share.status not in UNDER_REVIEW:
        return None  # decided in the meantime: nobody needs chasing
    submitted_at, due = share.submitted_at, share.review_due_at
    if submitted_at is None or due is None:
        raise ValueError(f"Share #{share.pk} is under review without a deadline.")
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


def next_escalation_at(share: Share, after: datetime) -> datetime | None:
    """When the share's open review next escalates after ``after`` (None when nothing more
    falls due, or the share is not under review)."""
    if share.status not in UNDER_REVIEW or share.submitted_at is None:
        return None
    if share.review_due_at is None:
        return None
    later = [at for at in escalation_times(share.submitted_at, share.review_due_at) if at > after]
    return min(later, default=None)


def escalate_due_reviews() -> int:
    """Make every escalation that has fallen due; returns how many were made.

    A share whose escalation fails (its audit entry refused, say) is logged and left due,
    to be tried again at the next sweep; the others go on.
    """
    made = 0
    now = timezone.now()
    while True:
        due = list(
            Share.objects.filter(escalation_due_at__lte=now)
            .order_by("escalation_due_at", "pk")
            .values_list("pk", flat=True)[:SWEEP_BATCH]
        )
        failed = 0
        for pk in due:
            try:
                made += _escalate_due(pk, now)
            except Exception:
                failed += 1
                logger.exception("Could not escalate share #%s; the next sweep tries again", pk)
        if len(due) < SWEEP_BATCH or failed == len(due):
            return made


@transaction.atomic
def _escalate_due(pk: int, now: datetime) -> int:
    # The share's row is held while its escalations are written, so a decision made at the
    # same moment either comes first (and nothing is escalated) or waits for this one.
    share = (
        Share.objects.select_for_update(no_key=True)
        .filter(pk=pk, escalation_due_at__lte=now)
        .first()
    )
    if share is None:
        return 0  # decided, or escalated by another sweep, since it was read
    made = 0
    if share.status in UNDER_REVIEW and share.submitted_at and share.review_due_at:
        times = escalation_times(share.submitted_at, share.review_due_at)
        for level, at in zip(LEVELS, times, strict=True):
            if at <= now and escalate(share, level) is not None:
                made += 1
    Share.objects.filter(pk=pk).update(escalation_due_at=next_escalation_at(share, now))
    return made


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
