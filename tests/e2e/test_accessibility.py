"""axe-core on every page people reach: no serious or critical accessibility violation.

axe runs from the copy that axe-playwright-python ships (no network). Every rule axe has
is on; the pages are fixed, not the rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page

from .browsing import menu, share_link_in_state, sign_in
from .conftest import CONTEXT_OPTIONS, Screenshots
from .server import DemoServer

pytestmark = pytest.mark.e2e

SERIOUS = {"serious", "critical"}

# (who, address, what): {case} and the share states are filled in from the demo data.
PAGES = [
    (None, "/accounts/login/", "sign in"),
    (None, "/accounts/password-reset/", "forgotten password"),
    (None, "/accounts/reset/MQ/not-a-token/", "a password link that no longer works"),
    ("practitioner", "/safeguarding/", "landing page: what needs me now"),
    ("lead", "/safeguarding/", "landing page of a lead: what needs me now"),
    ("practitioner", "/safeguarding/cases/", "the case list"),
    ("lead", "/safeguarding/cases/", "the case list of a lead"),
    ("lead", "/safeguarding/search/?q=OAK", "search results"),
    ("practitioner", "/safeguarding/search/?q=M", "a search too short to run"),
    ("practitioner", "{case}", "case page"),
    ("lead", "{case}", "case page with its team and viewers"),
    ("lead", "/safeguarding/cases/{case_pk}/chronology/", "case chronology"),
    ("practitioner", "/safeguarding/cases/{case_pk}/propose/", "share form"),
    ("practitioner", "{draft}edit/", "draft being edited"),
    ("practitioner", "{draft}emergency/", "emergency release form"),
    ("practitioner", "{draft}withdraw/", "withdraw form"),
    ("practitioner", "{draft}advice/", "asking for advice"),
    ("practitioner", "{released}", "share page of a released share"),
    ("practitioner", "{approved}release/", "release form"),
    ("practitioner", "{approved}send/", "sending securely"),
    ("practitioner", "{released}family-told/", "telling the family"),
    ("lead", "/safeguarding/review/", "lead review queue"),
    ("lead", "/safeguarding/files/", "child protection files sent and received"),
    ("lead", "/safeguarding/review/?state=overdue&urgency=urgent", "lead review queue, filtered"),
    ("practitioner", "{refused}ask-reconsideration/", "asking for a reconsideration"),
    ("lead", "/safeguarding/notifications/", "a lead's notifications"),
    ("lead", "{emergency}review/", "lead review page"),
    ("lead", "{released}record/", "decision record"),
    ("lead", "{refused}record/", "decision record of a refusal"),
    ("lead", "{refused}reconsider/", "reconsidering a decision"),
    ("manager", "/safeguarding/reports/", "reports"),
    ("practitioner", "/safeguarding/shares/", "my proposed shares"),
    ("deputy", "/safeguarding/notifications/", "notifications"),
    ("practitioner", "/safeguarding/family-follow-ups/", "families to tell"),
    ("colleague", "/safeguarding/advice/", "advice asked of me"),
    ("lead", "/safeguarding/deadlines/", "deadlines"),
    ("lead", "/safeguarding/setting/import/", "importing children or staff"),
    ("lead", "/safeguarding/break-glass/review/", "break-glass review"),
    ("colleague", "/safeguarding/break-glass/", "break glass"),
    ("auditor", "/safeguarding/audit/", "audit log"),
    ("lead", "/safeguarding/audit/?kind=sign_in", "audit log, sign-ins only"),
    ("lead", "/safeguarding/staff/sign-in/", "staff sign-in"),
    ("lead", "/safeguarding/setting/staff/", "staff: invite, change a role, end a membership"),
    ("lead", "{staff_member}", "a member of staff: their role, ending their membership"),
    ("lead", "/safeguarding/setting/", "setting details"),
    ("lead", "/safeguarding/setting/term-dates/", "term dates: closures, adding one"),
    ("lead", "/safeguarding/setting/children/", "the children on the roll"),
    ("lead", "{child}", "a child's details and carers"),
    ("lead", "/safeguarding/setting/children/add/", "adding a child"),
    ("lead", "{child}open-case/", "opening a case"),
    ("deputy", "/safeguarding/setting/address-book/", "the address book"),
    ("lead", "{recipient}", "an address book entry"),
    ("lead", "/safeguarding/setting/address-book/add/", "adding a recipient"),
    ("lead", "{recipient}retire/", "retiring a recipient"),
    ("lead", "/safeguarding/account/", "one's own sign-in"),
    ("practitioner", "/safeguarding/account/", "one's own sign-in, password only"),
    ("practitioner", "/safeguarding/account/password/", "changing one's password"),
    (
        "practitioner",
        "/safeguarding/account/authenticator/",
        "setting up an app from one's sign-in",
    ),
    # viewflow's page of a share's steps, the one of its own pages still linked (its lists
    # only redirect to the Safeguarding pages above).
    ("lead", "{released_steps}", "a share's steps"),
]


@pytest.fixture(scope="package")
def axe() -> Axe:
    return Axe()


@pytest.fixture(scope="package")
def demo_addresses(browser: Browser, server: DemoServer) -> Iterator[dict[str, str]]:
    """Where the demo's case OAK-001 and a share in each state live, from the pages' links."""
    context = browser.new_context(base_url=server.base_url, **CONTEXT_OPTIONS)
    page = context.new_page()
    sign_in(page, "practitioner")
    menu(page, "Cases")
    case = page.get_by_role("link", name="OAK-001", exact=True).get_attribute("href") or ""
    menu(page, "My proposed shares")
    addresses = {
        "case": case,
        "case_pk": case.rstrip("/").rsplit("/", 1)[-1],
        "draft": share_link_in_state(page, "Draft"),
        "approved": share_link_in_state(page, "Approved, awaiting release"),
        "released": share_link_in_state(page, "Released"),
        "refused": share_link_in_state(page, "Refused"),
        "emergency": share_link_in_state(
            page, "Released in an emergency, awaiting the lead's review"
        ),
    }
    page.goto(addresses["released"])
    steps = page.get_by_role("link", name="How this share moved through its steps")
    addresses["released_steps"] = steps.get_attribute("href") or ""
    context.close()
    # A child and an address-book entry, from the register the lead keeps.
    context = browser.new_context(base_url=server.base_url, **CONTEXT_OPTIONS)
    page = context.new_page()
    sign_in(page, "lead")
    menu(page, "Children")
    addresses["child"] = page.locator("tbody a").first.get_attribute("href") or ""
    menu(page, "Address book")
    addresses["recipient"] = page.locator("tbody a").first.get_attribute("href") or ""
    menu(page, "Staff")
    colleague = page.get_by_role("link", name="Colin Colleague", exact=True)
    addresses["staff_member"] = colleague.get_attribute("href") or ""
    context.close()
    yield addresses


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"]:
            lines.append(f"    {node['target']}: {node.get('failureSummary', '')!r}")
    return "\n".join(lines)


def serious_violations(page: Page, axe: Axe) -> list[dict[str, Any]]:
    violations = axe.run(page).response["violations"]
    return [violation for violation in violations if violation["impact"] in SERIOUS]


def _pages_of(username: str | None) -> list[tuple[str, str]]:
    return [(address, what) for who, address, what in PAGES if who == username]


@pytest.mark.parametrize(
    "username",
    [pytest.param(who, id=who or "visitor") for who in dict.fromkeys(w for w, *_ in PAGES)],
)
def test_the_pages_a_person_uses_have_no_serious_accessibility_violation(
    username: str | None,
    person: Callable[[str], Page],
    visitor: Page,
    demo_addresses: dict[str, str],
    axe: Axe,
    shot: Screenshots,
) -> None:
    """One browser per person, visiting each of their pages; every failure is reported."""
    page = person(username) if username else visitor
    failures = []
    for address, what in _pages_of(username):
        response = page.goto(address.format(**demo_addresses))
        assert response is not None and response.ok, (
            f"{what} at {address}: {response and response.status}"
        )
        # viewflow's pages draw their flow chart from a request of their own once loaded.
        page.wait_for_load_state("networkidle" if address.startswith("/share/") else "load")
        serious = serious_violations(page, axe)
        if serious:
            shot(page, what)
            failures.append(f"{what} ({page.url}):\n{describe(serious)}")
    assert not failures, "\n\n".join(failures)


def test_a_form_showing_its_errors_has_no_serious_accessibility_violation(
    person: Callable[[str], Page], demo_addresses: dict[str, str], axe: Axe, shot: Screenshots
) -> None:
    page = person("practitioner")
    page.goto(f"/safeguarding/cases/{demo_addresses['case_pk']}/propose/")
    page.get_by_role("button", name="Submit for lead review").click()
    page.get_by_role("alert").first.wait_for()
    shot(page, "form with errors")
    serious = serious_violations(page, axe)
    assert not serious, describe(serious)


def test_the_check_itself_catches_a_page_with_serious_problems(visitor: Page, axe: Axe) -> None:
    visitor.set_content(
        '<html lang="en"><title>Bad</title><main><img src="photo.png">'
        "<button></button><input type=text></main></html>"
    )
    found = {violation["id"] for violation in serious_violations(visitor, axe)}
    assert {"image-alt", "button-name", "label"} <= found
