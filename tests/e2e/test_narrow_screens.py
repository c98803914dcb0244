"""Pages that fit the screen: a long unbroken word in a table, or a phone's narrow window,
never makes the whole page scroll sideways (hiding its buttons); a table too wide scrolls
inside its own box."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page

from .browsing import menu, sign_in
from .conftest import Screenshots

pytestmark = pytest.mark.e2e

PHONE = {"width": 375, "height": 740}


def page_overflow(page: Page) -> int:
    """How many pixels the page is wider than the window (0 when it fits)."""
    return int(page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth"))


def test_the_setting_lists_fit_a_phone(new_context: Callable[..., Any], shot: Screenshots) -> None:
    page = new_context().new_page()
    sign_in(page, "lead")
    # Signed in at a laptop's width (the account menu folds away on a phone), then a phone's.
    page.set_viewport_size(PHONE)
    for address, what in [
        ("/safeguarding/setting/staff/", "staff"),
        ("/safeguarding/setting/address-book/", "address book"),
        ("/safeguarding/setting/children/", "children"),
    ]:
        page.goto(address)
        shot(page, what)
        assert page_overflow(page) <= 0, f"the {what} page scrolls sideways"


def test_a_long_unbroken_name_wraps_in_the_import_preview(
    new_context: Callable[..., Any], shot: Screenshots
) -> None:
    page = new_context().new_page()
    sign_in(page, "lead")
    menu(page, "Import children or staff")
    long_name = "A" * 300
    page.get_by_label("Staff", exact=True).check()
    page.locator("input[type=file]").set_input_files(
        files=[
            {
                "name": "staff.csv",
                "mimeType": "text/csv",
                "buffer": (
                    "Email,First name,Last name,Role\r\n"
                    f"long.name@oakfield.example,{long_name},Example,Practitioner\r\n"
                ).encode(),
            }
        ]
    )
    page.get_by_role("button", name="Check the file").click()
    page.get_by_role("heading", name="Check the import", exact=False).first.wait_for()
    shot(page, "preview")
    assert page_overflow(page) <= 0
    page.get_by_role("button", name="Discard the file").click()
