"""A form's errors are announced next to their field, and tied to it for screen readers."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Locator, Page, expect

from .browsing import Proposal, decide, menu, open_review, propose
from .conftest import Screenshots

pytestmark = pytest.mark.e2e


def assert_error_tied_to(page: Page, control: Locator, message: str) -> None:
    """The message sits in the control's field, is its description, and marks it invalid."""
    control_id = control.get_attribute("id")
    error = page.locator(f"#{control_id}-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text(message)
    expect(control).to_have_attribute("aria-invalid", "true")
    described_by = (control.get_attribute("aria-describedby") or "").split()
    assert f"{control_id}-error" in described_by
    expect(control).to_have_accessible_description(error.inner_text().strip())
    # Next to the field: inside the same field block as the control it concerns.
    field = page.locator(".ss-field").filter(has=control)
    expect(field.locator(f"#{control_id}-error")).to_have_count(1)


def test_an_incomplete_share_says_what_is_missing_next_to_each_field(
    person: Callable[[str], Page], shot: Screenshots
) -> None:
    page = person("practitioner")
    menu(page, "Cases")
    page.get_by_role("link", name="OAK-001", exact=True).click()
    page.get_by_role("link", name="Propose a share").click()
    purpose = "Tell the health visitor Maisie has lost weight again."
    page.get_by_label("Purpose", exact=True).fill(purpose)
    with page.expect_response(lambda response: response.request.method == "POST") as posted:
        page.get_by_role("button", name="Submit for lead review").click()

    assert posted.value.status == 400
    expect(page.get_by_role("alert").filter(has_text="need attention")).to_be_visible()
    assert_error_tied_to(
        page,
        page.get_by_label("Recipient", exact=True),
        "Choose the named person, at a named organisation, who will receive this.",
    )
    assert_error_tied_to(
        page,
        page.get_by_label("Risk to the child or others if we share", exact=True),
        "Describe the risk to the child or others if this information is shared.",
    )
    expect(page.get_by_label("Purpose", exact=True)).to_have_value(purpose)
    shot(page, "the errors are shown beside their fields")


def test_a_refusal_without_its_coded_reason_is_pointed_out_beside_the_reason(
    person: Callable[[str], Page], shot: Screenshots
) -> None:
    # A share of its own to decide, whatever other tests left in the queue.
    number = propose(person("practitioner"), "OAK-001", Proposal(purpose="Refer the bruising."))
    page = person("lead")
    open_review(page, number)

    page.get_by_role("button", name="Record the decision").click()
    outcome = page.get_by_role("group", name="Outcome")
    expect(outcome).to_have_accessible_description("This field is required.")
    shot(page, "no outcome chosen")

    decide(page, "Refuse", "Not needed: social care already know.")
    expect(page.get_by_role("heading", name="Review share #", level=1)).to_be_visible()
    reason = page.get_by_label("Main reason for refusing", exact=True)
    assert_error_tied_to(page, reason, "Choose the main reason for refusing.")
    expect(page.get_by_role("radio", name="Refuse", exact=True)).to_be_checked()
    expect(
        page.get_by_label("Reasons (kept on the record, whatever the outcome)", exact=True)
    ).to_have_value("Not needed: social care already know.")
    shot(page, "the missing reason is shown beside its field")
