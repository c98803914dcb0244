"""A share sent by secure link, in real browsers: the practitioner sends it, a social worker
outside Safeshare opens it with the code given by phone, reads it, downloads it and
acknowledges it, and the practitioner sees each of those on the share's page."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import BrowserContext, Page, expect

from .browsing import Proposal, decide, open_my_share, open_review, propose, section, status_of
from .conftest import Screenshots
from .server import DemoServer

pytestmark = pytest.mark.e2e

SERIOUS = {"serious", "critical"}


@pytest.fixture(scope="module")
def axe() -> Axe:
    return Axe()


def no_serious_violations(page: Page, axe: Axe) -> None:
    found = [
        f"{v['id']}: {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in axe.run(page).response["violations"]
        if v["impact"] in SERIOUS
    ]
    assert not found, f"{page.url}:\n" + "\n".join(found)


def link_in_email(server: DemoServer, before: int) -> str:
    """The link's path in the email the site printed after ``before`` (the embedded default
    prints each email to the server's log)."""
    log = server.log_path.read_text(errors="replace")[before:]
    found = re.search(r"Open it here: https?://[^/\s]+(/\S*received/\S+/)", log)
    assert found is not None, "no secure link email in the server's log"
    return found.group(1)


def test_social_care_opens_reads_downloads_and_acknowledges_a_share_sent_by_secure_link(
    person: Callable[[str], Page],
    new_context: Callable[..., BrowserContext],
    server: DemoServer,
    axe: Axe,
    shot: Screenshots,
) -> None:
    proposal = Proposal(purpose="Tell social care about a bruise seen at drop-off, securely.")
    practitioner = person("practitioner")
    number = propose(practitioner, "OAK-001", proposal)
    lead = person("lead")
    open_review(lead, number)
    decide(lead, "Approve", "Necessary and proportionate: social care must assess today.")

    open_my_share(practitioner, number)
    practitioner.get_by_role("link", name="Send securely").click()
    expect(practitioner.get_by_text("social_care@northshire.example.org")).to_be_visible()
    no_serious_violations(practitioner, axe)
    shot(practitioner, "practitioner reads how the link is sent")
    log_before = server.log_path.stat().st_size
    practitioner.get_by_role("button", name="Send securely").click()
    expect(status_of(practitioner)).to_have_text("Released")
    code = practitioner.locator(".ss-code").inner_text()
    assert re.fullmatch(r"\d{4} \d{4}", code)
    shot(practitioner, "the code to give by phone, shown once")
    practitioner.reload()
    expect(practitioner.locator(".ss-code")).to_have_count(0)

    link = link_in_email(server, log_before)
    email = server.log_path.read_text(errors="replace")[log_before:]
    for secret in ("Maisie", proposal.content, code.replace(" ", "")):
        assert secret not in email

    social_worker = new_context().new_page()
    social_worker.goto(link)
    expect(social_worker.get_by_role("heading", level=1)).to_contain_text("Oakfield")
    expect(social_worker.get_by_text(proposal.content)).to_have_count(0)
    no_serious_violations(social_worker, axe)
    shot(social_worker, "social worker is asked for the code")
    social_worker.get_by_label("Your name").fill("Sam Carter")
    social_worker.get_by_label("Code").fill("0000 0001")
    social_worker.get_by_role("button", name="Open").click()
    expect(social_worker.get_by_text("That code is not right. 4 tries left")).to_be_visible()
    expect(social_worker.get_by_label("Your name")).to_have_value("Sam Carter")
    no_serious_violations(social_worker, axe)
    social_worker.get_by_label("Code").fill(code)
    social_worker.get_by_role("button", name="Open").click()

    expect(social_worker.get_by_text(proposal.content)).to_be_visible()
    expect(social_worker.get_by_text(proposal.purpose)).to_be_visible()
    no_serious_violations(social_worker, axe)
    shot(social_worker, "social worker reads exactly what was approved")
    with social_worker.expect_download() as download:
        social_worker.get_by_role("link", name="Download as PDF").click()
    assert download.value.suggested_filename.endswith(".pdf")
    social_worker.get_by_role("button", name="Acknowledge receipt").click()
    expect(social_worker.get_by_text("Tick the box to confirm")).to_be_visible()
    social_worker.get_by_label("I confirm I have received this information").check()
    social_worker.get_by_role("button", name="Acknowledge receipt").click()
    expect(social_worker.get_by_text("Receipt was acknowledged by Sam Carter")).to_be_visible()
    shot(social_worker, "social worker acknowledges receipt")

    practitioner.reload()
    links = section(practitioner, "Sent by secure link")
    for happened in (
        "A wrong code was entered",
        "Opened with the code",
        "Downloaded as a PDF",
        "Receipt acknowledged",
    ):
        expect(links).to_contain_text(happened)
    expect(links).to_contain_text("Sam Carter")
    shot(practitioner, "the share page shows the link opened, downloaded and acknowledged")

    # The practitioner revokes it: the link now says only that it is no longer available.
    practitioner.get_by_role("button", name="Revoke link 1").click()
    expect(practitioner.get_by_text("The link is revoked")).to_be_visible()
    gone = new_context().new_page()
    gone.goto(link)
    expect(gone.get_by_role("heading", level=1)).to_have_text("This link is no longer available")
    expect(gone.get_by_text("Oakfield")).to_have_count(0)
    no_serious_violations(gone, axe)
    shot(gone, "a revoked link says only that it is no longer available")
