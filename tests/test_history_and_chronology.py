"""A share's history on its page, and a child's chronology in date order.

The chronology is ordered by when things happened, not when they were written down: a
release sent yesterday but recorded today, or a family told last week but recorded today,
takes its place by the day it happened, and shows both dates.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cases import choices
from cases.models import Case, Recipient, Share
from cases.services import advice_ask, advice_give, decision_reconsider, family_told_record
from permissions.audit import records_shown
from permissions.break_glass import break_glass_take
from permissions.models import AuditAction, AuditEntry
from workflows import steps
from workflows.chronology import chronology_of
from workflows.escalation import escalate
from workflows.models import EscalationLevel

from .factories import complete_fields, item
from .http_helpers import page_text, url

Outcome = choices.Outcome
MONDAY = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)  # 09:00 in London
NOT_YET = {
    "family_not_told_reason": choices.FamilyNotToldReason.NOT_YET_POSSIBLE,
    "family_not_told_detail": "The parent is abroad.",
}


def at(days: int, hour: int, minute: int = 0) -> datetime:
    """A moment ``days`` after Monday 2 June 2025, at a London clock time (BST)."""
    return MONDAY + timedelta(days=days, hours=hour - 9, minutes=minute)


@pytest.fixture(autouse=True)
def clock(time_machine: Any) -> Any:
    time_machine.move_to(MONDAY, tick=False)
    return time_machine


def history_rows(response: Any) -> list[list[str]]:
    """The cells of each row of the share page's History table."""
    page = response.content.decode()
    table = re.search(r'<table class="ss-table ss-history">(.*?)</table>', page, re.S)
    assert table, "no History table on the page"
    rows = re.findall(r"<tr>(.*?)</tr>", table.group(1), re.S)[1:]
    return [
        [
            " ".join(re.sub(r"<[^>]+>", " ", cell).split())
            for cell in re.findall(r"<td>(.*?)</td>", row, re.S)
        ]
        for row in rows
    ]


# --- History on the share page -----------------------------------------------------------------


@pytest.fixture
def reconsidered(clock: Any, draft: Share, practitioner: Any, lead: Any) -> Share:
    """Submitted, returned, corrected and resubmitted, refused, then approved on reconsideration."""
    steps.submit(share=draft, user=practitioner)
    clock.move_to(at(0, 10), tick=False)
    steps.decide(share=draft, user=lead, outcome=Outcome.RETURN, reasons="Say what she said.")
    clock.move_to(at(0, 11), tick=False)
    steps.save_and_submit(
        share=draft,
        user=practitioner,
        fields=complete_fields(draft.recipient, purpose="Refer, with her own words."),
        items=[item()],
    )
    clock.move_to(at(0, 12), tick=False)
    steps.decide(
        share=draft,
        user=lead,
        outcome=Outcome.REFUSE,
        refusal_reason=choices.RefusalReason.NOT_PROPORTIONATE,
        reasons="Too much for now.",
    )
    clock.move_to(at(1, 9, 30), tick=False)
    decision_reconsider(share=draft, user=lead, outcome=Outcome.APPROVE, reasons="New facts.")
    draft.refresh_from_db()
    return draft


def test_the_history_shows_who_did_what_when_and_in_which_role(
    client: Any, reconsidered: Share, lead: Any
) -> None:
    client.force_login(lead)
    response = client.get(url("share_detail", reconsidered.pk))
    rows = history_rows(response)
    refusal = reconsidered.decisions.get(outcome=Outcome.REFUSE)
    assert rows == [
        ["2 Jun 2025 09:00", "priya", "Practitioner", "Share proposed"],
        ["2 Jun 2025 09:00", "priya", "Practitioner", "Share submitted for lead review: version 1"],
        [
            "2 Jun 2025 10:00",
            "grace",
            "Designated Safeguarding Lead",
            "Share returned for more information: Return for more information",
        ],
        ["2 Jun 2025 11:00", "priya", "Practitioner", "Draft changed"],
        ["2 Jun 2025 11:00", "priya", "Practitioner", "Share submitted for lead review: version 2"],
        ["2 Jun 2025 12:00", "grace", "Designated Safeguarding Lead", "Decision recorded: Refuse"],
        [
            "3 Jun 2025 09:30",
            "grace",
            "Designated Safeguarding Lead",
            f"Decision reconsidered: Approve, reconsidering decision #{refusal.pk}",
        ],
    ]
    text = page_text(response)
    # Reads are in the access log, not in the share's history.
    assert "Viewed a share" not in text
    assert "Version 1, submitted by priya on 2 Jun 2025 09:00" in text
    assert "Version 2, submitted by priya on 2 Jun 2025 11:00; corrects version 1" in text
    assert "Approve: reconsideration of the decision of 2 Jun 2025 12:00" in text


def test_an_escalation_shows_as_done_by_the_system(
    client: Any, submitted: Share, lead: Any, clock: Any
) -> None:
    clock.move_to(at(0, 9, 30), tick=False)
    escalate(submitted, EscalationLevel.REMINDER)
    client.force_login(lead)
    rows = history_rows(client.get(url("share_detail", submitted.pk)))
    assert rows[-1] == [
        "2 Jun 2025 09:30",
        "Safeshare, automatically",
        "Automatic step",
        "Review escalated: Reminder before the deadline",
    ]


def test_the_family_record_shows_when_and_by_whom_they_were_told(
    client: Any, case: Case, practitioner: Any, recipient: Recipient
) -> None:
    share = steps.propose(
        case=case,
        user=practitioner,
        fields=complete_fields(
            recipient,
            family_informed=choices.FamilyInformed.TOLD,
            family_informed_on=date(2025, 5, 30),
            family_informed_by="Priya, in person",
            family_not_told_reason="",
        ),
        items=[item()],
    )
    client.force_login(practitioner)
    assert "Told On 30 May 2025 by Priya, in person" in page_text(
        client.get(url("share_detail", share.pk))
    )


# --- The chronology -----------------------------------------------------------------------------


def _propose(case: Case, by: Any, recipient: Recipient, **fields: Any) -> Share:
    return steps.propose(
        case=case, user=by, fields=complete_fields(recipient, **fields), items=[item()]
    )


@pytest.fixture
def timeline(
    clock: Any,
    case: Case,
    practitioner: Any,
    lead: Any,
    colleague: Any,
    recipient: Recipient,
) -> dict[str, Share]:
    """A week in Maisie's record, some of it written down days after it happened.

    Mon 09:00  share A proposed and submitted; the family cannot be told yet
    Mon 09:30  A's review: the lead is reminded
    Mon 10:00  A approved
    Tue        the family is told (recorded the next Monday)
    Tue 15:00  A sent to social care (recorded on Wednesday at 09:00)
    Wed 08:30  share B proposed; advice asked at 08:45, given at 12:00
    Thu 10:00  B refused; Fri 10:00 reconsidered and approved
    Thu 14:00  a colleague takes break-glass access
    Fri 11:00  an inbound request, made the Sunday before, answered as share C
    """
    a = _propose(case, practitioner, recipient, **NOT_YET)
    steps.submit(share=a, user=practitioner)
    clock.move_to(at(0, 9, 30), tick=False)
    escalate(a, EscalationLevel.REMINDER)
    clock.move_to(at(0, 10), tick=False)
    steps.decide(share=a, user=lead, outcome=Outcome.APPROVE, reasons="Necessary.")

    clock.move_to(at(2, 8, 30), tick=False)
    b = _propose(case, practitioner, recipient)
    clock.move_to(at(2, 8, 45), tick=False)
    asked = advice_ask(share=b, user=practitioner, adviser=lead, question="Is this enough?")
    clock.move_to(at(2, 9), tick=False)
    steps.record_release(share=a, user=practitioner, sent_at=at(1, 15))
    clock.move_to(at(2, 12), tick=False)
    advice_give(consultation=asked, user=lead, advice="Add the attendance figures.")
    clock.move_to(at(2, 12, 5), tick=False)
    steps.submit(share=b, user=practitioner)
    clock.move_to(at(3, 10), tick=False)
    steps.decide(
        share=b,
        user=lead,
        outcome=Outcome.REFUSE,
        refusal_reason=choices.RefusalReason.ALREADY_HELD,
        reasons="Already held.",
    )
    clock.move_to(at(3, 14), tick=False)
    break_glass_take(user=colleague, case=case, reason="Covering the room today.", hours=4)
    clock.move_to(at(4, 10), tick=False)
    decision_reconsider(share=b, user=lead, outcome=Outcome.APPROVE, reasons="New facts.")
    clock.move_to(at(4, 11), tick=False)
    c = _propose(
        case,
        practitioner,
        recipient,
        direction=choices.Direction.INBOUND,
        requested_by="Northshire Police",
        requested_on=date(2025, 6, 1),
    )
    clock.move_to(at(7, 11), tick=False)
    family_told_record(
        follow_up=a.family_follow_ups.get(),
        user=practitioner,
        informed_on=date(2025, 6, 3),
        informed_by="Priya, by phone",
    )
    return {"a": a, "b": b, "c": c}


def test_the_chronology_is_in_the_order_things_happened(
    client: Any, case: Case, timeline: dict[str, Share], practitioner: Any
) -> None:
    a, b, c = timeline["a"], timeline["b"], timeline["c"]
    refusal = b.decisions.get(reconsiders__isnull=True)
    rows = [(row.happened, row.what) for row in chronology_of(case).rows]
    assert [what for _, what in rows] == [
        "Request for information from Northshire Police",
        f"Share #{a.pk} proposed (we propose to share)",
        f"Share #{a.pk} submitted for lead review (version 1)",
        f"Family not told about share #{a.pk}",
        f"Follow-up set: tell the family about share #{a.pk} by 9 Jun 2025 09:00",
        f"Share #{a.pk} review: reminder before the deadline",
        f"Share #{a.pk}: Approve",
        f"Family told about share #{a.pk}",
        f"Share #{a.pk} released to Sam Carter, Northshire Children's Social Care",
        f"Share #{b.pk} proposed (we propose to share)",
        f"Advice asked on share #{b.pk}, without naming the child",
        f"Advice given on share #{b.pk}",
        f"Share #{b.pk} submitted for lead review (version 1)",
        f"Family not told about share #{b.pk}",
        f"Share #{b.pk}: Refuse",
        "Break-glass access taken for 4 hours",
        f"Share #{b.pk}: Approve, reconsidering the decision of 5 Jun 2025 10:00",
        f"Share #{c.pk} proposed (answering a request from another agency)",
    ]
    assert refusal.outcome == Outcome.REFUSE
    # The same, as the page shows it, with the dates recorded where they differ.
    client.force_login(practitioner)
    response = client.get(url("chronology", case.pk))
    assert response.status_code == 200
    text = page_text(response)
    assert "1 Jun 2025 recorded 6 Jun 2025 11:00 Request for information" in text
    assert f"3 Jun 2025 recorded 9 Jun 2025 11:00 Family told about share #{a.pk}" in text
    assert f"3 Jun 2025 15:00 recorded 4 Jun 2025 09:00 Share #{a.pk} released" in text
    assert f"2 Jun 2025 10:00 Share #{a.pk}: Approve" in text


def test_a_release_sent_yesterday_comes_before_what_happened_today(
    case: Case, timeline: dict[str, Share]
) -> None:
    """Recorded at 09:00 on Wednesday, after share B was proposed at 08:30: but sent on
    Tuesday, so it comes first; the family told on Tuesday, recorded a week later, before both."""
    a, b = timeline["a"], timeline["b"]
    whats = [row.what for row in chronology_of(case).rows]
    told = whats.index(f"Family told about share #{a.pk}")
    released = whats.index(
        f"Share #{a.pk} released to Sam Carter, Northshire Children's Social Care"
    )
    proposed_b = whats.index(f"Share #{b.pk} proposed (we propose to share)")
    assert told < released < proposed_b


def test_viewing_the_chronology_is_logged(
    client: Any, case: Case, timeline: dict[str, Share], lead: Any
) -> None:
    client.force_login(lead)
    before = AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    client.get(url("chronology", case.pk))
    # One entry for the page, naming every record the chronology showed.
    [viewed] = AuditEntry.objects.filter(pk__gt=before, actor=lead)
    assert (viewed.action, viewed.case_id, viewed.basis) == (
        AuditAction.VIEW_CASE,
        case.pk,
        "lead of the setting",
    )
    kinds = [kind for kind, _ in records_shown(viewed)]
    assert kinds[0] == "case" and kinds.count("case") == 1
    assert kinds.count("share") == 3
    assert kinds.count("decision") == 3
    assert kinds.count("release") == 1


def test_the_chronology_is_linked_from_the_case_page(client: Any, case: Case, practitioner: Any):
    client.force_login(practitioner)
    page = client.get(url("case_detail", case.pk)).content.decode()
    assert f'href="{url("chronology", case.pk)}"' in page


def test_outsiders_get_not_found(
    client: Any,
    case: Case,
    timeline: dict[str, Share],
    colleague: Any,
    manager: Any,
    auditor: Any,
    other_lead: Any,
) -> None:
    # The colleague's break-glass grant (4 hours, on Thursday) expired long ago.
    for person in (colleague, manager, auditor, other_lead):
        client.force_login(person)
        assert client.get(url("chronology", case.pk)).status_code == 404
        assert client.get(url("chronology", 999_999)).status_code == 404


def test_the_chronology_costs_the_same_however_long_the_record(
    client: Any,
    clock: Any,
    case: Case,
    timeline: dict[str, Share],
    practitioner: Any,
    lead: Any,
    recipient: Recipient,
    django_assert_max_num_queries: Any,
) -> None:
    client.force_login(practitioner)
    client.get(url("chronology", case.pk))  # warm up
    with CaptureQueriesContext(connection) as small:
        assert client.get(url("chronology", case.pk)).status_code == 200
    few = len(small.captured_queries)  # now: the connection's log is a bounded window
    for _ in range(5):
        clock.shift(timedelta(hours=1))
        share = _propose(case, practitioner, recipient, **NOT_YET)
        asked = advice_ask(share=share, user=practitioner, adviser=lead, question="Enough?")
        advice_give(consultation=asked, user=lead, advice="Yes.")
        steps.submit(share=share, user=practitioner)
        steps.decide(share=share, user=lead, outcome=Outcome.APPROVE, reasons="Fine.")
        clock.shift(timedelta(minutes=10))
        steps.record_release(share=share, user=practitioner, sent_at=timezone.now())
    # The clock moved on: the session's last-seen time is written (once a minute), not the
    # chronology's cost, so one page takes that first.
    client.get(url("case_list"))
    with django_assert_max_num_queries(few):
        response = client.get(url("chronology", case.pk))
    assert len(response.context["rows"]) > 40
