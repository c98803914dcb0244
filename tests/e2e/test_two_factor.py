"""Signing in with a second factor, in the browser: setting up an authenticator app, a
recovery code that works once, and a session that ends while someone is typing.

The journeys that change the deputy's second factor give the demo's app back afterwards
(``deputy_without_app``), since the server and the signed-in sessions cached by
``person(...)`` serve the whole e2e package.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, Response, expect

from .browsing import PASSWORD, authenticator_code, menu, sign_in
from .conftest import Screenshots
from .server import DemoServer
from .test_accessibility import Axe, describe

pytestmark = pytest.mark.e2e

NewContext = Callable[..., BrowserContext]
SIGNED_IN = "Your account: show or hide Log out"  # the account button on every signed-in page

# After its test, the deputy has the demo's authenticator again and no recovery codes, as
# ``seed_demo`` left them (``workflows.demo._demo_authenticator``).
_GIVE_THE_DEMO_APP_BACK = """
from django.contrib.auth import get_user_model
from django_otp.plugins.otp_totp.models import TOTPDevice
from workflows.demo import demo_authenticator_key
TOTPDevice.objects.create(
    user=get_user_model().objects.get(username="deputy"),
    key=demo_authenticator_key(),
    confirmed=True,
    name="Demo authenticator",
)
"""

# Moves the session's last request back past the idle limit, as 31 minutes away would.
_AGE_THE_SESSION = """
from django.contrib.sessions.backends.db import SessionStore
session = SessionStore(session_key={key!r})
state = session["safeshare.signed_in"]
session["safeshare.signed_in"] = {{**state, "seen": state["seen"] - 31 * 60}}
session.save()
"""


@pytest.fixture(scope="module")
def axe() -> Axe:
    return Axe()


def assert_accessible(page: Page, axe: Axe) -> None:
    """No axe violation at all, of whatever impact (test_accessibility's check allows the
    minor and moderate ones): these pages have none."""
    found = axe.run(page).response["violations"]
    assert found == [], describe(found)


def set_up_page_answer(method: str) -> Callable[[Response], bool]:
    return lambda response: (
        response.request.method == method and response.url.endswith("/accounts/login/set-up/")
    )


def assert_never_kept(response: Response) -> None:
    """A shared computer's Back button or disk cache must not show the page again."""
    assert "no-store" in (response.headers.get("cache-control") or ""), response.headers


@pytest.fixture
def deputy_without_app(server: DemoServer, signed_in_states: dict[str, Any]) -> Iterator[None]:
    """The deputy has lost their phone: no app, no recovery codes, no session. Afterwards
    they have the demo's app again, and no session kept for ``person("deputy")``."""
    server.manage("reset_second_factor", "deputy")
    signed_in_states.pop("deputy", None)  # its session ended with the reset
    yield
    server.manage("reset_second_factor", "deputy")
    server.manage("shell", "-c", _GIVE_THE_DEMO_APP_BACK)
    signed_in_states.pop("deputy", None)


def type_password(page: Page, username: str) -> None:
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def sign_out(page: Page) -> None:
    """The account menu, under the person's name: Log out."""
    page.get_by_role("button", name=SIGNED_IN).click()
    page.get_by_role("button", name="Log out", exact=True).click()
    page.wait_for_url("**/accounts/login/")


def expect_signed_in(page: Page) -> None:
    expect(page.get_by_role("button", name=SIGNED_IN)).to_be_visible()


def expect_refused(field: Locator, message: str) -> None:
    """The message is beside the field, and a screen reader hears it with the field."""
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_accessible_description(re.compile(re.escape(message)))
    expect(field.locator("xpath=..").get_by_role("alert")).to_contain_text(message)


def set_up_heading(page: Page) -> Locator:
    return page.get_by_role("heading", name="Set up your authenticator app", level=1)


def wrong_code(right: str) -> str:
    return "123456" if right != "123456" else "654321"


def set_up_app(page: Page) -> tuple[str, list[str]]:
    """On the set-up page: add the shown secret to the "app", type its code; return the
    secret and the recovery codes shown (each as shown: two groups of four)."""
    secret = page.locator("code[data-secret]").inner_text()
    page.get_by_label("The code your app shows", exact=True).fill(
        authenticator_code("deputy", secret.replace(" ", ""))
    )
    page.get_by_role("button", name="Finish setting up").click()
    codes = page.get_by_role("list", name="Recovery codes").get_by_role("listitem")
    expect(codes).to_have_count(10)
    return secret, codes.all_inner_texts()


def test_a_deputy_without_an_app_sets_one_up_before_reaching_anything(
    deputy_without_app: None, new_context: NewContext, axe: Axe, shot: Screenshots
) -> None:
    page = new_context().new_page()
    page.goto("/")
    type_password(page, "deputy")
    expect(set_up_heading(page)).to_be_visible()

    # The password alone reaches nothing: the case list asks for the sign-in again, and
    # signing in leads back to setting up.
    page.goto("/safeguarding/cases/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/safeguarding/cases/$"))
    expect(page.get_by_label("Password", exact=True)).to_be_visible()
    with page.expect_response(set_up_page_answer("GET")) as set_up_page:
        type_password(page, "deputy")
    expect(set_up_heading(page)).to_be_visible()
    assert_never_kept(set_up_page.value)  # it shows the app's secret
    shot(page, "the set-up page")
    assert_accessible(page, axe)

    secret = page.locator("code[data-secret]").inner_text()
    assert re.fullmatch(r"[A-Z2-7]{4}( [A-Z2-7]{4})+", secret), secret
    right = authenticator_code("deputy", secret.replace(" ", ""))
    code = page.get_by_label("The code your app shows", exact=True)
    code.fill(wrong_code(right))
    page.get_by_role("button", name="Finish setting up").click()
    expect_refused(code, "That code does not match.")
    expect(page.locator("code[data-secret]")).to_have_text(secret)  # the same secret still
    shot(page, "a wrong code is refused")

    code.fill(right)
    with page.expect_response(set_up_page_answer("POST")) as codes_page:
        page.get_by_role("button", name="Finish setting up").click()
    expect(page.get_by_role("status")).to_have_text("Your authenticator app is set up.")
    assert_never_kept(codes_page.value)
    codes = page.get_by_role("list", name="Recovery codes").get_by_role("listitem")
    expect(codes).to_have_count(10)
    shown = codes.all_inner_texts()
    assert all(re.fullmatch(r"[a-z2-7]{4} [a-z2-7]{4}", c) for c in shown), shown
    assert len(set(shown)) == 10
    shot(page, "the recovery codes")
    assert_accessible(page, axe)

    # Signed in, and on to where they were going.
    page.get_by_role("link", name="I have kept them: carry on").click()
    expect(page).to_have_url(re.compile(r"/safeguarding/cases/$"))
    expect_signed_in(page)


def test_a_recovery_code_signs_in_once_and_then_the_app_is_needed(
    deputy_without_app: None, new_context: NewContext, axe: Axe, shot: Screenshots
) -> None:
    page = new_context().new_page()
    page.goto("/")
    type_password(page, "deputy")
    secret, recovery_codes = set_up_app(page)
    page.get_by_role("link", name="I have kept them: carry on").click()
    expect_signed_in(page)
    recovery_code = recovery_codes[0]

    # Without the phone: a recovery code in place of the app's code.
    sign_out(page)
    type_password(page, "deputy")
    expect(page.get_by_role("heading", name="Your code", level=1)).to_be_visible()
    shot(page, "the code page")
    assert_accessible(page, axe)
    page.get_by_label("Code", exact=True).fill(recovery_code)
    page.get_by_role("button", name="Sign in").click()
    expect_signed_in(page)

    # The same code a second time is refused; the app's code then signs in.
    sign_out(page)
    type_password(page, "deputy")
    code = page.get_by_label("Code", exact=True)
    code.fill(recovery_code)
    page.get_by_role("button", name="Sign in").click()
    expect_refused(code, "That code is not right.")
    shot(page, "a used recovery code is refused")
    code.fill(authenticator_code("deputy", secret.replace(" ", "")))
    page.get_by_role("button", name="Sign in").click()
    expect_signed_in(page)


def test_what_a_practitioner_typed_survives_the_session_ending_and_is_sent_after_signing_in(
    new_context: NewContext, server: DemoServer, axe: Axe, shot: Screenshots
) -> None:
    # A session of their own: the one ``person("practitioner")`` keeps for later tests
    # must not end here.
    context = new_context()
    page = context.new_page()
    sign_in(page, "practitioner")
    menu(page, "Cases")
    page.get_by_role("link", name="OAK-001", exact=True).click()
    page.get_by_role("link", name="Propose a share").click()
    purpose = (
        "Tell the health visitor the child has missed three weighing appointments.\n"
        "Mum said on Monday that the clinic had moved."
    )
    page.get_by_label("Purpose", exact=True).fill(purpose)

    # Called away for 31 minutes; then they save the draft.
    [session_key] = [c["value"] for c in context.cookies() if c["name"] == "sessionid"]
    server.manage("shell", "-c", _AGE_THE_SESSION.format(key=session_key))
    page.get_by_role("button", name="Save draft").click()

    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=.*/propose/$"))
    expect(page.get_by_role("status")).to_have_text(
        "Your session ended after 30 minutes without activity. What you typed is kept: "
        "sign in again and you can send it."
    )
    shot(page, "the session ended and what was typed is kept")
    type_password(page, "practitioner")

    expect(page.get_by_role("heading", name="Carry on where you were", level=1)).to_be_visible()
    expect(page.locator(".ss-kept")).to_contain_text(purpose, use_inner_text=True)
    shot(page, "carry on where you were")
    assert_accessible(page, axe)
    page.get_by_role("button", name="Send it now").click()

    # Sent to the share form as if from there: the draft is saved with what was typed.
    page.wait_for_url(re.compile(r"/safeguarding/shares/\d+/edit/$"))
    expect(page.get_by_text("Draft saved.", exact=True)).to_be_visible()
    expect(page.get_by_label("Purpose", exact=True)).to_have_value(purpose)
    shot(page, "the draft is saved with what was typed")
