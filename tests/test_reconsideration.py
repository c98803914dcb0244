"""Reconsidering a refusal: a new decision linked to the refusal, which stays as it was.

An approval on reconsideration makes the release recordable although the share's process
ended at "refused": the process is left exactly as it ended.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.forms.models import model_to_dict
from django.utils import timezone
from viewflow.workflow.models import Process, Task
from viewflow.workflow.status import STATUS

from cases import choices
from cases.models import Decision, Release, Share
from cases.services import RuleViolation, decision_reconsider
from permissions.rules import share_actions
from workflows import steps
from workflows.flows import ShareFlow
from workflows.steps import StepUnavailable

from .factories import complete_fields, item
from .http_helpers import error_text, form_data, page_text, url

Outcome = choices.Outcome
SUBMITTED_AT = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)  # a Monday, 09:00 in London
REFUSED_AT = SUBMITTED_AT + timedelta(hours=2)


@pytest.fixture(autouse=True)
def clock(time_machine: Any) -> Any:
    time_machine.move_to(SUBMITTED_AT, tick=False)
    return time_machine


def violation(action: Callable[[], Any]) -> dict[str, list[str]]:
    with pytest.raises(RuleViolation) as caught:
        action()
    return caught.value.message_dict


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
    time_machine.move_to(REFUSED_AT + timedelta(days=1), tick=False)
    submitted.refresh_from_db()
    return submitted


def refusal_of(share: Share) -> Decision:
    return share.decisions.get(outcome=Outcome.REFUSE, reconsiders__isnull=True)


def as_recorded(decision: Decision) -> dict[str, Any]:
    fields = model_to_dict(decision)
    fields["decided_at"] = decision.decided_at
    fields["approved"] = sorted(decision.approved_items.values_list("pk", flat=True))
    return fields


def process_state(share: Share) -> tuple[Any, list[Any]]:
    process = Process.objects.get(shareprocess__share=share)
    tasks = Task.objects.filter(process=process).order_by("pk")
    return process.status, list(tasks.values_list("pk", "flow_task", "status", "finished"))


def test_a_lead_reconsiders_a_refusal_into_an_approval_and_the_release_is_recorded(
    client: Any, refused: Share, lead: Any, practitioner: Any, time_machine: Any
) -> None:
    refusal = refusal_of(refused)
    before = as_recorded(refusal)
    flow_before = process_state(refused)
    assert flow_before[0] == STATUS.DONE

    client.force_login(lead)
    page = client.get(url("reconsider", refused.pk))
    assert page.status_code == 200
    assert "Social care already hold this." in page_text(page)
    response = client.post(
        url("reconsider", refused.pk),
        form_data(page, outcome=Outcome.APPROVE, reasons="New information from the police."),
    )
    assert response.status_code == 302
    assert response["Location"] == url("share_detail", refused.pk)

    refused.refresh_from_db()
    assert refused.status == choices.ShareStatus.APPROVED
    reconsideration = refused.decisions.get(reconsiders=refusal)
    assert reconsideration.outcome == Outcome.APPROVE
    assert reconsideration.late_by is None
    refusal.refresh_from_db()
    assert as_recorded(refusal) == before

    # The proposer now sees the release as their next step, and records it.
    client.force_login(practitioner)
    assert "release" in share_actions(practitioner, refused)
    shown = page_text(client.get(url("share_detail", refused.pk)))
    assert "Record the release" in shown
    assert "reconsideration of the decision of 2 Jun 2025 11:00" in shown
    time_machine.shift(timedelta(minutes=10))
    page = client.get(url("record_release", refused.pk))
    assert page.status_code == 200
    sent = timezone.localtime(timezone.now() - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(url("record_release", refused.pk), form_data(page, sent_at=sent))
    assert response.status_code == 302, response.content.decode()[:2000]

    release = Release.objects.get(share=refused)
    assert release.decision == reconsideration
    refused.refresh_from_db()
    assert refused.status == choices.ShareStatus.RELEASED
    # The refusal is still exactly as it was recorded, and the process exactly as it ended.
    assert as_recorded(refusal_of(refused)) == before
    assert process_state(refused) == flow_before


def test_approving_in_part_on_reconsideration_releases_only_the_items_chosen(
    case: Any, practitioner: Any, recipient: Any, lead: Any, time_machine: Any
) -> None:
    time_machine.move_to(REFUSED_AT, tick=False)
    share = steps.propose(
        case=case,
        user=practitioner,
        fields=complete_fields(recipient),
        items=[item(), item(category=choices.ItemCategory.ATTENDANCE, content="Attendance 60%.")],
    )
    steps.submit(share=share, user=practitioner)
    steps.decide(
        share=share,
        user=lead,
        outcome=Outcome.REFUSE,
        refusal_reason=choices.RefusalReason.NOT_NECESSARY,
        reasons="Not needed.",
    )
    kept = share.items.get(category=choices.ItemCategory.ATTENDANCE)
    decision_reconsider(
        share=share,
        user=lead,
        outcome=Outcome.APPROVE_IN_PART,
        reasons="The attendance figures are needed after all.",
        approved_item_ids=[kept.pk],
    )
    time_machine.shift(timedelta(hours=1))
    release = steps.record_release(share=share, user=practitioner, sent_at=timezone.now())
    assert [sent["item"] for sent in release.content] == [kept.pk]


def test_upholding_the_refusal_keeps_the_share_refused_and_unreleasable(
    client: Any, refused: Share, lead: Any, practitioner: Any
) -> None:
    refusal = refusal_of(refused)
    before = as_recorded(refusal)
    client.force_login(lead)
    page = client.get(url("reconsider", refused.pk))
    response = client.post(
        url("reconsider", refused.pk),
        form_data(
            page,
            outcome=Outcome.REFUSE,
            refusal_reason=choices.RefusalReason.ALREADY_HELD,
            reasons="Looked again: still held by social care.",
        ),
    )
    assert response.status_code == 302
    refused.refresh_from_db()
    assert refused.status == choices.ShareStatus.REFUSED
    upheld = refused.decisions.get(reconsiders=refusal)
    assert upheld.outcome == Outcome.REFUSE
    assert as_recorded(refusal_of(refused)) == before
    assert "release" not in share_actions(practitioner, refused)
    errors = violation(
        lambda: steps.record_release(share=refused, user=practitioner, sent_at=timezone.now())
    )
    assert "only an approved share can be released" in errors["__all__"][0]
    assert not Release.objects.filter(share=refused).exists()


def test_only_a_refused_share_can_be_reconsidered(approved: Share, lead: Any) -> None:
    errors = violation(
        lambda: decision_reconsider(
            share=approved, user=lead, outcome=Outcome.APPROVE, reasons="Again."
        )
    )
    assert errors == {"__all__": ["Only a refused share can be reconsidered."]}
    assert approved.decisions.count() == 1


def test_a_reconsideration_never_returns_the_share_to_the_proposer(
    refused: Share, lead: Any
) -> None:
    errors = violation(
        lambda: decision_reconsider(
            share=refused, user=lead, outcome=Outcome.RETURN, reasons="More please."
        )
    )
    assert "outcome" in errors
    assert refused.decisions.count() == 1


def test_only_a_lead_or_deputy_of_the_setting_reconsiders(
    client: Any, refused: Share, practitioner: Any, deputy: Any, colleague: Any, other_lead: Any
) -> None:
    errors = violation(
        lambda: decision_reconsider(
            share=refused, user=practitioner, outcome=Outcome.APPROVE, reasons="Please."
        )
    )
    assert errors == {"__all__": ["Only the setting's lead or a deputy can reconsider a refusal."]}
    posted = {"outcome": Outcome.APPROVE, "reasons": "Please."}
    for person, status in ((practitioner, 403), (colleague, 404), (other_lead, 404)):
        client.force_login(person)
        assert client.get(url("reconsider", refused.pk)).status_code == status
        assert client.post(url("reconsider", refused.pk), posted).status_code == status
    assert refused.decisions.count() == 1
    client.force_login(deputy)
    assert client.get(url("reconsider", refused.pk)).status_code == 200


def test_the_page_of_a_share_that_is_not_refused_sends_the_lead_back_to_it(
    client: Any, approved: Share, lead: Any
) -> None:
    client.force_login(lead)
    response = client.get(url("reconsider", approved.pk))
    assert response.status_code == 302
    assert response["Location"] == url("share_detail", approved.pk)
    assert "reconsider" not in share_actions(lead, approved)


def test_bad_input_is_shown_beside_its_field_and_nothing_is_saved(
    client: Any, refused: Share, lead: Any
) -> None:
    client.force_login(lead)
    page = client.get(url("reconsider", refused.pk))
    response = client.post(
        url("reconsider", refused.pk),
        form_data(page, outcome=Outcome.REFUSE, reasons="", conditions="Typed and kept."),
    )
    assert response.status_code == 400
    assert error_text(response, "id_refusal_reason") == "Choose the main reason for refusing."
    assert "Typed and kept." in response.content.decode()
    response = client.post(
        url("reconsider", refused.pk),
        form_data(page, outcome=Outcome.REFUSE, refusal_reason="not_necessary", reasons=" "),
    )
    assert response.status_code == 400
    assert "Explain the refusal" in error_text(response, "id_reasons")
    # A return is not offered here at all.
    response = client.post(
        url("reconsider", refused.pk), form_data(page, outcome=Outcome.RETURN, reasons="More.")
    )
    assert response.status_code == 400
    assert error_text(response, "id_outcome")
    assert refused.decisions.count() == 1
    refused.refresh_from_db()
    assert refused.status == choices.ShareStatus.REFUSED


def test_a_release_outside_the_flow_is_only_for_an_approval_on_reconsideration(
    approved: Share, practitioner: Any
) -> None:
    """An ordinary approval must be released through its open flow step; without it, the
    release is refused and nothing is written."""
    Task.objects.filter(
        process__shareprocess__share=approved, flow_task=ShareFlow.record_release
    ).update(status=STATUS.CANCELED)
    with pytest.raises(StepUnavailable):
        steps.record_release(share=approved, user=practitioner, sent_at=timezone.now())
    assert not Release.objects.filter(share=approved).exists()
    approved.refresh_from_db()
    assert approved.status == choices.ShareStatus.APPROVED


def test_an_ordinary_release_still_completes_the_flow(approved: Share, practitioner: Any):
    steps.record_release(share=approved, user=practitioner, sent_at=timezone.now())
    task = Task.objects.get(
        process__shareprocess__share=approved, flow_task=ShareFlow.record_release
    )
    assert task.status == STATUS.DONE
    assert Process.objects.get(shareprocess__share=approved).status == STATUS.DONE
