"""The README's tour in a real browser: a share proposed, decided every way, and released."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from .browsing import (
    Proposal,
    decide,
    menu,
    now_in_uk,
    open_my_share,
    open_review,
    propose,
    section,
    status_of,
)
from .conftest import Screenshots
from .server import DemoServer

pytestmark = pytest.mark.e2e

Person = Callable[[str], Page]


def test_an_approved_share_is_released_and_its_page_shows_exactly_what_was_sent(
    person: Person, shot: Screenshots
) -> None:
    proposal = Proposal(purpose="Tell social care about a bruise seen at drop-off.")
    practitioner = person("practitioner")
    number = propose(practitioner, "OAK-001", proposal)
    expect(status_of(practitioner)).to_have_text("Awaiting lead review")
    shot(practitioner, "practitioner submits the share")

    lead = person("lead")
    open_review(lead, number)
    expect(lead.get_by_text(proposal.content)).to_be_visible()
    shot(lead, "lead reads the share")
    decide(lead, "Approve", "Necessary and proportionate: social care must assess today.")
    expect(status_of(lead)).to_have_text("Approved, awaiting release")
    shot(lead, "lead approves")

    open_my_share(practitioner, number)
    expect(status_of(practitioner)).to_have_text("Approved, awaiting release")
    practitioner.get_by_role("link", name="Record the release").click()
    shot(practitioner, "practitioner opens the release form")
    practitioner.get_by_label("When it was sent", exact=True).fill(
        now_in_uk().strftime("%Y-%m-%dT%H:%M")
    )
    practitioner.get_by_role("button", name="Record the release").click()

    expect(status_of(practitioner)).to_have_text("Released")
    release = section(practitioner, "Release")
    expect(release).to_contain_text(f"{proposal.category}: {proposal.content}")
    expect(release).to_contain_text("Sam Carter, Northshire Children's Social Care by secure email")
    expect(section(practitioner, "Decisions")).to_contain_text("Grace Lead")
    shot(practitioner, "the share page shows what was sent")


def test_a_refused_share_shows_the_proposer_the_refusal_and_its_reasons(
    person: Person, shot: Screenshots
) -> None:
    practitioner = person("practitioner")
    number = propose(
        practitioner, "OAK-001", Proposal(purpose="Tell the dentist about missed check-ups.")
    )
    shot(practitioner, "practitioner submits the share")

    lead = person("lead")
    open_review(lead, number)
    reasons = "The dentist already has the attendance record from the family's own GP."
    decide(lead, "Refuse", reasons, refusal_reason="The recipient already holds this information")
    expect(status_of(lead)).to_have_text("Refused")
    shot(lead, "lead refuses with a coded reason")

    open_my_share(practitioner, number)
    expect(status_of(practitioner)).to_have_text("Refused")
    decisions = section(practitioner, "Decisions")
    expect(decisions).to_contain_text("Refuse")
    expect(decisions).to_contain_text("The recipient already holds this information")
    expect(decisions).to_contain_text(reasons)
    expect(practitioner.get_by_role("link", name="Record the release")).to_have_count(0)
    shot(practitioner, "practitioner reads the refusal")


def test_a_returned_share_is_edited_resubmitted_and_approved(
    person: Person, shot: Screenshots
) -> None:
    practitioner = person("practitioner")
    number = propose(practitioner, "OAK-001", Proposal(purpose="Share a disclosure at story time."))

    lead = person("lead")
    open_review(lead, number)
    asked_for = "Add what the child said, in her own words, and when."
    decide(lead, "Return for more information", asked_for)
    expect(status_of(lead)).to_have_text("Draft")
    shot(lead, "lead returns the share")

    open_my_share(practitioner, number)
    practitioner.get_by_role("link", name="Edit and submit").click()
    expect(practitioner.get_by_text(asked_for)).to_be_visible()
    shot(practitioner, "practitioner reads what the lead asked for")
    own_words = "At 10:40 she said: 'Daddy shouted and pushed me into the door.'"
    item = practitioner.get_by_role("group", name="Item 1", exact=True)
    item.get_by_label("Content", exact=True).fill(own_words)
    practitioner.get_by_role("button", name="Submit for lead review").click()
    expect(status_of(practitioner)).to_have_text("Awaiting lead review")
    shot(practitioner, "practitioner resubmits")

    open_review(lead, number)
    # The item as it is now, and in the comparison with the version returned.
    expect(lead.get_by_text(own_words)).to_have_count(2)
    expect(lead.get_by_role("table", name="Items added, removed or changed")).to_contain_text(
        own_words
    )
    decide(lead, "Approve", "With her own words this is clear: share it today.")
    expect(status_of(lead)).to_have_text("Approved, awaiting release")
    decisions = section(lead, "Decisions")
    expect(decisions).to_contain_text("Return for more information")
    expect(decisions).to_contain_text("Approve")
    shot(lead, "lead approves the resubmitted share")


def test_an_overdue_urgent_share_brings_in_the_deputy_who_decides_it(
    server: DemoServer, person: Person, shot: Screenshots
) -> None:
    # The demo left an urgent share on OAK-002 undecided long past its deadline: a sweep of
    # the workflow timers (what Celery beat runs) escalates it.
    server.manage("shell", "-c", "from workflows.tasks import sweep_timers; print(sweep_timers())")
    deputy = person("deputy")
    menu(deputy, "Lead review queue")
    overdue = deputy.get_by_role("row").filter(has_text="Leo Okafor")
    review = overdue.get_by_role("link", name="Review share #")
    review_path = review.get_attribute("href")
    shot(deputy, "the overdue share waits in the queue")

    deputy.locator(".vf-page__menu").get_by_role("link", name="Notifications").click()
    notice = deputy.get_by_role("row").filter(has_text="A share's review is past its deadline")
    expect(notice.first).to_be_visible()
    shot(deputy, "deputy is notified")
    share_number = (review_path or "").rstrip("/").split("/")[-2]
    open_it = notice.get_by_role("link", name=re.compile(rf"^Open share #{share_number}\b")).first
    open_it.click()
    deputy.wait_for_url(f"**{review_path}")

    expect(deputy.get_by_role("heading", name="Review share #", level=1)).to_be_visible()
    expect(deputy.get_by_text("Leo Okafor").first).to_be_visible()
    shot(deputy, "deputy opens the review from the notification")
    decide(deputy, "Approve", "Decided on the lead's behalf: the concern cannot wait.")
    expect(status_of(deputy)).to_have_text("Approved, awaiting release")
    expect(section(deputy, "Decisions")).to_contain_text("Deputy, on behalf of the lead")
    shot(deputy, "deputy decides on behalf of the lead")


def test_an_emergency_release_is_reviewed_by_the_lead_afterwards(
    person: Person, shot: Screenshots
) -> None:
    proposal = Proposal(
        purpose="The child is afraid to go home tonight: tell the duty social worker.",
        urgency="Immediate risk",
    )
    practitioner = person("practitioner")
    number = propose(practitioner, "OAK-001", proposal, submit=False)
    expect(status_of(practitioner)).to_have_text("Draft")
    practitioner.get_by_role("link", name="Emergency release").click()
    justification = "Lead and deputy on a course with phones off; collection is at 17:30."
    practitioner.get_by_label(
        "Why the child is at immediate risk, and why no lead could be reached", exact=True
    ).fill(justification)
    practitioner.get_by_label("When it was sent", exact=True).fill(
        now_in_uk().strftime("%Y-%m-%dT%H:%M")
    )
    shot(practitioner, "practitioner releases in an emergency")
    practitioner.get_by_role("button", name="Release now").click()
    expect(status_of(practitioner)).to_have_text(
        "Released in an emergency, awaiting the lead's review"
    )
    expect(section(practitioner, "Release")).to_contain_text(proposal.content)
    shot(practitioner, "the share is released and awaits review")

    lead = person("lead")
    open_review(lead, number)
    expect(lead.get_by_text(justification)).to_be_visible()
    shot(lead, "lead finds the retrospective review in the queue")
    expect(lead.get_by_text("already been sent")).to_be_visible()
    decide(
        lead,
        "Endorse it: it was right to share",
        "Right call: the duty team needed it before collection.",
    )
    expect(status_of(lead)).to_have_text("Released")
    expect(section(lead, "Decisions")).to_contain_text("Right call")
    shot(lead, "lead records the retrospective review")
