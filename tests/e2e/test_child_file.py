"""A child moves school: Oakfield's lead sends the child's protection file to Riverside's
lead, who opens it from their home page and accepts it; a case opens at Riverside with the
file attached, and Oakfield's lead sees that it was accepted.

On a demo server of its own: once the child is at Riverside, Riverside's lead rightly finds
them, which the other browser tests' demo must never show (test_need_to_know)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from .browsing import menu, now_in_uk, sign_in
from .conftest import Screenshots, _require_chromium, contexts_on
from .server import DemoServer

pytestmark = pytest.mark.e2e

SERIOUS = {"serious", "critical"}


@pytest.fixture(scope="module")
def axe() -> Axe:
    return Axe()


@pytest.fixture(scope="module")
def two_schools(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    _require_chromium()
    server = DemoServer(tmp_path_factory.mktemp("child-file"), kind="child_file")
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def person(
    request: pytest.FixtureRequest, chromium: Browser, two_schools: DemoServer
) -> Iterator[Callable[[str], Page]]:
    with contexts_on(request, chromium, two_schools) as make:

        def open_as(username: str) -> Page:
            page = make().new_page()
            sign_in(page, username)
            return page

        yield open_as


@pytest.fixture
def stranger(
    request: pytest.FixtureRequest, chromium: Browser, two_schools: DemoServer
) -> Iterator[Callable[[], Page]]:
    """A browser of someone outside Safeshare (a new school's lead opening a link)."""
    with contexts_on(request, chromium, two_schools) as make:
        yield lambda: make().new_page()


def no_serious_violations(page: Page, axe: Axe) -> None:
    found = [
        f"{v['id']}: {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in axe.run(page).response["violations"]
        if v["impact"] in SERIOUS
    ]
    assert not found, f"{page.url}:\n" + "\n".join(found)


def test_a_file_sent_to_the_new_school_is_accepted_and_attached_to_a_new_case(
    person: Callable[[str], Page], axe: Axe, shot: Screenshots
) -> None:
    lead = person("lead")
    menu(lead, "Children")
    child_link = lead.locator("tbody a").first
    child_name = child_link.inner_text()
    child_link.click()
    lead.get_by_role("link", name="Send the child protection file").click()
    no_serious_violations(lead, axe)
    shot(lead, "the lead chooses where the file goes")
    choice = lead.get_by_label("Send to").locator("option", has_text="Riverside").first
    lead.get_by_label("Send to").select_option(label=choice.inner_text())
    starts = (now_in_uk() + timedelta(days=7)).strftime("%Y-%m-%d")
    lead.get_by_label("The child's first day there").fill(starts)
    lead.get_by_role("button", name="Send the file").click()
    expect(lead.get_by_role("heading", level=1)).to_contain_text("Sent, not yet opened")
    file_page = lead.url
    shot(lead, "the file is sent")

    riverside = person("otherlead")
    riverside.goto("/safeguarding/")
    riverside.get_by_role(
        "link", name="child protection file from another setting to accept or reject"
    ).click()
    riverside.get_by_role("link", name=re.compile(r"File #\d+")).first.click()
    expect(riverside.get_by_role("heading", level=1)).to_contain_text("Opened by the receiving")
    expect(riverside.get_by_text(child_name.split(",")[0].split()[0]).first).to_be_visible()
    no_serious_violations(riverside, axe)
    shot(riverside, "the new school's lead reads the file")
    riverside.get_by_role("button", name="Reject the file").click()
    expect(riverside.get_by_text("Say why the file is rejected")).to_be_visible()
    riverside.get_by_role("button", name="Accept the file").click()
    expect(riverside.get_by_role("heading", level=1)).to_contain_text("Accepted")
    expect(riverside.get_by_text(re.compile(r"^case C-\d+ at Riverside"))).to_be_visible()
    shot(riverside, "accepted: attached to a new case")

    lead.goto(file_page)
    expect(lead.get_by_role("heading", level=1)).to_contain_text("Accepted")
    expect(lead.get_by_role("table", name="What happened to it")).to_contain_text("Accepted")
    shot(lead, "the sender sees the file was accepted")


def test_a_new_school_asks_for_a_file_and_the_previous_one_declines_saying_why(
    person: Callable[[str], Page], axe: Axe, shot: Screenshots
) -> None:
    riverside = person("otherlead")
    riverside.goto("/safeguarding/files/ask/")
    no_serious_violations(riverside, axe)
    riverside.get_by_label("The child's previous setting").select_option(label="Oakfield Nursery")
    riverside.get_by_label("Child's legal first name").fill("Rowan")
    riverside.get_by_label("Child's legal last name").fill("Ellis")
    riverside.get_by_label("Child's date of birth").fill("2021-05-04")
    starts = (now_in_uk() + timedelta(days=3)).strftime("%Y-%m-%d")
    riverside.get_by_label("The child's first day with you").fill(starts)
    riverside.get_by_role("button", name="Ask for the file").click()
    expect(riverside.get_by_role("heading", level=1)).to_contain_text("Waiting for the previous")
    request_page = riverside.url
    shot(riverside, "the new school asks for the file")

    lead = person("lead")
    lead.goto(request_page)
    no_serious_violations(lead, axe)
    lead.get_by_label("Why you are declining").fill("No child of that name was ever here.")
    lead.get_by_role("button", name="Decline the request").click()
    expect(lead.get_by_role("heading", level=1)).to_contain_text("Declined")

    riverside.goto(request_page)
    expect(riverside.get_by_text("No child of that name was ever here.")).to_be_visible()
    shot(riverside, "the new school reads why it was declined")


def link_in_email(server: DemoServer, before: int) -> str:
    log = server.log_path.read_text(errors="replace")[before:]
    found = re.search(r"Open it here: https?://[^/\s]+(/\S*received/\S+/)", log)
    assert found is not None, "no secure link email in the server's log"
    return found.group(1)


def send_outside(lead: Page, nth: int) -> str:
    """Send the nth child's file to Hilltop, outside Safeshare; the child's first name."""
    menu(lead, "Children")
    child_link = lead.locator("tbody tr td:first-child a").nth(nth)
    # The list reads "Last, First".
    first_name = child_link.inner_text().split(",")[1].split()[0]
    child_link.click()
    lead.get_by_role("link", name="Send the child protection file").click()
    outside = lead.get_by_label("Or, a setting outside Safeshare")
    outside.select_option(label=outside.locator("option", has_text="Hilltop").inner_text())
    starts = now_in_uk().strftime("%Y-%m-%d")
    lead.get_by_label("The child's first day there").fill(starts)
    lead.get_by_role("button", name="Send the file").click()
    expect(lead.get_by_role("heading", level=1)).to_contain_text("Sent, not yet opened")
    return first_name


def test_a_file_sent_outside_is_opened_with_its_code_and_its_receipt_confirmed(
    person: Callable[[str], Page],
    stranger: Callable[[], Page],
    two_schools: DemoServer,
    axe: Axe,
    shot: Screenshots,
) -> None:
    lead = person("lead")
    log_before = two_schools.log_path.stat().st_size
    first_name = send_outside(lead, 1)
    code = lead.locator(".ss-code").inner_text()
    assert re.fullmatch(r"\d{4} \d{4}", code)
    no_serious_violations(lead, axe)
    shot(lead, "the file went by secure link: the code to give by phone")
    file_page = lead.url
    link = link_in_email(two_schools, log_before)
    email = two_schools.log_path.read_text(errors="replace")[log_before:]
    assert first_name not in email and code.replace(" ", "") not in email

    new_school = stranger()
    new_school.goto(link)
    expect(new_school.get_by_role("heading", level=1)).to_have_text(
        "Information from Oakfield Nursery"
    )
    expect(new_school.get_by_text(first_name)).to_have_count(0)
    new_school.get_by_label("Your name").fill("Jo Bright")
    new_school.get_by_label("Code").fill(code)
    new_school.get_by_role("button", name="Open").click()
    expect(new_school.get_by_role("heading", level=1)).to_contain_text("child protection file")
    expect(new_school.get_by_text(first_name).first).to_be_visible()
    no_serious_violations(new_school, axe)
    shot(new_school, "the new school's lead reads the file")
    new_school.get_by_label("I confirm I have received this information").check()
    new_school.get_by_role("button", name="Acknowledge receipt").click()
    expect(new_school.get_by_text("Receipt was acknowledged by Jo Bright")).to_be_visible()

    lead.goto(file_page)
    expect(lead.get_by_role("heading", level=1)).to_contain_text("Receipt acknowledged")
    expect(lead.get_by_role("table", name="What happened to it")).to_contain_text("Jo Bright")
    shot(lead, "the sender sees the receipt confirmed")


def test_a_misdirected_file_is_withdrawn_and_its_link_opens_nothing(
    person: Callable[[str], Page],
    stranger: Callable[[], Page],
    two_schools: DemoServer,
    axe: Axe,
) -> None:
    lead = person("lead")
    log_before = two_schools.log_path.stat().st_size
    send_outside(lead, 2)
    link = link_in_email(two_schools, log_before)
    lead.get_by_role("button", name="Withdraw the file").click()
    expect(lead.get_by_text("Say why the file is withdrawn")).to_be_visible()
    no_serious_violations(lead, axe)
    lead.get_by_label("Why it is withdrawn").fill("Sent to the wrong school.")
    lead.get_by_role("button", name="Withdraw the file").click()
    expect(lead.get_by_role("heading", level=1)).to_contain_text("Withdrawn by the sender")
    gone = stranger()
    gone.goto(link)
    expect(gone.get_by_role("heading", level=1)).to_have_text("This link is no longer available")
