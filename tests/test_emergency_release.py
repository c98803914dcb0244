"""When a child is at immediate risk and no lead can be reached, a practitioner releases at
once with a written justification; a retrospective lead review follows, due the same working
day, and escalates like any other."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from viewflow.workflow.models import Task
from viewflow.workflow.status import PROCESS, STATUS

from cases import choices
from cases.errors import RuleViolation
from cases.models import Decision, Release, Share, ShareItem
from cases.services import membership_end
from permissions.selectors import review_queue_for
from workflows import steps
from workflows.escalation import escalate_due_reviews
from workflows.flows import ShareFlow
from workflows.models import Escalation, EscalationLevel, Notification, NotificationKind
from workflows.tasks import deliver_notification, deliver_pending_notifications

from .factories import MembershipFactory, UserFactory, complete_fields, item
from .http_helpers import (
    error_text,
    form_data,
    form_field_names,
    page_text,
    texts_of_class,
    url,
)

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
        items=[
            item(),
            item(
                content="Named the neighbour, Mr Bell.",
                identifies_third_party=True,
                third_party_details="Mr Bell",
            ),
        ],
    )


def release_now(share, user, **overrides):
    flagged = share.items.filter(identifies_third_party=True).first()
    kwargs = {
        "justification": "Child disclosed a threat tonight; lead and deputy unreachable.",
        "sent_at": MONDAY_10AM,
        "third_party_handling": {flagged.pk: ("redacted", "Named the neighbour.")}
        if flagged
        else {},
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
        "Named the neighbour.",
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
        escalate_due_reviews()
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


# An emergency release skips the lead's sign-off: only for immediate risk, a refused consent
# still needs its written justification, and every lead and deputy is told at once.


@pytest.mark.parametrize("urgency", [choices.Urgency.URGENT, choices.Urgency.ROUTINE])
def test_only_a_share_marked_immediate_risk_can_be_released_in_an_emergency(
    clock, case, practitioner, recipient, lead, urgency
):
    share = steps.propose(
        case=case,
        user=practitioner,
        fields=complete_fields(recipient, urgency=urgency),
        items=[item()],
    )
    with pytest.raises(RuleViolation) as refused:
        release_now(share, practitioner)
    assert "Only a share marked immediate risk" in " ".join(refused.value.message_dict["urgency"])
    share.refresh_from_db()
    assert share.status == choices.ShareStatus.DRAFT
    assert not Release.objects.exists()
    assert not Notification.objects.exists()


@pytest.mark.parametrize(
    ("urgency", "offered"),
    [(choices.Urgency.IMMEDIATE, True), (choices.Urgency.URGENT, False)],
)
def test_the_share_page_offers_an_emergency_release_only_for_immediate_risk(
    client, clock, case, practitioner, recipient, urgency, offered
):
    share = steps.propose(
        case=case,
        user=practitioner,
        fields=complete_fields(recipient, urgency=urgency),
        items=[item()],
    )
    client.force_login(practitioner)
    page = client.get(url("share_detail", share.pk)).content.decode()
    assert (url("emergency_release", share.pk) in page) is offered
    assert ("Mark this draft <em>immediate risk</em>" in page) is not offered


@pytest.fixture
def consent_refused(clock, case, practitioner, recipient):
    return steps.propose(
        case=case,
        user=practitioner,
        fields=complete_fields(
            recipient,
            urgency=choices.Urgency.IMMEDIATE,
            consent_status=choices.ConsentStatus.REFUSED,
            consent_not_sought_reason="",
        ),
        items=[item()],
    )


@pytest.mark.parametrize("given", [None, "", "   "])
def test_against_a_refused_consent_the_override_justification_is_required(
    consent_refused, practitioner, lead, given
):
    extra = {} if given is None else {"consent_override_justification": given}
    with pytest.raises(RuleViolation) as refused:
        release_now(consent_refused, practitioner, **extra)
    assert "consent_override_justification" in refused.value.message_dict
    consent_refused.refresh_from_db()
    assert consent_refused.status == choices.ShareStatus.DRAFT
    assert consent_refused.consent_override_justification == ""
    assert not Release.objects.exists()
    assert not Notification.objects.exists()


def test_the_override_justification_given_with_the_release_is_kept_with_the_share(
    consent_refused, practitioner
):
    why = "She will be taken abroad tonight; the mother's refusal cannot outweigh that."
    release_now(
        consent_refused,
        practitioner,
        consent_override_justification=f"  {why} ",
    )
    consent_refused.refresh_from_db()
    assert consent_refused.status == choices.ShareStatus.RELEASED_IN_EMERGENCY
    assert consent_refused.consent_override_justification == why
    version = consent_refused.versions.get()
    assert version.content["fields"]["consent_override_justification"] == why


@pytest.fixture
def whole_setting(oakfield, riverside, lead, deputy, colleague, manager, auditor, other_lead):
    """Everyone who might be told, each with an email address; one deputy has since left."""
    former = UserFactory(username="fern")
    membership_end(
        membership=MembershipFactory(user=former, organisation=oakfield, role=choices.Role.DEPUTY)
    )
    second_lead = UserFactory(username="gwen")
    MembershipFactory(user=second_lead, organisation=oakfield, role=choices.Role.LEAD)
    people = [lead, deputy, colleague, manager, auditor, other_lead, former, second_lead]
    for person in people:
        person.email = f"{person.username}@example.org"
        person.save(update_fields=["email"])
    return people


def test_every_current_lead_and_deputy_is_told_at_once_without_child_or_case(
    emergency_draft, practitioner, whole_setting, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        release = release_now(emergency_draft, practitioner)

    told = Notification.objects.filter(release=release)
    assert sorted(told.values_list("recipient__username", flat=True)) == ["dan", "grace", "gwen"]
    assert set(told.values_list("kind", flat=True)) == {NotificationKind.EMERGENCY_RELEASE}
    assert set(told.values_list("link", flat=True)) == {url("lead_review", emergency_draft.pk)}
    assert not Notification.objects.exclude(release=release).exists()
    assert sorted(message.to[0] for message in mailoutbox) == [
        "dan@example.org",
        "grace@example.org",
        "gwen@example.org",
    ]
    child = emergency_draft.case.child
    for message in mailoutbox:
        for words in (
            child.first_name,
            child.last_name,
            emergency_draft.case.reference,
            emergency_draft.purpose,
            "Mr Bell",
        ):
            assert words not in message.subject
            assert words not in message.body
        assert url("lead_review", emergency_draft.pk) in message.body

    # Sent once: a duplicate or retried delivery sends nothing more.
    for notification in told:
        assert deliver_notification(notification.pk) is False
    assert deliver_pending_notifications() == 0
    assert len(mailoutbox) == 3


def test_a_refused_emergency_release_tells_nobody(
    emergency_draft, practitioner, whole_setting, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuleViolation):
        release_now(emergency_draft, practitioner, justification="")
    assert not Notification.objects.exists()
    assert mailoutbox == []


def test_the_notification_shows_in_the_leads_own_list(client, emergency_draft, practitioner, lead):
    release_now(emergency_draft, practitioner)
    client.force_login(lead)
    page = client.get(url("notifications")).content.decode()
    assert NotificationKind.EMERGENCY_RELEASE.label in page
    alert = Notification.objects.get(recipient=lead, kind=NotificationKind.EMERGENCY_RELEASE)
    assert url("notification_open", alert.pk) in page
    assert client.get(url("notification_open", alert.pk))["Location"] == url(
        "lead_review", emergency_draft.pk
    )
    assert emergency_draft.case.child.first_name not in page


def test_the_retrospective_review_says_the_information_has_already_gone(
    client, emergency_draft, practitioner, lead
):
    release_now(emergency_draft, practitioner)
    client.force_login(lead)
    page = client.get(url("lead_review", emergency_draft.pk))
    assert page.status_code == 200
    text = " ".join(page.content.decode().split())
    assert "This information has already been sent" in text
    assert "Your decision cannot unsend it." in text
    assert "Sam Carter, Social worker, Northshire Children&#x27;s Social Care" in text
    assert "on 2 Mar 2026 10:00" in text
    assert "priya released it." in text
    assert "(redacted): Named the neighbour." in text
    # Only the two outcomes a retrospective review can have are offered.
    assert 'value="approve"' in text and 'value="refuse"' in text
    assert 'value="return"' not in text and 'value="approve_in_part"' not in text

    client.force_login(lead)
    queue = " ".join(client.get(url("review_queue")).content.decode().split())
    assert "Already released in an emergency: retrospective review" in queue


def test_the_emergency_page_shows_each_refusal_beside_its_field(
    client, consent_refused, practitioner
):
    """Routine urgency and a refused consent without its justification: the page says so
    before anything is typed, then beside the field to fill in, keeping what was typed."""
    Share.objects.filter(pk=consent_refused.pk).update(urgency=choices.Urgency.ROUTINE)
    client.force_login(practitioner)
    path = url("emergency_release", consent_refused.pk)
    page = client.get(path)
    assert page.status_code == 200
    assert "This share is marked routine" in page_text(page)
    assert "consent_override_justification" in form_field_names(page)

    justification = "Threat made at pick-up; lead and deputy unreachable."
    note = "Phoned the duty team first."
    refused = client.post(
        path,
        form_data(page, justification=justification, sent_at="2026-03-02T10:00", note=note),
    )
    assert refused.status_code == 400
    assert "explain why sharing is still justified" in error_text(
        refused, "id_consent_override_justification"
    )
    assert "Only a share marked immediate risk" in " ".join(
        texts_of_class(refused, "ss-error-summary")
    )
    kept = form_data(refused)
    assert (kept["justification"], kept["note"]) == (justification, note)
    assert not Release.objects.exists()

    Share.objects.filter(pk=consent_refused.pk).update(urgency=choices.Urgency.IMMEDIATE)
    done = client.post(
        path,
        form_data(refused, consent_override_justification="She is in danger tonight."),
    )
    assert done.status_code == 302
    consent_refused.refresh_from_db()
    assert consent_refused.status == choices.ShareStatus.RELEASED_IN_EMERGENCY
    assert consent_refused.consent_override_justification == "She is in danger tonight."


def test_the_emergency_page_refuses_a_redaction_that_leaves_the_name_in(
    client, emergency_draft, practitioner
):
    client.force_login(practitioner)
    path = url("emergency_release", emergency_draft.pk)
    page = client.get(path)
    flagged = emergency_draft.items.get(identifies_third_party=True)
    redacted = f"redacted_{flagged.pk}"
    assert form_data(page).get(redacted, "") == ""  # starts empty, never the original
    typed = "Named a neighbour, BELL from next door."
    refused = client.post(
        path,
        form_data(
            page,
            justification="Threat made tonight; nobody reachable.",
            sent_at="2026-03-02T10:00",
            **{f"handling_{flagged.pk}": "redacted", redacted: typed},
        ),
    )
    assert refused.status_code == 400
    assert "still contains “Bell”" in error_text(refused, f"id_{redacted}")
    assert form_data(refused)[redacted] == typed
    assert not Release.objects.exists()
    flagged.refresh_from_db()
    assert (flagged.third_party_handling, flagged.redacted_content) == ("", "")


def test_an_item_rule_the_emergency_page_cannot_collect_names_its_item(
    client, emergency_draft, practitioner
):
    ShareItem.objects.filter(share=emergency_draft, identifies_third_party=True).update(
        third_party_details=""
    )
    client.force_login(practitioner)
    path = url("emergency_release", emergency_draft.pk)
    flagged = emergency_draft.items.get(identifies_third_party=True)
    refused = client.post(
        path,
        form_data(
            client.get(path),
            justification="Threat made tonight; nobody reachable.",
            sent_at="2026-03-02T10:00",
            **{f"handling_{flagged.pk}": "confirmed"},
        ),
    )
    assert refused.status_code == 400
    assert "Item 2: Say who this item identifies" in " ".join(
        texts_of_class(refused, "ss-error-summary")
    )
    assert not Release.objects.exists()
