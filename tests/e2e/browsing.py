"""What people do on the site, step by step, with the mouse: sign in, propose, decide, release.

Every step goes through the pages and their visible labels, as a person would; the only
addresses typed are the site's own front door and, where a test needs it, a record's page.
"""

from __future__ import annotations

import re
import time
from base64 import b32decode
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from django_otp.oath import totp
from playwright.sync_api import Locator, Page, expect

from workflows.demo import DEMO_AUTHENTICATOR_SECRET

PASSWORD = "safeshare-demo"  # the demo accounts' published password (README)
# The demo accounts whose roles sign in with a second factor (the demo secret's app).
SECOND_FACTOR_ACCOUNTS = frozenset({"lead", "deputy", "manager", "auditor", "otherlead"})
UK = ZoneInfo("Europe/London")
SHARE_URL = re.compile(r"/safeguarding/shares/(\d+)/$")


@dataclass
class Proposal:
    """What a practitioner types into the share form, as in the README's tour."""

    purpose: str
    category: str = "Observation"
    content: str = "Bruise seen on the left forearm at drop-off; body map completed."
    necessity: str = "Social care need the observation to decide whether to assess."
    urgency: str = "Urgent"
    recipient: str = "Sam Carter, Northshire Children's Social Care"
    sending_method: str = "Secure email"
    lawful_basis: str = "Art 6(1)(f) legitimate interests"
    consent_status: str = "Not sought"
    consent_not_sought_reason: str = "Seeking it would increase the risk"
    family_informed: str = "No: the family has not been told"
    family_not_told_reason: str = "Telling them would increase the risk to the child"
    risk_if_shared: str = "The family may stop bringing the child to nursery for a while."
    risk_if_not_shared: str = "Injuries could go on without anyone assessing them."


# The last time-step whose code each account used: an authenticator code is accepted once,
# so a second sign-in within the same 30 seconds uses the next step's code (the site
# accepts one step either side), or waits for it. Never the step before: the code is checked
# a moment after it is read, and a 30-second boundary in between would put it two steps old.
_LAST_STEP: dict[str, int] = {}


def authenticator_code(username: str, secret: str = DEMO_AUTHENTICATOR_SECRET) -> str:
    """What the person's authenticator app shows now: the demo's published secret unless
    the test set up an app of its own."""
    now_step = int(time.time()) // 30
    step = max(now_step, _LAST_STEP.get(username, -1) + 1)
    while step > now_step + 1:
        time.sleep(1)
        now_step = int(time.time()) // 30
    _LAST_STEP[username] = step
    return f"{totp(b32decode(secret), t0=0, step=30, drift=step - now_step):06d}"


def give_code_if_asked(page: Page, username: str) -> None:
    """After the password: the second step, for the accounts whose role needs one."""
    if username in SECOND_FACTOR_ACCOUNTS:
        page.get_by_label("Code", exact=True).fill(authenticator_code(username))
        page.get_by_role("button", name="Sign in").click()


def sign_in(page: Page, username: str) -> None:
    page.goto("/")
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    give_code_if_asked(page, username)
    expect(page.get_by_role("button", name="Your account: show or hide Log out")).to_be_visible()


def menu(page: Page, name: str | re.Pattern[str]) -> None:
    """Follow a link of the menu drawer."""
    page.locator(".vf-page__menu").get_by_role("link", name=name, exact=True).click()


def share_number(page: Page) -> int:
    """The number of the share whose page is open."""
    page.wait_for_url(SHARE_URL)
    match = SHARE_URL.search(page.url)
    assert match, page.url
    return int(match.group(1))


def status_of(page: Page) -> Locator:
    return page.get_by_role("heading", level=1).locator(".ss-status")


def fill_share_form(page: Page, proposal: Proposal) -> None:
    page.get_by_label("Purpose", exact=True).fill(proposal.purpose)
    page.get_by_label("Urgency", exact=True).select_option(label=proposal.urgency)
    page.get_by_label("Recipient", exact=True).select_option(label=proposal.recipient)
    page.get_by_label("Method of sending", exact=True).select_option(label=proposal.sending_method)
    page.get_by_label("Lawful basis (UK GDPR Art 6)", exact=True).select_option(
        label=proposal.lawful_basis
    )
    page.get_by_label("Consent status", exact=True).select_option(label=proposal.consent_status)
    page.get_by_label("Why consent was not sought", exact=True).select_option(
        label=proposal.consent_not_sought_reason
    )
    page.get_by_label("Has the family been told?", exact=True).select_option(
        label=proposal.family_informed
    )
    page.get_by_label("Why they have not been told", exact=True).select_option(
        label=proposal.family_not_told_reason
    )
    page.get_by_label("Risk to the child or others if we share", exact=True).fill(
        proposal.risk_if_shared
    )
    page.get_by_label("Risk if we do not share", exact=True).fill(proposal.risk_if_not_shared)
    page.get_by_label("Category", exact=True).select_option(label=proposal.category)
    page.get_by_label("Content", exact=True).fill(proposal.content)
    page.get_by_label("Why it is needed", exact=True).fill(proposal.necessity)


def propose(page: Page, case_reference: str, proposal: Proposal, *, submit: bool = True) -> int:
    """From the case list, propose a share on the case; return the new share's number."""
    menu(page, "Cases")
    page.get_by_role("link", name=case_reference, exact=True).click()
    page.get_by_role("link", name="Propose a share").click()
    fill_share_form(page, proposal)
    if submit:
        page.get_by_role("button", name="Submit for lead review").click()
        return share_number(page)
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_url(re.compile(r"/shares/\d+/edit/$"))
    number = int(re.findall(r"/shares/(\d+)/edit/", page.url)[0])
    page.get_by_role("link", name="Back to the share").click()
    return number


def open_review(page: Page, number: int) -> None:
    """The lead opens the share's review from their queue."""
    menu(page, "Lead review queue")
    page.get_by_role("link", name=f"Review share #{number}", exact=True).click()
    expect(page.get_by_role("heading", name=f"Review share #{number}", level=1)).to_be_visible()


def decide(page: Page, outcome: str, reasons: str, refusal_reason: str | None = None) -> None:
    page.get_by_role("radio", name=outcome, exact=True).check()
    if refusal_reason:
        page.get_by_label("Main reason for refusing", exact=True).select_option(
            label=refusal_reason
        )
    page.get_by_label("Reasons (kept on the record, whatever the outcome)", exact=True).fill(
        reasons
    )
    page.get_by_role("button", name="Record the decision").click()


def open_my_share(page: Page, number: int) -> None:
    menu(page, "My proposed shares")
    page.get_by_role("link", name=f"Share #{number}", exact=True).click()
    share_number(page)


def now_in_uk() -> datetime:
    """The time on a UK wall clock, to the minute, as the release forms take it."""
    return datetime.now(UK).replace(second=0, microsecond=0)


def section(page: Page, heading: str) -> Locator:
    """A section of a record page, found by its heading."""
    return page.locator("section").filter(has=page.get_by_role("heading", name=heading, exact=True))


def share_link_in_state(page: Page, state: str) -> str:
    """The address of the first share in the open list whose state reads ``state``."""
    row = page.get_by_role("row").filter(has=page.get_by_text(state, exact=True)).first
    href = row.get_by_role("link", name=re.compile(r"^Share #\d+$")).get_attribute("href")
    assert href, f"No share reads {state!r} on {page.url}"
    return href
