"""What needs a person now: the review queue by deadline, and everyone's home page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cases import choices
from cases.models import Membership, Share
from cases.services import membership_end
from permissions.models import AuditAction, AuditEntry
from workflows import steps
from workflows.models import Notification

from .factories import (
    ChildFactory,
    MembershipFactory,
    RecipientFactory,
    complete_fields,
    item,
    submitted_share,
)
from .http_helpers import page_text, url

MONDAY_9AM = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)  # 09:00 in London
Urgency = choices.Urgency


@pytest.fixture(autouse=True)
def clock(time_machine: Any) -> Any:
    time_machine.move_to(MONDAY_9AM, tick=False)
    return time_machine


@pytest.fixture
def queue(case: Any, practitioner: Any, recipient: Any, clock: Any) -> dict[str, Share]:
    """An overdue routine share (submitted last week), one due in an hour, one due tonight."""
    clock.move_to(MONDAY_9AM - timedelta(days=7), tick=False)
    overdue = submitted_share(case, practitioner, recipient, Urgency.ROUTINE)
    clock.move_to(MONDAY_9AM, tick=False)
    routine = submitted_share(case, practitioner, recipient, Urgency.ROUTINE)
    urgent = submitted_share(case, practitioner, recipient, Urgency.URGENT)
    immediate = submitted_share(case, practitioner, recipient, Urgency.IMMEDIATE)
    return {"overdue": overdue, "routine": routine, "urgent": urgent, "immediate": immediate}


def rows(page: str) -> list[int]:
    """The share numbers in the queue's table, in order."""
    import re

    table = page.split("Reconsiderations asked for")[0]
    return [int(n) for n in re.findall(r"Review share #(\d+)", table)]


def test_the_queue_is_overdue_first_then_by_deadline_with_time_left_in_words(
    client: Any, lead: Any, queue: dict[str, Share]
) -> None:
    client.force_login(lead)
    page = page_text(client.get(url("review_queue")))

    expected = [queue[k].pk for k in ("overdue", "immediate", "urgent", "routine")]
    assert rows(page) == expected
    # Three working days from last Monday, a bank holiday: due Friday as the day began.
    assert "overdue by 3 days" in page
    assert "1 hour left" in page
    html = client.get(url("review_queue")).content.decode()
    assert 'class="ss-time-left ss-time-left--overdue">overdue by' in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("state=overdue", ["overdue"]),
        ("state=due_today", ["immediate", "urgent"]),
        ("urgency=routine", ["overdue", "routine"]),
        ("state=overdue&urgency=urgent", []),
        ("state=nonsense", ["overdue", "immediate", "urgent", "routine"]),
    ],
)
def test_the_queue_filters_by_state_and_urgency(
    client: Any, lead: Any, queue: dict[str, Share], query: str, expected: list[str]
) -> None:
    client.force_login(lead)
    response = client.get(f"{url('review_queue')}?{query}")
    assert response.status_code == 200
    assert rows(page_text(response)) == [queue[k].pk for k in expected]


def test_the_queue_costs_the_same_queries_with_three_shares_or_thirty(
    client: Any, lead: Any, case: Any, practitioner: Any, recipient: Any
) -> None:
    for _ in range(3):
        submitted_share(case, practitioner, recipient)
    client.force_login(lead)
    client.get(url("review_queue"))

    def cost() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url("review_queue")).status_code == 200
        return len(queries)

    few = cost()
    for _ in range(27):
        submitted_share(case, practitioner, recipient)
    assert cost() == few


def test_a_retrospective_review_is_marked_in_the_queue(
    client: Any, lead: Any, case: Any, practitioner: Any, recipient: Any
) -> None:
    from .test_emergency_release import release_now

    share = steps.propose(
        case=case,
        user=practitioner,
        fields=complete_fields(recipient, urgency=Urgency.IMMEDIATE),
        items=[item()],
    )
    release_now(share, practitioner, sent_at=timezone.now())
    client.force_login(lead)
    page = page_text(client.get(f"{url('review_queue')}?state=retrospective"))
    assert rows(page) == [share.pk]
    assert "Already released in an emergency" in page


def test_the_leads_home_lists_what_needs_them_most_urgent_first(
    client: Any, lead: Any, queue: dict[str, Share], practitioner: Any
) -> None:
    refused = queue["routine"]
    steps.decide(
        share=refused,
        user=lead,
        outcome=choices.Outcome.REFUSE,
        refusal_reason=choices.RefusalReason.ALREADY_HELD,
        reasons="Already held.",
    )
    steps.ask_reconsideration(share=refused, user=practitioner, reason="The police asked us.")

    client.force_login(lead)
    page = page_text(client.get(url("index")))
    assert "1 review overdue : the oldest is overdue by 3 days" in page
    assert "2 reviews due today" in page
    assert "1 reconsideration asked for" in page
    order = [page.index(f"Review share #{queue[k].pk}") for k in ("overdue", "immediate", "urgent")]
    assert order == sorted(order)
    html = client.get(url("index")).content.decode()
    assert f'href="{url("review_queue")}?state=overdue"' in html


def test_a_practitioners_home_shows_a_returned_share_with_the_leads_note_and_decisions(
    client: Any, lead: Any, practitioner: Any, case: Any, recipient: Any
) -> None:
    returned = submitted_share(case, practitioner, recipient)
    steps.decide(
        share=returned,
        user=lead,
        outcome=choices.Outcome.RETURN,
        reasons="Say which of the two schools the referral is for.",
    )
    approved = submitted_share(case, practitioner, recipient)
    steps.decide(share=approved, user=lead, outcome=choices.Outcome.APPROVE, reasons="Needed.")
    still_a_draft = steps.propose(
        case=case, user=practitioner, fields=complete_fields(recipient), items=[item()]
    )

    client.force_login(practitioner)
    page = page_text(client.get(url("index")))
    assert "Returned to you" in page
    assert "Say which of the two schools the referral is for." in page
    assert f"Share #{approved.pk} : Approved" in page
    assert f"Share #{still_a_draft.pk}" in page
    # Reading the lead's note on the home page is logged like any reading of a decision.
    assert AuditEntry.objects.filter(
        action=AuditAction.VIEW_DECISION, actor=practitioner, share=returned
    ).exists()

    # Once the decision's notification is opened it is no longer "not yet seen".
    seen = Notification.objects.get(recipient=practitioner, share=approved)
    client.get(url("notification_open", seen.pk))
    assert f"Share #{approved.pk} : Approved" not in page_text(client.get(url("index")))


def test_a_manager_or_auditor_home_has_no_lead_work(client: Any, manager: Any) -> None:
    client.force_login(manager)
    page = page_text(client.get(url("index")))
    assert "As a lead or deputy" not in page
    assert "Nothing of yours is waiting" in page


def test_a_deputy_is_not_offered_the_decision_on_their_own_share(
    client: Any, deputy: Any, lead: Any, case: Any, recipient: Any
) -> None:
    own = submitted_share(case, deputy, recipient)
    client.force_login(deputy)
    assert f"Review share #{own.pk}" not in page_text(client.get(url("review_queue")))
    assert "Review and decide" not in page_text(client.get(url("share_detail", own.pk)))
    response = client.get(url("lead_review", own.pk))
    assert response.status_code == 302 and response["Location"] == url("share_detail", own.pk)
    # The lead sees it, and is not asked why they decide their own share.
    client.force_login(lead)
    review = page_text(client.get(url("lead_review", own.pk)))
    assert "Why you are deciding your own share" not in review
    assert f"Review share #{own.pk}" in page_text(client.get(url("review_queue")))


def test_the_later_of_two_deciders_is_told_who_decided_and_nothing_is_recorded(
    client: Any, lead: Any, deputy: Any, case: Any, practitioner: Any, recipient: Any
) -> None:
    from .http_helpers import form_data

    share = submitted_share(case, practitioner, recipient)
    client.force_login(lead)
    page = client.get(url("lead_review", share.pk))
    steps.decide(share=share, user=deputy, outcome=choices.Outcome.APPROVE, reasons="Needed.")
    response = client.post(
        url("lead_review", share.pk),
        form_data(page, outcome=choices.Outcome.RETURN, reasons="Say more."),
        follow=True,
    )
    assert response.redirect_chain == [(url("share_detail", share.pk), 302)]
    assert "Nothing was recorded" in page_text(response) and "(Approve)" in page_text(response)
    assert share.decisions.count() == 1


def test_an_old_link_to_ask_for_a_reconsideration_goes_back_to_the_share(
    client: Any, practitioner: Any, lead: Any, case: Any, recipient: Any
) -> None:
    share = submitted_share(case, practitioner, recipient)
    client.force_login(practitioner)
    response = client.get(url("ask_reconsideration", share.pk), follow=True)
    assert response.redirect_chain == [(url("share_detail", share.pk), 302)]
    assert "there is no refusal to ask about" in page_text(response)


def test_a_decision_read_on_the_shares_page_is_no_longer_unseen_and_only_the_newest_shows(
    client: Any, lead: Any, practitioner: Any, case: Any, recipient: Any, clock: Any
) -> None:
    share = submitted_share(case, practitioner, recipient)
    steps.decide(share=share, user=lead, outcome=choices.Outcome.RETURN, reasons="Say more.")
    clock.move_to(MONDAY_9AM + timedelta(minutes=5), tick=False)
    share.refresh_from_db()
    steps.submit(share=share, user=practitioner)
    steps.decide(share=share, user=lead, outcome=choices.Outcome.APPROVE, reasons="Needed.")

    client.force_login(practitioner)
    home = page_text(client.get(url("index")))
    assert f"Share #{share.pk} : Approved" in home
    assert "Returned for more information, by" not in home  # superseded by the approval
    clock.move_to(MONDAY_9AM + timedelta(minutes=10), tick=False)
    client.get(url("share_detail", share.pk))
    assert f"Share #{share.pk} : Approved" not in page_text(client.get(url("index")))


def test_a_managers_home_names_what_is_new_for_them(
    client: Any, manager: Any, queue: dict[str, Share]
) -> None:
    from workflows.escalation import escalate
    from workflows.models import EscalationLevel

    escalate(queue["overdue"], EscalationLevel.MANAGER)
    client.force_login(manager)
    home = page_text(client.get(url("index")))
    assert "New for you" in home
    # A manager cannot open the share: theirs names it by number, as the reports do.
    assert f"well past its deadline: Share #{queue['overdue'].pk}" in home
    assert "Reports" in home


def test_unread_notifications_come_first_then_the_newest(
    client: Any, lead: Any, case: Any, practitioner: Any, recipient: Any, clock: Any
) -> None:
    first = submitted_share(case, practitioner, recipient)
    clock.move_to(MONDAY_9AM + timedelta(minutes=1), tick=False)
    second = submitted_share(case, practitioner, recipient)
    clock.move_to(MONDAY_9AM + timedelta(minutes=2), tick=False)
    third = submitted_share(case, practitioner, recipient)
    client.force_login(lead)
    read = Notification.objects.get(recipient=lead, share=third)
    client.post(url("notification_read", read.pk))
    page = page_text(client.get(url("notifications")))
    order = [page.index(f"share #{s.pk} ") for s in (second, first, third)]
    assert order == sorted(order)


def test_a_new_settings_lead_is_shown_where_to_start_until_it_has_what_a_share_needs(
    client: Any, oakfield: Any, lead: Any
) -> None:
    client.force_login(lead)
    home = page_text(client.get(url("index")))
    assert "Setting up Oakfield" in home
    for step in ("Staff", "Import children or staff", "Address book"):
        assert step in home

    MembershipFactory(organisation=oakfield)
    ChildFactory(organisation=oakfield)
    home = page_text(client.get(url("index")))
    assert "Setting up Oakfield" in home and "invite the people" not in home
    RecipientFactory(organisation=oakfield)
    assert "Setting up" not in page_text(client.get(url("index")))


def test_a_decision_is_not_shown_to_someone_who_may_no_longer_see_its_share(
    client: Any, case: Any, practitioner: Any, recipient: Any, lead: Any
) -> None:
    approved = submitted_share(case, practitioner, recipient)
    steps.decide(share=approved, user=lead, outcome=choices.Outcome.APPROVE, reasons="Needed.")
    client.force_login(practitioner)
    assert f"Share #{approved.pk} : Approved" in page_text(client.get(url("index")))

    membership_end(
        membership=Membership.objects.get(user=practitioner, organisation=case.organisation),
        by=lead,
    )
    page = page_text(client.get(url("index")))
    assert f"Share #{approved.pk}" not in page
    assert "You no longer work in any setting" in page
