"""Someone outside a child's case finds nothing: no listing, and "not found" at every address."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from .browsing import menu
from .conftest import Screenshots

pytestmark = pytest.mark.e2e

# What would give Oakfield's children away: their case references and names.
OAKFIELD_CHILDREN = ("OAK-001", "OAK-002", "OAK-003", "Maisie", "Leo Okafor", "Ava Patel")


def _addresses_known_to_the_case_team(practitioner: Page) -> dict[str, str]:
    """Addresses of Maisie's case and of a share of her key worker's, as their pages link them."""
    menu(practitioner, "Cases")
    case = practitioner.get_by_role("link", name="OAK-001", exact=True).get_attribute("href")
    practitioner.get_by_role("link", name="OAK-001", exact=True).click()
    propose = practitioner.get_by_role("link", name="Propose a share").get_attribute("href")
    menu(practitioner, "My proposed shares")
    share = practitioner.get_by_role("link", name="Share #").first.get_attribute("href")
    assert case and propose and share
    return {
        "case": case,
        "propose": propose,
        "share": share,
        "review": f"{share}review/",
        "release": f"{share}release/",
    }


@pytest.mark.parametrize("outsider", ["colleague", "otherlead"])
def test_someone_outside_the_case_finds_nothing(
    person: Callable[[str], Page], shot: Screenshots, outsider: str
) -> None:
    addresses = _addresses_known_to_the_case_team(person("practitioner"))

    page = person(outsider)
    menu(page, "Cases")
    for giveaway in OAKFIELD_CHILDREN:
        expect(page.get_by_text(giveaway)).to_have_count(0)
    shot(page, "the case list shows none of the cases")
    menu(page, "My proposed shares")
    expect(page.locator(f'a[href="{addresses["share"]}"]')).to_have_count(0)

    for what, address in addresses.items():
        response = page.goto(address)
        assert response is not None
        assert response.status == 404, f"{outsider} opened the {what} page at {address}"
        expect(page.get_by_text("Maisie")).to_have_count(0)
        shot(page, f"the {what} page is not found")
