"""Day one of a real school, in the browser: an empty installation, one command, and then
only the pages. The lead chooses a password from the printed link and sets up their app,
invites a practitioner, imports the roll from a CSV export, adds a recipient, opens a case
with the practitioner on its team; the practitioner chooses their password from the
invitation email, proposes a share, and the lead decides it. No demo data, no shell, no
admin.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, expect

from cases.identifiers import upn_check_letter

from .browsing import Proposal, authenticator_code, decide, fill_share_form, menu, status_of
from .conftest import Screenshots, _require_chromium, contexts_on
from .server import DemoServer
from .test_two_factor import assert_accessible

pytestmark = pytest.mark.e2e

SCHOOL = "Hillside Primary School"
LEAD_EMAIL = "dsl@hillside.example"
PRACTITIONER_EMAIL = "pat.nguyen@hillside.example"
PASSWORDS = {LEAD_EMAIL: "hillside lead 2026!", PRACTITIONER_EMAIL: "class teacher 4 ever"}
ROLL = 500
SIGNED_IN = "Your account: show or hide Log out"


@pytest.fixture(scope="module")
def new_school(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    """An installation with nothing in it: migrated, never seeded."""
    _require_chromium()
    server = DemoServer(tmp_path_factory.mktemp("day-one"), demo=False, kind="day_one")
    # Its own address, as a real installation is told: the links it prints and emails lead here.
    server.env["SITE_URL"] = server.base_url
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def axe() -> Axe:
    return Axe()


@pytest.fixture
def context_for(
    request: pytest.FixtureRequest, chromium: Browser, new_school: DemoServer
) -> Iterator[Callable[..., BrowserContext]]:
    with contexts_on(request, chromium, new_school) as make:
        yield make


def roll_csv(rows: int) -> bytes:
    """The roll as a school MIS exports it: UK dates, a byte order mark, two contacts."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "UPN",
            "Legal Surname",
            "Legal Forename",
            "Preferred Forename",
            "DOB",
            "Year Group",
            "Contact 1 Name",
            "Contact 1 Relationship",
            "Contact 1 Phone",
        ]
    )
    born = date(2015, 9, 1)
    for n in range(rows):
        twelve = f"9370{n // 1000:03d}{n % 1000:03d}{n % 97:02d}"[:12]
        upn = upn_check_letter(twelve) + twelve
        surname = "Okoye" if n == 0 else f"Pupil{n:03d}"
        forename = "Amara" if n == 0 else f"Child{n:03d}"
        writer.writerow(
            [
                upn,
                surname,
                forename,
                "Amy" if n == 0 else "",
                (born + timedelta(days=n * 3)).strftime("%d/%m/%Y"),
                f"Year {1 + n % 6}",
                f"Carer of {forename}",
                "Mother",
                "07700 900" + f"{n % 1000:03d}",
            ]
        )
    return ("\ufeff" + out.getvalue()).encode()


def choose_password(page: Page, link: str, email: str) -> None:
    """The one-time link: choose a password (twice), then sign in with it."""
    page.goto(link)
    page.get_by_label("New password", exact=True).fill(PASSWORDS[email])
    page.get_by_label("New password confirmation", exact=True).fill(PASSWORDS[email])
    page.get_by_role("button", name="Set the password").click()
    expect(page.get_by_role("heading", name="Your password is set")).to_be_visible()
    page.get_by_role("link", name="Sign in").click()
    page.get_by_label("Username", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORDS[email])
    page.get_by_role("button", name="Sign in").click()


def invitation_link(server: DemoServer, email: str) -> str:
    """The link in the invitation email (the embedded default prints each email)."""
    log = server.log_path.read_text(errors="replace")
    message = log[log.rindex(f"To: {email}") :]
    return re.search(r"https?://\S+/accounts/reset/\S+/", message).group(0)  # type: ignore[union-attr]


def test_a_new_school_goes_live_with_no_developer(
    new_school: DemoServer,
    context_for: Callable[[], BrowserContext],
    shot: Screenshots,
    axe: Axe,
) -> None:
    printed = new_school.manage(
        "create_setting",
        SCHOOL,
        "--kind",
        "school",
        "--region",
        "england-and-wales",
        "--public-authority",
        "--lead-email",
        LEAD_EMAIL,
        "--lead-name",
        "Hana Hill",
    )
    lead = context_for().new_page()
    choose_password(lead, printed.strip().splitlines()[-1], LEAD_EMAIL)

    # A lead signs in with an authenticator app: set up straight after the password.
    expect(lead.get_by_role("heading", name="Set up your authenticator app")).to_be_visible()
    secret = lead.locator("code[data-secret]").inner_text().replace(" ", "")
    lead.get_by_label("The code your app shows", exact=True).fill(
        authenticator_code(LEAD_EMAIL, secret)
    )
    lead.get_by_role("button", name="Finish setting up").click()
    lead.get_by_role("link", name="I have kept them: carry on").click()
    expect(lead.get_by_role("button", name=SIGNED_IN)).to_be_visible()
    shot(lead, "the lead is signed in to an empty setting")

    # Staff: a practitioner invited by email.
    menu(lead, "Staff")
    lead.get_by_label("Work email address", exact=True).fill(PRACTITIONER_EMAIL)
    lead.get_by_label("First name", exact=True).fill("Pat")
    lead.get_by_label("Last name", exact=True).fill("Nguyen")
    lead.get_by_label("Role", exact=True).select_option(label="Practitioner")
    lead.get_by_role("button", name="Invite", exact=True).click()
    invited = lead.get_by_role("row").filter(has_text=PRACTITIONER_EMAIL)
    expect(invited).to_contain_text("Invitation not used yet")
    shot(lead, "the practitioner is invited")
    assert_accessible(lead, axe)

    # The roll, from the MIS export: previewed, then confirmed.
    export = Path(new_school.workdir) / "roll.csv"
    export.write_bytes(roll_csv(ROLL))
    menu(lead, "Import children or staff")
    lead.get_by_label("Children (with their carers)", exact=True).check()
    lead.get_by_label("The CSV file", exact=True).set_input_files(str(export))
    lead.get_by_role("button", name="Check the file").click()
    expect(lead.get_by_text(f"{ROLL} to add", exact=True)).to_be_visible()
    expect(lead.get_by_text(re.compile(r"^0 not imported"))).to_be_visible()
    shot(lead, "the preview of the import")
    assert_accessible(lead, axe)
    lead.get_by_role("button", name=f"Confirm: import {ROLL} rows", exact=True).click()
    expect(lead.get_by_role("status")).to_contain_text(
        f"Children (with their carers) import: {ROLL} added, 0 updated, 0 unchanged, "
        "0 not imported."
    )
    shot(lead, "the roll is imported")

    # The address book: where the share will go.
    menu(lead, "Address book")
    lead.get_by_role("link", name="Add a recipient", exact=True).click()
    lead.get_by_label("Name", exact=True).fill("Sam Carter")
    lead.get_by_label("Organisation", exact=True).fill("Northshire Children's Social Care")
    lead.get_by_label("Secure email address", exact=True).fill("sam.carter@northshire.gov.uk")
    lead.get_by_label("I have checked this secure address with their organisation").check()
    lead.get_by_role("button", name="Add to the address book").click()
    expect(lead.get_by_role("row").filter(has_text="Sam Carter")).to_be_visible()
    shot(lead, "the recipient is in the address book")

    # A case for one child, found by search, with the practitioner on its team.
    menu(lead, "Search")
    lead.get_by_label("Name, UPN or case reference", exact=True).fill("Amy Okoye")
    lead.get_by_role("button", name="Search", exact=True).click()
    lead.get_by_role("link", name="Amara Okoye (Amy)", exact=True).click()
    lead.get_by_role("link", name="Open a case", exact=True).click()
    lead.get_by_label("Pat Nguyen", exact=True).check()
    lead.get_by_role("button", name="Open the case").click()
    expect(lead.get_by_role("heading", level=1)).to_contain_text("C-0001")
    shot(lead, "the case is open")

    # The practitioner: a password from the invitation, then the share.
    practitioner = context_for().new_page()
    choose_password(
        practitioner, invitation_link(new_school, PRACTITIONER_EMAIL), PRACTITIONER_EMAIL
    )
    expect(practitioner.get_by_role("button", name=SIGNED_IN)).to_be_visible()
    menu(practitioner, "Cases")
    practitioner.get_by_role("link", name="C-0001", exact=True).click()
    practitioner.get_by_role("link", name="Propose a share").click()
    fill_share_form(
        practitioner,
        Proposal(
            purpose="Tell social care what Amy said at breakfast club.",
            lawful_basis="Art 6(1)(e) public task",
            risk_if_shared="The family may keep Amy off school for a while.",
        ),
    )
    practitioner.get_by_label("Power or duty relied on", exact=True).fill("Children Act 2004 s11")
    practitioner.get_by_role("button", name="Submit for lead review").click()
    expect(status_of(practitioner)).to_have_text("Awaiting lead review")
    number = int(re.findall(r"/shares/(\d+)/", practitioner.url)[0])
    shot(practitioner, "the practitioner proposes the first share")

    # The lead decides it.
    menu(lead, "Lead review queue")
    lead.get_by_role("link", name=f"Review share #{number}", exact=True).click()
    decide(lead, "Approve", "Social care must hear this today; the school's duty under s11.")
    expect(status_of(lead)).to_have_text("Approved, awaiting release")
    shot(lead, "the lead approves the first share")
