"""When a child is at immediate risk and no lead can be reached, a practitioner releases at
once with a written justification; a retrospective lead review follows, due the same working
day, and escalates like any other."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from viewflow.workflow.models import Task
from viewflow.workflow.status import PROCESS, STATUS
from viewflow.workflow.timers import fire_due_timers

from cases import choices
from cases.errors import RuleViolation
from cases.models import Decision, Release
from permissions.selectors import review_queue_for
from workflows import steps
from workflows.flows import ShareFlow
from workflows.models import Escalation, EscalationLevel, Notification

from .factories import complete_fields, item
from .http_helpers import url

MONDAY_10AM = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(MONDAY_10AM, tick=False) as traveller:
        yield traveller


@pytest.fixture
def emergency_draft(clock, case, practitioner, recipient):
    return steps.propose(
        case=case,
        user=practitioner,
        fields=complete_fields(recipient, urgency=choices.Urgency.IMMEDIATE),
        items=[item(), item(content="Named the neighbour, Mr B.", identifies_third_party=True)],
    )


def release_now(share, user, **overrides):
    kwargs = {
        "justification": "Child disclosed a threat tonight; lead and deputy unreachable.",
        "sent_at": MONDAY_10AM,
        "third_party_handling": {
            share.items.get(identifies_third_party=True).pk: ("redacted", "Named a neighbour.")
        },
    }
    kwargs.update(overrides)
    return steps.release_in_emergency(share=share, user=user, **kwargs)


def test_the_practitioner_releases_at_once_and_a_retrospective_review_falls_due_today(
    emergency_draft, practitioner, lead
):
    release = release_now(emergency_draft, practitioner)
    emergency_draft.refresh_from_db()

    assert release.decision is None
    assert [sent["text"] for sent in release.content] == [
        "Bruise on the left forearm seen at drop-off.",
        "Named a neighbour.",
    ]
    assert emergency_draft.status == choices.ShareStatus.RELEASED_IN_EMERGENCY
    assert emergency_draft.review_due_at == datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
    assert list(review_queue_for(lead)) == [emergency_draft]
    review = Task.objects.get(process=emergency_draft.process, flow_task=ShareFlow.lead_review)
    assert review.status == STATUS.NEW


def test_the_lead_endorses_it_and_the_share_ends_released(emergency_draft, practitioner, lead):
    release_now(emergency_draft, practitioner)
    decision = steps.decide(
        share=emergency_draft,
        user=lead,
        outcome=choices.Outcome.APPROVE,
        reasons="Right call: the risk was immediate.",
    )
    emergency_draft.refresh_from_db()
    assert decision.outcome == choices.Outcome.APPROVE
    assert emergency_draft.status == choices.ShareStatus.RELEASED
    assert emergency_draft.process.status == PROCESS.DONE
    assert Release.objects.filter(share=emergency_draft).count() == 1


def test_the_lead_may_record_that_it_should_not_have_been_shared(
    emergency_draft, practitioner, lead
):
    release_now(emergency_draft, practitioner)
    steps.decide(
        share=emergency_draft,
        user=lead,
        outcome=choices.Outcome.REFUSE,
        refusal_reason=choices.RefusalReason.NOT_PROPORTIONATE,
        reasons="The neighbour's name should have been left out.",
    )
    emergency_draft.refresh_from_db()
    # What was sent stays sent; the record now holds the lead's view of it.
    assert emergency_draft.status == choices.ShareStatus.RELEASED
    assert emergency_draft.decisions.get().outcome == choices.Outcome.REFUSE


def test_a_retrospective_review_cannot_return_the_share(emergency_draft, practitioner, lead):
    release_now(emergency_draft, practitioner)
    with pytest.raises(RuleViolation) as refused:
        steps.decide(
            share=emergency_draft, user=lead, outcome=choices.Outcome.RETURN, reasons="More?"
        )
    assert "outcome" in refused.value.message_dict
    assert not Decision.objects.exists()


def test_the_retrospective_review_escalates_like_any_other(
    emergency_draft, practitioner, lead, deputy, clock, django_capture_on_commit_callbacks
):
    release_now(emergency_draft, practitioner)
    clock.move_to(datetime(2026, 3, 2, 18, 1, tzinfo=UTC), tick=False)
    with django_capture_on_commit_callbacks(execute=True):
        fire_due_timers()
    assert set(
        Escalation.objects.filter(share=emergency_draft).values_list("level", flat=True)
    ) == {EscalationLevel.REMINDER, EscalationLevel.DEPUTIES}
    alerted = Notification.objects.filter(escalation__share=emergency_draft)
    assert set(alerted.values_list("recipient__username", flat=True)) == {"grace", "dan"}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"justification": "  "}, "justification"),
        ({"sent_at": None}, "sent_at"),
        ({"sent_at": MONDAY_10AM + timedelta(hours=1)}, "sent_at"),
        ({"third_party_handling": {}}, "items.1.third_party_handling"),
    ],
)
def test_an_emergency_release_still_needs_its_reasons_and_care(
    emergency_draft, practitioner, overrides, field
):
    with pytest.raises(RuleViolation) as refused:
        release_now(emergency_draft, practitioner, **overrides)
    assert field in refused.value.message_dict
    emergency_draft.refresh_from_db()
    assert emergency_draft.status == choices.ShareStatus.DRAFT
    assert not Release.objects.exists()


def test_an_incomplete_draft_cannot_be_released_even_in_an_emergency(
    clock, case, practitioner, recipient
):
    share = steps.propose(
        case=case,
        user=practitioner,
        fields=complete_fields(recipient, lawful_basis=""),
        items=[item()],
    )
    with pytest.raises(RuleViolation) as refused:
        steps.release_in_emergency(
            share=share, user=practitioner, justification="Immediate risk.", sent_at=MONDAY_10AM
        )
    assert "lawful_basis" in refused.value.message_dict
    assert not Release.objects.exists()


@pytest.mark.parametrize("who", ["colleague", "lead"])
def test_only_the_proposer_releases_their_draft_in_an_emergency(request, emergency_draft, who):
    with pytest.raises(RuleViolation):
        release_now(emergency_draft, request.getfixturevalue(who))
    assert not Release.objects.exists()


def test_the_emergency_release_page(client, emergency_draft, practitioner):
    client.force_login(practitioner)
    path = url("emergency_release", emergency_draft.pk)
    assert client.get(path).status_code == 200
    flagged = emergency_draft.items.get(identifies_third_party=True)
    data = {"justification": "", "sent_at": "2026-03-02T10:00", "note": ""}
    refused = client.post(path, data)
    assert refused.status_code == 400
    assert "Explain why the child is at immediate risk" in refused.content.decode()
    data.update(
        justification="Immediate threat, no lead reachable.",
        **{f"handling_{flagged.pk}": "confirmed"},
    )
    done = client.post(path, data)
    assert done.status_code == 302
    emergency_draft.refresh_from_db()
    assert emergency_draft.status == choices.ShareStatus.RELEASED_IN_EMERGENCY
