"""The proposer of a refused share asks for it to be reconsidered; the leads answer it.

The request is refused by the service (not only the page) to anyone but the proposer, of
any share not refused, without a reason, twice, and of a refusal already upheld on
reconsideration. The request and its answer are on the share's page, in its history and in
its decision record.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.urls import reverse

from cases import choices
from cases.models import ReconsiderationRequest, Share
from permissions.models import AuditAction, AuditEntry
from workflows import steps
from workflows.decision_record import decision_record

from .http_helpers import error_text, form_data, page_text, url
from .test_reconsideration import violation

Outcome = choices.Outcome
REFUSED_AT = datetime(2025, 6, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def refused(time_machine: Any, submitted: Share, lead: Any) -> Share:
    time_machine.move_to(REFUSED_AT, tick=False)
    steps.decide(
        share=submitted,
        user=lead,
        outcome=Outcome.REFUSE,
        refusal_reason=choices.RefusalReason.ALREADY_HELD,
        reasons="Social care already hold this.",
    )
    time_machine.move_to(REFUSED_AT + timedelta(hours=3), tick=False)
    submitted.refresh_from_db()
    return submitted


def ask(share: Share, user: Any, reason: str = "The police asked us for it directly.") -> Any:
    return steps.ask_reconsideration(share=share, user=user, reason=reason)


def test_the_proposer_asks_with_a_reason_and_it_is_logged(
    refused: Share, practitioner: Any
) -> None:
    request = ask(refused, practitioner)
    assert request.refusal == refused.decisions.get()
    entry = AuditEntry.objects.get(action=AuditAction.RECONSIDERATION_REQUESTED)
    assert (entry.share, entry.actor) == (refused, practitioner)


@pytest.mark.parametrize("who", ["lead", "colleague", "deputy"])
def test_only_the_proposer_may_ask(
    refused: Share, who: str, request: pytest.FixtureRequest
) -> None:
    person = request.getfixturevalue(who)
    assert "__all__" in violation(lambda: ask(refused, person))
    assert not ReconsiderationRequest.objects.exists()


def test_only_a_refused_share_may_be_asked_about(approved: Share, practitioner: Any) -> None:
    assert "__all__" in violation(lambda: ask(approved, practitioner))


def test_a_reason_is_required_and_bounded(refused: Share, practitioner: Any) -> None:
    assert "reason" in violation(lambda: ask(refused, practitioner, reason="   "))
    assert "reason" in violation(lambda: ask(refused, practitioner, reason="x" * 4001))
    assert not ReconsiderationRequest.objects.exists()


def test_a_refusal_is_asked_about_once(refused: Share, practitioner: Any) -> None:
    ask(refused, practitioner)
    assert "already asked" in violation(lambda: ask(refused, practitioner))["__all__"][0]
    assert ReconsiderationRequest.objects.count() == 1


def test_a_refusal_upheld_on_reconsideration_cannot_be_asked_about_again(
    refused: Share, practitioner: Any, lead: Any
) -> None:
    ask(refused, practitioner)
    steps.reconsider(
        share=refused,
        user=lead,
        outcome=Outcome.REFUSE,
        refusal_reason=choices.RefusalReason.ALREADY_HELD,
        reasons="Still already held by social care.",
    )
    refused.refresh_from_db()
    assert "upheld" in violation(lambda: ask(refused, practitioner))["__all__"][0]


def test_the_request_and_its_answer_are_on_the_page_the_history_and_the_record(
    client: Any, refused: Share, practitioner: Any, lead: Any
) -> None:
    client.force_login(practitioner)
    share_page = page_text(client.get(url("share_detail", refused.pk)))
    assert "Ask for the refusal to be reconsidered" in share_page

    form = client.get(url("ask_reconsideration", refused.pk))
    assert "Social care already hold this." in page_text(form)
    empty = client.post(url("ask_reconsideration", refused.pk), form_data(form, reason=""))
    assert empty.status_code == 400
    assert error_text(empty, "id_reason")
    response = client.post(
        url("ask_reconsideration", refused.pk),
        form_data(form, reason="The police asked us for it directly."),
    )
    assert response.status_code == 302

    shown = page_text(client.get(url("share_detail", refused.pk)))
    assert "The police asked us for it directly." in shown
    assert "Waiting for a lead or deputy" in shown
    assert "Ask for the refusal to be reconsidered" not in shown
    assert "Reconsideration asked for" in shown  # the history's entry too

    client.force_login(lead)
    # The lead reconsidering it reads what the proposer asked.
    assert "The police asked us for it directly." in page_text(
        client.get(url("reconsider", refused.pk))
    )
    steps.reconsider(
        share=refused, user=lead, outcome=Outcome.APPROVE, reasons="The police need it."
    )
    shown = page_text(client.get(url("share_detail", refused.pk)))
    assert "Approve, by grace" in shown
    record = decision_record(refused, lead)
    decisions = next(s for s in record.sections if s.key == "decisions")
    asked = next(b for b in decisions.blocks if b.heading == "Reconsideration asked for")
    assert dict(asked.rows)["Answered by"] == "decision 2"
    assert dict(asked.rows)["Why"] == "The police asked us for it directly."


def test_an_outsider_gets_not_found_and_a_colleague_who_sees_the_case_is_refused(
    client: Any, refused: Share, other_lead: Any, lead: Any
) -> None:
    client.force_login(other_lead)
    assert client.get(url("ask_reconsideration", refused.pk)).status_code == 404
    client.force_login(lead)
    assert client.get(url("ask_reconsideration", refused.pk)).status_code == 403


def test_the_steps_page_says_what_came_after_the_workflow_ended(
    client: Any, refused: Share, practitioner: Any, lead: Any
) -> None:
    ask(refused, practitioner)
    steps.reconsider(share=refused, user=lead, outcome=Outcome.APPROVE, reasons="Needed now.")
    client.force_login(lead)
    steps_page = page_text(client.get(reverse("share:process_detail", args=[refused.process.pk])))
    assert "After the workflow ended" in steps_page
    assert "the refusal was reconsidered by" in steps_page
    assert "Lead review" in steps_page and "#" + str(refused.process.pk) + "/" not in steps_page
