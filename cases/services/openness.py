"""Golden rule 2, after submission: a promise to tell the family, kept or chased."""

from __future__ import annotations

from datetime import date, datetime

from django.utils import timezone

from cases.people import Person
from permissions.audit import record_event
from permissions.models import AuditAction
from permissions.rules import can_record_family_told

from .. import app_settings
from ..choices import FamilyInformed, FamilyNotToldReason
from ..deadlines import calendar_of, today_in
from ..errors import raise_if, refuse
from ..models import FamilyFollowUp, Share
from ..transactions import atomic_change


def family_follow_up_open(share: Share, at: datetime) -> FamilyFollowUp | None:
    """When telling the family was "not yet possible", set a deadline to tell them.

    A resubmission keeps the follow-up already open rather than adding another.
    """
    temporary = (
        share.family_informed == FamilyInformed.NOT_TOLD
        and share.family_not_told_reason == FamilyNotToldReason.NOT_YET_POSSIBLE
    )
    if not temporary or share.family_follow_ups.filter(recorded_at__isnull=True).exists():
        return None
    days = app_settings.get("SAFESHARE_FAMILY_FOLLOW_UP_WORKING_DAYS")
    due = calendar_of(share.organisation).add_working_days(at, days)
    return FamilyFollowUp.objects.create(share=share, due_at=due)


@atomic_change()
def family_told_record(
    *, follow_up: FamilyFollowUp, user: Person, informed_on: date | None, informed_by: str
) -> FamilyFollowUp:
    """Record that the family has now been told; the follow-up is then closed for good."""
    follow_up = FamilyFollowUp.objects.select_for_update(no_key=True).get(pk=follow_up.pk)
    if not follow_up.is_open:
        raise refuse("__all__", "This has already been recorded: the family was told.")
    share = follow_up.share
    if not can_record_family_told(user, share):
        raise refuse("__all__", "Only the proposer or the setting's lead can record this.")
    errors: dict[str, list[str]] = {}
    informed_by = (informed_by or "").strip()
    zone = calendar_of(share.organisation).zone
    if informed_on is None:
        errors["informed_on"] = ["Enter the date the family was told."]
    elif informed_on > today_in(share.organisation):
        errors["informed_on"] = ["The date they were told cannot be in the future."]
    elif informed_on < timezone.localdate(follow_up.created_at, zone):
        # The promise dates from the submission that made it, and a resubmission after a
        # return keeps it open: a family told in between is recorded on its own day.
        errors["informed_on"] = [
            "That is before the share was submitted, when it was not yet possible."
        ]
    if not informed_by:
        errors["informed_by"] = ["Say who told the family."]
    elif len(informed_by) > 200:
        errors["informed_by"] = [
            f"Keep this to 200 characters or fewer (it has {len(informed_by)})."
        ]
    raise_if(errors)
    follow_up.informed_on = informed_on
    follow_up.informed_by = informed_by
    follow_up.recorded_by = user
    follow_up.recorded_at = timezone.now()
    follow_up.save(update_fields=["informed_on", "informed_by", "recorded_by", "recorded_at"])
    record_event(
        AuditAction.FAMILY_INFORMED,
        share,
        actor=user,
        detail=f"told on {informed_on:%d %B %Y} by {informed_by}",
    )
    return follow_up
