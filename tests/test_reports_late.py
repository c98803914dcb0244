"""The Reports page on what is late now, and on releases: figures worked out by hand.

Read at noon on Friday 6 February 2026 (GMT, so UK time and UTC agree). Default deadlines:
immediate risk 1 clock hour, urgent the end of the working day (18:00), routine 3 working
days; an emergency release's retrospective review, the end of its working day.

    share  setting    what                                   deadline          at noon Fri
    a1     Oakfield   urgent, awaiting review                Mon 2 Feb 18:00   3 days 18 h late
    a2     Oakfield   routine, awaiting review               Fri 6 Feb 10:00   2 h late
    e1     Oakfield   released in an emergency (16:20 Wed,   Wed 4 Feb 18:00   1 day 18 h late
                      proposed 16:00, recorded 16:30)
    a3     Oakfield   immediate, decided 11:00 Thu, released Thu 5 Feb 10:00   decided: not open
                      11:30
    a4     Oakfield   urgent, awaiting review                Fri 6 Feb 18:00   not yet due
    r1     Riverside  urgent, awaiting review                Thu 5 Feb 18:00   18 h late
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext

from cases import choices
from cases.models import Organisation, Recipient, Share
from cases.services import case_team_add
from workflows import steps
from workflows.reports import (
    RELEASE_LABELS,
    LateReviews,
    ReportScope,
    late_reviews,
    release_figures,
    share_timelines,
)

from .factories import CaseFactory, MembershipFactory, RecipientFactory, UserFactory
from .http_helpers import url
from .test_reports import at, content_of, decide, page, propose, release, shared, text_of

NOON_FRIDAY = at(2, 6, 12)
DURATION_COLUMNS = (
    "draft_seconds",
    "to_pick_up_seconds",
    "to_decision_seconds",
    "to_release_seconds",
    "total_seconds",
    "late_by_seconds",
    "overdue_seconds",
)


@dataclass
class Late:
    oakfield: Organisation
    riverside: Organisation
    people: dict[str, Any]
    shares: dict[str, Share]
    recipient: Recipient


def release_in_emergency(share: Share, by: Any, recorded: datetime, sent: datetime) -> None:
    with time_machine.travel(recorded, tick=False):
        steps.release_in_emergency(
            share=share,
            user=by,
            justification="Child afraid to go home tonight; lead and deputy unreachable.",
            sent_at=sent,
        )


@pytest.fixture
def late(
    oakfield: Organisation,
    riverside: Organisation,
    practitioner: Any,
    lead: Any,
    manager: Any,
    other_lead: Any,
) -> Late:
    case = CaseFactory(organisation=oakfield, reference="OAK-200")
    case_team_add(case=case, user=practitioner)
    recipient = RecipientFactory(organisation=oakfield)
    p, urgency = practitioner, choices.Urgency
    a1 = shared(
        case, p, recipient, urgency=urgency.URGENT, created=at(2, 2, 8), submitted=at(2, 2, 9)
    )
    a2 = shared(
        case, p, recipient, urgency=urgency.ROUTINE, created=at(2, 3, 9), submitted=at(2, 3, 10)
    )
    e1 = propose(case, p, recipient, at(2, 4, 16), urgency.IMMEDIATE)
    release_in_emergency(e1, p, recorded=at(2, 4, 16, 30), sent=at(2, 4, 16, 20))
    a3 = shared(
        case, p, recipient, urgency=urgency.IMMEDIATE, created=at(2, 5, 8), submitted=at(2, 5, 9)
    )
    decide(a3, lead, at(2, 5, 11), choices.Outcome.APPROVE)
    release(a3, p, recorded=at(2, 5, 11, 40), sent=at(2, 5, 11, 30))
    a4 = shared(
        case, p, recipient, urgency=urgency.URGENT, created=at(2, 6, 8), submitted=at(2, 6, 9)
    )

    ravi = UserFactory(username="ravi")
    MembershipFactory(user=ravi, organisation=riverside, role=choices.Role.PRACTITIONER)
    river_case = CaseFactory(organisation=riverside, reference="RIV-200")
    case_team_add(case=river_case, user=ravi)
    r1 = shared(
        river_case,
        ravi,
        RecipientFactory(organisation=riverside),
        urgency=urgency.URGENT,
        created=at(2, 5, 8),
        submitted=at(2, 5, 9),
    )
    people = {"practitioner": p, "lead": lead, "manager": manager, "otherlead": other_lead}
    shares = {"a1": a1, "a2": a2, "a3": a3, "a4": a4, "e1": e1, "r1": r1}
    return Late(oakfield, riverside, people, shares, recipient)


def oakfield_row(late: Late) -> LateReviews:
    return LateReviews(
        setting="Oakfield",
        count=3,
        retrospective=1,
        oldest_share=late.shares["a1"].pk,
        oldest_reference="OAK-200",
        oldest_due=at(2, 2, 18),
        oldest_overdue_by="overdue by 3 days 18 hours",
        oldest_overdue_seconds=(3 * 24 + 18) * 3600,
    )


# --- Late now --------------------------------------------------------------------------------


def test_late_reviews_counts_and_the_most_overdue_per_setting(late: Late) -> None:
    # Riverside is given first: settings come back in name order, each with its own figures.
    assert late_reviews([late.riverside, late.oakfield], now=NOON_FRIDAY) == [
        oakfield_row(late),
        LateReviews(
            setting="Riverside",
            count=1,
            retrospective=0,
            oldest_share=late.shares["r1"].pk,
            oldest_reference="RIV-200",
            oldest_due=at(2, 5, 18),
            oldest_overdue_by="overdue by 18 hours",
            oldest_overdue_seconds=18 * 3600,
        ),
    ]


def test_late_reviews_read_the_clock_and_a_setting_with_none_late_says_so(late: Late) -> None:
    with time_machine.travel(NOON_FRIDAY, tick=False):
        assert late_reviews([late.oakfield]) == [oakfield_row(late)]
    # At 17:00 on Monday 2 February nothing was late yet: a1 fell due at 18:00.
    with time_machine.travel(at(2, 2, 17), tick=False):
        assert late_reviews([late.oakfield]) == [
            LateReviews(setting="Oakfield", count=0, retrospective=0)
        ]


def test_a_decision_takes_a_review_off_the_late_list(late: Late) -> None:
    decide(late.shares["a1"], late.people["lead"], at(2, 6, 12, 30), choices.Outcome.APPROVE)
    # The retrospective review of e1 is now the most overdue.
    [oakfield] = late_reviews([late.oakfield], now=at(2, 6, 13))
    assert (oakfield.count, oakfield.retrospective) == (2, 1)
    assert oakfield.oldest_share == late.shares["e1"].pk
    assert oakfield.oldest_overdue_by == "overdue by 1 day 19 hours"


def test_the_late_list_is_one_query_however_many_shares(
    late: Late, django_assert_num_queries: Any
) -> None:
    settings = [late.oakfield, late.riverside]
    with django_assert_num_queries(1):
        late_reviews(settings, now=NOON_FRIDAY)
    case = late.shares["a1"].case
    for day in range(20):
        when = at(1, 5, 9) + timedelta(days=day)
        shared(
            case,
            late.people["practitioner"],
            late.recipient,
            urgency=choices.Urgency.URGENT,
            created=when,
            submitted=when,
        )
    with django_assert_num_queries(1):
        oakfield, _ = late_reviews(settings, now=NOON_FRIDAY)
    assert oakfield.count == 23
    # Submitted on 5 January at 09:00, due at 18:00 that day.
    assert oakfield.oldest_due == at(1, 5, 18)


def test_the_page_shows_what_is_late_now_in_the_readers_settings_only(
    client: Any, late: Late
) -> None:
    with time_machine.travel(NOON_FRIDAY, tick=False):
        body = text_of(page(client, late.people["lead"]))
        a1 = late.shares["a1"].pk
        assert (
            '<th scope="row">Oakfield</th> <td class="ss-number">3</td> '
            f'<td class="ss-number">1</td> <td>#{a1} (OAK-200), due 2026-02-02 18:00: '
            "overdue by 3 days 18 hours</td>"
        ) in body
        assert "Riverside" not in body and "RIV-200" not in body
        # A month range narrows the decisions counted, never what is late now.
        body = text_of(page(client, late.people["lead"], "?month_from=2025-01&month_to=2025-01"))
        assert "overdue by 3 days 18 hours" in body

        both = UserFactory(username="morgan")
        MembershipFactory(user=both, organisation=late.oakfield, role=choices.Role.MANAGER)
        MembershipFactory(user=both, organisation=late.riverside, role=choices.Role.AUDITOR)
        body = text_of(page(client, both))
        assert "overdue by 3 days 18 hours" in body and "overdue by 18 hours" in body
        body = text_of(page(client, both, f"?setting={late.riverside.pk}"))
        assert "overdue by 18 hours" in body and "overdue by 3 days" not in body


def test_a_setting_with_nothing_late_says_so(client: Any, late: Late) -> None:
    with time_machine.travel(at(2, 2, 17), tick=False):
        body = text_of(page(client, late.people["manager"]))
    assert (
        '<th scope="row">Oakfield</th> <td class="ss-number">0</td> '
        '<td class="ss-number">0</td> <td>None late</td>'
    ) in body


def csv_rows(client: Any, user: Any) -> dict[str, dict[str, str]]:
    client.force_login(user)
    rows = list(csv.DictReader(io.StringIO(content_of(client.get(url("reports_export"))))))
    return {row["share_id"]: row for row in rows}


def test_the_csv_says_how_long_each_open_review_is_overdue(client: Any, late: Late) -> None:
    with time_machine.travel(NOON_FRIDAY, tick=False):
        rows = csv_rows(client, late.people["manager"])
    hour = 3600
    overdue = {
        name: rows[str(late.shares[name].pk)]["overdue_seconds"]
        for name in ("a1", "a2", "e1", "a3", "a4")
    }
    assert overdue == {
        "a1": str((3 * 24 + 18) * hour),
        "a2": str(2 * hour),
        "e1": str((24 + 18) * hour),
        "a3": "",  # decided
        "a4": "",  # not yet due
    }
    assert rows[str(late.shares["e1"].pk)]["released_in_emergency"] == "yes"
    assert str(late.shares["r1"].pk) not in rows  # Riverside's, not Oakfield's


# --- Emergency releases: their own row, never a negative time ---------------------------------


def test_an_emergency_release_is_its_own_row_from_proposal_to_release(late: Late) -> None:
    # The retrospective review two days after the release: measured from it, the release
    # would come out at minus 44 hours 40 minutes.
    decide(late.shares["e1"], late.people["lead"], at(2, 6, 13), choices.Outcome.APPROVE)
    scope = ReportScope(settings=[late.oakfield.pk])
    assert [
        (f.label, f.rounds, f.median_seconds, f.p90_seconds) for f in release_figures(scope)
    ] == [
        (RELEASE_LABELS["after_decision"], 1, 30 * 60, 30 * 60),  # a3: decided 11:00, sent 11:30
        (RELEASE_LABELS["in_emergency"], 1, 20 * 60, 20 * 60),  # e1: proposed 16:00, sent 16:20
    ]
    rows = {row["pk"]: row for row in share_timelines(scope)}
    e1 = rows[late.shares["e1"].pk]
    assert e1["released_in_emergency"] is True
    assert e1["to_release"] is None
    assert e1["total_time"] == timedelta(minutes=20)
    assert rows[late.shares["a3"].pk]["released_in_emergency"] is False
    assert rows[late.shares["a1"].pk]["released_in_emergency"] is None


def test_release_figures_follow_the_month_of_the_release(late: Late) -> None:
    january = ReportScope(settings=[late.oakfield.pk], until=at(2, 1, 0))
    assert release_figures(january) == []
    february = ReportScope(settings=[late.oakfield.pk], since=at(2, 1, 0), until=at(3, 1, 0))
    assert len(release_figures(february)) == 2


def test_no_figure_on_the_page_or_in_the_csv_is_negative(client: Any, late: Late) -> None:
    decide(late.shares["e1"], late.people["lead"], at(2, 6, 13), choices.Outcome.APPROVE)
    # Two times in the wrong order, as records entered by hand might have: no figure at all.
    Share.objects.filter(pk=late.shares["a2"].pk).update(created_at=at(2, 3, 11))
    with time_machine.travel(at(2, 6, 14), tick=False):
        rows = csv_rows(client, late.people["manager"])
        body = text_of(page(client, late.people["manager"]))
    for row in rows.values():
        for column in DURATION_COLUMNS:
            assert not row[column].startswith("-"), (row["share_id"], column, row[column])
    e1, a2 = rows[str(late.shares["e1"].pk)], rows[str(late.shares["a2"].pk)]
    assert (e1["released_in_emergency"], e1["to_release_seconds"], e1["total_seconds"]) == (
        "yes",
        "",
        "1200",
    )
    assert a2["draft_seconds"] == ""

    assert (
        '<th scope="row">Released in an emergency: time from proposal to release</th> '
        '<td class="ss-number">1</td> <td class="ss-number">20 min</td> '
        '<td class="ss-number">20 min</td>'
    ) in body
    assert "<td>20 min from proposal (emergency)</td>" in body
    # No cell, figure or chart label is a negative number.
    assert not re.search(r">\s*-\s*\d", body)


def test_the_page_and_export_cost_the_same_however_many_are_late(
    client: Any, late: Late, django_assert_max_num_queries: Any
) -> None:
    client.force_login(late.people["manager"])
    paths = (url("reports"), url("reports_export"))
    with time_machine.travel(NOON_FRIDAY, tick=False):
        client.get(url("reports"))  # warm-up: session, permission caches
        budgets = {path: _queries(client, path) for path in paths}
    case, p = late.shares["a1"].case, late.people["practitioner"]
    for day in range(12):
        when = at(1, 5, 9) + timedelta(days=day)
        shared(
            case, p, late.recipient, urgency=choices.Urgency.URGENT, created=when, submitted=when
        )
        emergency = propose(case, p, late.recipient, when, choices.Urgency.IMMEDIATE)
        release_in_emergency(emergency, p, recorded=when + timedelta(minutes=30), sent=when)
    with time_machine.travel(NOON_FRIDAY, tick=False):
        for path, budget in budgets.items():
            with django_assert_max_num_queries(budget):
                _queries(client, path)
        body = text_of(client.get(url("reports")))
    assert '<th scope="row">Oakfield</th> <td class="ss-number">27</td>' in body


def _queries(client: Any, path: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
        if isinstance(response, StreamingHttpResponse):
            content_of(response)
    assert response.status_code == 200
    return len(queries)
