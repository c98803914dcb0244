"""Importing children (with carers) and staff from a school MIS export: read, previewed row by
row with every reason, applied only on Confirm, and the same file again changes nothing."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from cases import choices
from cases.identifiers import upn_check_letter
from cases.models import Carer, Child, Membership, RegisterImport
from cases.register_import import ImportFileError
from cases.register_import import children as children_import
from cases.register_import import staff as staff_import
from cases.register_import.reading import Column, decode, header_key, parse_date
from permissions.models import AuditAction, AuditEntry
from workflows.tasks import sweep_timers

from .factories import ChildFactory, UserFactory

CHILD_HEADER = [
    "UPN",
    "Legal Forename",
    "Legal Surname",
    "Preferred Forename",
    "DOB",
    "Year Group",
    "Contact 1 Name",
    "Contact 1 Relationship",
    "Contact 1 Telephone",
    "Contact 1 Email",
    "Contact 1 Parental Responsibility",
]


def upn(n: int) -> str:
    twelve = f"{n:012d}"
    return upn_check_letter(twelve) + twelve


def child_row(n: int, **overrides: str) -> list[str]:
    values = {
        "UPN": upn(n),
        "Legal Forename": f"Pupil{n}",
        "Legal Surname": "Example",
        "Preferred Forename": "",
        "DOB": "05/03/2019",
        "Year Group": "Year 1",
        "Contact 1 Name": f"Parent{n} Example",
        "Contact 1 Relationship": "Mother",
        "Contact 1 Telephone": "01632 960000",
        "Contact 1 Email": f"parent{n}@example.com",
        "Contact 1 Parental Responsibility": "Yes",
        **overrides,
    }
    return [values[column] for column in CHILD_HEADER]


def as_csv(header: list[str], rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def upload(client: Any, data: bytes, *, kind: str = "children", organisation: Any) -> Any:
    return client.post(
        reverse("safeguarding:register_import"),
        {
            "kind": kind,
            "organisation": organisation.pk,
            "file": SimpleUploadedFile("export.csv", data, content_type="text/csv"),
        },
    )


def preview_of(client: Any, response: Any) -> tuple[str, str]:
    assert response.status_code == 302, response.content.decode()[:2000]
    page = client.get(response["Location"])
    assert page.status_code == 200
    return response["Location"], page.content.decode()


def confirm(client: Any, preview_url: str) -> Any:
    response = client.post(preview_url, {"action": "confirm"})
    assert response.status_code == 302
    return response


# --- Reading the file ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "encoding",
    ["utf-8", "utf-8-sig", "cp1252"],
    ids=["utf-8", "utf-8 with a byte-order mark", "windows-1252"],
)
def test_names_are_read_in_every_encoding_a_mis_writes(client, oakfield, lead, encoding):
    client.force_login(lead)
    data = as_csv(
        CHILD_HEADER,
        [
            child_row(1, **{"Legal Forename": "Zoë", "Contact 1 Name": "Siân Example"}),
            child_row(2, **{"Legal Forename": "Siân"}),
        ],
        encoding,
    )
    preview_url, page = preview_of(client, upload(client, data, organisation=oakfield))
    assert "Zoë Example" in page and "Siân Example" in page
    confirm(client, preview_url)
    assert set(Child.objects.values_list("first_name", flat=True)) == {"Zoë", "Siân"}
    assert Carer.objects.filter(name="Siân Example").exists()


def test_a_file_neither_utf8_nor_windows_1252_is_refused_whole():
    # 0x81 is undefined in Windows-1252, and not valid UTF-8 alone.
    with pytest.raises(ImportFileError, match="neither UTF-8 nor Windows-1252"):
        decode(b"UPN,Forename\r\nA\x81B,C\r\n")


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "empty"),
        (b"PK\x03\x04\x14\x00\x06\x00 workbook bytes", "Excel workbook"),
        (b"\x00\x01\x02binary", "not text"),
        (b"\n\nUPN,Legal Forename\n", "first row must hold the column names"),
    ],
    ids=["empty", "an xlsx", "binary", "no header row"],
)
def test_a_file_that_is_not_a_csv_export_gets_one_clear_error(client, oakfield, lead, data, says):
    client.force_login(lead)
    response = upload(client, data, organisation=oakfield)
    assert response.status_code == 400
    assert says in response.content.decode()
    assert not RegisterImport.objects.exists()


def test_a_missing_required_column_is_named(client, oakfield, lead):
    client.force_login(lead)
    data = as_csv(["UPN", "Forename", "Surname"], [[upn(1), "Amy", "Example"]])
    response = upload(client, data, organisation=oakfield)
    assert response.status_code == 400
    body = response.content.decode()
    assert "has no \u201cDOB\u201d column" in body
    assert not RegisterImport.objects.exists()


def test_headers_are_matched_whatever_their_case_spacing_and_spelling(client, oakfield, lead):
    client.force_login(lead)
    data = as_csv(
        ["upn", "FIRST NAME", "surname", "Date_of_Birth", "Reg. Group"],
        [[upn(7), "Amy", "Example", "2019-03-05", "Robins"]],
    )
    preview_url, _ = preview_of(client, upload(client, data, organisation=oakfield))
    confirm(client, preview_url)
    child = Child.objects.get()
    assert (child.first_name, child.date_of_birth, child.year_group) == (
        "Amy",
        date(2019, 3, 5),
        "Robins",
    )


@pytest.mark.parametrize("hint", ["sep=;", '"sep=;"', "SEP=;"])
def test_excels_separator_line_is_read_as_the_delimiter_and_skipped(client, oakfield, lead, hint):
    client.force_login(lead)
    data = (
        f"{hint}\r\nLegal Forename;Legal Surname;DOB;Year Group\r\n"
        "Amy;Example;05/03/2019;Robins, Class 2\r\n"
    ).encode()
    preview_url, page = preview_of(client, upload(client, data, organisation=oakfield))
    assert "Columns not read" not in page
    # Excel hides the line: the column names are row 1 and Amy row 2, as it shows them.
    assert '<td>2</td>\n          <td class="ss-from-file">Amy Example</td>' in page
    confirm(client, preview_url)
    child = Child.objects.get()
    assert (child.first_name, child.year_group) == ("Amy", "Robins, Class 2")


def _readme_import_spellings() -> list[str]:
    """Every column name and "also read as" spelling of the README's import table, and the
    staff columns of the sentence after it."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    start = readme.index("| column | also read as |")
    table = readme[start : readme.index("\n\n", start)]
    spellings: list[str] = []
    for line in table.splitlines()[2:]:
        names_cell, also_cell = (cell.strip() for cell in line.strip().strip("|").split("|")[:2])
        names = re.findall(r"`([^`]+)`", names_cell)
        spellings += names
        for also in re.split(r"[,;]", also_cell):
            also = also.strip()
            if also == "the same for Contact 2":
                spellings += [name.replace("Contact 1", "Contact 2") for name in names]
            elif also:
                spellings.append(also)
    staff_line = readme[readme.index("and for staff:", start) :].split(". ", 1)[0]
    spellings += re.findall(r"`([^`]+)`", staff_line)
    spellings += re.findall(r"\(or ([^)]+)\)", staff_line)
    return spellings


def _reads(columns: tuple[Column, ...], spelling: str) -> bool:
    return any(
        header_key(spelling) == header_key(known)
        for column in columns
        for known in column.spellings
    )


def test_every_spelling_the_readme_lists_is_read():
    spellings = _readme_import_spellings()
    assert {"Class", "Known as", "Surname", "Contact 2 Phone"} <= set(spellings)
    not_read = [
        spelling
        for spelling in spellings
        if not _reads(children_import.COLUMNS, spelling)
        and not _reads(staff_import.COLUMNS, spelling)
    ]
    assert not_read == []


def test_a_class_column_is_read_as_the_year_group(client, oakfield, lead):
    client.force_login(lead)
    data = as_csv(
        ["Forename", "Surname", "DOB", "Class", "Known as"],
        [["Amelia", "Example", "05/03/2019", "Robins", "Millie"]],
    )
    preview_url, page = preview_of(client, upload(client, data, organisation=oakfield))
    assert "Columns not read" not in page
    confirm(client, preview_url)
    child = Child.objects.get()
    assert (child.year_group, child.known_as) == ("Robins", "Millie")


@pytest.mark.parametrize(
    ("text", "says"),
    [("05/03/19", "two-digit year"), ("03/25/2019", "US date"), ("31/02/2019", "not a real")],
)
def test_an_ambiguous_or_impossible_date_is_refused(text, says):
    with pytest.raises(ValueError, match=says):
        parse_date(text)
    assert parse_date("5/3/2019") == parse_date("2019-03-05") == date(2019, 3, 5)


# --- Preview, then confirm ----------------------------------------------------------------------


def test_twenty_bad_rows_of_a_hundred_are_each_reported_and_the_rest_imported_on_confirm(
    client, oakfield, lead
):
    client.force_login(lead)
    future = (date.today() + timedelta(days=30)).strftime("%d/%m/%Y")
    bad = {
        **{n: {"DOB": future} for n in range(0, 5)},
        **{n: {"UPN": "A12345678901X"} for n in range(5, 10)},
        **{n: {"Legal Forename": ""} for n in range(10, 15)},
        **{n: {"DOB": "31/31/2019", "Contact 1 Relationship": ""} for n in range(15, 20)},
    }
    rows = [child_row(n, **bad.get(n, {})) for n in range(100)]
    preview_url, page = preview_of(
        client, upload(client, as_csv(CHILD_HEADER, rows), organisation=oakfield)
    )
    assert not Child.objects.exists(), "nothing is saved at preview"
    assert "80 to add" in page and "20 not imported" in page
    # Row numbers as the spreadsheet shows them: the header is row 1, data row n is n + 2.
    assert page.count("The date of birth is in the future") == 5
    assert page.count("check letter does not match") == 5
    assert page.count("Legal Forename: Give the child") == 5
    # Both reasons of one row are given, each naming its column.
    assert page.count("is not a real date") == 5
    assert page.count("Contact 1 Relationship: Say who they are") == 5
    assert "<td>2</td>" in page and "<td>101</td>" in page

    response = confirm(client, preview_url)
    assert Child.objects.count() == 80
    assert Carer.objects.count() == 80
    assert not Child.objects.filter(first_name__in=[f"Pupil{n}" for n in range(20)]).exists()
    summary = AuditEntry.objects.get(action=AuditAction.REGISTER_IMPORTED)
    assert "80 added, 0 updated, 0 unchanged, 20 not imported" in summary.detail
    assert AuditEntry.objects.filter(action=AuditAction.CHILD_ADDED).count() == 80
    followed = client.get(response["Location"]).content.decode()
    assert "80 added" in followed
    # The file held children's details: gone once applied.
    assert RegisterImport.objects.get().uploaded_text == ""


def test_the_same_file_again_changes_nothing_and_a_changed_row_updates_in_place(
    client, oakfield, lead
):
    client.force_login(lead)
    rows = [child_row(n) for n in range(3)]
    confirm(
        client,
        preview_of(client, upload(client, as_csv(CHILD_HEADER, rows), organisation=oakfield))[0],
    )
    entries = AuditEntry.objects.count()

    preview_url, page = preview_of(
        client, upload(client, as_csv(CHILD_HEADER, rows), organisation=oakfield)
    )
    assert "3 already as the file says" in page
    confirm(client, preview_url)
    # Only the import's own summary entry: no child was changed.
    assert AuditEntry.objects.count() == entries + 1
    assert Child.objects.count() == 3

    rows[1] = child_row(1, **{"Year Group": "Year 2", "Preferred Forename": "Pip"})
    preview_url, page = preview_of(
        client, upload(client, as_csv(CHILD_HEADER, rows), organisation=oakfield)
    )
    assert "Update: preferred name, year or room" in page
    confirm(client, preview_url)
    child = Child.objects.get(unique_pupil_number=upn(1))
    assert (child.known_as, child.year_group) == ("Pip", "Year 2")
    assert Child.objects.count() == 3
    assert AuditEntry.objects.filter(action=AuditAction.CHILD_CHANGED).count() == 1


def test_a_row_without_a_upn_matches_by_legal_names_and_date_of_birth(client, oakfield, lead):
    existing = ChildFactory(
        organisation=oakfield, first_name="Amy", last_name="Example", date_of_birth=date(2019, 3, 5)
    )
    client.force_login(lead)
    data = as_csv(
        ["Forename", "Surname", "DOB", "Room"], [["amy", "EXAMPLE", "05/03/2019", "Robins"]]
    )
    preview_url, page = preview_of(client, upload(client, data, organisation=oakfield))
    assert "Update: legal first name, legal last name, year or room" in page
    confirm(client, preview_url)
    existing.refresh_from_db()
    assert existing.year_group == "Robins"
    assert Child.objects.count() == 1


def test_an_unreadable_contact_cell_refuses_that_row_only_and_names_its_column(
    client, oakfield, lead
):
    client.force_login(lead)
    rows = [child_row(1, **{"Contact 1 Parental Responsibility": "Maybe"}), child_row(2)]
    _, preview = preview_of(
        client, upload(client, as_csv(CHILD_HEADER, rows), organisation=oakfield)
    )
    assert "Contact 1 Parental Responsibility:" in preview
    assert "1 to add" in preview and "1 not imported" in preview


def test_a_upn_twice_in_the_file_refuses_every_row_carrying_it(client, oakfield, lead):
    client.force_login(lead)
    rows = [child_row(1), child_row(2), child_row(3, UPN=upn(1))]
    preview_url, page = preview_of(
        client, upload(client, as_csv(CHILD_HEADER, rows), organisation=oakfield)
    )
    assert f"UPN {upn(1)} is also on row 4" in page
    assert f"UPN {upn(1)} is also on row 2" in page
    confirm(client, preview_url)
    assert list(Child.objects.values_list("first_name", flat=True)) == ["Pupil2"]


def test_confirm_checks_each_row_again_against_the_register_as_it_is_then(client, oakfield, lead):
    client.force_login(lead)
    preview_url, _ = preview_of(
        client, upload(client, as_csv(CHILD_HEADER, [child_row(1)]), organisation=oakfield)
    )
    # Someone adds the same child by hand between the preview and the confirmation.
    ChildFactory(organisation=oakfield, unique_pupil_number=upn(1), first_name="Pupil1")
    confirm(client, preview_url)
    assert Child.objects.count() == 1
    assert "1 updated" in RegisterImport.objects.get().outcome


def test_discarding_deletes_the_upload_and_imports_nothing(client, oakfield, lead):
    client.force_login(lead)
    preview_url, _ = preview_of(
        client, upload(client, as_csv(CHILD_HEADER, [child_row(1)]), organisation=oakfield)
    )
    assert client.post(preview_url, {"action": "discard"}).status_code == 302
    assert not RegisterImport.objects.exists()
    assert not Child.objects.exists()
    assert client.get(preview_url).status_code == 404


def test_an_upload_left_unconfirmed_goes_after_a_day_with_the_timer_sweep(
    client, oakfield, lead, deputy
):
    """It holds children's details: nobody confirming it is no reason to keep them."""
    with time_machine.travel(timezone.now() - timedelta(days=1, minutes=1)):
        client.force_login(deputy)
        forgotten, _ = preview_of(
            client, upload(client, as_csv(CHILD_HEADER, [child_row(1)]), organisation=oakfield)
        )
    client.force_login(lead)
    waiting, _ = preview_of(
        client, upload(client, as_csv(CHILD_HEADER, [child_row(2)]), organisation=oakfield)
    )

    sweep_timers()

    assert list(RegisterImport.objects.values_list("by", flat=True)) == [lead.pk]
    assert client.get(waiting).status_code == 200
    client.force_login(deputy)
    assert client.get(forgotten).status_code == 404


# --- Staff -----------------------------------------------------------------------------------


STAFF_HEADER = ["Email", "First name", "Surname", "Role"]


def test_a_staff_import_invites_new_people_and_changes_a_role(client, oakfield, lead, practitioner):
    practitioner.email = "priya@oakfield.example"
    practitioner.save()
    client.force_login(lead)
    data = as_csv(
        STAFF_HEADER,
        [
            ["new.person@oakfield.example", "New", "Person", "Practitioner"],
            ["PRIYA@oakfield.example", "Priya", "Patel", "Deputy DSL"],
            ["not-an-email", "Bad", "Row", "Practitioner"],
            ["other@oakfield.example", "Other", "Person", "Cook"],
        ],
    )
    preview_url, page = preview_of(
        client, upload(client, data, kind="staff", organisation=oakfield)
    )
    assert "Update: role Practitioner \u2192 Deputy Safeguarding Lead" in page
    assert "Add as Practitioner" in page
    assert "Email: Give their work email address" in page
    assert "\u201cCook\u201d is not one of" in page
    assert not Membership.objects.filter(user__username="new.person@oakfield.example").exists()
    confirm(client, preview_url)
    invited = Membership.objects.get(user__username="new.person@oakfield.example")
    assert invited.role == choices.Role.PRACTITIONER
    assert Membership.objects.get(user=practitioner, ended_at__isnull=True).role == (
        choices.Role.DEPUTY
    )
    assert [message.to for message in mail.outbox] == [["new.person@oakfield.example"]]
    assert AuditEntry.objects.filter(action=AuditAction.STAFF_INVITED).count() == 1
    assert AuditEntry.objects.filter(action=AuditAction.ROLE_CHANGED).count() == 1


def test_the_preview_says_the_role_each_new_person_is_added_as(client, oakfield, lead):
    client.force_login(lead)
    data = as_csv(
        STAFF_HEADER,
        [
            ["dana@oakfield.example", "Dana", "Shah", "DSL"],
            ["pat@oakfield.example", "Pat", "Lee", "Auditor"],
        ],
    )
    preview_url, page = preview_of(
        client, upload(client, data, kind="staff", organisation=oakfield)
    )
    # The lead sees who would become a lead before confirming.
    assert "Add as Designated Safeguarding Lead" in page
    assert "Add as Auditor / Data Protection Officer" in page
    confirm(client, preview_url)
    assert Membership.objects.get(user__username="dana@oakfield.example").role == (
        choices.Role.LEAD
    )


def test_a_deputy_may_import_children_but_not_staff(client, oakfield, lead, deputy):
    client.force_login(deputy)
    data = as_csv(STAFF_HEADER, [["a@oakfield.example", "A", "Person", "Practitioner"]])
    response = upload(client, data, kind="staff", organisation=oakfield)
    assert response.status_code == 400
    assert not RegisterImport.objects.exists()
    preview_url, _ = preview_of(
        client, upload(client, as_csv(CHILD_HEADER, [child_row(1)]), organisation=oakfield)
    )
    confirm(client, preview_url)
    assert Child.objects.count() == 1


# --- Who may --------------------------------------------------------------------------------


def test_a_practitioner_is_refused_the_upload_page(client, practitioner):
    client.force_login(practitioner)
    assert client.get(reverse("safeguarding:register_import")).status_code == 403


def test_someone_elses_upload_is_not_found(client, oakfield, lead, deputy, other_lead):
    client.force_login(lead)
    preview_url, _ = preview_of(
        client, upload(client, as_csv(CHILD_HEADER, [child_row(1)]), organisation=oakfield)
    )
    for outsider in (other_lead, deputy, UserFactory(username="nobody")):
        client.force_login(outsider)
        assert client.get(preview_url).status_code == 404
        assert client.post(preview_url, {"action": "confirm"}).status_code == 404
    assert not Child.objects.exists()
    client.force_login(lead)
    assert client.get(preview_url).status_code == 200


def test_a_blank_line_keeps_the_row_numbers_a_spreadsheet_shows(client, oakfield, lead):
    client.force_login(lead)
    data = (
        as_csv(CHILD_HEADER, [child_row(1)])
        + b"\r\n"
        + as_csv(CHILD_HEADER, [child_row(2, DOB="not known")]).split(b"\r\n", 1)[1]
    )
    _, page = preview_of(client, upload(client, data, organisation=oakfield))
    # Header row 1, Pupil1 row 2, the blank line row 3, Pupil2 row 4.
    assert '<td>4</td>\n          <td class="ss-from-file">Pupil2 Example</td>' in page


def test_a_row_wider_than_the_header_is_a_whole_file_error(client, oakfield, lead):
    client.force_login(lead)
    data = b"Legal Forename,Legal Surname,DOB\r\nAmy,Example,05/03/2019,extra,cells\r\n"
    response = upload(client, data, organisation=oakfield)
    assert response.status_code == 400
    assert "more cells than the header row" in response.content.decode()


def test_odd_requests_are_answered_without_an_error(client, oakfield, lead):
    client.force_login(lead)
    assert client.get("/safeguarding/setting/import/99999999999999999999/").status_code == 404
    preview_url, _ = preview_of(
        client, upload(client, as_csv(CHILD_HEADER, [child_row(1)]), organisation=oakfield)
    )
    assert client.post(preview_url, {"action": "bogus"}).status_code == 400
    no_file = client.post(
        reverse("safeguarding:register_import"), {"kind": "children", "organisation": "x"}
    )
    assert no_file.status_code == 400
    confirm(client, preview_url)
    # A second Confirm (the back button) finds it done and says so.
    again = client.post(preview_url, {"action": "confirm"})
    assert again.status_code == 302
    assert Child.objects.count() == 1
