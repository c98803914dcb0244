"""Who viewed what: every page that shows a case, share, decision or release is logged as
one entry naming every record it showed, with the basis of the access; the setting's leads
see who viewed a case; auditors and managers read the setting's log, which names no child;
the log cannot be changed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.db.models import ProtectedError
from django.test import Client
from django.utils import timezone

from cases.choices import ShareStatus
from cases.models import Decision, Release, Share
from cases.models.immutable import ImmutableRecordError
from cases.services import case_team_remove
from permissions.break_glass import break_glass_take
from permissions.models import AuditAction, AuditEntry
from permissions.selectors import audit_log_for

from .http_helpers import page_text, url
from .seeded import Demo, seeded_once

CHILDREN = ["Maisie", "Thompson", "Leo", "Okafor", "Ava", "Patel", "Noah", "Williams", "Ella"]
CHILDREN += ["Hughes"]
A_CHILDS_NAME = re.compile(r"\b(" + "|".join(CHILDREN) + r")\b")
OAKFIELD_PEOPLE = ["Grace", "Dan Deputy", "Priya", "Colin", "Mona", "Arun", "Oakfield", "OAK-"]


@pytest.fixture(scope="module")
def seeded(django_db_setup: Any, django_db_blocker: Any) -> Iterator[Demo]:
    with seeded_once(django_db_blocker, Demo().seed) as demo:
        yield demo


@pytest.fixture
def demo(db: Any, seeded: Demo) -> Demo:
    return seeded


@pytest.fixture
def now(time_machine: Any) -> Any:
    """A fixed moment after the demo was made, so every entry's time can be checked exactly."""
    moment = timezone.now().replace(microsecond=0) + timedelta(minutes=5)
    time_machine.move_to(moment, tick=False)
    return moment


def browser(demo: Demo, username: str) -> Client:
    client = Client()
    client.raise_request_exception = True
    client.force_login(demo.user(username))
    return client


def share(demo: Demo, status: str, reference_prefix: str = "OAK") -> Share:
    return Share.objects.filter(status=status, case__reference__startswith=reference_prefix).first()


def logged_since(mark: int) -> list[tuple[Any, ...]]:
    """Each entry since the mark: who, what, on which main record of which case, under which
    role or grant, and every record the page showed."""
    return list(
        AuditEntry.objects.filter(pk__gt=mark)
        .order_by("pk")
        .values_list(
            "actor__username",
            "action",
            "object_type",
            "object_id",
            "case__reference",
            "basis",
            "detail",
        )
    )


def shown(*records: Any) -> str:
    """How a page view names the records it showed, in the order shown."""
    return "; ".join(f"{record._meta.model_name} {record.pk}" for record in records)


def last_pk() -> int:
    return AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


# --- Every view is logged -----------------------------------------------------------------

BASES = [
    ("lead", "OAK", "lead of the setting"),
    ("deputy", "OAK", "deputy of the setting"),
    ("practitioner", "OAK", "case team"),
    ("otherlead", "RIV", "lead of the setting"),
]


@pytest.mark.parametrize(("username", "prefix", "basis"), BASES, ids=[b[0] for b in BASES])
def test_opening_a_case_logs_it_and_every_share_it_lists(
    demo: Demo, now: Any, username: str, prefix: str, basis: str
) -> None:
    some = share(demo, ShareStatus.AWAITING_REVIEW, prefix)
    case, shares = some.case, demo.shares_of(some.case.reference)
    mark = last_pk()
    page = browser(demo, username).get(url("case_detail", case.pk))
    assert page.status_code == 200
    listed = page.context["shares"]
    assert sorted(s.pk for s in listed) == [s.pk for s in shares]  # every share, listed
    # One entry for the page: the case, then every share it listed, in the page's order.
    assert logged_since(mark) == [
        (username, "view_case", "case", case.pk, case.reference, basis, shown(case, *listed))
    ]
    entry = AuditEntry.objects.get(pk__gt=mark)
    assert (entry.at, entry.organisation_id, entry.subject_id) == (
        now,
        case.organisation_id,
        None,
    )
    assert (entry.chain, entry.share_id) == (case.organisation_id, None)


@pytest.mark.parametrize(("username", "basis"), [(u, b) for u, p, b in BASES if p == "OAK"])
def test_opening_a_released_share_logs_the_share_its_decision_and_its_release(
    demo: Demo, now: Any, username: str, basis: str
) -> None:
    released = share(demo, ShareStatus.RELEASED)
    decision, release = Decision.objects.get(share=released), Release.objects.get(share=released)
    ref = released.case.reference
    mark = last_pk()
    assert browser(demo, username).get(url("share_detail", released.pk)).status_code == 200
    assert logged_since(mark) == [
        (
            username,
            "view_share",
            "share",
            released.pk,
            ref,
            basis,
            shown(released, decision, release),
        )
    ]
    entry = AuditEntry.objects.get(pk__gt=mark)
    assert (entry.at, entry.share_id) == (now, released.pk)


def test_the_pages_that_act_on_a_share_log_what_they_show(demo: Demo) -> None:
    practitioner, lead = browser(demo, "practitioner"), browser(demo, "lead")
    awaiting = share(demo, ShareStatus.AWAITING_REVIEW)
    approved = share(demo, ShareStatus.APPROVED)
    returned = next(
        s
        for s in Share.objects.filter(status=ShareStatus.DRAFT, case__reference__startswith="OAK")
        if s.decisions.exists()
    )
    pages = [
        (
            lead,
            "lead",
            url("lead_review", awaiting.pk),
            awaiting,
            [],
            "lead of the setting",
        ),
        (
            practitioner,
            "practitioner",
            url("record_release", approved.pk),
            approved,
            list(approved.decisions.all()),
            "case team",
        ),
        (
            practitioner,
            "practitioner",
            url("share_edit", returned.pk),
            returned,
            list(returned.decisions.all()),
            "case team",
        ),
    ]
    for client, username, path, record, decisions, basis in pages:
        mark = last_pk()
        assert client.get(path).status_code == 200, path
        ref = record.case.reference
        assert logged_since(mark) == [
            (username, "view_share", "share", record.pk, ref, basis, shown(record, *decisions))
        ], path


def test_views_under_break_glass_are_logged_with_the_grant(demo: Demo) -> None:
    grant = break_glass_take(user=demo.user("colleague"), case=demo.case("OAK-002"), reason="Now.")
    refused = share(demo, ShareStatus.REFUSED)
    assert refused.case.reference == "OAK-002"
    mark = last_pk()
    assert browser(demo, "colleague").get(url("share_detail", refused.pk)).status_code == 200
    bases = set(AuditEntry.objects.filter(pk__gt=mark).values_list("basis", flat=True))
    assert bases == {f"break-glass grant #{grant.pk}"}


def test_the_proposer_is_logged_under_the_access_they_actually_have(demo: Demo) -> None:
    """Proposing a share gives no access of its own: Priya proposed every Oakfield share and
    sees them as a member of the case team; off the team she sees none, and nothing is logged."""
    mine = share(demo, ShareStatus.APPROVED)
    assert mine.proposed_by == demo.user("practitioner")
    priya = browser(demo, "practitioner")
    mark = last_pk()
    priya.get(url("share_detail", mine.pk))
    assert [row[5] for row in logged_since(mark)] == ["case team"]

    case_team_remove(case=mine.case, user=demo.user("practitioner"))
    mark = last_pk()
    assert priya.get(url("share_detail", mine.pk)).status_code == 404
    assert not AuditEntry.objects.filter(
        pk__gt=mark, action__startswith="view_", actor=demo.user("practitioner")
    ).exists()


def test_opening_the_propose_page_of_a_case_logs_a_view_of_it(demo: Demo) -> None:
    maisie = demo.case("OAK-001")
    mark = last_pk()
    page = browser(demo, "practitioner").get(url("share_propose", maisie.pk))
    assert page.status_code == 200
    assert "Maisie Thompson" in page_text(page)
    assert logged_since(mark) == [
        ("practitioner", "view_case", "case", maisie.pk, "OAK-001", "case team", shown(maisie))
    ]


def test_a_page_refused_logs_no_view(demo: Demo) -> None:
    colleague = Client()
    colleague.force_login(demo.user("colleague"))
    mark = last_pk()
    for path in (
        url("case_detail", demo.case("OAK-001").pk),
        url("share_detail", share(demo, ShareStatus.RELEASED).pk),
        url("lead_review", share(demo, ShareStatus.AWAITING_REVIEW).pk),
    ):
        assert colleague.get(path).status_code == 404
    assert not AuditEntry.objects.filter(pk__gt=mark).exists()


# --- Who viewed the case --------------------------------------------------------------------


def test_the_lead_sees_who_viewed_a_case_on_its_page(demo: Demo) -> None:
    leo = demo.case("OAK-002")
    browser(demo, "practitioner").get(url("case_detail", leo.pk))
    browser(demo, "deputy").get(url("case_detail", leo.pk))
    maisie = demo.case("OAK-001")
    browser(demo, "practitioner").get(url("case_detail", maisie.pk))

    page = browser(demo, "lead").get(url("case_detail", leo.pk))
    text = page_text(page)
    assert "Who has viewed this case" in text
    viewers = page.context["viewers"]
    rows = [(e.actor.username, e.action, e.basis) for e in viewers]
    assert ("practitioner", "view_case", "case team") in rows
    assert ("deputy", "view_case", "deputy of the setting") in rows
    assert ("lead", "view_case", "lead of the setting") in rows  # this very visit
    assert {e.case_id for e in viewers} == {leo.pk}, "another case's viewers are not shown"
    # Each visit is one row, naming the case and every share its page listed.
    assert len(rows) == 3
    assert {e.detail for e in viewers} == {shown(leo, *page.context["shares"])}
    assert "Priya Practitioner" in text and "Dan Deputy" in text and "case team" in text
    assert f"Viewed a case #{leo.pk}" in text


def test_the_case_team_does_not_see_who_viewed_the_case(demo: Demo) -> None:
    page = browser(demo, "practitioner").get(url("case_detail", demo.case("OAK-001").pk))
    assert "Who has viewed this case" not in page_text(page)
    assert "viewers" not in page.context


# --- The setting's audit log ----------------------------------------------------------------


def _some_activity(demo: Demo) -> None:
    for username in ("practitioner", "lead", "deputy"):
        client = browser(demo, username)
        for s in Share.objects.filter(case__reference__startswith="OAK"):
            client.get(url("share_detail", s.pk))
    break_glass_take(user=demo.user("colleague"), case=demo.case("OAK-003"), reason="Urgent.")
    browser(demo, "colleague").get(url("case_detail", demo.case("OAK-003").pk))
    browser(demo, "otherlead").get(url("case_detail", demo.case("RIV-001").pk))


@pytest.mark.parametrize("username", ["auditor", "manager", "lead", "deputy"])
def test_the_setting_reads_its_audit_log_and_it_names_no_child(demo: Demo, username: str):
    _some_activity(demo)
    page = browser(demo, username).get(url("audit_log"))
    assert page.status_code == 200
    body = page.content.decode()
    assert not A_CHILDS_NAME.search(body), A_CHILDS_NAME.search(body)
    entries = list(page.context["entries"])
    oakfield = demo.setting("Oakfield")
    everything = AuditEntry.objects.filter(organisation=oakfield).order_by("-sequence")
    assert 40 < len(entries) <= 100
    # The first page holds the setting's newest entries, newest first.
    assert [e.pk for e in entries] == list(everything.values_list("pk", flat=True)[:100])
    text = page_text(page)
    for words in ("Viewed a share", "Viewed a case", "Break-glass access taken", "OAK-003"):
        assert words in text, words
    # A share's page is one entry, naming the decisions and release it showed with the share.
    released = share(demo, ShareStatus.RELEASED)
    read = everything.filter(share=released, actor__username="practitioner").latest("pk")
    assert read.pk in [e.pk for e in entries]
    decision, release = Decision.objects.get(share=released), Release.objects.get(share=released)
    assert (read.action, read.detail) == ("view_share", shown(released, decision, release))
    assert "Colin Colleague" in text and "Riverside" not in text and "RIV-" not in text
    # Every Oakfield entry and nothing else is in the log the page pages through.
    log = audit_log_for(demo.user(username))
    assert set(log.values_list("pk", flat=True)) == set(
        AuditEntry.objects.filter(organisation=oakfield).values_list("pk", flat=True)
    )


@pytest.mark.parametrize("username", ["practitioner", "colleague"])
def test_practitioners_cannot_read_the_audit_log(demo: Demo, username: str) -> None:
    client = browser(demo, username)
    client.raise_request_exception = False
    assert client.get(url("audit_log")).status_code == 403
    assert not audit_log_for(demo.user(username)).exists()


def test_another_settings_log_holds_nothing_of_oakfield(demo: Demo) -> None:
    _some_activity(demo)
    page = browser(demo, "otherlead").get(url("audit_log"))
    assert page.status_code == 200
    text = page_text(page)
    for word in OAKFIELD_PEOPLE:
        assert word not in text, word
    assert not A_CHILDS_NAME.search(page.content.decode())
    riverside = demo.setting("Riverside")
    assert {e.organisation_id for e in page.context["entries"]} == {riverside.pk}
    assert "RIV-001" in text and "Olu Otherlead" in text


# --- The log cannot be changed --------------------------------------------------------------


def _snapshot() -> list[tuple[Any, ...]]:
    return list(AuditEntry.objects.order_by("pk").values_list())


def test_audit_entries_cannot_be_changed_or_removed(demo: Demo) -> None:
    _some_activity(demo)
    before = _snapshot()
    entry = AuditEntry.objects.filter(action=AuditAction.VIEW_CASE).first()
    attempts = {
        "save": lambda: (setattr(entry, "basis", "lead of the setting"), entry.save()),
        "delete": entry.delete,
        "queryset update": lambda: AuditEntry.objects.filter(pk=entry.pk).update(basis="x"),
        "queryset delete": lambda: AuditEntry.objects.all().delete(),
        "bulk update": lambda: AuditEntry.objects.bulk_update([entry], ["basis"]),
        "related delete": lambda: demo.user("lead").audit_entries.all().delete(),
        "related update": lambda: demo.user("lead").audit_entries.update(detail="x"),
        "re-insert a copy": lambda: AuditEntry(**_fields(entry)).save(),
        "upsert": lambda: AuditEntry.objects.bulk_create(
            [AuditEntry(**_fields(entry))],
            update_conflicts=True,
            unique_fields=["id"],
            update_fields=["basis"],
        ),
    }
    for name, attempt in attempts.items():
        # In a savepoint, as a caller's transaction: some of these fail inside Django's own
        # atomic block (bulk_update), which dooms the transaction around it.
        with pytest.raises(ImmutableRecordError), transaction.atomic():
            attempt()
        assert _snapshot() == before, name


def test_the_base_manager_cannot_change_audit_entries_either(demo: Demo) -> None:
    _some_activity(demo)
    before = _snapshot()
    entry = AuditEntry.objects.filter(action=AuditAction.VIEW_CASE).first()
    refused = []
    for attempt in (
        lambda: AuditEntry._base_manager.filter(pk=entry.pk).update(basis="rewritten"),
        lambda: AuditEntry._base_manager.filter(pk=entry.pk).delete(),
    ):
        try:
            with transaction.atomic():
                attempt()
        except ImmutableRecordError:
            refused.append(True)
        else:
            refused.append(False)
    assert refused == [True, True]
    assert _snapshot() == before


def test_the_people_and_cases_an_entry_names_cannot_be_deleted_from_under_it(
    demo: Demo,
) -> None:
    _some_activity(demo)
    before = _snapshot()
    for record in (demo.user("colleague"), demo.case("OAK-003")):
        with pytest.raises(ProtectedError):
            record.delete()
    assert _snapshot() == before


def _fields(entry: AuditEntry) -> dict[str, Any]:
    return {f.attname: getattr(entry, f.attname) for f in AuditEntry._meta.concrete_fields}
