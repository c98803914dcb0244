"""Break glass: time-limited access to a case, with a reason, that the lead is told about."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from cases import app_settings
from cases.errors import refuse
from cases.models import Case
from cases.people import Person

from .audit import record_access_change
from .models import AuditAction, BreakGlassGrant
from .rules import can_break_glass, can_oversee
from .signals import break_glass_taken

MAX_HOURS = 72


def break_glass_hours() -> int:
    return int(app_settings.get("SAFESHARE_BREAK_GLASS_HOURS"))


@transaction.atomic
def break_glass_take(
    *, user: Person, case: Case, reason: str, hours: int | None = None
) -> BreakGlassGrant:
    """Open a case to someone of its setting for a limited time; the leads are alerted at once.

    One grant per use: the case row is locked first, so the same form submitted twice at
    once queues, and the second submission is given the grant the first one made (no second
    grant, entry or alert).
    """
    case = (
        Case.objects.select_for_update(of=("self",), no_key=True)
        .select_related("organisation")
        .get(pk=case.pk)
    )
    existing = BreakGlassGrant.objects.active().filter(user=user, case=case).first()
    if existing is not None:
        return existing
    if not can_break_glass(user, case):
        raise refuse("reference", "You cannot take break-glass access to this case.")
    reason = (reason or "").strip()
    if not reason:
        raise refuse("reason", "Write why you need access to this case now.")
    if len(reason) > 2000:
        raise refuse(
            "reason", f"Keep the reason to 2000 characters or fewer (it has {len(reason)})."
        )
    hours = break_glass_hours() if hours is None else hours
    if not 1 <= hours <= MAX_HOURS:
        raise refuse("hours", f"Access can last from 1 to {MAX_HOURS} hours.")
    now = timezone.now()
    grant = BreakGlassGrant.objects.create(
        user=user, case=case, reason=reason, granted_at=now, expires_at=now + timedelta(hours=hours)
    )
    record_access_change(
        action=AuditAction.BREAK_GLASS,
        subject_id=user.pk,
        target=case,
        permission=f"break-glass grant #{grant.pk}, {hours} hours",
        actor=user,
    )
    alert_leads(grant)
    return grant


def alert_leads(grant: BreakGlassGrant) -> None:
    """Tell the setting's leads and deputies, in the grant's own transaction.

    No request sends mail: the workflows app answers the signal with outbox notifications
    (in-app and emailed once after commit, naming who and never the child or case), so a
    mail server that is down fails nothing and loses nothing.
    """
    break_glass_taken.send(sender=BreakGlassGrant, grant=grant)


def _record_ended(grant: BreakGlassGrant, by: Any, why: str) -> None:
    record_access_change(
        action=AuditAction.REVOKE,
        subject_id=grant.user_id,
        target=grant.case,
        permission=f"break-glass grant #{grant.pk} {why}",
        actor=by,
    )


def end_break_glass_on(case: Case, *, by: Any = None) -> None:
    """End every live break-glass grant on a case (it is being closed)."""
    for grant in BreakGlassGrant.objects.active().filter(case=case).select_related("case"):
        grant.ended_at = timezone.now()
        grant.save(update_fields=["ended_at"])
        _record_ended(grant, by, "ended: the case was closed")


@transaction.atomic
def break_glass_review(
    *, grant: BreakGlassGrant, lead: Any, end_now: bool = False
) -> BreakGlassGrant:
    if not can_oversee(lead, grant.case.organisation):
        raise refuse(
            "__all__", "Only the setting's lead or a deputy can review break-glass access."
        )
    now = timezone.now()
    # Only a grant still open can be ended (and logged as revoked): an expired or already
    # ended one has nothing left to take away.
    ending = end_now and grant.is_active
    grant.reviewed_by, grant.reviewed_at = lead, now
    if ending:
        grant.ended_at = now
    grant.save(update_fields=["reviewed_by", "reviewed_at", "ended_at"])
    if ending:
        _record_ended(grant, lead, "ended by the lead")
    return grant
