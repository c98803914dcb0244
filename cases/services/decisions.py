from __future__ import annotations

from collections.abc import Iterable

from django.utils import timezone

from cases.people import Person
from permissions.audit import record_event
from permissions.models import AuditAction
from permissions.roles import role_in
from permissions.rules import can_ask_reconsideration, can_decide, can_reconsider

from .. import rules
from ..choices import (
    DecidingCapacity,
    Outcome,
    RefusalReason,
    Role,
    ShareStatus,
)
from ..errors import raise_if, refuse
from ..models import ApprovedItem, Decision, ReconsiderationRequest, Share, ShareItem
from ..transactions import atomic_change
from .shares import locked

_STATUS_AFTER: dict[str, str] = {
    Outcome.APPROVE: ShareStatus.APPROVED,
    Outcome.APPROVE_IN_PART: ShareStatus.APPROVED_IN_PART,
    Outcome.REFUSE: ShareStatus.REFUSED,
    Outcome.RETURN: ShareStatus.DRAFT,
}


def _capacity(user: Person, share: Share, rationale: str) -> str:
    """In what capacity the user decides; refuses self-decision outside a one-person setting."""
    if share.proposed_by_id == user.pk:
        if not share.organisation.is_one_person_setting:
            raise refuse(
                "__all__",
                "You proposed this share, so another lead or deputy must decide it.",
            )
        if not rationale.strip():
            raise refuse(
                "self_approval_rationale",
                "You are deciding your own share: write down why it is right to do so.",
            )
        return DecidingCapacity.SOLE_PRACTITIONER
    role = role_in(user, share.organisation)
    return DecidingCapacity.DEPUTY if role == Role.DEPUTY else DecidingCapacity.LEAD


def _outcome_errors(
    items: list[ShareItem], outcome: str, refusal_reason: str, reasons: str, item_ids: set[int]
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if outcome not in Outcome.values:
        errors["outcome"] = ["Choose approve, approve in part, refuse, or return."]
        return errors
    if outcome == Outcome.REFUSE and not refusal_reason:
        errors["refusal_reason"] = ["Choose the main reason for refusing."]
    # A reason for refusing matters only to a refusal; any other outcome ignores it.
    if outcome == Outcome.REFUSE and refusal_reason and refusal_reason not in RefusalReason.values:
        errors["refusal_reason"] = ["Choose a reason from the list."]
    if not reasons.strip():
        reason_prompts: dict[str, str] = {
            Outcome.RETURN: "Say what more information is needed.",
            Outcome.REFUSE: "Explain the refusal in your own words; it is kept on the record.",
        }
        errors["reasons"] = [reason_prompts.get(outcome, "Record the reasons for this decision.")]
    if outcome == Outcome.APPROVE_IN_PART:
        all_ids = {item.pk for item in items}
        if not item_ids:
            errors["approved_items"] = ["Choose the items that may be released."]
        elif not item_ids <= all_ids:
            errors["approved_items"] = ["Choose items of this share only."]
        elif item_ids == all_ids:
            errors["approved_items"] = ["Every item is chosen: approve the share in full instead."]
    return errors


def _approval_remedy(share: Share, reconsiders: Decision | None) -> str:
    """What a lead who may not approve can do instead, at the step they are at."""
    if reconsiders is not None:
        return "Let the refusal stand; the proposer can propose a new share that puts this right."
    if share.status == ShareStatus.RELEASED_IN_EMERGENCY:
        return "Refuse, to record that it should not have been shared on this basis."
    return "Return it to the proposer to put this right, or refuse it."


def _write(
    share: Share,
    user: Person,
    *,
    outcome: str,
    reasons: str,
    refusal_reason: str,
    conditions: str,
    approved_item_ids: Iterable[int],
    self_approval_rationale: str,
    reconsiders: Decision | None = None,
) -> Decision:
    """Check and write one decision on the share's latest version; the record is permanent."""
    capacity = _capacity(user, share, self_approval_rationale)
    item_ids = {int(pk) for pk in approved_item_ids}
    approving = outcome in (Outcome.APPROVE, Outcome.APPROVE_IN_PART)
    # An approval's items, read once in this transaction under the share's lock: checked,
    # then recorded as approved. A refusal or a return needs none.
    items = list(share.items.all()) if approving else []
    raise_if(_outcome_errors(items, outcome, refusal_reason, reasons, item_ids))
    approved: list[ShareItem] = []
    if approving:
        approved = [item for item in items if outcome == Outcome.APPROVE or item.pk in item_ids]
        raise_if(rules.approval_errors(share, approved, _approval_remedy(share, reconsiders)))

    now = timezone.now()
    # A reconsideration answers no deadline; a first decision may come after its own.
    due = share.review_due_at if reconsiders is None else None
    decision = Decision(
        share=share,
        organisation_id=share.case.organisation_id,
        # The round this decision closes began at the latest submission (or emergency
        # release), which the locked share still holds; a reconsideration closes no round.
        round_started_at=share.submitted_at if reconsiders is None else None,
        urgency=share.urgency,
        version=share.versions.order_by("-number").first(),
        reconsiders=reconsiders,
        late_by=(now - due) if due is not None and now > due else None,
        outcome=outcome,
        refusal_reason=refusal_reason if outcome == Outcome.REFUSE else "",
        reasons=reasons.strip(),
        # Conditions bind a release still to be made: an emergency release has already gone.
        conditions=(
            conditions.strip()
            if approving and share.status != ShareStatus.RELEASED_IN_EMERGENCY
            else ""
        ),
        decided_by=user,
        capacity=capacity,
        self_approval_rationale=self_approval_rationale.strip(),
    )
    raise_if(rules.text_length_errors(decision))
    decision.save()
    if approving:
        ApprovedItem.objects.bulk_create(
            ApprovedItem(decision=decision, item_id=item.pk) for item in approved
        )
    return decision


@atomic_change()
def decision_record(
    *,
    share: Share,
    user: Person,
    outcome: str,
    reasons: str,
    refusal_reason: str = "",
    conditions: str = "",
    approved_item_ids: Iterable[int] = (),
    self_approval_rationale: str = "",
) -> Decision:
    """Record the lead's decision on a share awaiting review; the record is permanent."""
    share = locked(share)
    emergency = share.status == ShareStatus.RELEASED_IN_EMERGENCY
    if emergency and outcome not in (Outcome.APPROVE, Outcome.REFUSE):
        raise refuse(
            "outcome",
            "This share was already released in an emergency: endorse it (approve) or record "
            "that it should not have been shared (refuse).",
        )
    if share.status not in (ShareStatus.AWAITING_REVIEW, ShareStatus.RELEASED_IN_EMERGENCY):
        raise refuse(
            "__all__",
            f"This share is {share.get_status_display().lower()}, not awaiting review: "
            "it may already have been decided.",
        )
    if not can_decide(user, share):
        raise refuse("__all__", "Only the setting's lead or a deputy can decide this share.")
    # Sharing against a refused consent needs the lead's sign-off: that holds because only
    # a lead or deputy decides at all (can_decide above), and submission already required
    # the written justification.
    decision = _write(
        share,
        user,
        outcome=outcome,
        reasons=reasons,
        refusal_reason=refusal_reason,
        conditions=conditions,
        approved_item_ids=approved_item_ids,
        self_approval_rationale=self_approval_rationale,
    )
    # A retrospective review records its view; what was sent stays sent.
    share.status = ShareStatus.RELEASED if emergency else _STATUS_AFTER[outcome]
    # Decided: nothing more to escalate (a returned share's next submission sets it again).
    share.escalation_due_at = None
    share.save(update_fields=["status", "escalation_due_at", "updated_at"])
    returned = outcome == Outcome.RETURN
    record_event(
        AuditAction.SHARE_RETURNED if returned else AuditAction.SHARE_DECIDED,
        decision,
        actor=user,
        detail=f"{decision.get_outcome_display()}"
        + (" (retrospective review of an emergency release)" if emergency else ""),
    )
    return decision


@atomic_change()
def decision_reconsider(
    *,
    share: Share,
    user: Person,
    outcome: str,
    reasons: str,
    refusal_reason: str = "",
    conditions: str = "",
    approved_item_ids: Iterable[int] = (),
    self_approval_rationale: str = "",
) -> Decision:
    """Look again at a refusal: a new decision linked to the one it reconsiders.

    The refusal stays on the record as it was. Upholding it keeps the share refused; an
    approval moves the share on to its release.
    """
    share = locked(share)
    if share.status != ShareStatus.REFUSED:
        raise refuse("__all__", "Only a refused share can be reconsidered.")
    if not can_reconsider(user, share):
        raise refuse("__all__", "Only the setting's lead or a deputy can reconsider a refusal.")
    if outcome == Outcome.RETURN:
        raise refuse(
            "outcome",
            "A reconsideration approves, approves in part, or upholds the refusal; for more "
            "information, ask the proposer to propose a new share.",
        )
    original = share.decisions.order_by("-decided_at", "-pk").first()
    assert original is not None, "a refused share carries its refusal"
    decision = _write(
        share,
        user,
        outcome=outcome,
        reasons=reasons,
        refusal_reason=refusal_reason,
        conditions=conditions,
        approved_item_ids=approved_item_ids,
        self_approval_rationale=self_approval_rationale,
        reconsiders=original,
    )
    share.status = _STATUS_AFTER[outcome]
    share.save(update_fields=["status", "updated_at"])
    record_event(
        AuditAction.SHARE_RECONSIDERED,
        decision,
        actor=user,
        detail=f"{decision.get_outcome_display()}, reconsidering decision #{original.pk}",
    )
    return decision


@atomic_change()
def reconsideration_ask(*, share: Share, user: Person, reason: str) -> ReconsiderationRequest:
    """The proposer of a refused share asks the leads to look at the refusal again.

    Once per refusal, and not of a refusal already upheld on reconsideration: that has had
    its second look. The answer is the reconsideration itself (``decision_reconsider``).
    """
    share = locked(share)
    if not can_ask_reconsideration(user, share):
        raise refuse(
            "__all__",
            "Only the person who proposed a refused share can ask for it to be reconsidered.",
        )
    refusal = share.decisions.order_by("-decided_at", "-pk").first()
    if refusal is None or refusal.outcome != Outcome.REFUSE:
        raise refuse("__all__", "Only a refused share can be reconsidered.")
    if refusal.reconsiders_id is not None:
        raise refuse(
            "__all__",
            "This refusal was already reconsidered and upheld. Speak to your setting's lead, "
            "or propose a new share if something has changed.",
        )
    if ReconsiderationRequest.objects.filter(refusal=refusal).exists():
        raise refuse(
            "__all__",
            "You have already asked for this refusal to be reconsidered; the leads have it.",
        )
    request = ReconsiderationRequest(
        share=share, refusal=refusal, requested_by=user, reason=reason.strip()
    )
    errors = rules.text_length_errors(request)
    if not request.reason:
        errors.setdefault("reason", []).append(
            "Say why the refusal should be looked at again: what the lead may have missed, "
            "or what has changed."
        )
    raise_if(errors)
    request.save()
    record_event(
        AuditAction.RECONSIDERATION_REQUESTED,
        share,
        actor=user,
        detail="The proposer asked for the refusal to be looked at again",
    )
    return request
