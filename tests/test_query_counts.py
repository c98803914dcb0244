"""The lists people open all day cost the same number of queries with 10 shares or 1,000.

The small database is the demo (ten shares, made through the flow) and one more share
proposed by the lead through ``workflows.steps``: eleven shares, each with its process and
tasks. The large one adds about a thousand copies of those, share, process and tasks alike,
in bulk, so the practitioner's two cases hold about 400 shares each. Every page is measured
once on the small database (after a warm-up request), which gives its budget K; on the
large one it must not take a single query more (``django_assert_max_num_queries(K)``).

Both databases are built once for the module, inside a transaction rolled back after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from viewflow.workflow.models import Process, Task

from cases import choices
from cases.models import Case, Share
from workflows import steps
from workflows.demo import seed_demo
from workflows.models import Notification, ShareProcess

from .http_helpers import url

SMALL, LARGE = 11, 1_011

PERSONAS = ("practitioner", "lead")
# Each page by its route's name, so the budgets hold wherever the site is mounted.
PAGES = {
    "home": "safeguarding:index",
    "notifications": "safeguarding:notifications",
    "case list": "safeguarding:case_list",
    "my shares": "safeguarding:my_shares",
    "review queue": "safeguarding:review_queue",
    "case page OAK-001": "case:OAK-001",
    "case page OAK-002": "case:OAK-002",
}


def _path(page: str) -> str:
    if page.startswith("case:"):
        return url("case_detail", Case.objects.get(reference=page[5:]).pk)
    return reverse(page)


def _ten_shares() -> None:
    """The demo's nine shares and one the lead proposes and submits on a case of no team."""
    seed_demo()
    lead = get_user_model().objects.get(username="lead")
    case = Case.objects.get(reference="OAK-003")
    share = steps.propose(
        case=case,
        user=lead,
        fields={
            "purpose": "Ask the health visitor whether the family is known to them.",
            "direction": choices.Direction.OUTBOUND,
            "urgency": choices.Urgency.ROUTINE,
            "lawful_basis": choices.LawfulBasis.LEGITIMATE_INTERESTS,
            "consent_status": choices.ConsentStatus.GIVEN,
            "family_informed": choices.FamilyInformed.NOT_TOLD,
            "family_not_told_reason": choices.FamilyNotToldReason.INCREASE_RISK,
            "risk_if_shared": "Little: the family agreed.",
            "risk_if_not_shared": "A missed pattern of concern.",
            "recipient": case.organisation.recipients.first(),
            "sending_method": choices.SendingMethod.SECURE_EMAIL,
        },
        items=[
            {
                "category": choices.ItemCategory.ATTENDANCE,
                "content": "Attendance fell over the half term.",
                "necessity": "Shows the change in pattern.",
            }
        ],
    )
    steps.submit(share=share, user=lead)
    assert Share.objects.count() == SMALL


def _copy_shares(count: int) -> None:
    """``count`` more shares, copied round-robin from the existing ones, each with a copy of
    its template's process and tasks (bulk inserts; a handful of queries per thousand)."""
    templates = list(Share.objects.order_by("pk"))
    processes = {p.share_id: p for p in ShareProcess.objects.all()}
    tasks: dict[int, list[Task]] = {}
    for task in Task.objects.order_by("pk"):
        tasks.setdefault(task.process_id, []).append(task)

    chosen = [templates[i % len(templates)] for i in range(count)]
    copies = []
    for template in chosen:
        copy = Share(
            **{
                f.attname: getattr(template, f.attname)
                for f in Share._meta.concrete_fields
                if not f.primary_key
            }
        )
        copies.append(copy)
    copies = Share.objects.bulk_create(copies)

    parents = Process.objects.bulk_create(
        Process(
            flow_class=processes[t.pk].flow_class,
            status=processes[t.pk].status,
            created=processes[t.pk].created,
            finished=processes[t.pk].finished,
        )
        for t in chosen
    )
    # ShareProcess extends Process (multi-table): its own rows go in with one statement.
    table = ShareProcess._meta.db_table
    ptr = ShareProcess._meta.get_field("process_ptr").column
    share_column = ShareProcess._meta.get_field("share").column
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} ({ptr}, {share_column}) VALUES (%s, %s)",
            [(parent.pk, copy.pk) for parent, copy in zip(parents, copies, strict=True)],
        )

    fields = [
        f.attname
        for f in Task._meta.concrete_fields
        if not f.primary_key and f.attname != "process_id"
    ]
    Task.objects.bulk_create(
        Task(process_id=parent.pk, **{name: getattr(task, name) for name in fields})
        for template, parent in zip(chosen, parents, strict=True)
        for task in tasks[processes[template.pk].pk]
    )
    # And each copy's notifications, so that a person's list and home grow with the rest.
    notices: dict[int, list[Notification]] = {}
    for notice in Notification.objects.exclude(share=None):
        notices.setdefault(notice.share_id, []).append(notice)
    Notification.objects.bulk_create(
        Notification(
            recipient_id=notice.recipient_id,
            kind=notice.kind,
            link=notice.link,
            share=copy,
            actor_id=notice.actor_id,
            detail=notice.detail,
            due_at=notice.due_at,
            event=f"{notice.event}:copy-{copy.pk}",
        )
        for template, copy in zip(chosen, copies, strict=True)
        for notice in notices.get(template.pk, [])
    )


def _count(client: Any, path: str) -> int:
    client.get(path)  # warm-up: caches, the session
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return len(queries)


@pytest.fixture(scope="module")
def budgets(django_db_setup: Any, django_db_blocker: Any) -> Iterator[dict[tuple[str, str], int]]:
    """K for every (persona, page), measured on the small database; then the large one."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            _ten_shares()
            client, found = Client(), {}
            for persona in PERSONAS:
                client.force_login(get_user_model().objects.get(username=persona))
                for name, page in PAGES.items():
                    found[persona, name] = _count(client, _path(page))
            _copy_shares(LARGE - SMALL)
        except BaseException:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            raise
    yield found
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        outer.__exit__(None, None, None)


def test_the_large_database_is_large(client: Any, db: Any, budgets: Any) -> None:
    """The copies are real to every list: counted, scoped and queued like the originals."""
    assert Share.objects.count() == LARGE
    assert ShareProcess.objects.count() == LARGE
    assert Task.objects.filter(process__shareprocess__isnull=False).count() > 4 * LARGE
    for reference in ("OAK-001", "OAK-002"):
        assert Share.objects.filter(case__reference=reference).count() > 300
    client.force_login(get_user_model().objects.get(username="lead"))
    queue = client.get(url("review_queue")).context["paginator"]
    awaiting = Share.objects.filter(
        status__in=(
            choices.ShareStatus.AWAITING_REVIEW,
            choices.ShareStatus.RELEASED_IN_EMERGENCY,
        ),
        case__organisation__name="Oakfield Nursery",
    ).exclude(proposed_by__username="lead")  # another decides the lead's own
    assert queue.count == awaiting.count() > 50
    client.force_login(get_user_model().objects.get(username="practitioner"))
    mine = client.get(url("my_shares")).context["paginator"]
    assert mine.count > 700


CASES = [
    pytest.param(persona, page, id=f"{persona}-{page}") for persona in PERSONAS for page in PAGES
]


@pytest.mark.parametrize(("persona", "page"), CASES)
def test_a_list_costs_the_same_with_a_thousand_shares(
    client: Any,
    db: Any,
    budgets: dict[tuple[str, str], int],
    django_assert_max_num_queries: Any,
    persona: str,
    page: str,
) -> None:
    client.force_login(get_user_model().objects.get(username=persona))
    path = _path(PAGES[page])
    client.get(path)  # warm-up, as when the budget was measured
    with django_assert_max_num_queries(budgets[persona, page]):
        response = client.get(path)
    assert response.status_code == 200
