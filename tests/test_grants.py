"""Grants follow the facts: each change of role, membership or case team is seen at once.

Each test changes one fact, then checks it twice: on the guardian rows held
(``permissions.grants.held_grants`` against ``expected_grants`` and ``drift``), and through
HTTP on the very next request of the person concerned. Every grant and revoke is in the
audit log, and ``sync_permissions`` finds and repairs rows changed behind the services' back.
"""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from guardian.models import GroupObjectPermission, UserObjectPermission
from viewflow.workflow.models import Task

from cases.choices import Role
from cases.models import Case, Membership, Organisation
from cases.services import case_team_add, membership_change_role, membership_end
from permissions.grants import ROLE_PERMISSIONS, Grant, drift, expected_grants, held_grants
from permissions.models import AuditAction, AuditEntry, CaseUserObjectPermission

from .http_helpers import url
from .seeded import Demo, seeded_once

ORG_PERMISSIONS = {"oversee_cases", "decide_shares", "view_reports", "view_audit_log"}
LEAD = frozenset(ORG_PERMISSIONS)
MANAGER = frozenset({"view_reports", "view_audit_log", "break_glass"})
NAMES = {
    "OAK-001": ("Maisie", "Thompson"),
    "OAK-002": ("Leo", "Okafor"),
    "OAK-003": ("Ava", "Patel"),
    "RIV-001": ("Noah", "Williams"),
    "RIV-002": ("Ella", "Hughes"),
}


@pytest.fixture(scope="module")
def seeded(django_db_setup: Any, django_db_blocker: Any) -> Iterator[Demo]:
    with seeded_once(django_db_blocker, Demo().seed) as demo:
        yield demo


@pytest.fixture
def demo(db: Any, seeded: Demo) -> Demo:
    return seeded


# --- Helpers ------------------------------------------------------------------------------


def org_grants(demo: Demo, username: str, setting: str, codenames: set[str]) -> set[Grant]:
    user, org = demo.user(username), demo.setting(setting)
    return {Grant(user.pk, codename, Organisation, org.pk) for codename in codenames}


def case_grants(demo: Demo, username: str, *references: str) -> set[Grant]:
    user = demo.user(username)
    return {Grant(user.pk, "view_case", Case, demo.case(ref).pk) for ref in references}


def held_by(demo: Demo, username: str) -> set[Grant]:
    return held_grants([demo.user(username).pk])


def pages_of_case(demo: Demo, reference: str) -> list[str]:
    """Every page showing this case or one of its records: the case, its shares, their
    processes and a task of each."""
    case = demo.case(reference)
    pages = [url("case_detail", case.pk), url("share_propose", case.pk)]
    for share in demo.shares_of(reference):
        process = demo.process_of(share)
        task = Task.objects.filter(process=process).order_by("pk").first()
        pages += [url("share_detail", share.pk), reverse("share:process_detail", args=[process.pk])]
        pages.append(reverse(f"share:{task.flow_task.name}:detail", args=[process.pk, task.pk]))
    return pages


def statuses(client: Any, pages: list[str]) -> dict[str, int]:
    return {page: client.get(page).status_code for page in pages}


def all_404(client: Any, pages: list[str]) -> None:
    got = statuses(client, pages)
    assert got == dict.fromkeys(pages, 404), got


def none_404(client: Any, pages: list[str]) -> None:
    got = statuses(client, pages)
    assert 404 not in got.values(), got


def signed_in(client: Any, demo: Demo, username: str) -> Any:
    client.force_login(demo.user(username))
    return client


def client_as(demo: Demo, username: str) -> Client:
    """A second browser, for the person making the change."""
    return signed_in(Client(), demo, username)


class Changes:
    """The grant rows before a change, to compare with after, and the audit entries since."""

    def __init__(self) -> None:
        self.held = held_grants()
        self.mark = AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    def added(self) -> set[Grant]:
        return held_grants() - self.held

    def removed(self) -> set[Grant]:
        return self.held - held_grants()

    def logged(self) -> list[tuple[str, int, str, str, int]]:
        return sorted(
            AuditEntry.objects.filter(
                pk__gt=self.mark, action__in=[AuditAction.GRANT, AuditAction.REVOKE]
            ).values_list("action", "subject_id", "basis", "object_type", "object_id")
        )

    def assert_logged(self, actor: Any = None) -> None:
        """One audit entry per grant added or removed, naming whose access and which permission."""
        expected = sorted(
            [("grant", *_described(g)) for g in self.added()]
            + [("revoke", *_described(g)) for g in self.removed()]
        )
        assert self.logged() == expected
        entries = AuditEntry.objects.filter(
            pk__gt=self.mark, action__in=[AuditAction.GRANT, AuditAction.REVOKE]
        )
        assert {e.actor_id for e in entries} <= {getattr(actor, "pk", None)}
        for entry in entries:
            if entry.object_type == "case":
                assert entry.case_id == entry.object_id
                assert entry.organisation_id == entry.case.organisation_id
            else:
                assert entry.case_id is None
                assert entry.organisation_id == entry.object_id


def _described(grant: Grant) -> tuple[int, str, str, int]:
    return (grant.user_id, f"cases.{grant.codename}", grant.model._meta.model_name, grant.object_id)


# --- After seeding ------------------------------------------------------------------------


def test_the_demo_holds_exactly_the_grants_its_facts_give(demo: Demo) -> None:
    assert not drift()
    assert held_grants() == expected_grants()
    oak, riv = "Oakfield", "Riverside"
    assert held_by(demo, "lead") == org_grants(demo, "lead", oak, LEAD)
    assert held_by(demo, "deputy") == org_grants(demo, "deputy", oak, LEAD)
    assert held_by(demo, "practitioner") == org_grants(
        demo, "practitioner", oak, {"break_glass"}
    ) | case_grants(demo, "practitioner", "OAK-001", "OAK-002")
    assert held_by(demo, "colleague") == org_grants(demo, "colleague", oak, {"break_glass"})
    assert held_by(demo, "manager") == org_grants(demo, "manager", oak, MANAGER)
    assert held_by(demo, "auditor") == org_grants(demo, "auditor", oak, MANAGER)
    assert held_by(demo, "otherlead") == org_grants(demo, "otherlead", riv, LEAD)
    # The table the grants come from says the same.
    assert ROLE_PERMISSIONS[Role.LEAD] == ROLE_PERMISSIONS[Role.DEPUTY] == LEAD
    assert ROLE_PERMISSIONS[Role.MANAGER] == ROLE_PERMISSIONS[Role.AUDITOR] == MANAGER
    assert ROLE_PERMISSIONS[Role.PRACTITIONER] == {"break_glass"}


def test_nobody_holds_a_model_wide_permission(demo: Demo) -> None:
    codenames = set().union(*ROLE_PERMISSIONS.values()) | {"view_case", "view_share"}
    codenames |= {"add_case", "change_case", "change_share", "view_child", "view_decision"}
    people = list(get_user_model().objects.all())
    assert len(people) == 7
    for person in people:
        assert not person.is_superuser and not person.is_staff, person
        assert not person.user_permissions.exists(), person
        assert not person.groups.exists(), person
        assert not Permission.objects.filter(user=person).exists(), person
        fresh = get_user_model().objects.get(pk=person.pk)  # no cached permissions
        assert fresh.get_all_permissions() == set(), person
        for codename in codenames:
            assert not fresh.has_perm(f"cases.{codename}"), (person, codename)
    # Guardian's generic tables are unused: every grant is a direct foreign-key row.
    assert not UserObjectPermission.objects.exists()
    assert not GroupObjectPermission.objects.exists()
    # ...and the object grants are real: guardian answers them object by object.
    lead, practitioner = demo.user("lead"), demo.user("practitioner")
    assert lead.has_perm("cases.oversee_cases", demo.setting("Oakfield"))
    assert not lead.has_perm("cases.oversee_cases", demo.setting("Riverside"))
    assert practitioner.has_perm("cases.view_case", demo.case("OAK-001"))
    assert not practitioner.has_perm("cases.view_case", demo.case("OAK-003"))


# --- Case teams ---------------------------------------------------------------------------


def test_a_practitioner_added_to_a_case_team_sees_it_on_the_next_request(
    client: Any, demo: Demo
) -> None:
    ava = demo.case("OAK-003")
    colleague = signed_in(client, demo, "colleague")
    assert colleague.get(url("case_detail", ava.pk)).status_code == 404

    changes = Changes()
    lead = client_as(demo, "lead")
    response = lead.post(
        url("case_team", ava.pk),
        {"action": "add", "user": demo.user("colleague").pk},
    )
    assert response.status_code == 302

    assert changes.added() == case_grants(demo, "colleague", "OAK-003")
    assert changes.removed() == set()
    assert not drift()
    changes.assert_logged(actor=demo.user("lead"))
    entry = AuditEntry.objects.get(pk__gt=changes.mark, action=AuditAction.GRANT)
    assert (entry.subject, entry.basis, entry.case) == (
        demo.user("colleague"),
        "cases.view_case",
        ava,
    )

    page = colleague.get(url("case_detail", ava.pk))
    assert page.status_code == 200
    assert "Ava Patel" in page.content.decode()
    assert "Ava Patel" in colleague.get(url("case_list")).content.decode()


def test_removed_from_the_case_team_the_next_request_is_404(client: Any, demo: Demo) -> None:
    practitioner = signed_in(client, demo, "practitioner")
    maisie, leo = pages_of_case(demo, "OAK-001"), pages_of_case(demo, "OAK-002")
    none_404(practitioner, maisie)

    changes = Changes()
    lead = client_as(demo, "lead")
    response = lead.post(
        url("case_team", demo.case("OAK-001").pk),
        {"action": "remove", "user": demo.user("practitioner").pk},
    )
    assert response.status_code == 302

    assert changes.removed() == case_grants(demo, "practitioner", "OAK-001")
    assert changes.added() == set()
    assert not drift()
    changes.assert_logged(actor=demo.user("lead"))

    all_404(practitioner, maisie)  # including the shares they proposed
    none_404(practitioner, leo)
    listed = practitioner.get(url("case_list")).content.decode()
    assert "Maisie" not in listed and "Leo Okafor" in listed
    # The lead's own access is untouched.
    none_404(lead, maisie)


def test_a_team_change_that_is_refused_grants_and_logs_nothing(demo: Demo) -> None:
    changes = Changes()
    for username in ("manager", "lead", "otherlead"):
        with pytest.raises(ValidationError):
            case_team_add(case=demo.case("OAK-003"), user=demo.user(username))
    assert changes.added() == changes.removed() == set()
    assert changes.logged() == []
    assert not demo.case("OAK-003").team.exists()


# --- Roles --------------------------------------------------------------------------------


def _membership(demo: Demo, username: str) -> Membership:
    return Membership.objects.get(user=demo.user(username), ended_at__isnull=True)


def test_a_practitioner_made_manager_loses_the_case_content(client: Any, demo: Demo) -> None:
    practitioner = signed_in(client, demo, "practitioner")
    pages = pages_of_case(demo, "OAK-001") + pages_of_case(demo, "OAK-002")
    none_404(practitioner, pages)
    assert practitioner.get(url("audit_log")).status_code == 403

    changes = Changes()
    membership_change_role(
        membership=_membership(demo, "practitioner"), role=Role.MANAGER, by=demo.user("lead")
    )

    assert held_by(demo, "practitioner") == org_grants(demo, "practitioner", "Oakfield", MANAGER)
    assert changes.removed() == case_grants(demo, "practitioner", "OAK-001", "OAK-002")
    assert changes.added() == org_grants(
        demo, "practitioner", "Oakfield", {"view_reports", "view_audit_log"}
    )
    assert not drift()
    changes.assert_logged(actor=demo.user("lead"))
    assert not demo.user("practitioner").case_teams.exists()

    all_404(practitioner, pages)
    assert practitioner.get(url("audit_log")).status_code == 200
    for reference in NAMES:
        for name in NAMES[reference]:
            assert name not in practitioner.get(url("case_list")).content.decode()


def test_a_colleague_made_lead_sees_every_case_of_the_setting(client: Any, demo: Demo) -> None:
    colleague = signed_in(client, demo, "colleague")
    oakfield = [p for ref in ("OAK-001", "OAK-002", "OAK-003") for p in pages_of_case(demo, ref)]
    riverside = pages_of_case(demo, "RIV-001") + pages_of_case(demo, "RIV-002")
    all_404(colleague, oakfield)

    changes = Changes()
    membership_change_role(membership=_membership(demo, "colleague"), role=Role.LEAD)

    assert held_by(demo, "colleague") == org_grants(demo, "colleague", "Oakfield", LEAD)
    assert changes.added() == org_grants(demo, "colleague", "Oakfield", LEAD)
    assert changes.removed() == org_grants(demo, "colleague", "Oakfield", {"break_glass"})
    assert not drift()
    changes.assert_logged(actor=None)

    none_404(colleague, oakfield)
    all_404(colleague, riverside)
    listed = colleague.get(url("case_list")).content.decode()
    for ref in ("OAK-001", "OAK-002", "OAK-003"):
        assert " ".join(NAMES[ref]) in listed
    assert colleague.get(url("review_queue")).status_code == 200
    assert colleague.get(url("break_glass")).status_code == 403


# --- Memberships --------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["practitioner", "lead"])
def test_an_ended_membership_closes_every_door(client: Any, demo: Demo, username: str) -> None:
    person = signed_in(client, demo, username)
    visible = ["OAK-001", "OAK-002"] + (["OAK-003"] if username == "lead" else [])
    pages = [p for ref in visible for p in pages_of_case(demo, ref)]
    none_404(person, pages)

    # The setting keeps a lead: before its only lead leaves, the deputy becomes one too.
    membership_change_role(membership=_membership(demo, "deputy"), role=Role.LEAD)
    ending = demo.user("deputy" if username == "lead" else "lead")
    before = held_by(demo, username)
    assert before
    changes = Changes()
    membership_end(membership=_membership(demo, username), by=ending)

    assert held_by(demo, username) == set()
    assert changes.added() == set()
    assert changes.removed() == before
    assert not drift()
    changes.assert_logged(actor=ending)

    all_404(person, pages)
    first_process = reverse("share:process_detail", args=[1])
    for list_page in (url("case_list"), url("my_shares"), url("review_queue")):
        body = person.get(list_page).content.decode()
        assert not any(name in body for pair in NAMES.values() for name in pair), list_page
        assert url("share_detail", 1) not in body and f'href="{first_process}' not in body
    assert person.get(url("audit_log")).status_code == 403
    assert person.get(url("break_glass")).status_code == 403


# --- Closing a case -----------------------------------------------------------------------


def test_closing_a_case_ends_the_teams_access_but_not_the_leads(client: Any, demo: Demo):
    """The team loses the case and every share of it, those its practitioner proposed too:
    proposing gives no access of its own (a share names the child), so the proposer sees
    their shares only while they may see the case."""
    maisie = demo.case("OAK-001")
    practitioner = signed_in(client, demo, "practitioner")
    pages = pages_of_case(demo, "OAK-001")
    proposed = [s for s in demo.shares_of("OAK-001") if s.proposed_by == demo.user("practitioner")]
    assert len(proposed) == 5
    none_404(practitioner, pages)

    changes = Changes()
    lead = client_as(demo, "lead")
    response = lead.post(url("case_team", maisie.pk), {"action": "close"})
    assert response.status_code == 302
    assert Case.objects.get(pk=maisie.pk).closed_at is not None

    assert changes.removed() == case_grants(demo, "practitioner", "OAK-001")
    assert changes.added() == set()
    assert not drift()
    changes.assert_logged(actor=demo.user("lead"))

    all_404(practitioner, pages)
    for share in proposed:
        assert practitioner.get(url("share_detail", share.pk)).status_code == 404
    mine = practitioner.get(url("my_shares")).content.decode()
    assert not any(f'href="{url("share_detail", s.pk)}"' in mine for s in proposed)
    none_404(practitioner, pages_of_case(demo, "OAK-002"))
    # The lead keeps the case and its shares; the deputy too.
    none_404(lead, pages_of_case(demo, "OAK-001"))
    none_404(client_as(demo, "deputy"), pages_of_case(demo, "OAK-001"))
    # A closed case takes nobody new onto its team.
    with pytest.raises(ValidationError):
        case_team_add(case=Case.objects.get(pk=maisie.pk), user=demo.user("colleague"))


# --- sync_permissions ---------------------------------------------------------------------


def _sync(*args: str) -> str:
    out = StringIO()
    call_command("sync_permissions", *args, stdout=out)
    return out.getvalue()


def _tamper(demo: Demo) -> tuple[str, str]:
    """Delete the practitioner's grant on OAK-001 and give the colleague one on OAK-003,
    by hand; return the two lines the command should print."""
    practitioner, colleague = demo.user("practitioner"), demo.user("colleague")
    maisie, ava = demo.case("OAK-001"), demo.case("OAK-003")
    deleted, _ = CaseUserObjectPermission.objects.filter(
        user=practitioner, content_object=maisie
    ).delete()
    assert deleted == 1
    CaseUserObjectPermission.objects.create(
        user=colleague,
        content_object=ava,
        permission=Permission.objects.get(codename="view_case", content_type__app_label="cases"),
    )
    return (
        f"missing: user #{practitioner.pk} cases.view_case on Case #{maisie.pk}",
        f"extra:   user #{colleague.pk} cases.view_case on Case #{ava.pk}",
    )


def test_sync_permissions_finds_no_drift_in_the_demo(demo: Demo) -> None:
    out = _sync()
    assert "No drift" in out
    assert "missing" not in out and "extra" not in out


def test_sync_permissions_names_a_missing_and_a_stray_grant_and_fails(
    client: Any, demo: Demo
) -> None:
    missing, extra = _tamper(demo)
    # The rows are what access reads: the tampering took effect.
    ava, maisie = demo.case("OAK-003"), demo.case("OAK-001")
    assert client_as(demo, "colleague").get(url("case_detail", ava.pk)).status_code == 200
    assert client_as(demo, "practitioner").get(url("case_detail", maisie.pk)).status_code == 404

    held = held_grants()
    out = StringIO()
    with pytest.raises(CommandError, match="1 missing and 1 extra"):
        call_command("sync_permissions", stdout=out)
    lines = out.getvalue().splitlines()
    assert missing in lines
    assert extra in lines
    assert held_grants() == held, "without --fix nothing is changed"


def test_sync_permissions_fix_repairs_both_and_logs_it(client: Any, demo: Demo) -> None:
    _tamper(demo)
    changes = Changes()
    out = _sync("--fix")
    assert "Fixed 1 missing and 1 extra grants." in out
    assert changes.added() == case_grants(demo, "practitioner", "OAK-001")
    assert changes.removed() == case_grants(demo, "colleague", "OAK-003")
    changes.assert_logged(actor=None)
    assert not drift()
    assert "No drift" in _sync()

    ava, maisie = demo.case("OAK-003"), demo.case("OAK-001")
    assert client_as(demo, "colleague").get(url("case_detail", ava.pk)).status_code == 404
    assert client_as(demo, "practitioner").get(url("case_detail", maisie.pk)).status_code == 200
