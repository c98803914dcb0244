"""A person's access is read once per request and reused, and never outlives a change to it.

Every check of a request (the menu, the page's lookup, the rule its service asks, the role
its audit entry records) reads the person's roles, setting grants, case-team grants and
break-glass grants from one reading (``permissions.access``). These tests pin both halves:
the pages read it once, and the same user object sees a change of access at once, as the
querysets did when every check went to the database.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cases.models import Membership
from cases.services import case_team_add, case_team_remove, membership_end
from permissions.break_glass import break_glass_take, end_break_glass_on
from permissions.rules import can_decide, can_see_case
from permissions.selectors import case_list_for, review_queue_for, share_list_for

from .http_helpers import url
from .seeded import Demo, seeded_once

# Read for the person's own access only (a lead's home page lists others' break-glass
# grants to review, which is a list, not a check).
ACCESS_TABLES = (
    "permissions_caseuserobjectpermission",
    "permissions_organisationuserobjectpermission",
)
REASON = "Ava's mother called in distress; her key worker is on leave today."


@pytest.fixture(scope="module")
def seeded(django_db_setup: Any, django_db_blocker: Any) -> Iterator[Demo]:
    with seeded_once(django_db_blocker, Demo().seed) as demo:
        yield demo


@pytest.fixture
def demo(db: Any, seeded: Demo) -> Demo:
    return seeded


def _readings_of_access(client: Client, path: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200, path
    return sum(1 for q in queries.captured_queries if any(t in q["sql"] for t in ACCESS_TABLES))


@pytest.mark.parametrize(
    ("username", "page"),
    [
        ("practitioner", "case"),
        ("practitioner", "share"),
        ("practitioner", "case_list"),
        ("practitioner", "index"),
        ("lead", "case"),
        ("lead", "share"),
        ("lead", "review_queue"),
        ("lead", "index"),
    ],
)
def test_a_page_reads_the_persons_access_once(demo: Demo, username: str, page: str) -> None:
    client = Client()
    client.force_login(demo.user(username))
    maisie = demo.case("OAK-001")
    path = {
        "case": url("case_detail", maisie.pk),
        "share": url("share_detail", demo.shares_of("OAK-001")[0].pk),
        "case_list": url("case_list"),
        "index": url("index"),
        "review_queue": url("review_queue"),
    }[page]
    assert _readings_of_access(client, path) == 1


def test_ending_a_membership_closes_every_door_for_the_same_user_object(demo: Demo) -> None:
    lead, maisie = demo.user("lead"), demo.case("OAK-001")
    awaiting = review_queue_for(lead)
    assert can_see_case(lead, maisie) and can_decide(lead, demo.shares_of("OAK-001")[0])
    assert awaiting.exists()
    # Saved directly: the service keeps a setting's last lead who can sign in, which is not
    # the rule under test (a practitioner's membership is ended through it below).
    membership = Membership.objects.get(user=lead, organisation=maisie.organisation)
    membership.ended_at = timezone.now()
    membership.save(update_fields=["ended_at"])
    assert not can_see_case(lead, maisie)
    assert not can_decide(lead, demo.shares_of("OAK-001")[0])
    assert not case_list_for(lead).exists()
    assert not share_list_for(lead).exists()
    assert not review_queue_for(lead).exists()


def test_leaving_and_joining_a_case_team_is_seen_at_once(demo: Demo) -> None:
    practitioner, maisie = demo.user("practitioner"), demo.case("OAK-001")
    lead = demo.user("lead")
    assert can_see_case(practitioner, maisie)
    case_team_remove(case=maisie, user=practitioner, by=lead)
    assert not can_see_case(practitioner, maisie)
    assert not case_list_for(practitioner).filter(pk=maisie.pk).exists()
    case_team_add(case=maisie, user=practitioner, by=lead)
    assert can_see_case(practitioner, maisie)
    assert case_list_for(practitioner).filter(pk=maisie.pk).exists()


def test_break_glass_opens_at_once_and_closes_by_the_clock_or_the_lead(
    demo: Demo, time_machine: Any
) -> None:
    start = timezone.now().replace(microsecond=0) + timedelta(minutes=1)
    time_machine.move_to(start, tick=False)
    colin, ava, lead = demo.user("colleague"), demo.case("OAK-003"), demo.user("lead")
    assert not can_see_case(colin, ava)
    break_glass_take(user=colin, case=ava, reason=REASON, hours=1)
    assert can_see_case(colin, ava)
    assert case_list_for(colin).filter(pk=ava.pk).exists()
    # Nothing is written when a grant expires: the clock alone closes it, reading or not.
    time_machine.move_to(start + timedelta(hours=1, seconds=1), tick=False)
    assert not can_see_case(colin, ava)
    assert not case_list_for(colin).filter(pk=ava.pk).exists()

    time_machine.move_to(start + timedelta(hours=2), tick=False)
    break_glass_take(user=colin, case=ava, reason=REASON, hours=1)
    assert can_see_case(colin, ava)
    end_break_glass_on(ava, by=lead)
    assert not can_see_case(colin, ava)


def test_an_ended_membership_through_the_service_is_seen_by_the_same_object(
    demo: Demo,
) -> None:
    colin, lead = demo.user("colleague"), demo.user("lead")
    maisie = demo.case("OAK-001")
    case_team_add(case=maisie, user=colin, by=lead)
    assert can_see_case(colin, maisie)
    membership = Membership.objects.get(user=colin, ended_at__isnull=True)
    membership_end(membership=membership, by=lead)
    assert not can_see_case(colin, maisie)


def test_the_reading_compiled_once_answers_as_the_orm_does(demo: Demo) -> None:
    """The access SQL is compiled once per process with stand-in values; run with each
    person's id it must read exactly what the ORM's own query reads, times included."""
    from django.contrib.auth import get_user_model

    from permissions.access import _reading, _ReadingSQL

    break_glass_take(user=demo.user("colleague"), case=demo.case("OAK-003"), reason=REASON)
    now = timezone.now()
    assert _ReadingSQL._compile() is not None
    for person in get_user_model().objects.all():
        compiled = _ReadingSQL.rows(person.pk, now)
        assert sorted(compiled) == sorted(_reading(person, now)), person.username
    kinds = {kind for kind, *_ in _ReadingSQL.rows(demo.user("colleague").pk, now)}
    assert {"role", "break glass"} <= kinds


def test_the_orm_reads_access_when_the_compiled_sql_cannot_be_trusted(
    demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    from permissions.access import _reading, _ReadingSQL

    monkeypatch.setattr(_ReadingSQL, "_compiled", None)
    monkeypatch.setattr(_ReadingSQL, "_failed", True)
    lead = demo.user("lead")
    now = timezone.now()
    assert sorted(_ReadingSQL.rows(lead.pk, now)) == sorted(_reading(lead, now))


def test_the_menu_counts_are_compiled_once_per_state_of_access_and_stay_right(
    demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The menu's counts run SQL compiled once per person and state of their access; a
    change of access (here: leaving a case team) is a new state, compiled afresh."""
    from django.contrib.auth import get_user_model

    from workflows import context_processors
    from workflows.context_processors import MenuCounts, menu_counts_query

    built = []
    real = context_processors.menu_counts_query

    def counting(user: Any) -> Any:
        built.append(user.pk)
        return real(user)

    monkeypatch.setattr(context_processors, "menu_counts_query", counting)
    people = get_user_model().objects
    for person in people.all():
        fresh = people.get(pk=person.pk)
        assert MenuCounts(fresh)._counts == dict(
            zip(("unread", "families", "advice"), menu_counts_query(fresh).get(), strict=True)
        ), person.username
    before = len(built)
    for person in people.all():
        MenuCounts(people.get(pk=person.pk))._counts  # noqa: B018 - read for its cost
    assert len(built) == before, "a second page compiled the menu's counts again"

    practitioner, case = demo.user("practitioner"), demo.case("OAK-001")
    case_team_remove(case=case, user=practitioner, by=demo.user("lead"))
    fresh = people.get(pk=practitioner.pk)
    assert MenuCounts(fresh)._counts == dict(
        zip(("unread", "families", "advice"), menu_counts_query(fresh).get(), strict=True)
    )
    assert len(built) == before + 1
