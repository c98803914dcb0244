from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from cases.people import Person, display_name
from permissions.audit import record_event
from permissions.models import AuditAction, AuditEntry
from permissions.rules import can_edit_draft, can_propose_share

from .. import choices, rules
from ..choices import ShareStatus
from ..deadlines import escalation_times, review_deadline
from ..errors import raise_if, refuse
from ..models import Case, Share, ShareItem
from ..transactions import atomic_change
from .openness import family_follow_up_open
from .versions import version_freeze

SHARE_FIELDS = (
    "purpose",
    "direction",
    "requested_by",
    "requested_on",
    "urgency",
    "lawful_basis",
    "lawful_basis_power",
    "article9_condition",
    "schedule1_paragraph",
    "para18_reason",
    "statutory_gateways",
    "consent_status",
    "consent_not_sought_reason",
    "consent_override_justification",
    "family_informed",
    "family_informed_on",
    "family_informed_by",
    "family_not_told_reason",
    "family_not_told_detail",
    "risk_if_shared",
    "risk_if_not_shared",
    "recipient",
    "sending_method",
)
ITEM_FIELDS = (
    "category",
    "content",
    "necessity",
    "is_special_category",
    "identifies_third_party",
    "third_party_details",
    "third_party_handling",
    "redacted_content",
)

_NULLABLE = {"recipient", "requested_on", "family_informed_on"}

ItemData = Mapping[str, Any]


def _validation_errors(exc: ValidationError, prefix: str = "") -> dict[str, list[str]]:
    return {f"{prefix}{field}": list(messages) for field, messages in exc.message_dict.items()}


def _apply_fields(share: Share, fields: Mapping[str, Any]) -> None:
    unknown = set(fields) - set(SHARE_FIELDS)
    if unknown:
        raise refuse("__all__", f"These fields cannot be set here: {', '.join(sorted(unknown))}.")
    for name, value in fields.items():
        # Blank text is stored as "", never NULL; only the foreign key and the date are nullable.
        setattr(share, name, "" if value is None and name not in _NULLABLE else value)


def _validated_items(share: Share, items: Sequence[ItemData]) -> list[ShareItem]:
    """Build the item rows the draft will hold, checking each one, without saving."""
    raise_if(rules.item_count_errors(len(items)))
    existing = {item.pk: item for item in share.items.all()} if share.pk else {}
    built: list[ShareItem] = []
    errors: dict[str, list[str]] = {}
    for index, data in enumerate(items):
        item = existing.get(data.get("id") or 0) or ShareItem(share=share)
        for name in ITEM_FIELDS:
            if name in data:
                setattr(item, name, data[name] if data[name] is not None else "")
        if choices.is_special_category_by_nature(item.category):
            # Stored as the law sees it, so every record of the item says so, not the rules alone.
            item.is_special_category = True
        item.position = index
        prefix = f"items.{index}."
        try:
            item.full_clean(exclude=["share"])
        except ValidationError as exc:
            errors.update(_validation_errors(exc, prefix))
        errors.update(rules.text_length_errors(item, prefix))
        built.append(item)
    raise_if(errors)
    return built


def _check_share(share: Share) -> None:
    errors: dict[str, list[str]] = {}
    try:
        share.full_clean(exclude=["case", "proposed_by"])
    except ValidationError as exc:
        errors.update(_validation_errors(exc))
    errors.update(rules.text_length_errors(share))
    errors.update(rules.share_date_errors(share))
    if (
        share.recipient is not None
        and share.recipient.organisation_id != share.case.organisation_id
    ):
        errors.setdefault("recipient", []).append(
            "Choose a recipient from this setting's address book."
        )
    errors.update(rules.gateway_errors(share))
    raise_if(errors)


def _clear_what_no_longer_applies(share: Share) -> None:
    """A record that contradicts itself is not a record: an answer left over from a choice
    since changed ("not sought: it would increase the risk" beside "refused") is dropped."""
    if share.consent_status != choices.ConsentStatus.NOT_SOUGHT:
        share.consent_not_sought_reason = ""
    if share.consent_status != choices.ConsentStatus.REFUSED:
        share.consent_override_justification = ""
    if share.family_informed != choices.FamilyInformed.TOLD:
        share.family_informed_on, share.family_informed_by = None, ""
    if share.family_informed != choices.FamilyInformed.NOT_TOLD:
        share.family_not_told_reason, share.family_not_told_detail = "", ""
    if share.schedule1_paragraph != choices.Schedule1Paragraph.PARA_18:
        share.para18_reason = ""
    if share.direction != choices.Direction.INBOUND:
        share.requested_by, share.requested_on = "", None


def _save_draft(share: Share, fields: Mapping[str, Any], items: Sequence[ItemData]) -> Share:
    _apply_fields(share, fields)
    # What was typed is checked as typed (nothing invalid passes unremarked), then what the
    # choices made since no longer need is dropped.
    _check_share(share)
    _clear_what_no_longer_applies(share)
    built = _validated_items(share, items)
    new = share.pk is None
    share.save()
    kept = []
    for item in built:
        item.share = share
        item.save()
        kept.append(item.pk)
    if not new:
        # A new draft has no items but those just written: nothing to look for.
        share.items.exclude(pk__in=kept).delete()
    return share


@atomic_change()
def share_propose(
    *,
    case: Case,
    proposed_by: Person,
    fields: Mapping[str, Any],
    items: Sequence[ItemData],
) -> Share:
    """Start a draft share for a case. Drafts may be incomplete; submission checks the rules."""
    if not can_propose_share(proposed_by, case):
        raise refuse("__all__", "You cannot propose a share for this case.")
    share = Share(case=case, proposed_by=proposed_by, status=ShareStatus.DRAFT)
    _save_draft(share, fields, items)
    record_event(AuditAction.SHARE_CREATED, share, actor=proposed_by)
    return share


def locked(share: Share) -> Share:
    """The share re-read under a row lock, so concurrent writers queue behind each other."""
    # Lock the share row only: the recipient is an outer join, which PostgreSQL cannot lock.
    # FOR NO KEY UPDATE, not FOR UPDATE: a page view logging itself meanwhile holds the audit
    # chain's lock and needs a key-share lock on this row for its entry's foreign key; FOR
    # UPDATE would block it while this writer waits for the chain lock (a deadlock, a 500).
    return (
        Share.objects.select_for_update(of=("self",), no_key=True)
        # The proposer too: the flow assigns steps to them and notices are sent to them.
        .select_related("case__organisation", "recipient", "proposed_by")
        .get(pk=share.pk)
    )


def draft_version(share: Share) -> str:
    """What an edit form carries to say which state of the draft it was opened at.

    Every save of the share stamps ``updated_at`` anew, so it changes with each edit.
    """
    return share.updated_at.isoformat() if share.updated_at else ""


def stale_draft_message(share: Share) -> str:
    """Who last changed the draft and when, for the person whose copy is older."""
    last = (
        AuditEntry.objects.filter(
            share=share, action__in=(AuditAction.SHARE_EDITED, AuditAction.SHARE_CREATED)
        )
        .select_related("actor")
        .order_by("-pk")
        .first()
    )
    who = display_name(last.actor) if last is not None else display_name(share.proposed_by)
    at = timezone.localtime(last.at if last is not None else share.updated_at)
    return (
        f"This draft was changed by {who} at {at:%H:%M:%S on %d %B %Y} after you opened it: "
        "your version and theirs are shown below; nothing was overwritten. Save again to "
        "keep yours instead."
    )


@atomic_change()
def share_update_draft(
    *,
    share: Share,
    user: Person,
    fields: Mapping[str, Any],
    items: Sequence[ItemData],
    based_on: str | None = None,
) -> Share:
    """Save a draft. ``based_on`` is the ``draft_version`` the edit form was opened at: a
    save based on an older version is refused, so nobody silently undoes a newer change."""
    share = locked(share)
    if share.status != ShareStatus.DRAFT:
        raise refuse(
            "__all__",
            f"This share is {share.get_status_display().lower()}; only a draft can be changed.",
        )
    if not can_edit_draft(user, share):
        raise refuse("__all__", "Only the person who proposed this share can change it.")
    if based_on is not None and based_on != draft_version(share):
        raise refuse("draft_version", stale_draft_message(share))
    _save_draft(share, fields, items)
    record_event(AuditAction.SHARE_EDITED, share, actor=user)
    return share


@atomic_change()
def share_submit(*, share: Share, user: Person) -> Share:
    """Send a complete draft for lead review; every golden rule must be met first."""
    share = locked(share)
    if share.status != ShareStatus.DRAFT:
        raise refuse("__all__", "Only a draft can be submitted for review.")
    if not can_edit_draft(user, share):
        raise refuse("__all__", "Only the person who proposed this share can submit it.")
    items = list(share.items.order_by("position", "pk"))
    raise_if(rules.submission_errors(share, items))
    share.status = ShareStatus.AWAITING_REVIEW
    share.submitted_at = timezone.now()
    share.review_due_at = review_deadline(share.organisation, share.urgency, share.submitted_at)
    share.escalation_due_at = escalation_times(share.submitted_at, share.review_due_at)[0]
    share.save(
        update_fields=["status", "submitted_at", "review_due_at", "escalation_due_at", "updated_at"]
    )
    version = version_freeze(share, user, share.submitted_at, items)
    family_follow_up_open(share, share.submitted_at)
    record_event(AuditAction.SHARE_SUBMITTED, share, actor=user, detail=f"version {version.number}")
    return share


@atomic_change()
def share_withdraw(*, share: Share, user: Person, reason: str) -> Share:
    share = locked(share)
    if share.status != ShareStatus.DRAFT:
        raise refuse("__all__", "Only a draft can be withdrawn; this share has moved on.")
    if not can_edit_draft(user, share):
        raise refuse("__all__", "Only the person who proposed this share can withdraw it.")
    reason = (reason or "").strip()
    if not reason:
        raise refuse("withdrawn_reason", "Say why the share is being withdrawn.")
    share.withdrawn_reason = reason
    raise_if(rules.text_length_errors(share))
    share.status = ShareStatus.WITHDRAWN
    share.save(update_fields=["status", "withdrawn_reason", "updated_at"])
    record_event(AuditAction.SHARE_WITHDRAWN, share, actor=user)
    return share
