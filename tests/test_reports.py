"""The Reports page and its CSV export, against figures worked out by hand.

The fixture drives shares through ``workflows.steps`` at known times (time_machine, clock
frozen at each step). January and February 2026 are GMT, so UK time and UTC agree.
Default deadlines: immediate risk 1 clock hour, urgent the end of the working day (18:00),
routine 3 working days.

Oakfield's review rounds (submitted -> decided):

    share  urgency    month  decider  outcome          took  deadline            late by
    s1     urgent     Jan    grace    approve          1 h   05 Jan 18:00        -
    s2     immediate  Jan    dan      approve in part  2 h   06 Jan 10:00        1 h
    s3     routine    Jan    grace    refuse           3 h   12 Jan 10:00        -
    s4     urgent     Feb    grace    return           4 h   02 Feb 18:00        -
    s5     urgent     Feb    dan      approve          10 h  09 Feb 18:00        1 h

plus s6, a draft never submitted, and s7, awaiting review; neither has a round.
Riverside has one round of its own (r1: 30 min), which Oakfield's readers must never see.

Nearest rank: the p-th percentile of n sorted values is the one at rank ceil(p/100 * n).
All five: sorted 1, 2, 3, 4, 10 h; median rank ceil(2.5) = 3 -> 3 h; p90 rank ceil(4.5) = 5
-> 10 h; within deadline 3 of 5.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cases import choices, services
from cases.models import Case, Organisation, Recipient, Share
from cases.services import case_team_add
from workflows import steps
from workflows.flows import ShareFlow
from workflows.reports import (
    GROUPINGS,
    ReportScope,
    figures_by,
    format_duration,
    hours_chart,
    review_rounds,
)

from .factories import (
    CaseFactory,
    MembershipFactory,
    RecipientFactory,
    UserFactory,
    complete_fields,
    item,
)
from .http_helpers import url

HOUR = 3600
CHILD_NAMES = ("Maisie", "Thompson", "Noah", "Williams")


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def record_links() -> re.Pattern[str]:
    """A link to any page of a share, a case or a process, wherever the site is mounted."""
    marker = "987654321"
    pages = ("safeguarding:share_detail", "safeguarding:case_detail", "share:process_detail")
    return re.compile(
        "|".join(re.escape(reverse(name, args=[marker])).replace(marker, r"\d+") for name in pages)
    )


# --- Driving shares through the flow at known times -------------------------------------------


def propose(case: Case, by: Any, recipient: Recipient, when: datetime, urgency: str) -> Share:
    with time_machine.travel(when, tick=False):
        return steps.propose(
            case=case,
            user=by,
            fields=complete_fields(recipient, urgency=urgency),
            items=[item(), item(content="Attendance fell to 60% this half term.")],
        )


def submit(share: Share, by: Any, when: datetime) -> None:
    with time_machine.travel(when, tick=False):
        steps.submit(share=share, user=by)


def open_review(share: Share, lead: Any, when: datetime) -> None:
    """The lead opens the review page: the round is picked up."""
    with time_machine.travel(when, tick=False):
        steps.note_opened(share, ShareFlow.lead_review, lead)


def decide(share: Share, by: Any, when: datetime, outcome: str, **extra: Any) -> None:
    if outcome == choices.Outcome.REFUSE:
        extra.setdefault("refusal_reason", choices.RefusalReason.ALREADY_HELD)
    if outcome == choices.Outcome.APPROVE_IN_PART:
        extra.setdefault("approved_item_ids", [share.items.order_by("pk").first().pk])
    with time_machine.travel(when, tick=False):
        steps.decide(share=share, user=by, outcome=outcome, reasons="Reasons.", **extra)


def release(share: Share, by: Any, recorded: datetime, sent: datetime) -> None:
    with time_machine.travel(recorded, tick=False):
        steps.record_release(share=share, user=by, sent_at=sent)


def shared(
    case: Case,
    by: Any,
    recipient: Recipient,
    *,
    urgency: str,
    created: datetime,
    submitted: datetime,
) -> Share:
    share = propose(case, by, recipient, created, urgency)
    submit(share, by, submitted)
    return share


# --- The fixture ----------------------------------------------------------------------------


@dataclass
class Story:
    oakfield: Organisation
    riverside: Organisation
    people: dict[str, Any]
    shares: dict[str, Share]
    case: Case


@pytest.fixture
def story(
    oakfield: Organisation,
    riverside: Organisation,
    practitioner: Any,
    colleague: Any,
    lead: Any,
    deputy: Any,
    manager: Any,
    auditor: Any,
    other_lead: Any,
) -> Story:
    case = CaseFactory(
        organisation=oakfield,
        reference="OAK-100",
        child__first_name="Maisie",
        child__last_name="Thompson",
    )
    case_team_add(case=case, user=practitioner)
    recipient = RecipientFactory(organisation=oakfield)
    urgent, immediate, routine = (
        choices.Urgency.URGENT,
        choices.Urgency.IMMEDIATE,
        choices.Urgency.ROUTINE,
    )
    outcome = choices.Outcome
    p = practitioner

    s1 = shared(case, p, recipient, urgency=urgent, created=at(1, 5, 8, 30), submitted=at(1, 5, 9))
    open_review(s1, lead, at(1, 5, 9, 30))
    decide(s1, lead, at(1, 5, 10), outcome.APPROVE)
    release(s1, p, recorded=at(1, 5, 10, 45), sent=at(1, 5, 10, 30))

    s2 = shared(
        case, p, recipient, urgency=immediate, created=at(1, 6, 8, 50), submitted=at(1, 6, 9)
    )
    decide(s2, deputy, at(1, 6, 11), outcome.APPROVE_IN_PART)

    s3 = shared(case, p, recipient, urgency=routine, created=at(1, 7, 10), submitted=at(1, 7, 10))
    open_review(s3, lead, at(1, 7, 10, 15))
    decide(s3, lead, at(1, 7, 13), outcome.REFUSE)

    s4 = shared(case, p, recipient, urgency=urgent, created=at(2, 2, 8), submitted=at(2, 2, 9))
    decide(s4, lead, at(2, 2, 13), outcome.RETURN)

    s5 = shared(case, p, recipient, urgency=urgent, created=at(2, 9, 8), submitted=at(2, 9, 9))
    open_review(s5, deputy, at(2, 9, 12))
    decide(s5, deputy, at(2, 9, 19), outcome.APPROVE)

    s6 = propose(case, p, recipient, at(2, 10, 9), urgent)
    s7 = shared(
        case, p, recipient, urgency=routine, created=at(2, 11, 9), submitted=at(2, 11, 9, 30)
    )

    ravi = UserFactory(username="ravi")
    MembershipFactory(user=ravi, organisation=riverside, role=choices.Role.PRACTITIONER)
    river_case = CaseFactory(
        organisation=riverside,
        reference="RIV-100",
        child__first_name="Noah",
        child__last_name="Williams",
    )
    case_team_add(case=river_case, user=ravi)
    river_recipient = RecipientFactory(organisation=riverside)
    r1 = shared(
        river_case,
        ravi,
        river_recipient,
        urgency=urgent,
        created=at(1, 5, 9),
        submitted=at(1, 5, 9),
    )
    decide(r1, other_lead, at(1, 5, 9, 30), outcome.APPROVE)

    people = {
        "practitioner": practitioner,
        "colleague": colleague,
        "lead": lead,
        "deputy": deputy,
        "manager": manager,
        "auditor": auditor,
        "otherlead": other_lead,
        "ravi": ravi,
    }
    shares = {"s1": s1, "s2": s2, "s3": s3, "s4": s4, "s5": s5, "s6": s6, "s7": s7, "r1": r1}
    return Story(oakfield, riverside, people, shares, case)


def oakfield_scope(story: Story, **months: Any) -> ReportScope:
    return ReportScope(settings=[story.oakfield.pk], **months)


def figures(story: Story, grouping: str, **months: Any) -> list[tuple[Any, ...]]:
    rows = figures_by(review_rounds(oakfield_scope(story, **months)), GROUPINGS[grouping])
    return [(f.label, f.rounds, f.median_seconds, f.p90_seconds, f.on_time) for f in rows]


# --- The figures, by hand -------------------------------------------------------------------


def test_overall_median_p90_and_deadline_share(story: Story) -> None:
    assert figures(story, "all") == [("All review rounds", 5, 3 * HOUR, 10 * HOUR, 3)]


def test_by_urgency(story: Story) -> None:
    # urgent: 1, 4, 10 h -> median rank ceil(1.5) = 2 -> 4 h; p90 rank ceil(2.7) = 3 -> 10 h.
    assert figures(story, "urgency") == [
        ("Immediate risk", 1, 2 * HOUR, 2 * HOUR, 0),
        ("Urgent", 3, 4 * HOUR, 10 * HOUR, 2),
        ("Routine", 1, 3 * HOUR, 3 * HOUR, 1),
    ]


def test_by_outcome(story: Story) -> None:
    # approve: 1, 10 h -> median rank ceil(1.0) = 1 -> 1 h; p90 rank ceil(1.8) = 2 -> 10 h.
    assert figures(story, "outcome") == [
        ("Approve", 2, 1 * HOUR, 10 * HOUR, 1),
        ("Approve in part", 1, 2 * HOUR, 2 * HOUR, 0),
        ("Refuse", 1, 3 * HOUR, 3 * HOUR, 1),
        ("Return for more information", 1, 4 * HOUR, 4 * HOUR, 1),
    ]


def test_by_decider(story: Story) -> None:
    # dan: 2, 10 h; grace: 1, 3, 4 h -> median rank 2 -> 3 h, p90 rank 3 -> 4 h.
    assert figures(story, "decider") == [
        ("dan", 2, 2 * HOUR, 10 * HOUR, 0),
        ("grace", 3, 3 * HOUR, 4 * HOUR, 3),
    ]


def test_by_month(story: Story) -> None:
    assert figures(story, "month") == [
        ("January 2026", 3, 2 * HOUR, 3 * HOUR, 2),
        ("February 2026", 2, 4 * HOUR, 10 * HOUR, 1),
    ]


def test_a_month_range_counts_only_decisions_in_it(story: Story) -> None:
    february = {"since": at(2, 1, 0), "until": at(3, 1, 0)}
    assert figures(story, "all", **february) == [("All review rounds", 2, 4 * HOUR, 10 * HOUR, 1)]
    january = {"until": at(2, 1, 0)}
    assert figures(story, "all", **january) == [("All review rounds", 3, 2 * HOUR, 3 * HOUR, 2)]
    assert figures(story, "all", since=at(3, 1, 0)) == []


def test_months_are_uk_months(story: Story) -> None:
    """Decided at 23:30 UTC on 31 May, which is 00:30 on 1 June in the UK (BST)."""
    p, lead = story.people["practitioner"], story.people["lead"]
    recipient = story.case.organisation.recipients.first()
    late_night = datetime(2026, 5, 31, 22, tzinfo=UTC)
    share = shared(
        story.case,
        p,
        recipient,
        urgency=choices.Urgency.URGENT,
        created=late_night,
        submitted=late_night,
    )
    decide(share, lead, late_night + timedelta(minutes=90), choices.Outcome.APPROVE)
    assert figures(story, "month")[-1] == ("June 2026", 1, 5400, 5400, 1)
    june = {"since": datetime(2026, 5, 31, 23, tzinfo=UTC)}  # 1 June 00:00 BST
    assert figures(story, "all", **june) == [("All review rounds", 1, 5400, 5400, 1)]


def test_each_review_round_of_a_returned_share_counts(story: Story) -> None:
    """s4 was returned after 4 h; resubmitted, it is approved 30 min later: two rounds."""
    s4, p, lead = story.shares["s4"], story.people["practitioner"], story.people["lead"]
    submit(s4, p, at(2, 3, 9))
    decide(s4, lead, at(2, 3, 9, 30), choices.Outcome.APPROVE)
    # Six rounds: 0.5, 1, 2, 3, 4, 10 h; median rank ceil(3.0) = 3 -> 2 h; p90 rank
    # ceil(5.4) = 6 -> 10 h. The return round keeps its 4 h although s4 was submitted again.
    assert figures(story, "all") == [("All review rounds", 6, 2 * HOUR, 10 * HOUR, 4)]
    assert ("Return for more information", 1, 4 * HOUR, 4 * HOUR, 1) in figures(story, "outcome")
    assert ("grace", 4, 1 * HOUR, 4 * HOUR, 4) in figures(story, "decider")


def test_a_reconsidered_refusal_is_not_another_review_round(story: Story) -> None:
    """s3 was refused; the lead approving it on reconsideration a week later starts no new
    round and does not make the original decision look slower."""
    with time_machine.travel(at(1, 14, 9), tick=False):
        services.decision_reconsider(
            share=story.shares["s3"],
            user=story.people["deputy"],
            outcome=choices.Outcome.APPROVE,
            reasons="The health visitor asked again with a new concern.",
        )
    assert figures(story, "all") == [("All review rounds", 5, 3 * HOUR, 10 * HOUR, 3)]
    assert ("Refuse", 1, 3 * HOUR, 3 * HOUR, 1) in figures(story, "outcome")


def test_each_figure_group_is_one_query(story: Story, django_assert_num_queries: Any) -> None:
    rounds = review_rounds(oakfield_scope(story))
    for grouping in GROUPINGS.values():
        with django_assert_num_queries(1):
            figures_by(rounds, grouping)


def test_percentiles_of_an_even_count_take_the_lower_middle(story: Story) -> None:
    # dan's two rounds, 2 h and 10 h: the median is the rank-1 value, not their mean.
    assert figures(story, "decider")[0][2] == 2 * HOUR


def test_durations_read_at_a_glance() -> None:
    assert [format_duration(s) for s in (None, 0, 59, 45 * 60, 3 * HOUR + 300, 50 * HOUR)] == [
        "",
        "0 min",
        "1 min",
        "45 min",
        "3 h 05 min",
        "2 d 2 h",
    ]


def test_chart_geometry_and_text_alternative(story: Story) -> None:
    rows = figures_by(review_rounds(oakfield_scope(story)), GROUPINGS["urgency"])
    chart = hours_chart("By urgency", rows)
    assert chart is not None
    assert [g.label for g in chart.groups] == ["Immediate risk", "Urgent", "Routine"]
    # The axis runs to 10 h (the largest p90); the urgent p90 bar reaches the top.
    assert [t.label for t in chart.ticks] == ["0.0", "2.5", "5.0", "7.5", "10.0"]
    urgent_p90 = chart.groups[1].bars[1]
    assert urgent_p90.y == chart.plot_top
    assert urgent_p90.y + urgent_p90.height == chart.plot_bottom
    assert "Urgent: median 4.0 hours, 90th percentile 10.0 hours" in chart.description
    assert hours_chart("Nothing", []) is None


# --- The page ---------------------------------------------------------------------------------


def page(client: Any, user: Any, query: str = "") -> Any:
    client.force_login(user)
    return client.get(url("reports") + query)


def text_of(response: Any) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


@pytest.mark.parametrize("persona", ["lead", "deputy", "manager", "auditor"])
def test_readers_see_figures_and_no_child(client: Any, story: Story, persona: str) -> None:
    response = page(client, story.people[persona])
    assert response.status_code == 200
    body = text_of(response)
    for name in CHILD_NAMES:
        assert name not in body
    # No case content either: not the purpose, the items, the risks or the reasons.
    for content in ("social care", "Bruise", "Attendance fell", "family may disengage"):
        assert content not in body
    assert "<dt>Review rounds decided</dt><dd>5</dd>" in body
    assert "<dt>Median time to decision</dt><dd>3.0 h</dd>" in body
    assert "<dt>90th percentile</dt><dd>10.0 h</dd>" in body
    assert "3 of 5 (60%)" in body
    # The urgency table, which also carries the chart's figures.
    assert (
        '<th scope="row">Urgent</th> <td class="ss-number">3</td> <td class="ss-number">4.0</td>'
        ' <td class="ss-number">10.0</td> <td class="ss-number">2 (67%)</td>'
    ) in body
    # Shares by number and case reference, never linked to their pages.
    assert f"#{story.shares['s1'].pk}" in body and "OAK-100" in body
    assert not record_links().search(body)
    assert "RIV-100" not in body and "Riverside" not in body


def test_the_chart_is_inline_accessible_svg(client: Any, story: Story) -> None:
    body = text_of(page(client, story.people["manager"]))
    svg = re.search(
        r"<svg role=\"img\" aria-labelledby=\"chart-1-title chart-1-desc\".*?</svg>", body
    )
    assert svg is not None
    assert (
        '<title id="chart-1-title">Median and 90th percentile hours to decision, by urgency</title>'
        in svg.group()
    )
    assert '<desc id="chart-1-desc">Immediate risk: median 2.0 hours' in svg.group()
    # Drawn on the server: no script and nothing fetched from elsewhere.
    assert "<script" not in svg.group() and "http" not in svg.group().replace(
        "http://www.w3.org", ""
    )


@pytest.mark.parametrize("persona", ["practitioner", "colleague"])
def test_practitioners_are_refused(client: Any, story: Story, persona: str) -> None:
    client.force_login(story.people[persona])
    assert client.get(url("reports")).status_code == 403
    assert client.get(url("reports_export")).status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(client: Any, story: Story) -> None:
    for path in (url("reports"), url("reports_export")):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_another_settings_lead_sees_none_of_oakfields_figures(client: Any, story: Story) -> None:
    response = page(client, story.people["otherlead"])
    assert response.status_code == 200
    body = text_of(response)
    assert "<dt>Review rounds decided</dt><dd>1</dd>" in body
    assert "<dt>Median time to decision</dt><dd>0.5 h</dd>" in body
    assert "OAK-100" not in body and "Oakfield" not in body and "grace" not in body
    for share in ("s1", "s2", "s3", "s4", "s5", "s6", "s7"):
        assert f"#{story.shares[share].pk}<" not in body
    export = client.get(url("reports_export"))
    rows = list(csv.reader(io.StringIO(content_of(export))))
    assert [row[1] for row in rows[1:]] == ["RIV-100"]


def test_the_menu_offers_reports_to_readers_only(client: Any, story: Story) -> None:
    client.force_login(story.people["auditor"])
    reports_link = f'href="{url("reports")}"'
    assert reports_link in client.get(url("case_list")).content.decode()
    client.force_login(story.people["practitioner"])
    assert reports_link not in client.get(url("case_list")).content.decode()


def test_a_month_range_on_the_page(client: Any, story: Story) -> None:
    body = text_of(page(client, story.people["lead"], "?month_from=2026-06&month_to=2026-06"))
    assert "No review round was decided in this period." in body
    body = text_of(page(client, story.people["lead"], "?month_from=2026-02&month_to=2026-02"))
    assert "<dt>Review rounds decided</dt><dd>2</dd>" in body
    assert "<dt>Median time to decision</dt><dd>4.0 h</dd>" in body
    # The export link carries the filter.
    assert url("reports_export") + "?month_from=2026-02&amp;month_to=2026-02" in body


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("?month_from=2026-13", "month_from", "Enter a month as YYYY-MM, for example 2026-03."),
        ("?month_from=March", "month_from", "Enter a month as YYYY-MM, for example 2026-03."),
        ("?month_to=0001-01", "month_to", "Enter a month between 2000-01 and 2099-12."),
        (
            "?month_from=2026-03&month_to=2026-01",
            "month_to",
            "The last month cannot be before the first.",
        ),
    ],
)
def test_bad_filter_input_is_explained_next_to_its_field(
    client: Any, story: Story, query: str, field: str, message: str
) -> None:
    response = page(client, story.people["lead"], query)
    assert response.status_code == 400
    body = text_of(response)
    assert (
        f'<div class="ss-errors" id="id_{field}-error" role="alert"><p>{message}</p></div>' in body
    )
    assert "Review rounds decided" not in body
    client.force_login(story.people["lead"])
    export = client.get(url("reports_export") + query)
    assert export.status_code == 400
    assert message in export.content.decode()


def test_a_reader_of_several_settings_chooses_one(client: Any, story: Story) -> None:
    both = UserFactory(username="morgan")
    MembershipFactory(user=both, organisation=story.oakfield, role=choices.Role.MANAGER)
    MembershipFactory(user=both, organisation=story.riverside, role=choices.Role.AUDITOR)
    body = text_of(page(client, both))
    assert "<dt>Review rounds decided</dt><dd>6</dd>" in body
    assert '<h2 id="by-setting">By setting</h2>' in body
    assert '<option value="" selected>All your settings</option>' in body

    body = text_of(page(client, both, f"?setting={story.riverside.pk}"))
    assert "<dt>Review rounds decided</dt><dd>1</dd>" in body
    assert "OAK-100" not in body

    response = page(client, both, "?setting=999999")
    assert response.status_code == 400
    assert "Choose one of the settings in the list." in text_of(response)

    export = client.get(url("reports_export") + f"?setting={story.oakfield.pk}")
    refs = {row[1] for row in list(csv.reader(io.StringIO(content_of(export))))[1:]}
    assert refs == {"OAK-100"}


def test_a_setting_one_may_not_read_cannot_be_asked_for(client: Any, story: Story) -> None:
    # Grace reads only Oakfield: the field is not offered and a forged value changes nothing.
    body = text_of(page(client, story.people["lead"], f"?setting={story.riverside.pk}"))
    assert "<dt>Review rounds decided</dt><dd>5</dd>" in body
    assert "RIV-100" not in body


def test_an_empty_report_still_renders(client: Any, oakfield: Organisation, manager: Any) -> None:
    body = text_of(page(client, manager))
    assert "No review round was decided in this period." in body
    assert "<svg" not in body


# --- The CSV export ---------------------------------------------------------------------------


def content_of(response: Any) -> str:
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content).decode()


HEADER = (
    "share_id,case_reference,setting,urgency,status,outcome,decided_by,capacity,review_rounds,"
    "created_at,submitted_at,picked_up_at,decided_at,released_at,release_recorded_at,deadline,"
    "draft_seconds,to_pick_up_seconds,to_decision_seconds,to_release_seconds,total_seconds,"
    "within_deadline,late_by_seconds,released_in_emergency,overdue_seconds"
)


def test_csv_export_is_exact(client: Any, story: Story) -> None:
    client.force_login(story.people["auditor"])
    # Read at noon on 16 February: s7's review fell due at 09:30, 2 h 30 min before.
    with time_machine.travel(at(2, 16, 12), tick=False):
        response = client.get(url("reports_export"))
        content = content_of(response)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"].startswith('attachment; filename="share-timings-')
    assert "no-store" in response["Cache-Control"].split(", ")
    s = {name: share.pk for name, share in story.shares.items()}
    expected = [
        HEADER,
        f"{s['s1']},OAK-100,Oakfield,urgent,released,approve,grace,lead,1,"
        "2026-01-05T08:30:00Z,2026-01-05T09:00:00Z,2026-01-05T09:30:00Z,2026-01-05T10:00:00Z,"
        "2026-01-05T10:30:00Z,2026-01-05T10:45:00Z,2026-01-05T18:00:00Z,"
        "1800,1800,3600,1800,7200,yes,,no,",
        f"{s['s2']},OAK-100,Oakfield,immediate,approved_in_part,approve_in_part,dan,deputy,1,"
        "2026-01-06T08:50:00Z,2026-01-06T09:00:00Z,2026-01-06T11:00:00Z,2026-01-06T11:00:00Z,"
        ",,2026-01-06T10:00:00Z,"
        "600,7200,7200,,,no,3600,,",
        f"{s['s3']},OAK-100,Oakfield,routine,refused,refuse,grace,lead,1,"
        "2026-01-07T10:00:00Z,2026-01-07T10:00:00Z,2026-01-07T10:15:00Z,2026-01-07T13:00:00Z,"
        ",,2026-01-12T10:00:00Z,"
        "0,900,10800,,,yes,,,",
        f"{s['s4']},OAK-100,Oakfield,urgent,draft,return,grace,lead,1,"
        "2026-02-02T08:00:00Z,2026-02-02T09:00:00Z,2026-02-02T13:00:00Z,2026-02-02T13:00:00Z,"
        ",,2026-02-02T18:00:00Z,"
        "3600,14400,14400,,,yes,,,",
        f"{s['s5']},OAK-100,Oakfield,urgent,approved,approve,dan,deputy,1,"
        "2026-02-09T08:00:00Z,2026-02-09T09:00:00Z,2026-02-09T12:00:00Z,2026-02-09T19:00:00Z,"
        ",,2026-02-09T18:00:00Z,"
        "3600,10800,36000,,,no,3600,,",
        f"{s['s6']},OAK-100,Oakfield,urgent,draft,,,,0,2026-02-10T09:00:00Z,,,,,,,,,,,,,,,",
        f"{s['s7']},OAK-100,Oakfield,routine,awaiting_review,,,,0,"
        "2026-02-11T09:00:00Z,2026-02-11T09:30:00Z,,,,,2026-02-16T09:30:00Z,"
        "1800,,,,,,,,9000",
    ]
    assert content.split("\r\n") == [*expected, ""]


def test_csv_shows_the_latest_round_of_a_resubmitted_share(client: Any, story: Story) -> None:
    s4, p, lead = story.shares["s4"], story.people["practitioner"], story.people["lead"]
    submit(s4, p, at(2, 3, 9))
    open_review(s4, lead, at(2, 3, 9, 10))
    decide(s4, lead, at(2, 3, 9, 30), choices.Outcome.APPROVE)
    client.force_login(story.people["manager"])
    rows = {
        row[0]: row
        for row in csv.reader(io.StringIO(content_of(client.get(url("reports_export")))))
    }
    assert rows[str(s4.pk)] == (
        f"{s4.pk},OAK-100,Oakfield,urgent,approved,approve,grace,lead,2,"
        "2026-02-02T08:00:00Z,2026-02-03T09:00:00Z,2026-02-03T09:10:00Z,2026-02-03T09:30:00Z,"
        ",,2026-02-03T18:00:00Z,"
        "90000,600,1800,,,yes,,,"
    ).split(",")


def test_csv_has_no_child_names_or_case_content(client: Any, story: Story) -> None:
    for persona in ("lead", "manager", "otherlead"):
        client.force_login(story.people[persona])
        content = content_of(client.get(url("reports_export")))
        for text in (*CHILD_NAMES, "Bruise", "social care", "Reasons."):
            assert text not in content


def test_csv_month_range_keeps_shares_proposed_or_decided_in_it(client: Any, story: Story) -> None:
    client.force_login(story.people["lead"])
    content = content_of(client.get(url("reports_export") + "?month_from=2026-02"))
    ids = [row[0] for row in csv.reader(io.StringIO(content))][1:]
    assert ids == [str(story.shares[name].pk) for name in ("s4", "s5", "s6", "s7")]


def test_csv_cells_are_never_spreadsheet_formulas(client: Any, story: Story) -> None:
    Case.objects.filter(pk=story.case.pk).update(reference="=HYPERLINK(1)")
    client.force_login(story.people["lead"])
    rows = list(csv.reader(io.StringIO(content_of(client.get(url("reports_export"))))))
    assert {row[1] for row in rows[1:]} == {"'=HYPERLINK(1)"}


# --- Cost -------------------------------------------------------------------------------------


def _more_shares(story: Story, count: int) -> None:
    """``count`` more decided shares through the flow, spread over urgencies and months."""
    p, lead, deputy = story.people["practitioner"], story.people["lead"], story.people["deputy"]
    recipient = story.case.organisation.recipients.first()
    urgencies = choices.Urgency.values
    outcomes = [choices.Outcome.APPROVE, choices.Outcome.REFUSE, choices.Outcome.RETURN]
    start = at(3, 2, 9)
    for index in range(count):
        when = start + timedelta(days=index % 90, minutes=index)
        share = shared(
            story.case,
            p,
            recipient,
            urgency=urgencies[index % 3],
            created=when,
            submitted=when + timedelta(minutes=5),
        )
        decide(
            share,
            lead if index % 2 else deputy,
            when + timedelta(hours=1 + index % 7),
            outcomes[index % 3],
        )


def _queries(client: Any, path: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
        if isinstance(response, StreamingHttpResponse):
            content_of(response)
    assert response.status_code == 200
    return len(queries)


def test_the_page_and_export_cost_the_same_with_5_or_200_shares(
    client: Any, story: Story, django_assert_max_num_queries: Any
) -> None:
    client.force_login(story.people["lead"])
    # Both measures at one moment: adding the shares can take over a minute on a busy
    # machine, and the session's idle time is written once a minute (one more query).
    measured_at = timezone.now()
    with time_machine.travel(measured_at, tick=False):
        client.get(url("reports"))  # warm-up: session, permission caches
        budgets = {path: _queries(client, path) for path in (url("reports"), url("reports_export"))}
    _more_shares(story, 200 - Share.objects.filter(case=story.case).count())
    assert Share.objects.filter(case=story.case).count() == 200
    for path, budget in budgets.items():
        with time_machine.travel(measured_at, tick=False), django_assert_max_num_queries(budget):
            response = client.get(path)
            if isinstance(response, StreamingHttpResponse):
                content_of(response)
        assert response.status_code == 200
    body = text_of(client.get(url("reports")))
    assert "Page 1 of 4" in body
