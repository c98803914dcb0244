"""The whole tour, propose -> approve -> release, with the keyboard alone.

No mouse click and no filling of fields by the test harness: every control is reached with
Tab or Shift+Tab and worked with Enter, Space, the arrow keys or typing. A control that Tab
cannot reach fails the test.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect

from .browsing import (
    PASSWORD,
    SECOND_FACTOR_ACCOUNTS,
    SHARE_URL,
    Proposal,
    authenticator_code,
    now_in_uk,
    section,
    status_of,
)
from .conftest import Screenshots
from .keyboard import (
    activate,
    choose,
    choose_radio,
    skip_to_page,
    type_datetime,
    type_into,
)

pytestmark = pytest.mark.e2e


def sign_in(page: Page, username: str) -> None:
    page.goto("/")
    type_into(page, page.get_by_label("Username", exact=True), username)
    type_into(page, page.get_by_label("Password", exact=True), PASSWORD)
    page.keyboard.press("Enter")
    if username in SECOND_FACTOR_ACCOUNTS:
        type_into(page, page.get_by_label("Code", exact=True), authenticator_code(username))
        page.keyboard.press("Enter")
    # Everyone lands on their home page: what needs them now.
    page.wait_for_url("**/safeguarding/")


def sign_out(page: Page) -> None:
    """Open the account part of the menu, under the person's name, and log out."""
    activate(page, page.get_by_role("button", name="Your account: show or hide Log out"))
    activate(
        page, page.get_by_role("button", name="Log out", exact=True), goes_to="/accounts/login/"
    )


def menu_link(page: Page, name: str) -> None:
    link = page.locator(".vf-page__menu").get_by_role("link", name=name, exact=True)
    activate(page, link, goes_to=str(link.get_attribute("href")))


def propose(page: Page, proposal: Proposal) -> int:
    menu_link(page, "Cases")
    skip_to_page(page)
    activate(page, page.get_by_role("link", name="OAK-001", exact=True), goes_to=r"/cases/\d+/$")
    activate(page, page.get_by_role("link", name="Propose a share"), goes_to="/propose/$")
    skip_to_page(page)

    def field(label: str) -> Locator:
        return page.get_by_label(label, exact=True)

    type_into(page, field("Purpose"), proposal.purpose)
    choose(page, field("Urgency"), proposal.urgency)
    choose(page, field("Recipient"), proposal.recipient)
    choose(page, field("Method of sending"), proposal.sending_method)
    choose(page, field("Lawful basis (UK GDPR Art 6)"), proposal.lawful_basis)
    choose(page, field("Consent status"), proposal.consent_status)
    choose(page, field("Why consent was not sought"), proposal.consent_not_sought_reason)
    choose(page, field("Has the family been told?"), proposal.family_informed)
    choose(page, field("Why they have not been told"), proposal.family_not_told_reason)
    type_into(page, field("Risk to the child or others if we share"), proposal.risk_if_shared)
    type_into(page, field("Risk if we do not share"), proposal.risk_if_not_shared)
    choose(page, field("Category"), proposal.category)
    type_into(page, field("Content"), proposal.content)
    type_into(page, field("Why it is needed"), proposal.necessity)
    activate(
        page, page.get_by_role("button", name="Submit for lead review"), goes_to=SHARE_URL.pattern
    )
    match = SHARE_URL.search(page.url.split("#")[0])
    assert match
    return int(match.group(1))


def test_the_whole_tour_can_be_done_by_keyboard_alone(
    new_context: Callable[..., BrowserContext], shot: Screenshots
) -> None:
    page = new_context().new_page()
    proposal = Proposal(purpose="Keyboard tour: tell social care about a bruise.")

    sign_in(page, "practitioner")
    number = propose(page, proposal)
    expect(status_of(page)).to_have_text("Awaiting lead review")
    shot(page, "practitioner submitted by keyboard")
    sign_out(page)

    sign_in(page, "lead")
    menu_link(page, "Lead review queue")
    skip_to_page(page)
    activate(
        page,
        page.get_by_role("link", name=f"Review share #{number}", exact=True),
        goes_to="/review/$",
    )
    shot(page, "lead opened the review by keyboard")
    skip_to_page(page)
    # The lead writes the reasons first, then goes back up to the outcome.
    reasons = page.get_by_label("Reasons (kept on the record, whatever the outcome)", exact=True)
    type_into(page, reasons, "Necessary and proportionate; decided by keyboard.")
    choose_radio(page, page.get_by_role("radio", name="Approve", exact=True), backwards=True)
    activate(
        page, page.get_by_role("button", name="Record the decision"), goes_to=SHARE_URL.pattern
    )
    expect(status_of(page)).to_have_text("Approved, awaiting release")
    shot(page, "lead approved by keyboard")
    sign_out(page)

    sign_in(page, "practitioner")
    menu_link(page, "My proposed shares")
    skip_to_page(page)
    activate(
        page,
        page.get_by_role("link", name=f"Share #{number}", exact=True),
        goes_to=SHARE_URL.pattern,
    )
    skip_to_page(page)
    activate(page, page.get_by_role("link", name="Record the release"), goes_to="/release/$")
    skip_to_page(page)
    type_datetime(page, page.get_by_label("When it was sent", exact=True), now_in_uk())
    type_into(page, page.get_by_label("Note (optional)", exact=True), "Sent from the office PC.")
    shot(page, "practitioner records the release by keyboard")
    activate(
        page,
        page.get_by_role("button", name="Record the release"),
        key="Space",
        goes_to=SHARE_URL.pattern,
    )

    expect(status_of(page)).to_have_text("Released")
    expect(section(page, "Release")).to_contain_text(proposal.content)
    shot(page, "the share is released")
