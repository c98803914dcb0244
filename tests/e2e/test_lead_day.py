"""A lead's working day in the browser: told at once, home, queue, a resubmission, a decision;
and a practitioner asking for a refusal to be reconsidered."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from .browsing import Proposal, decide, menu, propose, section, share_number, status_of
from .conftest import Screenshots
from .test_accessibility import Axe, describe, serious_violations


@pytest.fixture(scope="module")
def axe() -> Axe:
    return Axe()


def assert_accessible(page: Page, axe: Axe) -> None:
    found = serious_violations(page, axe)
    assert found == [], describe(found)


pytestmark = pytest.mark.e2e

Person = Callable[[str], Page]


def go_home(page: Page) -> None:
    menu(page, "Home: what needs me now")
    expect(page.get_by_role("heading", name="What needs you now", level=1)).to_be_visible()


def test_a_returned_share_comes_back_to_the_lead_with_the_note_and_what_changed(
    person: Person, shot: Screenshots, axe: Axe
) -> None:
    practitioner = person("practitioner")
    number = propose(
        practitioner,
        "OAK-001",
        Proposal(purpose="Tell social care about a bruise.", urgency="Immediate risk"),
    )

    lead = person("lead")
    # Told at once: a notification names the share, and home lists it as due.
    menu(lead, re.compile(r"^Notifications \(\d+ new\)$"))
    row = lead.get_by_role("row").filter(has_text=f"share #{number}")
    expect(row.first).to_contain_text("A share was submitted for your review")
    go_home(lead)
    expect(lead.get_by_role("link", name=f"Review share #{number}")).to_be_visible()
    shot(lead, "the lead's home lists the new share")
    lead.get_by_role("link", name="Open the review queue").click()
    queued = lead.get_by_role("row").filter(has=lead.get_by_role("link", name=f"Share #{number}"))
    expect(queued).to_contain_text("left")
    expect(queued).to_contain_text("Immediate risk")
    shot(lead, "the queue shows the deadline and time left")
    queued.get_by_role("link", name=f"Review share #{number}").click()
    note = "Say which social worker asked, and when the bruise was first seen."
    decide(lead, "Return for more information", note)
    expect(status_of(lead)).to_have_text("Draft")

    # The practitioner finds it at home with the lead's note, and resubmits it changed.
    go_home(practitioner)
    returned = practitioner.locator(".ss-record").filter(has_text=note)
    expect(returned).to_be_visible()
    shot(practitioner, "the practitioner's home shows the returned share and the note")
    returned.get_by_role("link", name=f"Share #{number}").click()
    practitioner.get_by_label("Purpose", exact=True).fill(
        "Tell social care (Ms Adeyemi asked on Monday) about a bruise first seen on Friday."
    )
    practitioner.get_by_role("button", name="Submit for lead review").click()
    assert share_number(practitioner) == number
    expect(status_of(practitioner)).to_have_text("Awaiting lead review")

    go_home(lead)
    lead.get_by_role("link", name=f"Review share #{number}").click()
    returned_section = lead.locator("section").filter(
        has=lead.get_by_role("heading", name="Returned for more information, and submitted again")
    )
    expect(returned_section).to_contain_text(note)
    changed = returned_section.get_by_role("table", name="Answers changed")
    expect(changed.get_by_role("row").filter(has_text="Purpose")).to_contain_text(
        "Ms Adeyemi asked on Monday"
    )
    # Only the chosen outcome's fields show: no refusal reason while approving.
    lead.get_by_role("radio", name="Approve", exact=True).check()
    expect(lead.get_by_label("Main reason for refusing", exact=True)).to_be_hidden()
    lead.get_by_role("radio", name="Refuse", exact=True).check()
    expect(lead.get_by_label("Main reason for refusing", exact=True)).to_be_visible()
    shot(lead, "the review shows the note and what changed")
    assert_accessible(lead, axe)  # the comparison tables and the outcome-specific fields
    decide(lead, "Approve", "Necessary: social care must assess today.")
    expect(status_of(lead)).to_have_text("Approved, awaiting release")

    menu(practitioner, re.compile(r"^Notifications \(\d+ new\)$"))
    expect(
        practitioner.get_by_role("row").filter(has_text="has been decided").first
    ).to_contain_text(f"share #{number}")


def test_a_practitioner_asks_for_a_refusal_to_be_reconsidered_and_the_lead_answers(
    person: Person, shot: Screenshots, axe: Axe
) -> None:
    practitioner = person("practitioner")
    number = propose(practitioner, "OAK-002", Proposal(purpose="Tell the dentist about pain."))
    lead = person("lead")
    lead.goto(f"/safeguarding/shares/{number}/review/")
    decide(
        lead,
        "Refuse",
        "The dentist can ask the family.",
        refusal_reason="Sharing is not necessary for the purpose",
    )

    practitioner.goto(f"/safeguarding/shares/{number}/")
    practitioner.get_by_role("link", name="Ask for the refusal to be reconsidered").click()
    practitioner.get_by_role("button", name="Ask for a reconsideration").click()
    expect(
        practitioner.get_by_text("Say why the refusal should be looked at again")
    ).to_be_visible()
    practitioner.get_by_label("Why should the refusal be looked at again?").fill(
        "The family asked us to pass it on; the child is in pain at nursery."
    )
    shot(practitioner, "the practitioner asks for a reconsideration")
    practitioner.get_by_role("button", name="Ask for a reconsideration").click()
    expect(section(practitioner, "Reconsideration asked for")).to_contain_text(
        "Waiting for a lead or deputy"
    )

    go_home(lead)
    lead.get_by_role("link", name="reconsideration asked for").click()
    lead.get_by_role("link", name=f"Reconsider share #{number}").click()
    expect(section(lead, "The proposer asks for it to be reconsidered")).to_contain_text(
        "the child is in pain at nursery"
    )
    assert_accessible(lead, axe)
    lead.get_by_role("radio", name="Approve: the information may now be shared").check()
    lead.get_by_label(
        "Why you looked again, and the reasons for this outcome (kept on the record)"
    ).fill("With the family's request it is necessary.")
    lead.get_by_role("button", name="Record the reconsideration").click()
    expect(status_of(lead)).to_have_text("Approved, awaiting release")
    expect(section(lead, "Reconsideration asked for")).to_contain_text("Approve, by")
    shot(lead, "the reconsideration answers the request")
