"""Gaps found in review of the advice, chronology, family follow-up and reconsideration pages.

Each test states the promise it holds the code to: need to know, no identity for the
adviser, and one access-log entry for every record a page shows.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from cases import choices
from cases.models import Case, Membership, Recipient, Share
from cases.services import (
    RuleViolation,
    advice_ask,
    advice_give,
    case_team_remove,
    family_told_record,
    membership_change_role,
)
from permissions.audit import records_shown
from permissions.models import AuditEntry
from workflows import steps
from workflows.family_follow_ups import chase_overdue_family_follow_ups
from workflows.models import Notification, NotificationKind

from .factories import CaseFactory, complete_fields, item
from .http_helpers import url

NOT_YET = {
    "family_not_told_reason": choices.FamilyNotToldReason.NOT_YET_POSSIBLE,
    "family_not_told_detail": "The parent is abroad until next week.",
}


# --- The chronology logs the advice it shows ---------------------------------------------------


def test_the_chronology_logs_each_request_for_advice_it_shows(
    client: Any, draft: Share, practitioner: Any, colleague: Any, lead: Any
) -> None:
    """The chronology prints every question and answer; like the share page and the decision
    record, its one view entry must name each of them."""
    asked = advice_ask(share=draft, user=practitioner, adviser=colleague, question="Enough?")
    advice_give(consultation=asked, user=colleague, advice="Yes, share it.")
    client.force_login(lead)
    mark = AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first()
    response = client.get(url("chronology", draft.case_id))
    assert response.status_code == 200
    assert "Yes, share it." in response.content.decode()
    [viewed] = AuditEntry.objects.filter(pk__gt=mark, actor=lead, action__startswith="view_")
    shown = records_shown(viewed)
    assert [pk for kind, pk in shown if kind == "consultation"] == [asked.pk]
    assert viewed.basis == "lead of the setting"


# --- An overdue promise is chased only with those who may keep it ------------------------------


@pytest.fixture
def promised(case: Case, practitioner: Any, recipient: Recipient) -> Share:
    share = steps.propose(
        case=case,
        user=practitioner,
        fields=complete_fields(recipient, **NOT_YET),
        items=[item()],
    )
    return steps.submit(share=share, user=practitioner)


def chase(share: Share) -> list[tuple[str, str]]:
    due = share.family_follow_ups.get().due_at
    chase_overdue_family_follow_ups(now=due + timedelta(minutes=1))
    return sorted(
        Notification.objects.filter(kind=NotificationKind.FAMILY_FOLLOW_UP_OVERDUE).values_list(
            "recipient__username", "link"
        )
    )


def test_a_proposer_off_the_case_team_is_not_chased(
    client: Any, promised: Share, case: Case, practitioner: Any, lead: Any
) -> None:
    """Off the team, the proposer gets 404 for the share: a notice linking to it would tell
    them the share (and its number) still needs something, outside their need to know."""
    case_team_remove(case=case, user=practitioner)
    client.force_login(practitioner)
    assert client.get(url("family_told", promised.pk)).status_code == 404
    assert chase(promised) == [("grace", url("family_told", promised.pk))]


def test_a_proposer_now_a_manager_is_not_chased(
    promised: Share, practitioner: Any, lead: Any
) -> None:
    membership = Membership.objects.get(user=practitioner, ended_at__isnull=True)
    membership_change_role(membership=membership, role=choices.Role.MANAGER)
    assert chase(promised) == [("grace", url("family_told", promised.pk))]


def test_a_proposer_still_on_the_team_is_still_chased(
    promised: Share, practitioner: Any, lead: Any
) -> None:
    link = url("family_told", promised.pk)
    assert chase(promised) == [("grace", link), ("priya", link)]


# --- The adviser is never given a case reference -----------------------------------------------


def test_a_case_reference_written_in_the_share_or_question_does_not_reach_the_adviser(
    case: Case, practitioner: Any, colleague: Any, recipient: Recipient, oakfield: Any
) -> None:
    """A case reference points straight at the child (and is all break glass asks for), so it
    is taken out like a name: this case's, and any other case's of the setting."""
    other = CaseFactory(organisation=oakfield, reference="OAK-777")
    share = steps.propose(
        case=case,
        user=practitioner,
        fields=complete_fields(recipient, purpose=f"Refer case {case.reference} to social care."),
        items=[item(content=f"Seen with the child of case {other.reference} at drop-off.")],
    )
    asked = advice_ask(
        share=share,
        user=practitioner,
        adviser=colleague,
        question=f"Is {case.reference} enough like {other.reference} to share?",
    )
    for text in (asked.question, asked.shared_text):
        assert case.reference not in text
        assert other.reference not in text
    assert "[case reference]" in asked.question
    assert "Refer case [case reference] to social care." in asked.shared_text


# --- A promise kept while the share was back in draft can be recorded as it happened -----------


def test_the_family_told_while_the_share_was_returned_is_recorded_on_the_day_it_happened(
    time_machine: Any, promised: Share, practitioner: Any, lead: Any
) -> None:
    """The promise dates from the first submission and survives a return; the day the family
    was told may fall before a resubmission, and the record must be able to say so."""
    first = promised.submitted_at
    assert first is not None
    time_machine.move_to(first + timedelta(days=1), tick=False)
    steps.decide(share=promised, user=lead, outcome=choices.Outcome.RETURN, reasons="More.")
    told_on = timezone.localdate(first + timedelta(days=2))
    time_machine.move_to(first + timedelta(days=3), tick=False)
    steps.save_and_submit(
        share=promised,
        user=practitioner,
        fields=complete_fields(promised.recipient, **NOT_YET),
        items=[item()],
    )
    follow_up = promised.family_follow_ups.get()
    # Before the promise was made, it was not yet possible: that is still refused.
    with pytest.raises(RuleViolation):
        family_told_record(
            follow_up=follow_up,
            user=practitioner,
            informed_on=timezone.localdate(first - timedelta(days=1)),
            informed_by="Priya",
        )
    recorded = family_told_record(
        follow_up=follow_up, user=practitioner, informed_on=told_on, informed_by="Priya"
    )
    assert recorded.informed_on == told_on
