"""Working the site with the keyboard alone: Tab, Shift+Tab, Enter, Space, arrows and typing.

Each helper moves the focus the way a keyboard user does and fails when a control cannot be
reached within a bound, which is what makes the keyboard tour a proof of reachability.
"""

from __future__ import annotations

import re
from datetime import datetime

from playwright.sync_api import Locator, Page, expect

# More stops than any page of the site has between two controls a person uses one after the
# other, menu included.
MAX_PRESSES = 120
IS_FOCUSED = "element => element === document.activeElement"


def describe_focus(page: Page) -> str:
    return page.evaluate(
        """() => {
            const el = document.activeElement;
            if (!el) return 'nothing';
            const name = el.getAttribute('aria-label') || el.innerText || el.name || el.id || '';
            return `${el.tagName.toLowerCase()} "${name.trim().slice(0, 60)}"`;
        }"""
    )


def tab_to(page: Page, target: Locator, *, backwards: bool = False) -> None:
    """Press Tab (or Shift+Tab) until ``target`` has the focus."""
    key = "Shift+Tab" if backwards else "Tab"
    target.wait_for(state="attached")
    for _ in range(MAX_PRESSES):
        if target.evaluate(IS_FOCUSED):
            return
        page.keyboard.press(key)
    if not target.evaluate(IS_FOCUSED):
        raise AssertionError(
            f"{key} pressed {MAX_PRESSES} times never reached {target}; "
            f"the focus is on {describe_focus(page)}"
        )


def skip_to_page(page: Page) -> None:
    """Past the menu in one step, as keyboard users do: the skip link, then Enter."""
    # Only once the page has loaded: its scripts start the menu as it loads, and on a busy
    # machine a skip made before that could see the focus sent back to the page's body.
    page.wait_for_load_state("load")
    tab_to(page, page.get_by_role("link", name="Skip to the page"))
    page.keyboard.press("Enter")
    # Moving the focus can land a moment after the key on a loaded machine: wait for it.
    try:
        expect(page.locator("main")).to_be_focused(timeout=5000)
    except AssertionError as missed:
        raise AssertionError(f"focus on {describe_focus(page)}") from missed


def activate(page: Page, target: Locator, *, key: str = "Enter", goes_to: str = "") -> None:
    """Reach a link or button and press Enter (or Space); wait for the page it leads to."""
    tab_to(page, target)
    page.keyboard.press(key)
    if goes_to:
        # A redirect keeps the "#main" the skip link added: compare the address without it.
        page.wait_for_url(lambda url: re.search(goes_to, url.split("#")[0]) is not None)


def type_into(page: Page, field: Locator, text: str, *, backwards: bool = False) -> None:
    tab_to(page, field, backwards=backwards)
    page.keyboard.type(text)


def choose(page: Page, select: Locator, option: str) -> None:
    """Pick an option of a closed drop-down with Home and the down arrow."""
    tab_to(page, select)
    labels: list[str] = select.evaluate("el => [...el.options].map(o => o.label.trim())")
    page.keyboard.press("Home")
    for _ in range(labels.index(option)):
        page.keyboard.press("ArrowDown")
    chosen = select.evaluate("el => el.options[el.selectedIndex].label.trim()")
    assert chosen == option, f"{select} shows {chosen!r}, not {option!r}"


def choose_radio(page: Page, radio: Locator, *, backwards: bool = False) -> None:
    """Tab into the radio group, then move to ``radio`` with the arrow keys and select it."""
    group = radio.get_attribute("name")
    key = "Shift+Tab" if backwards else "Tab"
    in_group = "(name) => document.activeElement && document.activeElement.name === name"
    for _ in range(MAX_PRESSES):
        if page.evaluate(in_group, group):
            break
        page.keyboard.press(key)
    else:
        raise AssertionError(f"{key} never reached the {group!r} choices")
    size = page.locator(f'input[type="radio"][name="{group}"]').count()
    for _ in range(size):
        if radio.evaluate(IS_FOCUSED):
            break
        page.keyboard.press("ArrowDown")
    if not radio.is_checked():
        page.keyboard.press("Space")
    assert radio.is_checked(), f"{radio} could not be chosen; focus on {describe_focus(page)}"


def tick(page: Page, checkbox: Locator) -> None:
    tab_to(page, checkbox)
    page.keyboard.press("Space")
    assert checkbox.is_checked()


def type_datetime(page: Page, field: Locator, when: datetime) -> None:
    """Type a date and time into a date-time field, segment by segment.

    The browser lays the segments out by its own locale, which a page cannot read: day or
    month first, a 24-hour clock or one with AM/PM. A first, unambiguous entry tells which
    (1 February 2000, 1 o'clock, then "P": 13:00 on a 12-hour clock, 01:00 on a 24-hour
    one), then the real one is typed over it.
    """
    tab_to(page, field)
    _type_segments(page, "01", "02", "2000", "01", "00", "P")
    probe = field.input_value()
    day_first = probe.startswith("2000-02-01")
    assert day_first or probe.startswith("2000-01-02"), f"unexpected date-time {probe!r}"
    twelve_hour = probe.endswith("T13:00")
    for _ in range(7):  # back to the first segment; the arrow never leaves the field
        page.keyboard.press("ArrowLeft")
    day, month = f"{when.day:02d}", f"{when.month:02d}"
    first, second = (day, month) if day_first else (month, day)
    hour = f"{(when.hour % 12) or 12:02d}" if twelve_hour else f"{when.hour:02d}"
    half = "A" if when.hour < 12 else "P"
    _type_segments(page, first, second, f"{when.year}", hour, f"{when.minute:02d}", half)
    typed = when.strftime("%Y-%m-%dT%H:%M")
    assert field.input_value() == typed, f"{field} holds {field.input_value()!r}, not {typed!r}"


def _type_segments(
    page: Page, first: str, second: str, year: str, hour: str, minute: str, half: str
) -> None:
    # Two digits fill a day, month, hour or minute and move on; a year needs the arrow. On a
    # 24-hour clock the last arrow stays on the minutes and the letter is ignored.
    page.keyboard.type(first + second + year)
    page.keyboard.press("ArrowRight")
    page.keyboard.type(hour + minute)
    page.keyboard.press("ArrowRight")
    page.keyboard.type(half)
