"""Who is told of each event in a share's life, called in the transaction of the change.

The steps (``workflows.steps``) and the advice and reconsideration pages call these right
after the ``cases`` service that made the change, so the change and its notifications
commit together.
"""

from __future__ import annotations

from django.urls import reverse

from cases.choices import DECIDING_ROLES, DecidingCapacity, Outcome, Role
from cases.models import Consultation, Decision, ReconsiderationRequest, Share
from cases.people import Person
from permissions.selectors import people_to_alert

from ..models import Notification, NotificationKind
from .outbox import notify


def _share_page(share: Share) -> str:
    return reverse("safeguarding:share_detail", args=[share.pk])


def share_submitted(share: Share, user: Person) -> list[Notification]:
    """Every lead and deputy of the setting: a share waits for their decision, by when."""
    returned_before = share.decisions.filter(outcome=Outcome.RETURN).exists()
    detail = share.get_urgency_display()
    if returned_before:
        detail += "; resubmitted after it was returned"
    # Each submission is a new review round, told of afresh; a retry of the same one is not.
    round_started = share.submitted_at.isoformat() if share.submitted_at else ""
    return notify(
        people_to_alert(share.case.organisation, set(DECIDING_ROLES)),
        NotificationKind.SHARE_SUBMITTED,
        event=f"share_submitted:{share.pk}:{round_started}",
        link=reverse("safeguarding:lead_review", args=[share.pk]),
        share=share,
        actor=user,
        detail=detail,
        due_at=share.review_due_at,
    )


# The outcome as done, as a notice reports it.
_DONE: dict[str, str] = {
    Outcome.APPROVE: "Approved",
    Outcome.APPROVE_IN_PART: "Approved in part",
    Outcome.REFUSE: "Refused",
    Outcome.RETURN: "Returned for more information",
}
# A retrospective review of an emergency release: what it says of what was already sent.
_REVIEWED: dict[str, str] = {
    Outcome.APPROVE: "The emergency release was endorsed",
    Outcome.REFUSE: "Recorded that the emergency release should not have been shared",
}


def outcome_done(decision: Decision) -> str:
    if decision.share.emergency_justification and decision.reconsiders_id is None:
        said = _REVIEWED.get(decision.outcome)
        if said:
            return said
    done = _DONE.get(decision.outcome, decision.get_outcome_display())
    return f"{done} on reconsideration" if decision.reconsiders_id is not None else done


def share_decided(decision: Decision) -> list[Notification]:
    """The proposer hears the outcome; a deputy's decision is told to the lead as well."""
    share = decision.share
    outcome = outcome_done(decision)
    returned = decision.outcome == Outcome.RETURN
    written = notify(
        [share.proposed_by],
        NotificationKind.SHARE_RETURNED if returned else NotificationKind.SHARE_DECIDED,
        event=f"decision:{decision.pk}",
        # A returned share is worked on in its edit page, where the lead's note is shown.
        link=(
            reverse("safeguarding:share_edit", args=[share.pk]) if returned else _share_page(share)
        ),
        share=share,
        actor=decision.decided_by,
        detail=outcome,
    )
    if decision.capacity == DecidingCapacity.DEPUTY:
        written += notify(
            people_to_alert(share.case.organisation, {Role.LEAD}),
            NotificationKind.DECIDED_FOR_LEAD,
            event=f"decided_for_lead:{decision.pk}",
            link=_share_page(share),
            share=share,
            actor=decision.decided_by,
            detail=f"{outcome}, on behalf of the lead",
        )
    return written


def advice_asked(consultation: Consultation) -> list[Notification]:
    """The adviser, who may not see the share: a link to the question, and no share number."""
    return notify(
        [consultation.adviser],
        NotificationKind.ADVICE_ASKED,
        event=f"advice_asked:{consultation.pk}",
        link=reverse("safeguarding:advice_answer", args=[consultation.pk]),
        actor=consultation.asked_by,
    )


def advice_given(consultation: Consultation) -> list[Notification]:
    share = consultation.share
    return notify(
        [consultation.asked_by],
        NotificationKind.ADVICE_GIVEN,
        event=f"advice_given:{consultation.pk}",
        link=_share_page(share),
        share=share,
        actor=consultation.adviser,
    )


def reconsideration_requested(request: ReconsiderationRequest) -> list[Notification]:
    share = request.share
    return notify(
        people_to_alert(share.case.organisation, set(DECIDING_ROLES)),
        NotificationKind.RECONSIDERATION_REQUESTED,
        event=f"reconsideration_requested:{request.pk}",
        link=reverse("safeguarding:reconsider", args=[share.pk]),
        share=share,
        actor=request.requested_by,
    )
