from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from django.utils import timezone

from cases.people import Person
from permissions.audit import record_event
from permissions.models import AuditAction
from permissions.rules import can_edit_draft, can_record_release

from .. import redaction, rules
from ..choices import ConsentStatus, Outcome, SendingMethod, ShareStatus, ThirdPartyHandling
from ..deadlines import escalation_times, retrospective_review_deadline
from ..errors import RuleViolation, raise_if, refuse
from ..models import Child, Decision, Release, Share, ShareItem
from ..transactions import atomic_change
from .openness import family_follow_up_open
from .shares import locked
from .versions import version_freeze

ItemHandling = Mapping[int, tuple[str, str]]


def _check_sent_at(
    sent_at: datetime | None, not_before: datetime, since: str = "the share was approved"
) -> datetime:
    if sent_at is None:
        raise refuse("sent_at", "Enter the date and time the information was sent.")
    if sent_at > timezone.now():
        raise refuse("sent_at", "The time sent cannot be in the future.")
    # Times sent are entered to the minute, so compare at that precision.
    if sent_at < not_before.replace(second=0, microsecond=0):
        raise refuse("sent_at", f"The time sent cannot be before {since}.")
    return sent_at


def _apply_handling(items: list[ShareItem], handling: ItemHandling) -> None:
    for item in items:
        if item.pk in handling and item.identifies_third_party:
            choice, redacted = handling[item.pk]
            if choice not in ThirdPartyHandling.values:
                raise refuse("__all__", "Choose redact or confirm for each flagged item.")
            item.third_party_handling = choice
            item.redacted_content = (
                redacted.strip() if choice == ThirdPartyHandling.REDACTED else ""
            )


def _handling_errors(
    items: list[ShareItem], third_party_handling: ItemHandling | None
) -> rules.Errors:
    """Take the release's choice for each flagged item; what is still wrong with them."""
    _apply_handling(items, third_party_handling or {})
    errors = rules.third_party_errors(items)
    for index, item in enumerate(items):
        _merge(errors, rules.text_length_errors(item, f"items.{index}."))
    return errors


def _merge(errors: rules.Errors, found: rules.Errors) -> None:
    for key, messages in found.items():
        errors.setdefault(key, []).extend(messages)


@atomic_change()
def release_record(
    *,
    share: Share,
    user: Person,
    sent_at: datetime | None,
    third_party_handling: ItemHandling | None = None,
    note: str = "",
) -> Release:
    """Record what was sent, to whom, how and when. Only the approved items are released."""
    share = locked(share)
    return release_approved(share, user, sent_at, third_party_handling, note, share.sending_method)


def _about(child: Child) -> str:
    """The child a secure link's release is about, as its recipient reads it."""
    known = f" (known as {child.known_as})" if child.known_as else ""
    return f"{child.first_name} {child.last_name}{known}, born {child.date_of_birth:%-d %B %Y}"


def release_approved(
    share: Share,
    user: Person,
    sent_at: datetime | None,
    third_party_handling: ItemHandling | None,
    note: str,
    sending_method: str,
) -> Release:
    """Release a share (already locked) against its approval, sent by ``sending_method``."""
    if share.status not in (ShareStatus.APPROVED, ShareStatus.APPROVED_IN_PART):
        raise refuse(
            "__all__",
            f"This share is {share.get_status_display().lower()}; only an approved share "
            "can be released.",
        )
    if not can_record_release(user, share):
        raise refuse("__all__", "Only the proposer or a lead can record this release.")
    decision = share.decisions.order_by("-decided_at", "-pk").first()
    if decision is None or decision.outcome not in (Outcome.APPROVE, Outcome.APPROVE_IN_PART):
        raise refuse("__all__", "There is no approval to release against.")
    sent_at = _check_sent_at(sent_at, not_before=decision.decided_at)

    approved = list(decision.approved_items.order_by("position", "pk"))
    release = _freeze(
        share, decision, approved, user, sent_at, third_party_handling, note, sending_method
    )
    share.status = ShareStatus.RELEASED
    share.save(update_fields=["status", "updated_at"])
    record_event(AuditAction.SHARE_RELEASED, share, actor=user, detail=f"release #{release.pk}")
    return release


def _freeze(
    share: Share,
    decision: Decision | None,
    items: list[ShareItem],
    user: Person,
    sent_at: datetime,
    third_party_handling: ItemHandling | None,
    note: str,
    sending_method: str,
) -> Release:
    """Write the permanent record of exactly what was sent, once every flagged item is settled."""
    raise_if(_handling_errors(items, third_party_handling))
    for item in items:
        item.save(update_fields=["third_party_handling", "redacted_content"])

    recipient = share.recipient
    assert recipient is not None, "approval and emergency release both require a recipient"
    release = Release(
        share=share,
        decision=decision,
        recipient_name=recipient.person_name,
        recipient_role=recipient.role,
        recipient_agency=recipient.agency_name,
        sending_method=sending_method,
        purpose=share.purpose,
        content=[
            {
                "item": item.pk,
                "category": item.get_category_display(),
                "text": item.content_to_send,
                # Only when something was taken out: the record must never call the original
                # text "redacted" (the rules above already refuse such a redaction).
                "redacted": item.third_party_handling == ThirdPartyHandling.REDACTED
                and not redaction.same_text(item.redacted_content, item.content),
            }
            for item in items
        ],
        about_child=_about(share.case.child) if sending_method == SendingMethod.SECURE_LINK else "",
        sent_at=sent_at,
        released_by=user,
        note=note.strip(),
    )
    raise_if(rules.text_length_errors(release))
    release.save()
    return release


@atomic_change()
def release_in_emergency(
    *,
    share: Share,
    user: Person,
    justification: str,
    sent_at: datetime | None,
    third_party_handling: ItemHandling | None = None,
    note: str = "",
    consent_override_justification: str | None = None,
) -> Release:
    """Release a complete draft at once, without a decision, because the child is at
    immediate risk and no lead can be reached. A retrospective lead review falls due by the
    end of the working day and escalates like any other.

    Only a share marked immediate risk qualifies, and every submission rule still holds:
    against a refused consent, the written justification is required here too (given with
    the release, ``consent_override_justification``, or already on the draft), because no
    lead signs it off first.
    """
    share = locked(share)
    if share.status != ShareStatus.DRAFT:
        raise refuse("__all__", "Only a draft can be released in an emergency.")
    if not can_edit_draft(user, share):
        raise refuse("__all__", "Only the person who proposed this share can release it.")
    if consent_override_justification is not None and (
        share.consent_status == ConsentStatus.REFUSED
    ):
        share.consent_override_justification = consent_override_justification.strip()
    # Every reason to refuse at once, so the page shows each beside its field.
    errors = rules.emergency_release_errors(share)
    justification = (justification or "").strip()
    if not justification:
        errors["justification"] = [
            "Explain why the child is at immediate risk and why no lead could be reached."
        ]
    try:
        # Nothing can have been sent before the share existed to send.
        _check_sent_at(sent_at, not_before=share.created_at, since="the share was proposed")
    except RuleViolation as refused:
        errors.update(refused.message_dict)
    items = list(share.items.order_by("position", "pk"))
    _merge(errors, rules.submission_errors(share, items))
    _merge(errors, _handling_errors(items, third_party_handling))
    raise_if(errors)
    assert sent_at is not None, "_check_sent_at refuses a missing time"
    share.emergency_justification = justification
    raise_if(rules.text_length_errors(share))
    release = _freeze(
        share,
        None,
        items,
        user,
        sent_at,
        third_party_handling,
        note,
        share.sending_method,
    )
    now = timezone.now()
    share.status = ShareStatus.RELEASED_IN_EMERGENCY
    share.submitted_at = now
    share.review_due_at = retrospective_review_deadline(share.organisation, now)
    share.escalation_due_at = escalation_times(now, share.review_due_at)[0]
    share.save(
        update_fields=[
            "status",
            "emergency_justification",
            "consent_override_justification",
            "submitted_at",
            "review_due_at",
            "escalation_due_at",
            "updated_at",
        ]
    )
    version_freeze(share, user, now)
    family_follow_up_open(share, now)
    record_event(
        AuditAction.SHARE_RELEASED,
        share,
        actor=user,
        detail=f"release #{release.pk}, in an emergency before any decision",
    )
    return release
