"""A draft's dates in Chromium: saved, reopened, returned and resubmitted, and still there.

A date input whose value is not ``yyyy-mm-dd`` looks empty (``input.value`` is ""), and the
next save of the form erases the date: ``to_have_value`` reads that same ``input.value``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest
from playwright.sync_api import Locator, Page, expect

from .browsing import (
    Proposal,
    decide,
    now_in_uk,
    open_my_share,
    open_review,
    propose,
    section,
    status_of,
)
from .conftest import Screenshots

pytestmark = pytest.mark.e2e

Person = Callable[[str], Page]


def _in_words(day: date) -> str:
    """A day as the decision record writes it: 26 February 2026."""
    return f"{day.day} {day:%B %Y}"


def _recorded(record: Locator, label: str) -> Locator:
    """The value beside ``label`` in the decision record's list."""
    return record.locator("dt", has_text=label).locator("xpath=following-sibling::dd[1]")


def _expect_dates(page: Page, asked: date, told: date) -> None:
    expect(page.get_by_label("When they asked", exact=True)).to_have_value(asked.isoformat())
    expect(page.get_by_label("When they were told", exact=True)).to_have_value(told.isoformat())


def test_a_drafts_dates_survive_saving_returning_and_resubmitting(
    person: Person, shot: Screenshots
) -> None:
    today = now_in_uk().date()
    asked, told = today - timedelta(days=3), today - timedelta(days=2)
    practitioner = person("practitioner")
    number = propose(
        practitioner,
        "OAK-001",
        Proposal(purpose="Answer the health visitor's request about weight checks."),
        submit=False,
    )

    practitioner.get_by_role("link", name="Edit and submit").click()
    practitioner.get_by_label("Direction", exact=True).select_option(
        label="Answering a request from another agency"
    )
    practitioner.get_by_label("Who asked", exact=True).fill("Jo Hale, health visitor")
    practitioner.get_by_label("When they asked", exact=True).fill(asked.isoformat())
    practitioner.get_by_label("Has the family been told?", exact=True).select_option(
        label="Yes: the family has been told"
    )
    practitioner.get_by_label("When they were told", exact=True).fill(told.isoformat())
    practitioner.get_by_label("Who told them", exact=True).fill("Priya, at collection")
    practitioner.get_by_role("button", name="Save draft").click()
    expect(practitioner.get_by_text("Draft saved.")).to_be_visible()

    # Reopened from the share page, the dates are in their boxes; saved again untouched,
    # they stay.
    practitioner.get_by_role("link", name="Back to the share").click()
    practitioner.get_by_role("link", name="Edit and submit").click()
    _expect_dates(practitioner, asked, told)
    shot(practitioner, "the reopened draft shows its dates")
    practitioner.get_by_role("button", name="Save draft").click()
    expect(practitioner.get_by_text("Draft saved.")).to_be_visible()
    _expect_dates(practitioner, asked, told)
    practitioner.get_by_role("button", name="Submit for lead review").click()
    expect(status_of(practitioner)).to_have_text("Awaiting lead review")

    lead = person("lead")
    open_review(lead, number)
    decide(lead, "Return for more information", "Say which weight checks were missed.")
    expect(status_of(lead)).to_have_text("Draft")

    open_my_share(practitioner, number)
    practitioner.get_by_role("link", name="Edit and submit").click()
    _expect_dates(practitioner, asked, told)
    shot(practitioner, "the returned draft still shows its dates")
    practitioner.get_by_role("button", name="Submit for lead review").click()
    expect(status_of(practitioner)).to_have_text("Awaiting lead review")

    practitioner.get_by_role("link", name="decision record").click()
    proposal = section(practitioner, "What was proposed, to whom, and why")
    expect(_recorded(proposal, "When they asked")).to_have_text(_in_words(asked))
    family = section(practitioner, "Openness with the family")
    expect(_recorded(family, "When they were told")).to_have_text(_in_words(told))
    shot(practitioner, "the decision record shows both dates")
