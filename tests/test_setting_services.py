"""A setting run by its own people: created by one command, then its staff, children, cases
and address book kept through the services, each rule enforced there and each change in the
audit chain."""

from __future__ import annotations

from datetime import date, time
from io import StringIO
from typing import Any
from urllib.parse import urlsplit

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from cases import choices
from cases.errors import RuleViolation
from cases.identifiers import nhs_number_problem, upn_check_letter, upn_problem
from cases.models import Case, Child, Membership, Organisation
from cases.services import (
    case_open,
    child_add,
    child_update,
    membership_change_role,
    membership_end,
    recipient_add,
    recipient_retire,
    recipient_update,
    setting_update,
    share_propose,
    share_submit,
    staff_invite,
)
from permissions.models import AuditAction, AuditEntry
from permissions.selectors import case_list_for, recipient_choices_for

from .factories import ChildFactory, complete_fields, item

VALID_UPN = upn_check_letter("801200001001") + "801200001001"  # H801200001001, DfE's example


def entries(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("sequence"))


def messages_of(refused: pytest.ExceptionInfo[RuleViolation]) -> dict[str, list[str]]:
    return refused.value.message_dict


# --- Identifiers ---------------------------------------------------------------------------


def test_a_upn_is_checked_by_its_check_letter() -> None:
    assert upn_problem(VALID_UPN) == ""
    assert "check letter" in upn_problem("A" + VALID_UPN[1:])
    assert "13 characters" in upn_problem(VALID_UPN[:-1])
    assert "13 characters" in upn_problem(VALID_UPN[0] + "80120000100I")
    # Digits of other scripts are not a UPN's, though Python counts them as digits.
    assert "13 characters" in upn_problem(VALID_UPN[:5] + "²" + VALID_UPN[6:])
    assert "13 characters" in upn_problem(VALID_UPN[0] + "٨٠١٢٠٠٠٠١٠٠١")


def test_a_temporary_upn_ends_with_a_letter() -> None:
    temporary = upn_check_letter("80120000100A") + "80120000100A"
    assert upn_problem(temporary) == ""


def test_an_nhs_number_is_checked_by_its_check_digit() -> None:
    assert nhs_number_problem("9434765919") == ""
    assert "check digit" in nhs_number_problem("9434765918")
    assert "10 digits" in nhs_number_problem("943476591")
    assert "10 digits" in nhs_number_problem("943476591²")


# --- create_setting ------------------------------------------------------------------------


def create_setting(*args: str) -> str:
    out = StringIO()
    call_command("create_setting", *args, stdout=out)
    return out.getvalue()


def test_create_setting_makes_the_setting_and_its_lead_with_a_one_time_link(db: Any) -> None:
    printed = create_setting(
        "Hillside Primary",
        "--kind",
        "school",
        "--region",
        "england-and-wales",
        "--public-authority",
        "--lead-email",
        "DSL@Hillside.example",
        "--lead-name",
        "Hana Hill",
    )
    setting = Organisation.objects.get(name="Hillside Primary")
    assert setting.kind == choices.OrganisationKind.SCHOOL
    assert setting.calendar_region == choices.CalendarRegion.ENGLAND_WALES
    assert setting.is_public_authority
    lead = get_user_model().objects.get(username="dsl@hillside.example")
    assert (lead.first_name, lead.last_name) == ("Hana", "Hill")
    assert not lead.has_usable_password()
    assert Membership.objects.get(user=lead, organisation=setting).role == choices.Role.LEAD
    [created] = entries(AuditAction.SETTING_CREATED)
    assert created.organisation == setting and created.subject == lead

    link = urlsplit(printed.strip().splitlines()[-1]).path
    assert link.startswith("/accounts/reset/")
    client = Client()
    form_page = client.get(link, follow=True)
    assert b"new_password1" in form_page.content
    chosen = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "a long new password 1", "new_password2": "a long new password 1"},
    )
    assert chosen.status_code == 302
    lead.refresh_from_db()
    assert lead.check_password("a long new password 1")
    # The link works once.
    assert b"new_password1" not in Client().get(link, follow=True).content


def test_create_setting_refuses_a_duplicate_name_clearly(oakfield: Organisation) -> None:
    with pytest.raises(CommandError, match="already exists"):
        create_setting(
            "oakfield",
            "--kind",
            "nursery",
            "--lead-email",
            "a@b.example",
            "--lead-name",
            "A B",
        )
    assert Organisation.objects.count() == 1
    assert not get_user_model().objects.filter(username="a@b.example").exists()


@pytest.mark.parametrize(
    ("given", "wanted"),
    [
        ("scotland", "scotland"),
        ("Northern-Ireland", "northern_ireland"),
        ("england_wales", "england_wales"),
    ],
)
def test_create_setting_reads_a_region_as_people_type_it(db: Any, given: str, wanted: str) -> None:
    create_setting(
        "Glen", "--kind", "nursery", "--region", given,
        "--lead-email", "g@glen.example", "--lead-name", "G Glen",
    )  # fmt: skip
    assert Organisation.objects.get(name="Glen").calendar_region == wanted


def test_create_setting_names_the_choices_when_a_kind_is_unknown(db: Any) -> None:
    with pytest.raises(CommandError, match="nursery, school"):
        create_setting("X", "--kind", "college", "--lead-email", "x@x.example", "--lead-name", "X")
    assert not Organisation.objects.exists()


def test_a_lead_of_another_setting_keeps_their_account_and_no_link_is_printed(
    lead: Any,
) -> None:
    lead.username = lead.email = "grace@oakfield.example"
    lead.save()
    printed = create_setting(
        "Second Site", "--kind", "nursery",
        "--lead-email", "grace@oakfield.example", "--lead-name", "Grace Lead",
    )  # fmt: skip
    assert "/accounts/reset/" not in printed
    assert lead.check_password("pw")
    assert Membership.objects.filter(user=lead, ended_at__isnull=True).count() == 2


# --- The setting's details -----------------------------------------------------------------


def test_the_lead_changes_the_settings_details_and_the_change_is_audited(
    oakfield: Organisation, lead: Any
) -> None:
    setting_update(
        organisation=oakfield,
        by=lead,
        calendar_region=choices.CalendarRegion.SCOTLAND,
        working_day_starts=time(7, 30),
    )
    oakfield.refresh_from_db()
    assert oakfield.calendar_region == choices.CalendarRegion.SCOTLAND
    [changed] = entries(AuditAction.SETTING_CHANGED)
    assert "calendar region: england_wales → scotland" in changed.detail
    assert "working day starts: 08:00 → 07:30" in changed.detail
    assert changed.actor == lead and changed.basis == choices.Role.LEAD


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"working_day_starts": time(18), "working_day_ends": time(8)}, "working_day_ends"),
        ({"name": "Riverside"}, "name"),
        ({"name": "  "}, "name"),
        ({"kind": "castle"}, "kind"),
    ],
)
def test_a_setting_detail_that_cannot_be_right_is_refused_beside_its_field(
    oakfield: Organisation, riverside: Organisation, lead: Any, fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(RuleViolation) as refused:
        setting_update(organisation=oakfield, by=lead, **fields)
    assert field in messages_of(refused)
    assert not entries(AuditAction.SETTING_CHANGED)


def test_only_the_lead_changes_the_settings_details(
    oakfield: Organisation, deputy: Any, other_lead: Any
) -> None:
    for person in (deputy, other_lead):
        with pytest.raises(RuleViolation):
            setting_update(organisation=oakfield, by=person, name="Taken over")
    oakfield.refresh_from_db()
    assert oakfield.name == "Oakfield"


# --- Staff ---------------------------------------------------------------------------------


def test_the_lead_invites_a_practitioner_who_has_no_password_yet(
    oakfield: Organisation, lead: Any
) -> None:
    membership = staff_invite(
        organisation=oakfield,
        email=" Pat@Oakfield.example ",
        first_name="Pat",
        last_name="Nguyen",
        role=choices.Role.PRACTITIONER,
        by=lead,
    )
    assert membership.user.username == "pat@oakfield.example"
    assert not membership.user.has_usable_password()
    [invited] = entries(AuditAction.STAFF_INVITED)
    assert invited.subject == membership.user and invited.actor == lead


def test_an_invitation_to_someone_already_working_there_is_refused_beside_the_email(
    oakfield: Organisation, lead: Any
) -> None:
    kwargs = {
        "organisation": oakfield,
        "email": "pat@oakfield.example",
        "first_name": "Pat",
        "last_name": "Nguyen",
        "role": choices.Role.PRACTITIONER,
        "by": lead,
    }
    membership = staff_invite(**kwargs)
    with pytest.raises(RuleViolation) as refused:
        staff_invite(**kwargs)
    assert "Send the invitation again" in messages_of(refused)["email"][0]
    membership.user.set_password("a long new password 1")
    membership.user.save()
    with pytest.raises(RuleViolation) as refused:
        staff_invite(**kwargs)
    assert "already works here" in messages_of(refused)["email"][0]


def test_only_the_lead_invites_staff(oakfield: Organisation, deputy: Any) -> None:
    with pytest.raises(RuleViolation):
        staff_invite(
            organisation=oakfield,
            email="x@oakfield.example",
            first_name="X",
            last_name="Y",
            role=choices.Role.LEAD,
            by=deputy,
        )
    assert not get_user_model().objects.filter(username="x@oakfield.example").exists()


def test_the_setting_always_keeps_a_lead(oakfield: Organisation, lead: Any, deputy: Any) -> None:
    own = Membership.objects.get(user=lead, organisation=oakfield)
    with pytest.raises(RuleViolation) as refused:
        membership_change_role(membership=own, role=choices.Role.PRACTITIONER, by=lead)
    assert "only lead" in messages_of(refused)["role"][0]
    with pytest.raises(RuleViolation):
        membership_end(membership=own, by=lead)
    membership_change_role(
        membership=Membership.objects.get(user=deputy, organisation=oakfield),
        role=choices.Role.LEAD,
        by=lead,
    )
    membership_end(membership=own, by=lead)
    assert [e.subject for e in entries(AuditAction.MEMBERSHIP_ENDED)] == [lead]
    [changed] = entries(AuditAction.ROLE_CHANGED)
    assert "Deputy Safeguarding Lead → Designated Safeguarding Lead" in changed.detail


def test_a_lead_invited_who_has_no_password_yet_does_not_count_as_the_lead(
    oakfield: Organisation, lead: Any
) -> None:
    """Until they choose a password nobody can sign in as them: the setting would be left
    with no one to decide its shares or run it."""
    staff_invite(
        organisation=oakfield,
        email="new.lead@oakfield.example",
        first_name="Dee",
        last_name="New",
        role=choices.Role.LEAD,
        by=lead,
    )
    own = Membership.objects.get(user=lead, organisation=oakfield)
    with pytest.raises(RuleViolation) as refused:
        membership_change_role(membership=own, role=choices.Role.DEPUTY, by=lead)
    assert "only lead who can sign in" in messages_of(refused)["role"][0]
    with pytest.raises(RuleViolation):
        membership_end(membership=own, by=lead)

    newcomer = get_user_model().objects.get(username="new.lead@oakfield.example")
    newcomer.set_password("a long new password 1")
    newcomer.save()
    membership_change_role(membership=own, role=choices.Role.DEPUTY, by=lead)


def test_only_the_lead_changes_roles_or_ends_memberships(
    oakfield: Organisation, practitioner: Any, deputy: Any
) -> None:
    membership = Membership.objects.get(user=practitioner, organisation=oakfield)
    with pytest.raises(RuleViolation):
        membership_change_role(membership=membership, role=choices.Role.LEAD, by=deputy)
    with pytest.raises(RuleViolation):
        membership_end(membership=membership, by=deputy)
    membership.refresh_from_db()
    assert membership.role == choices.Role.PRACTITIONER and membership.ended_at is None


# --- Children ------------------------------------------------------------------------------


def child_fields(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "first_name": "Amara",
        "last_name": "Okoye",
        "known_as": "Amy",
        "date_of_birth": date(2018, 4, 5),
        "year_group": "Year 3",
        "unique_pupil_number": " h 801 2000 01001 ",
        "nhs_number": "943 476 5919",
        "privacy_notice_given_on": date(2024, 9, 2),
        "privacy_notice_version": "2024-09",
    }
    fields.update(overrides)
    return fields


CARER = {"name": "Ngozi Okoye", "relationship": "Mother", "phone": "07700 900123"}


def test_a_child_is_added_to_the_roll_with_identifiers_written_as_issued(
    oakfield: Organisation, deputy: Any
) -> None:
    child = child_add(organisation=oakfield, by=deputy, fields=child_fields(), carers=[CARER])
    assert child.unique_pupil_number == VALID_UPN
    assert child.nhs_number == "9434765919"
    assert [c.name for c in child.carers.all()] == ["Ngozi Okoye"]
    [added] = entries(AuditAction.CHILD_ADDED)
    assert added.object_type == "child" and added.object_id == child.pk


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"date_of_birth": date(2031, 1, 1)}, "date_of_birth"),
        ({"date_of_birth": date(1960, 1, 1)}, "date_of_birth"),
        ({"unique_pupil_number": "A801200001001"}, "unique_pupil_number"),
        ({"nhs_number": "9434765918"}, "nhs_number"),
        ({"first_name": " "}, "first_name"),
        ({"privacy_notice_version": ""}, "privacy_notice_version"),
        ({"privacy_notice_given_on": date(2031, 1, 1)}, "privacy_notice_given_on"),
    ],
)
@time_machine.travel(date(2026, 12, 2), tick=False)
def test_a_childs_details_that_cannot_be_right_are_refused_beside_their_field(
    oakfield: Organisation, lead: Any, overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(RuleViolation) as refused:
        child_add(organisation=oakfield, by=lead, fields=child_fields(**overrides))
    assert field in messages_of(refused)
    assert not Child.objects.exists()


def test_a_carer_without_a_relationship_is_refused_beside_it(
    oakfield: Organisation, lead: Any
) -> None:
    with pytest.raises(RuleViolation) as refused:
        child_add(
            organisation=oakfield,
            by=lead,
            fields=child_fields(),
            carers=[CARER, {"name": "Second Carer", "email": "not-an-address"}],
        )
    assert set(messages_of(refused)) == {"carer_1_relationship", "carer_1_email"}


def test_a_upn_names_one_child_of_a_setting_but_another_setting_may_hold_it(
    oakfield: Organisation, riverside: Organisation, lead: Any, other_lead: Any
) -> None:
    first = child_add(organisation=oakfield, by=lead, fields=child_fields())
    with pytest.raises(RuleViolation) as refused:
        child_add(organisation=oakfield, by=lead, fields=child_fields(first_name="Other"))
    assert str(first) in messages_of(refused)["unique_pupil_number"][0]
    # Each setting keeps its own record of a child who moved between them.
    child_add(organisation=riverside, by=other_lead, fields=child_fields())


def test_a_child_already_on_the_roll_is_not_added_twice(
    oakfield: Organisation, riverside: Organisation, lead: Any, other_lead: Any
) -> None:
    first = child_add(organisation=oakfield, by=lead, fields=child_fields(unique_pupil_number=""))
    with pytest.raises(RuleViolation) as refused:
        child_add(
            organisation=oakfield,
            by=lead,
            fields=child_fields(first_name="AMARA", unique_pupil_number=""),
        )
    assert "already on the roll" in messages_of(refused)["last_name"][0]
    # The child's own record is not a duplicate of itself; another setting keeps its own.
    child_update(child=first, by=lead, fields=child_fields(unique_pupil_number=""))
    child_add(organisation=riverside, by=other_lead, fields=child_fields(unique_pupil_number=""))


def test_an_edit_names_the_fields_changed_and_an_unchanged_one_writes_nothing(
    oakfield: Organisation, lead: Any
) -> None:
    child = child_add(organisation=oakfield, by=lead, fields=child_fields(), carers=[CARER])
    _, changed = child_update(child=child, by=lead, fields=child_fields(), carers=[CARER])
    assert not changed and not entries(AuditAction.CHILD_CHANGED)
    _, changed = child_update(
        child=child,
        by=lead,
        fields=child_fields(year_group="Year 4"),
        carers=[CARER, {"name": "Obi Okoye", "relationship": "Father"}],
    )
    assert changed
    [entry] = entries(AuditAction.CHILD_CHANGED)
    assert entry.detail == "Amara Okoye: year or room, carers"
    assert child.carers.count() == 2


def test_practitioners_and_other_settings_cannot_keep_the_register(
    oakfield: Organisation, practitioner: Any, other_lead: Any, manager: Any
) -> None:
    for person in (practitioner, other_lead, manager):
        with pytest.raises(RuleViolation):
            child_add(organisation=oakfield, by=person, fields=child_fields())
    child = ChildFactory(organisation=oakfield)
    with pytest.raises(RuleViolation):
        child_update(child=child, by=practitioner, fields={"year_group": "Year 9"})


# --- Cases ---------------------------------------------------------------------------------


def test_a_case_opens_with_its_team_who_see_it_at_once(
    oakfield: Organisation, lead: Any, practitioner: Any, colleague: Any
) -> None:
    child = ChildFactory(organisation=oakfield)
    case = case_open(child=child, by=lead, team=[practitioner])
    assert case.reference == "C-0001"
    assert list(case_list_for(practitioner)) == [case]
    assert not case_list_for(colleague).exists()
    [opened] = entries(AuditAction.CASE_OPENED)
    assert opened.case == case and opened.actor == lead
    second = case_open(child=ChildFactory(organisation=oakfield), by=lead)
    assert second.reference == "C-0002"


def test_a_child_has_one_open_case_and_a_reference_is_used_once(
    oakfield: Organisation, lead: Any
) -> None:
    child = ChildFactory(organisation=oakfield)
    case_open(child=child, by=lead, reference="OAK-9")
    with pytest.raises(RuleViolation) as refused:
        case_open(child=child, by=lead)
    assert "already has an open case" in messages_of(refused)["child"][0]
    with pytest.raises(RuleViolation) as refused:
        case_open(child=ChildFactory(organisation=oakfield), by=lead, reference="oak-9")
    assert "reference" in messages_of(refused)
    assert Case.objects.count() == 1


def test_a_case_team_is_the_settings_practitioners(
    oakfield: Organisation, lead: Any, manager: Any
) -> None:
    with pytest.raises(RuleViolation):
        case_open(child=ChildFactory(organisation=oakfield), by=lead, team=[manager])
    assert not Case.objects.exists()


# --- The address book ----------------------------------------------------------------------


def test_a_recipient_is_added_checked_and_retired(
    oakfield: Organisation, deputy: Any, case: Case
) -> None:
    recipient = recipient_add(
        organisation=oakfield,
        by=deputy,
        fields={
            "person_name": "Sam Carter",
            "agency_name": "Northshire Children's Social Care",
            "secure_email": "sam.carter@northshire.gov.uk",
        },
        verified=True,
    )
    assert recipient.secure_email_verified_at is not None
    assert recipient in recipient_choices_for(deputy, case)
    recipient_update(
        recipient=recipient, by=deputy, fields={"secure_email": "duty@northshire.gov.uk"}
    )
    recipient.refresh_from_db()
    # A new address is not the one that was checked.
    assert recipient.secure_email_verified_at is None
    recipient_retire(recipient=recipient, by=deputy)
    assert recipient not in recipient_choices_for(deputy, case)
    assert [e.action for e in AuditEntry.objects.filter(object_type="recipient")] == [
        AuditAction.RECIPIENT_ADDED,
        AuditAction.RECIPIENT_CHANGED,
        AuditAction.RECIPIENT_RETIRED,
    ]


def test_a_recipient_named_on_a_share_keeps_their_name_and_a_retired_one_is_refused(
    oakfield: Organisation, lead: Any, practitioner: Any, case: Case, recipient: Any
) -> None:
    share = share_propose(
        case=case, proposed_by=practitioner, fields=complete_fields(recipient), items=[item()]
    )
    share_submit(share=share, user=practitioner)
    with pytest.raises(RuleViolation) as refused:
        recipient_update(recipient=recipient, by=lead, fields={"person_name": "Someone Else"})
    assert "retire this entry" in messages_of(refused)["person_name"][0]
    recipient_update(recipient=recipient, by=lead, fields={"phone": "01234 567890"})

    draft = share_propose(
        case=case, proposed_by=practitioner, fields=complete_fields(recipient), items=[item()]
    )
    recipient_retire(recipient=recipient, by=lead)
    with pytest.raises(RuleViolation) as refused:
        share_submit(share=draft, user=practitioner)
    assert "retired" in messages_of(refused)["recipient"][0]
    share.refresh_from_db()
    assert share.recipient == recipient


def test_a_recipient_needs_a_name_an_organisation_and_a_real_address(
    oakfield: Organisation, lead: Any, practitioner: Any
) -> None:
    with pytest.raises(RuleViolation) as refused:
        recipient_add(
            organisation=oakfield,
            by=lead,
            fields={"person_name": "", "agency_name": "", "secure_email": "nope"},
        )
    assert set(messages_of(refused)) == {"person_name", "agency_name", "secure_email"}
    with pytest.raises(RuleViolation):
        recipient_add(
            organisation=oakfield, by=practitioner, fields={"person_name": "A", "agency_name": "B"}
        )


# --- What the review of these services found -------------------------------------------------


def test_a_setting_with_staff_cannot_become_a_one_person_setting(
    oakfield: Organisation, lead: Any, deputy: Any
) -> None:
    """In a childminder's setting the lead decides their own shares: a lead must not reach
    that by changing the kind of a setting where others could decide them."""
    with pytest.raises(RuleViolation) as refused:
        setting_update(organisation=oakfield, by=lead, kind=choices.OrganisationKind.CHILDMINDER)
    assert "kind" in messages_of(refused)
    oakfield.refresh_from_db()
    assert not oakfield.is_one_person_setting


def test_nobody_joins_a_one_person_setting(db: Any) -> None:
    create_setting(
        "Little Acorns", "--kind", "childminder",
        "--lead-email", "jo@acorns.example", "--lead-name", "Jo Acorn",
    )  # fmt: skip
    setting = Organisation.objects.get(name="Little Acorns")
    jo = get_user_model().objects.get(username="jo@acorns.example")
    with pytest.raises(RuleViolation) as refused:
        staff_invite(
            organisation=setting,
            email="helper@acorns.example",
            first_name="Help",
            last_name="Er",
            role=choices.Role.PRACTITIONER,
            by=jo,
        )
    assert "one-person setting" in messages_of(refused)["email"][0]


def test_text_longer_than_its_column_is_refused_by_the_service(
    oakfield: Organisation, lead: Any
) -> None:
    with pytest.raises(RuleViolation) as refused:
        child_add(
            organisation=oakfield,
            by=lead,
            fields=child_fields(first_name="A" * 300),
            carers=[{**CARER, "relationship": "R" * 150}],
        )
    assert set(messages_of(refused)) == {"first_name", "carer_0_relationship"}
    with pytest.raises(RuleViolation) as refused:
        staff_invite(
            organisation=oakfield,
            email="a" * 150 + "@oakfield.example",
            first_name="B" * 200,
            last_name="C",
            role=choices.Role.PRACTITIONER,
            by=lead,
        )
    assert {"email", "first_name"} <= set(messages_of(refused))


def test_an_invitation_finds_an_account_by_its_email_too(
    oakfield: Organisation, riverside: Organisation, lead: Any, other_lead: Any
) -> None:
    other_lead.email = "olu@riverside.example"
    other_lead.save()
    membership = staff_invite(
        organisation=oakfield,
        email="OLU@riverside.example",
        first_name="Olu",
        last_name="Otherlead",
        role=choices.Role.DEPUTY,
        by=lead,
    )
    assert membership.user == other_lead
    assert get_user_model().objects.filter(email__iexact="olu@riverside.example").count() == 1


def test_an_address_and_the_number_of_carers_are_bounded_by_the_service(
    oakfield: Organisation, lead: Any
) -> None:
    """Addresses are free text in the database: an import or another caller is held to the
    same bound as the page."""
    with pytest.raises(RuleViolation) as refused:
        child_add(
            organisation=oakfield,
            by=lead,
            fields=child_fields(address="x" * 1001),
            carers=[{**CARER, "name": f"Carer {n}", "address": "y" * 1001} for n in range(11)],
        )
    problems = messages_of(refused)
    assert {"address", "carers", "carer_0_address"} <= set(problems)
