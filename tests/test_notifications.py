"""Every event someone must act on or know of notifies them, once, in-app and by email.

Each kind: who receives it (and who does not), that neither it nor its email names the
child or the case, and that it is written and delivered once however often its step or its
delivery runs.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from cases import choices
from cases.models import Share
from cases.services import case_team_add, case_team_remove
from permissions.break_glass import break_glass_take
from workflows import steps
from workflows.models import Notification, NotificationKind
from workflows.notifications import events
from workflows.tasks import deliver_notification, deliver_pending_notifications

from .conftest import _member
from .factories import CaseFactory, complete_fields, item
from .http_helpers import url
from .test_emergency_release import MONDAY_10AM, release_now

Kind = NotificationKind
Outcome = choices.Outcome


@pytest.fixture(autouse=True)
def everyone_has_an_email(
    django_user_model: Any, practitioner: Any, colleague: Any, lead: Any, deputy: Any, manager: Any
) -> None:
    for user in django_user_model.objects.all():
        user.email = f"{user.username}@oakfield.example"
        user.save(update_fields=["email"])


def told(kind: str) -> list[str]:
    return sorted(
        Notification.objects.filter(kind=kind).values_list("recipient__username", flat=True)
    )


def emails_to(username: str) -> list[Any]:
    return [m for m in mail.outbox if f"{username}@oakfield.example" in m.to]


def names_nothing_of_the_case(share: Share) -> None:
    """Neither the rows nor any email carry the child's name or the case reference."""
    secrets = (share.case.child.first_name, share.case.child.last_name, share.case.reference)
    for notification in Notification.objects.all():
        text = f"{notification.get_kind_display()} {notification.detail} {notification.link}"
        assert not any(secret in text for secret in secrets), text
    for message in mail.outbox:
        assert not any(secret in f"{message.subject} {message.body}" for secret in secrets)


def submit(share: Share, user: Any, capture: Any) -> Share:
    with capture(execute=True):
        return steps.submit(share=share, user=user)


def decide(share: Share, user: Any, capture: Any, **decision: Any) -> Any:
    decision.setdefault("reasons", "Necessary and proportionate.")
    with capture(execute=True):
        return steps.decide(share=share, user=user, **decision)


def test_a_submitted_share_tells_every_lead_and_deputy_with_its_deadline(
    draft: Share,
    practitioner: Any,
    lead: Any,
    deputy: Any,
    manager: Any,
    other_lead: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    share = submit(draft, practitioner, django_capture_on_commit_callbacks)

    assert told(Kind.SHARE_SUBMITTED) == ["dan", "grace"]  # not the manager, not Riverside
    notification = Notification.objects.get(recipient=lead)
    assert notification.share == share
    assert notification.due_at == share.review_due_at
    assert notification.link == url("lead_review", share.pk)
    [email] = emails_to("grace")
    assert f"share #{share.pk}" in email.subject
    assert "Due by" in email.body
    assert url("lead_review", share.pk) in email.body
    names_nothing_of_the_case(share)


def test_a_retried_delivery_or_a_rerun_event_sends_nothing_twice(
    draft: Share, practitioner: Any, lead: Any, django_capture_on_commit_callbacks: Any
) -> None:
    share = submit(draft, practitioner, django_capture_on_commit_callbacks)
    notification = Notification.objects.get(recipient=lead)

    # The same event written again (a step retried) adds no row and no email.
    with django_capture_on_commit_callbacks(execute=True):
        assert events.share_submitted(share, practitioner) == []
    assert deliver_notification(notification.pk) is False
    deliver_pending_notifications()
    assert len(emails_to("grace")) == 1
    assert Notification.objects.filter(recipient=lead).count() == 1


def test_a_resubmission_is_a_new_round_and_says_so(
    draft: Share,
    practitioner: Any,
    lead: Any,
    time_machine: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    share = submit(draft, practitioner, django_capture_on_commit_callbacks)
    decide(
        share,
        lead,
        django_capture_on_commit_callbacks,
        outcome=Outcome.RETURN,
        reasons="Say which school the referral is for.",
    )
    time_machine.move_to(timezone.now() + timedelta(hours=1), tick=False)
    share.refresh_from_db()
    submit(share, practitioner, django_capture_on_commit_callbacks)

    rounds = Notification.objects.filter(recipient=lead, kind=Kind.SHARE_SUBMITTED)
    assert rounds.count() == 2
    assert "resubmitted after it was returned" in rounds.first().detail


@pytest.mark.parametrize(
    ("outcome", "kind", "page"),
    [
        (Outcome.APPROVE, Kind.SHARE_DECIDED, "share_detail"),
        (Outcome.REFUSE, Kind.SHARE_DECIDED, "share_detail"),
        (Outcome.RETURN, Kind.SHARE_RETURNED, "share_edit"),
    ],
)
def test_a_decision_or_a_return_tells_the_proposer(
    submitted: Share,
    practitioner: Any,
    lead: Any,
    deputy: Any,
    outcome: str,
    kind: str,
    page: str,
    django_capture_on_commit_callbacks: Any,
) -> None:
    extra = (
        {"refusal_reason": choices.RefusalReason.ALREADY_HELD} if outcome == Outcome.REFUSE else {}
    )
    decide(submitted, lead, django_capture_on_commit_callbacks, outcome=outcome, **extra)

    assert told(kind) == ["priya"]
    notification = Notification.objects.get(kind=kind)
    assert notification.link == url(page, submitted.pk)
    assert notification.actor == lead
    # A lead's own decision is not told back to the lead.
    assert not Notification.objects.filter(kind=Kind.DECIDED_FOR_LEAD).exists()
    assert len(emails_to("priya")) == 1
    names_nothing_of_the_case(submitted)


def test_a_deputys_decision_is_told_to_the_lead_as_on_their_behalf(
    submitted: Share,
    practitioner: Any,
    lead: Any,
    deputy: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    decide(submitted, deputy, django_capture_on_commit_callbacks, outcome=Outcome.APPROVE)

    assert told(Kind.DECIDED_FOR_LEAD) == ["grace"]
    notification = Notification.objects.get(kind=Kind.DECIDED_FOR_LEAD)
    assert "on behalf of the lead" in notification.detail
    assert notification.actor == deputy
    [email] = emails_to("grace")
    assert "on behalf of the lead" in email.body
    names_nothing_of_the_case(submitted)


def test_advice_asked_tells_the_adviser_without_the_share_and_the_answer_tells_the_asker(
    draft: Share, practitioner: Any, colleague: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        consultation = steps.ask_advice(
            share=draft, user=practitioner, adviser=colleague, question="Is this proportionate?"
        )
    asked = Notification.objects.get(kind=Kind.ADVICE_ASKED)
    assert asked.recipient == colleague
    # The adviser may not see the share: nothing in theirs points at it.
    assert asked.share is None
    assert asked.link == url("advice_answer", consultation.pk)
    assert f"#{draft.pk}" not in emails_to("colin")[0].body

    with django_capture_on_commit_callbacks(execute=True):
        steps.give_advice(consultation=consultation, user=colleague, advice="Yes, share it.")
    assert told(Kind.ADVICE_GIVEN) == ["priya"]
    assert len(emails_to("priya")) == 1
    names_nothing_of_the_case(draft)


def test_break_glass_is_in_the_leads_and_deputies_notifications_as_well_as_their_email(
    oakfield: Any, lead: Any, deputy: Any, colleague: Any, django_capture_on_commit_callbacks: Any
) -> None:
    hidden = CaseFactory(organisation=oakfield)
    with django_capture_on_commit_callbacks(execute=True):
        break_glass_take(user=colleague, case=hidden, reason="Child disclosed at lunch today.")
    assert told(Kind.BREAK_GLASS) == ["dan", "grace"]
    assert len(emails_to("grace")) == 1


def test_a_reconsideration_asked_for_tells_the_leads_and_deputies(
    submitted: Share,
    practitioner: Any,
    lead: Any,
    deputy: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    decide(
        submitted,
        lead,
        django_capture_on_commit_callbacks,
        outcome=Outcome.REFUSE,
        refusal_reason=choices.RefusalReason.ALREADY_HELD,
    )
    with django_capture_on_commit_callbacks(execute=True):
        steps.ask_reconsideration(
            share=submitted, user=practitioner, reason="The police asked us directly."
        )
    assert told(Kind.RECONSIDERATION_REQUESTED) == ["dan", "grace"]
    assert Notification.objects.get(recipient=lead, kind=Kind.RECONSIDERATION_REQUESTED).link == (
        url("reconsider", submitted.pk)
    )
    names_nothing_of_the_case(submitted)


def test_an_emergency_release_carries_its_share_number_and_deadline(
    case: Any,
    practitioner: Any,
    recipient: Any,
    lead: Any,
    deputy: Any,
    time_machine: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    time_machine.move_to(MONDAY_10AM, tick=False)
    share = steps.propose(
        case=case,
        user=practitioner,
        fields=complete_fields(recipient, urgency=choices.Urgency.IMMEDIATE),
        items=[item()],
    )
    with django_capture_on_commit_callbacks(execute=True):
        release_now(share, practitioner)
    share.refresh_from_db()
    assert told(Kind.EMERGENCY_RELEASE) == ["dan", "grace"]
    alert = Notification.objects.get(recipient=lead)
    assert (alert.share, alert.due_at) == (share, share.review_due_at)
    names_nothing_of_the_case(share)


def test_a_person_sees_and_marks_read_only_their_own_notifications(
    client: Any,
    draft: Share,
    practitioner: Any,
    lead: Any,
    deputy: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    submit(draft, practitioner, django_capture_on_commit_callbacks)
    mine = Notification.objects.get(recipient=lead)
    theirs = Notification.objects.get(recipient=deputy)

    client.force_login(lead)
    page = client.get(url("notifications")).content.decode()
    assert f"share #{draft.pk}" in page and "New" in page
    assert client.get(url("notification_open", theirs.pk)).status_code == 404
    assert client.post(url("notification_read", theirs.pk)).status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None

    response = client.get(url("notification_open", mine.pk))
    assert response.status_code == 302 and response["Location"] == url("lead_review", draft.pk)
    mine.refresh_from_db()
    assert mine.read_at is not None


def test_a_notification_about_a_share_no_longer_visible_leads_to_not_found(
    client: Any,
    oakfield: Any,
    case: Any,
    recipient: Any,
    lead: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    keyworker = _member("kim", oakfield, choices.Role.PRACTITIONER)
    case_team_add(case=case, user=keyworker)
    share = steps.propose(
        case=case, user=keyworker, fields=complete_fields(recipient), items=[item()]
    )
    submit(share, keyworker, django_capture_on_commit_callbacks)
    decide(share, lead, django_capture_on_commit_callbacks, outcome=Outcome.APPROVE)
    case_team_remove(case=case, user=keyworker)

    notification = Notification.objects.get(recipient=keyworker, kind=Kind.SHARE_DECIDED)
    client.force_login(keyworker)
    followed = client.get(url("notification_open", notification.pk), follow=True)
    assert followed.status_code == 404


def test_a_proposer_who_may_no_longer_see_the_share_is_not_told_of_its_decision(
    case: Any,
    submitted: Share,
    practitioner: Any,
    lead: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    case_team_remove(case=case, user=practitioner)
    decide(submitted, lead, django_capture_on_commit_callbacks, outcome=Outcome.APPROVE)
    assert (
        not Notification.objects.filter(recipient=practitioner)
        .exclude(kind=Kind.SHARE_SUBMITTED)
        .exists()
    )
    assert emails_to("priya") == []


def test_a_reminder_skips_a_lead_who_proposed_the_share_and_goes_to_the_deputies(
    case: Any, recipient: Any, lead: Any, deputy: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from workflows.escalation import escalate
    from workflows.models import EscalationLevel

    share = steps.propose(case=case, user=lead, fields=complete_fields(recipient), items=[item()])
    steps.submit(share=share, user=lead)
    escalate(share, EscalationLevel.REMINDER)
    assert told(Kind.REVIEW_REMINDER) == ["dan"]


def test_a_managers_escalation_names_the_share_by_number_and_links_nowhere(
    submitted: Share, manager: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from workflows.escalation import escalate
    from workflows.models import EscalationLevel

    with django_capture_on_commit_callbacks(execute=True):
        escalate(submitted, EscalationLevel.MANAGER)
    notice = Notification.objects.get(recipient=manager)
    assert (notice.share, notice.link, notice.detail) == (None, "", f"Share #{submitted.pk}")
    [email] = emails_to("mona")
    assert f"Share #{submitted.pk}" in email.body
    names_nothing_of_the_case(submitted)


@pytest.mark.django_db
def test_a_row_a_racing_retry_wrote_first_is_returned_and_delivered_once(
    lead: Any, deputy: Any, practitioner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the check for rows already written and the insert, a racing retry of the
    same event writes the lead's row: the insert leaves it, and it is returned all the same,
    while the deputy's row is written with its key from the insert itself."""
    from workflows.notifications import outbox

    event = "racing:1"
    insert = outbox._insert_ignoring_conflicts

    def raced(rows: list[Notification]) -> list[Notification]:
        Notification.objects.create(
            recipient=lead, kind=Kind.SHARE_SUBMITTED, event=event, link="/", actor=practitioner
        )
        return insert(rows)

    monkeypatch.setattr(outbox, "_insert_ignoring_conflicts", raced)
    written = outbox.notify(
        [lead, deputy], Kind.SHARE_SUBMITTED, event=event, link="/", actor=practitioner
    )
    assert sorted(row.recipient_id for row in written) == sorted([lead.pk, deputy.pk])
    assert all(row.pk is not None for row in written)
    stored = Notification.objects.filter(event=event)
    assert sorted(stored.values_list("pk", flat=True)) == sorted(row.pk for row in written)
    # Told again (a retried step): nothing is written or returned a second time.
    monkeypatch.setattr(outbox, "_insert_ignoring_conflicts", insert)
    assert (
        outbox.notify(
            [lead, deputy], Kind.SHARE_SUBMITTED, event=event, link="/", actor=practitioner
        )
        == []
    )
    assert stored.count() == 2
