"""The register pages a lead or deputy keeps: children and their carers, opening a case with
its team, and the address book. The rules are the services' (tests/test_setting_services.py);
these check that the pages reach them, show each refusal beside its field and lose nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases.choices import Role
from cases.errors import RuleViolation
from cases.identifiers import upn_check_letter
from cases.models import Carer, Case, Child, Organisation, Recipient, Share
from cases.services import recipient_add, share_propose, share_submit
from permissions.models import AuditAction, AuditEntry
from permissions.selectors import recipient_choices_for

from .factories import CaseFactory, ChildFactory, MembershipFactory, complete_fields, item
from .http_helpers import error_text, form_data, page_text, url

UPN = upn_check_letter("201200012345") + "201200012345"
WRONG_UPN = ("B" if UPN[0] != "B" else "C") + UPN[1:]


def _child_post(page: Any, **changes: Any) -> dict[str, Any]:
    """What a browser sends for a new child, with ``changes`` typed over it."""
    typed = {
        "first_name": "Ellie",
        "last_name": "Brook",
        "known_as": "Ells",
        "date_of_birth": "2021-05-04",
        "year_group": "Rainbow room",
        "unique_pupil_number": UPN,
        "privacy_notice_given_on": "2024-09-02",
        "privacy_notice_version": "2024-09",
    }
    return form_data(page, **{**typed, **changes})


def _carer(n: int, **fields: Any) -> dict[str, Any]:
    return {f"carers__{n}__{key}": value for key, value in fields.items()}


# --- Children ------------------------------------------------------------------------------


def test_a_lead_adds_a_child_with_two_carers(client: Any, oakfield: Organisation, lead: Any):
    client.force_login(lead)
    page = client.get(url("child_add"))
    assert page.status_code == 200
    data = _child_post(
        page,
        **_carer(0, name="Jo Brook", relationship="Mother", has_parental_responsibility="on"),
        **_carer(1, name="Alex Brook", relationship="Stepfather", email="alex@example.com"),
    )
    response = client.post(url("child_add"), data)

    child = Child.objects.get(organisation=oakfield, last_name="Brook")
    assert response.status_code == 302
    assert response["Location"] == url("child_detail", child.pk)
    assert (child.known_as, child.unique_pupil_number, str(child.date_of_birth)) == (
        "Ells",
        UPN,
        "2021-05-04",
    )
    carers = {c.name: c for c in child.carers.all()}
    assert set(carers) == {"Jo Brook", "Alex Brook"}
    assert carers["Jo Brook"].has_parental_responsibility
    assert not carers["Alex Brook"].has_parental_responsibility
    assert AuditEntry.objects.filter(action=AuditAction.CHILD_ADDED, object_id=child.pk).exists()


def test_each_problem_is_shown_beside_its_field_and_nothing_typed_is_lost(
    client: Any, oakfield: Organisation, lead: Any
):
    client.force_login(lead)
    page = client.get(url("child_add"))
    data = _child_post(
        page,
        date_of_birth="2099-01-01",
        unique_pupil_number=WRONG_UPN,
        # The first row left empty: the second is the first carer given, and its form shows
        # the service's message about "carer 0".
        **_carer(1, name="Jo Brook", phone="01632 960123"),
    )
    refused = client.post(url("child_add"), data)

    assert refused.status_code == 400
    assert "in the future" in error_text(refused, "id_date_of_birth")
    assert "check letter" in error_text(refused, "id_unique_pupil_number")
    assert "Say who they are" in error_text(refused, "id_carers-1-relationship")
    assert error_text(refused, "id_carers-0-relationship") == ""
    kept = form_data(refused)
    assert (kept["first_name"], kept["date_of_birth"], kept["unique_pupil_number"]) == (
        "Ellie",
        "2099-01-01",
        WRONG_UPN,
    )
    assert (kept["carers-1-name"], kept["carers-1-phone"]) == ("Jo Brook", "01632 960123")
    assert not Child.objects.filter(last_name="Brook").exists()


def test_a_upn_already_on_the_roll_is_refused_beside_the_upn(
    client: Any, oakfield: Organisation, lead: Any
):
    ChildFactory(organisation=oakfield, first_name="Noah", unique_pupil_number=UPN)
    client.force_login(lead)
    page = client.get(url("child_add"))
    refused = client.post(url("child_add"), _child_post(page))
    assert refused.status_code == 400
    assert "already Noah Example's" in error_text(refused, "id_unique_pupil_number")
    assert form_data(refused)["first_name"] == "Ellie"
    assert Child.objects.filter(organisation=oakfield).count() == 1


def test_a_lead_corrects_a_child_and_removes_a_carer(
    client: Any, oakfield: Organisation, lead: Any
):
    child = ChildFactory(organisation=oakfield, first_name="Maisie")
    Carer.objects.create(child=child, name="Jo Example", relationship="Mother")
    Carer.objects.create(child=child, name="Old Contact", relationship="Aunt")
    client.force_login(lead)
    page = client.get(url("child_detail", child.pk))
    assert page.status_code == 200
    assert "cannot be deleted here" in page_text(page)
    data = form_data(page, known_as="Maisy", year_group="Year 1", carers__1__DELETE="on")
    response = client.post(url("child_detail", child.pk), data)

    assert response.status_code == 302
    child.refresh_from_db()
    assert (child.known_as, child.year_group) == ("Maisy", "Year 1")
    assert [c.name for c in child.carers.all()] == ["Jo Example"]
    entry = AuditEntry.objects.get(action=AuditAction.CHILD_CHANGED, object_id=child.pk)
    assert "preferred name" in entry.detail and "year or room" in entry.detail
    assert "carers" in entry.detail
    assert "Maisy" not in entry.detail  # field names only: the log is read more widely


def test_opening_a_childs_page_is_in_the_access_log_case_or_no_case(
    client: Any, case: Case, oakfield: Organisation, deputy: Any
):
    on_the_roll_only = ChildFactory(organisation=oakfield)
    client.force_login(deputy)
    for child_pk in (case.child_id, on_the_roll_only.pk):
        assert client.get(url("child_detail", child_pk)).status_code == 200
    viewed = AuditEntry.objects.filter(action=AuditAction.VIEW_CHILD, actor=deputy)
    assert sorted(viewed.values_list("object_id", flat=True)) == sorted(
        [case.child_id, on_the_roll_only.pk]
    )
    assert {(e.organisation_id, e.basis) for e in viewed} == {(oakfield.pk, "deputy")}


def test_a_lead_opens_a_case_with_a_practitioner_who_then_sees_it(
    client: Any, oakfield: Organisation, lead: Any, practitioner: Any, colleague: Any
):
    child = ChildFactory(organisation=oakfield, first_name="Ellie")
    client.force_login(lead)
    page = client.get(url("case_open", child.pk))
    assert "Leave empty for the next number, C-0001." in page_text(page)
    response = client.post(url("case_open", child.pk), {"reference": "", "team": [practitioner.pk]})

    case = Case.objects.get(child=child)
    assert response.status_code == 302
    assert response["Location"] == url("case_detail", case.pk)
    assert case.reference == "C-0001"
    assert list(case.team.all()) == [practitioner]
    client.force_login(practitioner)
    assert "C-0001" in page_text(client.get(url("case_list")))
    client.force_login(colleague)
    assert "C-0001" not in page_text(client.get(url("case_list")))


def test_a_child_with_an_open_case_gets_no_second(client: Any, case: Case, lead: Any):
    client.force_login(lead)
    page = client.get(url("case_open", case.child_id))
    assert "already has an open case" in page_text(page)
    refused = client.post(url("case_open", case.child_id), {"reference": "C-0100"})
    assert refused.status_code == 400
    assert "already has an open case" in page_text(refused)
    assert Case.objects.filter(child=case.child).count() == 1


def test_the_children_list_costs_the_same_for_a_longer_roll(
    client: Any, oakfield: Organisation, lead: Any
):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url("children")).status_code == 200
        return len(captured)

    client.force_login(lead)
    CaseFactory(organisation=oakfield)
    ChildFactory(organisation=oakfield)
    few = queries()
    for _ in range(12):
        CaseFactory(organisation=oakfield)
        ChildFactory(organisation=oakfield)
    assert queries() == few


# --- Address book ----------------------------------------------------------------------------


def test_a_lead_adds_edits_and_retires_a_recipient(
    client: Any, oakfield: Organisation, lead: Any, case: Case
):
    client.force_login(lead)
    page = client.get(url("recipient_add"))
    typed = {
        "person_name": "Dr Priya Shah",
        "role": "Health visitor",
        "agency_name": "Northshire Health Visiting Team",
        "agency_kind": "health",
        "secure_email": "hv@northshire.example.org",
        "verified": "on",
    }
    assert client.post(url("recipient_add"), form_data(page, **typed)).status_code == 302
    recipient = Recipient.objects.get(person_name="Dr Priya Shah")
    assert recipient.secure_email_verified_at is not None and recipient.agency_kind == "health"
    listed = page_text(client.get(url("address_book")))
    assert "Dr Priya Shah" in listed and "Not checked" not in listed

    page = client.get(url("recipient_detail", recipient.pk))
    changed = form_data(page, secure_email="hv.team@northshire.example.org", phone="01632 960000")
    assert client.post(url("recipient_detail", recipient.pk), changed).status_code == 302
    recipient.refresh_from_db()
    # A new address is not the one that was checked.
    assert recipient.phone == "01632 960000" and recipient.secure_email_verified_at is None
    assert "Not checked" in page_text(client.get(url("address_book")))

    assert recipient in recipient_choices_for(lead, case)
    assert "Retire Dr Priya Shah, Northshire Health Visiting Team?" in page_text(
        client.get(url("recipient_retire", recipient.pk))
    )
    assert client.post(url("recipient_retire", recipient.pk)).status_code == 302
    recipient.refresh_from_db()
    assert recipient.retired_at is not None
    assert recipient not in recipient_choices_for(lead, case)
    listed = page_text(client.get(url("address_book")))
    assert "Retired on" in listed and "Dr Priya Shah" in listed


def test_a_recipient_problem_is_shown_beside_its_field(
    client: Any, oakfield: Organisation, lead: Any
):
    client.force_login(lead)
    page = client.get(url("recipient_add"))
    refused = client.post(
        url("recipient_add"),
        form_data(page, person_name="Sam Carter", agency_name="", secure_email="not an address"),
    )
    assert refused.status_code == 400
    assert "organisation they work for" in error_text(refused, "id_agency_name")
    assert "name@council.gov.uk" in error_text(refused, "id_secure_email")
    assert form_data(refused)["person_name"] == "Sam Carter"
    assert not Recipient.objects.exists()


def test_the_kind_of_organisation_is_one_of_the_list(oakfield: Organisation, lead: Any) -> None:
    fields = {"person_name": "Jo Bright", "agency_name": "Hilltop Primary", "agency_kind": "pub"}
    with pytest.raises(RuleViolation) as refused:
        recipient_add(organisation=oakfield, by=lead, fields=fields)
    assert set(refused.value.message_dict) == {"agency_kind"}
    school = recipient_add(
        organisation=oakfield, by=lead, fields={**fields, "agency_kind": "school"}
    )
    assert school.agency_kind == "school"


def test_a_share_keeps_the_name_of_a_recipient_retired_after_it(
    client: Any, submitted: Share, lead: Any, practitioner: Any
):
    recipient = submitted.recipient
    assert recipient is not None
    client.force_login(lead)
    page = client.get(url("recipient_detail", recipient.pk))
    renamed = client.post(
        url("recipient_detail", recipient.pk), form_data(page, person_name="Samuel Carter")
    )
    assert renamed.status_code == 400
    assert "retire this entry" in error_text(renamed, "id_person_name")

    client.post(url("recipient_retire", recipient.pk))
    assert recipient not in recipient_choices_for(practitioner, submitted.case)
    client.force_login(practitioner)
    assert recipient.person_name in page_text(client.get(url("share_detail", submitted.pk)))


def test_a_draft_naming_a_recipient_since_retired_keeps_them_until_another_is_chosen(
    client: Any, case: Case, recipient: Recipient, lead: Any, practitioner: Any
):
    """Saving the draft must not quietly drop whom it was for; submitting it says why
    another must be chosen."""
    share = share_propose(
        case=case, proposed_by=practitioner, fields=complete_fields(recipient), items=[item()]
    )
    client.force_login(lead)
    client.post(url("recipient_retire", recipient.pk))
    client.force_login(practitioner)
    assert "retired from the address book" in page_text(client.get(url("share_detail", share.pk)))

    edit = client.get(url("share_edit", share.pk))
    assert "has been retired from the address book" in page_text(edit)
    saved = client.post(url("share_edit", share.pk), form_data(edit, purpose="Still to go."))
    assert saved.status_code in (200, 302)
    share.refresh_from_db()
    assert share.recipient == recipient and share.purpose == "Still to go."
    with pytest.raises(RuleViolation) as refused:
        share_submit(share=share, user=practitioner)
    assert "retired" in refused.value.message_dict["recipient"][0]


# --- Who may keep the register ----------------------------------------------------------------


def test_a_deputy_keeps_the_register_too(
    client: Any, deputy: Any, case: Case, recipient: Recipient
):
    client.force_login(deputy)
    for page in (
        url("children"),
        url("child_add"),
        url("child_detail", case.child_id),
        url("case_open", case.child_id),
        url("address_book"),
        url("recipient_add"),
        url("recipient_detail", recipient.pk),
        url("recipient_retire", recipient.pk),
    ):
        assert client.get(page).status_code == 200, page


@pytest.mark.parametrize("page", ["children", "child_add", "address_book", "recipient_add"])
def test_a_practitioner_may_not_keep_the_register(client: Any, practitioner: Any, page: str):
    client.force_login(practitioner)
    assert client.get(url(page)).status_code == 403
    # The lists take no form (405); the add pages refuse before reading one.
    posted = client.post(url(page), {"first_name": "X", "person_name": "X"}).status_code
    assert posted == (403 if page.endswith("_add") else 405)
    assert not Child.objects.exists() and not Recipient.objects.exists()


def test_another_settings_lead_finds_nothing_of_oakfields(
    client: Any, other_lead: Any, case: Case, recipient: Recipient, oakfield: Organisation
):
    client.force_login(other_lead)
    child = case.child
    for page in (
        url("child_detail", child.pk),
        url("case_open", child.pk),
        url("recipient_detail", recipient.pk),
        url("recipient_retire", recipient.pk),
        f"{url('children')}?setting={oakfield.pk}",
        f"{url('address_book')}?setting={oakfield.pk}",
        f"{url('children')}?setting=oak",
    ):
        assert client.get(page).status_code == 404, page
        if "?" not in page:  # the lists take no form
            posted = client.post(page, {"first_name": "X", "reference": "X"})
            assert posted.status_code == 404, page
    recipient.refresh_from_db()
    assert recipient.retired_at is None
    assert Case.objects.filter(child=child).count() == 1
    assert "Maisie" not in page_text(client.get(url("children")))


def test_a_keeper_of_two_registers_chooses_the_setting(
    client: Any, lead: Any, oakfield: Organisation, riverside: Organisation
):
    MembershipFactory(user=lead, organisation=riverside, role=Role.DEPUTY)
    ChildFactory(organisation=oakfield, first_name="Maisie")
    ChildFactory(organisation=riverside, first_name="Ravi")
    client.force_login(lead)
    first = page_text(client.get(url("children")))  # the first by name: Oakfield
    assert "Maisie" in first and "Ravi" not in first and "Show this setting" in first
    riverside_roll = client.get(f"{url('children')}?setting={riverside.pk}")
    assert "Ravi" in page_text(riverside_roll) and "Maisie" not in page_text(riverside_roll)
    # A child added from there goes on Riverside's roll.
    add = f"{url('child_add')}?setting={riverside.pk}"
    assert client.post(add, _child_post(client.get(add))).status_code == 302
    assert Child.objects.get(last_name="Brook").organisation == riverside


def test_bad_input_is_a_message_not_an_error(client: Any, case: Case, lead: Any):
    client.raise_request_exception = False
    client.force_login(lead)
    child = case.child_id
    # No formset management fields, a date that is no date, a forged team member.
    assert client.post(url("child_add"), {"date_of_birth": "31/02/x"}).status_code == 400
    assert client.post(url("child_detail", child), {"first_name": "A\x00"}).status_code == 400
    forged = {"reference": "R" * 300, "team": ["abc", "999999"]}
    assert client.post(url("case_open", child), forged).status_code == 400
    assert client.get(f"{url('children')}?page=last-but-one").status_code == 404
    assert client.post(url("recipient_add"), {"secure_email": "x" * 999}).status_code == 400
    assert Case.objects.count() == 1
