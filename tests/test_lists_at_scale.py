"""Every list page keeps its queries, its rows and its order as the history grows (issue 15).

The lists read a share's own copy of its case's setting and its urgency's rank, so those
copies are checked first: taken at the first save, never apart from their sources. Then each
list page costs the same queries with a little history or more of it; lists in their order
as before; and, on PostgreSQL, each list's query is one its index serves in order (no sort
of a setting's or a person's whole list), whatever the planner would choose on a table this
small.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.test import Client
from django.test.utils import CaptureQueriesContext

from cases import choices
from cases.models import Case, Share
from cases.services import case_team_add
from permissions.models import AuditAction, AuditEntry
from permissions.selectors import review_queue_for, share_list_for
from workflows import steps
from workflows.demo import seed_demo
from workflows.models import Notification

from .factories import CaseFactory, complete_fields, item, submitted_share
from .http_helpers import url

MONDAY_9AM = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)  # 09:00 in London
Urgency = choices.Urgency


@pytest.fixture(autouse=True)
def clock(time_machine: Any) -> Any:
    time_machine.move_to(MONDAY_9AM, tick=False)
    return time_machine


def another_case(case: Case, practitioner: Any) -> Case:
    """A case of the same setting with the practitioner on its team."""
    other = CaseFactory(organisation=case.organisation)
    case_team_add(case=other, user=practitioner)
    return other


def returned_share(case: Case, practitioner: Any, lead: Any, recipient: Any) -> Share:
    share = submitted_share(case, practitioner, recipient)
    steps.decide(share=share, user=lead, outcome=choices.Outcome.RETURN, reasons="Say more.")
    return share


def queries(client: Client, path: str) -> int:
    client.get(path)  # warm-up: the session, caches
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return len(captured)


# --- The share's copies of its case's setting and of its urgency -------------------------


def test_a_share_takes_its_cases_setting_when_first_saved(case: Case, practitioner: Any) -> None:
    share = Share.objects.create(case=case, proposed_by=practitioner)
    assert share.case_setting_id == case.organisation_id
    share.refresh_from_db()
    assert share.case_setting_id == case.organisation_id
    assert share.urgency_rank == Urgency.values.index(Urgency.ROUTINE)


def _drifted() -> list[str]:
    """Every share whose copies disagree with their sources, described."""
    found = [
        f"share #{pk} is in setting {copy}, its case in {source}"
        for pk, copy, source in Share.objects.exclude(
            case_setting=F("case__organisation")
        ).values_list("pk", "case_setting", "case__organisation")
    ]
    for rank, urgency in enumerate(Urgency.values):
        wrong = Share.objects.filter(urgency=urgency).exclude(urgency_rank=rank)
        found += [
            f"share #{pk} ({urgency}) ranked {r}"
            for pk, r in wrong.values_list("pk", "urgency_rank")
        ]
    return found


def test_no_share_drifts_from_its_cases_setting_nor_its_urgency(db: Any) -> None:
    """The demo plays every step of a share's life through the services: proposal, edits,
    submission, return, decisions, releases (an emergency one too), withdrawal."""
    seed_demo()
    assert Share.objects.count() >= 9
    assert _drifted() == []


def test_the_check_for_drift_finds_a_share_filed_under_another_setting(
    case: Case, practitioner: Any, other_lead: Any, recipient: Any
) -> None:
    share = submitted_share(case, practitioner, recipient)
    elsewhere = other_lead.memberships.get().organisation_id
    Share.objects.filter(pk=share.pk).update(case_setting=elsewhere)
    assert _drifted() == [
        f"share #{share.pk} is in setting {elsewhere}, its case in {case.organisation_id}"
    ]


def test_the_urgency_rank_follows_an_edited_urgency(
    draft: Share, practitioner: Any, recipient: Any
) -> None:
    from cases.services import share_update_draft

    assert (draft.urgency, draft.urgency_rank) == (Urgency.URGENT, 1)
    share_update_draft(
        share=draft,
        user=practitioner,
        fields=complete_fields(recipient, urgency=Urgency.IMMEDIATE),
        items=[item()],
    )
    draft.refresh_from_db()
    assert (draft.urgency, draft.urgency_rank) == (Urgency.IMMEDIATE, 0)
    assert _drifted() == []


# --- The same queries with more history ----------------------------------------------------


def test_a_practitioners_home_logs_the_notes_it_shows_in_one_append_whatever_their_number(
    client: Client, case: Case, practitioner: Any, lead: Any, recipient: Any
) -> None:
    returned_share(case, practitioner, lead, recipient)
    client.force_login(practitioner)
    few = queries(client, url("index"))
    for _ in range(4):
        returned_share(another_case(case, practitioner), practitioner, lead, recipient)
    assert queries(client, url("index")) == few

    # Still one entry per case shown, each naming the note read, all in one append.
    before = AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first()
    client.get(url("index"))
    logged = AuditEntry.objects.filter(
        pk__gt=before, actor=practitioner, action=AuditAction.VIEW_DECISION
    )
    assert logged.count() == 5
    assert len({entry.case_id for entry in logged}) == 5
    assert {entry.basis for entry in logged} == {"case team"}
    sequences = sorted(logged.values_list("sequence", flat=True))
    assert sequences == list(range(sequences[0], sequences[0] + 5))


def test_a_leads_home_queue_notifications_and_a_practitioners_lists_cost_the_same_with_more(
    client: Client, case: Case, practitioner: Any, lead: Any, recipient: Any
) -> None:
    """Each list page, with a few shares of every kind, then with several times as many."""

    def history() -> None:
        submitted_share(case, practitioner, recipient, Urgency.URGENT)
        returned_share(case, practitioner, lead, recipient)
        approved = submitted_share(case, practitioner, recipient)
        steps.decide(share=approved, user=lead, outcome=choices.Outcome.APPROVE, reasons="Yes.")
        steps.propose(case=case, user=practitioner, fields=complete_fields(recipient), items=[])

    pages = [
        (lead, url("index")),
        (lead, url("review_queue")),
        (lead, url("notifications")),
        (practitioner, url("index")),
        (practitioner, url("notifications")),
        (practitioner, url("my_shares")),
    ]

    def costs() -> list[int]:
        found = []
        for person, path in pages:
            client.force_login(person)
            found.append(queries(client, path))
        return found

    history()
    few = costs()
    for _ in range(4):
        history()
    assert costs() == few


# --- The same rows in the same order -------------------------------------------------------


def test_the_queue_keeps_its_order_deadline_then_urgency_then_submission(
    case: Case, practitioner: Any, lead: Any, recipient: Any, clock: Any
) -> None:
    """Shares due at one moment come most urgent first, then the earliest submitted: the order
    the queue had when it sorted by its CASE on urgency."""
    shares = []
    for minutes, urgency in enumerate([Urgency.ROUTINE, Urgency.IMMEDIATE, Urgency.URGENT] * 2):
        clock.move_to(MONDAY_9AM + timedelta(minutes=minutes), tick=False)
        shares.append(submitted_share(case, practitioner, recipient, urgency))
    # Two deadlines shared by several shares each, and one without a deadline at all.
    due = MONDAY_9AM + timedelta(days=3)
    Share.objects.filter(pk__in=[s.pk for s in shares[:3]]).update(review_due_at=due)
    Share.objects.filter(pk__in=[s.pk for s in shares[3:5]]).update(
        review_due_at=due - timedelta(days=1)
    )
    Share.objects.filter(pk=shares[5].pk).update(review_due_at=None)

    def expected(share: Share) -> tuple[Any, ...]:
        undated = share.review_due_at is None
        return (
            undated,
            share.review_due_at or due,
            Urgency.values.index(share.urgency),
            share.submitted_at,
            share.pk,
        )

    in_queue = list(review_queue_for(lead))
    assert [s.pk for s in in_queue] == [s.pk for s in sorted(in_queue, key=expected)]
    assert len(in_queue) == 6
    assert in_queue[-1].pk == shares[5].pk  # the undated last
    client = Client()
    client.force_login(lead)
    page = client.get(url("review_queue"))
    assert [s.pk for s in page.context["shares"]] == [s.pk for s in in_queue]


def test_the_queue_pages_through_every_share_once_in_order(
    client: Client, case: Case, practitioner: Any, lead: Any, recipient: Any, settings: Any
) -> None:
    for _ in range(5):
        submitted_share(case, practitioner, recipient)
    from workflows.worklists import ReviewQueueView

    client.force_login(lead)
    in_order = [s.pk for s in review_queue_for(lead)]
    seen = []
    original = ReviewQueueView.paginate_by
    ReviewQueueView.paginate_by = 2
    try:
        for number in (1, 2, 3):
            page = client.get(f"{url('review_queue')}?page={number}")
            seen += [s.pk for s in page.context["shares"]]
            assert page.context["paginator"].count == 5
    finally:
        ReviewQueueView.paginate_by = original
    assert seen == in_order


def test_notifications_keep_unread_first_then_the_newest(
    client: Client, case: Case, practitioner: Any, lead: Any, recipient: Any, clock: Any
) -> None:
    for minutes in range(5):
        clock.move_to(MONDAY_9AM + timedelta(minutes=minutes), tick=False)
        submitted_share(case, practitioner, recipient)
    mine = Notification.objects.filter(recipient=lead)
    for notice in mine.order_by("pk")[1:4:2]:
        notice.read_at = MONDAY_9AM + timedelta(hours=1)
        notice.save(update_fields=["read_at"])
    expected = sorted(mine, key=lambda n: (n.read_at is not None, -n.created_at.timestamp(), -n.pk))
    client.force_login(lead)
    shown = list(client.get(url("notifications")).context["notifications"])
    assert [n.pk for n in shown] == [n.pk for n in expected]
    assert shown[0].actor is not None  # the page's rows come with what they show


def test_my_shares_keep_the_newest_first(
    client: Client, case: Case, practitioner: Any, recipient: Any, clock: Any
) -> None:
    for minutes in range(4):
        clock.move_to(MONDAY_9AM + timedelta(minutes=minutes), tick=False)
        submitted_share(
            another_case(case, practitioner) if minutes % 2 else case, practitioner, recipient
        )
    client.force_login(practitioner)
    shown = [s.pk for s in client.get(url("my_shares")).context["shares"]]
    expected = share_list_for(practitioner).filter(proposed_by=practitioner).order_by("-created_at")
    assert shown == [s.pk for s in expected]
    assert len(shown) == 4


# --- Each list's query is one its index walks in order (PostgreSQL) -------------------------

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the plans are PostgreSQL's"
)


def plan(sql: str, params: Any = ()) -> str:
    """The plan PostgreSQL makes for a query when it must use an index if one serves: whether
    an index can give the list its order, not what the planner picks for a few rows. (With
    a handful of rows, any index on the recipient and a sort of one row costs less than
    walking the list's own index, and the planner's choice among them varied from one fresh
    database to the next: a sort is allowed only where no index gives the order.)"""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(line for (line,) in cursor.fetchall())


def walks(index: str, rows: QuerySet[Any] | str) -> None:
    found = plan(rows) if isinstance(rows, str) else plan(*rows.query.sql_with_params())
    assert index in found, found
    assert "Sort" not in found, found


@postgresql_only
def test_each_list_walks_its_index_in_its_own_order(
    case: Case, practitioner: Any, lead: Any, recipient: Any
) -> None:
    # The assertions are in ``walks`` (above), one call per list: the plan uses the list's
    # own index, and has no Sort.
    returned_share(case, practitioner, lead, recipient)
    submitted_share(case, practitioner, recipient)
    page: Callable[[QuerySet[Any]], QuerySet[Any]] = lambda rows: rows[:50]  # noqa: E731
    walks("share_review_queue", page(review_queue_for(lead)))
    walks(
        "share_proposed_newest", page(share_list_for(practitioner).filter(proposed_by=practitioner))
    )
    walks(
        "share_drafts_last_edited",
        page(
            share_list_for(practitioner)
            .filter(proposed_by=practitioner, status=choices.ShareStatus.DRAFT)
            .order_by("-updated_at", "-pk")
        ),
    )
    from workflows.notifications.views import NotificationListView

    view = NotificationListView()
    view.request = type("Request", (), {"user": lead})()
    walks("notification_list", page(view.get_queryset().values_list("pk", flat=True)))
    unread = Notification.objects.filter(recipient=lead, read_at__isnull=True)
    walks("notification_unread_newest", page(unread.order_by("-created_at", "-pk")))

    # The home page's "not yet seen" decisions, as the page asks for them.
    client = Client()
    client.force_login(practitioner)
    with CaptureQueriesContext(connection) as captured:
        client.get(url("index"))
    [unseen] = [
        q["sql"]
        for q in captured.captured_queries
        if "share_decided" in q["sql"] and "view_share" in q["sql"]
    ]
    walks("notification_unread_decision", unseen)
